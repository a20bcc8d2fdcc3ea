"""Every bad input the README promises to catch: one line on stderr, exit status 2, no traceback,
nothing overwritten. One row per input."""

import os

import pytest

from charff.cli import main
from charff.rundir import RunLock
from tests.test_cli import TRAIN, assert_one_line_error, trained_run  # noqa: F401 - a shared fixture

GRID = '[base.model]\nhidden = [16]\n[base.train]\nchars = 512\nstreams = 8\n'


def setup_nothing(tmp_path, run):
    return []


def out_is_a_file(tmp_path, run):
    (tmp_path / "file").write_text("keep me")
    return ["--out", str(tmp_path / "file")]


def out_under_a_file(tmp_path, run):
    (tmp_path / "file").write_text("keep me")
    return ["--out", str(tmp_path / "file" / "run")]


def corpus_file(content: bytes):
    def setup(tmp_path, run):
        (tmp_path / "c.txt").write_bytes(content)
        return ["--set", f'corpus.name="{tmp_path / "c.txt"}"', "--out", str(tmp_path / "r")]
    return setup


def prompt_file(content: bytes):
    def setup(tmp_path, run):
        (tmp_path / "p.txt").write_bytes(content)
        return ["sample", str(run), "--start", f"FILE:{tmp_path / 'p.txt'}"]
    return setup


def grid_file(text: str):
    def setup(tmp_path, run):
        (tmp_path / "g.toml").write_text(text)
        return ["ablate", str(tmp_path / "g.toml"), "--out", str(tmp_path / "sweep")]
    return setup


def torn_copy(tmp_path, run):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    text = (copy / "metrics.jsonl").read_text()
    (copy / "metrics.jsonl").write_text(text[: len(text) - 40])
    return copy


def train_with(*settings):
    def setup(tmp_path, run):
        return [*(x for s in settings for x in ("--set", s)), "--out", str(tmp_path / "r")]
    return setup


CASES = [
    # (name, base args, setup -> extra args, expected words)
    ("negative weight decay", TRAIN, train_with("train.weight_decay=-1"), "train.weight_decay must be zero or more"),
    ("unknown device", TRAIN, train_with("train.device=tpu"), "train.device 'tpu'"),
    ("negative threshold", TRAIN, train_with("model.threshold=-1"), "model.threshold must be zero or more"),
    ("negative top-k for negatives", TRAIN, train_with("train.negative_top_k=-1"), "train.negative_top_k"),
    ("more hard negatives than negatives", TRAIN, train_with("train.hard_negatives=2"), "train.hard_negatives"),
    ("hard random negatives", TRAIN, train_with("train.hard_negatives=1", "train.negatives=random"),
     "random negatives have none"),
    ("negative mix above 1", TRAIN, train_with("train.negative_mix=1.5"), "train.negative_mix must be in"),
    ("short prompt never in the training text", [], lambda tmp_path, run: ["sample", str(run), "--start", "qzx"],
     "never occurs"),
    ("final lr fraction above 1", TRAIN, train_with("train.lr_final_fraction=2.0"), "train.lr_final_fraction"),
    ("phase longer than the run", TRAIN, train_with('train.schedule="separated:9999999999999999999M"'),
     "no sleep phase would run"),
    ("sleep phases alone", TRAIN, train_with('train.schedule="sleep:1000"'), "never sees real text"),
    ("separated:auto with fewer than 8 streams", TRAIN,
     train_with('train.schedule="separated:auto"', "train.streams=4"), "at least 8"),
    ("unknown peer normalisation windows", TRAIN, train_with('model.peer_windows="negatives"'),
     "model.peer_windows must be one of"),
    ("list shorter than the run", TRAIN, train_with('train.schedule="wake:200,sleep:200"'), "covers 400"),
    ("--out is a file", TRAIN, out_is_a_file, "is a file"),
    ("--out under a file", TRAIN, out_under_a_file, "cannot create"),
    ("corpus of spaces only", TRAIN, corpus_file(b"123 !!! ??? 456 " * 20), "nothing but spaces"),
    ("a directory as corpus", TRAIN, lambda tmp_path, run: ["--set", f'corpus.name="{tmp_path}"', "--out",
                                                            str(tmp_path / "r")], "is a directory"),
    ("binary prompt file", [], prompt_file(b"\x00\x01\x02\x03"), "binary"),
    ("UTF-16 prompt file", [], prompt_file("the fox".encode("utf-16")), "not UTF-8"),
    ("temperature nan", [], lambda tmp_path, run: ["sample", str(run), "--temperature", "nan"], "--temperature"),
    ("temperature inf", [], lambda tmp_path, run: ["sample", str(run), "--temperature", "inf"], "--temperature"),
    ("top-k below 0", [], lambda tmp_path, run: ["sample", str(run), "--top-k", "-1"], "--top-k"),
    ("top-k above the alphabet", [], lambda tmp_path, run: ["sample", str(run), "--top-k", "31"], "--top-k"),
    ("plot of a torn metrics log", [], lambda tmp_path, run: ["plot", str(torn_copy(tmp_path, run))], "torn"),
    ("plot of a run never evaluated", [], lambda tmp_path, run: (tmp_path / "r").mkdir() or
     (tmp_path / "r" / "metrics.jsonl").write_text("") or ["plot", str(tmp_path / "r")], "evaluated"),
    ("non-integer seeds", [], grid_file('seeds = ["a"]\n' + GRID + '[grid]\n"train.lr" = [0.1]\n'), "seeds"),
    ("repeated grid value", [], grid_file(GRID + '[grid]\n"train.lr" = [0.001, 0.001]\n'), "twice"),
    ("sweep --out is a file", [], lambda tmp_path, run: [*grid_file(GRID + '[grid]\n"train.lr" = [0.1]\n')(
        tmp_path, run)[:2], *out_is_a_file(tmp_path, run)], "is a file"),
    ("zero workers", [], lambda tmp_path, run: [*grid_file(GRID + '[grid]\n"train.lr" = [0.1]\n')(tmp_path, run),
                                                "--workers", "0"], "--workers"),
]


@pytest.mark.parametrize("name, base, setup, match", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(tmp_path, capsys, trained_run, name, base, setup, match):  # noqa: F811
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert_one_line_error([*base, *setup(tmp_path, trained_run)], capsys, match)
    for path, content in before.items():
        assert path.read_bytes() == content, f"{path} was changed"


def test_a_second_writer_is_refused_and_the_first_is_untouched(tmp_path, capsys):
    out = tmp_path / "run"
    lock = RunLock(out)  # another charff process writing this run
    try:
        assert_one_line_error([*TRAIN, "--out", str(out)], capsys, "being written by another charff process")
        assert sorted(p.name for p in out.iterdir()) == [".lock"]
        assert (out / ".lock").read_text().strip() == str(os.getpid())
    finally:
        lock.release()
    main([*TRAIN, "--out", str(out)])  # once the first writer is gone, the run goes ahead
    assert (out / "summary.json").exists()


def test_a_fractional_count_that_is_whole_is_accepted(tmp_path):
    main([*TRAIN, "--set", "train.chars=3000", "--set", 'train.schedule="separated:1.5k"', "--out",
          str(tmp_path / "r")])
    assert (tmp_path / "r" / "summary.json").exists()


def test_a_refused_schedule_leaves_nothing_and_the_corrected_command_runs(tmp_path, capsys):
    out = tmp_path / "run"
    small = ["--set", "model.hidden=[16]", "--set", "train.chars=512", "--set", "train.streams=8", "--out", str(out)]
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--set", "train.schedule=separated:abc", *small])
    assert exit_info.value.code == 2 and "'abc'" in capsys.readouterr().err
    assert not out.exists()
    main(["train", "--set", "train.schedule=separated:128", *small])
    assert (out / "summary.json").exists()
