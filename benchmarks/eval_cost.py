"""What one periodic evaluation costs, and where: the headline speed measure's run (3x128, 8,192
streams, interleaved self-generated, aesop) after 40 training steps, one evaluation and
checkpoint timed whole and by part, then `evaluate` alone at several evaluation stream counts.

    CHARFF_CORPORA=DIR python benchmarks/eval_cost.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

from chars_per_gflop import SETTINGS as HEADLINE_SETTINGS  # the script beside this one

import charff.model.readouts as readouts
import charff.training.run_state as run_state
import charff.training.trainer as trainer_module
import charff.training.validation as validation
from charff.config import load_config
from charff.run import start_run
from charff.schedule import Phase

SETTINGS = [*HEADLINE_SETTINGS, "train.chars=3000000"]  # the headline speed measure's run
# the parts of an evaluation: (module, function name, label)
PARTS = ((validation, "score_split", "passes over calibration and validation, with the goodness readout"),
         (validation.FFNet, "candidate_goodness", "  of which the goodness readout's candidate passes"),
         *((kind, "fit", "calibration fits") for kind in {type(k) for k in readouts.READOUT_KINDS.values()}),
         (run_state, "sample_stats", "samples (16 x 100 characters)"),
         (trainer_module.Trainer, "save_checkpoint", "checkpoint"))


@contextmanager
def clocked(seconds: dict):
    """Add the wall time of every call of each part to seconds[label] while inside."""
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in PARTS]
    for (owner, name, label), (_, _, original) in zip(PARTS, originals, strict=True):
        def timed(*args, _original=original, _label=label, **kwargs):
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                seconds[_label] += time.perf_counter() - start
        setattr(owner, name, timed)
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = start_run(load_config(None, SETTINGS), Path(tmp) / "run")
        phase = Phase("interleaved", 10**15)
        for _ in range(40):
            trainer.step(phase, trainer.config.train.streams)
        trainer.state.chars = 40 * trainer.config.train.streams
        trainer.evaluate_and_save()  # untimed: first-call costs
        seconds = defaultdict(float)
        with clocked(seconds):
            start = time.perf_counter()
            for _ in range(args.repeats):
                trainer.evaluate_and_save()
            whole = (time.perf_counter() - start) / args.repeats
        print(f"one periodic evaluation and checkpoint: {whole:.2f} s (mean of {args.repeats})")
        print("| part | seconds per evaluation |\n|---|---|")
        for label in dict.fromkeys(label for _, _, label in PARTS):
            print(f"| {label} | {seconds[label] / args.repeats:.2f} |")
        t, model = trainer.config.train, trainer.model
        model.eval()
        print("\n| evaluation streams | `evaluate` seconds | validation characters scored |\n|---|---|---|")
        for streams in (256, 1024, 2048):
            start = time.perf_counter()
            record = validation.evaluate(model, trainer.val_ids, trainer.calibration_ids, streams,
                                         t.eval_goodness_chars, t.seed, trainer.negatives).record
            print(f"| {streams:,} | {time.perf_counter() - start:.2f} | {record['val_chars']:,} |")


if __name__ == "__main__":
    main()
