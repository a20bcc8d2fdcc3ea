"""The one reader of finished work: a run's records, summary and stored collapse verdict, and a
sweep's cells aggregated over seeds (mean and 95% interval)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from charff.config import READOUTS
from charff.errors import CharffError
from charff.measures.stats import mean_ci
from charff.rundir import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE
from charff.storage import read_json

SETTING_KEYS = ("schedule", "learner", "wake_chars", "sleep_chars", "chars_per_update", "updates_per_phase",
                "horizon_updates", "horizon_chars")
SWEEP_FILE = "sweep.json"  # written by the sweep runner: settings, seeds and where each cell lives
READOUT_METRICS = ("softmax_acc", "softmax_bpc", "goodness_acc", "goodness_bpc", "goodness_auc", "goodness_auc_common",
                   "product_bpc")
TEST_KEYS = tuple(f"test_{readout}_{metric}" for readout in READOUTS for metric in ("acc", "bpc"))
RESULT_KEYS = ("final_softmax_acc", "best_softmax_acc", "final_softmax_bpc", "best_softmax_bpc",
               "final_goodness_acc", "final_goodness_bpc", "final_goodness_auc", "final_product_bpc", *TEST_KEYS)


# what may differ between the arms of one setting: the schedule and its update granularity
SCHEDULE_KEYS = ("train.schedule", "train.accumulate")
# nor do these change what is learned: when and how a run is evaluated and measured, where it forked from
NOT_LEARNING = ("train.seed", "train.fork_from", "train.eval", "train.measure_gradients")


def setting_without_schedule(config) -> tuple[tuple[str, str], ...]:
    """Everything that makes a setting except its schedule: what a separated arm shares with its
    interleaved twin and its frozen null, and so the key that groups them."""
    from charff.config import flatten

    flat = flatten(config.to_dict())
    return tuple(sorted((k, str(v)) for k, v in flat.items() if not k.startswith(SCHEDULE_KEYS + NOT_LEARNING)))


def read_records(run_dir: Path) -> list[dict]:
    """Every record of RUN/metrics.jsonl in order (evaluations and sleep-phase summaries)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise CharffError(f"{path} line {number} is not a whole JSON record (a torn write?); "
                                  f"continue the run with --resume {run_dir} to rewrite it") from None
    return records


def evals_of(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("kind", "eval") == "eval"]


@dataclass
class RunResult:
    run_dir: Path
    records: list[dict]
    summary: dict | None  # None until the run has finished

    @property
    def evals(self) -> list[dict]:
        return evals_of(self.records)

    @property
    def sleeps(self) -> list[dict]:
        return [r for r in self.records if r.get("kind") == "sleep"]

    @property
    def collapse(self) -> dict | None:
        """The verdict stored in summary.json when the run finished (see analysis.collapse)."""
        return self.summary["collapse"] if self.summary else None

    def config(self):
        from charff.config import load_config

        return load_config(self.run_dir / CONFIG_FILE)

    def metrics(self) -> dict:
        """Final and best numbers of a finished run, with its collapse verdict."""
        evals, verdict = self.evals, self.collapse
        return {
            "final_softmax_acc": evals[-1]["softmax_acc"], "best_softmax_acc": max(r["softmax_acc"] for r in evals),
            "final_softmax_bpc": evals[-1]["softmax_bpc"], "best_softmax_bpc": min(r["softmax_bpc"] for r in evals),
            # a learner not trained by FF has no goodness readout: None
            "final_goodness_acc": evals[-1].get("goodness_acc"), "final_goodness_bpc": evals[-1].get("goodness_bpc"),
            "final_goodness_auc": evals[-1]["goodness_auc"], "final_product_bpc": evals[-1].get("product_bpc"),
            "verdict": verdict["verdict"], "collapsed": verdict["collapsed"],
            "collapse_onset": verdict["onset_chars"], "collapse_signal": verdict["signal"],
            "learned": verdict["learned"],
            # the finished model on the test split (None before it existed, or with no goodness readout)
            **{key: (self.summary or {}).get("test", {}).get(key.removeprefix("test_")) for key in TEST_KEYS},
        }


def read_run(run_dir: Path) -> RunResult:
    run_dir = Path(run_dir)
    summary = read_json(run_dir / SUMMARY_FILE) if (run_dir / SUMMARY_FILE).exists() else None
    return RunResult(run_dir, read_records(run_dir), summary)


def aggregate(runs: list[RunResult]) -> dict:
    """One setting's finished seeds: mean and 95% interval of every result, collapse counts."""
    results = [run.metrics() for run in runs]
    row = {"seeds": len(results)}
    for key in RESULT_KEYS:
        values = [r[key] for r in results if r[key] is not None]
        row[key], row[key + "_ci95"] = mean_ci(values) if values else (None, None)
    onsets = [r["collapse_onset"] for r in results if r["collapsed"]]
    row["collapsed_seeds"] = len(onsets)
    row["collapse_onset_mean"] = sum(onsets) / len(onsets) if onsets else None
    row["collapse_signals"] = sorted({r["collapse_signal"] for r in results if r["collapsed"]})
    row["unlearned_seeds"] = sum(r["verdict"] == "never learned" for r in results)
    row["units_died_seeds"] = sum(r["verdict"] == "never learned: units died" for r in results)
    return row


def curves(runs: list[RunResult]) -> dict:
    """Mean and 95% interval per evaluation point across seeds (cut to the shortest seed)."""
    evals = [run.evals for run in runs]
    length = min(len(e) for e in evals)
    curve = {"chars": [evals[0][i]["chars"] for i in range(length)]}
    for metric in (m for m in READOUT_METRICS if all(m in r for seed in evals for r in seed)):
        points = [mean_ci([seed[i][metric] for seed in evals]) for i in range(length)]
        curve[metric] = ([p[0] for p in points], [p[1] for p in points])
    return curve


@dataclass
class SweepResult:
    folder: Path
    manifest: dict  # as written by the sweep runner
    runs: dict[str, list[RunResult]]  # setting name -> its seeds' runs

    def rows(self) -> list[dict]:
        """One row per setting: its label and settings, then the seed aggregates."""
        rows = []
        for setting in self.manifest["settings"]:
            runs = self.runs[setting["name"]]
            plan = runs[0].config().plan
            rows.append({"cell": setting["name"], "arm": setting["arm"], "label": setting["label"],
                         **setting["values"], **{k: setting[k] for k in SETTING_KEYS},
                         "interleaved": plan.interleaved, "separated": plan.separated, **aggregate(runs)})
        return rows

    def settings_without_schedule(self) -> dict[str, tuple]:
        """Each setting's name -> setting_without_schedule of its config."""
        return {name: setting_without_schedule(runs[0].config()) for name, runs in self.runs.items()}

    def ngram(self, split: str = "val") -> dict:
        """The Kneser-Ney table on validation, or on test ({} when the runs have no test split)."""
        first = next(iter(self.runs.values()))[0]
        return first.summary["ngram"] if split == "val" else first.summary.get("test", {}).get("ngram", {})

    def corpus(self) -> dict:
        first = next(iter(self.runs.values()))[0]
        return first.summary["corpus"]

    def corpus_names(self) -> list[str]:
        """Each distinct "name (alphabet)" the cells trained on, first cell's first: a grid may
        vary the corpus or its alphabet, and ngram() is the first one's."""
        names = [f"{run.summary['corpus']['name']} ({run.summary['corpus']['alphabet']})"
                 for runs in self.runs.values() for run in runs]
        return list(dict.fromkeys(names))


def read_sweep(folder: Path) -> SweepResult:
    """A sweep whose cells have all finished (`charff ablate` / `charff reproduce` output)."""
    folder = Path(folder)
    if not (folder / SWEEP_FILE).exists():
        raise CharffError(f"{folder} holds no sweep ({SWEEP_FILE}); point at an ablate or reproduce output")
    manifest = read_json(folder / SWEEP_FILE)
    runs: dict[str, list[RunResult]] = {}
    for cell in manifest["cells"]:
        run = read_run(folder / cell["run_dir"])
        if run.summary is None:
            raise CharffError(f"cell {cell['run_dir']} of {folder} has not finished; rerun the sweep to finish it")
        runs.setdefault(cell["name"], []).append(run)
    return SweepResult(folder, manifest, runs)
