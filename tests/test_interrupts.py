"""Runs and sweeps stopped at any moment continue with the same command and end as if never stopped."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from charff.analysis.results import evals_of, read_records
from charff.cli import main
from charff.errors import CharffError
from charff.hooks import Hook
from charff.run import start_run
from charff.training.checkpoint import load_checkpoint
from tests.conftest import tiny_config
from tests.test_cli import TRAIN, assert_one_line_error

LONG = ["--set", "model.hidden=[16]", "--set", "train.streams=8", "--set", "train.eval_goodness_chars=64",
        "--set", "train.eval_every=400", "--set", "train.chars=50000000"]


class Crash(Hook):
    def __init__(self, chars):
        self.chars = chars

    def on_step(self, trainer, phase, rows, stats):
        if trainer.chars >= self.chars:
            raise RuntimeError("simulated kill")


def without_timing(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.mark.parametrize("how", ["same command", "resume"])
def test_a_run_killed_before_its_first_checkpoint_continues(tmp_path, how):
    args = [*TRAIN, "--set", "train.chars=1600", "--set", "train.eval_every=800"]
    main([*args, "--out", str(tmp_path / "whole")])
    config = tiny_config(chars=1600, eval_every=800, streams=8, eval_goodness_chars=64)
    config.model.hidden = [16]
    with pytest.raises(RuntimeError):
        start_run(config, tmp_path / "killed", [Crash(400)]).run()
    assert not (tmp_path / "killed" / "checkpoint.pt").exists()
    main([*args, "--out", str(tmp_path / "killed")] if how == "same command" else
         ["train", "--resume", str(tmp_path / "killed")])
    assert without_timing(read_records(tmp_path / "killed")) == without_timing(read_records(tmp_path / "whole"))


def test_the_same_command_on_a_run_with_another_config_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        start_run(tiny_config(), out, [Crash(100)]).run()
    assert_one_line_error([*TRAIN, "--out", str(out)], capsys, "another config")


def test_a_nan_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path):
    class Poison(Hook):  # weights go bad after the first checkpoint
        def on_step(self, trainer, phase, rows, stats):
            if trainer.chars > 2_000:
                trainer.model.readout.bias.data.fill_(float("nan"))

    trainer = start_run(tiny_config(chars=4_000, eval_every=2_000), tmp_path / "run", [Poison()])
    with pytest.raises(CharffError, match="the loss became nan or inf by [0-9,]+ characters.*checkpoint at 2,000"):
        trainer.run()
    saved = load_checkpoint(tmp_path / "run")
    assert saved["trainer"]["chars"] == 2_000
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {Path.cwd() / 'pwned'}",))


def test_a_checkpoint_carrying_code_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"model": {}, "config": {}, "x": Evil()}, tmp_path / "checkpoint.pt")
    assert_one_line_error(["sample", str(tmp_path)], capsys, "refusing to load it")
    assert not (tmp_path / "pwned").exists()


def charff(args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "charff", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def wait_for(paths, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def descendants(pid):
    """PIDs of every process below pid (from /proc)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"


def test_sigterm_on_train_checkpoints_and_says_so_in_one_line(tmp_path):
    out = tmp_path / "run"
    process = charff(["train", *LONG, "--out", str(out)])
    wait_for([out / "checkpoint.pt"], process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert len(err.strip().splitlines()) == 1 and "checkpoint saved" in err and "Traceback" not in err
    assert load_checkpoint(out)["trainer"]["chars"] > 0


GRID = """
description = "interrupted sweep"
seeds = [0, 1, 2]
[base.model]
hidden = [16]
[base.train]
chars = {chars}
streams = 4
eval_every = 400
eval_goodness_chars = 64
[grid]
"train.lr" = [0.003]
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_sweep_leaves_no_process_and_continues(tmp_path, signum):
    grid, out = tmp_path / "grid.toml", tmp_path / "sweep"
    grid.write_text(GRID.format(chars=8_000))
    process = charff(["ablate", str(grid), "--out", str(out), "--workers", "2", "--yes"], start_new_session=True)
    cells = [out / "lr=0.003" / f"seed{s}" / "checkpoint.pt" for s in (0, 1)]
    wait_for(cells, process)
    workers = descendants(process.pid)
    assert len(workers) >= 2
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)  # Ctrl-C in a terminal reaches the whole process group
    else:
        process.send_signal(signum)  # `kill PID` reaches the parent only
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    assert "Traceback" not in err and "rerun the same command" in err
    deadline = time.monotonic() + 10
    while not all(gone(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(gone(pid) for pid in workers)
    stopped_at = [load_checkpoint(c.parent)["trainer"]["chars"] for c in cells]
    assert all(0 < chars < 8_000 for chars in stopped_at)
    queued = out / "lr=0.003" / "seed2" / "checkpoint.pt"
    assert not queued.exists()  # the third cell was queued behind two workers and never started
    main(["ablate", str(grid), "--out", str(out), "--workers", "2", "--yes"])  # the same command continues
    for cell in [*cells, queued]:
        evals = evals_of(read_records(cell.parent))
        assert [r["chars"] for r in evals] == list(range(400, 8_001, 400))
