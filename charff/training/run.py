"""One run end to end: run directory, trainer and hooks, then summary and samples.

Everything that starts, resumes or finishes a run (train, sweeps, tests) goes through here.
"""

from __future__ import annotations

from pathlib import Path

import torch

from charff.analysis.results import read_records
from charff.analysis.summary import summarise
from charff.config import Config, config_from_dict
from charff.data.dataset import Dataset, prepare
from charff.data.vocab import Vocabulary
from charff.errors import CharffError
from charff.hooks.base import Hook
from charff.hooks.metrics_log import MetricsLog
from charff.model.network import FFNet
from charff.model.sampling import generate
from charff.rundir import SAMPLES_FILE, SUMMARY_FILE, create_run_dir
from charff.storage import write_json, write_text_atomic
from charff.training.checkpoint import load_checkpoint
from charff.training.trainer import Trainer


def prepare_for(config: Config) -> Dataset:
    c = config.corpus
    return prepare(c.name, c.alphabet, c.val_fraction, config.model.window)


def start_run(config: Config, run_dir: Path, hooks: list[Hook] = (), dataset: Dataset | None = None) -> Trainer:
    dataset = dataset or prepare_for(config)
    run_dir = create_run_dir(run_dir, config.to_dict())
    return Trainer(config, dataset, run_dir, [MetricsLog(run_dir), *hooks])


def resume_run(run_dir: Path, hooks: list[Hook] = ()) -> Trainer:
    payload = load_checkpoint(run_dir)
    config = config_from_dict(payload["config"])
    dataset = prepare_for(config)
    if dataset.vocab != Vocabulary.from_dict(payload["vocab"]):
        raise CharffError(f"the corpus behind {run_dir} changed since it was trained; restore it or retrain")
    log = MetricsLog(run_dir)
    trainer = Trainer(config, dataset, Path(run_dir), [log, *hooks])
    trainer.load_state_dict(payload)
    log.truncate(trainer.records_written)
    return trainer


def load_model(run_dir: Path) -> tuple[FFNet, Vocabulary, dict]:
    payload = load_checkpoint(run_dir)
    config = config_from_dict(payload["config"])
    vocab = Vocabulary.from_dict(payload["vocab"])
    model = FFNet(config.model, vocab.size)
    model.load_state_dict(payload["model"])
    model.eval()
    return model, vocab, payload


def write_samples(trainer: Trainer, count: int = 3, length: int = 200) -> str:
    """A few continuations of a validation prompt from each readout, saved beside the run."""
    model, vocab, window = trainer.model, trainer.dataset.vocab, trainer.config.model.window
    prompt = trainer.dataset.val[: 4 * window].to(trainer.device)
    generator = torch.Generator(device=trainer.device).manual_seed(trainer.config.train.seed)
    lines = [f"prompt: {vocab.decode(prompt)!r}"]
    model.eval()
    for readout in ("softmax", "goodness"):
        out = generate(model, prompt, count, length, generator, readout=readout)
        lines += [f"[{readout}] {vocab.decode(row)}" for row in out]
    model.train()
    text = "\n".join(lines) + "\n"
    write_text_atomic(trainer.run_dir / SAMPLES_FILE, text)
    return text


def finish_run(trainer: Trainer) -> dict:
    summary = summarise(read_records(trainer.run_dir), trainer.dataset, trainer.chars, trainer.elapsed)
    write_json(trainer.run_dir / SUMMARY_FILE, summary)
    write_samples(trainer)
    return summary
