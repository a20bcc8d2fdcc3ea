"""Collapse, defined by measured signals rather than by eye.

A run has collapsed when any one signal stays bad for `sustain` consecutive observations of it:

- accuracy: validation accuracy (softmax readout) back within `accuracy_margin` of the unigram
  baseline, after it had once been at least `learned_margin` above it;
- discrimination: the AUC with which summed goodness tells real validation windows from
  teacher-forced fakes falls below `auc_floor`, after it had once been above `auc_learned`;
- dead units: every layer has at least `max_dead` of its units silent on all validation windows
  (a network that cannot respond to anything; no earlier learning is required for this one);
- samples / generation: the character entropy of text sampled at each evaluation (samples), or
  of the sleep phases' self-generated text (generation), below `min_entropy` bits, or its most
  frequent character's share above `max_top_share`.

The onset is the character count of the first observation of the first sustained bad streak.
Collapse needs something to lose: a run that never learned (accuracy never `learned_margin`
above unigram, goodness AUC never `auc_learned`) is "never learned", or "never learned: units
died" when the dead-unit signal fired, not "collapsed".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from charff.analysis.results import evals_of


@dataclass(frozen=True)
class CollapseCriteria:
    sustain: int = 2
    accuracy_margin: float = 0.01
    learned_margin: float = 0.05
    auc_floor: float = 0.55
    auc_learned: float = 0.65
    max_dead: float = 0.95
    min_entropy: float = 2.0
    max_top_share: float = 0.5


@dataclass(frozen=True)
class CollapseReport:
    verdict: str  # one of VERDICTS
    collapsed: bool  # learned, then a signal stayed bad
    onset_chars: int | None  # of the collapse, or of the units' death
    signal: str | None
    detail: str
    learned: bool  # accuracy once unigram + learned_margin, or goodness AUC once auc_learned

    def to_dict(self) -> dict:
        return asdict(self)


VERDICTS = ("learned", "collapsed", "never learned", "never learned: units died")


def accuracy_flags(evals: list[dict], unigram: float, c: CollapseCriteria) -> list[tuple[int, bool]]:
    learned, flags = False, []
    for r in evals:
        learned = learned or r["softmax_acc"] >= unigram + c.learned_margin
        flags.append((r["chars"], learned and r["softmax_acc"] <= unigram + c.accuracy_margin))
    return flags


def auc_flags(evals: list[dict], c: CollapseCriteria) -> list[tuple[int, bool]]:
    learned, flags = False, []
    for r in evals:
        if "goodness_auc" not in r:
            continue
        learned = learned or r["goodness_auc"] >= c.auc_learned
        flags.append((r["chars"], learned and r["goodness_auc"] < c.auc_floor))
    return flags


def dead_flags(evals: list[dict], c: CollapseCriteria) -> list[tuple[int, bool]]:
    flags = []
    for r in evals:
        dead = [v for k, v in r.items() if k.startswith("dead/")]
        if dead:
            flags.append((r["chars"], min(dead) >= c.max_dead))
    return flags


def generation_flags(records: list[dict], c: CollapseCriteria, prefix: str) -> list[tuple[int, bool]]:
    entropy, share = prefix + "entropy", prefix + "top_share"
    return [(r["chars"], r[entropy] < c.min_entropy or r[share] > c.max_top_share) for r in records if entropy in r]


def first_sustained(flags: list[tuple[int, bool]], sustain: int) -> int | None:
    streak_start, streak = None, 0
    for chars, bad in flags:
        if bad:
            streak_start = chars if streak == 0 else streak_start
            streak += 1
            if streak >= sustain:
                return streak_start
        else:
            streak = 0
    return None


def detect_collapse(records: list[dict], unigram_accuracy: float,
                    criteria: CollapseCriteria = CollapseCriteria()) -> CollapseReport:
    """records: a run's metrics log (evaluations and sleep summaries, in order)."""
    evals = evals_of(records)
    signals = {
        "accuracy": accuracy_flags(evals, unigram_accuracy, criteria),
        "discrimination": auc_flags(evals, criteria),
        "dead_units": dead_flags(evals, criteria),
        "samples": generation_flags(evals, criteria, "sample_"),
        "generation": generation_flags(records, criteria, "gen_"),
    }
    learned = any(r["softmax_acc"] >= unigram_accuracy + criteria.learned_margin
                  or r.get("goodness_auc", 0.0) >= criteria.auc_learned for r in evals)
    onsets = {name: first_sustained(flags, criteria.sustain) for name, flags in signals.items()}
    found = {name: onset for name, onset in onsets.items() if onset is not None}
    detail = ", ".join(f"{name} from {onset:,} characters" for name, onset in sorted(found.items())) or (
        f"no signal stayed bad for {criteria.sustain} consecutive observations")
    if learned and found:
        signal = min(found, key=found.get)
        return CollapseReport("collapsed", True, found[signal], signal, detail, learned)
    if "dead_units" in found:
        return CollapseReport("never learned: units died", False, found["dead_units"], "dead_units", detail, learned)
    return CollapseReport("learned" if learned else "never learned", False, None, None, detail, learned)
