"""Long learning checks on aesop (opt in: `pytest -m slow`, about 15 minutes on 2 CPU cores)."""

import pytest

from charff.config import Config, load_config
from charff.data.dataset import prepare
from charff.data.ngram import yardsticks
from charff.run import prepare_for
from charff.training.trainer import Trainer
from tests.conftest import aesop_folder

pytestmark = pytest.mark.slow


def aesop_run(negatives: str, chars: int) -> tuple[dict, list]:
    config = Config()
    config.corpus.name = "aesop"
    config.train.chars = chars
    config.train.eval_every = chars
    config.train.negatives = negatives
    config.train.lr_decay = "cosine"
    data = prepare("aesop", "hinton30", 0.1, config.model.window)
    table = yardsticks(data.train, data.calibration, data.val, data.vocab.size)
    return Trainer(config, data).run()[-1], (table["2-gram"], table["3-gram"])


def test_teacher_forcing_beats_the_trigram(aesop_dir):
    record, (_, trigram) = aesop_run("teacher_forcing", 1_000_000)
    assert record["softmax_acc"] > trigram["acc"]
    assert record["goodness_acc"] > trigram["acc"]


def test_self_generated_negatives_beat_the_bigram(aesop_dir):
    record, (bigram, _) = aesop_run("self_generated", 1_000_000)
    assert record["softmax_acc"] > bigram["acc"]
    assert record["goodness_acc"] > bigram["acc"]


@pytest.fixture(scope="module")
def quick_bits(tmp_path_factory):
    """`charff train` at the quick size with every other setting at its default, and the trigram
    of its split, once for the module's three checks (so it cannot use the function-scoped
    fixtures)."""
    aesop_folder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        config = load_config(None, ["model.hidden=[256,256,256]", "train.chars=750000",
                                    "train.negatives=teacher_forcing", "corpus.name=aesop"])
        data = prepare_for(config)
        trigram = yardsticks(data.train, data.calibration, data.val, data.vocab.size)["3-gram"]
        return Trainer(config, data).run()[-1], trigram


def test_quick_size_goodness_readout_is_below_the_trigram_in_bits(quick_bits):
    record, trigram = quick_bits
    assert record["goodness_bpc"] <= trigram["bpc"]


def test_quick_size_softmax_readout_is_below_the_trigram_in_bits(quick_bits):
    """Measured 2.52 against the trigram's 2.60 (docs/results.md); ±0.04 is its interval."""
    record, trigram = quick_bits
    assert record["softmax_bpc"] <= trigram["bpc"]


def test_quick_size_product_readout_is_below_the_trigram_in_bits(quick_bits):
    record, trigram = quick_bits
    assert record["product_bpc"] <= trigram["bpc"]
