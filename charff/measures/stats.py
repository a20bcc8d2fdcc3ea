"""Means with 95% (and 90%) confidence intervals across seeds (Student's t), without a SciPy dependency."""

from __future__ import annotations

import math
from itertools import pairwise

# two-sided 95% critical values of Student's t for 1..30 degrees of freedom
T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
       2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
       2.045, 2.042]

# two-sided 90% critical values (each end one-sided 95%: the two one-sided tests of an equivalence)
T90 = [6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812, 1.796, 1.782, 1.771, 1.761,
       1.753, 1.746, 1.740, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701,
       1.699, 1.697]


INTERVAL_BLOCKS = 64  # a split's intervals: over the means of this many contiguous blocks of it


def block_ci(values: list[float], blocks: int = INTERVAL_BLOCKS) -> float:
    """Half-width of the 95% interval of a mean over a text's positions, taken over the means of
    contiguous blocks: neighbouring characters are correlated, blocks far apart nearly are not."""
    size = len(values) / min(blocks, len(values))
    bounds = [round(i * size) for i in range(min(blocks, len(values)) + 1)]
    return mean_ci([sum(values[a:b]) / (b - a) for a, b in pairwise(bounds) if b > a])[1]


def mean_ci(values: list[float], level: int = 95) -> tuple[float, float]:
    """(mean, half-width of the 95% or 90% interval); the half-width is 0 for a single value."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = sum(values) / n
    if n == 1:
        return mean, 0.0
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    table, normal = (T95, 1.960) if level == 95 else (T90, 1.645)
    t = table[n - 2] if n - 1 <= len(table) else normal
    return mean, t * sd / math.sqrt(n)
