"""docs/DESIGN.md's "to add X, touch Y" rows, checked by making each change: in a copy of the
package, add one new X the way the row says, train a tiny run that uses it (and score, sample or
log with it where that is what X is for), and compare the files the change touched with the
files the row names. Slow (about 2 minutes): opt in with `pytest -m slow`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = ["--set", "model.hidden=[16,16]", "--set", "train.chars=3000", "--set", "train.streams=8",
        "--set", "train.eval_every=1500", "--set", "train.eval_goodness_chars=64", "--set", "train.eval_streams=64"]


class Checkout:
    """A copy of the package to change, and a way to run charff from it."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copytree(REPO / "charff", root / "charff", ignore=shutil.ignore_patterns("__pycache__"))
        for folder in ("corpora", "experiments"):  # what packaged.py reads from a checkout
            (root / folder).symlink_to(REPO / folder)
        self.env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}

    def edit(self, path: str, old: str, new: str) -> None:
        file = self.root / "charff" / path
        text = file.read_text()
        assert old in text, f"{path} no longer holds {old!r}: update this test with the row"
        file.write_text(text.replace(old, new, 1))

    def add_to_literal(self, name: str, value: str, path: str = "config.py") -> None:
        file = self.root / "charff" / path
        text, count = re.subn(rf"^({name} = Literal\[)", rf'\1"{value}", ', file.read_text(), count=1, flags=re.M)
        assert count, f"no Literal {name} in {path}"
        file.write_text(text)

    def charff(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "charff", *args], cwd=self.root, env=self.env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-800:] + done.stderr[-1500:]
        return done.stdout

    def train(self, out: Path, *settings: str, extra: tuple[str, ...] = ()) -> list[dict]:
        self.charff("train", *TINY, *(x for s in settings for x in ("--set", s)), *extra, "--out", str(out))
        return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]

    def touched(self) -> set[str]:
        """Package files that differ from the repository's, or are new."""
        out = set()
        for file in (self.root / "charff").rglob("*.py"):
            relative = file.relative_to(self.root)
            original = REPO / relative
            if not original.exists() or original.read_bytes() != file.read_bytes():
                out.add(str(relative))
        return out


def add_loss(c: Checkout, tmp: Path) -> None:
    c.edit("model/objectives.py", "LOSSES = registry(Loss, {",
           "def hinge_layer_loss(good_pos, good_neg, config: ModelConfig) -> torch.Tensor:\n"
           "    return sum_of_sides(F.relu(config.threshold - good_pos), F.relu(good_neg - config.threshold))\n\n\n"
           'LOSSES = registry(Loss, {"hinge": hinge_layer_loss, ')
    c.add_to_literal("Loss", "hinge")
    c.train(tmp / "run", 'model.loss="hinge"')


def add_activation(c: Checkout, tmp: Path) -> None:
    c.edit("model/activations.py", '    "gelu": F.gelu,\n', '    "gelu": F.gelu,\n    "silu": F.silu,\n')
    c.add_to_literal("Activation", "silu")
    c.train(tmp / "run", 'model.activation="silu"')


def add_negative(c: Checkout, tmp: Path) -> None:
    c.edit("training/negatives.py", "# the one place to add a kind of negative",
           "class UniformRollout(Uniform):\n    rollout = True\n\n\n# the one place to add a kind of negative")
    c.edit("training/negatives.py", '"random": Uniform()}', '"random": Uniform(), "random_rollout": UniformRollout()}')
    c.add_to_literal("Negatives", "random_rollout")
    c.train(tmp / "run", 'train.negatives="random_rollout"')


def add_proposal(c: Checkout, tmp: Path) -> None:
    c.edit("training/negatives.py", "PROPOSALS = registry(Proposal, {",
           'PROPOSALS = registry(Proposal, {\n'
           '    "flat": lambda train_ids, size: torch.full((size,), 2.0, dtype=torch.float64),')
    c.add_to_literal("Proposal", "flat")
    c.train(tmp / "run", 'train.negative_proposal="flat"')


def add_readout(c: Checkout, tmp: Path) -> None:
    c.edit("model/readouts.py", "READOUT_KINDS = registry(",
           "class SumReadout(ReadoutKind):\n    needs_goodness = True\n    buffer = \"sum_temperature\"\n\n"
           "    def logits(self, calibration, softmax_logits, goodness):\n"
           "        return (goodness + F.log_softmax(softmax_logits, dim=-1)) / calibration\n\n"
           "    def fit(self, softmax_logits, goodness, targets):\n"
           "        return fit_temperature(goodness + F.log_softmax(softmax_logits, dim=-1), targets)\n\n\n"
           "READOUT_KINDS = registry(")
    c.edit("model/readouts.py", '"product": ProductReadout()', '"product": ProductReadout(), "sum": SumReadout()')
    c.add_to_literal("Readout", "sum")
    records = c.train(tmp / "run", 'train.negative_readout="sum"')  # negatives drawn from it
    assert "sum_bpc" in records[-1] and "sum_temperature" in records[-1]
    assert "sum readout" in c.charff("evaluate", str(tmp / "run"))
    c.charff("sample", str(tmp / "run"), "--readout", "sum", "--start", "the fox and the crow")


def add_recurrence(c: Checkout, tmp: Path) -> None:
    c.edit("model/network.py", '    "self": lambda i, layers: [i],\n',
           '    "self": lambda i, layers: [i],\n    "above": lambda i, layers: [i + 1] if i + 1 < layers else [],\n')
    c.add_to_literal("Recurrence", "above")
    c.train(tmp / "run", 'model.recurrence="above"')


def add_learner(c: Checkout, tmp: Path) -> None:
    c.edit("config.py", '    "frozen_random": LearnerKind(',
           '    "ff_global": LearnerKind(ff=True, local=False, trains_layers=True),\n    "frozen_random": LearnerKind(')
    c.add_to_literal("Learner", "ff_global")
    c.train(tmp / "run", 'train.learner="ff_global"')


def add_phase_kind(c: Checkout, tmp: Path) -> None:
    c.edit("schedule.py", '    "frozen": Updates(wake=False, sleep=False),',
           '    "frozen": Updates(wake=False, sleep=False),\n    "rest": Updates(wake=False, sleep=False),')
    c.add_to_literal("PhaseKind", "rest", "schedule.py")
    records = c.train(tmp / "run", 'train.schedule="wake:1k,rest:1k,sleep:1k"')
    assert "rest" in {r.get("phase") for r in records}


def add_schedule_pattern(c: Checkout, tmp: Path) -> None:
    c.edit("schedule.py", '    if spec == "frozen":\n',
           '    if spec == "halves":\n'
           '        return [Phase("wake", total_chars // 2), Phase("sleep", total_chars - total_chars // 2)], None\n'
           '    if spec == "frozen":\n')
    c.train(tmp / "run", 'train.schedule="halves"')


def add_optimizer(c: Checkout, tmp: Path) -> None:
    c.edit("training/optim.py", '    "adam": build_adam,\n',
           '    "adam": build_adam,\n'
           '    "rmsprop": lambda params, lr, t: torch.optim.RMSprop(params, lr=lr, weight_decay=t.weight_decay),\n')
    c.add_to_literal("Optimizer", "rmsprop")
    c.train(tmp / "run", 'train.optimizer="rmsprop"')


def add_alphabet(c: Checkout, tmp: Path) -> None:
    c.edit("data/vocab.py", "    # the text as it is:",
           '    "lower": AlphabetKind(clean=str.lower,\n'
           '                          symbols=lambda text: "".join(sorted(set(text) - {UNKNOWN})) + UNKNOWN),\n'
           "    # the text as it is:")
    c.add_to_literal("Alphabet", "lower")
    c.train(tmp / "run", 'corpus.alphabet="lower"')


def add_logger(c: Checkout, tmp: Path) -> None:
    (c.root / "charff/hooks/record_count.py").write_text(
        "from pathlib import Path\n\nfrom charff.hooks.base import Hook\n\n\n"
        "class RecordCount(Hook):\n    def __init__(self, run_dir):\n"
        "        self.path = Path(run_dir) / 'records.txt'\n\n"
        "    def on_record(self, trainer, record):\n"
        "        self.path.write_text(str(int(self.path.read_text() if self.path.exists() else 0) + 1))\n")
    c.edit("hooks/loggers.py", 'LOGGERS = {"tensorboard": TensorBoardLog}',
           'LOGGERS = {"tensorboard": TensorBoardLog, "count": RecordCount}')
    c.edit("hooks/loggers.py", "from charff.hooks.tensorboard", "from charff.hooks.record_count import RecordCount\n"
                               "from charff.hooks.tensorboard")
    records = c.train(tmp / "run", extra=("--log", "count"))
    assert int((tmp / "run" / "records.txt").read_text()) == len(records)


def add_ranged_field(c: Checkout, tmp: Path) -> None:
    c.edit("config.py", "    negative_temperature: float = ranged(1.0, POSITIVE)\n",
           "    negative_temperature: float = ranged(1.0, POSITIVE)\n    probe_share: float = ranged(0.5, FRACTION)\n")
    c.train(tmp / "run", "train.probe_share=0.3")
    with pytest.raises(AssertionError, match="train.probe_share"):
        c.train(tmp / "refused", "train.probe_share=2")


def add_validation_metric(c: Checkout, tmp: Path) -> None:
    c.edit("training/validation.py", "    record.update(validating.diagnostics)\n",
           '    record.update(validating.diagnostics)\n    record["scored_share"] = record["val_chars"] / len(val)\n')
    assert 0 < c.train(tmp / "run")[-1]["scored_share"] <= 1


CHANGES = {"a loss": add_loss, "an activation": add_activation, "a kind of negative": add_negative,
           "a fixed proposal for the negatives": add_proposal, "a readout": add_readout,
           "a recurrence": add_recurrence, "a learner (yardstick)": add_learner, "a kind of phase": add_phase_kind,
           "a schedule pattern": add_schedule_pattern, "an optimizer or learning-rate decay": add_optimizer,
           "an alphabet": add_alphabet, "a logger": add_logger, "a config field with a range": add_ranged_field,
           "a validation metric": add_validation_metric}


def named_files(row: str) -> set[str]:
    """The package files a DESIGN.md row names: each `module.attribute` or `folder/module.py` in
    backticks that is a file under charff/ (`hooks/` alone: a new module in that folder)."""
    files = set()
    for token in re.findall(r"`([^`]+)`", row):
        parts = token.split(".")
        for end in range(len(parts), 0, -1):
            stem = ".".join(parts[:end]).removesuffix(".py")
            if (REPO / "charff" / f"{stem}.py").is_file():
                files.add(f"charff/{stem}.py")
                break
        else:
            if token.endswith("/") and (REPO / "charff" / token).is_dir():
                files.add(f"charff/{token}")
    return files


def design_row(name: str) -> str:
    rows = [line for line in (REPO / "docs" / "DESIGN.md").read_text().splitlines()
            if line.startswith(f"| {name} |")]
    assert len(rows) == 1, f"DESIGN.md has no row '| {name} |'"
    return rows[0]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CHANGES))
def test_a_design_row_names_the_files_its_change_touches(name, tmp_path):
    checkout = Checkout(tmp_path / "checkout")
    CHANGES[name](checkout, tmp_path)
    named = named_files(design_row(name))
    touched = checkout.touched()
    folders = {f for f in named if f.endswith("/")}
    new_in_folder = {f for f in touched if any(f.startswith(folder) for folder in folders)
                     and not (REPO / f).exists()}
    assert touched - new_in_folder == named - folders, f"the row names {sorted(named)}; the change touched {touched}"
