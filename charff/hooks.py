"""Trainer hooks: logging, progress and tests observe training without touching the step."""

from __future__ import annotations

import json
from pathlib import Path


class Hook:
    """Override what you need; the trainer calls every hook at each point."""

    def on_start(self, trainer) -> None: ...

    def on_phase_start(self, trainer, phase) -> None: ...

    def on_step(self, trainer, phase, rows: int, stats: dict) -> None: ...

    def on_eval(self, trainer, record: dict) -> None: ...

    def on_end(self, trainer) -> None: ...


class MetricsLog(Hook):
    """One JSON line per evaluation in RUN/metrics.jsonl."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / "metrics.jsonl"

    def on_eval(self, trainer, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def truncate_metrics(run_dir: Path, chars: int) -> None:
    """On resume, drop records written after the checkpoint: they will be measured again."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line)["chars"] <= chars]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
