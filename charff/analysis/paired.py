"""Paired comparisons: every setting of a sweep against its interleaved twin and its frozen null,
seed by seed, and one verdict per setting.

Settings are grouped by everything but their schedule and update granularity
(results.setting_without_schedule); in a group the twin is the interleaved setting with one update
per step, the null is the frozen one, and a separated P/P setting's large-batch twin is the
interleaved one whose update covers the characters of one cycle, 2P. Seeds pair up: in a forked
sweep the arms of one seed share their warm start, text and random numbers, so a difference of
one seed cancels what they share.

The measures are FF's own signals at the end: the goodness readout's accuracy and the goodness
AUC, on the validation split at the last evaluation or on the test split the finished model was
scored on once. The AUC is the common yardstick's (every arm of a warm start against the same
saved negatives, training/yardstick.py) where the runs have it, else each run's own negatives.
Verdicts of a setting against its twin and null, with margins of 2 points and 0.02 AUC:
- "below the frozen null": on some measure the 95% interval of (setting - null) lies below zero;
- "holds": an equivalence, by two one-sided tests: on both measures the 90% interval of
  (setting - twin) lies inside +-margin;
- "falls behind": on some measure the 90% interval of (setting - twin) lies below -margin;
- "ahead of the twin": on some measure it lies above +margin;
- otherwise "not resolved" (always so with one seed: there is no interval).
A twin's own row says whether it learns after the fork: its gain over the null, resolved when the
95% interval lies above zero.
"""

from __future__ import annotations

from charff.analysis.results import RunResult, SweepResult
from charff.measures.stats import mean_ci

METRICS = ("goodness_acc", "goodness_auc", "goodness_auc_common", "product_acc", "softmax_acc")
ACC, OWN_AUC, COMMON_AUC = "goodness_acc", "goodness_auc", "goodness_auc_common"
MARGIN = {ACC: 0.02, OWN_AUC: 0.02, COMMON_AUC: 0.02}  # what "within" a twin means, per measure
UNRESOLVED = "not resolved"


def role_of(run: RunResult) -> str:
    config = run.config()
    if config.plan.frozen:
        return "null"
    if config.plan.interleaved:
        return "twin" if config.train.accumulate == 1 else "batch"
    return "arm"


def cycle_chars(run: RunResult) -> int | None:
    """Characters of one wake/sleep cycle of a separated arm (2P), of one update of a large-batch twin."""
    config = run.config()
    if config.plan.interleaved:
        return config.train.streams * config.train.accumulate
    if config.plan.auto:  # its cycles change as it goes
        return None
    phases = config.plan.separated_phases()
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
    """seed -> the finished model's metrics: the last evaluation's (val) or the test split's, and
    the common yardstick's AUC on that split where the run has one."""
    def scores(run: RunResult) -> dict:
        summary = run.summary or {}
        found = dict(run.evals[-1] if split == "val" else summary.get("test") or {})
        found[COMMON_AUC] = (summary.get("common_auc") or {}).get(split)
        return found

    return {run.config().train.seed: {m: scores(run).get(m) for m in METRICS} for run in runs}


def has_test_split(result: SweepResult) -> bool:
    """Whether every run was scored on a test split (runs from before it existed were not)."""
    return all((run.summary or {}).get("test") for runs in result.runs.values() for run in runs)


def differences(mine: dict, theirs: dict) -> dict:
    """Per metric, over the seeds both have: mine - theirs per seed, its mean and the half-widths
    of its 95% and 90% intervals (None with fewer than two seeds: one seed has no interval)."""
    seeds = sorted(set(mine) & set(theirs))
    out = {"paired_seeds": len(seeds), "per_seed": {}}
    for metric in METRICS:
        values = {s: mine[s][metric] - theirs[s][metric] for s in seeds
                  if mine[s][metric] is not None and theirs[s][metric] is not None}
        out["per_seed"][metric] = values
        mean, half95 = mean_ci(list(values.values())) if values else (None, None)
        several = len(values) >= 2
        out[metric] = mean
        out[metric + "_ci95"] = half95 if several else None
        out[metric + "_ci90"] = mean_ci(list(values.values()), 90)[1] if several else None
    return out


def interval(diff: dict | None, metric: str, level: int = 95) -> tuple[float, float] | None:
    if diff is None or diff[metric] is None or diff[f"{metric}_ci{level}"] is None:
        return None
    half = diff[f"{metric}_ci{level}"]
    return diff[metric] - half, diff[metric] + half


def auc_measure(diff: dict) -> str:
    """The common yardstick's AUC where every paired seed has it, else the runs' own."""
    return COMMON_AUC if diff[COMMON_AUC] is not None and len(diff["per_seed"][COMMON_AUC]) == \
        diff["paired_seeds"] else OWN_AUC


def verdict(vs_twin: dict | None, vs_null: dict | None) -> str:
    if vs_null is not None:
        spans = [interval(vs_null, m) for m in (ACC, auc_measure(vs_null))]
        if any(span is not None and span[1] < 0 for span in spans):
            return "below the frozen null"
    if vs_twin is None or vs_twin[ACC] is None:
        if vs_null is None:
            return "no twin"
        span = interval(vs_null, ACC)
        return "learns after the fork" if span is not None and span[0] > 0 else "gain over the null not resolved"
    measures = (ACC, auc_measure(vs_twin))
    spans = {m: interval(vs_twin, m, 90) for m in measures}
    if any(span is None for span in spans.values()):
        return UNRESOLVED
    if all(-MARGIN[m] < spans[m][0] and spans[m][1] < MARGIN[m] for m in measures):
        return "holds"
    if any(spans[m][1] < -MARGIN[m] for m in measures):
        return "falls behind"
    if any(spans[m][0] > MARGIN[m] for m in measures):
        return "ahead of the twin"
    return UNRESOLVED


def paired_rows(result: SweepResult, split: str = "val") -> list[dict]:
    """One row per setting that has a twin or a null in its group, on one split's numbers."""
    groups: dict[tuple, dict[str, list[str]]] = {}
    for name, setting in result.settings_without_schedule().items():
        groups.setdefault(setting, {}).setdefault(role_of(result.runs[name][0]), []).append(name)
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
                             "verdict": said, "resolved": said != UNRESOLVED,
                             "per_seed": {seed: values for seed, values in sorted(mine.items())}})
    return rows


def paired_markdown(rows: list[dict]) -> str:
    def cell(diff: dict | None, metric: str, scale: float, digits: int, level: int) -> str:
        if diff is None or diff[metric] is None:
            return "-"
        half = diff[f"{metric}_ci{level}"]
        text = f"{diff[metric] * scale:+.{digits}f}"
        return text if half is None else f"{text} ±{half * scale:.{digits}f}"

    lines = ["| setting | role | goodness acc - twin (points, 90%) | common AUC - twin (90%) | own AUC - twin (90%) | "
             "goodness acc - null (points, 95%) | common AUC - null (95%) | "
             "goodness acc - large-batch twin (points, 95%) | seeds | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        seeds = (row["vs_twin"] or row["vs_null"])["paired_seeds"]
        diffs = [cell(row["vs_twin"], ACC, 100, 1, 90), cell(row["vs_twin"], COMMON_AUC, 1, 3, 90),
                 cell(row["vs_twin"], OWN_AUC, 1, 3, 90), cell(row["vs_null"], ACC, 100, 1, 95),
                 cell(row["vs_null"], COMMON_AUC, 1, 3, 95), cell(row["vs_batch"], ACC, 100, 1, 95)]
        lines.append(f"| {row['cell']} | {row['role']} | {' | '.join(diffs)} | {seeds} | {row['verdict']} |")
    return "\n".join(lines) + "\n"
