"""`charff reproduce`: separated vs interleaved wake/sleep, side by side, with the same seeds and
the same total characters for every arm, beside the n-gram, frozen-random and backprop yardsticks."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from rich.console import Console
from rich.table import Table

from charff.collapse import detect_collapse
from charff.config import Config, apply_overrides, config_from_dict, flatten, validate
from charff.corpora import load_aesop, package_folder
from charff.errors import CharffError
from charff.hooks import read_metrics
from charff.plots import plot_curves
from charff.progress import ProgressBar
from charff.rundir import write_json
from charff.schedule import schedule_of
from charff.stats import mean_ci
from charff.suite import Cell, make_config, run_cell

PRESETS = ("quick", "paper")
METRICS = ("softmax_acc", "softmax_bpc", "goodness_acc", "goodness_bpc")


def load_preset(name: str) -> dict:
    if name not in PRESETS:
        raise CharffError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
    text = (package_folder("charff.experiments", "experiments") / f"reproduce_{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def resolve_corpus(config: Config, console: Console) -> None:
    """aesop when it can be had offline; otherwise the bundled corpus, loudly."""
    if config.corpus.name != "aesop":
        return
    try:
        load_aesop(offline=True)
    except CharffError as err:
        console.print(f"[bold red]WARNING: {err}.\nFalling back to the bundled corpus 'fables': "
                      "these results are NOT on Aesop's Fables.[/]")
        config.corpus.name = "fables"


def aggregate(records_by_seed: list[list[dict]]) -> dict:
    """Mean and 95% interval per evaluation point across seeds (cut to the shortest seed)."""
    length = min(len(r) for r in records_by_seed)
    curve = {"chars": [records_by_seed[0][i]["chars"] for i in range(length)]}
    for metric in METRICS:
        points = [mean_ci([seed[i][metric] for seed in records_by_seed]) for i in range(length)]
        curve[metric] = ([p[0] for p in points], [p[1] for p in points])
    return curve


def reproduce(preset: str, corpus: str | None, seeds: list[int] | None, out: Path, device: str | None,
              overrides: list[str], console: Console) -> dict:
    spec = load_preset(preset)
    base = config_from_dict(spec["base"])
    if corpus:
        base.corpus.name = corpus
    if device:
        base.train.device = device
    apply_overrides(base, overrides)
    validate(base)
    schedule_of(base)  # a bad --set schedule fails here, even where every arm sets its own
    resolve_corpus(base, console)
    seeds = seeds if seeds is not None else spec.get("seeds", [0])
    arms = spec["arms"]
    cells = []
    for arm, settings in arms.items():
        overrides_for_arm = {k: v for k, v in flatten(settings).items() if k != "label"}
        for seed in seeds:
            config = make_config(base, overrides_for_arm, seed)
            schedule_of(config)  # fail early
            cells.append(Cell(arm, seed, config, out / arm / f"seed{seed}"))
    out.mkdir(parents=True, exist_ok=True)
    console.print(f"reproduce --preset {preset}: {len(arms)} arms x {len(seeds)} seeds, "
                  f"{base.train.chars:,} characters each, corpus {base.corpus.name}, out {out}")
    summaries = {}
    for i, cell in enumerate(cells, 1):
        bar = ProgressBar(f"[{i}/{len(cells)}] {cell.name} seed {cell.seed}")
        summaries[(cell.name, cell.seed)] = run_cell(cell, [bar])
    return write_results(spec, base, seeds, cells, summaries, out, console)


def write_results(spec, base, seeds, cells, summaries, out: Path, console: Console) -> dict:
    first = next(iter(summaries.values()))
    arms_out, curves = {}, {}
    for arm, settings in spec["arms"].items():
        arm_cells = [c for c in cells if c.name == arm]
        records = [read_metrics(c.run_dir) for c in arm_cells]
        finals = {m: mean_ci([r[-1][m] for r in records]) for m in METRICS}
        best = mean_ci([max(x["softmax_acc"] for x in r) for r in records])
        config = arm_cells[0].config
        arms_out[arm] = {
            "label": settings.get("label", arm),
            "schedule": config.train.schedule, "negatives": config.train.negatives,
            "learner": config.train.learner, "optimizer": config.train.optimizer, "lr": config.train.lr,
            "momentum": config.train.momentum,
            "final": {m: {"mean": v[0], "ci95": v[1]} for m, v in finals.items()},
            "best_softmax_acc": {"mean": best[0], "ci95": best[1]},
            "per_seed": {c.seed: summaries[(arm, c.seed)]["final"] for c in arm_cells},
            "collapse": {c.seed: detect_collapse(read_metrics(c.run_dir, kind=None),
                                                 summaries[(arm, c.seed)]["ngram"]["1-gram"]["acc"]).to_dict()
                         for c in arm_cells},
            "run_dirs": [str(c.run_dir) for c in arm_cells],
        }
        curves[arm] = aggregate(records)
    separated = next((c.config for c in cells if c.config.train.schedule.startswith("separated")), None)
    phases = schedule_of(separated) if separated else []
    corpus = first["corpus"]
    title = (f"charff reproduce: {corpus['name']} ({corpus['alphabet']}), hidden {base.model.hidden}, "
             f"seeds {seeds}; mean and 95% interval")
    figure = plot_curves(curves, phases, first["ngram"], title, out / "reproduce.png")
    results = {"corpus": corpus, "chars_per_arm": base.train.chars, "seeds": seeds,
               "model": base.model.__dict__, "ngram": first["ngram"], "arms": arms_out, "figure": str(figure)}
    write_json(out / "results.json", results)
    (out / "results.md").write_text(results_markdown(results), encoding="utf-8")
    console.print(results_table(results), width=max(console.width, 160))
    console.print(f"wrote {out / 'results.json'}, {out / 'results.md'} and {figure}")
    return results


def fmt(stat: dict, percent: bool) -> str:
    mean, half = stat["mean"], stat["ci95"]
    if percent:
        return f"{mean:.1%}" + (f" ± {half:.1%}" if half else "")
    return f"{mean:.2f}" + (f" ± {half:.2f}" if half else "")


ROW_KEYS = (("softmax_acc", True), ("softmax_bpc", False), ("goodness_acc", True), ("goodness_bpc", False))
HEADER = ("arm", "schedule", "negatives", "softmax acc", "softmax bits/char", "goodness acc", "goodness bits/char",
          "collapsed (onset)")


def collapse_cell(collapse: dict) -> str:
    hits = [c for c in collapse.values() if c["collapsed"]]
    unlearned = sum(not c["learned"] for c in collapse.values())
    never = f"; {unlearned}/{len(collapse)} never beat unigram+5" if unlearned else ""
    if not hits:
        return f"no (0/{len(collapse)}){never}"
    onsets = ", ".join(f"{c['onset_chars']:,} {c['signal']}" for c in hits)
    return f"{len(hits)}/{len(collapse)} ({onsets}){never}"


def result_rows(results: dict) -> list[list[str]]:
    rows = []
    for arm, info in results["arms"].items():
        ff = info["learner"] == "ff"
        negatives = info["negatives"] if ff else f"- ({info['learner']})"
        # a net not trained by FF has no meaningful goodness readout
        cells = [fmt(info["final"][k], p) if ff or k.startswith("softmax") else "-" for k, p in ROW_KEYS]
        rows.append([arm, info["schedule"], negatives, *cells, collapse_cell(info["collapse"])])
    for order, values in results["ngram"].items():
        rows.append([f"{order} baseline", "-", "-", f"{values['acc']:.1%}", f"{values['bpc']:.2f}", "-", "-", "-"])
    return rows


def results_table(results: dict) -> Table:
    table = Table(title=f"final validation metrics on {results['corpus']['name']} "
                        f"({results['chars_per_arm']:,} characters per arm)")
    for column in HEADER:
        table.add_column(column)
    for row in result_rows(results):
        table.add_row(*row)
    return table


def results_markdown(results: dict) -> str:
    corpus = results["corpus"]
    lines = [f"# charff reproduce on {corpus['name']} ({corpus['source']})", "",
             f"{results['chars_per_arm']:,} characters per arm; seeds {results['seeds']}; "
             f"model {json.dumps(results['model'])}. Mean ± 95% interval over seeds.", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in result_rows(results)]
    lines += ["", f"![learning curves]({Path(results['figure']).name})", ""]
    return "\n".join(lines)
