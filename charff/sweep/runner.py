"""Running cells: in this process one after another, or each in its own spawned worker process.

A cell with summary.json is done and skipped; an unfinished one continues where it stopped, so a
sweep can be stopped at any moment and continued with the same command. SIGINT or SIGTERM stops
a sweep cleanly: queued cells are not started, running cells checkpoint and exit, no worker is
left behind.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import wait

from charff.config import Config
from charff.errors import CharffError, Stopped
from charff.hooks.base import Hook
from charff.hooks.loggers import build_loggers
from charff.run import finish_run, start_run
from charff.rundir import SUMMARY_FILE, is_finished
from charff.storage import read_json
from charff.sweep.grid import Cell
from charff.training.trainer import STOP_SIGNALS, Interrupted

EXIT_INTERRUPTED = 3  # a worker's exit status after it checkpointed on request


class SweepStopped(Stopped):
    """A sweep stopped on SIGINT/SIGTERM; every running cell checkpointed."""

    def __init__(self, signum: int, finished: int, total: int):
        super().__init__(f"stopped with {finished} of {total} cells finished, the running ones "
                         "checkpointed; rerun the same command to continue", signum)


def run_cell(cell: Cell, hooks: list[Hook] = ()) -> dict:
    """Train one cell to the end (or find it done) and return its summary."""
    if is_finished(cell.run_dir):
        return read_json(cell.run_dir / SUMMARY_FILE)
    trainer = start_run(cell.config, cell.run_dir, [*hooks, *build_loggers(list(cell.log), cell.run_dir)])
    trainer.run()
    return finish_run(trainer)


def worker_main(cell: Cell, threads: int) -> None:
    """A worker process: one cell, then exit 0; checkpointed on a signal: EXIT_INTERRUPTED."""
    for signum in STOP_SIGNALS:  # until the trainer takes over: nothing to save yet, just leave
        signal.signal(signum, lambda *_: sys.exit(EXIT_INTERRUPTED))
    import torch

    torch.set_num_threads(threads)
    try:
        run_cell(cell)
    except Interrupted:
        sys.exit(EXIT_INTERRUPTED)
    except CharffError as err:
        print(f"charff: error in cell {cell.name} seed {cell.seed}: {err}", file=sys.stderr)
        sys.exit(2)


def run_cells(cells: list[Cell], workers: int, on_done: Callable[[Cell], None],
              hooks_for: Callable[[Cell, int], list[Hook]] = lambda cell, i: [],
              run_pending: Callable[[list[Cell], Callable[[Cell], None]], None] | None = None) -> None:
    """Run the unfinished cells; on_done is called once per cell, finished ones first.
    With one worker the cells run here, each with the hooks hooks_for gives it; run_pending, when
    given, runs them elsewhere (Ray)."""
    pending = [c for c in cells if not is_finished(c.run_dir)]
    for cell in cells:
        if cell not in pending:
            on_done(cell)
    if run_pending is not None:
        run_pending(pending, on_done)
        return
    if workers <= 1:
        for i, cell in enumerate(pending, 1):
            try:
                run_cell(cell, hooks_for(cell, i))
            except Interrupted as stop:
                raise SweepStopped(stop.signum, len(cells) - len(pending) + i - 1, len(cells)) from None
            on_done(cell)
        return
    run_in_workers(cells, pending, workers, on_done)


def run_in_workers(cells: list[Cell], pending: list[Cell], workers: int, on_done) -> None:
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // workers)
    queue = list(pending)  # cells not started yet
    running = {}  # process -> its cell
    failed = []  # cells whose process exited with an error
    stop = []  # the signal that asked every worker to stop, once one has

    def forward(signum, _frame):
        if not stop:
            stop.append(signum)
        for process in running:  # a terminal's Ctrl-C reached them already; a kill did not
            if process.is_alive():
                os.kill(process.pid, signum)

    previous = {s: signal.signal(s, forward) for s in STOP_SIGNALS}
    try:
        while (queue and not stop) or running:  # once stopped, queued cells never start
            while queue and not stop and len(running) < workers:
                cell = queue.pop(0)
                process = context.Process(target=worker_main, args=(cell, threads), daemon=False)
                process.start()
                running[process] = cell
            wait([p.sentinel for p in running], timeout=1.0)
            for process in [p for p in running if not p.is_alive()]:
                cell = running.pop(process)
                process.join()
                if process.exitcode == 0:
                    on_done(cell)
                elif process.exitcode != EXIT_INTERRUPTED:
                    failed.append((cell, process.exitcode))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stop:
        raise SweepStopped(stop[0], sum(is_finished(c.run_dir) for c in cells), len(cells))
    if failed:
        cell, code = failed[0]
        how = f"was killed by signal {-code}" if code < 0 else f"failed (exit status {code})"
        raise CharffError(f"the worker for cell {cell.name} seed {cell.seed} {how}, {len(failed)} failed in all; "
                          "rerun the same command to resume the unfinished cells")


def measure_rate(base: Config, workers: int = 1, readings: int = 5, seconds: float = 0.4) -> float:
    """chars/s of all workers together, for the cost estimate: interleaved steps of the base model
    (wake and sleep steps are faster) on the threads a cell will train with (one per worker, or
    the cores other processes leave free), after one untimed step, the median of `readings`. A
    single short reading on a busy machine was off by 300x."""
    import statistics

    import torch

    from charff.data.dataset import prepare
    from charff.threads import free_cores, threads_for
    from charff.training.speed import step_rate
    from charff.training.trainer import Trainer

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers) if workers > 1
                          else threads_for(free_cores(), threads))
    try:
        trainer = Trainer(base, prepare("fables", base.corpus.alphabet, 0.1, base.model.window))
        rates = [step_rate(trainer.state, "interleaved", seconds, warmup_steps=0 if n else 1, min_steps=1)
                 for n in range(readings)]
        return max(1, min(workers, os.cpu_count() or 1)) * statistics.median(rates)
    finally:
        torch.set_num_threads(threads)


def estimate_minutes(cells: list[Cell], rate: float) -> float:
    """Pending characters over the measured rate of all cores (workers split the same cores);
    evaluations add about 15%."""
    pending = [c for c in cells if not is_finished(c.run_dir)]
    return sum(c.config.train.chars for c in pending) / rate * 1.15 / 60
