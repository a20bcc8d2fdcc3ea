"""The collapse detector on traces recorded from real runs (tests/data), both ways."""

import json
from pathlib import Path

from charff.analysis.collapse import CollapseCriteria, detect_collapse

DATA = Path(__file__).parent / "data"


def trace(name: str) -> tuple[list[dict], float]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])  # {"unigram_acc": ...}: the run's own unigram baseline
    return [json.loads(line) for line in lines[1:]], header["unigram_acc"]


def test_wake_only_after_training_is_detected_with_its_onset():
    records, unigram = trace("wake_only_collapse.jsonl")
    report = detect_collapse(records, unigram)
    assert report.collapsed
    wake_start = min(r["chars"] for r in records if r.get("phase") == "wake")
    assert wake_start <= report.onset_chars <= wake_start + 50_000


def test_healthy_interleaved_run_is_not_flagged():
    records, unigram = trace("interleaved_healthy.jsonl")
    report = detect_collapse(records, unigram)
    assert not report.collapsed, report.detail


def test_one_bad_evaluation_is_not_a_collapse():
    records = [{"kind": "eval", "chars": c, "softmax_acc": a} for c, a in
               [(1, 0.20), (2, 0.35), (3, 0.19), (4, 0.36), (5, 0.19), (6, 0.18)]]
    assert detect_collapse(records, 0.196, CollapseCriteria(sustain=2)).onset_chars == 5
    assert not detect_collapse(records[:5], 0.196, CollapseCriteria(sustain=2)).collapsed


def test_never_learned_is_not_collapse_by_accuracy():
    records = [{"kind": "eval", "chars": c, "softmax_acc": 0.19} for c in range(1, 6)]
    assert not detect_collapse(records, 0.196).collapsed


def test_separated_run_whose_units_all_die_never_learned_because_they_died():
    records, unigram = trace("separated_250k_dead.jsonl")
    report = detect_collapse(records, unigram)
    assert report.verdict == "never learned: units died" and not report.collapsed and not report.learned
    first_sleep_eval = min(r["chars"] for r in records if r.get("phase") == "sleep")
    assert report.signal == "dead_units" and report.onset_chars == first_sleep_eval


def test_the_three_verdicts_apart():
    healthy, unigram = trace("interleaved_healthy.jsonl")
    assert detect_collapse(healthy, unigram).verdict == "learned"
    collapsing, unigram = trace("wake_only_collapse.jsonl")
    assert detect_collapse(collapsing, unigram).verdict == "collapsed"
    flat = [{"kind": "eval", "chars": c, "softmax_acc": 0.19, "goodness_auc": 0.5, "dead/0": 0.2} for c in range(5)]
    assert detect_collapse(flat, 0.196).verdict == "never learned"
