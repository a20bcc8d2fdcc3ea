"""The separation frontier (experiments/separation_frontier.toml): for every learning rate and
momentum horizon, how fast the interleaved twin still learns after the fork (its gain over the
frozen null) against what separating the phases costs (separated - twin), both paired by seed.

A setting where separated phases hold (an equivalence, analysis/paired.py) and whose twin gains
measurably over the null is one where the draft's claim holds in a regime that learns; "holds"
where the twin gains nothing is what a model that stopped learning at the fork would also show.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from matplotlib.figure import Figure

from charff.analysis.law import setting_label
from charff.analysis.paired import ACC, COMMON_AUC, OWN_AUC, auc_measure, interval
from charff.analysis.plots import legend_entries
from charff.analysis.results import SweepResult
from charff.schedule import momentum_horizon

FRONTIER_JSON, FRONTIER_FIGURE = "frontier.json", "frontier.png"
GAIN_NEEDED = 0.04  # a twin "learns" when its gain's 95% interval is above zero and its mean this high


def entry_of(result: SweepResult, arm: dict, twin: dict) -> dict:
    """One (setting, separated arm) of the frontier, from the arm's and its twin's paired rows."""
    train = result.runs[arm["cell"]][0].config().train
    horizon = momentum_horizon(train)  # in updates
    per_update = train.streams * train.accumulate
    gain, cost = twin["vs_null"], arm["vs_twin"]
    auc = auc_measure(cost)
    gain_span = interval(gain, ACC)
    learns = gain_span is not None and gain_span[0] > 0 and gain[ACC] >= GAIN_NEEDED
    return {
        "setting": setting_label(arm["cell"]), "arm": arm["cell"], "twin": twin["cell"],
        "optimizer": train.optimizer, "lr": train.lr, "momentum": train.momentum,
        "horizon_updates": horizon, "horizon_chars": horizon * per_update,
        # SGD's steady step is lr / (1 - momentum) times the gradient: the speed the frontier trades
        "effective_lr": train.lr * horizon if train.optimizer == "sgd" else None,
        "phase_chars": arm["cycle_chars"] // 2 if arm["cycle_chars"] else None,
        "seeds": cost["paired_seeds"],
        "twin_gain": gain[ACC], "twin_gain_ci95": gain[f"{ACC}_ci95"],
        "twin_gain_auc": gain[auc_measure(gain)], "twin_gain_auc_ci95": gain[f"{auc_measure(gain)}_ci95"],
        "twin_learns": learns,
        "cost": cost[ACC], "cost_ci90": cost[f"{ACC}_ci90"], "cost_ci95": cost[f"{ACC}_ci95"],
        "auc_measure": "common yardstick" if auc == COMMON_AUC else "own negatives",
        "cost_auc": cost[auc], "cost_auc_ci90": cost[f"{auc}_ci90"],
        "cost_own_auc": cost[OWN_AUC], "cost_own_auc_ci90": cost[f"{OWN_AUC}_ci90"],
        "vs_null": arm["vs_null"][ACC] if arm["vs_null"] else None,
        "vs_null_ci95": arm["vs_null"][f"{ACC}_ci95"] if arm["vs_null"] else None,
        "verdict": arm["verdict"],
        "per_seed": {"twin_gain": gain["per_seed"][ACC], "cost": cost["per_seed"][ACC],
                     "cost_auc": cost["per_seed"][auc]},
    }


def frontier(result: SweepResult, paired: list[dict]) -> list[dict]:
    """Every separated arm beside its setting's twin, ordered by learning rate then horizon."""
    settings = result.settings_without_schedule()
    twins = {settings[r["cell"]]: r for r in paired if r["role"] == "twin" and r["vs_null"]}
    entries = [entry_of(result, row, twins[settings[row["cell"]]]) for row in paired
               if row["role"] == "arm" and row["vs_twin"] and settings[row["cell"]] in twins]
    return sorted(entries, key=lambda e: (-e["lr"], e["horizon_updates"], e["phase_chars"] or 0))


def points(mean: float, half: float | None) -> str:
    """A difference in points, with its interval where there is one."""
    return f"{mean * 100:+.1f}" + (f" ±{half * 100:.1f}" if half is not None else "")


def answer(entries: list[dict]) -> str:
    """The frontier's answer in one sentence: a setting that holds and learns, or the price."""
    both = [e for e in entries if e["verdict"] == "holds" and e["twin_learns"]]
    if both:
        return "holds and learns at " + "; ".join(
            f"{e['setting']} (twin +{e['twin_gain'] * 100:.1f} points over the null)" for e in both)
    held = [e for e in entries if e["verdict"] == "holds"]
    learning = [e for e in entries if e["twin_learns"]]
    said = "no setting both holds and has a twin that learns measurably"
    if held:
        fastest = max(held, key=lambda e: e["twin_gain"])
        said += (f"; holding settings' twins gain at most {points(fastest['twin_gain'], fastest['twin_gain_ci95'])} "
                 f"points over the null ({fastest['setting']})")
    if learning:
        cheapest = max(learning, key=lambda e: e["cost"])
        cost = points(cheapest["cost"], cheapest["cost_ci90"])
        said += f"; where the twin learns, separation costs at least {cost} points ({cheapest['setting']}: " \
                f"{cheapest['verdict']})"
    return said


PANELS = (("twin_gain", "cost", 100, 2.0, "goodness-readout accuracy, points"),
          ("twin_gain_auc", "cost_auc", 1, 0.02, "goodness AUC"))


def plot_frontier(entries: list[dict], path: Path, title: str) -> Path:
    """Cost (separated - twin) against the twin's gain over the null, one point per setting with
    its intervals (cost: 90%, the equivalence test's; gain: 95%), on goodness-readout accuracy and
    on the AUC the verdicts read (the common yardstick's); the holds margin shaded."""
    fig = Figure(figsize=(17, 7))
    axes = fig.subplots(1, 2)
    markers = "osD^v<>pPX*h"
    horizons = sorted({e["horizon_updates"] for e in entries})
    rates = sorted({e["lr"] for e in entries}, reverse=True)
    several_lengths = len({e["phase_chars"] for e in entries}) > 1  # then each label names its P
    for ax, (gain, cost, scale, margin, measure) in zip(axes, PANELS, strict=True):
        ax.axhspan(-margin, margin, color="tab:green", alpha=0.12, lw=0,
                   label="holds margin: within 2 points / 0.02 AUC of the twin")
        ax.axhline(0, color="gray", lw=0.8)
        if scale == 100:
            ax.axvline(GAIN_NEEDED * 100, color="tab:blue", ls=":", lw=1.2,
                       label=f"twin gain of {GAIN_NEEDED * 100:.0f} points (a twin that learns)")
        ax.axvline(0, color="gray", lw=0.8, ls="--", label="twin gains nothing over the frozen null")
        for e in entries:
            colour = f"C{rates.index(e['lr']) % 10}"
            marker = markers[horizons.index(e["horizon_updates"]) % len(markers)]
            # one seed has no interval: no bar
            ax.errorbar([e[gain] * scale], [e[cost] * scale], xerr=[[(e[f"{gain}_ci95"] or 0) * scale]],
                        yerr=[[(e[f"{cost}_ci90"] or 0) * scale]], fmt=marker, color=colour, ms=8, capsize=4, lw=1.3,
                        mfc="white" if e["verdict"] != "holds" else colour,
                        label=f"lr {e['lr']:g}, H {e['horizon_updates']:,.0f} updates "
                              f"({e['horizon_chars'] / 1e6:.1f}M chars)"
                              + (f", P = {e['phase_chars']:,}" if several_lengths else "") + f": {e['verdict']}")
        ax.set_xlabel(f"interleaved twin's gain over the frozen null after the fork\n({measure}; bar: 95% interval)")
        ax.set_ylabel(f"separated - interleaved twin ({measure}; bar: 90% interval)")
        ax.grid(alpha=0.3)
    handles = legend_entries(axes)
    fig.legend(list(handles.values()), list(handles), fontsize=8, loc="outside right center",
               title="filled: holds; colour: learning rate; marker: horizon", title_fontsize=8)
    fig.suptitle("\n".join(textwrap.wrap(title, 120)), fontsize=10)
    fig.set_layout_engine("constrained")
    fig.savefig(path, dpi=110)
    return path
