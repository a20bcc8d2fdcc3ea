"""Training speed next to a process that keeps one core busy, with charff's thread policy (torch
threads = the cores others leave free, charff.threads) against a fixed thread count (every core,
torch's default). Each run is a fresh process training the default config; the busy process is a
Python busy loop. Prints chars/s per case and the ratios the policy is judged by.

    python benchmarks/busy_core.py [--chars 30000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

TRAIN = """
import sys, time
from pathlib import Path
from charff.config import Config
from charff.run import start_run
from charff.threads import ThreadGovernor
config = Config()
config.train.chars = int(sys.argv[1])
config.train.eval_every = config.train.chars
trainer = start_run(config, Path(sys.argv[2]))
if sys.argv[3] == "fixed":
    trainer.hooks = [h for h in trainer.hooks if not isinstance(h, ThreadGovernor)]
trainer.run()
print(trainer.chars / trainer.elapsed)
"""


def train_rate(policy: str, chars: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([sys.executable, "-c", TRAIN, str(chars), os.path.join(folder, "run"), policy],
                              capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chars", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rates: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeats):
        for load in ("idle", "one core busy"):
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load != "idle" else None
            time.sleep(0.5 if busy else 0)
            try:
                for policy in ("free cores", "fixed"):
                    rates.setdefault((load, policy), []).append(train_rate(policy.split()[0], args.chars))
            finally:
                if busy:
                    busy.kill()
                    busy.wait()
    best = {key: max(values) for key, values in rates.items()}
    print(f"{os.cpu_count()} cores; chars/s of training steps (best of {args.repeats}; {args.chars:,} characters, "
          "default config)")
    print("| machine | free cores (charff) | fixed threads (torch default) |")
    print("|---|---|---|")
    for load in ("idle", "one core busy"):
        print(f"| {load} | {best[(load, 'free cores')]:,.0f} | {best[(load, 'fixed')]:,.0f} |")
    print(f"busy / idle, free cores: {best[('one core busy', 'free cores')] / best[('idle', 'free cores')]:.2f} "
          f"(goal at least 0.40); fixed: {best[('one core busy', 'fixed')] / best[('idle', 'fixed')]:.2f}")
    idle_ratio = best[("idle", "free cores")] / best[("idle", "fixed")]
    print(f"idle, free cores / fixed: {idle_ratio:.2f} (goal at least 0.90)")


if __name__ == "__main__":
    main()
