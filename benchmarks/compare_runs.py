"""Whether two folders of finished runs hold the same numbers: every run's metrics.jsonl byte for
byte once wall-clock fields are blanked, its summary.json, samples.txt, evaluation.json and
calibration.pt. For checking that a change to the code changes no number: run the same commands
with the old code (a git worktree on PYTHONPATH) and the new, then

    python benchmarks/compare_runs.py OLD_FOLDER NEW_FOLDER
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import torch

# fields that measure time, not learning
WALL_CLOCK = re.compile(r'"(seconds|instrument_seconds|elapsed\w*|\w*per_second\w*)": [-0-9.e+]+')
DROPPED = ("second", "elapsed")  # keys of summary.json that hold times


def without_times(value):
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if not any(d in k for d in DROPPED)}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def same_file(old: Path, new: Path) -> bool:
    if old.exists() != new.exists():
        return False
    if not old.exists():
        return True
    if old.name == "metrics.jsonl":
        return WALL_CLOCK.sub("T", old.read_text()) == WALL_CLOCK.sub("T", new.read_text())
    if old.suffix == ".json":
        return without_times(json.loads(old.read_text())) == without_times(json.loads(new.read_text()))
    if old.suffix == ".pt":
        a, b = torch.load(old, weights_only=True), torch.load(new, weights_only=True)
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    return old.read_bytes() == new.read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args()
    runs = sorted(path.parent.relative_to(args.old) for path in args.old.rglob("metrics.jsonl"))
    differing = 0
    for run in runs:
        names = ("metrics.jsonl", "summary.json", "samples.txt", "evaluation.json", "calibration.pt")
        bad = [name for name in names if not same_file(args.old / run / name, args.new / run / name)]
        if bad:
            differing += 1
            print(f"{run}: differs in {', '.join(bad)}")
    print(f"{len(runs)} runs compared, {differing} differ")
    return 1 if differing or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
