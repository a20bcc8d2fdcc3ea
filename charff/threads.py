"""How many torch threads a run uses: as many as there are cores that other processes leave free.

torch's threads meet at a barrier after every parallel operation, so a step runs at the pace of
its slowest thread. When another process holds one of two cores, the thread that shares that
core gets a fraction of it and every barrier waits for it: training with 2 threads then ran 4x
slower (benchmarks/busy_core.py; a newcomer's machine saw 20x), while 1 thread kept its speed.
Passive OpenMP waiting and shorter spins did not cure it (docs/results.md, "Threads"). So the
run looks, every few seconds, at how much CPU the rest of the machine used since the last look,
and uses the cores left over, never more than it started with (a sweep worker's single thread
stays single). Measured: metrics are identical with 1 and 2 threads, so the choice changes
speed, not numbers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from charff.hooks.base import Hook

PROC_STAT = Path("/proc/stat")
FREE_ENOUGH = 0.7  # a core counts as free when others leave at least this share of it
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def busy_seconds() -> float | None:
    """CPU seconds every process on the machine has spent busy since boot (None off Linux)."""
    try:
        fields = PROC_STAT.read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def threads_for(free_cores: float, most: int) -> int:
    return max(1, min(most, int(free_cores + (1 - FREE_ENOUGH))))


class CoreMeter:
    """The cores other processes used between two readings: the machine's busy time less ours."""

    def __init__(self):
        self.last = (time.perf_counter(), busy_seconds(), time.process_time())

    def others(self) -> float | None:
        now = (time.perf_counter(), busy_seconds(), time.process_time())
        (wall0, busy0, own0), (wall1, busy1, own1) = self.last, now
        self.last = now
        if busy0 is None or busy1 is None or wall1 - wall0 <= 0:
            return None
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall1 - wall0)


def busy_elsewhere(seconds: float = 0.2) -> float | None:
    """Cores other processes used over the next `seconds` (None where it cannot be read)."""
    meter = CoreMeter()
    time.sleep(seconds)
    return meter.others()


def free_cores(seconds: float = 0.2) -> float:
    """Cores left free by other processes (all of them where it cannot be read)."""
    return cores() - (busy_elsewhere(seconds) or 0.0)


class ThreadGovernor(Hook):
    """Sets torch's threads to the free cores at the start and every `every` seconds of training."""

    def __init__(self, every: float = 3.0):
        self.every = every
        self.most = torch.get_num_threads()
        self.meter: CoreMeter | None = None
        self.next_look = 0.0
        self.chosen: list[int] = []  # every thread count chosen, for the tests

    def choose(self, others: float | None) -> None:
        if others is None:
            return
        threads = threads_for(cores() - others, self.most)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        self.chosen.append(threads)

    def on_start(self, trainer) -> None:
        self.most = max(self.most, torch.get_num_threads())
        if self.most > 1:
            self.choose(busy_elsewhere())
            self.meter, self.next_look = CoreMeter(), time.perf_counter() + self.every

    def on_step(self, trainer, phase, rows: int, stats: dict) -> None:
        if self.meter is not None and time.perf_counter() >= self.next_look:
            self.choose(self.meter.others())
            self.next_look = time.perf_counter() + self.every

    def on_end(self, trainer) -> None:
        if self.meter is not None and torch.get_num_threads() != self.most:
            torch.set_num_threads(self.most)  # the next run in this process starts from the same cap
