import json
from pathlib import Path

import pytest

from charff.analysis.results import RunResult, SweepResult
from charff.cli import main
from charff.errors import CharffError
from charff.sweep.grid import load_grid

GRID = """
description = "tiny grid"
seeds = [0, 1]
budget_minutes = 30
[base.model]
hidden = [16]
[base.train]
chars = 1024
streams = 16
eval_every = 512
eval_goodness_chars = 64
negatives = "self_generated"
[grid]
"train.schedule" = ["interleaved", "separated:256", "separated:512/256"]
"""

ARMS = """
[arms.fast]
label = "a faster learning rate"
"train.lr" = 0.01
[arms.slow]
"train.lr" = 0.001
"""


def write(tmp_path, text, name="grid.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_grid_expands_to_settings_times_seeds(tmp_path):
    grid = load_grid(write(tmp_path, GRID))
    cells = grid.cells(tmp_path / "out")
    assert len(grid.settings) == 3 and len(cells) == 6
    assert len({c.run_dir for c in cells}) == 6


def test_arms_cross_the_grid_and_override_it(tmp_path):
    grid = load_grid(write(tmp_path, GRID + ARMS))
    assert len(grid.settings) == 6
    fast = [s for s in grid.settings if s.arm == "fast"]
    assert {s.label for s in fast} == {"a faster learning rate"}
    assert all(grid.config_for(s, 0).train.lr == 0.01 for s in fast)
    assert fast[0].name == "schedule=interleaved,arm=fast"


def test_arms_alone_are_a_reproduce_preset(tmp_path):
    grid = load_grid(write(tmp_path, GRID.split("[grid]")[0] + ARMS), seeds=[3])
    assert [s.name for s in grid.settings] == ["fast", "slow"]
    assert [c.run_dir.name for c in grid.cells(tmp_path)] == ["seed3", "seed3"]


@pytest.mark.parametrize("text, match", [
    ("seeds = [0]\n[grid]\n", "empty"),
    ('[grid]\n"train.nosuch" = [1]\n', "unknown config key"),
    ('bogus = 1\n[grid]\n"train.lr" = [0.1]\n', "unknown key"),
    ('[grid]\n"train.schedule" = ["separated:0"]\n', "positive"),
    ('seeds = ["a"]\n[grid]\n"train.lr" = [0.1]\n', "seeds"),
])
def test_bad_grids_are_refused(tmp_path, text, match):
    with pytest.raises(CharffError, match=match):
        load_grid(write(tmp_path, text))


def test_ablate_runs_resumes_and_plots(tmp_path, capsys):
    grid, out = write(tmp_path, GRID), tmp_path / "sweep"
    main(["ablate", str(grid), "--out", str(out), "--workers", "2", "--log", "tensorboard"])
    assert len(list(out.glob("*/seed*/tensorboard/events.out.tfevents.*"))) == 6
    results = json.loads((out / "results.json").read_text())
    rows = results["rows"]
    assert {r["schedule"] for r in rows} == {"interleaved", "separated:256", "separated:512/256"}
    assert all(r["seeds"] == 2 and 0 <= r["final_softmax_acc"] <= 1 for r in rows)
    assert (out / "results.csv").read_text().count("\n") == 4
    assert (out / "phase_length.png").stat().st_size > 10_000
    assert (out / "curves.png").stat().st_size > 10_000
    markdown = (out / "results.md").read_text()
    assert "| schedule=interleaved | interleaved |" in markdown
    # every readout of every setting on the test split, mean and interval over the two seeds
    test_rows = markdown.split("On the test split")[1].split("\n\n")[1].splitlines()[2:]
    assert len(test_rows) == 3 + 7 and all(r["test_product_bpc_ci95"] > 0 for r in rows)
    assert results["test_ngram"]["3-gram"]["bpc"] != results["ngram"]["3-gram"]["bpc"]
    assert "test split, bits/char" in capsys.readouterr().out
    stamp = (out / rows[0]["cell"] / "seed0" / "summary.json").stat().st_mtime_ns
    main(["ablate", str(grid), "--out", str(out), "--workers", "1"])  # finished cells are skipped
    assert (out / rows[0]["cell"] / "seed0" / "summary.json").stat().st_mtime_ns == stamp
    main(["plot", str(out / rows[1]["cell"] / "seed0")])
    assert (out / rows[1]["cell"] / "seed0" / "learning_curves.png").exists()
    assert (out / rows[1]["cell"] / "seed0" / "goodness.png").exists()
    (out / "curves.png").unlink()
    main(["plot", str(out)])
    assert (out / "curves.png").exists()


def test_over_budget_grid_asks_for_yes(tmp_path, capsys):
    grid = write(tmp_path, GRID.replace("budget_minutes = 30", "budget_minutes = 0.0001"))
    with pytest.raises(SystemExit) as exit_info:
        main(["ablate", str(grid), "--out", str(tmp_path / "sweep")])
    assert exit_info.value.code == 2
    assert "--yes" in capsys.readouterr().err
    assert not (tmp_path / "sweep" / "results.json").exists()


def test_every_shipped_experiment_loads():
    from pathlib import Path

    from charff.config import load_config

    folder = Path(__file__).resolve().parents[1] / "experiments"
    for path in sorted(folder.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        if "[base" in text:
            assert load_grid(path).settings, path
        else:
            load_config(path)


def test_a_sweep_over_alphabets_names_each_corpus_once():
    def run(alphabet):
        return RunResult(Path("."), [], {"corpus": {"name": "aesop", "alphabet": alphabet}})

    result = SweepResult(Path("."), {}, {"a": [run("hinton30"), run("hinton30")], "b": [run("full")]})
    assert result.corpus_names() == ["aesop (hinton30)", "aesop (full)"]


def test_a_grid_over_budget_on_a_slow_machine_asks_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("charff.sweep.execute.measure_rate", lambda base, workers: 1.0)  # 1 char/s
    grid = write(tmp_path, GRID)
    with pytest.raises(SystemExit) as exit_info:
        main(["ablate", str(grid), "--out", str(tmp_path / "sweep")])
    assert exit_info.value.code == 2
    assert "--yes" in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_the_default_preset_never_asks_for_yes(monkeypatch):
    asked = []
    monkeypatch.setattr("charff.sweep.execute.run_sweep", lambda grid, out, executor, console, yes, log: asked.append(
        (grid.description, yes)))
    main(["reproduce"])
    main(["reproduce", "--preset", "quick"])
    assert [yes for _, yes in asked] == [True, False]


def test_a_missing_corpus_fails_before_the_speed_test_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    def never(*args):
        raise AssertionError("the speed test ran")

    monkeypatch.setattr("charff.sweep.execute.measure_rate", never)
    with pytest.raises(SystemExit):
        main(["reproduce", "--corpus", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "out")])
    assert "missing.txt" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_settings_can_have_warm_starts_of_their_own(tmp_path):
    grid = load_grid(write(tmp_path, GRID.replace('[grid]', '[fork]\n"train.chars" = 512\n'
                                                  'per_setting = ["train.lr"]\n[grid]\n"train.lr" = [0.01, 0.001]')))
    out = tmp_path / "out"
    trunks = grid.trunks(out)
    assert sorted(str(t.run_dir.relative_to(out.resolve())) for t in trunks) == [
        "fork/lr=0.001/seed0", "fork/lr=0.001/seed1", "fork/lr=0.01/seed0", "fork/lr=0.01/seed1"]
    assert {t.config.train.lr for t in trunks} == {0.01, 0.001} and all(t.config.train.chars == 512 for t in trunks)
    for cell in grid.cells(out):
        trunk = Path(cell.config.train.fork_from)
        assert trunk.parent.name == f"lr={cell.config.train.lr}" and trunk.name == f"seed{cell.seed}"
