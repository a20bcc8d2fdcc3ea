"""Where one training step's time goes: torch.profiler over full-batch steps, split into the
parts a reader would change (negatives, forward, losses and backward, optimizer, stream upkeep)
and, within them, matmuls, elementwise work and sampling; what no operator accounts for is
Python and dispatch overhead.

    CHARFF_CORPORA=DIR python benchmarks/profile_step.py [--streams 8192] [--negatives self_generated]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from contextlib import contextmanager

from torch.profiler import ProfilerActivity, profile, record_function

from charff.config import load_config
from charff.data.dataset import prepare
from charff.schedule import Phase
from charff.training.trainer import Trainer

MATMUL = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "aten::embedding_bag",
          "aten::_embedding_bag", "aten::_embedding_bag_backward", "aten::embedding_dense_backward")
SAMPLING = ("aten::multinomial", "aten::topk", "aten::softmax", "aten::_softmax", "aten::cumsum")
PARTS = ("negatives", "optimizer")


@contextmanager
def labelled(obj, name: str, label: str):
    """Wrap obj.name in a profiler label for the duration."""
    original = getattr(obj, name)

    def wrapped(*args, **kwargs):
        with record_function(label):
            return original(*args, **kwargs)

    setattr(obj, name, wrapped)
    try:
        yield
    finally:
        setattr(obj, name, original)


def category(name: str) -> str:
    if name in MATMUL:
        return "matmuls"
    if name in SAMPLING:
        return "sampling"
    return "elementwise and copies"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=8192)
    parser.add_argument("--negatives", default="self_generated")
    parser.add_argument("--kind", default="interleaved")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    config = load_config(None, ["model.hidden=[128,128,128]", f"train.streams={args.streams}", "corpus.name=aesop",
                                f"train.negatives={args.negatives}"])
    trainer = Trainer(config, prepare("aesop", "hinton30", 0.1, config.model.window))
    phase = Phase(args.kind, 10**15)
    for _ in range(3):
        trainer.step(phase, args.streams)
    with labelled(trainer.negatives, "propose", "negatives"), labelled(trainer.learner, "update", "optimizer"):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            for _ in range(args.steps):
                trainer.step(phase, args.streams)
            wall = time.perf_counter() - start
    events = prof.key_averages()
    total_self = sum(e.self_cpu_time_total for e in events if not e.key.startswith(PARTS)) / 1e6
    by_category = defaultdict(float)
    for e in events:
        if not e.key.startswith(PARTS):
            by_category[category(e.key)] += e.self_cpu_time_total / 1e6
    part_totals = {e.key: e.cpu_time_total / 1e6 for e in events if e.key in PARTS}
    print(f"{args.kind} step, {args.negatives}, 3x128, {args.streams:,} streams, {args.steps} steps: "
          f"{wall / args.steps * 1e3:.1f} ms per step under the profiler "
          f"({args.steps * args.streams / wall:,.0f} chars/s)")
    print("| part | share of step time |\n|---|---|")
    for name, seconds in sorted(by_category.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {seconds / wall:.0%} |")
    print(f"| Python and dispatch (no operator) | {max(0.0, wall - total_self) / wall:.0%} |")
    for name, seconds in part_totals.items():
        print(f"| (of which inside {name}) | {seconds / wall:.0%} |")
    print()
    print(events.table(sort_by="self_cpu_time_total", row_limit=18, max_name_column_width=40))


if __name__ == "__main__":
    main()
