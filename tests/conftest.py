"""Shared fixtures: the aesop corpus comes from the folder named by $CHARFF_CORPORA, if any."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from charff.config import Config
from charff.data.dataset import prepare
from charff.data.ngram import split_yardsticks


def aesop_folder() -> Path:
    """The directory holding aesop.txt, or skip: it is never committed into the project."""
    shared = os.environ.get("CHARFF_CORPORA")
    folder = Path(shared) if shared else None
    if folder is None or not (folder / "aesop.txt").is_file():
        pytest.skip("aesop.txt not found; set CHARFF_CORPORA to the folder that holds it")
    return folder


@pytest.fixture
def aesop_dir(monkeypatch) -> Path:
    folder = aesop_folder()
    monkeypatch.setenv("CHARFF_CORPORA", str(folder))
    return folder


@pytest.fixture(scope="session")
def bundled_yardsticks(tmp_path_factory) -> Path:
    """The bundled corpus's n-gram yardsticks on its default split, fitted once per session, so
    that the processes a test starts (sweep workers, the CLI) need not each fit them again."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        split_yardsticks(prepare("fables", "hinton30", 0.1, 10))
    return cache / "charff" / "yardsticks"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch, bundled_yardsticks):
    """Never touch the user's cache from tests; each test's own starts with the bundled
    corpus's yardsticks in it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    shutil.copytree(bundled_yardsticks, tmp_path / "cache" / "charff" / "yardsticks")


def tiny_config(**train) -> Config:
    """A small, fast model on the bundled corpus."""
    config = Config()
    config.model.hidden = [64, 64]
    config.train.streams = 16
    config.train.chars = 4_000
    config.train.eval_every = 2_000
    config.train.eval_goodness_chars = 256
    for key, value in train.items():
        setattr(config.train, key, value)
    return config
