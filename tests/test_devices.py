"""Text reaches the model on the model's device, on every path that feeds it.

A CPU-only machine has one device, so text "on another device" is simulated: OffDevice is a tensor
that refuses every operation except being measured, sliced and moved with `.to()`. A path that
hands it to the model without moving it fails here as it would on a GPU with a CPU dataset.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from charff import run
from charff.model.sampling import generate
from charff.training.validation import evaluate
from tests.conftest import tiny_config

ALLOWED = {torch.Tensor.__len__, torch.Tensor.size, torch.Tensor.dim, torch.Tensor.numel,
           torch.Tensor.__getitem__, torch.Tensor.shape.__get__, torch.Tensor.dtype.__get__,
           torch.Tensor.device.__get__}


class OffDevice(torch.Tensor):
    """A tensor that behaves as if it lived on a device other than the model's."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.Tensor.to, torch.Tensor.cuda, torch.Tensor.cpu):
            return super().__torch_function__(func, types, args, kwargs).as_subclass(torch.Tensor)
        if func in ALLOWED:
            return super().__torch_function__(func, types, args, kwargs)
        raise RuntimeError(f"Expected all tensors to be on the same device: {func.__name__} got text "
                           "that was never moved to the model's device")


def elsewhere(ids: torch.Tensor) -> OffDevice:
    return ids.as_subclass(OffDevice)


@pytest.fixture
def trained(tmp_path):
    config = tiny_config(chars=1_000, eval_every=1_000)
    trainer = run.start_run(config, tmp_path / "run")
    trainer.run()
    return trainer


def test_offdevice_text_is_refused_until_moved(trained):
    ids = elsewhere(trained.dataset.val)
    with pytest.raises(RuntimeError, match="same device"):
        trained.model(ids[None, :10], trained.model.initial_state(1))
    windows = ids.to(trained.device)[None, :10]
    assert len(trained.model(windows, trained.model.initial_state(1))) == 2


def test_evaluation_test_scoring_and_sampling_move_text_to_the_model(trained):
    data = trained.dataset
    t = trained.config.train
    moved = dataclasses.replace(data, val=elsewhere(data.val), test=elsewhere(data.test),
                                calibration=elsewhere(data.calibration))
    record = evaluate(trained.model, moved.val, moved.calibration, t.eval_streams, 64, t.seed, trained.negatives).record
    assert 0 <= record["goodness_acc"] <= 1
    assert "goodness_acc" in run.test_scores(trained.model, moved, trained.config, trained.negatives)
    out = generate(trained.model, elsewhere(data.val[:20]), 2, 5, torch.Generator().manual_seed(0))
    assert out.shape == (2, 5)
    trained.dataset = moved  # the end of every run: test scoring, samples, summary
    assert "test" in run.finish_run(trained)
