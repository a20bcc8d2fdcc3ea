"""n-gram baselines with add-k smoothing and backoff: the yardsticks every FF number is read against."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class NgramResult:
    order: int
    accuracy: float
    bits_per_char: float


class NgramModel:
    """Predicts from the longest seen context of up to order-1 characters (add-k within it)."""

    def __init__(self, order: int, vocab_size: int, smoothing: float = 0.1):
        self.order, self.vocab_size, self.k = order, vocab_size, smoothing
        self.counts: dict[tuple, Counter] = defaultdict(Counter)

    def fit(self, ids: list[int]) -> NgramModel:
        for t, c in enumerate(ids):
            for n in range(self.order):
                if t - n < 0:
                    break
                self.counts[tuple(ids[t - n : t])][c] += 1
        return self

    def distribution(self, context: tuple) -> tuple[Counter, float]:
        for n in range(min(self.order - 1, len(context)), -1, -1):
            key = context[len(context) - n :]
            if key in self.counts:
                counts = self.counts[key]
                return counts, sum(counts.values())
        return Counter(), 0.0

    def evaluate(self, ids: list[int], history: list[int]) -> NgramResult:
        """Score ids, each from the (order-1) characters before it, starting from history."""
        seq = history[-(self.order - 1) :] + ids if self.order > 1 else ids
        offset = len(seq) - len(ids)
        correct, nats = 0, 0.0
        best_cache: dict[tuple, int] = {}
        for t in range(offset, len(seq)):
            context = tuple(seq[max(0, t - self.order + 1) : t])
            counts, total = self.distribution(context)
            target = seq[t]
            prob = (counts[target] + self.k) / (total + self.k * self.vocab_size)
            nats -= math.log(prob)
            if context not in best_cache:
                best_cache[context] = max(range(self.vocab_size), key=lambda c: counts[c])
            correct += best_cache[context] == target
        n = len(ids)
        return NgramResult(self.order, correct / n, nats / n / math.log(2))


def ngram_baselines(train: list[int], val: list[int], vocab_size: int, orders=(1, 2, 3, 4, 5),
                    smoothing: float = 0.1) -> list[NgramResult]:
    return [NgramModel(n, vocab_size, smoothing).fit(train).evaluate(val, train) for n in orders]
