"""A run's state: everything a checkpoint must hold for a run to continue exactly, and the step
and evaluation that change it. The trainer (training/trainer.py) is only the loop around it.

Built from a config and a dataset: torch's global settings for the run, the model, the learner,
the real streams, the negatives, the random streams and the counters; a fork adopts its warm
start here (train.fork_from), a resume loads a checkpoint here (load_state_dict).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import torch

from charff.config import Config, TrainConfig
from charff.data.dataset import Dataset
from charff.data.streams import Streams
from charff.errors import CharffError
from charff.model.network import FFNet
from charff.model.stream_state import RealStreams
from charff.schedule import Phase
from charff.training.fork import fork_payload
from charff.training.instruments import measure_gradients
from charff.training.learner import Learner
from charff.training.negatives import configured_negatives
from charff.training.step import Sides, train_step
from charff.training.validation import evaluate_run, sample_stats

FINITE_CHECK_STEPS = 64  # steps between two reads of whether the losses stayed finite
# the counters, saved in and restored from every checkpoint
PROGRESS = ("chars", "phase_index", "phase_done", "next_eval", "last_eval_chars", "train_sums", "elapsed",
            "records_written")


def set_torch_globals(train: TrainConfig) -> None:
    """torch's process-wide settings for a run, set where its state is built (before any parallel
    work, see TrainConfig.flush_subnormals), and the seed its weights are drawn from."""
    torch.set_flush_denormal(train.flush_subnormals)
    torch.set_float32_matmul_precision(train.matmul_precision)
    torch.manual_seed(train.seed)


class RunState:
    def __init__(self, config: Config, dataset: Dataset, global_settings: bool = True):
        """global_settings: set torch's process-wide settings and seed for this run (False for a
        state built beside a running one, such as a warm start read back for its yardstick)."""
        t = config.train
        if global_settings:
            set_torch_globals(t)
        self.config, self.dataset = config, dataset
        self.device = torch.device(t.device)
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
        self.train_sums: dict[str, list] = {}  # key -> [sum, count] since the last evaluation
        self.elapsed = 0.0
        self.records_written = 0
        self.finite = torch.ones((), dtype=torch.bool, device=self.device)  # every loss since the last check
        self.steps_unchecked = 0
        if t.fork_from:
            payload = fork_payload(config, dataset.vocab)
            self.model.load_state_dict(payload["model"])
            self.learner.adopt(payload["learner"])
            self.load_streams(payload["trainer"])

    def current_phase(self) -> Phase:
        return self.phases[min(self.phase_index, len(self.phases) - 1)]

    # -- one step ---------------------------------------------------------------------------
    def step(self, phase: Phase, rows: int) -> dict:
        """One training step of `rows` streams (training/step.py), its scalars summed on the device."""
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

    def check_finite(self, force: bool = False) -> None:
        """Stop, keeping the last checkpoint, if a loss since the last check was nan or inf. Read
        every few steps and before every evaluation, not at every step: reading a device value on
        the host makes a GPU wait for all queued work."""
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

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self, phase_end: str | None, extra: Callable[[RunState], dict] | None = None) -> dict:
        """An evaluation record: the readouts on validation (calibrated on the calibration slice,
        the fit then kept for sampling and negatives), what `extra` reads from the state then (a
        fork's common yardstick), the gradient instruments when asked, and the training sums since
        the last one (which restart)."""
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
        if extra is not None:
            record.update(extra(self))
        record.update({f"train_{key}": float(total) / count for key, (total, count) in self.train_sums.items()})
        self.train_sums = {}
        self.model.train()
        return record

    def sample_record(self) -> dict:
        """Statistics of fresh samples after a validation prompt (the model in eval mode meanwhile)."""
        self.model.eval()
        try:
            return sample_stats(self.model, self.val_ids, self.dataset.vocab, self.reference, self.config.train.seed)
        finally:
            self.model.train()

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
        }

    def load_state_dict(self, payload: dict) -> None:
        self.model.load_state_dict(payload["model"])
        self.learner.load_state_dict(payload["learner"])
        t = payload["trainer"]
        for name in PROGRESS:
            setattr(self, name, t[name])
        if "phases" in t:  # separated:auto plans its phases as it goes
            self.phases = [Phase(kind, chars) for kind, chars in t["phases"]]
        self.load_streams(t)

    def load_streams(self, t: dict) -> None:
        """Where the streams, the negative generators and the random streams stand."""
        self.real.load_state_dict(t)
        self.negatives.load_state_dict(t["negatives"])
        try:
            self.generator.set_state(t["generator"])
        except RuntimeError:  # saved on another kind of device: its RNG state does not transfer
            self.generator.manual_seed(self.config.train.seed + self.chars)
        self.stream_generator.set_state(t["stream_generator"])
