"""Many runs as one job: named cells x seeds, each in its own run directory.

Re-running a suite skips finished cells (they have summary.json) and resumes interrupted ones
from their checkpoints, so a long sweep can be stopped and continued.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

from charff.config import Config, apply, validate
from charff.hooks import Hook
from charff.run import finish_run, resume_run, start_run
from charff.rundir import SUMMARY_FILE


@dataclass
class Cell:
    name: str
    seed: int
    config: Config
    run_dir: Path


def make_config(base: Config, overrides: dict, seed: int) -> Config:
    config = copy.deepcopy(base)
    for key, value in overrides.items():
        apply(config, key, value)
    config.train.seed = seed
    return validate(config)


def run_cell(cell: Cell, hooks: list[Hook] = ()) -> dict:
    """Train one cell to the end (or find it done) and return its summary."""
    summary = cell.run_dir / SUMMARY_FILE
    if summary.exists():
        return json.loads(summary.read_text(encoding="utf-8"))
    if (cell.run_dir / "checkpoint.pt").exists():
        trainer = resume_run(cell.run_dir, list(hooks))
    else:
        trainer = start_run(cell.config, cell.run_dir, list(hooks))
    trainer.run()
    return finish_run(trainer)
