"""A committed sweep's verdicts judged again under the current rule set (analysis/paired.py), from
the per-seed differences its results.json stored, beside the verdict it was given then:

    python benchmarks/rejudge_sweep.py docs/runs/separation_frontier [--split paired_test]

Runs from before the product readout's bits/char was a primary measure are judged on the common
AUC alone (the measure they stored for every seed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from charff.analysis.paired import METRICS, differences, verdict


def rebuilt(diff: dict | None) -> dict | None:
    """The stored per-seed differences as a comparison against zero: the same means and intervals."""
    if diff is None:
        return None
    seeds = sorted({int(s) for values in diff["per_seed"].values() for s in values})
    mine = {s: {m: diff["per_seed"].get(m, {}).get(str(s)) for m in METRICS} for s in seeds}
    return differences(mine, {s: dict.fromkeys(METRICS, 0.0) for s in seeds})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--split", default="paired_test", choices=("paired", "paired_test"))
    args = parser.parse_args()
    results = json.loads((args.sweep / "results.json").read_text())
    print("| setting | verdict then | verdict now |\n|---|---|---|")
    for row in results[args.split]:
        vs_twin = rebuilt(row["vs_twin"]) if row["role"] != "twin" else None
        print(f"| {row['cell']} | {row['verdict']} | {verdict(vs_twin, rebuilt(row['vs_null']))} |")


if __name__ == "__main__":
    main()
