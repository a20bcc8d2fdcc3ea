"""The wake/sleep scheduler, observed through a hook."""

import pytest
import torch

from charff.analysis.results import read_records
from charff.data.dataset import prepare
from charff.hooks import Hook
from charff.run import resume_run, start_run
from charff.training.trainer import Interrupted, Trainer
from tests.conftest import tiny_config


class PhaseAudit(Hook):
    """Counts characters per phase and checks which updates each step made."""

    def __init__(self):
        self.phases = []
        self.readout_before = None

    def on_phase_start(self, trainer, phase):
        self.close(trainer)
        self.phases.append({"kind": phase.kind, "wake": 0, "sleep": 0})
        self.readout_before = trainer.model.readout.weight.detach().clone()

    def on_step(self, trainer, phase, rows, stats):
        current = self.phases[-1]
        current["wake"] += stats["positive_rows"]
        current["sleep"] += stats["negative_rows"]
        if phase.kind == "wake":
            assert stats["negative_rows"] == 0 and not any(k.startswith("good_neg") for k in stats)
        if phase.kind == "sleep":
            assert stats["positive_rows"] == 0

    def close(self, trainer):
        if self.phases and self.phases[-1]["kind"] == "sleep":  # the readout learns only from real text
            assert torch.equal(trainer.model.readout.weight, self.readout_before)

    def on_end(self, trainer):
        self.close(trainer)


def test_separated_phases_have_exact_lengths_and_one_kind_of_update():
    config = tiny_config(chars=4_000, eval_every=4_000, schedule="separated:1000/500", streams=64,
                         negatives="self_generated")
    audit = PhaseAudit()
    Trainer(config, prepare("fables", "hinton30", 0.1, 10), hooks=[audit]).run()
    assert [(p["kind"], p["wake"], p["sleep"]) for p in audit.phases] == [
        ("wake", 1000, 0), ("sleep", 0, 500), ("wake", 1000, 0), ("sleep", 0, 500), ("wake", 1000, 0)]


def test_each_sleep_phase_logs_a_summary_of_the_generated_text(tmp_path):
    config = tiny_config(chars=3_000, eval_every=3_000, schedule="separated:1000", negatives="self_generated")
    start_run(config, tmp_path / "run").run()
    sleeps = [r for r in read_records(tmp_path / "run") if r["kind"] == "sleep"]
    assert len(sleeps) == 1 and sleeps[0]["chars"] == 2_000
    summary = sleeps[0]
    assert summary["gen_chars"] == 1_000
    assert 0 < summary["gen_entropy"] <= 5 and 0 < summary["gen_top_share"] <= 1
    assert summary["gen_longest_run"] >= 1 and summary["gen_kl_bits"] >= 0
    assert len(summary["gen_samples"]) == 3


class StopInSleep(Hook):
    def on_step(self, trainer, phase, rows, stats):
        if phase.kind == "sleep" and trainer.phase_done >= 320:
            trainer.request_stop()


@pytest.mark.parametrize("reset", [False, True])
def test_resume_in_the_middle_of_a_phase_continues_it(tmp_path, reset):
    config = tiny_config(chars=4_000, eval_every=1_000, schedule="separated:1000/800", streams=32,
                         negatives="self_generated", reset_optimizer_each_phase=reset)
    start_run(config, tmp_path / "whole").run()
    broken = start_run(config, tmp_path / "broken", [StopInSleep()])
    with pytest.raises(Interrupted):
        broken.run()
    left = broken.phases[broken.phase_index].chars - broken.phase_done
    resumed = resume_run(tmp_path / "broken")
    assert resumed.phases[resumed.phase_index].kind == "sleep"
    assert resumed.phases[resumed.phase_index].chars - resumed.phase_done == left
    resumed.run()
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in read_records(tmp_path / "broken")]
    whole = [{k: v for k, v in r.items() if k != "seconds"} for r in read_records(tmp_path / "whole")]
    assert strip == whole
