"""One-dimensional minimisation: the golden-section search that fits the Kneser-Ney discounts and
the readouts' temperatures."""

from __future__ import annotations

import math
from collections.abc import Callable

GOLDEN = (math.sqrt(5) - 1) / 2  # each step keeps this share of the bracket


def golden_minimum(loss: Callable[[float], float], lo: float, hi: float, iterations: int) -> float:
    """The middle of the bracket left after `iterations` golden-section steps on [lo, hi]; the loss
    must have one minimum there."""
    for _ in range(iterations):
        a, b = hi - GOLDEN * (hi - lo), lo + GOLDEN * (hi - lo)
        if loss(a) < loss(b):
            hi = b
        else:
            lo = a
    return (lo + hi) / 2
