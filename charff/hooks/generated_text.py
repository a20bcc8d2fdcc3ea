"""Watching what the model generates: the text of its sleep rollouts, measured rather than eyeballed.

Up to GENERATED_KEPT characters per stream are kept while rollouts run; a sleep phase ends with
one "sleep" record summarising them, and during interleaved phases the summary joins the next
evaluation record. The kept text is checkpointed, so a resumed run writes the same records.
"""

from __future__ import annotations

import torch

from charff.hooks.base import Hook
from charff.measures.textstats import text_stats

GENERATED_KEPT = 2_000


class GeneratedTextMonitor(Hook):
    state_key = "generated_text"

    def __init__(self):
        self.generated: list[list[int]] = []
        self.pending: list[torch.Tensor] = []  # the latest steps' characters, still on the device

    def on_start(self, trainer) -> None:
        if not self.generated:
            self.generated = [[] for _ in range(trainer.config.train.streams)]

    def on_phase_start(self, trainer, phase) -> None:
        self.generated = [[] for _ in self.generated]
        self.pending = []

    def on_step(self, trainer, phase, rows: int, stats: dict) -> None:
        # kept as tensors (reading them here would make every GPU step wait), while a stream can
        # still take characters; moved into the lists when read
        if "generated" in stats and trainer.negatives.continues_text and len(self.pending) < GENERATED_KEPT:
            self.pending.append(stats["generated"])

    def collect(self) -> None:
        for step in self.pending:
            for kept, char in zip(self.generated, step.tolist(), strict=False):
                if len(kept) < GENERATED_KEPT:
                    kept.append(char)
        self.pending = []

    def summary(self, trainer) -> dict:
        """Statistics of the text kept since the phase or the last evaluation began; clears it."""
        self.collect()
        decode = trainer.dataset.vocab.decode
        texts = [decode(ids) for ids in self.generated if ids]
        self.generated = [[] for _ in self.generated]
        return text_stats(texts, trainer.reference)

    def on_phase_end(self, trainer, phase) -> None:
        self.collect()
        if phase.sleep_only and any(self.generated):
            trainer.emit({"kind": "sleep", "chars": trainer.chars, "phase_index": trainer.phase_index,
                          "phase_chars": phase.chars, **self.summary(trainer)})

    def add_to_eval(self, trainer, record: dict) -> None:
        self.collect()
        if trainer.current_phase().interleaved and any(self.generated):
            record.update(self.summary(trainer))

    def state_dict(self) -> dict:
        self.collect()
        return {"generated": self.generated}

    def load_state_dict(self, state: dict) -> None:
        self.generated = state["generated"]
