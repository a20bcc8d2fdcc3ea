"""The codebase's own promises: every config choice implemented, options documented, modules small,
no global plotting state, tables that survive a pipe."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from charff.analysis.tables import granularity_table, results_table
from charff.cli import build_parser
from charff.config import LEARNERS, literal_fields
from charff.data.vocab import ALPHABETS
from charff.model.activations import ACTIVATIONS
from charff.model.network import RECURRENCES
from charff.model.objectives import LOSSES
from charff.model.readouts import READOUT_KINDS
from charff.training.negatives import KINDS, PROPOSALS
from charff.training.optim import LR_DECAYS, OPTIMIZERS

PACKAGE = Path(__file__).resolve().parents[1] / "charff"


@pytest.mark.parametrize("key, registry", [
    ("corpus.alphabet", ALPHABETS), ("model.activation", ACTIVATIONS), ("model.loss", LOSSES),
    ("train.negatives", KINDS), ("train.optimizer", OPTIMIZERS), ("train.lr_decay", LR_DECAYS),
    ("train.learner", LEARNERS), ("train.negative_readout", READOUT_KINDS), ("train.negative_proposal", PROPOSALS),
    ("model.recurrence", RECURRENCES),
])
def test_every_declared_choice_has_exactly_one_implementation(key, registry):
    assert set(registry) == set(literal_fields()[key])


def imported_packages(path: Path) -> set[str]:
    """The charff packages (or top-level modules) a module imports, at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("charff."):
            names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("charff.")}
    return names


def test_every_package_is_installed():
    """pyproject.toml lists the packages by hand: a new one must be added there, or an installed
    charff (not the checkout the tests import) fails to import it."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"


def test_no_package_imports_a_package_that_imports_it_back():
    """Layers go one way: shared measures below training and analysis, run orchestration above both."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        graph.setdefault(own, set()).update(imported_packages(path) - {own})

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    cycles = sorted((a, b) for a, deps in graph.items() for b in deps if reaches(b, a, {b}))
    assert not cycles, f"imports that come back around: {cycles}"
    assert "training" not in graph["analysis"] and "analysis" not in graph["training"]


def subparsers(parser):
    for action in parser._actions:
        if action.choices and isinstance(action.choices, dict):
            for child in action.choices.values():
                yield child
                yield from subparsers(child)


def test_every_option_has_help_text():
    for parser in [build_parser(), *subparsers(build_parser())]:
        for action in parser._actions:
            if action.dest != "help" and not isinstance(action.choices, dict):
                assert action.help, f"{parser.prog}: {action.option_strings or action.dest} has no help"


def test_no_module_is_over_400_lines_and_no_function_over_80():
    """Caps that catch a module or function that grew two jobs, set well above where the code sits
    so that they never make code denser to fit."""
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 400, path
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno - node.lineno < 80, f"{path}: {node.name}"


def test_drawing_leaves_a_notebooks_matplotlib_backend_alone(tmp_path):
    code = f"""
import sys, matplotlib
matplotlib.use("svg")
from charff.analysis.plots import plot_run
from charff.schedule import Phase
evals = [{{"chars": c, "softmax_acc": 0.3, "softmax_bpc": 3.0, "goodness_acc": 0.3, "goodness_bpc": 3.0,
          "good_real/0": 2.0, "good_fake/0": 1.0}} for c in (100, 200)]
plot_run(evals, [Phase("wake", 100), Phase("sleep", 100)], "t", __import__("pathlib").Path({str(tmp_path)!r}))
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert "matplotlib.pyplot" not in sys.modules
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "learning_curves.png").stat().st_size > 10_000


def test_results_table_keeps_every_name_at_80_columns():
    row = {"cell": "separated_250k_low_lr_high_momentum", "learner": "ff", "seeds": 2, "collapsed_seeds": 1,
           "collapse_onset_mean": 300_048, "collapse_signals": ["dead_units"], "unlearned_seeds": 1,
           "units_died_seeds": 0}
    for key in ("final_softmax_acc", "final_softmax_bpc", "final_goodness_acc", "final_goodness_bpc"):
        row[key], row[key + "_ci95"] = 0.196, 0.012
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(results_table([row], {"4-gram": {"acc": 0.524, "bpc": 2.19}}, "final validation metrics"))
    row.update(chars_per_update=8192, updates_per_phase=30.5, horizon_updates=100_000.0, horizon_chars=819_200_000.0)
    console.print(granularity_table([row]))
    lines = console.export_text().splitlines()
    assert not any("…" in line for line in lines)
    assert max(len(line) for line in lines) <= 80
    first_column = next(line for line in lines if "softmax" in line).index("softmax")
    folded = "".join(line[:first_column].strip() for line in lines)
    assert "separated_250k_low_lr_high_momentum" in folded
    assert "819,200,000" in "".join(lines)
