"""One sweep runner for `charff reproduce` and `charff ablate`: a grid's cells, a cost estimate
against its budget, the cells run (resumably), then the report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from charff.analysis.report import write_report
from charff.analysis.results import SWEEP_FILE, SweepResult, read_sweep
from charff.data.corpora import load_aesop
from charff.data.ngram import split_yardsticks
from charff.errors import CharffError
from charff.hooks.loggers import build_loggers
from charff.hooks.progress import ProgressBar
from charff.run import prepare_for
from charff.rundir import FORK_DIR, make_dir
from charff.storage import write_json
from charff.sweep.grid import Cell, Grid
from charff.sweep.ray_executor import check_cluster, import_ray, run_on_ray
from charff.sweep.runner import estimate_minutes, measure_rate, run_cells
from charff.training.negatives import check_negatives
from charff.training.optim import granularity


@dataclass(frozen=True)
class Executor:
    """Where cells run: local worker processes, or Ray tasks (embedded, or a cluster at address)."""

    kind: str = "local"  # "local" or "ray"
    workers: int = 1  # local: cells at a time
    address: str | None = None  # ray: HOST:PORT of a running cluster; None starts a local Ray
    cpus_per_cell: int = 1  # ray: CPUs each task declares (and its torch threads)
    gpus_per_cell: float = 0.0  # ray: GPUs each task declares (fractions share one GPU)

    def __post_init__(self):
        if self.workers < 1:
            raise CharffError(f"--workers must be at least 1, got {self.workers}")
        if self.cpus_per_cell < 1 or self.gpus_per_cell < 0:
            raise CharffError("--cpus-per-cell must be at least 1 and --gpus-per-cell zero or more")
        if self.address and self.kind != "ray":
            raise CharffError("--address names a Ray cluster; add --executor ray")


def fall_back_from_aesop(grid: Grid, console: Console) -> None:
    """aesop when it can be had offline; otherwise the bundled corpus, loudly."""
    if grid.base.corpus.name != "aesop":
        return
    try:
        load_aesop(offline=True)
    except CharffError as err:
        console.print(f"[bold red]WARNING: {err}.\nFalling back to the bundled corpus 'fables': "
                      "these results are NOT on Aesop's Fables.[/]")
        grid.base.corpus.name = "fables"


def manifest(grid: Grid, cells: list[Cell], out: Path) -> dict:
    settings = []
    for setting in grid.settings:
        config = grid.config_for(setting, grid.seeds[0])
        settings.append({"name": setting.name, "arm": setting.arm, "label": setting.label,
                         "values": setting.values, "schedule": config.train.schedule,
                         "learner": config.train.learner, "wake_chars": config.plan.first("wake"),
                         "sleep_chars": config.plan.first("sleep"), **granularity(config)})
    return {"description": grid.description, "seeds": grid.seeds, "settings": settings, "fork": grid.fork,
            "cells": [{"name": c.name, "seed": c.seed, "run_dir": str(c.run_dir.relative_to(out))} for c in cells]}


def measure_yardsticks(cells: list[Cell]) -> None:
    """The n-gram yardsticks of every split the cells train on, measured once here, so that the
    workers read them from the cache instead of each fitting the same ones."""
    splits = {}
    for cell in cells:
        c = cell.config.corpus
        splits.setdefault((c.name, c.alphabet, c.val_fraction, c.calibration_fraction, c.test_fraction), cell.config)
    for config in splits.values():
        split_yardsticks(prepare_for(config))


def run_stage(cells: list[Cell], executor: Executor, console: Console) -> None:
    """Run cells to the end with the executor (finished ones are skipped)."""
    if executor.kind == "ray":
        with Progress(console=console) as progress:
            task = progress.add_task("cells on Ray", total=len(cells))
            run_cells(cells, 0, lambda cell: progress.advance(task),
                      run_pending=lambda pending, done: run_on_ray(pending, done, executor.address,
                                                                  executor.cpus_per_cell, executor.gpus_per_cell))
    elif executor.workers <= 1:
        def bar(cell: Cell, i: int) -> list:
            return [ProgressBar(f"[{i}] {cell.name} seed {cell.seed}")]

        run_cells(cells, 1, lambda cell: None, bar)
    else:
        with Progress(console=console) as progress:
            task = progress.add_task("cells", total=len(cells))
            run_cells(cells, executor.workers, lambda cell: progress.advance(task))


def run_sweep(grid: Grid, out: Path, executor: Executor, console: Console, yes: bool = False,
              log: tuple[str, ...] = ()) -> SweepResult:
    trunks, cells = grid.trunks(out, tuple(log)), grid.cells(out, tuple(log))
    for cell in trunks + cells:  # what a kind of negative asks of a config fails now, not mid-sweep
        check_negatives(cell.config.train)
    build_loggers(list(log), out)  # a missing logger fails now, in one line, not in every worker
    if executor.kind == "ray":
        import_ray()  # a missing Ray, or a cluster that does not answer, fails now, in one line
        if executor.address:
            check_cluster(executor.address)
    measure_yardsticks(trunks + cells)  # a missing corpus fails here, before the speed test, leaving nothing
    workers = executor.workers if executor.kind == "local" else 1
    minutes = estimate_minutes(trunks + cells, measure_rate(grid.base, workers))
    where = "here" if executor.kind == "local" else "at one local worker's rate"
    console.print(f"{grid.description}: {len(grid.settings)} settings x {len(grid.seeds)} seeds = "
                  f"{len(cells)} cells of {grid.base.train.chars:,} characters on {grid.base.corpus.name}; "
                  f"estimated {minutes:.0f} minutes {where} (budget {grid.budget_minutes:g}); out {out}",
                  highlight=False)
    if minutes > grid.budget_minutes and not yes:
        raise CharffError(f"estimated {minutes:.0f} minutes exceeds the grid's budget of "
                          f"{grid.budget_minutes:g}; rerun with --yes to go ahead")
    make_dir(out)
    write_json(out / SWEEP_FILE, manifest(grid, cells, out))
    if trunks:
        console.print(f"shared warm start: {grid.fork['train.chars']:,} characters per seed in {out / FORK_DIR}",
                      highlight=False)
        run_stage(trunks, executor, console)
    run_stage(cells, executor, console)
    result = read_sweep(out)
    write_report(result, console)
    return result
