"""One yardstick for the goodness AUC of every arm of a fork: the same negative characters for all.

Each arm's own AUC compares real windows with the negatives that arm generates, so two arms are
scored against different tests (a separated arm's readout makes its negatives only in its wake
phases; a frozen null keeps the warm start's). Here the warm start's negative generator (its
readout mixed with the configured proposal, restarting from real text as in training) draws the
negative characters of a split once, and they are saved beside the warm start. Every arm forked
from it then replays exactly those characters: the windows are the same for all arms; only the
recurrent state each arm computes over them is its own, as it must be for its goodness.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from charff.config import TrainConfig, config_from_dict, load_config
from charff.data.dataset import Dataset
from charff.model.network import FFNet
from charff.rundir import CONFIG_FILE
from charff.training.checkpoint import load_checkpoint, save_checkpoint
from charff.training.negatives import KINDS, NegativeGenerator
from charff.training.run_state import RunState
from charff.training.validation import layout, score_split

YARDSTICK_FILE = "common_negatives.pt"
SPLITS = ("val", "test")


class Recording(NegativeGenerator):
    """Draws as configured and keeps every draw, in order."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.drawn: list[torch.Tensor] = []

    def draw(self, logits: torch.Tensor, forbid: torch.Tensor) -> torch.Tensor:
        chars = super().draw(logits, forbid)
        self.drawn.append(chars.cpu())
        return chars


class Replaying(NegativeGenerator):
    """Gives back recorded draws, in order, whatever the model's readout would propose, restarting
    its rollouts as the recording did (an arm may restart its own every other number of characters)."""

    def __init__(self, *args, recorded: torch.Tensor, restart_every: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorded, self.next_draw = recorded, 0
        self.restart_every = restart_every
        self.age = torch.full_like(self.age, restart_every)

    def draw(self, logits: torch.Tensor, forbid: torch.Tensor) -> torch.Tensor:
        chars = self.recorded[self.next_draw].to(logits.device)
        self.next_draw += 1
        return chars


def bank(kind: type, model: FFNet, template: NegativeGenerator, ids: torch.Tensor, streams: int, seed: int,
         **extra) -> NegativeGenerator:
    """A negatives bank of `kind` for scoring `ids` with `streams` streams, like validation's."""
    rows = layout(len(ids), streams, model.config.window)[0]
    generator = torch.Generator(device=model.device).manual_seed(seed)
    return template.fresh(rows, generator, kind, **extra)


@torch.no_grad()
def draw_common_negatives(trunk_dir: Path, dataset: Dataset) -> dict[str, torch.Tensor]:
    """The warm start's negatives of every split, drawn once: split -> (steps, rows, k) characters."""
    payload = load_checkpoint(trunk_dir)
    config = config_from_dict(payload["config"])
    config.train.device = "cpu"  # drawn on the CPU, wherever the warm start trained
    warm_start = RunState(config, dataset, global_settings=False)  # beside the arm's own run
    warm_start.model.load_state_dict(payload["model"])
    model, template, t = warm_start.model, warm_start.negatives, config.train
    model.eval()
    out = {}
    for split in SPLITS:
        ids = getattr(dataset, split)
        if len(ids):
            recording = bank(Recording, model, template, ids, t.eval_streams, t.seed)
            score_split(model, ids, t.eval_streams, None, recording)
            out[split] = torch.stack(recording.drawn)
    return out


def common_negatives(trunk_dir: Path, dataset: Dataset) -> dict[str, torch.Tensor]:
    """The saved yardstick of a warm start, drawn and saved by the first arm that asks. Drawing
    is deterministic, so arms finishing at once write the same bytes."""
    path = Path(trunk_dir) / YARDSTICK_FILE
    if path.is_file():
        return torch.load(path, weights_only=True)
    drawn = draw_common_negatives(Path(trunk_dir), dataset)
    save_checkpoint(drawn, path)
    return drawn


def at_evaluations(train: TrainConfig) -> Callable[[RunState], dict] | None:
    """What a run forked from a warm start adds to every evaluation: the common AUC on validation."""
    if not (train.fork_from and train.learner_kind.ff):
        return None

    loaded = {}  # the saved negatives and their restart period, read once per run

    def read(state: RunState) -> dict:
        if not loaded:
            loaded.update(yardstick_of(Path(train.fork_from), state.dataset))
        return {"goodness_auc_common": scored(state.model, state.negatives, state.dataset, **loaded,
                                             streams=train.eval_streams, seed=train.seed, splits=("val",))["val"]}

    return read


def yardstick_of(trunk_dir: Path, dataset: Dataset) -> dict:
    """A warm start's saved negatives and the restart period they were drawn with."""
    recorded_with = load_config(Path(trunk_dir) / CONFIG_FILE).train
    return {"negatives": common_negatives(trunk_dir, dataset),
            "restart_every": KINDS[recorded_with.negatives].restart_every(recorded_with)}


def common_auc(model: FFNet, template: NegativeGenerator, dataset: Dataset, trunk_dir: Path, streams: int,
               seed: int, splits: tuple[str, ...] = SPLITS) -> dict[str, float]:
    """split -> the goodness AUC of real windows against the warm start's saved negatives."""
    return scored(model, template, dataset, **yardstick_of(trunk_dir, dataset), streams=streams, seed=seed,
                  splits=splits)


@torch.no_grad()
def scored(model: FFNet, template: NegativeGenerator, dataset: Dataset, negatives: dict[str, torch.Tensor],
           restart_every: int, streams: int, seed: int, splits: tuple[str, ...]) -> dict[str, float]:
    """split -> the goodness AUC of real windows against saved negatives, replayed."""
    was_training = model.training
    model.eval()
    out = {}
    for split, recorded in negatives.items():
        if split not in splits:
            continue
        ids = getattr(dataset, split).to(model.device)
        replay = bank(Replaying, model, template, ids, streams, seed, recorded=recorded, restart_every=restart_every)
        out[split] = score_split(model, ids, streams, None, replay).diagnostics["goodness_auc"]
    model.train(was_training)
    return out
