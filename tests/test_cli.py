"""Bad input: one line on stderr, exit status 2, no traceback, nothing overwritten."""

import json
import shutil

import pytest
import torch

from charff.cli import main


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def assert_one_line_error(args, capsys, match):
    code, _, err = run_cli(args, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert match in err


TRAIN = ["train", "--set", "train.chars=1000", "--set", "train.eval_every=1000", "--set", "model.hidden=[16]",
         "--set", "train.streams=8", "--set", "train.eval_goodness_chars=64"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    main([*TRAIN, "--out", str(out)])
    return out


def test_train_writes_a_complete_run_directory(trained_run):
    for name in ("config.toml", "metrics.jsonl", "checkpoint.pt", "samples.txt", "summary.json"):
        assert (trained_run / name).is_file(), name
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["chars"] == 1000 and summary["corpus"]["name"] == "fables"


def test_the_summary_reports_every_readout_and_the_n_grams_on_the_test_split(trained_run):
    from charff.analysis.results import read_records
    from charff.config import READOUTS, TrainConfig
    from charff.data.dataset import prepare
    from charff.training.validation import WARMUP

    summary = json.loads((trained_run / "summary.json").read_text())
    test, data = summary["test"], prepare("fables", "hinton30", 0.1, 10)
    assert summary["corpus"]["test_chars"] == len(data.test) > 0
    lead, streams = 10 - 1 + WARMUP, TrainConfig.eval_streams  # every position after a window and warm-up
    assert len(data.test) - lead - streams < test["chars"] <= len(data.test) - lead
    for readout in READOUTS:
        for metric in ("acc", "bpc"):
            assert test[f"{readout}_{metric}_ci"] > 0 and test[f"{readout}_{metric}"] > 0
    assert set(test["ngram"]) == set(summary["ngram"]) and test["ngram"] != summary["ngram"]
    assert all(row["bpc_ci"] > 0 for row in test["ngram"].values())
    evals = [r for r in read_records(trained_run) if r["kind"] == "eval"]
    assert all(r["val_chars"] != test["chars"] or r["softmax_bpc"] != test["softmax_bpc"] for r in evals)


def test_sample_prints_continuations(trained_run, capsys):
    main(["sample", str(trained_run), "--start", "The Fox", "--num-samples", "2", "--max-new-chars", "30",
          "--seed", "3"])
    first = capsys.readouterr().out
    assert first.count("the fox") == 2
    for readout in ("goodness", "product"):
        main(["sample", str(trained_run), "--start", "The Fox", "--num-samples", "2", "--max-new-chars", "30",
              "--seed", "3", "--readout", readout, "--top-k", "5"])
        assert capsys.readouterr().out.count("---") == 2


def test_sample_reads_the_product_readout_of_an_ff_run_unless_told(trained_run, capsys):
    args = ["sample", str(trained_run), "--start", "The Fox", "--num-samples", "2", "--max-new-chars", "30",
            "--seed", "3"]
    outputs = {}
    for readout in ("", "product", "softmax"):
        main([*args, *(["--readout", readout] if readout else [])])
        outputs[readout] = capsys.readouterr().out
    assert outputs[""] == outputs["product"] != outputs["softmax"]


def test_a_net_not_trained_by_ff_samples_only_from_its_softmax_readout(tmp_path, capsys):
    out = tmp_path / "backprop"
    main([*TRAIN, "--set", "train.learner=backprop", "--out", str(out)])
    capsys.readouterr()
    for readout in ("goodness", "product"):
        assert_one_line_error(["sample", str(out), "--readout", readout], capsys, f"no {readout} readout")
    main(["sample", str(out), "--start", "The Fox", "--num-samples", "1", "--max-new-chars", "20"])
    assert capsys.readouterr().out.count("the fox") == 1  # the softmax readout, by default


def test_evaluate_scores_a_finished_run_as_its_last_evaluation_did(trained_run, tmp_path, capsys):
    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    trained = (run / "checkpoint.pt").read_bytes()
    main(["evaluate", str(run)])
    said = capsys.readouterr().out
    assert "product readout" in said and "calibration.pt" in said and "checkpoint is unchanged" in said
    assert (run / "checkpoint.pt").read_bytes() == trained  # the calibration is written beside it
    calibration = torch.load(run / "calibration.pt", weights_only=True)
    assert set(calibration) == {"softmax_temperature", "goodness_temperature", "product_weights"}
    from charff.run import load_model

    calibration["goodness_temperature"].fill_(123.0)
    torch.save(calibration, run / "calibration.pt")
    assert load_model(run)[0].goodness_temperature.item() == 123.0  # sampling reads it
    record = json.loads((run / "evaluation.json").read_text())
    final = json.loads((run / "summary.json").read_text())["final"]
    for key in ("softmax_acc", "softmax_bpc", "goodness_acc", "goodness_bpc", "product_acc", "product_bpc"):
        assert record[key] == final[key], key


def test_a_sweep_folder_gets_the_name_of_a_run_inside_it(trained_run, tmp_path, capsys):
    shutil.copytree(trained_run, tmp_path / "sweep" / "arm=a" / "seed0")
    assert_one_line_error(["sample", str(tmp_path / "sweep")], capsys, "is a sweep, not a run; name one of its "
                          f"runs, e.g. {tmp_path / 'sweep' / 'arm=a' / 'seed0'}")


def test_evaluate_refuses_an_unfinished_run(trained_run, tmp_path, capsys):
    run = tmp_path / "unfinished"
    shutil.copytree(trained_run, run)
    (run / "summary.json").unlink()
    assert_one_line_error(["evaluate", str(run)], capsys, "not a finished run")


def test_existing_run_is_not_overwritten(trained_run, capsys):
    before = (trained_run / "checkpoint.pt").read_bytes()
    assert_one_line_error([*TRAIN, "--out", str(trained_run)], capsys, "already holds a finished run")
    assert (trained_run / "checkpoint.pt").read_bytes() == before


@pytest.mark.parametrize("content, match", [(b"", "empty"), (b"\x00\x00\x00\x01", "binary"),
                                            (b"a fox.", "too short")])
def test_bad_corpus_files(tmp_path, capsys, content, match):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    assert_one_line_error([*TRAIN, "--set", f'corpus.name="{path}"', "--out", str(tmp_path / "r")],
                          capsys, match)


@pytest.mark.parametrize("setting, match", [
    ("model.window=0", "model.window must be positive"),
    ("model.window=-3", "model.window must be positive"),
    ("corpus.name=nosuch", "unknown corpus"),
    ("train.nosuch=1", "unknown config key"),
    ("train.lr=fast", "train.lr must be float"),
    ("train.optimizer=lbfgs", "train.optimizer must be one of"),
    ("train.schedule=sideways", "cannot parse schedule"),
])
def test_bad_config_values(tmp_path, capsys, setting, match):
    assert_one_line_error([*TRAIN, "--set", setting, "--out", str(tmp_path / "r")], capsys, match)


def test_bad_config_file(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[train]\nlr = \n", encoding="utf-8")
    assert_one_line_error(["train", str(path)], capsys, "not valid TOML")
    path.write_text("[train]\nbogus = 1\n", encoding="utf-8")
    assert_one_line_error(["train", str(path)], capsys, "unknown config key 'train.bogus'")


def test_a_prompt_is_cleaned_as_the_corpus_was_with_a_note(trained_run, capsys):
    main(["sample", str(trained_run), "--start", "The Fox: a tale!", "--num-samples", "2", "--max-new-chars", "5"])
    out = capsys.readouterr()
    note = "note: prompt cleaned as the corpus was (hinton30): 'The Fox: a tale!' -> 'the fox a tale'"
    assert out.err.strip() == note
    header, *lines = [line for line in out.out.splitlines() if line != "---"]
    assert "product readout" in header  # the readout a run trained by FF samples from by default
    assert [line[:16] for line in lines] == ["»the fox a tale«"] * 2


def test_a_short_prompt_never_seen_in_training_is_refused(trained_run, capsys):
    assert_one_line_error(["sample", str(trained_run), "--start", "qzqz"], capsys, "never occurs in the training text")


def test_a_short_prompt_warms_up_on_real_text_before_it():
    from charff.model.sampling import prompt_context

    text = "xyz the cat. abc the cat."  # two places with three real characters before the prompt
    contexts = {prompt_context("the cat", 10, text, seed) for seed in range(20)}
    assert contexts == {"yz the cat", "bc the cat"}


def test_missing_and_corrupt_checkpoints(tmp_path, capsys):
    assert_one_line_error(["sample", str(tmp_path)], capsys, "no checkpoint")
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert_one_line_error(["sample", str(tmp_path)], capsys, "corrupt")
    assert_one_line_error(["train", "--resume", str(tmp_path)], capsys, "corrupt")


def test_corpus_commands(capsys):
    main(["corpus", "list"])
    assert "fables" in capsys.readouterr().out
    main(["corpus", "show", "fables"])
    out = capsys.readouterr().out
    assert "4-gram" in out and "validation" in out


@pytest.mark.parametrize("args, match", [
    (["--preset", "huge"], "unknown preset"),
    (["--set", "train.schedule=separated:0"], "positive"),
    (["--set", "train.streams=64", "--set", "train.schedule=separated:10"], "shorter than one batch"),
    (["--seeds", "a,b"], "--seeds"),
])
def test_reproduce_bad_input(tmp_path, capsys, args, match):
    assert_one_line_error(["reproduce", "--corpus", "fables", "--out", str(tmp_path / "r"), *args], capsys, match)


def test_cuda_without_a_gpu_is_one_line(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert_one_line_error([*TRAIN, "--set", "train.device=cuda", "--out", str(tmp_path / "r")], capsys,
                          "CUDA is not available")
