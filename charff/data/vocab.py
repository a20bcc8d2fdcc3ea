"""Alphabets and the vocabulary that maps characters to ids (it travels inside checkpoints)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from charff.config import Alphabet, registry
from charff.errors import CharffError

HINTON30 = "abcdefghijklmnopqrstuvwxyz ,;."
UNKNOWN = "\u2047"  # shown for characters of the full alphabet never seen in training


def clean_hinton30(text: str) -> str:
    """The draft's 30 symbols: lowercase, whitespace runs to one space, drop everything else."""
    text = re.sub(r"\s+", " ", text.lower())
    return re.sub(r"[^a-z ,;.]", "", text)


@dataclass(frozen=True)
class AlphabetKind:
    """How an alphabet cleans text, and which symbols it has given the training split."""

    clean: Callable[[str], str]
    symbols: Callable[[str], str]


# one entry per config.Alphabet: the one place to add an alphabet
ALPHABETS = registry(Alphabet, {
    "hinton30": AlphabetKind(clean=clean_hinton30, symbols=lambda train_text: HINTON30),
    # the text as it is: every character of the training split, plus UNKNOWN for the others
    "full": AlphabetKind(clean=lambda text: text,
                         symbols=lambda train_text: "".join(sorted(set(train_text) - {UNKNOWN})) + UNKNOWN),
})


@dataclass(frozen=True)
class Vocabulary:
    alphabet: str
    symbols: str

    @property
    def size(self) -> int:
        return len(self.symbols)

    @property
    def unknown_id(self) -> int | None:
        """The id of the unknown symbol (full alphabet only): never a prediction or a negative."""
        return self.symbols.index(UNKNOWN) if UNKNOWN in self.symbols else None

    def clean(self, text: str) -> str:
        return ALPHABETS[self.alphabet].clean(text)

    def encode(self, text: str, strict: bool = False) -> torch.Tensor:
        """Map characters to ids; strict rejects characters outside the alphabet."""
        index = {c: i for i, c in enumerate(self.symbols)}
        unknown = index.get(UNKNOWN)
        missing = sorted({c for c in text if c not in index})
        if missing and (strict or unknown is None):
            shown = "".join(missing[:10])
            raise CharffError(
                f"characters {shown!r} are not in the {self.alphabet} alphabet; use only {self.symbols!r}"
            )
        return torch.tensor([index.get(c, unknown) for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.symbols[int(i)] for i in ids)

    def to_dict(self) -> dict:
        return {"alphabet": self.alphabet, "symbols": self.symbols}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        return cls(data["alphabet"], data["symbols"])


def build_vocabulary(alphabet: str, train_text: str) -> Vocabulary:
    if alphabet not in ALPHABETS:
        raise CharffError(f"unknown alphabet {alphabet!r}; use one of {', '.join(ALPHABETS)}")
    return Vocabulary(alphabet, ALPHABETS[alphabet].symbols(train_text))
