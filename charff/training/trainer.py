"""The trainer: wires the collaborators, runs the phases step by step, evaluates on a fixed cadence
in characters, checkpoints, and resumes exactly.

One step advances `rows` (at most B) streams by one character. Wake steps raise goodness on real
windows and train the softmax readout; sleep steps lower goodness on negative windows; an
interleaved step does both in one batched forward pass (training/step.py is the step itself).
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from pathlib import Path

import torch

from charff.config import Config
from charff.data.dataset import Dataset
from charff.data.streams import Streams
from charff.errors import CharffError, Stopped
from charff.hooks.base import Hook
from charff.hooks.generated_text import GeneratedTextMonitor
from charff.model.network import FFNet
from charff.model.stream_state import RealStreams
from charff.rundir import CHECKPOINT_FILE, RunLock
from charff.schedule import Phase
from charff.training.auto_phases import replanned
from charff.training.checkpoint import save_checkpoint
from charff.training.fork import fork_payload
from charff.training.instruments import measure_gradients
from charff.training.learner import Learner
from charff.training.negatives import configured_negatives
from charff.training.step import Sides, train_step
from charff.training.validation import evaluate_run, sample_stats
from charff.training.yardstick import common_auc

FINITE_CHECK_STEPS = 64  # steps between two reads of whether the losses stayed finite
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# the trainer's counters, saved in and restored from every checkpoint
PROGRESS = ("chars", "phase_index", "phase_done", "next_eval", "last_eval_chars", "train_sums", "elapsed",
            "records_written")


class Interrupted(Stopped):
    """Training stopped on request (SIGINT or SIGTERM) after writing a checkpoint."""

    def __init__(self, chars: int, signum: int, run_dir: Path | None):
        super().__init__(f"stopped at {chars:,} characters, checkpoint saved; continue with: "
                         f"charff train --resume {run_dir}", signum)
        self.chars = chars


class Trainer:
    def __init__(self, config: Config, dataset: Dataset, run_dir: Path | None = None,
                 hooks: list[Hook] = (), lock: RunLock | None = None):
        t = config.train
        self.lock = lock  # held while this process writes run_dir (see charff/run.py)
        self.config, self.dataset = config, dataset
        self.hooks = [GeneratedTextMonitor(), *hooks]
        self.run_dir = Path(run_dir) if run_dir else None
        self.device = torch.device(t.device)
        torch.set_flush_denormal(t.flush_subnormals)  # before the first parallel work, see TrainConfig
        torch.set_float32_matmul_precision(t.matmul_precision)
        torch.manual_seed(t.seed)
        self.model = FFNet(config.model, dataset.vocab.size, local=t.learner_kind.local).to(self.device)
        self.learner = Learner(self.model, config)
        self.phases: list[Phase] = list(config.plan.phases)
        self.generator = torch.Generator(device=self.device).manual_seed(t.seed)
        self.stream_generator = torch.Generator().manual_seed(t.seed + 1)
        self.train_ids = dataset.train.to(self.device)
        self.val_ids = dataset.val.to(self.device)
        self.calibration_ids = dataset.calibration.to(self.device)
        # the real streams: where each reads the training text, and the model's state there
        self.real = RealStreams(self.model, Streams.spread(self.train_ids, t.streams, config.model.window,
                                                           self.stream_generator))
        self.negatives = configured_negatives(self.model, t, dataset.train, dataset.vocab, self.generator)
        # the training split's character counts: the reference for the KL of generated text
        self.reference = Counter(dataset.vocab.decode(dataset.train.tolist()))
        self.chars = self.phase_index = self.phase_done = 0
        self.next_eval = t.eval_every
        self.last_eval_chars = -1
        self.train_sums: dict[str, list[float]] = {}  # key -> [sum, count] since the last evaluation
        self.elapsed = 0.0
        self.records_written = 0
        self.stop_signal: int | None = None
        self.finite = torch.ones((), dtype=torch.bool, device=self.device)  # every loss since the last check
        self.steps_unchecked = 0
        if t.fork_from:
            payload = fork_payload(config, dataset.vocab)
            self.model.load_state_dict(payload["model"])
            self.learner.adopt(payload["learner"])
            self.load_stream_state(payload["trainer"])

    # -- one step ---------------------------------------------------------------------------
    def step(self, phase: Phase, rows: int) -> dict:
        sides = Sides.of(phase, self.learner.kind)
        try:
            stats = train_step(self.model, self.learner, self.negatives, self.real, sides, rows, self.chars)
        except RuntimeError:  # e.g. sampling from probabilities that a non-finite loss made nan
            self.check_finite(force=True)
            raise
        if "finite" in stats:  # a frozen step has no loss
            self.finite &= stats.pop("finite")
        self.steps_unchecked += 1
        if self.steps_unchecked >= FINITE_CHECK_STEPS:
            self.check_finite()
        return stats

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> list[dict]:
        """Run the remaining phases; returns the evaluation records written during this call."""
        records = []
        self.call("on_start")
        catch = threading.current_thread() is threading.main_thread()
        previous = {s: signal.signal(s, self.request_stop) for s in STOP_SIGNALS} if catch else {}
        try:
            # separated:auto plans its phases from a measurement, so the first plan waits for the
            # (possibly forked) model to exist; a resumed run keeps the plan its checkpoint holds
            if self.config.plan.auto and self.chars == 0 and self.phase_done == 0:
                self.replan()
            # phase_index and phase_done are checkpointed, so a resumed run re-enters the loop
            # mid-phase exactly where it stopped
            while self.phase_index < len(self.phases):
                phase = self.phases[self.phase_index]
                if self.phase_done == 0:
                    self.begin_phase(phase)
                while self.phase_done < phase.chars:
                    # a signal only sets a flag (request_stop); stopping here, between steps, means
                    # the checkpoint never holds a half-applied update
                    if self.stop_signal is not None:
                        self.save_checkpoint()
                        raise Interrupted(self.chars, self.stop_signal, self.run_dir)
                    # the last step of a phase may be partial, so a phase holds exactly its characters
                    rows = min(self.config.train.streams, phase.chars - self.phase_done)
                    started = time.perf_counter()
                    stats = self.step(phase, rows)
                    self.elapsed += time.perf_counter() - started  # training time, evaluations apart
                    self.chars += rows
                    self.phase_done += rows
                    self.accumulate(stats)
                    self.call("on_step", phase, rows, stats)
                    # a phase that ends with its own evaluation (eval_at_phase_ends) takes it after
                    # the flushed update below, not one step early
                    ends_with_eval = self.phase_done == phase.chars and self.phase_end(phase)
                    if self.chars >= self.next_eval and not ends_with_eval:
                        records.append(self.evaluate_and_save())
                self.learner.update(self.chars)  # a partial update now: no update mixes two phases
                if self.phase_end(phase) and self.last_eval_chars != self.chars:
                    records.append(self.evaluate_and_save(self.phase_end(phase)))
                self.call("on_phase_end", phase)
                if phase.sleep_only and self.config.plan.auto:
                    self.replan()  # separated:auto re-measures after every sleep phase
                self.phase_index += 1
                self.phase_done = 0
            # every run ends on an evaluation: the final numbers are the whole validation split's
            if self.last_eval_chars != self.chars:
                records.append(self.evaluate_and_save())
        except BaseException:
            self.release()  # stopped or failed: this trainer writes nothing more
            raise
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.call("on_end")
        return records

    def replan(self) -> None:
        """separated:auto: the phases after the current one (all of them before the first) follow
        the one-sided ratio measured now (training/auto_phases.py); a record says so."""
        ratio = measure_gradients(self.model, self.config.model, *self.measurement_batch())["one_sided_ratio"]
        first = self.phase_index + (1 if self.chars else 0)
        self.phases, chars = replanned(self.phases, first, ratio, self.config.train)
        self.emit({"kind": "replan", "chars": self.chars, "one_sided_ratio": ratio, "phase_chars": chars})

    def call(self, point: str, *args) -> None:
        for hook in self.hooks:
            getattr(hook, point)(self, *args)

    def begin_phase(self, phase: Phase) -> None:
        if self.config.train.reset_optimizer_each_phase and self.chars > 0:
            self.learner.reset_optimizer()
        self.call("on_phase_start", phase)

    def request_stop(self, signum: int = signal.SIGINT, _frame=None) -> None:
        """Stop before the next step, after a checkpoint (the signal handler for SIGINT and SIGTERM)."""
        self.stop_signal = signum

    def emit(self, record: dict) -> None:
        """Send one record to the metrics log (and any other hook that keeps records)."""
        self.records_written += 1
        self.call("on_record", record)

    def check_finite(self, force: bool = False) -> None:
        """Stop, keeping the last checkpoint, if a loss since the last check was nan or inf. Read
        every FINITE_CHECK_STEPS steps and before every evaluation, not at every step: reading a
        device value on the host makes a GPU wait for all queued work."""
        self.steps_unchecked = 0
        if bool(self.finite) and not (force and any(not torch.isfinite(p).all() for p in self.model.parameters())):
            return
        kept = (f"its checkpoint at {self.last_eval_chars:,} characters is kept" if self.last_eval_chars >= 0
                else "before its first checkpoint")
        raise CharffError(f"the loss became nan or inf by {self.chars:,} characters; the run stopped, {kept}; "
                          "lower train.lr or change the loss and start a new run")

    def accumulate(self, stats: dict) -> None:
        """Sum each scalar of the step since the last evaluation, on the device (in float64, the
        precision the sums were always taken in); the characters generated are the hooks' business."""
        for key, value in stats.items():
            if key == "generated":
                continue
            entry = self.train_sums.setdefault(key, [0.0, 0])
            entry[0] = entry[0] + (value.double() if torch.is_tensor(value) else value)
            entry[1] += 1

    def phase_end(self, phase: Phase) -> str | None:
        """The kind of phase whose end gets its own evaluation (train.eval_at_phase_ends), else None."""
        return phase.kind if self.config.train.eval_at_phase_ends and phase.one_sided else None

    def current_phase(self) -> Phase:
        return self.phases[min(self.phase_index, len(self.phases) - 1)]

    def evaluate_and_save(self, phase_end: str | None = None) -> dict:
        t = self.config.train
        self.check_finite()
        self.model.eval()
        record = {"kind": "eval", "chars": self.chars, "phase": self.current_phase().kind,
                  "phase_index": self.phase_index, "phase_end": phase_end, "seconds": round(self.elapsed, 3)}
        if t.measure_gradients and t.learner_kind.ff:
            started = time.perf_counter()
            record.update(measure_gradients(self.model, self.config.model, *self.measurement_batch()))
            record["instrument_seconds"] = round(time.perf_counter() - started, 3)
        final = self.chars >= t.chars  # the last evaluation scores the goodness readout on every character
        evaluation = evaluate_run(self.model, t, self.val_ids, self.calibration_ids, self.negatives,
                                  0 if final else t.eval_goodness_chars)
        # from here on sampling, and negatives drawn from a calibrated readout, use the new fit
        self.model.calibrate(evaluation.calibration)
        record.update(evaluation.record)
        if t.fork_from and t.learner_kind.ff:  # the fork's common yardstick at every read point
            record["goodness_auc_common"] = common_auc(self.model, self.negatives, self.dataset, Path(t.fork_from),
                                                       t.eval_streams, t.seed, splits=("val",))["val"]
        record.update({f"train_{key}": float(total) / count for key, (total, count) in self.train_sums.items()})
        self.call("add_to_eval", record)
        record.update(sample_stats(self.model, self.val_ids, self.dataset.vocab, self.reference, t.seed))
        self.model.train()
        self.train_sums = {}
        while self.next_eval <= self.chars:
            self.next_eval += t.eval_every
        self.last_eval_chars = self.chars
        self.emit(record)
        self.call("on_eval", record)
        self.save_checkpoint()
        return record

    def measurement_batch(self) -> tuple[tuple, tuple]:
        """The next training batch, its negatives drawn aside with a random stream of their own."""
        real_windows = self.real.batch()[0]
        generator = torch.Generator(device=self.device).manual_seed(self.config.train.seed + self.chars)
        return (real_windows, self.real.state), self.negatives.propose_aside(self.real, real_windows[:, -1],
                                                                            self.config.train.streams, generator)

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "vocab": self.dataset.vocab.to_dict(),
            "corpus": {"name": self.dataset.corpus.name, "source": self.dataset.corpus.source},
            "model": self.model.state_dict(),
            "learner": self.learner.state_dict(),
            "trainer": {
                **{name: getattr(self, name) for name in PROGRESS},
                "train_sums": {key: [float(total), count] for key, (total, count) in self.train_sums.items()},
                "phases": [[p.kind, p.chars] for p in self.phases],
                **self.real.state_dict(),
                "negatives": self.negatives.state_dict(),
                "generator": self.generator.get_state(),
                "stream_generator": self.stream_generator.get_state(),
            },
            "hooks": {h.state_key: h.state_dict() for h in self.hooks if h.state_key},
        }

    def load_state_dict(self, payload: dict) -> None:
        self.model.load_state_dict(payload["model"])
        self.learner.load_state_dict(payload["learner"])
        t = payload["trainer"]
        for name in PROGRESS:
            setattr(self, name, t[name])
        if "phases" in t:  # separated:auto plans its phases as it goes
            self.phases = [Phase(kind, chars) for kind, chars in t["phases"]]
        self.load_stream_state(t)
        for hook in self.hooks:
            if hook.state_key in payload["hooks"]:
                hook.load_state_dict(payload["hooks"][hook.state_key])

    def load_stream_state(self, t: dict) -> None:
        """Where the streams, the negative generators and the random streams stand."""
        self.real.load_state_dict(t)
        self.negatives.load_state_dict(t["negatives"])
        try:
            self.generator.set_state(t["generator"])
        except RuntimeError:  # saved on another kind of device: its RNG state does not transfer
            self.generator.manual_seed(self.config.train.seed + self.chars)
        self.stream_generator.set_state(t["stream_generator"])

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def save_checkpoint(self) -> None:
        if self.run_dir is not None:
            save_checkpoint(self.state_dict(), self.run_dir / CHECKPOINT_FILE)
