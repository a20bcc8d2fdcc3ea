"""The separation law's instruments and controls: gradient noise scale and one-sided ratio,
evaluations at phase ends, forks that share a warm start, the frozen null, paired verdicts."""

import json
import math
import re

import pytest
import torch

from charff.analysis.law import bracket_text
from charff.analysis.paired import differences, verdict
from charff.analysis.results import evals_of, read_records
from charff.errors import CharffError
from charff.hooks import Hook
from charff.model.network import FFNet
from charff.run import finish_run, resume_run, start_run
from charff.sweep.grid import load_grid
from charff.training.auto_phases import auto_phase_chars
from charff.training.checkpoint import load_checkpoint
from charff.training.instruments import layer_record, measure_gradients
from charff.training.trainer import Interrupted
from tests.conftest import tiny_config

DROPPED = ("seconds", "instrument_seconds")  # wall-clock fields
VERDICTS = ("holds", "falls behind", "ahead of the twin", "not resolved", "below the frozen null")


def train(config, out):
    trainer = start_run(config, out)
    trainer.run()
    finish_run(trainer)
    return [r for r in read_records(out)]


def test_the_noise_scale_is_recovered_from_two_batch_sizes():
    """With |G|^2 = 4 and tr(Sigma) = 100, a batch of b has E|G_b|^2 = 4 + 100 / b."""
    signal, trace, small, big = 4.0, 100.0, 16, 128
    parts = {"both": signal + trace / big, "small": signal + trace / small, "wake": 9 * (signal + trace / big)}
    record = layer_record(parts, small, big, "")
    assert record["noise_scale"] == pytest.approx(trace / signal)
    assert record["one_sided_ratio"] == pytest.approx(3.0)


def test_identical_rows_have_no_gradient_noise():
    config = tiny_config()
    model = FFNet(config.model, 30)
    windows = torch.randint(0, 30, (1, config.model.window)).repeat(64, 1)
    state = [torch.zeros(64, w) for w in config.model.hidden]
    negative = torch.cat([windows[:, :-1], (windows[:, -1:] + 1) % 30], dim=1)
    record = measure_gradients(model, config.model, (windows, state), (negative, state))
    for i in range(len(config.model.hidden)):
        assert abs(record[f"noise_scale/{i}"]) < 1e-3 * 64  # tr(Sigma) = 0 up to rounding
        assert record[f"grad_norm/{i}"] > 0 and record[f"one_sided_ratio/{i}"] > 0
    varied = torch.randint(0, 30, (64, config.model.window))
    noisy = measure_gradients(model, config.model, (varied, state), (torch.roll(varied, 1, 0), state))
    assert noisy["noise_scale"] > 1.0


def test_measuring_changes_nothing_that_follows(tmp_path):
    plain = train(tiny_config(negatives="self_generated", streams=64), tmp_path / "plain")
    measured = train(tiny_config(negatives="self_generated", streams=64, measure_gradients=True),
                     tmp_path / "measured")
    # None where the batch is too small for the unbiased |G|^2 to come out positive
    assert all(r["grad_norm/1"] > 0 and r["one_sided_ratio/1"] > 0 and "noise_scale/1" in r
               for r in evals_of(measured))
    assert any(r["noise_scale"] is not None and math.isfinite(r["noise_scale"]) for r in evals_of(measured))
    from charff.analysis.report import draw_runs

    assert (tmp_path / "measured" / "instruments.png") in draw_runs(tmp_path / "measured")
    assert (tmp_path / "plain" / "instruments.png") not in draw_runs(tmp_path / "plain")
    for a, b in zip(plain, measured, strict=True):
        kept = {k: v for k, v in b.items() if k not in DROPPED and not k.startswith(
            ("noise_scale", "one_sided_ratio", "grad_norm"))}
        assert kept == {k: v for k, v in a.items() if k not in DROPPED}


def test_a_separated_run_is_evaluated_at_every_phase_end(tmp_path):
    config = tiny_config(schedule="separated:800", chars=4_000, eval_every=100_000, eval_at_phase_ends=True)
    evals = evals_of(train(config, tmp_path / "run"))
    assert [(r["chars"], r["phase_end"]) for r in evals] == [
        (800, "wake"), (1600, "sleep"), (2400, "wake"), (3200, "sleep"), (4000, "wake")]


def test_a_fork_continues_its_trunk_exactly(tmp_path):
    """Trunk 2k + an interleaved arm of 2k = one uninterrupted 4k run: everything carried over
    (at a constant learning rate: a decay counts each run's own characters)."""
    constant = {"eval_every": 2_000, "lr_decay": "constant"}
    whole = evals_of(train(tiny_config(chars=4_000, **constant), tmp_path / "whole"))
    train(tiny_config(chars=2_000, **constant), tmp_path / "trunk")
    arm = evals_of(train(tiny_config(chars=2_000, fork_from=str(tmp_path / "trunk"), **constant), tmp_path / "arm"))
    assert arm[-1]["chars"] == 2_000
    assert arm[-1]["softmax_bpc"] == whole[-1]["softmax_bpc"]
    assert arm[-1]["goodness_auc"] == whole[-1]["goodness_auc"]


def test_the_frozen_null_never_changes_the_net(tmp_path):
    train(tiny_config(chars=2_000), tmp_path / "trunk")
    train(tiny_config(chars=2_000, schedule="frozen", fork_from=str(tmp_path / "trunk")), tmp_path / "null")
    before, after = load_checkpoint(tmp_path / "trunk")["model"], load_checkpoint(tmp_path / "null")["model"]
    for name, tensor in before.items():
        if not name.endswith("temperature") and name != "product_weights":  # refitted on calibration
            assert torch.equal(tensor, after[name]), name


def test_a_fork_refuses_an_unfinished_or_different_trunk(tmp_path):
    with pytest.raises(CharffError, match="not a finished run"):
        start_run(tiny_config(fork_from=str(tmp_path / "nothing")), tmp_path / "a")
    train(tiny_config(chars=2_000), tmp_path / "trunk")
    other = tiny_config(fork_from=str(tmp_path / "trunk"))
    other.model.hidden = [32, 32]
    with pytest.raises(CharffError, match="model.hidden"):
        start_run(other, tmp_path / "b")


def seeds_of(auc, bits=None, goodness_acc=0.3) -> dict:
    """Per-seed finals: the common AUC per seed, product bits/char per seed (4.0 each by default)."""
    bits = bits or [4.0] * len(auc)
    return {s: {"goodness_acc": goodness_acc, "goodness_auc": 0.8, "goodness_auc_common": a, "product_acc": 0.4,
                "product_bpc": b, "softmax_acc": 0.3} for s, (a, b) in enumerate(zip(auc, bits, strict=True))}


def test_holds_is_an_equivalence_by_two_one_sided_tests_on_the_primary_measures():
    twin = seeds_of([0.80, 0.81, 0.82, 0.83, 0.84])
    null = seeds_of([0.70, 0.71, 0.72, 0.73, 0.74], [4.2] * 5)
    close = seeds_of([0.798, 0.807, 0.816, 0.828, 0.837])  # within 0.01 AUC of the twin, tight
    assert verdict(differences(close, twin), differences(close, null)) == "holds"
    # the same mean shortfall with a spread whose 90% interval crosses -0.02: not resolved
    loose = seeds_of([0.77, 0.83, 0.79, 0.85, 0.82])
    diff = differences(loose, twin)
    shortfall, half = diff["goodness_auc_common"], diff["goodness_auc_common_ci90"]
    assert -0.02 < shortfall and shortfall - half < -0.02
    assert verdict(diff, differences(loose, null)) == "not resolved"
    behind = seeds_of([0.75, 0.76, 0.765, 0.78, 0.78])
    assert verdict(differences(behind, twin), differences(behind, null)) == "falls behind"
    worse = seeds_of([0.65, 0.66, 0.67, 0.68, 0.69])
    assert verdict(differences(worse, twin), differences(worse, null)) == "below the frozen null"
    # the AUC kept, the density lost: bits/char 0.1 worse than the twin is behind it
    blunt = seeds_of([0.798, 0.807, 0.816, 0.828, 0.837], [4.10, 4.11, 4.09, 4.10, 4.12])
    assert verdict(differences(blunt, twin), differences(blunt, null)) == "falls behind"
    # more bits/char than the frozen null, whatever the AUC: below the null
    costly = seeds_of([0.798, 0.807, 0.816, 0.828, 0.837], [4.30, 4.31, 4.29, 4.30, 4.32])
    assert verdict(differences(costly, twin), differences(costly, null)) == "below the frozen null"
    one = {0: close[0]}  # one seed has no interval: never resolved
    assert differences(one, twin)["goodness_auc_common_ci90"] is None
    assert verdict(differences(one, twin), differences(one, null)) == "not resolved"


def test_accuracy_no_longer_decides_a_verdict():
    """A goodness readout on its floor (one character everywhere) scores the same accuracy in every
    arm: the verdict follows the primary measures, not the floor."""
    twin = seeds_of([0.80, 0.81, 0.82, 0.83, 0.84], goodness_acc=0.196)
    null = seeds_of([0.70, 0.71, 0.72, 0.73, 0.74], [4.2] * 5, goodness_acc=0.196)
    behind = seeds_of([0.75, 0.76, 0.765, 0.78, 0.78], goodness_acc=0.196)
    assert differences(behind, twin)["goodness_acc"] == 0.0
    assert verdict(differences(behind, twin), differences(behind, null)) == "falls behind"


def test_the_runs_own_auc_stands_in_only_where_a_seed_lacks_the_common_one():
    twin = seeds_of([0.80, 0.81, 0.82, 0.83, 0.84])
    null = seeds_of([0.70, 0.71, 0.72, 0.73, 0.74], [4.2] * 5)
    close = seeds_of([0.798, 0.807, 0.816, 0.828, 0.837])
    for s in range(5):
        close[s]["goodness_auc"] = 0.75  # own negatives: far behind, not read
    assert verdict(differences(close, twin), differences(close, null)) == "holds"
    close[0]["goodness_auc_common"] = None  # one seed without the yardstick: the own AUC decides
    # (0.75 on its own negatives, against 0.8 for the twin's and the null's)
    assert verdict(differences(close, twin), differences(close, null)) == "below the frozen null"


def test_a_twin_row_says_whether_it_learns_after_the_fork():
    null = seeds_of([0.70, 0.71, 0.72, 0.73, 0.74])
    assert verdict(None, differences(seeds_of([0.76, 0.77, 0.78, 0.79, 0.80]), null)) == "learns after the fork"
    assert verdict(None, differences(seeds_of([0.71, 0.70, 0.73, 0.72, 0.75]), null)) == \
        "gain over the null not resolved"
    fewer_bits = seeds_of([0.71, 0.70, 0.73, 0.72, 0.75], [3.90, 3.91, 3.89, 3.92, 3.90])
    assert verdict(None, differences(fewer_bits, null)) == "learns after the fork"


LAW_GRID = """
description = "tiny law"
seeds = [0, 1]
[base.model]
hidden = [8]
[base.train]
chars = 2_000
streams = 16
negatives = "self_generated"
eval_every = 250
eval_at_phase_ends = true
eval_goodness_chars = 32
measure_gradients = true
[fork]
"train.chars" = 1_000
[grid]
"train.momentum" = [0.9, 0.5]
[arms.interleaved]
"train.schedule" = "interleaved"
[arms.frozen]
"train.schedule" = "frozen"
[arms.sep]
"train.schedule" = "separated:500"
[arms.short]
"train.schedule" = "separated:250"
[arms.batch]
"train.accumulate" = 62
"""


def test_a_forked_sweep_reports_the_law(tmp_path):
    from charff.cli import main

    grid = tmp_path / "grid.toml"
    grid.write_text(LAW_GRID)
    out = tmp_path / "out"
    main(["ablate", str(grid), "--yes", "--workers", "1", "--out", str(out)])
    assert sorted(p.name for p in (out / "fork").iterdir()) == ["seed0", "seed1"]
    results = json.loads((out / "results.json").read_text())
    arms = {row["cell"]: row for row in results["paired"]}
    sep = arms["momentum=0.9,arm=sep"]
    assert sep["batch_twin"] == "momentum=0.9,arm=batch" and sep["cycle_chars"] == 1_000
    assert sep["vs_twin"]["paired_seeds"] == 2 and sep["verdict"] in VERDICTS
    on_test = {row["cell"]: row for row in results["paired_test"]}  # the same comparison, on the test split
    assert on_test.keys() == arms.keys()
    tested = {cell: [json.loads((out / cell / f"seed{s}" / "summary.json").read_text())["test"]["goodness_auc"]
                     for s in (0, 1)] for cell in ("momentum=0.9,arm=sep", "momentum=0.9,arm=interleaved")}
    gaps = [a - b for a, b in zip(tested["momentum=0.9,arm=sep"], tested["momentum=0.9,arm=interleaved"], strict=True)]
    assert on_test["momentum=0.9,arm=sep"]["vs_twin"]["goodness_auc"] == pytest.approx(sum(gaps) / 2)
    report = (out / "results.md").read_text()
    assert all(f"### Read at {point}" in report for point in ("end of wake", "end of sleep", "cycle mean (headline)",
                                                             "final (test)"))
    # at a read point the twin is read where the arm is: at its last wake phase's end
    wake = {row["cell"]: row for row in results["paired_at"]["end of wake"]}["momentum=0.9,arm=sep"]
    assert wake["vs_twin"]["paired_seeds"] == 2 and wake["point"] == "end of wake"
    # every arm of a warm start against the same saved negatives: the frozen null, which is the
    # warm start's net, scores on them exactly as on its own (drawn from the same seed)
    null = json.loads((out / "momentum=0.9,arm=frozen" / "seed0" / "summary.json").read_text())
    assert null["common_auc"]["test"] == pytest.approx(null["test"]["goodness_auc"], abs=1e-12)
    assert (out / "fork" / "seed0" / "common_negatives.pt").is_file()
    assert set(sep["per_seed"]) == {"0", "1"} and "goodness_auc_common" in sep["vs_twin"]["per_seed"]
    frontier = json.loads((out / "frontier.json").read_text())  # every read point's frontier
    assert frontier["headline"] == "cycle mean"
    assert {e["setting"] for e in frontier["entries"]["cycle mean"]} == {"momentum=0.9", "momentum=0.5"}
    assert frontier["answer"]["cycle mean"] and (out / "frontier.png").stat().st_size > 10_000
    law = json.loads((out / "law.json").read_text())
    assert sorted(entry["horizon_updates"] for entry in law) == pytest.approx([2.0, 10.0])
    assert all(entry["one_sided_ratio"] > 0 and entry["h_over_r_chars"] > 0 for entry in law)
    for name in ("law.png", "law_curves_momentum0.9.png", "law_curves_momentum0.5.png"):
        assert (out / name).stat().st_size > 10_000


def test_the_crossing_bracket_says_which_end_is_open():
    entry = {"crossing_above_chars": 64_000, "crossing_below_chars": 250_000}
    assert bracket_text(entry) == "P* in (64,000, 250,000]"
    assert bracket_text({"crossing_above_chars": 250_000, "crossing_below_chars": None}).startswith("P* > 250,000")
    assert bracket_text({"crossing_above_chars": None, "crossing_below_chars": 16_000}).startswith("P* <= 16,000")
    assert "not bracketed" in bracket_text({"crossing_above_chars": None, "crossing_below_chars": None})


def test_the_gpu_law_grid_has_the_cpu_grids_arms_and_loads():
    from charff.packaged import presets_folder
    from charff.sweep.grid import load_grid

    folder = presets_folder()
    cpu, gpu = (load_grid(folder / f"separation_law{suffix}.toml") for suffix in ("", "_gpu"))
    assert {s.arm for s in gpu.settings} == {s.arm for s in cpu.settings}
    assert gpu.fork and len(gpu.seeds) >= 3 and len(gpu.settings) > len(cpu.settings)


class StopAfter(Hook):
    def __init__(self, chars: int):
        self.chars = chars

    def on_step(self, trainer, phase, rows, stats):
        if trainer.chars >= self.chars:
            trainer.request_stop()


def test_separated_auto_sets_each_phase_from_the_ratio_it_measured_and_resumes_exactly(tmp_path):
    config = tiny_config(schedule="separated:auto", chars=6_000, eval_every=1_000, negatives="self_generated",
                         auto_fraction=5.0)
    whole = start_run(config, tmp_path / "whole")
    whole.run()
    replans = [r for r in read_records(tmp_path / "whole") if r["kind"] == "replan"]
    assert replans[0]["chars"] == 0 and len(replans) >= 2
    starts = {}  # character count at which each phase began -> its length
    at = 0
    for phase in whole.phases:
        starts[at] = phase
        at += phase.chars
    for record in replans:
        assert record["phase_chars"] == auto_phase_chars(record["one_sided_ratio"], config.train)
        following = starts[record["chars"]]
        assert following.kind == "wake" and following.chars == min(record["phase_chars"], 6_000 - record["chars"])
    broken = start_run(config, tmp_path / "broken", [StopAfter(3_000)])
    with pytest.raises(Interrupted):
        broken.run()
    resume_run(tmp_path / "broken").run()
    assert strip(read_records(tmp_path / "broken")) == strip(read_records(tmp_path / "whole"))


def strip(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in DROPPED} for r in records]


def shrunk(text: str, whole_grid: bool) -> str:
    """A separation grid file at toy size: phases, warm start and characters cut down, the same arms;
    the grid's lists cut to their first value unless whole_grid."""
    if not whole_grid:
        text = re.sub(r'^("train\.\w+" = \[[^,\]]+),[^\]]*\]', r"\1]", text, flags=re.M)
    for big, small in (('"separated:250k"', '"separated:250"'), ('"separated:1M"', '"separated:500"'),
                       ('"separated:62500"', '"separated:125"'), ('"separated:15625"', '"separated:50"'),
                       ('"separated:4000"', '"separated:20"'),
                       ('"train.chars" = 500_000', '"train.chars" = 500'), ("chars = 2_000_000", "chars = 1_000"),
                       ("chars = 1_500_000", "chars = 1_000"), ('name = "aesop"', 'name = "fables"'),
                       ("hidden = [128, 128, 128]", "hidden = [8]"),
                       ("streams = 1024", "streams = 16\neval_streams = 16"),
                       ("eval_every = 250_000", "eval_every = 500"), ("eval_goodness_chars = 2048",
                                                                      "eval_goodness_chars = 32"),
                       # the draft's sleep and granularity
                       ("eval_goodness_chars = 8192", "eval_goodness_chars = 32"),
                       ("chars = 2_500_000", "chars = 1_000"), ("chars = 4_000_000", "chars = 1_000"),
                       ("chars = 6_000_000", "chars = 1_000"), ('"train.chars" = 2_000_000', '"train.chars" = 500'),
                       ("streams = 248", "streams = 16\neval_streams = 16"), ("accumulate = 90", "accumulate = 3"),
                       ("eval_every = 62_500", "eval_every = 125"), ('eval_every" = 62_500', 'eval_every" = 125'),
                       ("= 4_000_000", "= 1_000"), ("= 6_000_000", "= 1_000"), ("= 1_000_000", "= 500"),
                       ("= 750_000", "= 500"), ("= 500_000", "= 250")):
        text = text.replace(big, small)
    return text


@pytest.mark.parametrize(("name", "whole_grid"), [
    ("separation_frontier_gpu", False), ("separation_breaks", False),
    ("separation_draft_granularity", False), ("separation_band", False),
    pytest.param("separation_draft_sleep", False, marks=pytest.mark.slow),  # 9 arms, goodness generators: 3 min
    pytest.param("separation_band_gpu", False, marks=pytest.mark.slow),
    pytest.param("separation_draft_sleep_gpu", False, marks=pytest.mark.slow),
    pytest.param("separation_draft_granularity_gpu", False, marks=pytest.mark.slow),
    pytest.param("separation_frontier_gpu", True, marks=pytest.mark.slow)])  # 96 cells: 5 minutes
def test_the_separation_grids_run_at_toy_size_on_the_cpu(tmp_path, name, whole_grid):
    from charff.cli import main
    from charff.packaged import presets_folder

    text = (presets_folder() / f"{name}.toml").read_text()
    if name.startswith(("separation_draft", "separation_band")):  # twins evaluate where 250-character phases end
        text = text.replace("eval_every = 250_000", "eval_every = 250").replace('eval_every" = 250_000',
                                                                              'eval_every" = 250')
    text = shrunk(text, whole_grid)
    settings = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert not any(big in settings for big in (":250k", ":1M", "000_000", "1024", "128, 128"))  # all shrunk
    grid = tmp_path / "grid.toml"
    grid.write_text(text)
    out = tmp_path / "out"
    main(["ablate", str(grid), "--yes", "--workers", "1", "--seeds", "0,1", "--out", str(out)])
    results = json.loads((out / "results.json").read_text())
    arms = [row for row in results["paired_test"] if row["role"] == "arm"]
    assert arms and all(row["verdict"] in VERDICTS for row in arms)
    assert all(row["vs_twin"]["per_seed"]["goodness_auc_common"] for row in arms)
    if name.startswith(("separation_draft", "separation_band")):  # read at three points, against a twin there
        headline = [row for row in results["paired_at"]["cycle mean"] if row["role"] == "arm"]
        assert headline and all(row["vs_twin"] and row["twin_vs_null"] for row in headline)
        # every arm of the granularity grid accumulates: its interleaved arms are still twins
        assert not any(row["role"] == "batch" for row in results["paired"])
    if name.endswith("gpu"):
        assert len(load_grid(presets_folder() / f"{name}.toml").seeds) >= 16
        if whole_grid:
            frontier = json.loads((out / "frontier.json").read_text())
            assert len(frontier["entries"][frontier["headline"]]) == len(arms)
    elif name in ("separation_draft_sleep", "separation_band"):  # one phase length: a frontier, no law
        assert (out / "frontier.json").is_file()
    else:
        assert (out / "law.json").is_file()
