"""The trainer: the loop around a run's state (training/run_state.py). It walks the phases step by
step, evaluates on a fixed cadence in characters (and at phase ends when asked), checkpoints, turns
signals into a checkpoint and a clean stop, and calls the hooks; the state does the rest.

One step advances `rows` (at most B) streams by one character. Wake steps raise goodness on real
windows and train the softmax readout; sleep steps lower goodness on negative windows; an
interleaved step does both in one batched forward pass (training/step.py is the step itself).
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from charff.config import Config
from charff.data.dataset import Dataset
from charff.errors import Stopped
from charff.hooks.base import Hook
from charff.hooks.generated_text import GeneratedTextMonitor
from charff.rundir import CHECKPOINT_FILE, RunLock
from charff.schedule import Phase
from charff.training.auto_phases import replanned
from charff.training.checkpoint import save_checkpoint
from charff.training.instruments import measure_gradients
from charff.training.run_state import RunState
from charff.training.yardstick import at_evaluations

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Stopped):
    """Training stopped on request (SIGINT or SIGTERM) after writing a checkpoint."""

    def __init__(self, chars: int, signum: int, run_dir: Path | None):
        super().__init__(f"stopped at {chars:,} characters, checkpoint saved; continue with: "
                         f"charff train --resume {run_dir}", signum)
        self.chars = chars


class Trainer:
    """Hooks read the run through the trainer: `trainer.model`, `trainer.chars` and the rest of
    the state are the RunState's (`trainer.state`)."""

    def __init__(self, config: Config, dataset: Dataset, run_dir: Path | None = None,
                 hooks: list[Hook] = (), lock: RunLock | None = None):
        self.lock = lock  # held while this process writes run_dir (see charff/run.py)
        self.config, self.dataset = config, dataset
        self.hooks = [GeneratedTextMonitor(), *hooks]
        self.run_dir = Path(run_dir) if run_dir else None
        self.state = RunState(config, dataset)
        self.read_yardstick = at_evaluations(config.train)  # a fork's common AUC at every evaluation
        self.stop_signal: int | None = None

    def __getattr__(self, name: str):
        # only for names the trainer lacks: the state's model, counters, streams...
        if name == "state":
            raise AttributeError(name)
        return getattr(self.state, name)

    def step(self, phase: Phase, rows: int) -> dict:
        return self.state.step(phase, rows)

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> list[dict]:
        """Run the remaining phases; returns the evaluation records written during this call."""
        records, state = [], self.state
        self.call("on_start")
        catch = threading.current_thread() is threading.main_thread()
        previous = {s: signal.signal(s, self.request_stop) for s in STOP_SIGNALS} if catch else {}
        try:
            # separated:auto plans its phases from a measurement, so the first plan waits for the
            # (possibly forked) model to exist; a resumed run keeps the plan its checkpoint holds
            if self.config.plan.auto and state.chars == 0 and state.phase_done == 0:
                self.replan()
            # phase_index and phase_done are checkpointed, so a resumed run re-enters the loop
            # mid-phase exactly where it stopped
            while state.phase_index < len(state.phases):
                phase = state.phases[state.phase_index]
                if state.phase_done == 0:
                    self.begin_phase(phase)
                while state.phase_done < phase.chars:
                    # a signal only sets a flag (request_stop); stopping here, between steps, means
                    # the checkpoint never holds a half-applied update
                    if self.stop_signal is not None:
                        self.save_checkpoint()
                        raise Interrupted(state.chars, self.stop_signal, self.run_dir)
                    # the last step of a phase may be partial, so a phase holds exactly its characters
                    rows = min(self.config.train.streams, phase.chars - state.phase_done)
                    started = time.perf_counter()
                    stats = state.step(phase, rows)
                    state.elapsed += time.perf_counter() - started  # training time, evaluations apart
                    state.chars += rows
                    state.phase_done += rows
                    state.accumulate(stats)
                    self.call("on_step", phase, rows, stats)
                    # a phase that ends with its own evaluation (eval_at_phase_ends) takes it after
                    # the flushed update below, not one step early
                    ends_with_eval = state.phase_done == phase.chars and self.phase_end(phase)
                    if state.chars >= state.next_eval and not ends_with_eval:
                        records.append(self.evaluate_and_save())
                state.learner.update(state.chars)  # a partial update now: no update mixes two phases
                if self.phase_end(phase) and state.last_eval_chars != state.chars:
                    records.append(self.evaluate_and_save(self.phase_end(phase)))
                self.call("on_phase_end", phase)
                if phase.sleep_only and self.config.plan.auto:
                    self.replan()  # separated:auto re-measures after every sleep phase
                state.phase_index += 1
                state.phase_done = 0
            # every run ends on an evaluation: the final numbers are the whole validation split's
            if state.last_eval_chars != state.chars:
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
        state = self.state
        ratio = measure_gradients(state.model, self.config.model, *state.measurement_batch())["one_sided_ratio"]
        first = state.phase_index + (1 if state.chars else 0)
        state.phases, chars = replanned(state.phases, first, ratio, self.config.train)
        self.emit({"kind": "replan", "chars": state.chars, "one_sided_ratio": ratio, "phase_chars": chars})

    def call(self, point: str, *args) -> None:
        for hook in self.hooks:
            getattr(hook, point)(self, *args)

    def begin_phase(self, phase: Phase) -> None:
        if self.config.train.reset_optimizer_each_phase and self.state.chars > 0:
            self.state.learner.reset_optimizer()
        self.call("on_phase_start", phase)

    def request_stop(self, signum: int = signal.SIGINT, _frame=None) -> None:
        """Stop before the next step, after a checkpoint (the signal handler for SIGINT and SIGTERM)."""
        self.stop_signal = signum

    def emit(self, record: dict) -> None:
        """Send one record to the metrics log (and any other hook that keeps records)."""
        self.state.records_written += 1
        self.call("on_record", record)

    def phase_end(self, phase: Phase) -> str | None:
        """The kind of phase whose end gets its own evaluation (train.eval_at_phase_ends), else None."""
        return phase.kind if self.config.train.eval_at_phase_ends and phase.one_sided else None

    def evaluate_and_save(self, phase_end: str | None = None) -> dict:
        state = self.state
        record = state.evaluate(phase_end, self.read_yardstick)
        self.call("add_to_eval", record)
        record.update(state.sample_record())
        while state.next_eval <= state.chars:
            state.next_eval += self.config.train.eval_every
        state.last_eval_chars = state.chars
        self.emit(record)
        self.call("on_eval", record)
        self.save_checkpoint()
        return record

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {**self.state.state_dict(),
                "hooks": {h.state_key: h.state_dict() for h in self.hooks if h.state_key}}

    def load_state_dict(self, payload: dict) -> None:
        self.state.load_state_dict(payload)
        for hook in self.hooks:
            if hook.state_key in payload["hooks"]:
                hook.load_state_dict(payload["hooks"][hook.state_key])

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def save_checkpoint(self) -> None:
        if self.run_dir is not None:
            save_checkpoint(self.state_dict(), self.run_dir / CHECKPOINT_FILE)
