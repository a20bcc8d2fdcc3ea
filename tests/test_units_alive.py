"""Units that cannot die: what each option guarantees."""

import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from charff.config import ModelConfig
from charff.data.dataset import prepare
from charff.model.activations import ACTIVATIONS
from charff.model.objectives import layer_loss, peer_normalisation
from charff.training.trainer import Trainer
from tests.conftest import tiny_config


def test_relu_full_grad_is_relu_forward_and_identity_backward():
    x = torch.tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True)
    y = ACTIVATIONS["relu_full_grad"](x)
    assert torch.equal(y, torch.relu(x))
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones(4))  # a silent unit still hears its gradient


@pytest.mark.parametrize("activation, revived", [("relu_full_grad", True), ("relu", False)])
def test_peer_normalisation_brings_a_silent_unit_back_among_active_peers(activation, revived):
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 4)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([-6.0, 1.0, 1.0, 1.0]))  # unit 0 is silent on every input
    running = torch.zeros(4)
    optimizer = torch.optim.SGD(layer.parameters(), lr=1.0)
    inputs = torch.randn(64, 8).clamp(-1, 1)
    for _ in range(300):
        optimizer.zero_grad()
        peer_normalisation(ACTIVATIONS[activation](layer(inputs)), running).backward()
        layer.weight.grad[1:] = 0  # the peers hold their activity (in training, their FF loss does)
        layer.bias.grad[1:] = 0
        optimizer.step()
    assert ((torch.relu(layer(inputs))[:, 0] > 0).any().item()) == revived


def grad_of(positive: bool, goodness: float, config: ModelConfig) -> float:
    g = torch.tensor([goodness], requires_grad=True)
    empty = g[:0]
    layer_loss(g if positive else empty, empty if positive else g, config).backward()
    return g.grad.item()


def test_band_walls_push_back_from_both_sides_where_softplus_keeps_pushing():
    band, plain = ModelConfig(loss="band", band=[0.5, 8.0]), ModelConfig(loss="softplus")
    assert grad_of(True, 20.0, band) > 0 > grad_of(True, 20.0, plain)  # positives: down vs up
    assert grad_of(False, 0.1, band) < 0 < grad_of(False, 0.1, plain)  # negatives: up vs down


def test_clipped_loss_stops_pushing_past_its_margin():
    clipped = ModelConfig(loss="clipped", clip_margin=1.0)
    assert grad_of(True, 3.5, clipped) == 0.0 and grad_of(True, 2.5, clipped) < 0
    assert grad_of(False, 0.5, clipped) == 0.0 and grad_of(False, 1.5, clipped) > 0


def goodness_after_a_long_sleep(loss: str) -> float:
    config = tiny_config(chars=60_000, eval_every=60_000, schedule="interleaved:20k,sleep:40k",
                         negatives="self_generated", streams=32, lr=0.01)
    config.model.loss = loss
    record = Trainer(config, prepare("fables", "hinton30", 0.1, 10)).run()[-1]
    return min(record["good_real/0"], record["good_real/1"])


def test_a_long_sleep_phase_silences_layers_under_softplus_but_not_inside_a_band():
    assert goodness_after_a_long_sleep("softplus") < 0.1
    assert goodness_after_a_long_sleep("band") > 0.5


SUBNORMALS_AFTER_START = """
import sys, torch
from charff.run import start_run
from tests.conftest import tiny_config
start_run(tiny_config(flush_subnormals=sys.argv[1] == "on"), sys.argv[2])
print(torch.count_nonzero(torch.full((1 << 20,), 1e-30) * 1e-10).item())  # split among the threads
"""


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="flush-to-zero is an x86 setting")
@pytest.mark.parametrize("setting, nonzero", [("on", 0), ("off", 1 << 20)])
def test_a_new_run_flushes_subnormals_in_every_torch_thread_unless_told_not_to(tmp_path, setting, nonzero):
    # a silent unit's tiny gradient products must not become slow subnormals (benchmarks/subnormals.py);
    # a fresh process, as `charff train` is, so that torch's worker threads start after the setting
    command = [sys.executable, "-c", SUBNORMALS_AFTER_START, setting, str(tmp_path / "run")]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    assert int(result.stdout.split()[-1]) == nonzero
