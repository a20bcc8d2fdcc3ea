"""The dataset's yardsticks: Kneser-Ney orders 1-7 on validation, cached per split."""

import pytest

from charff.data import ngram
from charff.data.dataset import prepare
from charff.data.ngram import ORDERS, best_of, split_key, yardsticks


def test_yardsticks_are_cached_per_split_and_measured_once(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(ngram, "MEASURED", {})
    data = prepare("fables", "hinton30", 0.1, 10)
    first = yardsticks(data.train, data.calibration, data.val, data.vocab.size)
    cached = list((tmp_path / "charff" / "yardsticks").glob("*.json"))
    assert len(cached) == 1 and list(first) == [f"{n}-gram" for n in ORDERS]
    assert yardsticks(data.train, data.calibration, data.val, data.vocab.size) == first
    other = split_key(data.train, data.calibration, data.val[:-1], data.vocab.size)
    assert other != cached[0].stem  # another split, another entry
    assert first["1-gram"]["bpc"] > first["3-gram"]["bpc"] and best_of(first) != "1-gram"


def test_aesop_yardsticks_match_the_measured_numbers(aesop_dir, tmp_path, monkeypatch):
    """Interpolated Kneser-Ney on charff's aesop/hinton30 split without a test split (train 85% |
    calibration 5% | validation, the last 10%), discounts fitted on calibration:
    an independent implementation measured 4-gram 52.4% / 2.15, 5-gram 57.1% / 1.97, 6-gram
    59.2% / 1.90 and 7-gram 60.5% / 1.87 bits/char on it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(ngram, "MEASURED", {})
    data = prepare("aesop", "hinton30", 0.1, 10, test_fraction=0.0)  # the split it was measured on
    table = yardsticks(data.train, data.calibration, data.val, data.vocab.size)
    for order, acc, bpc in (("4-gram", 0.524, 2.15), ("5-gram", 0.571, 1.97), ("6-gram", 0.592, 1.90),
                            ("7-gram", 0.605, 1.87)):
        assert table[order]["acc"] == pytest.approx(acc, abs=0.005)
        assert table[order]["bpc"] == pytest.approx(bpc, abs=0.025)
    assert best_of(table) == "7-gram"
