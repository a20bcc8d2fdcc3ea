"""Optimizer knobs: update granularity, Adam without first-moment bias correction, Nesterov SGD,
and a readout whose optimizer is independent of the layers'."""

import pytest
import torch

from charff.config import Config
from charff.data.dataset import prepare
from charff.errors import CharffError
from charff.hooks import Hook
from charff.training.optim import Adam, granularity
from charff.training.trainer import Trainer
from tests.conftest import tiny_config


def test_adam_with_the_correction_matches_torch():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    ours, theirs = Adam(a.parameters(), 1e-2, (0.9, 0.99), weight_decay=0.01), torch.optim.Adam(
        b.parameters(), 1e-2, betas=(0.9, 0.99), weight_decay=0.01)
    for _ in range(5):
        x = torch.randn(8, 4)
        for model, optimizer in ((a, ours), (b, theirs)):
            optimizer.zero_grad()
            model(x).pow(2).sum().backward()
            optimizer.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_without_first_moment_correction_the_first_step_is_one_minus_beta1_as_large():
    steps = []
    for correct in (True, False):
        p = torch.nn.Parameter(torch.zeros(1))
        optimizer = Adam([p], 0.1, (0.99, 0.999), correct_first_moment=correct)
        p.grad = torch.ones(1)
        optimizer.step()
        steps.append(-p.item())
    assert steps[0] == pytest.approx(0.1, rel=1e-3)
    assert steps[1] == pytest.approx(0.1 * 0.01, rel=1e-3)


class CountUpdates(Hook):
    """Counts the times layer 1's weights changed, looking after every step and at the end."""

    def __init__(self):
        self.weights, self.changes = None, 0

    def look(self, trainer):
        weight = trainer.model.layers[0].bottom_up.weight.detach().clone()
        if self.weights is not None and not torch.equal(weight, self.weights):
            self.changes += 1
        self.weights = weight

    def on_start(self, trainer):
        self.look(trainer)

    def on_step(self, trainer, phase, rows, stats):
        self.look(trainer)

    def on_end(self, trainer):
        self.look(trainer)


@pytest.mark.parametrize("accumulate, schedule, updates", [
    (1, "interleaved", 100), (4, "interleaved", 25), (3, "separated:320", 35)])
def test_one_update_covers_streams_times_accumulate_characters(accumulate, schedule, updates):
    config = tiny_config(chars=1_600, eval_every=1_600, accumulate=accumulate, schedule=schedule,
                         negatives="self_generated")
    counter = CountUpdates()
    trainer = Trainer(config, prepare("fables", "hinton30", 0.1, 10), hooks=[counter])
    trainer.run()
    # separated:320 with 16 streams: 20 steps per phase, 6 updates of 3 steps and a flush of 2, x 5 phases
    assert trainer.learner.updates == counter.changes == updates


def test_granularity_counts_updates_and_the_momentum_horizon():
    config = Config()
    config.train.streams, config.train.accumulate, config.train.momentum = 64, 4, 0.999
    config.train.schedule, config.train.chars = "interleaved:1M,separated:256k", 3_000_000
    g = granularity(config)
    assert g["chars_per_update"] == 256 and g["updates_per_phase"] == 1_000
    assert g["horizon_updates"] == pytest.approx(1_000) and g["horizon_chars"] == pytest.approx(256_000)


def test_the_readout_optimizer_ignores_the_layers_momentum():
    readouts = []
    for momentum in (0.5, 0.99):
        config = tiny_config(chars=800, eval_every=800, optimizer="sgd", momentum=momentum, lr=0.0)
        trainer = Trainer(config, prepare("fables", "hinton30", 0.1, 10))
        trainer.run()
        readouts.append(trainer.model.readout.weight.detach().clone())
    torch.testing.assert_close(readouts[0], readouts[1])


def test_nesterov_needs_sgd_with_momentum():
    from charff.config import validate

    config = tiny_config(nesterov=True)
    with pytest.raises(CharffError, match="nesterov"):
        validate(config)
    config.train.optimizer, config.train.momentum = "sgd", 0.99999
    validate(config)
