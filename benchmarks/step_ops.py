"""Where a small step's time goes: operators per training step and the host time they take.

On a GPU every operator is at least one kernel launch, costing host time whatever the tensor's
size; below about 16k streams the step measured 8-9 ms on an H200 for every net size, so its time
is launches, not arithmetic. This counts the operators of one interleaved step (torch.profiler, on
the CPU) at 64 and 1,024 streams for 3x128 and 3x2000, their host-side time, and the operators
called most often, which are the ones to fuse or batch away.

    CHARFF_CORPORA=DIR python benchmarks/step_ops.py [--steps 10] [--top 12]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from charff.config import load_config
from charff.data.dataset import prepare
from charff.schedule import Phase
from charff.training.trainer import Trainer

SIZES = (("3x128", "[128,128,128]"), ("3x2000", "[2000,2000,2000]"))


def profile_steps(hidden: str, streams: int, steps: int, corpus: str) -> tuple[float, float, list]:
    """(wall ms per step without the profiler, operators per step, per-operator key averages)."""
    config = load_config(None, [f"model.hidden={hidden}", f"train.streams={streams}", f"corpus.name={corpus}",
                                "train.negatives=self_generated"])
    trainer = Trainer(config, prepare(corpus, "hinton30", 0.1, config.model.window))
    phase = Phase("interleaved", 10**15)
    for _ in range(3):
        trainer.step(phase, streams)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step(phase, streams)
    wall = (time.perf_counter() - start) / steps * 1e3
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            trainer.step(phase, streams)
    # top-level operators only: each is one dispatch from Python, one or more launches on a GPU
    events = [e for e in prof.events() if e.name.startswith("aten::") and e.cpu_parent is None]
    return wall, len(events) / steps, prof.key_averages()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--corpus", default="aesop")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; interleaved steps, self-generated negatives")
    print("| net | streams | ms per step (wall) | operators per step | host us per operator |")
    print("|---|---|---|---|---|")
    tables = {}
    for name, hidden in SIZES:
        for streams in (64, 1024):
            wall, ops, averages = profile_steps(hidden, streams, args.steps, args.corpus)
            print(f"| {name} | {streams:,} | {wall:.2f} | {ops:.0f} | {wall * 1e3 / ops:.1f} |")
            tables[(name, streams)] = averages
    averages = tables[("3x128", 64)]
    print(f"\nthe {args.top} operators called most often in a 3x128 step at 64 streams (calls per step, "
          "self host time per step):")
    for event in sorted(averages, key=lambda e: -e.count)[: args.top]:
        host_ms = event.self_cpu_time_total / args.steps / 1e3
        print(f"  {event.key:40s} {event.count / args.steps:6.1f}  {host_ms:7.3f} ms")


if __name__ == "__main__":
    main()
