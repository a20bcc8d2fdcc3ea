"""RUN/metrics.jsonl: one JSON line per record, appended as training goes."""

from __future__ import annotations

import json
from pathlib import Path

from charff.hooks.base import Hook
from charff.rundir import METRICS_FILE


class MetricsLog(Hook):
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / METRICS_FILE

    def on_record(self, trainer, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def truncate(self, records: int) -> None:
        """On resume, keep the records the checkpoint had seen: the rest will be measured again."""
        if not self.path.exists():
            return
        lines = [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
        self.path.write_text("".join(line + "\n" for line in lines[:records]), encoding="utf-8")
