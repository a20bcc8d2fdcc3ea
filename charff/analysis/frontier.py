"""The separation frontier: for every setting of a forked sweep (learning rate, momentum horizon,
generator, granularity...), how fast the interleaved twin still learns after the fork (its gain
over the frozen null) against what separating the phases costs (separated - twin), both paired by
seed at one read point, on the primary measures of analysis/paired.py.

A setting where separated phases hold (an equivalence) and whose twin learns after the fork is one
where the draft's claim holds in a regime that learns; "holds" where the twin gains nothing is what
a model that stopped learning at the fork would also show. Below the line cost = -gain a separated
arm ends worse than the frozen null.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from matplotlib.figure import Figure

from charff.analysis.law import setting_label
from charff.analysis.paired import ACC, BETTER, BPC, COMMON_AUC, MARGIN, OWN_AUC, auc_measure
from charff.analysis.plots import legend_entries
from charff.analysis.results import SweepResult

FRONTIER_JSON, FRONTIER_FIGURE = "frontier.json", "frontier.png"


def better(diff: dict, metric: str, key: str = "") -> float | None:
    """A difference (or its half-width, key "_ci95"/"_ci90") turned so that positive is better."""
    value = diff[metric + key]
    return None if value is None else value if key or BETTER[metric] > 0 else -value


def entry_of(result: SweepResult, arm: dict) -> dict:
    """One separated arm of the frontier, from its paired row (which carries its twin's gain)."""
    train = result.runs[arm["cell"]][0].config().train
    horizon = train.momentum_horizon  # in updates
    per_update = train.streams * train.accumulate
    gain, cost = arm["twin_vs_null"], arm["vs_twin"]
    auc = auc_measure(cost)
    phase = arm["cycle_chars"] // 2 if arm["cycle_chars"] else None
    return {
        "setting": setting_label(arm["cell"]), "arm": arm["cell"], "twin": arm["twin"], "null": arm["null"],
        "point": arm["point"], "split": arm["split"],
        "optimizer": train.optimizer, "lr": train.lr, "momentum": train.momentum,
        "horizon_updates": horizon, "horizon_chars": horizon * per_update, "chars_per_update": per_update,
        "updates_per_phase": phase / per_update if phase else None,
        # SGD's steady step is lr / (1 - momentum) times the gradient: the speed the frontier trades
        "effective_lr": train.lr * horizon if train.optimizer == "sgd" else None,
        "phase_chars": phase, "seeds": cost["paired_seeds"],
        "auc_measure": "common yardstick" if auc == COMMON_AUC else "own negatives",
        "twin_gain_auc": better(gain, auc), "twin_gain_auc_ci95": better(gain, auc, "_ci95"),
        "twin_gain_bits": better(gain, BPC), "twin_gain_bits_ci95": better(gain, BPC, "_ci95"),
        "twin_gain_acc": gain[ACC], "twin_gain_acc_ci95": gain[f"{ACC}_ci95"],
        "twin_learns": arm["twin_learns"] == "learns after the fork",
        "cost_auc": better(cost, auc), "cost_auc_ci90": better(cost, auc, "_ci90"),
        "cost_bits": better(cost, BPC), "cost_bits_ci90": better(cost, BPC, "_ci90"),
        "cost_acc": cost[ACC], "cost_acc_ci90": cost[f"{ACC}_ci90"],
        "cost_own_auc": cost[OWN_AUC], "cost_own_auc_ci90": cost[f"{OWN_AUC}_ci90"],
        "vs_null_auc": better(arm["vs_null"], auc), "vs_null_auc_ci95": better(arm["vs_null"], auc, "_ci95"),
        "vs_null_bits": better(arm["vs_null"], BPC), "vs_null_bits_ci95": better(arm["vs_null"], BPC, "_ci95"),
        "floors": arm["floors"], "verdict": arm["verdict"],
        "per_seed": {"twin_gain_auc": gain["per_seed"][auc], "cost_auc": cost["per_seed"][auc],
                     "twin_gain_bits": {s: -v for s, v in gain["per_seed"][BPC].items()},
                     "cost_bits": {s: -v for s, v in cost["per_seed"][BPC].items()}},
    }


def frontier(result: SweepResult, paired: list[dict]) -> list[dict]:
    """Every separated arm that has a twin and a null, ordered by learning rate, horizon and phase."""
    entries = [entry_of(result, row) for row in paired
               if row["role"] == "arm" and row["vs_twin"] and row["twin_vs_null"]]
    return sorted(entries, key=lambda e: (-e["lr"], e["horizon_updates"], e["setting"], e["phase_chars"] or 0))


def answer(entries: list[dict]) -> str:
    """The frontier's answer in one sentence: a setting that holds and learns, or the price."""
    def auc(e: dict, key: str, half: str) -> str:
        return f"{e[key]:+.3f}" + (f" ±{e[key + half]:.3f}" if e[key + half] is not None else "")

    both = [e for e in entries if e["verdict"] == "holds" and e["twin_learns"]]
    if both:
        return "holds and learns at " + "; ".join(
            f"{e['setting']}, P = {e['phase_chars']:,} (twin {auc(e, 'twin_gain_auc', '_ci95')} AUC over the null)"
            for e in both)
    said = "no setting both holds and has a twin that learns after the fork"
    held = [e for e in entries if e["verdict"] == "holds"]
    if held:
        said += f"; {len(held)} hold where the twin's gain is not resolved"
    learning = [e for e in entries if e["twin_learns"]]
    if learning:
        cheapest = max(learning, key=lambda e: e["cost_auc"])
        said += (f"; where the twin learns, separation costs at least {auc(cheapest, 'cost_auc', '_ci90')} "
                 f"common AUC ({cheapest['setting']}, P = {cheapest['phase_chars']:,}: {cheapest['verdict']})")
    below = sum(e["verdict"] == "below the frozen null" for e in entries)
    return said + f"; {below} of {len(entries)} separated arms end below the frozen null"


PANELS = (("auc", "common goodness AUC", MARGIN[COMMON_AUC]), ("bits", "product readout, bits/char saved",
                                                                 MARGIN[BPC]))
MARKERS = "osD^v<>pPX*h"
MAX_SERIES = 10  # per panel; more settings are drawn as small multiples


def plot_frontier(entries: list[dict], path: Path, title: str) -> Path:
    """Cost (separated - twin) against the twin's gain over the null, one point per separated arm
    with its intervals (cost: 90%, the equivalence test's; gain: 95%), on both primary measures, in
    rows of at most MAX_SERIES settings; the holds margin shaded and the line below which an arm
    ends under the frozen null (cost = -gain). Colour: setting; marker: phase length."""
    settings = list(dict.fromkeys(e["setting"] for e in entries))
    chunks = [settings[i:i + MAX_SERIES] for i in range(0, len(settings), MAX_SERIES)]
    lengths = sorted({e["phase_chars"] or 0 for e in entries})
    fig = Figure(figsize=(17, 6.5 * len(chunks)))
    axes = fig.subplots(len(chunks), 2, squeeze=False)
    for row_axes, chunk in zip(axes, chunks, strict=True):
        for ax, (key, measure, margin) in zip(row_axes, PANELS, strict=True):
            mine = [e for e in entries if e["setting"] in chunk and e[f"cost_{key}"] is not None]
            ax.axhspan(-margin, margin, color="tab:green", alpha=0.12, lw=0,
                       label="holds margin: within 0.02 AUC / 0.05 bits/char of the twin")
            ax.axhline(0, color="gray", lw=0.8)
            ax.axvline(0, color="gray", lw=0.8, ls="--", label="twin gains nothing over the frozen null")
            for e in mine:
                colour = f"C{chunk.index(e['setting']) % 10}"
                marker = MARKERS[lengths.index(e["phase_chars"] or 0) % len(MARKERS)]
                ax.errorbar([e[f"twin_gain_{key}"]], [e[f"cost_{key}"]], xerr=[[e[f"twin_gain_{key}_ci95"] or 0]],
                            yerr=[[e[f"cost_{key}_ci90"] or 0]], fmt=marker, color=colour, capsize=4, lw=1.3,
                            ms=11 - 2 * (chunk.index(e["setting"]) % 4),  # points that coincide stay visible
                            mfc=colour if e["verdict"] == "holds" else "white",
                            label=f"{e['setting']}, P = {e['phase_chars']:,} "
                                  f"({e['updates_per_phase']:.0f} updates): {e['verdict']}")
            span = ax.get_xlim()  # the line across every point drawn
            ax.plot(span, [-g for g in span], color="tab:red", lw=1.2, ls="-.",
                    label="cost = -gain: below this line, separated ends under the frozen null")
            ax.set_xlim(span)
            ax.set_xlabel(f"interleaved twin's gain over the frozen null after the fork\n({measure}; bar: 95%)")
            ax.set_ylabel(f"separated - twin ({measure}; bar: 90%)")
            ax.grid(alpha=0.3)
    handles = legend_entries(axes.flat)
    fig.legend(list(handles.values()), list(handles), fontsize=8, loc="outside right center",
               title="filled: holds; colour: setting; marker: phase length", title_fontsize=8)
    fig.suptitle("\n".join(textwrap.wrap(title, 120)), fontsize=10)
    fig.set_layout_engine("constrained")
    fig.savefig(path, dpi=110)
    return path
