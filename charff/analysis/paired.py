"""Paired comparisons: every setting of a sweep against its interleaved twin and its frozen null,
seed by seed, with 95% intervals over seeds, and one verdict per setting.

Settings are grouped by everything but their schedule and update granularity (train.accumulate);
in a group the twin is the interleaved setting with one update per step, the null is the frozen
one, and a separated P/P setting's large-batch twin is the interleaved one whose update covers the
characters of one cycle, 2P. Seeds pair up: in a forked sweep the arms of one seed share their
warm start, text and random numbers, so a difference of one seed cancels what they share.

Verdicts, on FF's own signals at the end: the goodness readout's accuracy and the goodness AUC
(real windows against the run's configured negatives), on the validation split at the last
evaluation or on the test split the finished model was scored on once, with the margins the
project has always used for a crossing (2 points, 0.02 AUC):
- "indistinguishable from the frozen null": on neither measure is the difference from the null
  outside its 95% interval;
- "below the frozen null": on some measure the whole interval lies below zero;
- otherwise, against the twin's mean: "holds" when the mean shortfall is within the margin on both
  measures, "falls behind" when it is not. `resolved` says whether the 95% interval lies wholly
  on that side of the margin on the deciding measure(s): with 3 seeds it often does not.
"""

from __future__ import annotations

from charff.analysis.results import RunResult, SweepResult
from charff.measures.stats import mean_ci

METRICS = ("goodness_acc", "goodness_auc", "product_acc", "softmax_acc")
MARGINS = {"goodness_acc": 0.02, "goodness_auc": 0.02}  # what "within" a twin means, per measure
VARIES = ("train.schedule", "train.accumulate")  # what may differ between a setting and its twin
# nor do these change what is learned: when and how a run is evaluated and measured, where it forked from
IGNORED = ("train.seed", "train.fork_from", "train.eval", "train.measure_gradients")


def group_of(run: RunResult) -> tuple:
    from charff.config import flatten

    flat = flatten(run.config().to_dict())
    return tuple(sorted((k, str(v)) for k, v in flat.items() if not k.startswith(VARIES + IGNORED)))


def role_of(run: RunResult) -> str:
    config = run.config()
    if config.schedule.frozen:
        return "null"
    if config.schedule.interleaved:
        return "twin" if config.train.accumulate == 1 else "batch"
    return "arm"


def cycle_chars(run: RunResult) -> int | None:
    """Characters of one wake/sleep cycle of a separated arm (2P), of one update of a large-batch twin."""
    config = run.config()
    if config.schedule.interleaved:
        return config.train.streams * config.train.accumulate
    if config.schedule.auto:  # its cycles change as it goes
        return None
    phases = config.schedule.separated_phases()
    return phases[0].chars + phases[1].chars if len(phases) >= 2 else None


def batch_twin(result: SweepResult, arm: str, batches: list[str]) -> str | None:
    """The large-batch setting whose update is closest to the arm's cycle, within one batch of streams."""
    cycle = cycle_chars(result.runs[arm][0])
    if cycle is None or not batches:
        return None
    best = min(batches, key=lambda name: abs(cycle_chars(result.runs[name][0]) - cycle))
    streams = result.runs[best][0].config().train.streams
    return best if abs(cycle_chars(result.runs[best][0]) - cycle) <= streams else None


def finals(runs: list[RunResult], split: str = "val") -> dict[int, dict]:
    """seed -> the finished model's metrics: the last evaluation's (val) or the test split's."""
    def scores(run: RunResult) -> dict:
        return run.evals[-1] if split == "val" else (run.summary or {}).get("test") or {}

    return {run.config().train.seed: {m: scores(run).get(m) for m in METRICS} for run in runs}


def has_test_split(result: SweepResult) -> bool:
    """Whether every run was scored on a test split (runs from before it existed were not)."""
    return all((run.summary or {}).get("test") for runs in result.runs.values() for run in runs)


def differences(mine: dict, theirs: dict) -> dict:
    """Per metric, the mean and 95% half-width of mine - theirs over the seeds both have."""
    seeds = sorted(set(mine) & set(theirs))
    out = {"paired_seeds": len(seeds)}
    for metric in METRICS:
        values = [mine[s][metric] - theirs[s][metric] for s in seeds
                  if mine[s][metric] is not None and theirs[s][metric] is not None]
        out[metric], out[metric + "_ci95"] = mean_ci(values) if values else (None, None)
    return out


def interval(diff: dict, metric: str) -> tuple[float, float] | None:
    if diff is None or diff[metric] is None:
        return None
    return diff[metric] - diff[metric + "_ci95"], diff[metric] + diff[metric + "_ci95"]


def verdict(vs_twin: dict | None, vs_null: dict | None) -> str:
    if vs_null is not None:
        spans = [s for s in (interval(vs_null, m) for m in MARGINS) if s is not None]
        if any(high < 0 for _, high in spans):
            return "below the frozen null"
        if spans and not any(low > 0 for low, _ in spans):
            return "indistinguishable from the frozen null"
    if vs_twin is None or vs_twin["goodness_acc"] is None:
        return "learns after the fork" if vs_null is not None else "no twin"
    within = all(vs_twin[m] >= -margin for m, margin in MARGINS.items())
    return "holds" if within else "falls behind"


def resolved(vs_twin: dict | None, holds: bool) -> bool | None:
    """Whether the 95% intervals agree with the verdict against the twin: every interval's lower end
    within the margin (holds), or some interval wholly beyond it (falls behind)."""
    spans = {m: interval(vs_twin, m) for m in MARGINS}
    if vs_twin is None or any(span is None for span in spans.values()):
        return None
    if holds:
        return all(spans[m][0] >= -MARGINS[m] for m in MARGINS)
    return any(spans[m][1] < -MARGINS[m] for m in MARGINS)


def paired_rows(result: SweepResult, split: str = "val") -> list[dict]:
    """One row per setting that has a twin or a null in its group, on one split's numbers."""
    groups: dict[tuple, dict[str, list[str]]] = {}
    for name, runs in result.runs.items():
        groups.setdefault(group_of(runs[0]), {}).setdefault(role_of(runs[0]), []).append(name)
    rows = []
    for roles in groups.values():
        twin = finals(result.runs[roles["twin"][0]], split) if "twin" in roles else None
        null = finals(result.runs[roles["null"][0]], split) if "null" in roles else None
        for role in ("twin", "batch", "arm"):
            for name in roles.get(role, []):
                mine = finals(result.runs[name], split)
                vs_twin = differences(mine, twin) if twin is not None and role != "twin" else None
                vs_null = differences(mine, null) if null is not None else None
                batch = batch_twin(result, name, roles.get("batch", [])) if role == "arm" else None
                vs_batch = differences(mine, finals(result.runs[batch], split)) if batch else None
                if vs_twin is None and vs_null is None:
                    continue
                said = verdict(vs_twin, vs_null)
                rows.append({"cell": name, "role": role, "cycle_chars": cycle_chars(result.runs[name][0]),
                             "vs_twin": vs_twin, "vs_null": vs_null, "batch_twin": batch, "vs_batch": vs_batch,
                             "verdict": said, "resolved": resolved(vs_twin, said == "holds")
                             if said in ("holds", "falls behind") else None})
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
        sure = {True: " (resolved)", False: " (unresolved: an interval crosses the margin)", None: ""}[row["resolved"]]
        lines.append(f"| {row['cell']} | {row['role']} | {' | '.join(diffs)} | {seeds} | {row['verdict']}{sure} |")
    return "\n".join(lines) + "\n"
