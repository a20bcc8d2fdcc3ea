"""Characters per matmul GFLOP: training speed measured against the machine's own matmul speed,
side by side in one run, so a busy or slow day cancels out of the ratio.

The headline measure (the one the speed target is set on): interleaved training with
self-generated negatives, 3x128, 8,192 streams, on aesop, timed as the difference between a 3M
and a 1M-character `charff train` (start-up and the final evaluation cancel; the periodic
evaluations stay in, as in any run), divided by the float32 GFLOP/s of layer 1's matmul shape
(streams x 428 times 428 x 128) measured in the same run, before and after each timing.
The periodic evaluations (every 50k characters, i.e. every 6 steps at this stream count) do not
cancel in that difference, so the same two runs are also reported on their training steps' own
time (the trainer's step clock), which leaves evaluation, checkpoints and start-up out.

Then the same ratio for single steps (no evaluation) of each kind: interleaved self-generated,
wake, sleep and interleaved with teacher forcing, at 8,192 and 64 streams.

    CHARFF_CORPORA=DIR python benchmarks/chars_per_gflop.py [--skip-train] [--seconds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from charff.config import load_config
from charff.data.dataset import prepare
from charff.training.speed import matmul_gflops, step_rate
from charff.training.trainer import Trainer

WIDTH, LAYER1_IN = 128, 428  # layer 1 of 3x128 on hinton30: a 10 x 30 one-hot window and its own state
# the measure as first defined, so old and new code are compared on the same work: the network
# and negatives of the defaults of that time (plain ReLU, no peer normalisation, negatives from
# the readout alone, constant learning rates)
SETTINGS = ["model.hidden=[128,128,128]", "train.streams=8192", "corpus.name=aesop", "train.negatives=self_generated",
            "train.schedule=interleaved", "model.activation=relu", "model.peer_normalisation=0",
            "train.negative_mix=0", "train.lr_decay=constant", "train.readout_lr=0.001"]


def layer1_gflops(rows: int) -> float:
    """float32 GFLOP/s of (rows x 428) @ (428 x 128), the shape of layer 1's product."""
    return matmul_gflops(rows, LAYER1_IN, WIDTH)


def train_seconds(chars: int, out: Path) -> tuple[float, float]:
    """Wall-clock seconds of a whole `charff train`, and the seconds its training steps took."""
    from charff.run import finish_run, start_run

    config = load_config(None, [*SETTINGS, f"train.chars={chars}", "train.eval_every=50000"])
    start = time.perf_counter()
    trainer = start_run(config, out)
    trainer.run()
    finish_run(trainer)
    return time.perf_counter() - start, trainer.elapsed


def headline() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        before = layer1_gflops(8192)
        short = train_seconds(1_000_000, Path(tmp) / "short")
        long = train_seconds(3_000_000, Path(tmp) / "long")
        after = layer1_gflops(8192)
    gflops = (before + after) / 2
    rate, step_rate_ = 2_000_000 / (long[0] - short[0]), 2_000_000 / (long[1] - short[1])
    print(f"charff train, interleaved self-generated, 3x128, 8,192 streams, aesop: 1M in {short[0]:.1f} s, "
          f"3M in {long[0]:.1f} s -> {rate:,.0f} chars/s; layer-1 matmul {before:.0f} / {after:.0f} GFLOP/s "
          f"-> {rate / gflops:.0f} chars per matmul GFLOP")
    print(f"  the same runs' training steps alone: {short[1]:.1f} s and {long[1]:.1f} s -> {step_rate_:,.0f} chars/s "
          f"-> {step_rate_ / gflops:.0f} chars per matmul GFLOP (evaluations took "
          f"{1 - (long[1] - short[1]) / (long[0] - short[0]):.0%} of the difference)")


def step_ratio(kind: str, negatives: str, streams: int, seconds: float) -> None:
    config = load_config(None, [*SETTINGS, f"train.streams={streams}", f"train.negatives={negatives}"])
    trainer = Trainer(config, prepare("aesop", "hinton30", 0.1, config.model.window))
    before = layer1_gflops(streams)
    rate = step_rate(trainer.state, kind, seconds, warmup_steps=2, min_steps=3)
    gflops = (before + layer1_gflops(streams)) / 2
    print(f"| {kind} | {negatives} | {streams:,} | {rate:,.0f} | {gflops:.0f} | {rate / gflops:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-train", action="store_true", help="only the single-step ratios")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per step kind (default 3)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not args.skip_train:
        headline()
    print("| step | negatives | streams | chars/s | layer-1 matmul GFLOP/s | chars per GFLOP |")
    print("|---|---|---|---|---|---|")
    for streams in (8192, 64):
        for kind, negatives in (("interleaved", "self_generated"), ("wake", "self_generated"),
                                ("sleep", "self_generated"), ("interleaved", "teacher_forcing")):
            step_ratio(kind, negatives, streams, args.seconds)


if __name__ == "__main__":
    main()
