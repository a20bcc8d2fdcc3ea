"""Loggers chosen with --log: each is a hook that writes into the run directory."""

from __future__ import annotations

from pathlib import Path

from charff.errors import CharffError
from charff.hooks.base import Hook
from charff.hooks.tensorboard import TensorBoardLog

LOGGERS = {"tensorboard": TensorBoardLog}


def build_loggers(names: list[str], run_dir: Path) -> list[Hook]:
    """The hooks asked for with --log; fails with one line (before any training) when one is missing."""
    unknown = [n for n in names if n not in LOGGERS]
    if unknown:
        raise CharffError(f"unknown --log {unknown[0]!r}; use one of {', '.join(LOGGERS)}")
    return [LOGGERS[name](run_dir) for name in dict.fromkeys(names)]
