"""Evaluation: readouts calibrated on the held-out calibration slice, scored on the whole
validation split, with intervals; no goodness or product readout for nets not trained by FF."""

import math

import pytest
import torch
import torch.nn.functional as F

from charff.config import ModelConfig, TrainConfig
from charff.data.dataset import prepare
from charff.measures.stats import mean_ci
from charff.model.network import FFNet
from charff.model.readouts import fit_product_weights, fit_temperature
from charff.training.negatives import NegativeGenerator, proposal_distribution
from charff.training.trainer import Trainer
from charff.training.validation import WARMUP, Scored, evaluate, layout, readout_summary, score_split
from tests.conftest import tiny_config


def small_model():
    torch.manual_seed(0)
    return FFNet(ModelConfig(window=6, hidden=[16, 16]), 30)


def negatives_of(model, kind="teacher_forcing"):
    return NegativeGenerator(model, TrainConfig(negatives=kind), proposal_distribution("uniform", None, 30, None),
                             None, torch.Generator())


def scores(*args, **kwargs) -> dict:
    return evaluate(*args, **kwargs).record


def test_an_evaluation_returns_its_calibration_and_leaves_the_model_as_it_was():
    model = small_model()
    before = {name: buffer.clone() for name, buffer in model.named_buffers()}
    val = torch.randint(0, 30, (900,), generator=torch.Generator().manual_seed(2))
    evaluation = evaluate(model, val, val[:300], streams=8, goodness_chars=0, seed=0, negatives=negatives_of(model))
    assert all(torch.equal(buffer, before[name]) for name, buffer in model.named_buffers())
    assert set(evaluation.calibration) == {"softmax", "goodness", "product"}
    assert evaluation.record["goodness_temperature"] == evaluation.calibration["goodness"].item()
    model.calibrate(evaluation.calibration)
    assert torch.equal(model.product_weights, evaluation.calibration["product"])
    assert model.goodness_temperature.item() == pytest.approx(evaluation.record["goodness_temperature"])


def test_temperatures_come_from_the_calibration_slice_never_from_validation():
    model = small_model()
    calibration = torch.randint(0, 30, (600,), generator=torch.Generator().manual_seed(1))
    records = []
    for seed in (2, 3):  # two different validation splits
        val = torch.randint(0, 30, (900,), generator=torch.Generator().manual_seed(seed))
        records.append(scores(model, val, calibration, streams=8, goodness_chars=0, seed=0,
                                negatives=negatives_of(model)))
    for name in ("softmax_temperature", "goodness_temperature", "product_goodness_weight", "product_softmax_weight"):
        assert records[0][name] == records[1][name]
    assert records[0]["softmax_bpc"] != records[1]["softmax_bpc"]
    other = torch.randint(0, 30, (600,), generator=torch.Generator().manual_seed(4))
    shifted = scores(model, val, other, streams=8, goodness_chars=0, seed=0, negatives=negatives_of(model))
    assert shifted["goodness_temperature"] != records[1]["goodness_temperature"]
    assert shifted["product_goodness_weight"] != records[1]["product_goodness_weight"]


def test_validation_draws_its_fakes_from_the_configured_negatives():
    model = small_model()
    val = torch.randint(0, 30, (900,), generator=torch.Generator().manual_seed(2))
    proposed = []

    class Counting(NegativeGenerator):
        def propose(self, real, true_next, rows):
            windows, state = super().propose(real, true_next, rows)
            proposed.append(windows)
            return windows, state

    counting = Counting(model, TrainConfig(negatives="random", negatives_per_position=3),
                        proposal_distribution("uniform", None, 30, None), None, torch.Generator())
    with_random = scores(model, val, val[:300], streams=8, goodness_chars=0, seed=0, negatives=counting)
    with_forcing = scores(model, val, val[:300], streams=8, goodness_chars=0, seed=0,
                            negatives=negatives_of(model))
    assert len(proposed) * 8 == with_random["val_chars"] and proposed[0].shape[0] == 3 * 8
    assert with_random["good_fake/0"] != with_forcing["good_fake/0"]
    assert with_random["good_real/0"] == with_forcing["good_real/0"]


def test_product_weights_recover_the_weights_that_generated_the_targets():
    generator = torch.Generator().manual_seed(0)
    goodness_scores = 3 * torch.randn(20_000, 12, generator=generator)
    readout_logits = 2 * torch.randn(20_000, 12, generator=generator)
    true_weights = torch.tensor([0.7, 0.3])
    logits = true_weights[0] * goodness_scores + true_weights[1] * torch.log_softmax(readout_logits, -1)
    targets = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(1)
    weights = fit_product_weights(goodness_scores, readout_logits, targets)
    assert torch.allclose(weights, true_weights, atol=0.05), weights


def test_the_product_readout_fits_the_calibration_slice_at_least_as_well_as_goodness_alone():
    """Weight 0 on the softmax readout is goodness at its own temperature, so the fitted product
    cannot be worse there unless the fit failed."""
    model = small_model()
    calibration = torch.randint(0, 30, (600,), generator=torch.Generator().manual_seed(1))
    scored = score_split(model, calibration, 8, 0, None)
    goodness_scores, targets, _ = scored.goodness.tensors()
    readout_logits = scored.softmax_at_goodness.tensors()[0]
    alone = F.cross_entropy(goodness_scores / fit_temperature(goodness_scores, targets), targets)
    weights = fit_product_weights(goodness_scores, readout_logits, targets)
    product = F.cross_entropy(weights[0] * goodness_scores + weights[1] * torch.log_softmax(readout_logits, -1),
                              targets)
    assert product <= alone + 1e-6


def test_the_goodness_readout_scores_the_whole_split_unless_told_otherwise():
    model = small_model()
    val = torch.randint(0, 30, (900,), generator=torch.Generator().manual_seed(2))
    whole = scores(model, val, val[:300], streams=8, goodness_chars=0, seed=0, negatives=negatives_of(model))
    assert whole["goodness_chars"] == whole["val_chars"] > 700
    part = scores(model, val, val[:300], streams=8, goodness_chars=100, seed=0, negatives=negatives_of(model))
    assert 100 <= part["goodness_chars"] < 200


def test_intervals_are_over_the_segments_means():
    scored = Scored(8, 3)
    logits = torch.zeros(4, 3)
    logits[:, 0] = 5.0
    for targets in ([0, 0, 1, 1], [0, 1, 1, 1]):  # segment i is row i of every step
        scored.add(logits, torch.tensor(targets), torch.arange(4))
    out = readout_summary("softmax", *scored.tensors())
    assert out["softmax_acc"] == pytest.approx(3 / 8)
    assert out["softmax_acc_ci"] == pytest.approx(mean_ci([1.0, 0.5, 0.0, 0.0])[1])
    assert out["softmax_bpc_ci"] > 0 and math.isfinite(out["softmax_bpc"])


@pytest.mark.parametrize("streams", [1, 7, 64, 300])
def test_streams_tile_the_split_whatever_their_number(streams):
    length, window = 1_000, 10
    count, block = layout(length, streams, window)
    lead = window - 1 + WARMUP
    assert count == streams and block == (length - lead) // streams
    assert length - lead - count * block < count  # only a tail shorter than one per stream is unscored


@pytest.mark.parametrize("streams", [3, 50])
def test_each_scored_character_is_the_next_one_in_its_block(streams):
    model = small_model()
    ids = torch.randint(0, 30, (700,), generator=torch.Generator().manual_seed(3))
    count, block = layout(len(ids), streams, model.config.window)
    targets = score_split(model, ids, streams, None, None).softmax.tensors()[1].reshape(block, count)
    lead = model.config.window - 1 + WARMUP
    assert torch.equal(targets.T.reshape(-1), ids[lead : lead + count * block])  # stream by stream


@pytest.mark.parametrize("learner", ["backprop", "frozen_random"])
def test_yardsticks_report_no_goodness_readout(learner):
    config = tiny_config(chars=1_000, eval_every=1_000, learner=learner)
    record = Trainer(config, prepare("fables", "hinton30", 0.1, config.model.window)).run()[-1]
    assert "softmax_acc" in record and "goodness_auc" in record
    assert not any(key.startswith(("goodness_acc", "goodness_bpc", "product")) for key in record)


def test_only_the_last_evaluation_scores_every_character_with_the_goodness_readout():
    config = tiny_config(chars=2_000, eval_every=1_000, eval_goodness_chars=64, eval_streams=16)
    first, last = Trainer(config, prepare("fables", "hinton30", 0.1, config.model.window)).run()
    assert first["goodness_chars"] < 200 < last["goodness_chars"] == last["val_chars"]
