"""Trainer hooks: logging, progress, monitoring and tests observe training without touching the step."""

from __future__ import annotations


class Hook:
    """Override what you need; the trainer calls every hook at each point, in order.

    A hook with state that must survive an interruption sets `state_key` and implements
    state_dict/load_state_dict; the trainer keeps that state inside the checkpoint.
    """

    state_key: str | None = None

    def on_start(self, trainer) -> None: ...

    def on_phase_start(self, trainer, phase) -> None: ...

    def on_step(self, trainer, phase, rows: int, stats: dict) -> None: ...

    def on_phase_end(self, trainer, phase) -> None: ...

    def add_to_eval(self, trainer, record: dict) -> None:
        """Contribute fields to an evaluation record before it is written."""

    def on_record(self, trainer, record: dict) -> None:
        """Any record for the metrics log: evaluations and sleep-phase summaries."""

    def on_eval(self, trainer, record: dict) -> None: ...

    def on_end(self, trainer) -> None: ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None: ...
