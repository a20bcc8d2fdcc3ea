"""The run directory: one folder per run, its file names defined here and nowhere else.

    RUN/config.toml     the validated config the run was started with
    RUN/metrics.jsonl   one JSON line per evaluation ("eval") and per sleep phase ("sleep")
    RUN/checkpoint.pt   everything needed to resume exactly (written atomically)
    RUN/samples.txt     continuations of a validation prompt from both readouts
    RUN/summary.json    final and best numbers, n-gram yardsticks, the collapse verdict
"""

from __future__ import annotations

import time
from pathlib import Path

from charff.errors import CharffError
from charff.storage import to_toml, write_text_atomic

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
SAMPLES_FILE = "samples.txt"
SUMMARY_FILE = "summary.json"
TENSORBOARD_DIR = "tensorboard"


def default_run_dir(prefix: str = "train") -> Path:
    return Path("runs") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


def holds_run(path: Path) -> bool:
    return (Path(path) / CHECKPOINT_FILE).exists() or (Path(path) / METRICS_FILE).exists()


def is_finished(path: Path) -> bool:
    return (Path(path) / SUMMARY_FILE).exists()


def create_run_dir(path: Path, config_tree: dict) -> Path:
    """A new run directory; refuses one that already holds a run, so nothing is overwritten."""
    path = Path(path)
    if holds_run(path):
        raise CharffError(f"{path} already holds a run; continue it with --resume {path} or pick another --out")
    path.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path / CONFIG_FILE, to_toml(config_tree))
    return path
