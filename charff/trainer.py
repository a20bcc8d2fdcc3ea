"""The trainer: runs a list of phases, step by step, with local FF updates and exact resume.

One step advances `rows` (at most B) streams by one character. Wake steps raise goodness on real
windows and train the softmax readout; sleep steps lower goodness on negative windows; an
interleaved step does both in one batched forward pass.
"""

from __future__ import annotations

import math
import signal
import time
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F

from charff.checkpoint import save_atomic
from charff.config import Config
from charff.data import Dataset
from charff.evaluate import evaluate
from charff.hooks import Hook
from charff.model import FFNet
from charff.negatives import NegativeGenerator, RealContext
from charff.objectives import goodness, layer_loss
from charff.sampling import generate
from charff.schedule import Phase, schedule_of
from charff.streams import Streams
from charff.textstats import text_stats

GENERATED_KEPT = 2_000  # generated characters kept per stream for the text statistics
SAMPLE_STREAMS, SAMPLE_CHARS = 16, 100  # samples drawn at every evaluation


class Interrupted(Exception):
    """Training stopped on request after writing a checkpoint."""


def build_optimizer(model: FFNet, config: Config) -> torch.optim.Optimizer:
    t = config.train
    groups = [
        {"params": [p for layer in model.layers for p in layer.parameters()], "lr": t.lr},
        {"params": list(model.readout.parameters()), "lr": t.readout_lr},
    ]
    if t.optimizer == "sgd":
        return torch.optim.SGD(groups, momentum=t.momentum, weight_decay=t.weight_decay)
    return torch.optim.Adam(groups, betas=(t.momentum, 0.999), weight_decay=t.weight_decay)


class Trainer:
    def __init__(self, config: Config, dataset: Dataset, run_dir: Path | None = None,
                 hooks: list[Hook] = ()):
        t = config.train
        self.config, self.dataset, self.hooks = config, dataset, list(hooks)
        self.run_dir = Path(run_dir) if run_dir else None
        self.device = torch.device(t.device)
        torch.manual_seed(t.seed)
        self.model = FFNet(config.model, dataset.vocab.size, local=t.learner != "backprop").to(self.device)
        if t.learner == "frozen_random":
            self.model.layers.requires_grad_(False)
        self.optimizer = build_optimizer(self.model, config)
        self.phases: list[Phase] = schedule_of(config)
        self.generator = torch.Generator(device=self.device).manual_seed(t.seed)
        self.stream_generator = torch.Generator().manual_seed(t.seed + 1)
        self.train_ids = dataset.train.to(self.device)
        self.val_ids = dataset.val.to(self.device)
        self.streams = Streams(self.train_ids, t.streams, config.model.window, self.stream_generator)
        self.state = self.model.initial_state(t.streams, self.device)
        self.logits = torch.zeros(t.streams, dataset.vocab.size, device=self.device)
        self.negatives = NegativeGenerator(self.model, t.negatives, t.streams, t.rollout_restart,
                                           t.negative_readout, t.negative_temperature,
                                           t.negative_top_k, self.generator)
        self.chars = 0
        self.phase_index = 0
        self.phase_done = 0
        self.next_eval = t.eval_every
        self.last_eval_chars = -1
        self.train_sums: dict[str, list[float]] = {}  # key -> [sum, count] since the last evaluation
        self.elapsed = 0.0
        self.stop_requested = False
        self.records_written = 0
        self.generated: list[list[int]] = [[] for _ in range(t.streams)]  # sleep text, per stream
        # the training split's character counts, the reference for the KL of generated text
        self.reference = Counter(dataset.vocab.decode(dataset.train.tolist()))

    # -- one step ---------------------------------------------------------------------------
    def forward(self, real: tuple, negative: tuple | None, wake: bool) -> tuple[list, list]:
        """Activities of real and negative windows: one batched pass when both are updated;
        in a sleep step the real streams only advance, so they run without autograd."""
        if negative is None:
            return self.model(*real), []
        if not wake:
            with torch.no_grad():
                real_activities = self.model(*real)
            return real_activities, self.model(*negative)
        rows = real[0].shape[0]
        joined = [torch.cat(parts) for parts in zip(real[1], negative[1], strict=True)]
        activities = self.model(torch.cat([real[0], negative[0]]), joined)
        return [a[:rows] for a in activities], [a[rows:] for a in activities]

    def step(self, phase: Phase, rows: int) -> dict:
        """One step; the yardstick learners train only the readout loss on real text."""
        model, m = self.model, self.config.model
        ff = self.config.train.learner == "ff"
        wake, sleep = phase.wake or not ff, phase.sleep and ff
        real_windows = self.streams.windows()
        negative = None
        if sleep:
            context = RealContext(self.streams.windows(-1), self.state, self.logits, real_windows[:, -1])
            negative = self.negatives.propose(context, rows)
        real_activities, negative_activities = self.forward(
            (real_windows[:rows], [s[:rows] for s in self.state]), negative, wake)
        good_pos = [goodness(a) for a in real_activities]
        good_neg = [goodness(a) for a in negative_activities]
        nothing = good_pos[0][:0]
        if ff:
            losses = [layer_loss(good_pos[i] if wake else nothing, good_neg[i] if sleep else nothing,
                                 m.loss, m.threshold, m.symba_alpha) for i in range(len(good_pos))]
        else:
            losses = [nothing.sum() for _ in good_pos]
        logits = model.readout_logits(real_activities)
        targets = self.streams.next_chars()[:rows]
        readout_loss = F.cross_entropy(logits, targets)
        total = torch.stack(losses).sum() + (readout_loss if wake else 0.0)
        self.set_learning_rates()
        self.optimizer.zero_grad(set_to_none=True)
        if total.requires_grad:
            total.backward()
        self.optimizer.step()

        with torch.no_grad():
            for kept, new in zip(self.state, model.next_state(real_activities), strict=True):
                kept[:rows] = new
            self.logits[:rows] = logits.detach()
            if sleep:
                self.negatives.observe(negative[0], negative_activities)
                if self.config.train.negatives == "self_generated":
                    self.keep_generated(self.negatives.last_generated)
            restarted = self.streams.advance(rows).to(self.device)
            for kept in self.state:
                kept[restarted] = 0.0
            self.logits[restarted] = 0.0
        stats = {"positive_rows": rows if wake else 0, "negative_rows": rows if sleep else 0,
                 "readout_loss": readout_loss.detach(),
                 "acc": (logits.argmax(-1) == targets).float().mean()}
        for i, loss in enumerate(losses):
            stats[f"loss/{i}"] = loss.detach()
            stats[f"good_pos/{i}"] = good_pos[i].detach().mean()
            if sleep:
                stats[f"good_neg/{i}"] = good_neg[i].detach().mean()
        return stats

    def set_learning_rates(self) -> None:
        t = self.config.train
        scale = 1.0
        if t.lr_decay == "cosine":
            progress = min(1.0, self.chars / t.chars)
            scale = t.lr_final_fraction + (1 - t.lr_final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))
        for group, base in zip(self.optimizer.param_groups, (t.lr, t.readout_lr), strict=True):
            group["lr"] = base * scale

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> list[dict]:
        """Run the remaining phases; returns the evaluation records written during this call."""
        records = []
        for hook in self.hooks:
            hook.on_start(self)
        previous = signal.signal(signal.SIGINT, self.request_stop) if self.can_catch_signals() else None
        try:
            while self.phase_index < len(self.phases):
                phase = self.phases[self.phase_index]
                if self.phase_done == 0:
                    self.begin_phase(phase)
                while self.phase_done < phase.chars:
                    if self.stop_requested:
                        self.save_checkpoint()
                        raise Interrupted(f"stopped at {self.chars} characters")
                    started = time.perf_counter()
                    rows = min(self.config.train.streams, phase.chars - self.phase_done)
                    stats = self.step(phase, rows)
                    self.elapsed += time.perf_counter() - started
                    self.chars += rows
                    self.phase_done += rows
                    self.accumulate(stats)
                    for hook in self.hooks:
                        hook.on_step(self, phase, rows, stats)
                    if self.chars >= self.next_eval:
                        records.append(self.evaluate_and_save())
                self.end_phase(phase)
                self.phase_index += 1
                self.phase_done = 0
            if self.last_eval_chars != self.chars:
                records.append(self.evaluate_and_save())
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        for hook in self.hooks:
            hook.on_end(self)
        return records

    def begin_phase(self, phase: Phase) -> None:
        if self.config.train.reset_optimizer_each_phase and self.chars > 0:
            self.optimizer = build_optimizer(self.model, self.config)
        self.generated = [[] for _ in self.generated]
        for hook in self.hooks:
            hook.on_phase_start(self, phase)

    @staticmethod
    def can_catch_signals() -> bool:
        import threading

        return threading.current_thread() is threading.main_thread()

    def request_stop(self, *_args) -> None:
        self.stop_requested = True

    def keep_generated(self, chars: torch.Tensor) -> None:
        for kept, char in zip(self.generated, chars.tolist(), strict=False):
            if len(kept) < GENERATED_KEPT:
                kept.append(char)

    def generated_stats(self) -> dict:
        """Summarise (and clear) the self-generated text kept since the phase or evaluation began."""
        decode = self.dataset.vocab.decode
        texts = [decode(ids) for ids in self.generated if ids]
        self.generated = [[] for _ in self.generated]
        return text_stats(texts, self.reference)

    @torch.no_grad()
    def sample_stats(self) -> dict:
        """Statistics of fresh samples from the softmax readout after a validation prompt: the
        evaluation-time view of degenerate generation (runs of spaces and the like)."""
        window = self.config.model.window
        generator = torch.Generator(device=self.device).manual_seed(self.config.train.seed)
        out = generate(self.model, self.val_ids[: 2 * window], SAMPLE_STREAMS, SAMPLE_CHARS, generator)
        texts = [self.dataset.vocab.decode(row) for row in out]
        return text_stats(texts, self.reference, prefix="sample_")

    def end_phase(self, phase: Phase) -> None:
        if phase.kind == "sleep" and any(self.generated):
            self.emit({"kind": "sleep", "chars": self.chars, "phase_index": self.phase_index,
                       "phase_chars": phase.chars, **self.generated_stats()})

    def emit(self, record: dict) -> None:
        self.records_written += 1
        for hook in self.hooks:
            hook.on_record(self, record)

    def accumulate(self, stats: dict) -> None:
        for key, value in stats.items():
            entry = self.train_sums.setdefault(key, [0.0, 0])
            entry[0] += float(value)
            entry[1] += 1

    def train_means(self) -> dict:
        return {f"train_{key}": total / count for key, (total, count) in self.train_sums.items()}

    def current_phase(self) -> Phase:
        return self.phases[min(self.phase_index, len(self.phases) - 1)]

    def evaluate_and_save(self) -> dict:
        t = self.config.train
        self.model.eval()
        phase = self.current_phase()
        record = {"kind": "eval", "chars": self.chars, "phase": phase.kind, "phase_index": self.phase_index,
                  "seconds": round(self.elapsed, 3)}
        record.update(evaluate(self.model, self.val_ids, t.eval_streams, t.eval_goodness_chars, t.seed))
        record.update(self.train_means())
        if phase.kind == "interleaved" and any(self.generated):
            record.update(self.generated_stats())
        record.update(self.sample_stats())
        self.model.train()
        self.train_sums = {}
        while self.next_eval <= self.chars:
            self.next_eval += t.eval_every
        self.last_eval_chars = self.chars
        self.emit(record)
        for hook in self.hooks:
            hook.on_eval(self, record)
        self.save_checkpoint()
        return record

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "vocab": self.dataset.vocab.to_dict(),
            "corpus": {"name": self.dataset.corpus.name, "source": self.dataset.corpus.source},
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "trainer": {
                "chars": self.chars, "phase_index": self.phase_index, "phase_done": self.phase_done,
                "next_eval": self.next_eval, "last_eval_chars": self.last_eval_chars,
                "train_sums": self.train_sums, "elapsed": self.elapsed,
                "records_written": self.records_written, "generated": self.generated,
                "state": self.state, "logits": self.logits, "streams": self.streams.state_dict(),
                "negatives": self.negatives.state_dict(),
                "generator": self.generator.get_state(),
                "stream_generator": self.stream_generator.get_state(),
            },
        }

    def load_state_dict(self, payload: dict) -> None:
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        t = payload["trainer"]
        self.chars, self.phase_index, self.phase_done = t["chars"], t["phase_index"], t["phase_done"]
        self.next_eval, self.last_eval_chars = t["next_eval"], t["last_eval_chars"]
        self.train_sums, self.elapsed = t["train_sums"], t["elapsed"]
        self.records_written, self.generated = t["records_written"], t["generated"]
        self.state = [s.to(self.device) for s in t["state"]]
        self.logits = t["logits"].to(self.device)
        self.streams.load_state_dict(t["streams"])
        self.negatives.load_state_dict(t["negatives"])
        self.generator.set_state(t["generator"])
        self.stream_generator.set_state(t["stream_generator"])

    def save_checkpoint(self) -> None:
        if self.run_dir is not None:
            save_atomic(self.state_dict(), self.run_dir / "checkpoint.pt")
