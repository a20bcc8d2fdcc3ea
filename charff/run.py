"""One run end to end: run directory, trainer and hooks, then summary and samples.

Everything that starts, resumes or finishes a run (train, sweeps, tests) goes through here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from charff.analysis.results import read_records
from charff.analysis.summary import summarise
from charff.config import Config, config_from_dict, read_toml
from charff.data.dataset import Dataset, prepare
from charff.data.vocab import Vocabulary
from charff.errors import CharffError
from charff.hooks.base import Hook
from charff.hooks.metrics_log import MetricsLog
from charff.model.network import FFNet
from charff.model.readouts import READOUT_KINDS, readouts_for
from charff.model.sampling import generate
from charff.rundir import (
    CALIBRATION_FILE,
    CHECKPOINT_FILE,
    CONFIG_FILE,
    EVALUATION_FILE,
    SAMPLES_FILE,
    SUMMARY_FILE,
    RunLock,
    holds_run,
    is_finished,
    write_config,
)
from charff.storage import write_json, write_text_atomic
from charff.threads import ThreadGovernor
from charff.training.checkpoint import load_checkpoint, save_checkpoint
from charff.training.negatives import NegativeGenerator, configured_negatives
from charff.training.optim import granularity
from charff.training.trainer import Trainer
from charff.training.validation import evaluate_run
from charff.training.yardstick import common_auc

SAMPLE_COUNT, SAMPLE_LENGTH = 16, 250  # samples.txt: continuations per readout (three printed), characters each
COMMON_SYMBOLS = 30  # samples' rare characters: those outside the corpus's 30 most frequent


def prepare_for(config: Config) -> Dataset:
    c = config.corpus
    return prepare(c.name, c.alphabet, c.val_fraction, config.model.window,
                   calibration_fraction=c.calibration_fraction, test_fraction=c.test_fraction)


def build_trainer(config: Config, dataset: Dataset, run_dir: Path, log: MetricsLog, hooks: list[Hook],
                  lock: RunLock) -> Trainer:
    """A run's trainer with the hooks every run has: its metrics log and the thread policy."""
    return Trainer(config, dataset, Path(run_dir), [log, ThreadGovernor(), *hooks], lock)


def start_run(config: Config, run_dir: Path, hooks: list[Hook] = (), dataset: Dataset | None = None) -> Trainer:
    """A new run in run_dir; if run_dir holds an unfinished run of the same config (one killed at
    any moment, even before its first checkpoint) it is continued instead. A config refused for
    any reason (its schedule, its fork) leaves nothing behind, so the corrected command can use
    the same run_dir."""
    created = not Path(run_dir).exists()
    lock = RunLock(run_dir)
    try:
        if holds_run(run_dir):
            if is_finished(run_dir):
                raise CharffError(f"{run_dir} already holds a finished run; pick another --out")
            saved = read_toml(Path(run_dir) / CONFIG_FILE, "config file", "pick another --out")
            if config_from_dict(saved).to_dict() != config.to_dict():
                raise CharffError(f"{run_dir} already holds a run with another config; continue it with "
                                  f"--resume {run_dir} or pick another --out")
            return continue_run(run_dir, hooks, lock)
        dataset = dataset or prepare_for(config)
        trainer = build_trainer(config, dataset, run_dir, MetricsLog(run_dir), hooks, lock)
        write_config(run_dir, config.to_dict())  # only once the trainer has accepted the config
        return trainer
    except BaseException:
        lock.release()
        if created:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def resume_run(run_dir: Path, hooks: list[Hook] = (), device: str | None = None) -> Trainer:
    """Continue the run in run_dir exactly where its last checkpoint left it (from the start when
    it was stopped before its first checkpoint), on `device` when given (a run checkpointed on
    CUDA continues on the CPU; the sampler's random stream is then reseeded, see Trainer)."""
    if not holds_run(run_dir):
        raise CharffError(f"no run at {run_dir}; start one with `charff train --out {run_dir}`")
    if is_finished(run_dir):
        raise CharffError(f"{run_dir} has finished; there is nothing to resume")
    lock = RunLock(run_dir)
    try:
        return continue_run(run_dir, hooks, lock, device)
    except BaseException:
        lock.release()
        raise


def on_device(tree: dict, device: str | None) -> Config:
    """A saved config, moved to another device when one is given."""
    if device is not None:
        tree = {**tree, "train": {**tree["train"], "device": device}}
    return config_from_dict(tree)


def continue_run(run_dir: Path, hooks: list[Hook], lock: RunLock, device: str | None = None) -> Trainer:
    log = MetricsLog(run_dir)
    if not (Path(run_dir) / CHECKPOINT_FILE).exists():  # killed before its first checkpoint
        config = on_device(read_toml(Path(run_dir) / CONFIG_FILE, "config file", "retrain"), device)
        log.truncate(0)
        return build_trainer(config, prepare_for(config), run_dir, log, hooks, lock)
    payload = load_checkpoint(run_dir)
    config = on_device(payload["config"], device)
    dataset = prepare_for(config)
    if dataset.vocab != Vocabulary.from_dict(payload["vocab"]):
        raise CharffError(f"the corpus behind {run_dir} changed since it was trained; restore it or retrain")
    trainer = build_trainer(config, dataset, run_dir, log, hooks, lock)
    trainer.load_state_dict(payload)
    log.truncate(trainer.records_written)
    return trainer


def load_model(run_dir: Path) -> tuple[FFNet, Vocabulary, dict]:
    payload = load_checkpoint(run_dir)
    config = config_from_dict(payload["config"])
    vocab = Vocabulary.from_dict(payload["vocab"])
    model = FFNet(config.model, vocab.size)
    model.load_state_dict(payload["model"])
    calibration = Path(run_dir) / CALIBRATION_FILE
    if calibration.is_file():  # `charff evaluate` calibrated the readouts anew; the checkpoint is as trained
        for buffer, value in torch.load(calibration, weights_only=True).items():
            getattr(model, buffer).copy_(value)
    model.eval()
    return model, vocab, payload


def rescore_run(run_dir: Path) -> dict:
    """Scores a finished run's checkpoint with this version's evaluation (every readout calibrated
    anew, the whole validation split and the test split), so runs trained before a readout existed
    gain it without retraining. The checkpoint stays as trained; the new calibration is written
    beside it (calibration.pt), where sampling finds it."""
    run_dir = Path(run_dir)
    if not is_finished(run_dir):
        raise CharffError(f"{run_dir} is not a finished run; finish it first with `charff train --resume {run_dir}`")
    model, vocab, payload = load_model(run_dir)
    config = config_from_dict(payload["config"])
    dataset = prepare_for(config)
    if dataset.vocab != vocab:
        raise CharffError(f"the corpus behind {run_dir} changed since it was trained; restore it to evaluate")
    negatives = configured_negatives(model, config.train, dataset.train, dataset.vocab, torch.Generator())
    evaluation = evaluate_run(model, config.train, dataset.val, dataset.calibration, negatives)
    model.calibrate(evaluation.calibration)
    record = {"chars": payload["trainer"]["chars"], **evaluation.record}
    test = test_scores(model, dataset, config, negatives)
    if test is not None:
        record["test"] = test
    save_checkpoint(calibration_buffers(model, evaluation.calibration), run_dir / CALIBRATION_FILE)
    write_json(run_dir / EVALUATION_FILE, record)
    return record


def calibration_buffers(model: FFNet, calibration: dict) -> dict[str, torch.Tensor]:
    """The model buffers that hold the fitted readouts' calibration, by buffer name: what
    calibration.pt keeps."""
    return {READOUT_KINDS[name].buffer: getattr(model, READOUT_KINDS[name].buffer) for name in calibration}


def training_text_of(config: Config) -> str | None:
    """The run's cleaned training split, or None when its corpus cannot be loaded here."""
    try:
        dataset = prepare_for(config)
    except CharffError:
        return None
    return dataset.vocab.decode(dataset.train)


def write_samples(trainer: Trainer, count: int = SAMPLE_COUNT, length: int = SAMPLE_LENGTH) -> dict:
    """Continuations of a validation prompt from each readout, saved beside the run (the first
    three printed), and the share of characters outside the corpus's 30 most frequent."""
    model, vocab = trainer.model, trainer.dataset.vocab
    prompt = trainer.dataset.val[: 4 * trainer.config.model.window].to(trainer.device)
    generator = torch.Generator(device=trainer.device).manual_seed(trainer.config.train.seed)
    frequent = {c for c, _ in trainer.reference.most_common(COMMON_SYMBOLS)}
    corpus_share = 1 - sum(trainer.reference[c] for c in frequent) / sum(trainer.reference.values())
    lines, shares = [f"prompt: {vocab.decode(prompt)!r}"], {"corpus": corpus_share}
    model.eval()
    for readout in readouts_for(trainer.config.train.learner_kind):
        out = generate(model, prompt, count, length, generator, readout=readout, never=vocab.unknown_id)
        texts = [vocab.decode(row) for row in out]
        shares[readout] = sum(c not in frequent for text in texts for c in text) / (count * length)
        lines += [f"[{readout}] {text}" for text in texts[:3]]
    model.train()
    lines.append(f"share of characters outside the corpus's {COMMON_SYMBOLS} most frequent: "
                 + ", ".join(f"{name} {share:.2%}" for name, share in shares.items()))
    write_text_atomic(trainer.run_dir / SAMPLES_FILE, "\n".join(lines) + "\n")
    return {"rare_share": shares, "chars": count * length}


def test_scores(model: FFNet, dataset: Dataset, config: Config, negatives: NegativeGenerator) -> dict | None:
    """Every readout on the test split, calibrated as at every evaluation; None without a test split."""
    if not len(dataset.test):
        return None
    return evaluate_run(model, config.train, dataset.test, dataset.calibration, negatives).record


def finish_run(trainer: Trainer) -> dict:
    """summary.json and samples.txt; summary.json last, since its presence marks the run finished."""
    updates = {**granularity(trainer.config), "updates": trainer.learner.updates}
    test = test_scores(trainer.model, trainer.dataset, trainer.config, trainer.negatives)
    summary = summarise(read_records(trainer.run_dir), trainer.dataset, trainer.chars, trainer.elapsed, updates, test)
    t = trainer.config.train
    if t.fork_from and t.learner_kind.ff:  # every arm of a fork against the same negatives
        summary["common_auc"] = common_auc(trainer.model, trainer.negatives, trainer.dataset, Path(t.fork_from),
                                           t.eval_streams, t.seed)
    summary["samples"] = write_samples(trainer)
    write_json(trainer.run_dir / SUMMARY_FILE, summary)
    trainer.release()
    return summary
