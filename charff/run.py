"""Train one run end to end: run directory, trainer, hooks, then summary and samples."""

from __future__ import annotations

from pathlib import Path

import torch

from charff.checkpoint import load_checkpoint
from charff.collapse import detect_collapse
from charff.config import Config, config_from_dict
from charff.data import Dataset, prepare
from charff.errors import CharffError
from charff.hooks import Hook, MetricsLog, read_metrics, truncate_metrics
from charff.model import FFNet
from charff.ngram import ngram_baselines
from charff.rundir import SAMPLES_FILE, SUMMARY_FILE, create_run_dir, write_json
from charff.sampling import generate
from charff.trainer import Trainer
from charff.vocab import Vocabulary


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
    trainer = Trainer(config, dataset, Path(run_dir), [MetricsLog(run_dir), *hooks])
    trainer.load_state_dict(payload)
    truncate_metrics(run_dir, trainer.records_written)
    return trainer


def load_model(run_dir: Path) -> tuple[FFNet, Vocabulary, dict]:
    payload = load_checkpoint(run_dir)
    config = config_from_dict(payload["config"])
    vocab = Vocabulary.from_dict(payload["vocab"])
    model = FFNet(config.model, vocab.size)
    model.load_state_dict(payload["model"])
    model.eval()
    return model, vocab, payload


def summarise(trainer: Trainer) -> dict:
    """Final and best validation numbers beside the n-gram yardsticks of the same split."""
    log = read_metrics(trainer.run_dir, kind=None)
    records = [r for r in log if r.get("kind", "eval") == "eval"]
    final = records[-1]
    best = max(records, key=lambda r: r["softmax_acc"])
    data = trainer.dataset
    baselines = ngram_baselines(data.train.tolist(), data.val.tolist(), data.vocab.size, orders=(1, 2, 3, 4))
    collapse = detect_collapse(log, baselines[0].accuracy)
    return {
        "corpus": {"name": data.corpus.name, "source": data.corpus.source,
                   "alphabet": data.vocab.alphabet, "train_chars": len(data.train), "val_chars": len(data.val)},
        "chars": trainer.chars,
        "seconds": trainer.elapsed,
        "chars_per_second": trainer.chars / trainer.elapsed if trainer.elapsed else None,
        "final": {k: final[k] for k in ("softmax_acc", "softmax_bpc", "goodness_acc", "goodness_bpc")},
        "best_softmax_acc": best["softmax_acc"],
        "best_softmax_at": best["chars"],
        "collapse": collapse.to_dict(),
        "ngram": {f"{b.order}-gram": {"acc": b.accuracy, "bpc": b.bits_per_char} for b in baselines},
    }


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
    (trainer.run_dir / SAMPLES_FILE).write_text(text, encoding="utf-8")
    return text


def finish_run(trainer: Trainer) -> dict:
    summary = summarise(trainer)
    write_json(trainer.run_dir / SUMMARY_FILE, summary)
    write_samples(trainer)
    return summary
