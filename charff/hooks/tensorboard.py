"""TensorBoard event files in RUN/tensorboard: every numeric metric, per layer, against characters.

Phases show as two step-shaped scalars, phase/wake and phase/sleep (1 while that update is on),
written at the start and end of every phase. A resumed run purges the events after its
checkpoint, so curves are not drawn twice.
"""

from __future__ import annotations

from pathlib import Path

from charff.errors import CharffError
from charff.hooks.base import Hook
from charff.rundir import TENSORBOARD_DIR

GROUPS = (("train_", "train/"), ("sample_", "samples/"), ("gen_", "generated/"))


def require_tensorboard():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise CharffError('--log tensorboard needs TensorBoard: pip install "charff[tensorboard]"') from None
    return SummaryWriter


def tag(key: str, kind: str) -> str:
    """metrics.jsonl keys as TensorBoard tags: good_real/0 -> val/good_real/layer1, train_acc -> train/acc,
    a sleep phase's gen_entropy -> sleep/entropy."""
    group = "val/"
    for prefix, name in GROUPS:
        if key.startswith(prefix):
            group, key = ("sleep/" if kind == "sleep" else name), key.removeprefix(prefix)
    base, _, layer = key.partition("/")
    return group + (f"{base}/layer{int(layer) + 1}" if layer.isdigit() else key)


class TensorBoardLog(Hook):
    def __init__(self, run_dir: Path):
        self.folder = Path(run_dir) / TENSORBOARD_DIR
        self.summary_writer = require_tensorboard()
        self.writer = None

    def on_start(self, trainer) -> None:
        self.writer = self.summary_writer(log_dir=str(self.folder), purge_step=trainer.chars or None)

    def mark_phase(self, phase, chars: int) -> None:
        self.writer.add_scalar("phase/wake", float(phase.wake), chars)
        self.writer.add_scalar("phase/sleep", float(phase.sleep), chars)

    def on_phase_start(self, trainer, phase) -> None:
        self.mark_phase(phase, trainer.chars)

    def on_phase_end(self, trainer, phase) -> None:
        self.mark_phase(phase, trainer.chars)

    def on_record(self, trainer, record: dict) -> None:
        kind = record.get("kind", "eval")
        for key, value in record.items():
            if key not in ("chars", "phase_index") and isinstance(value, int | float) and not isinstance(value, bool):
                self.writer.add_scalar(tag(key, kind), value, record["chars"])
        samples = record.get("sample_samples") or record.get("gen_samples")
        if samples:
            self.writer.add_text(f"{kind}/samples", "\n\n".join(f"`{s}`" for s in samples), record["chars"])
        self.writer.flush()

    def on_end(self, trainer) -> None:
        self.writer.close()

