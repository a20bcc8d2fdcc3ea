"""Corpus -> cleaned text -> vocabulary and id tensors, split in the text's order:
train | calibration | validation | test. Only train is trained on; the readouts' temperatures
are fitted on calibration; evaluations during a run, and every screen, read validation; test is
read once, when a run finishes, so a setting chosen on validation is reported on text no choice
has seen."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from charff.config import CorpusConfig
from charff.data.corpora import Corpus, load_corpus
from charff.data.vocab import ALPHABETS, Vocabulary, build_vocabulary
from charff.errors import CharffError


@dataclass
class Dataset:
    corpus: Corpus
    vocab: Vocabulary
    train: torch.Tensor
    val: torch.Tensor
    calibration: torch.Tensor
    test: torch.Tensor  # empty when corpus.test_fraction is 0


def split_text(text: str, val_fraction: float, calibration_fraction: float = 0.0,
               test_fraction: float = 0.0) -> tuple[str, str, str, str]:
    """(train, calibration, validation, test): the last test_fraction of the text is test, the
    val_fraction before it validation, the calibration_fraction before that calibration; fixed
    boundaries, no shuffling."""
    if not 0.0 < val_fraction < 1.0:
        raise CharffError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    test_cut = len(text) - round(len(text) * test_fraction)
    val_cut = test_cut - max(1, round(len(text) * val_fraction))
    cal_cut = val_cut - round(len(text) * calibration_fraction)
    return text[:cal_cut], text[cal_cut:val_cut], text[val_cut:test_cut], text[test_cut:]


def prepare(corpus: str | Corpus, alphabet: str, val_fraction: float, window: int,
            offline: bool = False, calibration_fraction: float = CorpusConfig.calibration_fraction,
            test_fraction: float = CorpusConfig.test_fraction) -> Dataset:
    if window <= 0:
        raise CharffError(f"window must be a positive number of characters, got {window}")
    if isinstance(corpus, str):
        corpus = load_corpus(corpus, offline=offline)
    if alphabet not in ALPHABETS:
        raise CharffError(f"unknown alphabet {alphabet!r}; use one of {', '.join(ALPHABETS)}")
    text = ALPHABETS[alphabet].clean(corpus.text)
    if not text.strip():
        raise CharffError(f"corpus {corpus.name} has nothing but spaces after {alphabet} cleaning; "
                          "give a text with letters in it (or use --set corpus.alphabet=full)")
    train_text, calibration_text, val_text, test_text = split_text(text, val_fraction, calibration_fraction,
                                                                   test_fraction)
    shortest = min(len(train_text), len(val_text), len(calibration_text) if calibration_fraction else len(text),
                   len(test_text) if test_fraction else len(text))
    if shortest < window + 1:
        raise CharffError(
            f"corpus {corpus.name} has {len(text)} characters after cleaning: too short for a "
            f"window of {window} in every split; use a longer text or a smaller window"
        )
    vocab = build_vocabulary(alphabet, train_text)
    return Dataset(corpus, vocab, vocab.encode(train_text), vocab.encode(val_text), vocab.encode(calibration_text),
                   vocab.encode(test_text))
