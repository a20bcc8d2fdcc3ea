"""Layer 1's look-up, forward and backward, two ways side by side in one process: embedding_bag
with its own backward (which sorts every index), and SlotSum (the same forward; the gradient
added slot by slot with index_add), alternating so that a busy moment hits both alike. Then one
forward and backward of the whole 3x128 net on the joined real and negative windows of an
8,192-stream step, with each of the two look-ups.

    python benchmarks/window_backward.py [--rows 16384] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import charff.model.network as network
from charff.config import ModelConfig
from charff.model.objectives import goodness

WINDOW, VOCAB, WIDTH = 10, 30, 128


def timed(fn, repeats: int = 5) -> float:
    """Milliseconds per call, after one untimed call."""
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e3


def sorted_backward(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return F.embedding_bag(ids, weight, mode="sum")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16_384,
                        help="windows per pass (default: 8,192 real and 8,192 negative)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    weight = torch.randn(WINDOW * VOCAB, WIDTH, requires_grad=True)
    ids = torch.randint(0, VOCAB, (args.rows, WINDOW)) + torch.arange(WINDOW) * VOCAB
    upstream = torch.randn(args.rows, WIDTH)
    model = network.FFNet(ModelConfig(window=WINDOW, hidden=[WIDTH] * 3), VOCAB)
    windows = torch.randint(0, VOCAB, (args.rows, WINDOW))
    state = [torch.randn(args.rows, WIDTH) for _ in range(3)]

    def look_up(lookup) -> None:
        weight.grad = None
        lookup(ids, weight).backward(upstream)

    def whole_net() -> None:
        model.zero_grad(set_to_none=True)
        sum(goodness(a).mean() for a in model(windows, state)).backward()

    slot_sum = network.SlotSum.apply
    times = {key: [] for key in ("lookup_sorted", "lookup_slots", "net_sorted", "net_slots")}
    for _ in range(args.rounds):
        for name, lookup in (("sorted", sorted_backward), ("slots", slot_sum)):
            times[f"lookup_{name}"].append(timed(lambda lookup=lookup: look_up(lookup)))
            network.SlotSum.apply = lookup
            times[f"net_{name}"].append(timed(whole_net))
            network.SlotSum.apply = slot_sum
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rows:,} windows, "
          f"median of {args.rounds} alternating rounds (ms):")
    print("| pass | embedding_bag backward | slot-by-slot backward | ratio |\n|---|---|---|---|")
    for label, key in (("layer 1's look-up, forward and backward", "lookup"),
                       ("3x128 net, forward and backward", "net")):
        old, new = statistics.median(times[f"{key}_sorted"]), statistics.median(times[f"{key}_slots"])
        print(f"| {label} | {old:.1f} | {new:.1f} | {old / new:.2f}x |")


if __name__ == "__main__":
    main()
