"""Modified interpolated Kneser-Ney character n-grams: the yardsticks a language-model reader trusts.

For the longest context h (order - 1 characters) with count c(h):

    p(w | h) = (max(c(h w) - D(c(h w)), 0)  +  gamma(h) * p(w | h')) / c(h)

where D(c) is D1, D2 or D3 for a count of 1, 2 or more (Chen and Goodman's modified discounts),
gamma(h) = D1 N1(h) + D2 N2(h) + D3 N3+(h) gives back what was discounted (N_i(h): the number
of characters seen i times after h), and h' drops h's first character; an unseen h passes
straight to h'. Shorter contexts use continuation counts in place of c (how many distinct
characters precede g w in the training text), and the empty context ends in the uniform
distribution over the alphabet. Each context length has its own three discounts, fitted on
held-out text (golden-section search on bits/char, one discount at a time).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from charff.measures.search import golden_minimum
from charff.measures.stats import block_ci

# the yardstick cache key: a change of estimator must not read another estimator's numbers
ESTIMATOR = ("modified interpolated Kneser-Ney 3: three discounts per context length fitted on held-out text, "
             "block intervals")


@dataclass(frozen=True)
class NgramResult:
    order: int
    accuracy: float
    bits_per_char: float
    discounts: tuple[tuple[float, float, float], ...]  # (D1, D2, D3) per context length
    accuracy_ci: float = math.nan  # 95% half-widths over contiguous blocks of the scored text
    bits_per_char_ci: float = math.nan


def count_classes(counts: Counter) -> tuple[int, int, int]:
    """(N1, N2, N3+): how many characters a context saw once, twice, three times or more."""
    values = list(counts.values())
    return sum(v == 1 for v in values), sum(v == 2 for v in values), sum(v >= 3 for v in values)


def discount_of(discounts, seen):
    """D1, D2 or D3 by count (0 for an unseen character); seen: a count or an array of counts."""
    by_count = np.concatenate([[0.0], discounts])
    return by_count[np.minimum(seen, 3).astype(np.intp)]


@dataclass
class Level:
    """The counts of one context length: counts[h][w], and per context h its total and (N1, N2, N3+)."""

    counts: dict[tuple, Counter]
    totals: dict[tuple, float] = field(init=False)
    classes: dict[tuple, tuple[int, int, int]] = field(init=False)

    def __post_init__(self):
        self.totals = {h: float(sum(c.values())) for h, c in self.counts.items()}
        self.classes = {h: count_classes(c) for h, c in self.counts.items()}


class Counts:
    """Raw and continuation counts of every context length below max_order, made once and shared
    by the models of every order (an order-n model reads raw counts at length n - 1 and
    continuation counts below it)."""

    def __init__(self, ids: list[int], max_order: int):
        self.raw, self.continuation = [], []
        for k in range(max_order):
            level = defaultdict(Counter)
            for gram, count in Counter(tuple(ids[t - k : t + 1]) for t in range(k, len(ids))).items():
                level[gram[:-1]][gram[-1]] += count
            self.raw.append(Level(level))
        for k in range(max_order - 1):  # distinct characters x before g w, from the (k + 2)-grams x g w
            level = defaultdict(Counter)
            for h, successors in self.raw[k + 1].counts.items():
                for w in successors:
                    level[h[1:]][w] += 1
            self.continuation.append(Level(level))


class KneserNey:
    def __init__(self, order: int, vocab_size: int, discount: float = 0.75):
        self.order, self.vocab_size = order, vocab_size
        self.discounts = np.full((order, 3), discount)  # (D1, D2, D3) per context length 0 .. order - 1
        self.levels: list[Level] = []  # continuation counts below order - 1, raw counts there
        self.cache: dict[tuple, np.ndarray] = {}

    def fit(self, ids: list[int], counts: Counts | None = None) -> KneserNey:
        counts = counts or Counts(ids, self.order)
        self.levels = [*counts.continuation[: self.order - 1], counts.raw[self.order - 1]]
        return self

    def contexts(self, history: tuple) -> list[tuple]:
        """The contexts of each length, 0 .. order - 1, at the end of history."""
        return [history[len(history) - k :] if k else () for k in range(min(self.order - 1, len(history)) + 1)]

    def probability(self, history: tuple, char: int) -> float:
        """p(char | the last order - 1 characters of history), by the recursion above."""
        p = 1.0 / self.vocab_size
        for k, h in enumerate(self.contexts(history)):
            total = self.levels[k].totals.get(h)
            if total:
                seen = self.levels[k].counts[h].get(char, 0)
                p = (max(seen - discount_of(self.discounts[k], seen), 0.0) + self.gamma(k, h) * p) / total
        return p

    def gamma(self, k: int, h: tuple) -> float:
        """The mass context h of length k gives to shorter contexts: D1 N1 + D2 N2 + D3 N3+."""
        return float(np.dot(self.discounts[k], self.levels[k].classes[h]))

    def distribution(self, history: tuple) -> np.ndarray:
        """p(. | history) over the alphabet."""
        return self.context_distribution(history[len(history) - (self.order - 1) :] if self.order > 1 else ())

    def context_distribution(self, h: tuple) -> np.ndarray:
        """p(. | h) for a context shorter than the order, from its one-shorter suffix's; cached,
        since the short contexts recur at almost every position."""
        if h not in self.cache:
            p = self.context_distribution(h[1:]) if h else np.full(self.vocab_size, 1.0 / self.vocab_size)
            k = len(h)
            total = self.levels[k].totals.get(h)
            if total:
                counts = self.levels[k].counts[h]
                seen = np.zeros(self.vocab_size)
                seen[list(counts)] = list(counts.values())
                discounted = np.maximum(seen - discount_of(self.discounts[k], seen), 0.0)
                p = (discounted + self.gamma(k, h) * p) / total
            self.cache[h] = p
        return self.cache[h]

    def statistics(self, ids: list[int], history: list[int]) -> np.ndarray:
        """For every position of ids and every context length: the target's count, the context's
        total and its N1, N2, N3+ (zeros for an unseen context); (5, order, positions). Bits/char
        for any discounts follow from these alone, which makes fitting them cheap."""
        seq = history[-(self.order - 1) :] + ids if self.order > 1 else list(ids)
        start = len(seq) - len(ids)
        out = np.zeros((5, self.order, len(ids)))
        for i, t in enumerate(range(start, len(seq))):
            for k, h in enumerate(self.contexts(tuple(seq[max(0, t - self.order + 1) : t]))):
                level = self.levels[k]
                total = level.totals.get(h)
                if total:
                    out[:, k, i] = level.counts[h].get(seq[t], 0), total, *level.classes[h]
        return out

    def bits_of(self, statistics: np.ndarray, discounts: np.ndarray | None = None) -> float:
        """Bits/char from statistics() under these (order, 3) discounts (the model's own by default)."""
        return float(self.position_bits(statistics, discounts).mean())

    def position_bits(self, statistics: np.ndarray, discounts: np.ndarray | None = None) -> np.ndarray:
        """Each position's bits under these discounts."""
        seen, total, classes = statistics[0], statistics[1], statistics[2:]
        discounts = self.discounts if discounts is None else discounts
        by_count = np.minimum(seen, 3).astype(np.intp)
        known = total > 0
        safe_total = np.where(known, total, 1.0)
        p = np.full(seen.shape[1], 1.0 / self.vocab_size)
        for k, d in enumerate(discounts):
            gamma = d[0] * classes[0, k] + d[1] * classes[1, k] + d[2] * classes[2, k]
            kept = seen[k] - np.concatenate([[0.0], d])[by_count[k]]  # a count minus its discount
            p = np.where(known[k], (kept + gamma * p) / safe_total[k], p)
        return -np.log2(p)

    def evaluate(self, ids: list[int], history: list[int]) -> NgramResult:
        """Accuracy (the likeliest character) and bits/char of ids, with their 95% intervals."""
        seq = history[-(self.order - 1) :] + ids if self.order > 1 else list(ids)
        start = len(seq) - len(ids)
        correct = [float(int(np.argmax(self.distribution(tuple(seq[max(0, t - self.order + 1) : t])))) == seq[t])
                   for t in range(start, len(seq))]
        bits = self.position_bits(self.statistics(ids, history))
        return NgramResult(self.order, sum(correct) / len(ids), float(bits.mean()),
                           tuple(tuple(float(d) for d in row) for row in self.discounts),
                           block_ci(correct), block_ci(bits.tolist()))


def fit_discounts(model: KneserNey, held_out: list[int], history: list[int], sweeps: int = 2) -> np.ndarray:
    """The discounts minimising bits/char on held-out text: golden-section search on each in turn
    (D1 in (0, 1), D2 in (0, 2), D3 in (0, 3)), a few sweeps."""
    statistics = model.statistics(held_out, history)
    for _ in range(sweeps):
        for k in range(model.order):
            for j in range(3):
                def loss(d: float, k: int = k, j: int = j) -> float:
                    trial = model.discounts.copy()
                    trial[k, j] = d
                    return model.bits_of(statistics, trial)
                model.discounts[k, j] = golden_minimum(loss, 0.01, j + 0.99, iterations=14)
    model.cache = {}
    return model.discounts


def kneser_ney_yardsticks(train: list[int], calibration: list[int], scored: list[list[int]], vocab_size: int,
                          orders=range(1, 8)) -> list[list[NgramResult]]:
    """Each order fitted on train, its discounts on the calibration slice, then each text of
    `scored` (the splits that follow calibration, in order) scored, each predicted from the real
    text before it: per scored text, one result per order."""
    results, counts = [[] for _ in scored], Counts(train, max(orders))
    for order in orders:
        model = KneserNey(order, vocab_size).fit(train, counts)
        fit_discounts(model, calibration, train)
        history = train + calibration
        for out, ids in zip(results, scored, strict=True):
            out.append(model.evaluate(ids, history))
            history = history + ids
    return results


def best_order(results: list[NgramResult]) -> NgramResult:
    """The order with the fewest bits/char on the scored text."""
    return min(results, key=lambda r: r.bits_per_char)
