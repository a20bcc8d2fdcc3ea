"""Paired comparisons: every setting of a sweep against its interleaved twin and its frozen null,
seed by seed, at a read point, and one verdict per setting under one rule set.

Roles are what each arm is, whatever its update granularity: a frozen schedule is the null, a
separated one an arm, and an interleaved one the twin of the arms that update as often (the same
train.accumulate); an interleaved setting that no arm updates as often is a large-batch twin, and
a separated P/P arm is compared with the one whose update covers one cycle, 2P. Settings are
grouped by everything but their schedule and granularity (results.setting_without_schedule).
Seeds pair up: in a forked sweep the arms of one seed share their warm start, text and random
numbers, so a difference of one seed cancels what they share.

Read points. A separated run is a sawtooth, so where it is read matters; a separated arm that
evaluated at its phase ends (train.eval_at_phase_ends) is read at three points, its twin and null
at the same characters:
- "end of wake": its last wake phase's end; "end of sleep": its last sleep phase's end (the run's
  end when it ends on a sleep phase);
- "cycle mean": the mean over every phase end (wake and sleep) of the last half of its cycles.
"final" is the last evaluation (or the test split, scored once when the run finished).

The rule set, fixed before the runs it judges. The primary measures are the common yardstick's
goodness AUC (every arm of a warm start against the same saved negatives, training/yardstick.py;
each run's own negatives where a run has no yardstick) and the product readout's bits/char: neither
has a floor a constant prediction or a dead net sits on. Margins: 0.02 AUC, 0.05 bits/char.
- "below the frozen null": on some primary measure the 95% interval of (setting - null) lies on
  the worse side of zero;
- "holds": an equivalence, by two one-sided tests: on every primary measure the 90% interval of
  (setting - twin) lies inside +-margin;
- "falls behind": on some primary measure the 90% interval lies beyond -margin (worse);
- "ahead of the twin": on some primary measure it lies beyond +margin (better);
- otherwise "not resolved" (always so with one seed: there is no interval).
A twin "learns after the fork" when on some primary measure the 95% interval of its gain over the
null lies on the better side of zero (and on none the worse side).
Accuracy stays as a column; a readout that predicts one character almost everywhere
(FLOOR_SHARE of its predictions) is marked: its accuracy is that character's frequency.
"""

from __future__ import annotations

from pathlib import Path

from charff.analysis.results import RunResult, SweepResult
from charff.measures.stats import mean_ci
from charff.schedule import PHASE_KINDS

ACC, OWN_AUC, COMMON_AUC, BPC = "goodness_acc", "goodness_auc", "goodness_auc_common", "product_bpc"
METRICS = (ACC, OWN_AUC, COMMON_AUC, "product_acc", BPC, "softmax_acc", "softmax_bpc")
BETTER = {ACC: 1, OWN_AUC: 1, COMMON_AUC: 1, "product_acc": 1, BPC: -1, "softmax_acc": 1, "softmax_bpc": -1}
MARGIN = {ACC: 0.02, OWN_AUC: 0.02, COMMON_AUC: 0.02, BPC: 0.05}  # what "within" a twin means, per measure
FLOOR_SHARE = 0.95  # a readout whose top prediction is this share of all sits on a floor
TOP_SHARES = ("goodness_top_share", "product_top_share", "softmax_top_share")  # see FLOOR_SHARE
READ_POINTS = ("end of wake", "end of sleep", "cycle mean", "final")
UNRESOLVED = "not resolved"


def role_of(run: RunResult) -> str:
    """What an arm is, from its schedule alone: "null", "twin" (interleaved) or "arm" (separated);
    whether an interleaved twin is a large-batch one depends on its group (roles())."""
    plan = run.config().plan
    return "null" if plan.frozen else "twin" if plan.interleaved else "arm"


def accumulate_of(run: RunResult) -> int:
    return run.config().train.accumulate


def roles(result: SweepResult, names: list[str]) -> dict[str, list[str]]:
    """One group's settings by role: an interleaved setting updating as often as some separated arm
    of the group (or, with none such, the group's most frequent updater) is a "twin"; the other
    interleaved ones are large-batch twins ("batch")."""
    out: dict[str, list[str]] = {}
    for name in names:
        out.setdefault(role_of(result.runs[name][0]), []).append(name)
    interleaved = out.pop("twin", [])
    if interleaved:
        arm_rates = {accumulate_of(result.runs[n][0]) for n in out.get("arm", [])}
        twins = [n for n in interleaved if accumulate_of(result.runs[n][0]) in arm_rates] or \
            [min(interleaved, key=lambda n: accumulate_of(result.runs[n][0]))]
        out["twin"] = twins
        out["batch"] = [n for n in interleaved if n not in twins]
    return out


def matching(result: SweepResult, candidates: list[str], name: str) -> str | None:
    """The candidate that updates as often as `name`, else the first."""
    same = [c for c in candidates if accumulate_of(result.runs[c][0]) == accumulate_of(result.runs[name][0])]
    return (same or candidates or [None])[0]


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


def read_chars(run: RunResult, point: str) -> list[int] | None:
    """The characters a separated run is read at (see the module's read points); None when the run
    has no evaluation there (it did not evaluate at its phase ends)."""
    ends = [(r["chars"], r["phase_end"]) for r in run.evals if r.get("phase_end")]
    wakes = [c for c, kind in ends if PHASE_KINDS[kind].wake]
    sleeps = [c for c, kind in ends if PHASE_KINDS[kind].sleep]
    if point == "end of wake":
        return wakes[-1:] or None
    if point == "end of sleep":
        return sleeps[-1:] or None
    if point == "cycle mean":
        if not sleeps:
            return None
        kept = sleeps[len(sleeps) // 2:]  # the last half of the cycles, each ended by its sleep phase
        start = sleeps[len(sleeps) // 2 - 1] if len(sleeps) // 2 else 0
        return [c for c, _ in ends if c > start and c <= kept[-1]]
    return None


def at_chars(run: RunResult, chars: list[int]) -> dict | None:
    """The mean of each metric over the run's evaluations at these characters; None when the run
    lacks one of them. An interleaved run evaluates after whole steps, so it is read at its
    evaluation less than one step (train.streams characters) from the separated arm's phase end;
    a frozen null does not change, so it is read at its nearest evaluation, however far."""
    config = run.config()
    step = config.train.streams
    picked = []
    for c in chars:
        nearest = min(run.evals, key=lambda r: abs(r["chars"] - c))
        if abs(nearest["chars"] - c) >= step and not config.plan.frozen:
            return None
        picked.append(nearest)
    return {m: mean_or_none([r.get(m) for r in picked]) for m in (*METRICS, *TOP_SHARES)}


def mean_or_none(values: list) -> float | None:
    return None if any(v is None for v in values) else sum(values) / len(values)


def final_scores(run: RunResult, split: str) -> dict:
    """The finished model's metrics: the last evaluation's (val) or the test split's, with the
    common yardstick's AUC from the summary where the records lack it (runs from before every
    evaluation read the yardstick)."""
    summary = run.summary or {}
    found = dict(run.evals[-1] if split == "val" else summary.get("test") or {})
    if found.get(COMMON_AUC) is None:
        found[COMMON_AUC] = (summary.get("common_auc") or {}).get(split)
    return {m: found.get(m) for m in (*METRICS, *TOP_SHARES)}


def scores_at(runs: list[RunResult], split: str, chars: dict[int, list[int]] | None) -> dict[int, dict]:
    """seed -> metrics, at the final point (chars None) or at each seed's read characters (only on
    validation: the test split is scored once); seeds lacking a read point are left out."""
    out = {}
    for run in runs:
        seed = run.config().train.seed
        if chars is None:
            out[seed] = final_scores(run, split)
        elif split == "val" and seed in chars:
            found = at_chars(run, chars[seed])
            if found is not None:
                out[seed] = found
    return out


def arm_chars(runs: list[RunResult], point: str) -> dict[int, list[int]] | None:
    """seed -> the characters an arm is read at, at a read point (None: read the final point)."""
    if point == "final":
        return None
    out = {}
    for run in runs:
        found = read_chars(run, point)
        if found:
            out[run.config().train.seed] = found
    return out


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
                  if mine[s].get(metric) is not None and theirs[s].get(metric) is not None}
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


def complete(diff: dict, metric: str) -> bool:
    """Whether every paired seed has this measure."""
    return diff[metric] is not None and len(diff["per_seed"][metric]) == diff["paired_seeds"]


def auc_measure(diff: dict) -> str:
    """The common yardstick's AUC where every paired seed has it, else the runs' own."""
    return COMMON_AUC if complete(diff, COMMON_AUC) else OWN_AUC


def primary(diff: dict) -> tuple[str, ...]:
    """The primary measures (the module's rule set) this comparison has: the common AUC, or each
    run's own where a seed lacks it, and the product readout's bits/char where every seed has it."""
    return (auc_measure(diff), *((BPC,) if complete(diff, BPC) else ()))


def oriented(diff: dict, metric: str, level: int) -> tuple[float, float] | None:
    """The interval of the difference, turned so that above zero is better on this measure."""
    span = interval(diff, metric, level)
    if span is None:
        return None
    return span if BETTER[metric] > 0 else (-span[1], -span[0])


def verdict(vs_twin: dict | None, vs_null: dict | None) -> str:
    if vs_null is not None:
        spans = [oriented(vs_null, m, 95) for m in primary(vs_null)]
        if any(span is not None and span[1] < 0 for span in spans):
            return "below the frozen null"
    if vs_twin is None:
        if vs_null is None:
            return "no twin"
        spans = [oriented(vs_null, m, 95) for m in primary(vs_null)]
        return "learns after the fork" if any(span is not None and span[0] > 0 for span in spans) \
            else "gain over the null not resolved"
    measures = primary(vs_twin)
    spans = {m: oriented(vs_twin, m, 90) for m in measures}
    if any(span is None for span in spans.values()):
        return UNRESOLVED
    if all(-MARGIN[m] < spans[m][0] and spans[m][1] < MARGIN[m] for m in measures):
        return "holds"
    if any(spans[m][1] < -MARGIN[m] for m in measures):
        return "falls behind"
    if any(spans[m][0] > MARGIN[m] for m in measures):
        return "ahead of the twin"
    return UNRESOLVED


def floors(scores: dict[int, dict]) -> list[str]:
    """The readouts that predict one character almost everywhere on some seed."""
    return [name for name in ("goodness", "product", "softmax")
            if any((s.get(f"{name}_top_share") or 0) >= FLOOR_SHARE for s in scores.values())]


def warm_start(result: SweepResult, name: str) -> str | None:
    """The warm start a setting forked from, its seed left out (None when it did not fork)."""
    fork = result.runs[name][0].config().train.fork_from
    return str(Path(fork).parent) if fork else None


def nulls_for(result: SweepResult, names: list[str], frozen: list[str]) -> list[str]:
    """The frozen nulls of a group: of a forked group, every frozen setting of the same warm start
    (a null is that warm start, unchanged, whatever it would have done after the fork: the settings
    of the generator or the learning rule do not make another null); else the group's own."""
    trunk = warm_start(result, names[0])
    if trunk is None:
        return [n for n in names if n in frozen]
    return [n for n in frozen if warm_start(result, n) == trunk]


def paired_rows(result: SweepResult, split: str = "val", point: str = "final") -> list[dict]:
    """One row per setting that has a twin or a null in its group, on one split's numbers at one
    read point (the twin and the null are read at each arm's characters)."""
    groups: dict[tuple, list[str]] = {}
    for name, setting in result.settings_without_schedule().items():
        groups.setdefault(setting, []).append(name)
    frozen = [name for name, runs in result.runs.items() if role_of(runs[0]) == "null"]
    rows = []
    for names in groups.values():
        by_role = roles(result, names)
        nulls = nulls_for(result, names, frozen)
        for role in ("twin", "batch", "arm"):
            for name in by_role.get(role, []):
                chars = arm_chars(result.runs[name], point) if role == "arm" else None
                if chars == {}:
                    continue  # an arm with no evaluation at this read point
                mine = scores_at(result.runs[name], split, chars)
                twin_name = matching(result, by_role.get("twin", []), name) if role != "twin" else None
                null_name = matching(result, nulls, name)
                twin = scores_at(result.runs[twin_name], split, chars) if twin_name else None
                null = scores_at(result.runs[null_name], split, chars) if null_name else None
                vs_twin = differences(mine, twin) if twin else None
                vs_null = differences(mine, null) if null else None
                twin_vs_null = differences(twin, null) if twin and null else None
                batch = batch_twin(result, name, by_role.get("batch", [])) if role == "arm" else None
                vs_batch = differences(mine, scores_at(result.runs[batch], split, None)) if batch else None
                if vs_twin is None and vs_null is None:
                    continue
                # an arm whose twin has no evaluation at its read points is not judged there
                said = UNRESOLVED if role == "arm" and vs_twin is None and twin_name else verdict(vs_twin, vs_null)
                rows.append({"cell": name, "role": role, "point": point, "split": split,
                             "cycle_chars": cycle_chars(result.runs[name][0]), "twin": twin_name, "null": null_name,
                             "vs_twin": vs_twin, "vs_null": vs_null, "twin_vs_null": twin_vs_null,
                             "twin_learns": verdict(None, twin_vs_null) if twin_vs_null else None,
                             "batch_twin": batch, "vs_batch": vs_batch, "floors": floors(mine),
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

    lines = ["| setting | role | common AUC - twin (90%) | product bits/char - twin (90%) | "
             "common AUC - null (95%) | product bits/char - null (95%) | twin - null here: common AUC, bits/char "
             "(95%) | goodness acc - twin (points, 90%) | own AUC - twin (90%) | "
             "goodness acc - large-batch twin (points, 95%) | seeds | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        seeds = (row["vs_twin"] or row["vs_null"])["paired_seeds"]
        floor = " (floor)" if "goodness" in row["floors"] else ""
        auc_twin = row["vs_twin"] and auc_measure(row["vs_twin"]) or COMMON_AUC
        auc_null = row["vs_null"] and auc_measure(row["vs_null"]) or COMMON_AUC
        diffs = [cell(row["vs_twin"], auc_twin, 1, 3, 90), cell(row["vs_twin"], BPC, 1, 3, 90),
                 cell(row["vs_null"], auc_null, 1, 3, 95), cell(row["vs_null"], BPC, 1, 3, 95),
                 "-" if row["role"] == "twin" or not row["twin_vs_null"] else
                 f"{cell(row['twin_vs_null'], auc_null, 1, 3, 95)}, {cell(row['twin_vs_null'], BPC, 1, 3, 95)}",
                 cell(row["vs_twin"], ACC, 100, 1, 90) + floor, cell(row["vs_twin"], OWN_AUC, 1, 3, 90),
                 cell(row["vs_batch"], ACC, 100, 1, 95)]
        lines.append(f"| {row['cell']} | {row['role']} | {' | '.join(diffs)} | {seeds} | {row['verdict']} |")
    note = ("\nA twin's own row reads its last evaluation; beside each separated arm, its twin's gain over the "
            "null at the arm's read point.\n")
    floor_note = ("\n(floor): on some seed the goodness readout predicts one character for at least "
            f"{FLOOR_SHARE:.0%} of positions, so its accuracy is that character's frequency.\n")
    return "\n".join(lines) + "\n" + note + (floor_note if any("goodness" in r["floors"] for r in rows) else "")
