"""Training time with subnormal floats flushed to zero (`train.flush_subnormals`, the default)
and kept, the two alternating, each run in a fresh process, and whether their metrics are
identical.

Units that die (plain ReLU, no peer normalisation) leave gradients and Adam moments that
underflow into subnormal floats, which the CPU computes many times slower than normal ones.
The default settings keep every unit alive, so they are the control. Each run is its own
process because torch's worker threads take the setting when they start.

    CHARFF_CORPORA=DIR python benchmarks/subnormals.py [--chars 300000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

QUICK = ["model.hidden=[256,256,256]", "corpus.name=aesop", "train.negatives=teacher_forcing"]
SETTINGS = {
    "units can die (plain ReLU, no peer normalisation)": [*QUICK, "model.activation=relu",
                                                          "model.peer_normalisation=0"],
    "defaults (units cannot die)": QUICK,
}


def timed(settings: list[str], keep: bool, out: Path) -> tuple[float, dict]:
    """Seconds of the training steps alone, and the final validation and test scores."""
    command = ["charff", "train", "--out", str(out)]
    for setting in [*settings, f"train.flush_subnormals={str(not keep).lower()}"]:
        command += ["--set", setting]
    subprocess.run(command, check=True, capture_output=True)
    summary = json.loads((out / "summary.json").read_text())
    return summary["seconds"], {"final": summary["final"], "test": summary["test"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"{args.chars:,} characters per run, evaluated once at the end; best of {args.rounds} rounds")
    print("| settings | subnormals kept (s) | flushed (s) | kept / flushed | identical metrics |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, settings) in enumerate(SETTINGS.items()):
            settings = [*settings, f"train.chars={args.chars}", f"train.eval_every={args.chars}"]
            seconds, scores = {True: [], False: []}, {}
            for round_ in range(args.rounds):
                for keep in (True, False):
                    elapsed, scores[keep] = timed(settings, keep, Path(tmp) / f"{index}-{round_}-{keep}")
                    seconds[keep].append(elapsed)
            kept, flushed = min(seconds[True]), min(seconds[False])
            print(f"| {name} | {kept:.1f} | {flushed:.1f} | {kept / flushed:.2f}x | "
                  f"{'yes' if scores[True] == scores[False] else 'no'} |")


if __name__ == "__main__":
    main()
