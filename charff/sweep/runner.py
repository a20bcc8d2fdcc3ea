"""Running cells: in this process one after another, or in spawned worker processes.

A cell with summary.json is done and skipped; one with a checkpoint resumes from it, so a long
sweep can be stopped and continued with the same command.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from charff.config import Config
from charff.errors import CharffError
from charff.hooks.base import Hook
from charff.hooks.loggers import build_loggers
from charff.rundir import CHECKPOINT_FILE, SUMMARY_FILE, is_finished
from charff.storage import read_json
from charff.sweep.grid import Cell
from charff.training.run import finish_run, resume_run, start_run


def run_cell(cell: Cell, hooks: list[Hook] = ()) -> dict:
    """Train one cell to the end (or find it done) and return its summary."""
    if is_finished(cell.run_dir):
        return read_json(cell.run_dir / SUMMARY_FILE)
    hooks = [*hooks, *build_loggers(list(cell.log), cell.run_dir)]
    if (cell.run_dir / CHECKPOINT_FILE).exists():
        trainer = resume_run(cell.run_dir, hooks)
    else:
        trainer = start_run(cell.config, cell.run_dir, hooks)
    trainer.run()
    return finish_run(trainer)


def worker(cell: Cell) -> Cell:
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("CHARFF_WORKERS", "1"))))
    run_cell(cell)
    return cell


def run_cells(cells: list[Cell], workers: int, on_done: Callable[[Cell], None],
              hooks_for: Callable[[Cell, int], list[Hook]] = lambda cell, i: []) -> None:
    """Run the unfinished cells; on_done is called once per cell, finished ones first.
    With one worker the cells run here, each with the hooks hooks_for gives it."""
    pending = [c for c in cells if not is_finished(c.run_dir)]
    for cell in cells:
        if cell not in pending:
            on_done(cell)
    if workers <= 1:
        for i, cell in enumerate(pending, 1):
            run_cell(cell, hooks_for(cell, i))
            on_done(cell)
        return
    os.environ["CHARFF_WORKERS"] = str(workers)
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            for future in as_completed([pool.submit(worker, cell) for cell in pending]):
                on_done(future.result())
    except BrokenProcessPool:
        raise CharffError("a worker process died; rerun the same command to resume the unfinished cells") from None


def measure_rate(base: Config, seconds: float = 2.0) -> float:
    """chars/s of an interleaved step of the base model on this machine (for the cost estimate)."""
    from charff.data.dataset import prepare
    from charff.training.schedule import Phase
    from charff.training.trainer import Trainer

    trainer = Trainer(base, prepare("fables", base.corpus.alphabet, 0.1, base.model.window))
    phase, chars, start = Phase("interleaved", 10**9), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        trainer.step(phase, base.train.streams)
        chars += base.train.streams
    return chars / (time.perf_counter() - start)


def estimate_minutes(cells: list[Cell], rate: float) -> float:
    """Pending characters over the measured rate of all cores (workers split the same cores);
    evaluations add about 15%."""
    pending = [c for c in cells if not is_finished(c.run_dir)]
    return sum(c.config.train.chars for c in pending) / rate * 1.15 / 60
