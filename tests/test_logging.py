"""--log tensorboard: event files in the run directory, through the hook API."""

import sys

import pytest

from charff.cli import main
from tests.test_cli import TRAIN, assert_one_line_error


def scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder)).Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_tensorboard_events_hold_per_layer_metrics_and_phases(tmp_path):
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    main([*TRAIN, "--set", "train.chars=1600", "--set", "train.eval_every=800", "--set", "model.hidden=[16, 16]",
          "--set", 'train.schedule="separated:400"', "--set", 'train.negatives="self_generated"',
          "--log", "tensorboard", "--out", str(out)])
    tags = scalars(out / "tensorboard")
    assert [step for step, _ in tags["val/softmax_acc"]] == [800, 1600]
    assert {"val/good_real/layer1", "val/good_real/layer2", "val/dead/layer2", "train/loss/layer1",
            "sleep/entropy", "samples/entropy"} <= set(tags)
    wake = tags["phase/wake"]  # 1 through each wake phase, 0 through each sleep phase
    assert (0, 1.0) in wake and (400, 0.0) in wake and (800, 1.0) in wake
    assert {value for step, value in tags["phase/sleep"] if step == 1200} == {0.0, 1.0}


def test_missing_tensorboard_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    assert_one_line_error([*TRAIN, "--log", "tensorboard", "--out", str(tmp_path / "r")], capsys,
                          'pip install "charff[tensorboard]"')
    assert not (tmp_path / "r").exists()
