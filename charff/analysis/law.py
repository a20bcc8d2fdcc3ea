"""The separation law read off a forked sweep (experiments/separation_law.toml,
experiments/separation_breaks.toml).

For every setting apart from its schedule (a momentum horizon H, a learning rate), the crossing
phase length P*: bracketed between the longest separated phase that holds against its interleaved
twin (an equivalence, see analysis/paired.py) and the shortest that falls behind it or below the
frozen null. A phase whose verdict is "not resolved" counts for neither, so a bracket may stay
open at either end; an open end is drawn as an arrow, never as a point. Beside it, the two
predictors, measured on the warm start at the fork (its last evaluation, mean over seeds):
- the momentum view: H / R updates, R the one-sided ratio (P* ~ c x H / R);
- the large-batch view: the gradient noise scale B_noise, in characters (a P/P cycle is one
  update over 2P characters, free per character while 2P stays below B_noise, so P* ~ B_noise / 2).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from matplotlib.figure import Figure

from charff.analysis.plots import legend_entries, yardsticks
from charff.analysis.results import RunResult, SweepResult, read_run
from charff.measures.stats import mean_ci
from charff.rundir import FORK_DIR

LAW_JSON, LAW_FIGURE = "law.json", "law.png"
FAILS = ("falls behind", "below the frozen null")


def warm_start_of(result: SweepResult, run: RunResult) -> Path | None:
    """The warm start a cell forked from, found inside the sweep's folder wherever it now lies."""
    fork = run.config().train.fork_from
    if not fork:
        return None
    parts = Path(fork).parts
    return result.folder.joinpath(*parts[len(parts) - 1 - parts[::-1].index(FORK_DIR):])


def fork_records(result: SweepResult, runs: list[RunResult]) -> dict[int, dict]:
    """seed -> the last evaluation of the warm start each of these runs forked from."""
    out = {}
    for run in runs:
        trunk = warm_start_of(result, run)
        if trunk is not None:
            out[run.config().train.seed] = read_run(trunk).evals[-1]
    return out


def at_fork(records: list[dict]) -> dict:
    """The predictors measured on the warm starts (one per seed): mean and 95% interval."""
    out = {}
    for key in ("one_sided_ratio", "noise_scale"):
        values = [r[key] for r in records if r.get(key) is not None]
        out[key], out[key + "_ci95"] = mean_ci(values) if values else (None, None)
    return out


def setting_label(cell: str) -> str:
    """A cell's name without its arm or schedule: the label of what its twin, null and separated
    arms share (results.setting_without_schedule is the key that groups them)."""
    return ",".join(part for part in cell.split(",") if not part.startswith(("arm=", "schedule="))) or "base"


def crossings(result: SweepResult, paired: list[dict]) -> list[dict]:
    """One entry per setting apart from the schedule: the separated arms' P and verdicts, P*'s
    bracket and the predictors at the fork."""
    settings = result.settings_without_schedule()
    groups: dict[tuple, list[dict]] = {}
    for row in paired:
        if row["role"] == "arm" and row["cycle_chars"]:
            groups.setdefault(settings[row["cell"]], []).append(row)
    entries = []
    for arms in groups.values():
        arms.sort(key=lambda a: a["cycle_chars"])
        runs = result.runs[arms[0]["cell"]]
        config = runs[0].config()
        horizon = config.train.momentum_horizon  # in updates
        per_update = config.train.streams * config.train.accumulate
        fork = at_fork(list(fork_records(result, runs).values()))
        phases = [(a["cycle_chars"] // 2, a["verdict"]) for a in arms]
        failing = [p for p, said in phases if said in FAILS]
        first_fail = failing[0] if failing else None
        holding = [p for p, said in phases if said == "holds" and (first_fail is None or p < first_fail)]
        bracket = {"crossing_above_chars": holding[-1] if holding else None,  # P* above this (None: not shown)
                   "crossing_below_chars": first_fail}  # P* at or below this (None: not shown)
        ratio = fork["one_sided_ratio"]
        entries.append({
            "setting": setting_label(arms[0]["cell"]), "optimizer": config.train.optimizer, "lr": config.train.lr,
            "momentum": config.train.momentum, "horizon_updates": horizon, "horizon_chars": horizon * per_update,
            "arms": {a["cell"]: {"phase_chars": a["cycle_chars"] // 2, "verdict": a["verdict"]} for a in arms},
            **bracket, "bracket": bracket_text(bracket),
            "one_sided_ratio": ratio, "noise_scale_chars": fork["noise_scale"],
            "h_over_r_chars": horizon / ratio * per_update if ratio else None,
        })
    return entries


def bracket_text(entry: dict) -> str:
    low, high = entry["crossing_above_chars"], entry["crossing_below_chars"]
    if low is None and high is None:
        return "P* not bracketed: no phase length resolved"
    if high is None:
        return f"P* > {low:,} (open above: no longer phase fell behind)"
    if low is None:
        return f"P* <= {high:,} (open below: no shorter phase resolved as holding)"
    return f"P* in ({low:,}, {high:,}]"


def draw_bracket(ax, x: float, entry: dict, tried: tuple[float, float], style: dict) -> None:
    """A closed bracket as a bar between its ends; an open end as an arrow from the end it has,
    pointing where P* may lie, with no point drawn at an invented place."""
    low, high = entry["crossing_above_chars"], entry["crossing_below_chars"]
    if low is not None and high is not None:
        ax.plot([x, x], [low, high], lw=3, solid_capstyle="butt", **style)
        ax.plot([x, x], [low, high], ls="none", marker="_", ms=14, color=style["color"])
    elif low is not None or high is not None:
        start = low if low is not None else high
        end = tried[1] * 1.8 if low is not None else tried[0] / 1.8
        ax.annotate("", xy=(x, end), xytext=(x, start),
                    arrowprops={"arrowstyle": "-|>", "lw": 2.5, "color": style["color"]})
        ax.plot([x], [start], ls="none", marker="_", ms=14, **style)


PREDICTORS = (("horizon_chars", "momentum horizon H (characters)", 1),
              ("h_over_r_chars", "momentum view: H / R at the fork (characters)", 1),
              ("noise_scale_chars", "large-batch view: B_noise / 2 at the fork (characters)", 2))


def plot_law(entries: list[dict], path: Path) -> Path:
    """Crossing phase length against the horizon and each predictor measured at the fork (the
    panels the entries have numbers for), log axes, with the line P* = predictor."""
    predictors = [p for p in PREDICTORS if any(e[p[0]] for e in entries)]
    fig = Figure(figsize=(max(12, 6 * len(predictors)), 5.2))
    axes = fig.subplots(1, len(predictors), squeeze=False)[0]
    tried = [a["phase_chars"] for e in entries for a in e["arms"].values()]
    limits = (min(tried), max(tried))
    colours = [f"C{n}" for n in range(10)]
    for ax, (key, label, divisor) in zip(axes, predictors, strict=True):
        xs = []
        for n, entry in enumerate(entries):
            x = entry[key] / divisor if entry[key] else None
            if x is None or x <= 0:
                continue
            # entries that share a predictor (one warm start, two horizons) stay visible side by side
            x_drawn = x * 1.08 ** (n - (len(entries) - 1) / 2)
            style = {"color": colours[n % 10], "label": f"{entry['setting']} (H = {entry['horizon_updates']:,.0f} "
                                                        f"updates): {entry['bracket']}"}
            draw_bracket(ax, x_drawn, entry, limits, style)
            xs.append(x)
        span = [min(xs + [limits[0] / 2]) / 2, max(xs + [limits[1] * 2]) * 2]
        ax.plot(span, span, color="gray", ls="--", lw=1, label="P* = predictor")
        for p in sorted(set(tried)):
            ax.axhline(p, color="lightgray", lw=0.8, zorder=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(limits[0] / 2.5, limits[1] * 2.5)
        ax.set_xlabel(label)
        ax.set_ylabel("crossing phase length P* (characters)")
        ax.grid(alpha=0.3, which="both")
    handles = legend_entries(axes)
    fig.legend(list(handles.values()), list(handles), loc="lower center", fontsize=8, ncol=1)
    fig.suptitle("where separated phases stop holding against the interleaved twin\n(bar: bracket; arrow: open "
                 "bracket, P* lies that way; grey lines: P tried)")
    fig.tight_layout(rect=(0, 0.08 + 0.04 * len(entries), 1, 1))
    fig.savefig(path, dpi=120)
    return path


PANELS = (("goodness_auc_common", "common AUC (verdicts)"),
          ("product_bpc", "product bits/char (verdicts)"),
          ("goodness_acc", "goodness-readout accuracy"))
STYLES = {"twin": ("black", "interleaved twin"), "null": ("tab:green", "frozen null"),
          "arm": ("tab:red", "separated P/P"), "batch": ("tab:blue", "large-batch twin (one update per 2P)")}


def mean_curve(runs, metric: str, fork: dict[int, dict]) -> tuple[list, list, list]:
    """Mean and 95% half-width per evaluation over seeds, starting from the warm start's last
    evaluation (character 0 after the fork) where the seed has one."""
    evals = [[{**fork[run.config().train.seed], "chars": 0}] * (metric in fork.get(run.config().train.seed, {}))
             + [r for r in run.evals if metric in r] for run in runs]
    length = min(len(e) for e in evals)
    points = [mean_ci([seed[i][metric] for seed in evals]) for i in range(length)]
    return [evals[0][i]["chars"] for i in range(length)], [p[0] for p in points], [p[1] for p in points]


def shade_sleep_phases(axes, config) -> None:
    start = 0
    for phase in config.plan.phases:
        if phase.sleep_only:
            for ax in axes:
                ax.axvspan(start, start + phase.chars, color="tab:purple", alpha=0.12, lw=0)
        start += phase.chars


def draw_yardsticks(ax, metric: str, ngram: dict, frozen_random: list) -> None:
    """The n-gram lines on accuracy panels, chance on AUC panels, frozen-random layers on the softmax one."""
    frozen = mean_ci([run.evals[-1]["softmax_acc"] for run in frozen_random])[0] \
        if metric == "softmax_acc" and frozen_random else None
    yardsticks(ax, "auc" if "auc" in metric else metric.rsplit("_", 1)[1], ngram, frozen)


def plot_law_curves(result: SweepResult, paired: list[dict], entry: dict, path: Path) -> Path:
    """One row per phase length P of one setting: the separated arm, its large-batch twin, the
    interleaved twin and the frozen null after the fork (mean and 95% band over seeds), sleep
    phases shaded; unigram, bigram and frozen-random lines where they apply."""
    rows = {r["cell"]: r for r in paired}
    settings = result.settings_without_schedule()
    mine = [name for name, setting in settings.items() if setting == settings[next(iter(entry["arms"]))]]
    arms = sorted((n for n in mine if n in rows and rows[n]["role"] == "arm" and rows[n]["cycle_chars"]),
                  key=lambda n: rows[n]["cycle_chars"])
    twin = rows[arms[0]]["twin"]
    frozen_random = [run for runs in result.runs.values() for run in runs
                     if not run.config().train.learner_kind.trains_layers]
    ngram = result.ngram()
    fork = fork_records(result, result.runs[twin or arms[0]])
    fig = Figure(figsize=(15, 3.4 * len(arms) + 0.6))
    axes = fig.subplots(len(arms), len(PANELS), squeeze=False)
    for row_axes, arm in zip(axes, arms, strict=True):
        shade_sleep_phases(row_axes, result.runs[arm][0].config())
        shown = [(rows[arm]["twin"], "twin"), (rows[arm]["null"], "null"), (arm, "arm"),
                 (rows[arm]["batch_twin"], "batch")]
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
    handles = legend_entries(axes.flat)
    fig.legend(list(handles.values()) + [axes[0][0].axvspan(0, 0, color="tab:purple", alpha=0.12)],
               list(handles) + ["sleep phases of the separated arm"], loc="center right", fontsize=8)
    title = (f"{result.manifest['description']}. {entry['setting']} (H = {entry['horizon_updates']:,.0f} updates); "
             f"mean and 95% band over seeds {result.manifest['seeds']}; verdicts: "
             + ", ".join(f"P = {a['phase_chars']:,} {a['verdict']}" for a in entry["arms"].values()))
    lines = textwrap.wrap(title, 130)
    fig.suptitle("\n".join(lines), fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.78, 1 - 0.22 * len(lines) / fig.get_figheight()))
    fig.savefig(path, dpi=110)
    return path
