"""The `charff` command: corpora, training, sampling, reproducing the wake/sleep experiment,
ablations and plots. Each subcommand parses its options and calls one function of the package."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from rich.console import Console

from charff.config import CorpusConfig, TrainConfig, choices
from charff.errors import CharffError, Stopped
from charff.hooks.loggers import LOGGERS

DEFAULT_PRESET = "demo"
PROMPT_MARKS = ("»", "«")  # around the prompt in sampled text
UNWRAPPED = 100_000  # columns of a console that writes to a file or a pipe: lines stay whole there


def console_for(stderr: bool) -> Console:
    """A terminal's width on a terminal; elsewhere (a file, a pipe, a log) lines are never wrapped,
    so setting names, verdicts and paths stay whole and greppable."""
    if (sys.stderr if stderr else sys.stdout).isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=UNWRAPPED, soft_wrap=True)


console = console_for(stderr=False)
errors = console_for(stderr=True)


def cmd_corpus_list(args) -> None:
    from charff.data.corpora import describe_named

    for info in describe_named():
        console.print(f"[bold]{info['name']}[/]: {info['source']}; {info['licence']}")
    console.print("Also: any text file path, or hf:NAME[:CONFIG[:SPLIT[:COLUMN]]] (Hugging Face datasets).")


def cmd_corpus_show(args) -> None:
    from charff.data.dataset import prepare
    from charff.data.ngram import best_of, split_yardsticks

    data = prepare(args.corpus, args.alphabet, args.val_fraction, window=1, test_fraction=args.test_fraction)
    console.print(f"[bold]{data.corpus.name}[/] from {data.corpus.source}")
    console.print(f"raw characters: {len(data.corpus.text):,}; after cleaning ({args.alphabet}): "
                  f"{len(data.train) + len(data.calibration) + len(data.val) + len(data.test):,}")
    console.print(f"alphabet ({data.vocab.size} symbols): {data.vocab.symbols!r}")
    console.print(f"train: {len(data.train):,} characters; calibration (held out): {len(data.calibration):,}; "
                  f"validation: {len(data.val):,}; test (last {args.test_fraction:.0%}): {len(data.test):,}")
    tables = split_yardsticks(data)
    console.print("Kneser-Ney n-grams, discounts fitted on calibration; accuracy and bits per char on "
                  + " | ".join({"val": "validation", "test": "test"}[split] for split in tables))
    for name in tables["val"]:
        cells = "  |  ".join(f"{table[name]['acc']:6.1%}  {table[name]['bpc']:.2f}"
                             + (" (best)" if name == best_of(table) else "       ") for table in tables.values())
        console.print(f"  {name}  {cells}")


def cmd_train(args) -> None:
    from charff.analysis.tables import readouts_text
    from charff.config import load_config
    from charff.hooks.loggers import build_loggers
    from charff.hooks.progress import ProgressBar
    from charff.run import finish_run, resume_run, start_run
    from charff.rundir import SAMPLES_FILE, default_run_dir

    bar = ProgressBar()
    if args.resume:
        if args.config or args.set:
            raise CharffError("--resume continues a run with its saved config; drop CONFIG and --set")
        trainer = resume_run(Path(args.resume), [bar, *build_loggers(args.log, Path(args.resume))], args.device)
    else:
        config = load_config(args.config, [*args.set, *([f"train.device={args.device}"] if args.device else [])])
        out = Path(args.out) if args.out else default_run_dir()
        loggers = build_loggers(args.log, out)
        trainer = start_run(config, out, [bar, *loggers])
    console.print(f"run directory: {trainer.run_dir}  corpus: {trainer.dataset.corpus.source}")
    trainer.run()
    summary = finish_run(trainer)
    final, grams = summary["final"], summary["ngram"]
    console.print(f"validation after {summary['chars']:,} characters ({summary['seconds']:.0f} s), "
                  f"95% intervals: {readouts_text(final)}")
    console.print("Kneser-Ney n-grams: " + ", ".join(f"{k} {v['acc']:.1%} / {v['bpc']:.2f}" for k, v in grams.items())
                  + f" (best: {summary['ngram_best']})")
    if "test" in summary:
        test = summary["test"]
        best = test["ngram"][test["ngram_best"]]
        console.print(f"test ({test['chars']:,} characters): {readouts_text(test)}; best Kneser-Ney "
                      f"{test['ngram_best']} {best['acc']:.1%} / {best['bpc']:.2f}")
    collapse = summary["collapse"]
    console.print(f"verdict: {collapse['verdict']} ({collapse['detail']})")
    console.print(f"samples: {trainer.run_dir / SAMPLES_FILE}")


def cmd_evaluate(args) -> None:
    from charff.analysis.tables import readouts_text
    from charff.run import rescore_run
    from charff.rundir import CALIBRATION_FILE, EVALUATION_FILE

    record = rescore_run(Path(args.run))
    console.print(f"validation after {record['chars']:,} characters ({record['val_chars']:,} scored), "
                  f"95% intervals: {readouts_text(record)}")
    if "test" in record:
        console.print(f"test ({record['test']['val_chars']:,} scored): {readouts_text(record['test'])}")
    console.print(f"written: {Path(args.run) / EVALUATION_FILE} and {Path(args.run) / CALIBRATION_FILE} (the "
                  "readouts' new calibration, which sampling uses; the checkpoint is unchanged)")


def cmd_sample(args) -> None:
    from charff.config import config_from_dict
    from charff.model.readouts import default_readout, readouts_for
    from charff.model.sampling import clean_prompt, read_prompt, sample_text
    from charff.run import load_model, training_text_of

    if args.num_samples <= 0 or args.max_new_chars <= 0:
        raise CharffError("--num-samples and --max-new-chars must be positive")
    if not 0 < args.temperature < math.inf:
        raise CharffError(f"--temperature must be positive and finite, got {args.temperature}")
    model, vocab, payload = load_model(Path(args.run))
    if not 0 <= args.top_k <= vocab.size:
        raise CharffError(f"--top-k must be between 0 (all) and the alphabet's {vocab.size} symbols, got {args.top_k}")
    config = config_from_dict(payload["config"])
    kind = config.train.learner_kind
    if args.readout is None:
        args.readout = default_readout(kind)
    if args.readout not in readouts_for(kind):
        raise CharffError(f"this run's learner is {config.train.learner}, not trained by FF: it has no "
                          f"{args.readout} readout; use --readout softmax")
    prompt, note = clean_prompt(vocab, read_prompt(args.start))
    if note:
        errors.print(note, highlight=False, soft_wrap=True)
    training_text = training_text_of(config) if len(prompt) < config.model.window else None
    context, texts = sample_text(model, vocab, prompt, args.num_samples, args.max_new_chars, args.seed,
                                 args.temperature, args.top_k, args.readout, training_text)
    print(f"{args.readout} readout, temperature {args.temperature:g}, top-k {args.top_k or 'all'}, seed {args.seed}; "
          f"the text the model read first is marked {PROMPT_MARKS[0]}...{PROMPT_MARKS[1]}"
          + ("" if context == prompt else " (the prompt, after real text that precedes it in training)"))
    for text in texts:
        print(f"{PROMPT_MARKS[0]}{context}{PROMPT_MARKS[1]}{text}")
        print("---")


def sweep(args, grid_path: Path, prefix: str, fall_back: bool, yes: bool = False) -> None:
    from charff.config import parse_overrides
    from charff.rundir import default_run_dir
    from charff.sweep.execute import Executor, fall_back_from_aesop, run_sweep
    from charff.sweep.grid import load_grid

    executor = Executor(args.executor, args.workers, args.address, args.cpus_per_cell, args.gpus_per_cell)
    overrides = parse_overrides(args.set)
    if args.corpus:
        overrides["corpus.name"] = args.corpus
    if args.device:
        overrides["train.device"] = args.device
    grid = load_grid(grid_path, overrides, parse_seeds(args.seeds))
    if fall_back:
        fall_back_from_aesop(grid, console)
    out = Path(args.out) if args.out else default_run_dir(prefix)
    run_sweep(grid, out, executor, console, args.yes or yes, tuple(args.log))


def parse_seeds(text: str | None) -> list[int] | None:
    """The seeds of `--seeds 0,1,2`; None keeps the grid's own."""
    if text is None:
        return None
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CharffError(f"--seeds takes comma-separated integers like 0,1,2, got {text!r}") from None
    if not seeds:
        raise CharffError("--seeds needs at least one seed, e.g. --seeds 0,1,2")
    return seeds


def cmd_reproduce(args) -> None:
    from charff.sweep.grid import preset_path

    # the default preset is the first command a newcomer runs: it runs, whatever the estimate says
    sweep(args, preset_path(args.preset), f"reproduce-{Path(args.preset).stem}", fall_back=True,
          yes=args.preset == DEFAULT_PRESET)


def cmd_ablate(args) -> None:
    sweep(args, Path(args.grid), "ablate", fall_back=False)


def cmd_plot(args) -> None:
    from charff.analysis.report import draw_runs, draw_sweep
    from charff.analysis.results import SWEEP_FILE, read_sweep

    folder = Path(args.dir)
    paths = draw_sweep(read_sweep(folder)) if (folder / SWEEP_FILE).exists() else draw_runs(folder)
    console.print("wrote " + ", ".join(str(p) for p in paths), highlight=False)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.lr=0.001 (repeatable)")
    parser.add_argument("--log", action="append", default=[], choices=tuple(LOGGERS),
                        help='also write TensorBoard event files into each run directory '
                             '(needs pip install "charff[tensorboard]")')


def add_sweep_options(parser: argparse.ArgumentParser, workers: int) -> None:
    add_run_options(parser)
    parser.add_argument("--corpus", help="corpus name or path for every cell (default: the grid's)")
    parser.add_argument("--seeds", help="comma-separated seeds, e.g. 0,1,2 (default: the grid's)")
    parser.add_argument("--device", help="where to train every cell, e.g. cpu or cuda (default: the grid's)")
    parser.add_argument("--out", help="output directory (default runs/NAME-TIMESTAMP); rerun to resume")
    parser.add_argument("--workers", type=int, default=workers,
                        help=f"cells run in parallel worker processes (default {workers})")
    parser.add_argument("--yes", action="store_true", help="run even when the estimate exceeds the grid's budget")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local worker processes, or Ray tasks (needs pip install 'charff[ray]')")
    parser.add_argument("--address", help="HOST:PORT of a running Ray cluster (default: start a local Ray)")
    parser.add_argument("--cpus-per-cell", type=int, default=1, help="Ray: CPUs (torch threads) per cell (default 1)")
    parser.add_argument("--gpus-per-cell", type=float, default=0.0,
                        help="Ray: GPUs per cell; fractions let cells share one (default 0)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="charff", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    corpus = sub.add_parser("corpus", help="list or inspect corpora").add_subparsers(dest="action", required=True)
    corpus.add_parser("list", help="named corpora").set_defaults(func=cmd_corpus_list)
    show = corpus.add_parser("show", help="sizes, alphabet and n-gram baselines of a corpus")
    show.add_argument("corpus", help="a corpus name, a text file path, or hf:NAME")
    defaults = CorpusConfig()
    show.add_argument("--alphabet", default=defaults.alphabet, choices=choices(CorpusConfig, "alphabet"),
                      help="hinton30: a-z, space , ; . (lowercased); full: every character of the text")
    show.add_argument("--val-fraction", type=float, default=defaults.val_fraction,
                      help=f"the part of the cleaned text before test held out (default {defaults.val_fraction})")
    show.add_argument("--test-fraction", type=float, default=defaults.test_fraction,
                      help=f"the last part of the cleaned text, the test split (default {defaults.test_fraction})")
    show.set_defaults(func=cmd_corpus_show)

    train = sub.add_parser("train", help="train a Forward-Forward model into a run directory")
    train.add_argument("config", nargs="?", help="a TOML config (see experiments/); default: every default")
    add_run_options(train)
    train.add_argument("--out", help="run directory (default runs/train-TIMESTAMP)")
    train.add_argument("--resume", metavar="RUN", help="continue an interrupted run exactly")
    train.add_argument("--device", help="train on this device; with --resume, continue there (a CUDA run on cpu)")
    train.set_defaults(func=cmd_train)

    sample = sub.add_parser("sample", help="generate text from a trained run")
    sample.add_argument("run", help="a run directory (or its checkpoint.pt)")
    sample.add_argument("--start", default="", help="prompt text, or FILE:path to read it from a file")
    sample.add_argument("--num-samples", type=int, default=3, help="how many continuations (default 3)")
    sample.add_argument("--max-new-chars", type=int, default=200, help="characters per continuation (default 200)")
    sample.add_argument("--temperature", type=float, default=1.0, help="divide logits by this (default 1.0)")
    sample.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest only (default 0: all)")
    sample.add_argument("--seed", type=int, default=0, help="random seed of the sampler (default 0)")
    sample.add_argument("--readout", choices=choices(TrainConfig, "negative_readout"), default=None,
                        help="which readout predicts the next character (default: product for a run "
                             "trained by FF, the best measured; softmax otherwise)")
    sample.set_defaults(func=cmd_sample)

    evaluate = sub.add_parser("evaluate", help="score a finished run again with this version's readouts and "
                              "calibration")
    evaluate.add_argument("run", help="a finished run directory")
    evaluate.set_defaults(func=cmd_evaluate)

    repro = sub.add_parser("reproduce", help="separated vs interleaved wake/sleep, side by side, with yardsticks")
    repro.add_argument("--preset", default=DEFAULT_PRESET,
                       help="demo (bundled corpus, minutes), quick (aesop, about 10 min), paper (3x2000, "
                            "for a GPU), or a grid file path (default demo)")
    add_sweep_options(repro, workers=1)
    repro.set_defaults(func=cmd_reproduce)

    ablate = sub.add_parser("ablate", help="run a grid of settings x seeds in parallel; rerun to resume")
    ablate.add_argument("grid", help="a grid TOML, e.g. experiments/phase_length_ablation.toml")
    add_sweep_options(ablate, workers=os.cpu_count() or 1)
    ablate.set_defaults(func=cmd_ablate)

    plot = sub.add_parser("plot", help="draw figures for a run, the runs under a folder, or a sweep")
    plot.add_argument("dir", help="a run directory, a folder of runs, or a reproduce/ablate output")
    plot.set_defaults(func=cmd_plot)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CharffError as err:
        errors.print(f"charff: error: {err}", style="red", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except Stopped as stop:
        errors.print(f"charff: {stop}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(128 + stop.signum)
    except KeyboardInterrupt:  # before training began: nothing to save
        errors.print("charff: interrupted before training began; nothing was saved", soft_wrap=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
