"""Paired comparisons: every setting of a sweep against its interleaved twin and its frozen null,
seed by seed, with 95% intervals over seeds, and one verdict per setting.

Settings are grouped by everything but their schedule and update granularity (train.accumulate);
in a group the twin is the interleaved setting with one update per step, the null is the frozen
one, and a separated P/P setting's large-batch twin is the interleaved one whose update covers the
characters of one cycle, 2P. Seeds pair up: in a forked sweep the arms of one seed share their
warm start, text and random numbers, so a difference of one seed cancels what they share.

Verdicts, on the goodness readout's final accuracy (FF's own signal):
- "indistinguishable from the frozen null": the gain over the null is not above 0 (95% interval);
- "holds": its shortfall behind the twin stays within MARGIN (the interval's lower end);
- "falls behind": otherwise.
"""

from __future__ import annotations

from charff.analysis.results import RunResult, SweepResult
from charff.analysis.stats import mean_ci

METRICS = ("goodness_acc", "goodness_auc", "product_acc", "softmax_acc")
VERDICT_METRIC, MARGIN = "goodness_acc", 0.02
VARIES = ("train.schedule", "train.accumulate")  # what may differ between a setting and its twin
# nor do these change what is learned: when and how a run is evaluated and measured, where it forked from
IGNORED = ("train.seed", "train.fork_from", "train.eval", "train.measure_gradients")


def group_of(run: RunResult) -> tuple:
    from charff.config import flatten

    flat = flatten(run.config().to_dict())
    return tuple(sorted((k, str(v)) for k, v in flat.items() if not k.startswith(VARIES + IGNORED)))


def role_of(run: RunResult) -> str:
    train = run.config().train
    if train.schedule == "frozen":
        return "null"
    if train.schedule == "interleaved":
        return "twin" if train.accumulate == 1 else "batch"
    return "arm"


def cycle_chars(run: RunResult) -> int | None:
    """Characters of one wake/sleep cycle of a separated arm (2P), of one update of a large-batch twin."""
    from charff.training.schedule import is_auto, schedule_of

    config = run.config()
    if config.train.schedule == "interleaved":
        return config.train.streams * config.train.accumulate
    if is_auto(config.train.schedule):  # its cycles change as it goes
        return None
    phases = [p for p in schedule_of(config) if p.kind in ("wake", "sleep")]
    return phases[0].chars + phases[1].chars if len(phases) >= 2 else None


def batch_twin(result: SweepResult, arm: str, batches: list[str]) -> str | None:
    """The large-batch setting whose update is closest to the arm's cycle, within one batch of streams."""
    cycle = cycle_chars(result.runs[arm][0])
    if cycle is None or not batches:
        return None
    best = min(batches, key=lambda name: abs(cycle_chars(result.runs[name][0]) - cycle))
    streams = result.runs[best][0].config().train.streams
    return best if abs(cycle_chars(result.runs[best][0]) - cycle) <= streams else None


def finals(runs: list[RunResult]) -> dict[int, dict]:
    """seed -> the final evaluation's metrics."""
    return {run.config().train.seed: {m: run.evals[-1].get(m) for m in METRICS} for run in runs}


def differences(mine: dict, theirs: dict) -> dict:
    """Per metric, the mean and 95% half-width of mine - theirs over the seeds both have."""
    seeds = sorted(set(mine) & set(theirs))
    out = {"paired_seeds": len(seeds)}
    for metric in METRICS:
        values = [mine[s][metric] - theirs[s][metric] for s in seeds
                  if mine[s][metric] is not None and theirs[s][metric] is not None]
        out[metric], out[metric + "_ci95"] = mean_ci(values) if values else (None, None)
    return out


def verdict(vs_twin: dict | None, vs_null: dict | None) -> str:
    if vs_null is not None and vs_null[VERDICT_METRIC] is not None:
        if vs_null[VERDICT_METRIC] - vs_null[VERDICT_METRIC + "_ci95"] <= 0:
            return "indistinguishable from the frozen null"
    if vs_twin is None or vs_twin[VERDICT_METRIC] is None:
        return "learns after the fork" if vs_null is not None else "no twin"
    return "holds" if vs_twin[VERDICT_METRIC] - vs_twin[VERDICT_METRIC + "_ci95"] >= -MARGIN else "falls behind"


def paired_rows(result: SweepResult) -> list[dict]:
    """One row per setting that has a twin or a null in its group."""
    groups: dict[tuple, dict[str, list[str]]] = {}
    for name, runs in result.runs.items():
        groups.setdefault(group_of(runs[0]), {}).setdefault(role_of(runs[0]), []).append(name)
    rows = []
    for roles in groups.values():
        twin = finals(result.runs[roles["twin"][0]]) if "twin" in roles else None
        null = finals(result.runs[roles["null"][0]]) if "null" in roles else None
        for role in ("twin", "batch", "arm"):
            for name in roles.get(role, []):
                mine = finals(result.runs[name])
                vs_twin = differences(mine, twin) if twin is not None and role != "twin" else None
                vs_null = differences(mine, null) if null is not None else None
                batch = batch_twin(result, name, roles.get("batch", [])) if role == "arm" else None
                vs_batch = differences(mine, finals(result.runs[batch])) if batch else None
                if vs_twin is None and vs_null is None:
                    continue
                rows.append({"cell": name, "role": role, "cycle_chars": cycle_chars(result.runs[name][0]),
                             "vs_twin": vs_twin, "vs_null": vs_null, "batch_twin": batch, "vs_batch": vs_batch,
                             "verdict": verdict(vs_twin, vs_null)})
    return rows


def paired_markdown(rows: list[dict]) -> str:
    def cell(diff: dict | None, metric: str, scale: float, digits: int) -> str:
        if diff is None or diff[metric] is None:
            return "-"
        return f"{diff[metric] * scale:+.{digits}f} ±{diff[metric + '_ci95'] * scale:.{digits}f}"

    lines = ["| setting | role | goodness acc - twin (points) | AUC - twin | goodness acc - null (points) | "
             "AUC - null | goodness acc - large-batch twin (points) | seeds | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        seeds = (row["vs_twin"] or row["vs_null"])["paired_seeds"]
        diffs = [cell(row["vs_twin"], "goodness_acc", 100, 1), cell(row["vs_twin"], "goodness_auc", 1, 3),
                 cell(row["vs_null"], "goodness_acc", 100, 1), cell(row["vs_null"], "goodness_auc", 1, 3),
                 cell(row["vs_batch"], "goodness_acc", 100, 1)]
        lines.append(f"| {row['cell']} | {row['role']} | {' | '.join(diffs)} | {seeds} | {row['verdict']} |")
    return "\n".join(lines) + "\n"
