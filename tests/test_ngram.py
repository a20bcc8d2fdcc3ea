"""The dataset's yardsticks: Kneser-Ney orders 1-7 on validation, cached per split."""

import pytest

from charff.data.dataset import prepare
from charff.data.ngram import ORDERS, best_of, split_key, yardsticks


def test_yardsticks_are_cached_per_split_and_measured_once(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    data = prepare("fables", "hinton30", 0.1, 10)
    first = yardsticks(data.train, data.calibration, data.val, data.vocab.size)
    cached = list((tmp_path / "charff" / "yardsticks").glob("*.json"))
    assert len(cached) == 1 and list(first) == [f"{n}-gram" for n in ORDERS]
    assert yardsticks(data.train, data.calibration, data.val, data.vocab.size) == first
    other = split_key(data.train, data.calibration, data.val[:-1], data.vocab.size)
    assert other != cached[0].stem  # another split, another entry
    assert first["1-gram"]["bpc"] > first["3-gram"]["bpc"] and best_of(first) != "1-gram"


def test_aesop_yardsticks_keep_their_measured_numbers(aesop_dir, tmp_path, monkeypatch):
    """A pin of this estimator on charff's aesop/hinton30 split (docs/results.md): 3-gram 42.6% /
    2.59, 5-gram 56.6% / 2.01, best order 6 at 57.6% / 1.99; a change of estimator shows here."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    data = prepare("aesop", "hinton30", 0.1, 10)
    table = yardsticks(data.train, data.calibration, data.val, data.vocab.size)
    for order, acc, bpc in (("3-gram", 0.426, 2.593), ("5-gram", 0.566, 2.007), ("6-gram", 0.576, 1.986)):
        assert table[order]["acc"] == pytest.approx(acc, abs=0.002)
        assert table[order]["bpc"] == pytest.approx(bpc, abs=0.005)
    assert best_of(table) == "6-gram"
