"""Training throughput by stream count, measured side by side in one run.

For 3x128 and 3x2000 at 64, 1,024 and 16,384 streams it prints characters/s of wake, sleep and
interleaved steps (self-generated negatives), the matmul GFLOP/s those steps achieve, and that
as a share of the device's measured float32 matmul peak; on the CPU and, when present, CUDA.

    python benchmarks/throughput.py [--devices cpu,cuda] [--widths 128,2000] [--streams 64,1024,16384]
"""

from __future__ import annotations

import argparse

import torch

from charff.config import Config
from charff.data.dataset import prepare
from charff.training.speed import matmul_gflops, step_rate
from charff.training.trainer import Trainer

# forward-pass equivalents per window of each step: every layer's input is detached, so the
# backward pass of an updated window computes weight gradients only (one forward's worth)
PASSES = {"wake": 2, "sleep": 1 + 2, "interleaved": 2 + 2}


def matmul_peak(device: torch.device, seconds: float = 1.0) -> float:
    """float32 GFLOP/s of large square matmuls (the best of two sizes): the ceiling the steps
    are measured against."""
    sizes = (4096, 8192) if device.type == "cuda" else (1024, 2048)
    return max(matmul_gflops(size, size, size, device, seconds) for size in sizes)


def flops_per_window(config: Config, vocab: int) -> float:
    """Matmul FLOPs of one forward pass of one window: layer 1's looked-up columns, every
    bottom-up and recurrent product, and the softmax readout."""
    widths, window = config.model.hidden, config.model.window
    macs = window * widths[0]
    for i, width in enumerate(widths):
        if i:
            macs += widths[i - 1] * width
        macs += width * width  # recurrence "self": the layer's own state at t-1
    macs += sum(widths) * vocab
    return 2.0 * macs


def measure(width: int, streams: int, kind: str, device: str, seconds: float,
            precision: str = "highest") -> tuple[float, float]:
    """(characters/s, achieved matmul GFLOP/s) of one kind of step."""
    config = Config()
    config.model.hidden = [width] * 3
    config.train.streams = streams
    config.train.negatives = "self_generated"
    config.train.device = device
    config.train.matmul_precision = precision
    trainer = Trainer(config, prepare("fables", "hinton30", 0.1, config.model.window))
    rate = step_rate(trainer.state, kind, seconds)
    return rate, rate * PASSES[kind] * flops_per_window(config, 30) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="cpu,cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--widths", default="128,2000")
    parser.add_argument("--streams", default="64,1024,16384")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--kinds", default="wake,sleep,interleaved")
    parser.add_argument("--precision", default="highest", help="train.matmul_precision: highest, high or medium")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    for device in args.devices.split(","):
        peak = matmul_peak(torch.device(device))
        name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu"
        print(f"\n{device} ({name}): float32 matmul peak {peak:,.0f} GFLOP/s")
        print(f"matmul precision {args.precision}")
        print(f"{'net':>7} {'streams':>8} {'step':<12} {'chars/s':>12} {'ms/step':>8} {'GFLOP/s':>9} {'of peak':>8}")
        for width in (int(w) for w in args.widths.split(",")):
            for streams in (int(s) for s in args.streams.split(",")):
                for kind in args.kinds.split(","):
                    rate, gflops = measure(width, streams, kind, device, args.seconds, args.precision)
                    ms = streams / rate * 1e3
                    print(f"{'3x' + str(width):>7} {streams:>8,} {kind:<12} {rate:>12,.0f} {ms:>8.2f} "
                          f"{gflops:>9,.1f} {gflops / peak:>8.1%}", flush=True)


if __name__ == "__main__":
    main()
