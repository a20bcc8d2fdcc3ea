import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from charff.config import ModelConfig
from charff.model.network import FFNet, rms_normalise
from charff.model.objectives import Side, ff_objective, goodness, layer_loss, symba_loss, threshold_loss
from charff.model.readouts import READOUT_KINDS


def make(recurrence: str, local: bool = True) -> FFNet:
    torch.manual_seed(0)
    return FFNet(ModelConfig(window=6, hidden=[16, 12, 8], recurrence=recurrence), 30, local=local)


@pytest.mark.parametrize("recurrence", ["none", "self", "full"])
def test_one_layers_loss_reaches_no_other_layers_parameters(recurrence):
    model = make(recurrence)
    windows = torch.randint(0, 30, (5, 6))
    state = model.next_state(model(windows, model.initial_state(5)))  # a non-zero state from t-1
    for target in range(len(model.layers)):
        model.zero_grad(set_to_none=True)
        activities = model(windows, state)
        goodness(activities[target]).sum().backward()
        for i, layer in enumerate(model.layers):
            grads = [p.grad for p in layer.parameters()]
            if i == target:
                assert any(g is not None and g.abs().sum() > 0 for g in grads)
            else:
                assert all(g is None for g in grads), f"layer {target}'s loss reached layer {i}"
        assert all(p.grad is None for p in model.readout.parameters())


def test_readout_loss_trains_only_the_readout():
    model = make("full")
    activities = model(torch.randint(0, 30, (4, 6)), model.initial_state(4))
    model.readout_logits(activities).sum().backward()
    assert all(p.grad is None for p in model.layers.parameters())
    assert model.readout.weight.grad is not None


def test_backprop_twin_does_pass_gradients_down():
    model = make("self", local=False)
    activities = model(torch.randint(0, 30, (4, 6)), model.initial_state(4))
    model.readout_logits(activities).sum().backward()
    assert model.layers[0].bottom_up.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("recurrence", ["none", "self", "full"])
def test_candidate_goodness_equals_running_each_candidate(recurrence):
    model = make(recurrence)
    context = torch.randint(0, 30, (3, 5))
    state = model.next_state(model(torch.randint(0, 30, (3, 6)), model.initial_state(3)))
    fast = model.candidate_goodness(context, state)
    for c in range(30):
        windows = torch.cat([context, torch.full((3, 1), c)], dim=1)
        slow = sum(goodness(a) for a in model(windows, state))
        torch.testing.assert_close(fast[:, c], slow.detach(), rtol=1e-4, atol=1e-5)


def test_layers_live_in_a_module_list_and_readouts_cover_the_alphabet():
    model = make("self")
    assert isinstance(model.layers, nn.ModuleList)
    activities = model(torch.randint(0, 30, (2, 6)), model.initial_state(2))
    assert model.readout_logits(activities).shape == (2, 30)
    for readout in READOUT_KINDS:
        logits = model.next_logits(readout, torch.randint(0, 30, (2, 6)), model.initial_state(2), torch.zeros(2, 30))
        assert logits.shape == (2, 30)


def test_losses_push_goodness_the_right_way():
    high, low = torch.tensor([5.0]), torch.tensor([0.1])
    assert threshold_loss(high, low, 2.0) < threshold_loss(low, high, 2.0)
    assert symba_loss(high, low, 4.0) < symba_loss(low, high, 4.0)
    # a one-sided phase is defined for both losses
    symba = ModelConfig(loss="symba", threshold=2.0, symba_alpha=4.0)
    assert layer_loss(high, high[:0], symba) == threshold_loss(high, high[:0], 2.0)


def test_a_checkpoint_from_before_the_product_readout_loads_with_its_default_weights():
    torch.manual_seed(0)
    model = FFNet(ModelConfig(window=4, hidden=[8, 8]), 12)
    model.product_weights.fill_(0.5)
    older = {k: v for k, v in model.state_dict().items() if k != "product_weights"}
    fresh = FFNet(ModelConfig(window=4, hidden=[8, 8]), 12)
    fresh.load_state_dict(older)
    assert torch.equal(fresh.product_weights, torch.ones(2))
    assert torch.equal(fresh.readout.weight, model.readout.weight)


def reference_activities(model: FFNet, windows: torch.Tensor, state: list[torch.Tensor]) -> list[torch.Tensor]:
    """The network written out product by product: a one-hot window times layer 1's weights, and
    separate bottom-up and recurrent products above it."""
    first = model.layers[0].bottom_up
    one_hot = F.one_hot(first.slot_ids(windows), first.window * first.vocab_size).sum(dim=1).float()
    activities, below = [], None
    for i, layer in enumerate(model.layers):
        drive = (one_hot @ first.weight * first.scale + first.bias if i == 0
                 else layer.bottom_up(rms_normalise(below.detach())))
        for lin, c in zip(layer.recurrent, model.layer_context(i, state), strict=True):
            drive = drive + c @ lin.weight.T
        below = model.activation(drive)
        activities.append(below)
    return activities


@pytest.mark.parametrize("recurrence", ["none", "self", "full"])
def test_window_look_up_and_its_gradient_equal_the_one_hot_product(recurrence):
    model = make(recurrence)
    windows = torch.randint(0, 30, (7, 6))
    state = model.next_state(model(torch.randint(0, 30, (7, 6)), model.initial_state(7)))
    results = []
    for forward in (model, lambda w, s: reference_activities(model, w, s)):
        model.zero_grad(set_to_none=True)
        activities = forward(windows, state)
        sum(goodness(a).sum() for a in activities).backward()
        results.append(([a.detach() for a in activities], [p.grad.clone() for p in model.layers.parameters()]))
    (fast, fast_grads), (slow, slow_grads) = results
    for a, b in zip(fast + fast_grads, slow + slow_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", ["softplus", "symba", "band", "clipped"])
def test_every_loss_pairs_k_negatives_with_their_positives(loss):
    """k negatives per position (block j holds the j-th of every position): every loss takes them,
    one-sided or both, and a pairwise loss compares each negative with its own positive."""
    config = ModelConfig(loss=loss)
    rows, k = 4, 3
    positive = Side.of([torch.rand(rows, 8, requires_grad=True) + 1.0])
    negative = Side.of([torch.rand(k * rows, 8, requires_grad=True)])
    for sides in ((positive, negative), (positive, None), (None, negative)):
        (loss_value,) = ff_objective(*sides, config)
        assert loss_value.ndim == 0 and torch.isfinite(loss_value)
    if loss == "symba":  # the mean over the k pairs of (positive r, its j-th negative)
        paired = symba_loss(positive.goodness[0], negative.goodness[0].reshape(k, rows), config.symba_alpha)
        assert ff_objective(positive, negative, config)[0] == paired


def test_symba_with_two_negatives_per_position_trains(tmp_path):
    from charff.cli import main

    main(["train", "--set", "model.loss=symba", "--set", "train.negatives_per_position=2", "--set", "train.chars=2000",
          "--set", "model.hidden=[8]", "--set", "train.streams=16", "--set", "train.eval_every=1000",
          "--set", "train.eval_goodness_chars=32", "--set", "train.eval_streams=16", "--out", str(tmp_path / "run")])
    assert (tmp_path / "run" / "summary.json").is_file()
