import pytest
import torch

from charff.config import ModelConfig, TrainConfig
from charff.errors import CharffError
from charff.model.network import FFNet
from charff.model.stream_state import StreamState
from charff.training.negatives import KINDS, NegativeGenerator, proposal_distribution

VOCAB = 30


def real_context(model, batch):
    windows = torch.randint(0, VOCAB, (batch, 6))
    activities = model(windows, model.initial_state(batch))
    true_next = torch.zeros(batch, dtype=torch.long)  # the readout below makes 0 the likeliest
    logits = torch.zeros(batch, VOCAB)
    logits[:, 0] = 20.0
    return StreamState(windows, model.next_state(activities), logits), true_next


def generator_for(model, never=None, proposal="uniform", **train):
    config = TrainConfig(**train)
    probs = proposal_distribution(proposal, torch.arange(VOCAB).repeat(3), VOCAB, never)
    return NegativeGenerator(model, config, probs, never, torch.Generator().manual_seed(0))


def tiny_model():
    torch.manual_seed(0)
    return FFNet(ModelConfig(window=6, hidden=[8, 8]), VOCAB)


# every kind, plain and with a mixture and hard negatives where the kind can rank characters
DRAWS = [(kind, k, hard, mix) for kind in KINDS for k, hard, mix in [(1, 0, 0.0), (4, 1, 0.5)]
         if not hard or KINDS[kind].ranks]


@pytest.mark.parametrize("kind,k,hard,mix", DRAWS)
def test_a_restart_never_proposes_the_real_character(kind, k, hard, mix):
    model = tiny_model()
    negatives = generator_for(model, negatives=kind, streams=32, rollout_restart=1, negatives_per_position=k,
                              hard_negatives=hard, negative_mix=mix)
    for _ in range(20):
        real, true_next = real_context(model, 32)
        windows, state = negatives.propose(real, true_next, 32)
        assert windows.shape == (32 * k, 6) and state[0].shape[0] == 32 * k
        assert torch.equal(windows[:, :-1], real.windows[:, 1:].repeat(k, 1))
        assert (windows[:, -1] != true_next.repeat(k)).all()
        negatives.observe(windows, model(windows, state))


def test_hard_negatives_need_a_kind_with_a_readout_to_rank():
    with pytest.raises(CharffError, match="random negatives have none"):
        generator_for(tiny_model(), negatives="random", negatives_per_position=2, hard_negatives=1)


def test_rollouts_continue_their_own_text_between_restarts():
    model = tiny_model()
    negatives = generator_for(model, negatives="self_generated", streams=4, rollout_restart=5,
                              negatives_per_position=3)
    real, true_next = real_context(model, 4)
    first, state = negatives.propose(real, true_next, 4)
    negatives.observe(first, model(first, state))
    second, _ = negatives.propose(*real_context(model, 4), 4)
    continuing = negatives.age[:4] > 0
    assert continuing.any()
    assert torch.equal(second[:4][continuing, :-1], first[:4][continuing, 1:])


def test_the_mixture_reaches_characters_the_readout_never_proposes():
    """The readout puts all its mass on character 0 (forbidden on restart, so on 1 next): without
    a proposal the negatives cover two characters, with a uniform one every character but the unknown."""
    model = tiny_model()
    unknown = VOCAB - 1
    seen = {}
    for mix in (0.0, 0.5):
        negatives = generator_for(model, never=unknown, negatives="teacher_forcing", streams=64,
                                  negatives_per_position=4, negative_mix=mix)
        chars = set()
        for _ in range(20):
            real, true_next = real_context(model, 64)
            real.logits[:, 1] = 15.0
            windows, state = negatives.propose(real, true_next, 64)
            negatives.observe(windows, model(windows, state))
            chars |= set(windows[:, -1].tolist())
        seen[mix] = chars
    assert 1 in seen[0.0] and len(seen[0.0]) <= 3 and 0 not in seen[0.0]
    assert seen[0.5] == set(range(VOCAB)) - {0, unknown}


def test_hard_negatives_are_the_likeliest_wrong_characters():
    model = tiny_model()
    negatives = generator_for(model, negatives="teacher_forcing", streams=8, negatives_per_position=3,
                              hard_negatives=2)
    real, true_next = real_context(model, 8)
    real.logits[:, 7], real.logits[:, 5] = 18.0, 17.0  # 0 is the real next character, so 7 then 5
    windows, _ = negatives.propose(real, true_next, 8)
    assert (windows[8:16, -1] == 7).all() and (windows[16:, -1] == 5).all()


def test_the_unknown_symbol_is_never_proposed():
    model = tiny_model()
    unknown = 3
    negatives = generator_for(model, never=unknown, proposal="unigram", negatives="teacher_forcing", streams=64,
                              negatives_per_position=2, hard_negatives=1, negative_mix=0.5)
    for _ in range(30):
        real, true_next = real_context(model, 64)
        real.logits[:, unknown] = 30.0
        windows, _ = negatives.propose(real, true_next, 64)
        assert (windows[:, -1] != unknown).all()


def test_the_unigram_proposal_follows_the_training_counts_plus_one():
    probs = proposal_distribution("unigram", torch.tensor([0, 0, 0, 1]), 4, never=3)
    assert torch.allclose(probs, torch.tensor([4 / 7, 2 / 7, 1 / 7, 0.0]))
