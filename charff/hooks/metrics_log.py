"""RUN/metrics.jsonl: one JSON line per record, appended as training goes."""

from __future__ import annotations

import json
from pathlib import Path

from charff.errors import CharffError
from charff.hooks.base import Hook
from charff.rundir import METRICS_FILE
from charff.storage import write_text_atomic


class MetricsLog(Hook):
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / METRICS_FILE

    def on_record(self, trainer, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def truncate(self, records: int) -> None:
        """On resume, keep the records the checkpoint had seen: the rest (a torn last line among
        them) will be measured again."""
        text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        kept = [line for line in text.splitlines() if line.strip()][:records]
        if len(kept) < records:
            raise CharffError(f"{self.path} holds {len(kept)} records but the checkpoint has seen {records}; "
                              "restore the file or retrain the run")
        for number, line in enumerate(kept, 1):
            try:
                json.loads(line)
            except json.JSONDecodeError:
                raise CharffError(f"{self.path} line {number} is damaged and the checkpoint depends on it; "
                                  "restore the file or retrain the run") from None
        write_text_atomic(self.path, "".join(line + "\n" for line in kept))
