"""The run directory: one folder per run, its file names defined here and nowhere else.

    RUN/config.toml     the validated config the run was started with
    RUN/metrics.jsonl   one JSON line per evaluation ("eval") and per sleep phase ("sleep")
    RUN/checkpoint.pt   everything needed to resume exactly (written atomically)
    RUN/samples.txt     continuations of a validation prompt from both readouts
    RUN/summary.json    final and best numbers, n-gram yardsticks, the collapse verdict
    RUN/.lock           held (an OS file lock) by the one process writing the run
    SWEEP/fork/seedN    a forked sweep's shared warm start of seed N (a run directory)
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from charff.errors import CharffError
from charff.storage import to_toml, write_text_atomic

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
SAMPLES_FILE = "samples.txt"
SUMMARY_FILE = "summary.json"
EVALUATION_FILE = "evaluation.json"  # written by `charff evaluate`
CALIBRATION_FILE = "calibration.pt"  # `charff evaluate`'s readout calibration, read before the checkpoint's
TENSORBOARD_DIR = "tensorboard"
LOCK_FILE = ".lock"
FORK_DIR = "fork"  # a forked sweep's shared warm starts: SWEEP/fork/seedN


def warm_start_dir(sweep: Path, seed: int, trunk: str = "") -> Path:
    """SWEEP/fork/seedN, or SWEEP/fork/TRUNK/seedN when the settings have warm starts of their own."""
    return Path(sweep) / FORK_DIR / trunk / f"seed{seed}"


def default_run_dir(prefix: str = "train") -> Path:
    return Path("runs") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


def holds_run(path: Path) -> bool:
    return any((Path(path) / name).exists() for name in (CONFIG_FILE, CHECKPOINT_FILE, METRICS_FILE))


def is_finished(path: Path) -> bool:
    return (Path(path) / SUMMARY_FILE).exists()


def make_dir(path: Path) -> Path:
    """Create a run or sweep folder, or say in one line why it cannot be."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CharffError(f"{path} is a file, not a directory; pick another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CharffError(f"cannot create {path} ({err.strerror}); pick another --out") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CharffError(f"{path} is not writable; pick another --out")
    return path


class RunLock:
    """An exclusive lock on RUN/.lock for as long as this process writes the run; the OS drops it
    when the process dies, however it dies, so a stale lock never blocks a resume."""

    def __init__(self, run_dir: Path):
        self.path = make_dir(run_dir) / LOCK_FILE
        self.handle = open(self.path, "a+")  # noqa: SIM115 - held open for the run's life
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise CharffError(f"{run_dir} is being written by another charff process; wait for it to "
                              "finish or pick another --out") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"{os.getpid()}\n")
        self.handle.flush()

    def release(self) -> None:
        if not self.handle.closed:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def write_config(path: Path, config_tree: dict) -> None:
    write_text_atomic(Path(path) / CONFIG_FILE, to_toml(config_tree))
