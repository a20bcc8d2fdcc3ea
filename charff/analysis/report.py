"""A finished sweep or run turned into files a researcher reads: results.json/.csv/.md and figures."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from charff.analysis.crossing import crossings
from charff.analysis.frontier import FRONTIER_FIGURE, FRONTIER_JSON, answer, frontier, plot_frontier
from charff.analysis.law import LAW_FIGURE, LAW_JSON, plot_law, plot_law_curves
from charff.analysis.law import crossings as law_crossings
from charff.analysis.paired import READ_POINTS, has_test_split, paired_markdown, paired_rows
from charff.analysis.plots import plot_crossing, plot_curves, plot_phase_lengths, plot_run
from charff.analysis.results import SweepResult, curves, read_run
from charff.analysis.tables import granularity_table, results_markdown, results_table, test_table, write_csv
from charff.errors import CharffError
from charff.rundir import METRICS_FILE
from charff.storage import write_json, write_text_atomic

RESULTS_JSON, RESULTS_CSV, RESULTS_MD = "results.json", "results.csv", "results.md"
CURVES_FIGURE = "curves.png"
CROSSING_JSON = "crossing.json"


def draw_sweep(result: SweepResult) -> list[Path]:
    """Learning curves of every setting (mean and 95% band); the phase-length figure when the
    sweep holds separated schedules of at least two wake lengths."""
    rows, manifest = result.rows(), result.manifest
    separated = [r for r in rows if r["separated"]]
    shaded = {r["schedule"] for r in separated}
    phases = result.runs[separated[0]["cell"]][0].config().plan.phases if len(shaded) == 1 else []
    names = result.corpus_names()
    yardstick_note = f"; n-gram lines: {names[0]}" if len(names) > 1 else ""
    # two lines, so that a long description stays clear of the legend
    spread = "mean and 95% interval" if len(manifest["seeds"]) > 1 else "one seed: no interval"
    title = f"{manifest['description']}\n{', '.join(names)}, seeds {manifest['seeds']}; {spread}{yardstick_note}"
    by_setting = {name: curves(runs) for name, runs in result.runs.items()}
    for name, runs in result.runs.items():  # a net not trained by FF has no goodness to draw
        if not runs[0].config().train.learner_kind.ff:
            by_setting[name] = {k: v for k, v in by_setting[name].items() if not k.startswith("goodness")}
    frozen = tuple(r["cell"] for r in rows if r["learner"] == "frozen_random")
    paths = [plot_curves(by_setting, phases, result.ngram(), title, result.folder / CURVES_FIGURE, frozen)]
    if len({r["wake_chars"] for r in separated}) >= 2:
        settings = result.settings_without_schedule()
        paths.append(plot_phase_lengths(rows, settings, result.folder, result.ngram()))
        entries = crossings(rows, settings)
        if len({e["horizon_updates"] for e in entries}) >= 2:
            write_json(result.folder / CROSSING_JSON, entries)
            paths.append(plot_crossing(entries, result.folder))
    return paths


def draw_law(result: SweepResult, paired: list[dict]) -> list[Path]:
    """A forked sweep's law: law.json and the crossing figure where some setting has separated arms
    of at least two phase lengths; one curves figure per setting (its arms, twin and null) always."""
    entries = law_crossings(result, paired)
    paths = []
    if any(len(entry["arms"]) >= 2 for entry in entries):  # one P (or separated:auto): no law to read
        write_json(result.folder / LAW_JSON, entries)
        paths.append(plot_law(entries, result.folder / LAW_FIGURE))
    for entry in entries:
        name = f"law_curves_{entry['setting'].replace('=', '').replace(',', '_')}.png"
        paths.append(plot_law_curves(result, paired, entry, result.folder / name))
    return paths


def draw_frontier(result: SweepResult, by_point: dict[str, list[dict]], headline: str
                  ) -> tuple[list[Path], str | None]:
    """frontier.json (every read point's entries and answer) and the headline point's figure, where
    a separated arm has a twin and a null; no files and no answer otherwise."""
    entries = {point: frontier(result, rows) for point, rows in by_point.items()}
    if not entries[headline]:
        return [], None
    said = {point: answer(found) for point, found in entries.items() if found}
    write_json(result.folder / FRONTIER_JSON, {"headline": headline, "answer": said, "entries": entries})
    split = {"val": "validation", "test": "test"}[by_point[headline][0]["split"]]
    title = (f"{result.manifest['description']}\n{split} split, read at {headline}, seeds "
             f"{result.manifest['seeds']}: {said[headline]}")
    return [plot_frontier(entries[headline], result.folder / FRONTIER_FIGURE, title)], said[headline]


def read_points(result: SweepResult) -> tuple[dict[str, list[dict]], str]:
    """Paired rows at every read point (validation; the test split at the final point), and the
    headline point: the cycle mean where the separated arms evaluated at their phase ends (neither
    the sawtooth's best nor its worst point), else the test split's final numbers."""
    by_point = {point: paired_rows(result, "val", point) for point in READ_POINTS if point != "final"}
    by_point = {point: rows for point, rows in by_point.items() if any(r["role"] == "arm" for r in rows)}
    if has_test_split(result):
        by_point["final (test)"] = paired_rows(result, "test")
    by_point["final"] = paired_rows(result)
    headline = next(p for p in ("cycle mean", "final (test)", "final") if p in by_point)
    return by_point, headline


def write_report(result: SweepResult, console: Console) -> list[Path]:
    folder, manifest = result.folder, result.manifest
    rows, ngram, corpus = result.rows(), result.ngram(), result.corpus()
    paired = paired_rows(result)
    by_point, headline = read_points(result) if paired else ({}, "final")
    paired_test = by_point.get("final (test)", [])
    write_json(folder / RESULTS_JSON, {"description": manifest["description"], "corpus": corpus,
                                       "seeds": manifest["seeds"], "ngram": ngram,
                                       "test_ngram": result.ngram("test"), "rows": rows,
                                       "fork": manifest.get("fork") or None, "paired": paired,
                                       "paired_test": paired_test, "headline_point": headline,
                                       "paired_at": by_point})
    write_csv(rows, folder / RESULTS_CSV)
    figures = draw_sweep(result)
    said = None
    if manifest.get("fork") and any(r["role"] == "arm" for r in paired):
        figures += draw_law(result, by_point[headline])  # the read point the frontier's figure shows
        drawn, said = draw_frontier(result, by_point, headline)
        figures += drawn
    chars = sorted({run.summary["chars"] for runs in result.runs.values() for run in runs})
    names = result.corpus_names()
    trained_on = (f"Corpus {corpus['name']} ({corpus['source']}, {corpus['alphabet']})" if len(names) == 1 else
                  f"Corpora {', '.join(names)} (first: {corpus['source']}; n-gram rows are the first's)")
    notes = [f"{manifest['description']}. {trained_on}; "
             f"{', '.join(f'{c:,}' for c in chars)} characters per cell; seeds {manifest['seeds']}; "
             "final validation numbers, mean ± 95% interval over seeds."]
    markdown = results_markdown(rows, ngram, f"charff sweep: {manifest['description']}", notes,
                                result.ngram("test"))
    if said:
        markdown += f"\n## The frontier's answer (read at {headline})\n\n{said}.\n"
    if paired:
        markdown += ("\n## Against the interleaved twin and the frozen null\n\nEach setting minus its twin and "
                     "minus its null, paired by seed: mean ±90% interval against the twin (the equivalence "
                     "test's), ±95% against the null; no interval with one seed. Verdicts are judged on the "
                     "primary measures only: the common AUC (every arm of a warm start scored against the same "
                     "saved negatives) and the product readout's bits/char (margins 0.02 and 0.05); accuracy and "
                     "the own AUC are columns. A separated arm is read at its phase ends, its twin and null at "
                     "the same characters.\n")
        for point, point_rows in by_point.items():
            markdown += f"\n### Read at {point}{' (headline)' if point == headline else ''}\n\n"
            markdown += paired_markdown(point_rows)
        unpaired = [r["cell"] for r in rows if r["cell"] not in {p["cell"] for p in paired}]
        if unpaired:
            markdown += ("\nNo row above for " + ", ".join(unpaired) + ": each is either an interleaved twin "
                         "with no frozen null beside it, or a setting that no twin or null shares all other "
                         "settings with (another learning rate, momentum or learner), so nothing pairs with it.\n")
    markdown += "".join(f"\n![{p.stem}]({p.name})\n" for p in figures)
    write_text_atomic(folder / RESULTS_MD, markdown)
    console.print(results_table(rows, ngram, f"final validation metrics, {corpus['name']}, "
                                             f"mean ±95% interval over {len(manifest['seeds'])} seed(s)"))
    tested = test_table(rows, result.ngram("test"))
    if tested is not None:
        console.print(tested)
    console.print(granularity_table(rows))
    elsewhere = {point: {row["cell"]: row["verdict"] for row in point_rows}
                 for point, point_rows in by_point.items() if point != headline}
    for row in by_point.get(headline, paired):
        also = "; ".join(f"{point}: {said_there[row['cell']]}" for point, said_there in elsewhere.items()
                         if row["cell"] in said_there)
        console.print(f"  {row['cell']} ({headline}): {row['verdict']}" + (f" ({also})" if also else ""),
                      highlight=False, soft_wrap=False)
    for row in rows:
        if row["label"] != row["cell"]:
            console.print(f"  {row['cell']}: {row['label']}", highlight=False, soft_wrap=False)
    outputs = [folder / RESULTS_MD, folder / RESULTS_CSV, *figures]
    console.print("wrote " + ", ".join(str(p) for p in outputs), highlight=False)
    return outputs


def draw_runs(folder: Path) -> list[Path]:
    """Learning-curve and goodness figures for every evaluated run under folder."""
    paths = []
    runs = sorted(p.parent for p in Path(folder).rglob(METRICS_FILE))
    if not runs:
        raise CharffError(f"{folder} holds no run ({METRICS_FILE}) or sweep; point at a run directory")
    for run_dir in runs:
        run = read_run(run_dir)
        if not run.evals:
            continue
        config = run.config()
        title = f"{run_dir.parent.name}/{run_dir.name}: {config.train.schedule}, {config.train.negatives}"
        # the onset of a collapse; units that died in a run that never learned are not one
        onset = run.collapse["onset_chars"] if run.collapse and run.collapse.get("collapsed") else None
        ngram = run.summary.get("ngram", {}) if run.summary else {}
        paths += plot_run(run.evals, config.plan.phases, title, run_dir, onset, ngram)
    if not paths:
        raise CharffError(f"no run under {folder} has been evaluated yet; plot it after its first evaluation")
    return paths
