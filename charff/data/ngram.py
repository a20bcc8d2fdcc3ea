"""The n-gram yardsticks of a dataset: interpolated Kneser-Ney of orders 1-7 (data/kneser_ney.py),
each discount fitted on the calibration slice, scored on validation (and test); cached per split,
since every run of a sweep asks for the same ones."""

from __future__ import annotations

import hashlib
import json

import torch

from charff.data.corpora import cache_dir
from charff.data.dataset import Dataset
from charff.data.kneser_ney import ESTIMATOR, kneser_ney_yardsticks
from charff.storage import write_json

ORDERS = tuple(range(1, 8))
MEASURED: dict[str, dict] = {}  # this process's measurements, by split_key


def split_key(train: torch.Tensor, calibration: torch.Tensor, scored: tuple[torch.Tensor, ...], vocab_size: int) -> str:
    digest = hashlib.sha256(f"{ESTIMATOR} {ORDERS} {vocab_size}".encode())
    for part in (train, calibration, *scored):
        digest.update(part.cpu().numpy().tobytes() + b"|")
    return digest.hexdigest()[:24]


def measured(train: torch.Tensor, calibration: torch.Tensor, scored: tuple[torch.Tensor, ...],
             vocab_size: int) -> list[dict]:
    """One table per scored split (the splits after calibration, in order), from one fit:
    {"1-gram": {"acc", "acc_ci", "bpc", "bpc_ci", "discounts"}, ..., "7-gram": ...}."""
    key = split_key(train, calibration, scored, vocab_size)
    if key in MEASURED:
        return MEASURED[key]
    path = cache_dir() / "yardsticks" / f"{key}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            pass  # a damaged cache entry is measured again
    per_split = kneser_ney_yardsticks(train.tolist(), calibration.tolist(), [ids.tolist() for ids in scored],
                                      vocab_size, ORDERS)
    tables = [{f"{r.order}-gram": {"acc": r.accuracy, "acc_ci": r.accuracy_ci, "bpc": r.bits_per_char,
                                   "bpc_ci": r.bits_per_char_ci, "discounts": r.discounts} for r in results}
              for results in per_split]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, tables)
    except OSError:
        pass  # an unwritable cache costs time, not results
    MEASURED[key] = tables = json.loads(json.dumps(tables))  # as a cached entry reads back
    return tables


def yardsticks(train: torch.Tensor, calibration: torch.Tensor, val: torch.Tensor, vocab_size: int) -> dict:
    """The table on the validation split."""
    return measured(train, calibration, (val,), vocab_size)[0]


def split_yardsticks(dataset: Dataset) -> dict[str, dict]:
    """{"val": table, "test": table} of a Dataset, from one fit ("test" only when it has a test split)."""
    splits = {"val": dataset.val, "test": dataset.test} if len(dataset.test) else {"val": dataset.val}
    tables = measured(dataset.train, dataset.calibration, tuple(splits.values()), dataset.vocab.size)
    return dict(zip(splits, tables, strict=True))


def best_of(table: dict) -> str:
    """The name of the order with the fewest bits/char."""
    return min(table, key=lambda name: table[name]["bpc"])

