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

    def on_record(self, trainer, record: dict) -> None:
        """Any record for the metrics log: evaluations and sleep-phase summaries."""

    def on_end(self, trainer) -> None: ...


class MetricsLog(Hook):
    """One JSON line per evaluation in RUN/metrics.jsonl."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / "metrics.jsonl"

    def on_record(self, trainer, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def truncate_metrics(run_dir: Path, records: int) -> None:
    """On resume, keep the records the checkpoint had seen: the rest will be measured again."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = lines[:records]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def read_metrics(run_dir: Path, kind: str | None = "eval") -> list[dict]:
    """Records of one kind (eval or sleep), or all of them with kind=None."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in records if kind is None or r.get("kind", "eval") == kind]
