"""Sweep results as text: a rich table that stays readable at 80 columns, Markdown and CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from rich import box
from rich.table import Table

from charff.config import LEARNERS, READOUTS
from charff.data.ngram import best_of
from charff.model.readouts import readouts_for

# the main table's columns (the product readout's numbers are in the CSV and the test table):
# (readout, summary key, header, shown as a percentage)
METRIC_COLUMNS = tuple((readout, f"final_{readout}_{metric}", f"{readout} acc" if metric == "acc" else "bits/char",
                        metric == "acc") for readout in ("softmax", "goodness") for metric in ("acc", "bpc"))


def fmt(mean: float, half: float, percent: bool) -> str:
    if percent:
        return f"{mean:.1%}" + (f" ±{half:.1%}" if half else "")
    return f"{mean:.2f}" + (f" ±{half:.2f}" if half else "")


def collapse_text(row: dict) -> str:
    """'0/2', or '1/2 at 300,048 dead_units'; seeds that never learned (and whose units died)
    counted beside."""
    text = f"{row['collapsed_seeds']}/{row['seeds']}"
    if row["collapsed_seeds"]:
        text += f" at {row['collapse_onset_mean']:,.0f} {', '.join(row['collapse_signals'])}"
    if row["unlearned_seeds"]:
        text += f"; {row['unlearned_seeds']}/{row['seeds']} never learned"
    if row["units_died_seeds"]:
        text += f"; {row['units_died_seeds']}/{row['seeds']} never learned, units died"
    return text


def metric_cells(row: dict) -> list[str]:
    """A readout the run does not have (goodness, for a net not trained by FF) shows '-'."""
    has = readouts_for(LEARNERS[row.get("learner", "ff")])
    return [fmt(row[key], row[key + "_ci95"], percent) if readout in has else "-"
            for readout, key, _, percent in METRIC_COLUMNS]


def ngram_rows(ngram: dict) -> list[list[str]]:
    """One row per n-gram yardstick; the order with the fewest bits/char says so."""
    best = best_of(ngram) if ngram else None
    return [[f"{order} Kneser-Ney" + (" (best)" if order == best else ""), f"{v['acc']:.1%}", f"{v['bpc']:.2f}",
             "-", "-", "-"] for order, v in ngram.items()]


def results_table(rows: list[dict], ngram: dict, title: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left", collapse_padding=True)
    table.add_column("setting", overflow="fold", min_width=16)
    for _, _, header, _ in METRIC_COLUMNS:
        table.add_column(header, justify="right", overflow="fold", max_width=11)
    table.add_column("collapsed", overflow="fold", min_width=10)
    for row in rows:
        table.add_row(row["cell"], *metric_cells(row), collapse_text(row))
    for cells in ngram_rows(ngram):
        table.add_row(*cells, style="dim")
    return table


TEST_COLUMNS = tuple((f"test_{readout}_{metric}", f"{readout} {'acc' if metric == 'acc' else 'bits/char'}",
                      metric == "acc") for readout in READOUTS for metric in ("acc", "bpc"))


def has_test_numbers(rows: list[dict], ngram: dict) -> bool:
    """Whether the runs were scored on a test split (runs from before it existed were not)."""
    return bool(ngram) and any(row.get(TEST_COLUMNS[0][0]) is not None for row in rows)


def test_markdown(rows: list[dict], ngram: dict) -> list[str]:
    """Every readout of the finished models on the test split (means over seeds, 95% intervals),
    beside the Kneser-Ney n-grams on the same text; [] when the runs have no test split."""
    if not has_test_numbers(rows, ngram):
        return []
    header = ["setting", *(h for _, h, _ in TEST_COLUMNS)]
    lines = ["", "On the test split (read once, after training):", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [fmt(row[key], row[key + "_ci95"], percent) if row.get(key) is not None else "-"
                 for key, _, percent in TEST_COLUMNS]
        lines.append("| " + " | ".join([row["cell"], *cells]) + " |")
    for cells in ngram_rows(ngram):
        lines.append("| " + " | ".join([cells[0], cells[1], cells[2], *["-"] * (len(header) - 3)]) + " |")
    return lines


def test_table(rows: list[dict], ngram: dict) -> Table | None:
    """Bits/char of every readout on the test split, beside the best Kneser-Ney order; None when
    the runs have no test split."""
    if not has_test_numbers(rows, ngram):
        return None
    columns = [(key, header) for key, header, percent in TEST_COLUMNS if not percent]
    table = Table(title="test split, bits/char (read once, after training)", box=box.SIMPLE_HEAD,
                  pad_edge=False, title_justify="left")
    table.add_column("setting", overflow="fold", min_width=16)
    for _, header in columns:
        table.add_column(header.split()[0], justify="right", max_width=11)
    for row in rows:
        table.add_row(row["cell"], *(fmt(row[key], row[key + "_ci95"], False) if row.get(key) is not None else "-"
                                     for key, _ in columns))
    best = best_of(ngram)
    table.add_row(f"{best} Kneser-Ney (best)", f"{ngram[best]['bpc']:.2f}", *["-"] * (len(columns) - 1),
                  style="dim")
    return table


def results_markdown(rows: list[dict], ngram: dict, heading: str, notes: list[str],
                     test_ngram: dict | None = None) -> str:
    header = ["setting", "schedule", *(h for _, _, h, _ in METRIC_COLUMNS), "collapsed (onset)"]
    lines = [f"# {heading}", "", *notes, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join([row["cell"], row["schedule"], *metric_cells(row), collapse_text(row)]) + " |")
    for cells in ngram_rows(ngram):
        lines.append("| " + " | ".join([cells[0], "-", *cells[1:]]) + " |")
    lines += test_markdown(rows, test_ngram or {})
    lines += ["", "| setting | " + " | ".join(GRANULARITY_HEADER) + " |", "|" + "---|" * 5]
    lines += ["| " + " | ".join([row["cell"], *granularity_cells(row)]) + " |" for row in rows]
    labels = [f"- `{row['cell']}`: {row['label']}" for row in rows if row["label"] != row["cell"]]
    return "\n".join(lines + ([""] + labels if labels else []) + [""])


def write_csv(rows: list[dict], path: Path) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (";".join(map(str, v)) if isinstance(v, list) else v) for k, v in row.items()})


def granularity_cells(row: dict) -> list[str]:
    per_phase = row["updates_per_phase"]
    return [f"{row['chars_per_update']:,}", "-" if per_phase is None else f"{per_phase:,.1f}",
            f"{row['horizon_updates']:,.0f}", f"{row['horizon_chars']:,.0f}"]


GRANULARITY_HEADER = ("chars/update", "updates/wake phase", "horizon (updates)", "horizon (chars)")


def granularity_table(rows: list[dict]) -> Table:
    """What each setting's phase length means to its optimizer: updates, and momentum's memory."""
    table = Table(title="update granularity (horizon: 1/(1-momentum) updates)", box=box.SIMPLE_HEAD,
                  pad_edge=False, title_justify="left")
    table.add_column("setting", overflow="fold", min_width=16)
    for header in GRANULARITY_HEADER:
        table.add_column(header.replace(" (", "\n("), justify="right", overflow="fold", max_width=12)
    for row in rows:
        table.add_row(row["cell"], *granularity_cells(row))
    return table


def readout_text(final: dict, name: str) -> str:
    """'43.4% ±0.9 / 2.72 ±0.04 bits/char'; records from before intervals were kept show none."""
    acc, bpc = final[f"{name}_acc"], final[f"{name}_bpc"]
    acc_ci, bpc_ci = final.get(f"{name}_acc_ci"), final.get(f"{name}_bpc_ci")
    intervals = acc_ci is not None and bpc_ci is not None
    return (f"{acc:.1%}" + (f" ±{acc_ci:.1%}" if intervals else "") + f" / {bpc:.2f}"
            + (f" ±{bpc_ci:.2f}" if intervals else "") + " bits/char")


def readouts_text(record: dict) -> str:
    """Every readout a record holds, with its 95% intervals."""
    return ", ".join(f"{name} readout {readout_text(record, name)}" for name in READOUTS
                     if record.get(f"{name}_acc") is not None)
