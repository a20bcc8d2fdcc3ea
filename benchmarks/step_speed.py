"""Speed of the training steps, measured side by side in one run.

For 3x500 and 3x2000 it prints chars/s of a wake update, an interleaved teacher-forcing step,
an interleaved self-generated (rollout) step, a sleep step with 256 streams and batched
generation alone, beside a backprop step of the same net (forward, backward through all layers,
update) and the float32 matmul GFLOP/s of this machine. Ratios: step time over backprop's.

    python benchmarks/step_speed.py [--widths 500,2000] [--streams 64] [--seconds 3]
"""

from __future__ import annotations

import argparse
import time

import torch

from charff.config import Config
from charff.data.dataset import prepare
from charff.model.network import FFNet
from charff.model.sampling import generate
from charff.training.speed import matmul_gflops, step_rate
from charff.training.trainer import Trainer


def chars_per_second(width: int, streams: int, kind: str, seconds: float, learner: str = "ff",
                     negatives: str = "teacher_forcing") -> float:
    config = Config()
    config.model.hidden = [width] * 3
    config.train.streams = streams
    config.train.learner = learner
    config.train.negatives = negatives
    trainer = Trainer(config, prepare("fables", "hinton30", 0.1, config.model.window))
    return step_rate(trainer.state, kind, seconds, warmup_steps=3, min_steps=1)


def generation_chars_per_second(width: int, streams: int, seconds: float) -> float:
    """Batched sleep generation alone: forward pass, softmax readout and sampling, no update."""
    config = Config()
    config.model.hidden = [width] * 3
    model = FFNet(config.model, 30)
    prompt = torch.randint(0, 30, (config.model.window,))
    generator = torch.Generator().manual_seed(0)
    generate(model, prompt, streams, 4, generator)  # warm-up
    length = 32
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        generate(model, prompt, streams, length, generator)
        runs += 1
    return runs * streams * length / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="500,2000")
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--sleep-streams", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"float32 matmul {matmul_gflops(1024, 1024, 1024):.1f} GFLOP/s")
    header = f"{'net':>8} {'step':<34} {'chars/s':>10} {'time vs backprop':>17}"
    print(header)
    print("-" * len(header))
    for width in (int(w) for w in args.widths.split(",")):
        s, t = args.streams, args.seconds
        backprop = chars_per_second(width, s, "wake", t, learner="backprop")
        rows = [
            (f"backprop (B={s})", backprop),
            (f"FF wake update (B={s})", chars_per_second(width, s, "wake", t)),
            (f"FF teacher forcing (B={s})", chars_per_second(width, s, "interleaved", t)),
            (f"FF interleaved rollout (B={s})",
             chars_per_second(width, s, "interleaved", t, negatives="self_generated")),
            (f"FF sleep step, update (B={args.sleep_streams})",
             chars_per_second(width, args.sleep_streams, "sleep", t, negatives="self_generated")),
            (f"sleep generation only (B={args.sleep_streams})",
             generation_chars_per_second(width, args.sleep_streams, t)),
        ]
        for name, rate in rows:
            print(f"{f'3x{width}':>8} {name:<34} {rate:>10,.0f} {backprop / rate:>16.2f}x")


if __name__ == "__main__":
    main()
