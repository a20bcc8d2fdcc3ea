"""Long learning checks on aesop (opt in: `pytest -m slow`, about 10 minutes on 2 CPU cores)."""

import pytest

from charff.config import Config
from charff.data.dataset import prepare
from charff.data.ngram import ngram_baselines
from charff.training.trainer import Trainer

pytestmark = pytest.mark.slow


def aesop_run(negatives: str, chars: int) -> tuple[dict, list]:
    config = Config()
    config.corpus.name = "aesop"
    config.train.chars = chars
    config.train.eval_every = chars
    config.train.negatives = negatives
    config.train.lr_decay = "cosine"
    data = prepare("aesop", "hinton30", 0.1, config.model.window)
    baselines = ngram_baselines(data.train.tolist(), data.val.tolist(), data.vocab.size, orders=(2, 3))
    return Trainer(config, data).run()[-1], baselines


def test_teacher_forcing_beats_the_trigram(aesop_dir):
    record, (_, trigram) = aesop_run("teacher_forcing", 1_000_000)
    assert record["softmax_acc"] > trigram.accuracy
    assert record["goodness_acc"] > trigram.accuracy


def test_self_generated_negatives_beat_the_bigram(aesop_dir):
    record, (bigram, _) = aesop_run("self_generated", 1_000_000)
    assert record["softmax_acc"] > bigram.accuracy
    assert record["goodness_acc"] > bigram.accuracy
