import pytest

from charff.analysis.results import evals_of, read_records
from charff.data.dataset import prepare
from charff.data.ngram import yardsticks
from charff.hooks import Hook
from charff.run import resume_run, start_run
from charff.training.trainer import Interrupted, Trainer
from tests.conftest import tiny_config

TIMING_KEYS = ("seconds",)


def comparable(records):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


def fables(config):
    return prepare("fables", "hinton30", 0.1, config.model.window)


class StopAt(Hook):
    def __init__(self, chars, crash=False):
        self.chars, self.crash = chars, crash

    def on_step(self, trainer, phase, rows, stats):
        if trainer.chars >= self.chars:
            if self.crash:
                raise RuntimeError("simulated crash")
            trainer.request_stop()


def test_short_run_beats_the_unigram_baseline():
    config = tiny_config(chars=40_000, eval_every=40_000, streams=32)
    config.model.hidden = [128, 128]
    data = fables(config)
    records = Trainer(config, data).run()
    unigram = yardsticks(data.train, data.calibration, data.val, data.vocab.size)["1-gram"]
    assert records[-1]["softmax_acc"] > unigram["acc"] + 0.03
    assert records[-1]["goodness_acc"] > unigram["acc"] + 0.03


def test_same_seed_same_numbers():
    config = tiny_config(chars=2_000, eval_every=1_000)
    first, second = (comparable(Trainer(config, fables(config)).run()) for _ in range(2))
    assert first == second


@pytest.mark.parametrize("crash, accumulate", [(False, 1), (True, 1), (False, 3)])
def test_resume_ends_with_the_metrics_of_an_uninterrupted_run(tmp_path, crash, accumulate):
    """With accumulate = 3 the stop falls between updates: pending gradients are checkpointed too."""
    config = tiny_config(chars=6_000, eval_every=2_000, negatives="self_generated", rollout_restart=8,
                         accumulate=accumulate)
    whole = start_run(config, tmp_path / "whole")
    whole.run()
    broken = start_run(config, tmp_path / "broken", [StopAt(3_000, crash)])
    with pytest.raises(RuntimeError if crash else Interrupted):
        broken.run()
    resumed = resume_run(tmp_path / "broken")
    assert resumed.chars == (2_000 if crash else 3_008)
    resumed.run()
    whole = evals_of(read_records(tmp_path / "whole"))
    assert comparable(evals_of(read_records(tmp_path / "broken"))) == comparable(whole)
    assert len(whole) == 3


@pytest.mark.parametrize("learner", ["backprop", "frozen_random"])
def test_yardstick_learners_train(learner):
    config = tiny_config(chars=2_000, eval_every=2_000, learner=learner)
    trainer = Trainer(config, fables(config))
    before = [p.detach().clone() for p in trainer.model.layers.parameters()]
    trainer.run()
    after = list(trainer.model.layers.parameters())
    changed = any((a != b).any() for a, b in zip(after, before, strict=True))
    assert changed == (learner == "backprop")


def test_a_run_checkpointed_on_another_device_continues_on_the_cpu(tmp_path):
    """A CUDA checkpoint, as this CPU-only machine can make one: the config says cuda and the
    sampler's RNG state has the CUDA generator's 16-byte format."""
    import torch

    from charff.errors import CharffError
    from charff.training.checkpoint import load_checkpoint, save_checkpoint

    config = tiny_config(chars=4_000, eval_every=2_000)
    broken = start_run(config, tmp_path / "run", [StopAt(2_000)])
    with pytest.raises(Interrupted):
        broken.run()
    payload = load_checkpoint(tmp_path / "run")
    payload["config"]["train"]["device"] = "cuda"
    payload["trainer"]["generator"] = torch.zeros(16, dtype=torch.uint8)
    save_checkpoint(payload, tmp_path / "run" / "checkpoint.pt")
    if not torch.cuda.is_available():
        with pytest.raises(CharffError, match="CUDA is not available"):
            resume_run(tmp_path / "run")
    resumed = resume_run(tmp_path / "run", device="cpu")
    assert resumed.device.type == "cpu" and resumed.chars == 2_000
    resumed.run()
    assert [r["chars"] for r in evals_of(read_records(tmp_path / "run"))] == [2_000, 4_000]


def test_a_run_without_a_test_split_reports_none(tmp_path):
    from charff.run import finish_run

    config = tiny_config(chars=1_000, eval_every=1_000)
    config.corpus.test_fraction = 0.0
    trainer = start_run(config, tmp_path / "run")
    trainer.run()
    summary = finish_run(trainer)
    assert "test" not in summary and summary["corpus"]["test_chars"] == 0
    assert summary["corpus"]["val_chars"] == len(prepare("fables", "hinton30", 0.1, 10, test_fraction=0.0).val)
