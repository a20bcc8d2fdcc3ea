"""Statistics of generated text, so degenerate sleep samples are measured rather than eyeballed."""

from __future__ import annotations

import math
from collections import Counter


def longest_run(text: str) -> int:
    best = run = 0
    previous = None
    for char in text:
        run = run + 1 if char == previous else 1
        best, previous = max(best, run), char
    return best


def distinct_ngrams(texts: list[str], n: int) -> float:
    """Distinct n-grams over all n-grams: near 0 for loops, higher for varied text."""
    grams = [t[i : i + n] for t in texts for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def text_stats(texts: list[str], reference: Counter, samples: int = 3, sample_chars: int = 80,
               prefix: str = "gen_") -> dict:
    """Entropy (bits), top-character share, distinct 2/3-grams, longest run and KL(generated || corpus)."""
    counts = Counter("".join(texts))
    total = sum(counts.values())
    if not total:
        return {}
    ref_total = sum(reference.values())
    entropy = -sum(c / total * math.log2(c / total) for c in counts.values())
    top_char, top_count = counts.most_common(1)[0]
    # add-0.5 smoothing of the corpus distribution keeps KL finite for characters it lacks
    kl = sum(c / total * math.log2((c / total) / ((reference[ch] + 0.5) / (ref_total + 0.5 * len(counts))))
             for ch, c in counts.items())
    stats = {
        "chars": total,
        "entropy": entropy,
        "top_char": top_char,
        "top_share": top_count / total,
        "distinct_2": distinct_ngrams(texts, 2),
        "distinct_3": distinct_ngrams(texts, 3),
        "longest_run": max(longest_run(t) for t in texts),
        "kl_bits": kl,
        "samples": [t[:sample_chars] for t in texts[:samples]],
    }
    return {prefix + key: value for key, value in stats.items()}
