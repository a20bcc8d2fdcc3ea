"""The `charff` command: corpora, training, sampling (and later reproduce, ablate, plot)."""

from __future__ import annotations

import argparse
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
    from charff.rundir import default_run_dir
    from charff.run import finish_run, resume_run, start_run
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
