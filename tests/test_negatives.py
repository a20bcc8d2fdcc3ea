import pytest
import torch

from charff.config import ModelConfig
from charff.model.network import FFNet
from charff.training.negatives import NegativeGenerator, RealContext


def real_context(model, batch):
    windows = torch.randint(0, 30, (batch, 6))
    activities = model(windows, model.initial_state(batch))
    true_next = torch.zeros(batch, dtype=torch.long)  # the readout below makes 0 the likeliest
    logits = torch.zeros(batch, 30)
    logits[:, 0] = 20.0
    return RealContext(windows, model.next_state(activities), logits, true_next)


@pytest.mark.parametrize("kind", ["teacher_forcing", "random", "self_generated"])
def test_a_restart_never_proposes_the_real_character(kind):
    torch.manual_seed(0)
    model = FFNet(ModelConfig(window=6, hidden=[8, 8]), 30)
    negatives = NegativeGenerator(model, kind, 32, restart_every=1, readout="softmax", temperature=1.0,
                                  top_k=0, generator=torch.Generator().manual_seed(0))
    for _ in range(20):
        real = real_context(model, 32)
        windows, _ = negatives.propose(real, 32)
        assert torch.equal(windows[:, :-1], real.windows[:, 1:])
        assert (windows[:, -1] != real.true_next).all()
        negatives.observe(windows, model(windows, real.state))


def test_rollouts_continue_their_own_text_between_restarts():
    torch.manual_seed(0)
    model = FFNet(ModelConfig(window=6, hidden=[8, 8]), 30)
    negatives = NegativeGenerator(model, "self_generated", 4, restart_every=5, readout="softmax",
                                  temperature=1.0, top_k=0, generator=torch.Generator().manual_seed(0))
    real = real_context(model, 4)
    first, _ = negatives.propose(real, 4)
    negatives.observe(first, model(first, real.state))
    second, _ = negatives.propose(real_context(model, 4), 4)
    continuing = negatives.age[:4] > 0
    assert continuing.any()
    assert torch.equal(second[continuing, :-1], first[continuing, 1:])
