"""A rich progress bar as a trainer hook: characters, chars/s and the latest validation accuracy."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from charff.hooks.base import Hook


class ProgressBar(Hook):
    def __init__(self, description: str = "training"):
        self.description = description
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} chars/s"), TextColumn("{task.fields[phase]}"),
            TextColumn("val acc {task.fields[acc]}"), TimeRemainingColumn(), transient=False,
        )
        self.task = None

    def on_start(self, trainer) -> None:
        self.progress.start()
        self.task = self.progress.add_task(self.description, total=trainer.config.train.chars,
                                           completed=trainer.chars, rate="-", acc="-", phase="")

    def on_phase_start(self, trainer, phase) -> None:
        self.progress.update(self.task, phase=phase.kind)

    def on_step(self, trainer, phase, rows: int, stats: dict) -> None:
        rate = f"{trainer.chars / trainer.elapsed:,.0f}" if trainer.elapsed > 0 else "-"
        self.progress.update(self.task, completed=trainer.chars, rate=rate)

    def on_eval(self, trainer, record: dict) -> None:
        self.progress.update(self.task, acc=f"{record['softmax_acc']:.1%}")

    def on_end(self, trainer) -> None:
        self.progress.stop()
