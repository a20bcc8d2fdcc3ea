"""The `charff` command: corpora, training, sampling (and later reproduce, ablate, plot)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from charff.errors import CharffError

console = Console()
errors = Console(stderr=True)


def cmd_corpus_list(args) -> None:
    from charff.corpora import describe_named

    table = Table(title="named corpora")
    for column in ("name", "source", "licence"):
        table.add_column(column)
    for info in describe_named():
        table.add_row(info["name"], info["source"], info["licence"])
    console.print(table)
    console.print("Also: any text file path, or hf:NAME[:CONFIG[:SPLIT[:COLUMN]]] (Hugging Face datasets).")


def cmd_corpus_show(args) -> None:
    from charff.data import prepare
    from charff.ngram import ngram_baselines

    data = prepare(args.corpus, args.alphabet, args.val_fraction, window=1)
    console.print(f"[bold]{data.corpus.name}[/] from {data.corpus.source}")
    console.print(f"raw characters: {len(data.corpus.text):,}; after cleaning ({args.alphabet}): "
                  f"{len(data.train) + len(data.val):,}")
    console.print(f"alphabet ({data.vocab.size} symbols): {data.vocab.symbols!r}")
    console.print(f"train: {len(data.train):,} characters; validation (last {args.val_fraction:.0%}): "
                  f"{len(data.val):,}")
    table = Table(title="n-gram baselines on validation (add-0.1 smoothing, backoff)")
    for column in ("model", "accuracy", "bits/char"):
        table.add_column(column, justify="right")
    for result in ngram_baselines(data.train.tolist(), data.val.tolist(), data.vocab.size, orders=(1, 2, 3, 4)):
        table.add_row(f"{result.order}-gram", f"{result.accuracy:.1%}", f"{result.bits_per_char:.2f}")
    console.print(table)


def cmd_train(args) -> None:
    from charff.config import load_config
    from charff.progress import ProgressBar
    from charff.run import finish_run, resume_run, start_run
    from charff.rundir import default_run_dir
    from charff.trainer import Interrupted

    bar = ProgressBar()
    if args.resume:
        if args.config or args.set:
            raise CharffError("--resume continues a run with its saved config; drop CONFIG and --set")
        trainer = resume_run(Path(args.resume), [bar])
    else:
        config = load_config(args.config, args.set)
        out = Path(args.out) if args.out else default_run_dir()
        trainer = start_run(config, out, [bar])
    console.print(f"run directory: {trainer.run_dir}  corpus: {trainer.dataset.corpus.source}")
    try:
        trainer.run()
    except Interrupted:
        bar.close()
        console.print(f"interrupted at {trainer.chars:,} characters; checkpoint saved. "
                      f"Continue with: charff train --resume {trainer.run_dir}")
        sys.exit(130)
    summary = finish_run(trainer)
    final, grams = summary["final"], summary["ngram"]
    console.print(
        f"validation after {summary['chars']:,} characters ({summary['seconds']:.0f} s): "
        f"softmax readout {final['softmax_acc']:.1%} / {final['softmax_bpc']:.2f} bits/char, "
        f"goodness readout {final['goodness_acc']:.1%} / {final['goodness_bpc']:.2f} bits/char"
    )
    console.print("n-gram: " + ", ".join(f"{k} {v['acc']:.1%} / {v['bpc']:.2f}" for k, v in grams.items()))
    collapse = summary["collapse"]
    console.print(f"collapse: {'YES, ' + collapse['detail'] if collapse['collapsed'] else 'no'}")
    console.print(f"samples: {trainer.run_dir / 'samples.txt'}")


def read_prompt(start: str) -> str:
    if start.startswith("FILE:"):
        path = Path(start[5:])
        if not path.is_file():
            raise CharffError(f"prompt file {path} does not exist")
        return path.read_text(encoding="utf-8")
    return start


def cmd_sample(args) -> None:
    import torch

    from charff.run import load_model
    from charff.sampling import generate

    if args.num_samples <= 0 or args.max_new_chars <= 0:
        raise CharffError("--num-samples and --max-new-chars must be positive")
    if args.temperature <= 0:
        raise CharffError("--temperature must be positive")
    model, vocab, _ = load_model(Path(args.run))
    prompt = vocab.fold(read_prompt(args.start))
    ids = vocab.encode(prompt, strict=True)
    window = model.config.window
    if len(ids) < window:  # pad short prompts on the left with spaces (or the first symbol)
        pad = vocab.symbols.index(" ") if " " in vocab.symbols else 0
        ids = torch.cat([torch.full((window - len(ids),), pad, dtype=torch.long), ids])
    generator = torch.Generator().manual_seed(args.seed)
    out = generate(model, ids, args.num_samples, args.max_new_chars, generator, args.temperature,
                   args.top_k, args.readout)
    for row in out:
        print(prompt + vocab.decode(row))
        print("---")


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CharffError(f"--seeds takes comma-separated integers like 0,1,2, got {text!r}") from None
    if not seeds:
        raise CharffError("--seeds needs at least one seed, e.g. --seeds 0,1,2")
    return seeds


def cmd_reproduce(args) -> None:
    from charff.reproduce import reproduce
    from charff.rundir import default_run_dir

    out = Path(args.out) if args.out else default_run_dir(f"reproduce-{args.preset}")
    seeds = parse_seeds(args.seeds) if args.seeds else None
    reproduce(args.preset, args.corpus, seeds, out, args.device, args.set, console)


def cmd_ablate(args) -> None:
    from rich.progress import Progress

    from charff.ablate import aggregate as aggregate_cells
    from charff.ablate import build_cells, estimate_minutes, load_grid, measure_rate, run_cells, write_tables
    from charff.plots import plot_phase_lengths
    from charff.rundir import default_run_dir

    spec, base, settings, seeds = load_grid(Path(args.config))
    out = Path(args.out) if args.out else default_run_dir("ablate")
    cells = build_cells(base, settings, seeds, out)
    budget = spec.get("budget_minutes", 30)
    minutes = estimate_minutes(cells, measure_rate(base))
    console.print(f"{len(settings)} settings x {len(seeds)} seeds = {len(cells)} cells; "
                  f"estimated {minutes:.0f} minutes on this machine (budget {budget}); out {out}")
    if minutes > budget and not args.yes:
        raise CharffError(f"estimated {minutes:.0f} minutes exceeds the grid's budget of {budget}; "
                          "rerun with --yes to go ahead")
    out.mkdir(parents=True, exist_ok=True)
    with Progress(console=console) as progress:
        task = progress.add_task("cells", total=len(cells))
        run_cells(cells, args.workers, lambda name, seed: progress.advance(task))
    rows = aggregate_cells(cells, settings, seeds)
    write_tables(rows, out)
    figure = plot_phase_lengths(rows, out)
    table = Table(title=f"ablation: final validation accuracy (mean ± 95% interval over {len(seeds)} seeds)")
    for column in ("cell", "final acc", "best acc", "final bits/char", "collapsed"):
        table.add_column(column)
    for row in rows:
        onset = f" at {row['collapse_onset_mean']:,.0f}" if row["collapsed_seeds"] else ""
        table.add_row(row["cell"], f"{row['final_softmax_acc']:.1%} ± {row['final_softmax_acc_ci95']:.1%}",
                      f"{row['best_softmax_acc']:.1%}", f"{row['final_softmax_bpc']:.2f}",
                      f"{row['collapsed_seeds']}/{row['seeds']}{onset}")
    console.print(table, width=max(console.width, 160))
    console.print(f"wrote {out / 'ablation.csv'}, {out / 'ablation.json'} and {figure}")


def cmd_plot(args) -> None:
    import json

    from charff.collapse import detect_collapse
    from charff.config import load_config
    from charff.hooks import read_metrics
    from charff.plots import plot_phase_lengths, plot_run
    from charff.schedule import schedule_of

    folder = Path(args.dir)
    if (folder / "ablation.json").exists():
        rows = json.loads((folder / "ablation.json").read_text(encoding="utf-8"))
        console.print(f"wrote {plot_phase_lengths(rows, folder)}")
        return
    runs = sorted(p.parent for p in folder.rglob("metrics.jsonl"))
    if not runs:
        raise CharffError(f"{folder} holds no run (metrics.jsonl) or sweep (ablation.json); point at a run directory")
    for run in runs:
        records = read_metrics(run, kind=None)
        if not any(r.get("kind", "eval") == "eval" for r in records):
            continue
        config = load_config(run / "config.toml")
        title = f"{run.parent.name}/{run.name}: {config.train.schedule}, {config.train.negatives}"
        onset = None
        if (run / "summary.json").exists():
            unigram = json.loads((run / "summary.json").read_text(encoding="utf-8"))["ngram"]["1-gram"]["acc"]
            onset = detect_collapse(records, unigram).onset_chars
        paths = plot_run(records, schedule_of(config), title, run, onset)
        console.print("wrote " + ", ".join(str(p) for p in paths))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="charff", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    corpus = sub.add_parser("corpus", help="list or inspect corpora").add_subparsers(dest="action", required=True)
    corpus.add_parser("list", help="named corpora").set_defaults(func=cmd_corpus_list)
    show = corpus.add_parser("show", help="sizes, alphabet and n-gram baselines of a corpus")
    show.add_argument("corpus", help="a corpus name, a text file path, or hf:NAME")
    show.add_argument("--alphabet", default="hinton30", choices=("hinton30", "full"))
    show.add_argument("--val-fraction", type=float, default=0.1)
    show.set_defaults(func=cmd_corpus_show)

    train = sub.add_parser("train", help="train a Forward-Forward model")
    train.add_argument("config", nargs="?", help="a TOML config (see experiments/)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. --set train.lr=0.001")
    train.add_argument("--out", help="run directory (default runs/train-TIMESTAMP)")
    train.add_argument("--resume", metavar="RUN", help="continue an interrupted run exactly")
    train.set_defaults(func=cmd_train)

    sample = sub.add_parser("sample", help="generate text from a trained run")
    sample.add_argument("run", help="a run directory (or its checkpoint.pt)")
    sample.add_argument("--start", default="", help="prompt text, or FILE:path")
    sample.add_argument("--num-samples", type=int, default=3)
    sample.add_argument("--max-new-chars", type=int, default=200)
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--top-k", type=int, default=0)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--readout", choices=("softmax", "goodness"), default="softmax")
    sample.set_defaults(func=cmd_sample)

    repro = sub.add_parser("reproduce", help="separated vs interleaved wake/sleep, side by side")
    repro.add_argument("--preset", default="quick", help="quick (2 CPU cores, ~10 min) or paper (3x2000)")
    repro.add_argument("--corpus", help="corpus name or path (default: aesop, else the bundled fables)")
    repro.add_argument("--seeds", help="comma-separated seeds (default: the preset's)")
    repro.add_argument("--out", help="output directory (default runs/reproduce-PRESET-TIMESTAMP)")
    repro.add_argument("--device", choices=("cpu", "cuda"), help="where to train (default: the preset's, cpu)")
    repro.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a setting for every arm, e.g. --set train.chars=200000")
    repro.set_defaults(func=cmd_reproduce)

    ablate = sub.add_parser("ablate", help="run a grid of settings x seeds in parallel")
    ablate.add_argument("config", help="a grid TOML, e.g. experiments/phase_length_ablation.toml")
    ablate.add_argument("--out", help="sweep directory (default runs/ablate-TIMESTAMP); rerun to resume")
    ablate.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)")
    ablate.add_argument("--yes", action="store_true", help="run even when the estimate exceeds the budget")
    ablate.set_defaults(func=cmd_ablate)

    plot = sub.add_parser("plot", help="draw figures for a run, a reproduce output or a sweep")
    plot.add_argument("dir")
    plot.set_defaults(func=cmd_plot)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CharffError as err:
        errors.print(f"charff: error: {err}", style="red", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
