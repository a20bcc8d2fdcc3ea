"""The training step never reads a device value on the host (which would make a GPU wait for all
queued work): counted on the CPU by intercepting every tensor operation that reads one."""

from __future__ import annotations

import sys

import pytest
import torch
from torch.overrides import TorchFunctionMode

from charff.data.streams import Streams
from charff.model.stream_state import RealStreams
from charff.run import start_run
from charff.schedule import Phase
from charff.training import run_state as trainer_module
from tests.conftest import tiny_config

READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__bool__, torch.Tensor.__float__,
         torch.Tensor.__int__, torch.Tensor.__index__, torch.Tensor.nonzero, torch.nonzero, torch.Tensor.numpy}


# where the text positions of the real streams are kept: host tensors on every device
HOST_SIDE = {Streams.advance.__code__, RealStreams.advance.__wrapped__.__code__}


class CountReads(TorchFunctionMode):
    """Counts reads of tensor values on the host, except of host-side tensors: the optimizers' step
    counters, which torch keeps on the CPU whatever the device (`host`), and the streams' text
    positions (read in HOST_SIDE); a read of them waits for nothing."""

    def __init__(self, host: set[int] = frozenset()):
        super().__init__()
        self.reads: list[str] = []
        self.host = host

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in READS and not (args and id(args[0]) in self.host) and sys._getframe(1).f_code not in HOST_SIDE:
            self.reads.append(func.__name__)
        return func(*args, **(kwargs or {}))


def step_counters(trainer) -> set[int]:
    return {id(state["step"]) for optimizer in trainer.learner.optimizers for state in optimizer.state.values()}


@pytest.mark.parametrize(("negatives", "kind"), [("self_generated", "interleaved"), ("teacher_forcing", "sleep"),
                                                 ("self_generated", "wake"), ("random", "interleaved")])
def test_steps_between_evaluations_read_nothing_from_the_device(tmp_path, monkeypatch, negatives, kind):
    trainer = start_run(tiny_config(negatives=negatives, negative_mix=0.5, chars=100_000), tmp_path / "run")
    phase, rows = Phase(kind, 10**9), trainer.config.train.streams
    trainer.step(phase, rows)  # the optimizers make their state
    counter = CountReads(step_counters(trainer))
    step = trainer_module.train_step

    def counted_step(*args, **kwargs):
        with counter:
            return step(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "train_step", counted_step)
    for _ in range(trainer_module.FINITE_CHECK_STEPS - 2):
        stats = trainer.step(phase, rows)
        with counter:
            trainer.accumulate(stats)
            trainer.call("on_step", phase, rows, stats)
    assert counter.reads == []
    assert trainer.steps_unchecked == trainer_module.FINITE_CHECK_STEPS - 1
    with counter:  # the one read, every FINITE_CHECK_STEPS steps
        trainer.check_finite()
    assert counter.reads == ["__bool__"]
    trainer.release()


def test_the_counter_sees_a_read():
    counter = CountReads()
    with counter:
        x = torch.ones(3)
        if x.sum() > 0:
            float(x[0])
    assert counter.reads == ["__bool__", "__float__"]
