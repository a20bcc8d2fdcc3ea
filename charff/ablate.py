"""`charff ablate`: a grid of settings x seeds, cells in parallel worker processes, one table.

Grid file (TOML):
    seeds = [0, 1]
    budget_minutes = 30           # above this estimate the command asks for --yes
    [base]                        # a normal config, shared by every cell
    [grid]                        # dotted key -> list of values; the cartesian product
    "train.schedule" = ["interleaved", "separated:4k", "separated:64k"]
    [[regimes]]                   # optional: named bundles of settings, crossed with the grid
    name = "adam"
    "train.optimizer" = "adam"
"""

from __future__ import annotations

import csv
import itertools
import json
import multiprocessing
import os
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from charff.collapse import detect_collapse
from charff.config import Config, config_from_dict
from charff.errors import CharffError
from charff.hooks import read_metrics
from charff.rundir import SUMMARY_FILE, write_json
from charff.schedule import schedule_of
from charff.stats import mean_ci
from charff.suite import Cell, make_config, run_cell

RESULT_KEYS = ("final_softmax_acc", "best_softmax_acc", "final_softmax_bpc", "best_softmax_bpc",
               "final_goodness_acc", "final_goodness_bpc")


def labelled(settings: dict) -> dict:
    """A cell's settings with the regime's `name` shown as `regime`."""
    return {("regime" if k == "name" else k): v for k, v in settings.items()}


def cell_name(settings: dict) -> str:
    parts = []
    for key, value in settings.items():
        short = key.split(".")[-1]
        parts.append(f"{short}={value}")
    return ",".join(parts).replace("/", "_").replace(" ", "").replace(":", "-") or "base"


def load_grid(path: Path) -> tuple[dict, Config, list[dict], list[int]]:
    """The grid's spec, its base config, the list of settings (one per cell) and the seeds."""
    if not Path(path).is_file():
        raise CharffError(f"grid file {path} does not exist; see experiments/phase_length_ablation.toml")
    try:
        spec = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise CharffError(f"grid file {path} is not valid TOML: {err}") from None
    unknown = set(spec) - {"seeds", "budget_minutes", "base", "grid", "regimes", "description"}
    if unknown:
        raise CharffError(f"unknown key(s) {sorted(unknown)} in {path}; use seeds, budget_minutes, base, grid, regimes")
    base = config_from_dict(spec.get("base", {}))
    grid = spec.get("grid", {})
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise CharffError(f"grid entry {key!r} must be a non-empty list of values")
    regimes = spec.get("regimes", [{}])
    seeds = spec.get("seeds", [0])
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    settings = [{**combo, **regime} for combo in combos for regime in regimes]
    if not grid and not spec.get("regimes") or not seeds:
        raise CharffError(f"grid in {path} is empty; give [grid] lists (or [[regimes]]) and at least one seed")
    for s in settings:  # fail on a bad key or value now, not in a worker an hour later
        config = make_config(base, {k: v for k, v in s.items() if k != "name"}, seeds[0])
        schedule_of(config)
    return spec, base, settings, seeds


def build_cells(base: Config, settings: list[dict], seeds: list[int], out: Path) -> list[Cell]:
    cells = []
    for s in settings:
        overrides = {k: v for k, v in s.items() if k != "name"}
        name = cell_name(labelled(s))
        for seed in seeds:
            cells.append(Cell(name, seed, make_config(base, overrides, seed), out / name / f"seed{seed}"))
    return cells


def measure_rate(base: Config, seconds: float = 2.0) -> float:
    """chars/s of an interleaved step of the base model on this machine (for the cost estimate)."""
    from charff.data import prepare
    from charff.schedule import Phase
    from charff.trainer import Trainer

    trainer = Trainer(base, prepare("fables", base.corpus.alphabet, 0.1, base.model.window))
    phase, chars, start = Phase("interleaved", 10**9), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        trainer.step(phase, base.train.streams)
        chars += base.train.streams
    return chars / (time.perf_counter() - start)


def estimate_minutes(cells: list[Cell], rate: float) -> float:
    """Pending characters over the measured rate of all cores (workers split the same cores);
    evaluations add about 15%."""
    pending = [c for c in cells if not (c.run_dir / SUMMARY_FILE).exists()]
    return sum(c.config.train.chars for c in pending) / rate * 1.15 / 60


def worker(cell: Cell) -> tuple[str, int]:
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("CHARFF_WORKERS", "1"))))
    run_cell(cell)
    return cell.name, cell.seed


def run_cells(cells: list[Cell], workers: int, on_done) -> None:
    pending = [c for c in cells if not (c.run_dir / SUMMARY_FILE).exists()]
    for c in cells:
        if c not in pending:
            on_done(c.name, c.seed)
    if workers <= 1:
        for cell in pending:
            on_done(*worker(cell))
        return
    os.environ["CHARFF_WORKERS"] = str(workers)
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            for future in as_completed([pool.submit(worker, cell) for cell in pending]):
                on_done(*future.result())
    except BrokenProcessPool:
        raise CharffError("a worker process died; rerun the same command to resume the unfinished cells") from None


def cell_result(cell: Cell) -> dict:
    records = read_metrics(cell.run_dir, kind=None)
    evals = [r for r in records if r.get("kind", "eval") == "eval"]
    summary = json.loads((cell.run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    report = detect_collapse(records, summary["ngram"]["1-gram"]["acc"])
    return {
        "final_softmax_acc": evals[-1]["softmax_acc"], "best_softmax_acc": max(r["softmax_acc"] for r in evals),
        "final_softmax_bpc": evals[-1]["softmax_bpc"], "best_softmax_bpc": min(r["softmax_bpc"] for r in evals),
        "final_goodness_acc": evals[-1]["goodness_acc"], "final_goodness_bpc": evals[-1]["goodness_bpc"],
        "collapsed": report.collapsed, "collapse_onset": report.onset_chars, "collapse_signal": report.signal,
    }


def aggregate(cells: list[Cell], settings: list[dict], seeds: list[int]) -> list[dict]:
    rows = []
    by_name: dict[str, list[Cell]] = {}
    for cell in cells:
        by_name.setdefault(cell.name, []).append(cell)
    for s in settings:
        name = cell_name(labelled(s))
        results = [cell_result(c) for c in by_name[name]]
        row = {"cell": name, **labelled(s),
               "seeds": len(results)}
        for key in RESULT_KEYS:
            mean, half = mean_ci([r[key] for r in results])
            row[key], row[key + "_ci95"] = mean, half
        onsets = [r["collapse_onset"] for r in results if r["collapsed"]]
        row["collapsed_seeds"] = len(onsets)
        row["collapse_onset_mean"] = sum(onsets) / len(onsets) if onsets else None
        row["collapse_signals"] = sorted({r["collapse_signal"] for r in results if r["collapsed"]})
        row["schedule"] = by_name[name][0].config.train.schedule
        rows.append(row)
    return rows


def write_tables(rows: list[dict], out: Path) -> None:
    write_json(out / "ablation.json", rows)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(out / "ablation.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (";".join(v) if isinstance(v, list) else v) for k, v in row.items()})
