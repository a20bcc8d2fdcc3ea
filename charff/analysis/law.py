"""The separation law read off a forked sweep (experiments/separation_law.toml).

For every momentum horizon H, the crossing phase length P*: bracketed between the longest
separated phase that still holds against its interleaved twin and the shortest that does not.
Beside it, the two predictors, measured on the shared warm start at the fork (its last
evaluation, mean over seeds):
- the momentum view: H / R updates, R the one-sided ratio (P* ~ c x H / R);
- the large-batch view: the gradient noise scale B_noise, in characters (a P/P cycle is one
  update over 2P characters, free per character while 2P stays below B_noise, so P* ~ B_noise / 2).
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure

from charff.analysis.paired import role_of
from charff.analysis.results import SweepResult, read_run
from charff.measures.stats import mean_ci
from charff.rundir import warm_start_dir

LAW_JSON, LAW_FIGURE = "law.json", "law.png"


def warm_starts(result: SweepResult) -> dict[int, dict]:
    """seed -> the last evaluation of its shared warm start: the state every arm forked from."""
    return {seed: read_run(warm_start_dir(result.folder, seed)).evals[-1] for seed in result.manifest["seeds"]}


def at_fork(result: SweepResult) -> dict:
    """The predictors measured on the warm starts (one per seed): mean and 95% interval."""
    records = warm_starts(result).values()
    out = {}
    for key in ("one_sided_ratio", "noise_scale"):
        values = [r[key] for r in records if r.get(key) is not None]
        out[key], out[key + "_ci95"] = mean_ci(values) if values else (None, None)
    return out


def crossings(result: SweepResult, paired: list[dict]) -> list[dict]:
    """One entry per horizon: the separated arms' P and verdicts, P*'s bracket and the predictors."""
    fork = at_fork(result)
    by_horizon: dict[float, list[dict]] = {}
    for row in paired:
        if row["role"] == "arm" and row["cycle_chars"]:
            train = result.runs[row["cell"]][0].config().train
            by_horizon.setdefault(train.momentum, []).append({**row, "phase_chars": row["cycle_chars"] // 2,
                                                              "chars_per_update": train.streams * train.accumulate})
    entries = []
    for momentum, arms in sorted(by_horizon.items()):
        arms.sort(key=lambda a: a["phase_chars"])
        per_update = arms[0]["chars_per_update"]
        failing = [a["phase_chars"] for a in arms if a["verdict"] != "holds"]
        first_fail = failing[0] if failing else None
        holding = [a["phase_chars"] for a in arms if a["verdict"] == "holds"
                   and (first_fail is None or a["phase_chars"] < first_fail)]
        horizon = 1 / (1 - momentum)
        ratio = fork["one_sided_ratio"]
        entries.append({
            "momentum": momentum, "horizon_updates": horizon, "horizon_chars": horizon * per_update,
            "arms": {a["cell"]: {"phase_chars": a["phase_chars"], "verdict": a["verdict"]} for a in arms},
            "crossing_above_chars": holding[-1] if holding else None,  # P* is above this (None: below all)
            "crossing_below_chars": first_fail,  # P* is at or below this (None: above every P tried)
            "one_sided_ratio": ratio, "noise_scale_chars": fork["noise_scale"],
            "h_over_r_chars": horizon / ratio * per_update if ratio else None,
        })
    return entries


def bracket(entry: dict, tried: tuple[float, float]) -> tuple[float, float, float]:
    """(point, low, high) of P* on a log axis; an open end is drawn a factor of 2 past the last P tried."""
    low = entry["crossing_above_chars"] or tried[0] / 2
    high = entry["crossing_below_chars"] or tried[1] * 2
    point = math.sqrt(low * high)
    return point, point - low, high - point


def bracket_text(entry: dict) -> str:
    low, high = entry["crossing_above_chars"], entry["crossing_below_chars"]
    if high is None:
        return f"P* > {low:,}" if low else "no separated arm"
    return f"P* in ({low:,}, {high:,}]" if low else f"P* <= {high:,} (every P fails)"


def plot_law(entries: list[dict], path: Path) -> Path:
    """Crossing phase length against each predictor on log axes, with the line P* = predictor."""
    fig = Figure(figsize=(12, 5))
    axes = fig.subplots(1, 2)
    tried = [a["phase_chars"] for e in entries for a in e["arms"].values()]
    limits = (min(tried), max(tried))
    predictors = (("h_over_r_chars", "momentum view: H / R at the fork (characters)"),
                  ("noise_scale_chars", "large-batch view: B_noise / 2 at the fork (characters)"))
    for ax, (key, label) in zip(axes, predictors, strict=True):
        xs = []
        for n, entry in enumerate(entries):
            x = entry[key] / (2 if key == "noise_scale_chars" else 1) if entry[key] else None
            if x is None or x <= 0:
                continue
            y, below, above = bracket(entry, limits)
            # points that share a predictor (one warm start, two horizons) stay visible side by side
            x_drawn = x * 1.08 ** (n - (len(entries) - 1) / 2)
            ax.errorbar([x_drawn], [y], yerr=[[below], [above]], fmt="osD^v"[n % 5], ms=7 - n, capsize=4,
                        mfc="none" if n % 2 else None,
                        label=f"H = {entry['horizon_updates']:,.0f} updates ({entry['horizon_chars']:,.0f} chars): "
                              f"{bracket_text(entry)}")
            xs.append(x)
        span = [min(xs + [limits[0] / 2]) / 2, max(xs + [limits[1] * 2]) * 2]
        ax.plot(span, span, color="gray", ls="--", lw=1, label="P* = predictor")
        for p in sorted(set(tried)):
            ax.axhline(p, color="lightgray", lw=0.8, zorder=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("crossing phase length P* (characters; bar = bracket)")
        ax.grid(alpha=0.3, which="both")
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("where separated phases stop holding against the interleaved twin (grey lines: P tried)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


PANELS = (("goodness_acc", "goodness-readout accuracy"), ("goodness_auc", "goodness AUC, real vs fake"),
          ("softmax_acc", "softmax-readout accuracy"))
STYLES = {"twin": ("black", "interleaved twin"), "null": ("tab:green", "frozen null"),
          "arm": ("tab:red", "separated P/P"), "batch": ("tab:blue", "large-batch twin (one update per 2P)")}


def mean_curve(runs, metric: str, fork: dict[int, dict]) -> tuple[list, list, list]:
    """Mean and 95% half-width per evaluation over seeds, starting from the warm start's last
    evaluation (character 0 after the fork) where the seed has one."""
    evals = [[{**fork[run.config().train.seed], "chars": 0}] * (run.config().train.seed in fork) + run.evals
             for run in runs]
    length = min(len(e) for e in evals)
    points = [mean_ci([seed[i][metric] for seed in evals]) for i in range(length)]
    return [evals[0][i]["chars"] for i in range(length)], [p[0] for p in points], [p[1] for p in points]


def shade_sleep_phases(axes, config) -> None:
    start = 0
    for phase in config.schedule.phases:
        if phase.kind == "sleep":
            for ax in axes:
                ax.axvspan(start, start + phase.chars, color="tab:purple", alpha=0.12, lw=0)
        start += phase.chars


def draw_yardsticks(ax, metric: str, ngram: dict, frozen_random: list) -> None:
    """Unigram and bigram on accuracy panels, chance on AUC panels, frozen-random layers on the softmax one."""
    if metric.endswith("acc"):
        ax.axhline(ngram["1-gram"]["acc"], color="tab:olive", ls=":", lw=1, label="unigram")
        ax.axhline(ngram["2-gram"]["acc"], color="tab:olive", ls="-.", lw=1, label="bigram")
    else:
        ax.axhline(0.5, color="tab:olive", ls=":", lw=1, label="chance (AUC 0.5)")
    if metric == "softmax_acc" and frozen_random:
        level = mean_ci([run.evals[-1]["softmax_acc"] for run in frozen_random])[0]
        ax.axhline(level, color="tab:brown", ls="--", lw=1, label="frozen-random layers (from scratch)")


def plot_law_curves(result: SweepResult, paired: list[dict], momentum: float, path: Path) -> Path:
    """One row per phase length P: the separated arm, its large-batch twin, the interleaved twin and
    the frozen null after the fork (mean and 95% band over seeds), sleep phases shaded; unigram,
    bigram and frozen-random lines where they apply."""
    rows = {r["cell"]: r for r in paired}
    mine = [name for name, runs in result.runs.items() if runs[0].config().train.momentum == momentum]
    role = {name: role_of(result.runs[name][0]) for name in mine}
    arms = sorted((n for n in mine if role[n] == "arm" and n in rows and rows[n]["cycle_chars"]),
                  key=lambda n: rows[n]["cycle_chars"])
    twin = next((n for n in mine if role[n] == "twin"), None)
    null = next((n for n in mine if role[n] == "null"), None)
    frozen_random = [run for runs in result.runs.values() for run in runs
                     if not run.config().train.learner_kind.trains_layers]
    ngram = result.ngram()
    fork = warm_starts(result)
    fig = Figure(figsize=(15, 3.4 * len(arms) + 0.6))
    axes = fig.subplots(len(arms), len(PANELS), squeeze=False)
    for row_axes, arm in zip(axes, arms, strict=True):
        shade_sleep_phases(row_axes, result.runs[arm][0].config())
        shown = [(twin, "twin"), (null, "null"), (arm, "arm"), (rows[arm]["batch_twin"], "batch")]
        for ax, (metric, ylabel) in zip(row_axes, PANELS, strict=True):
            for name, kind in shown:
                if name is None:
                    continue
                chars, means, halves = mean_curve(result.runs[name], metric, fork)
                colour, label = STYLES[kind]
                on_top = kind == "null"  # dashed, on top: a large-batch twin that learns nothing lies on it
                ax.plot(chars, means, color=colour, marker="o", ms=2.5, lw=2.2 if on_top else 1.4, label=label,
                        ls=(0, (4, 2)) if on_top else "-", zorder=4 if on_top else 3)
                ax.fill_between(chars, [m - h for m, h in zip(means, halves, strict=True)],
                                [m + h for m, h in zip(means, halves, strict=True)], color=colour, alpha=0.15, lw=0)
            draw_yardsticks(ax, metric, ngram, frozen_random)
            ax.set_title(f"P = {rows[arm]['cycle_chars'] // 2:,}: {ylabel}", fontsize=9)
            ax.set_xlabel("characters after the fork")
            ax.grid(alpha=0.3)
    handles = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()) + [axes[0][0].axvspan(0, 0, color="tab:purple", alpha=0.12)],
               list(handles) + ["sleep phases of the separated arm"], loc="center right", fontsize=8)
    horizon = 1 / (1 - momentum)
    fig.suptitle(f"{result.manifest['description']}: momentum {momentum} (H = {horizon:,.0f} updates); "
                 f"mean and 95% band over seeds {result.manifest['seeds']}")
    fig.tight_layout(rect=(0, 0, 0.83, 1))
    fig.savefig(path, dpi=110)
    return path
