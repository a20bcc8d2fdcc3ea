"""Named corpora: where each comes from, how it is fetched, and a leak-free train/validation split."""

from __future__ import annotations

import os
import re
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from charff.errors import CharffError
from charff.packaged import corpora_folder
from charff.storage import write_text_atomic

GUTENBERG_START = re.compile(r"^\*\*\* ?START OF.*$", re.MULTILINE)
GUTENBERG_END = re.compile(r"^\*\*\* ?END OF.*$", re.MULTILINE)


@dataclass(frozen=True)
class Corpus:
    """Raw text plus the name it was asked for and where it actually came from."""

    name: str
    source: str
    text: str


def describe_named() -> list[dict]:
    """The TOML descriptions of every named corpus, bundled with the package."""
    folder = corpora_folder()
    entries = [p for p in folder.iterdir() if p.name.endswith(".toml")]
    return [tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(entries, key=str)]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "charff"


def strip_gutenberg(text: str) -> str:
    """Keep only the body between Project Gutenberg's START and END marker lines."""
    start = GUTENBERG_START.search(text)
    end = GUTENBERG_END.search(text)
    if start:
        text = text[start.end() : end.start() if end else None]
    elif end:
        text = text[: end.start()]
    return text.strip("\n\r ")


def decode_text(data: bytes, origin: str, what: str = "corpus") -> str:
    """UTF-8 text, or one line saying what is wrong with the bytes of `what` `origin`."""
    if not data.strip():
        raise CharffError(f"{what} {origin} is empty; give a text file with some prose in it")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CharffError(f"{what} {origin} is UTF-16 text, not UTF-8; re-save it as UTF-8")
    if b"\x00" in data[:4096]:
        raise CharffError(f"{what} {origin} looks binary (NUL bytes); give a UTF-8 text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CharffError(f"{what} {origin} is not UTF-8 text ({err.reason}); re-save it as UTF-8") from None


def load_bundled(name: str) -> Corpus:
    path = corpora_folder() / f"{name}.txt"
    return Corpus(name, f"bundled:{name}.txt", decode_text(path.read_bytes(), name))


def load_aesop(offline: bool = False) -> Corpus:
    """CHARFF_CORPORA first, then the user cache, then one download that fills the cache."""
    info = next(d for d in describe_named() if d["name"] == "aesop")
    shared = os.environ.get("CHARFF_CORPORA")
    cached = cache_dir() / "aesop.txt"
    candidates = ([Path(shared) / "aesop.txt"] if shared else []) + [cached]
    for path in candidates:
        if path.is_file():
            return Corpus("aesop", str(path), decode_text(path.read_bytes(), str(path)))
    if offline:
        raise CharffError(f"aesop is not available offline; put aesop.txt in $CHARFF_CORPORA or {cached}")
    try:
        with urllib.request.urlopen(info["url"], timeout=30) as response:
            body = strip_gutenberg(decode_text(response.read(), info["url"]))
    except OSError as err:
        raise CharffError(
            f"could not download aesop ({err}); put aesop.txt in $CHARFF_CORPORA or {cached}"
        ) from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cached, body)
    return Corpus("aesop", str(cached), body)


def load_huggingface(spec: str) -> Corpus:
    """`hf:NAME[:CONFIG[:SPLIT[:COLUMN]]]`, joined with newlines."""
    parts = spec.removeprefix("hf:").split(":")
    name, config, split, column = (parts + ["", "", "", ""])[:4]
    if not name:
        raise CharffError("give a dataset after hf:, e.g. hf:karpathy/tiny_shakespeare::train:text")
    try:
        import datasets

        dataset = datasets.load_dataset(name, config or None, split=split or "train")
    except Exception as err:  # datasets raises many types; all mean "could not load"
        raise CharffError(f"could not load Hugging Face dataset {name!r}: {err}".splitlines()[0]) from None
    column = column or "text"
    if column not in dataset.column_names:
        raise CharffError(f"dataset {name!r} has no column {column!r}; pick one of {dataset.column_names}")
    text = "\n".join(str(row) for row in dataset[column])
    return Corpus(spec, f"huggingface:{name}", decode_text(text.encode("utf-8"), spec))


def load_corpus(name_or_path: str, offline: bool = False) -> Corpus:
    """Resolve a corpus name, a local file path, or an hf: dataset spec into text."""
    if name_or_path == "aesop":
        return load_aesop(offline)
    if name_or_path.startswith("hf:"):
        return load_huggingface(name_or_path)
    path = Path(name_or_path)
    if path.is_dir():
        raise CharffError(f"corpus {name_or_path} is a directory; give a text file in it")
    if path.is_file():
        return Corpus(path.stem, str(path), decode_text(path.read_bytes(), str(path)))
    bundled = {d["name"] for d in describe_named()}
    if name_or_path in bundled:
        return load_bundled(name_or_path)
    if path.suffix or os.sep in name_or_path:
        raise CharffError(f"corpus file {name_or_path} does not exist; check the path")
    known = ", ".join(sorted(bundled | {"aesop"}))
    raise CharffError(f"unknown corpus {name_or_path!r}; use one of {known}, a text file path, or hf:NAME")
