import pytest

from charff.data.dataset import prepare
from charff.data.ngram import NgramModel, ngram_baselines


def test_bigram_predicts_the_most_frequent_follower():
    ids = [0, 1, 0, 1, 0, 2, 0, 1]
    model = NgramModel(2, 3).fit(ids)
    result = model.evaluate([0, 1], history=[1])
    assert result.accuracy == 1.0  # after 1 comes 0; after 0 comes 1 (3 of 4 times)


def test_baselines_on_aesop_match_the_published_numbers(aesop_dir):
    data = prepare("aesop", "hinton30", 0.1, 10)
    results = ngram_baselines(data.train.tolist(), data.val.tolist(), data.vocab.size, orders=(1, 2, 3, 4))
    expected = [(0.196, 4.14), (0.305, 3.25), (0.426, 2.60), (0.523, 2.20)]
    for result, (acc, bpc) in zip(results, expected, strict=True):
        assert result.accuracy == pytest.approx(acc, abs=0.005)
        assert result.bits_per_char == pytest.approx(bpc, abs=0.03)
