"""The n-gram yardsticks of a dataset: interpolated Kneser-Ney of orders 1-7 (data/kneser_ney.py),
each discount fitted on the calibration slice, scored on validation; cached per split, since
every run of a sweep asks for the same ones."""

from __future__ import annotations

import hashlib
import json

import torch

from charff.data.corpora import cache_dir
from charff.data.kneser_ney import ESTIMATOR, kneser_ney_yardsticks
from charff.storage import write_json

ORDERS = tuple(range(1, 8))
MEASURED: dict[str, dict] = {}  # this process's measurements, by split_key


def split_key(train: torch.Tensor, calibration: torch.Tensor, val: torch.Tensor, vocab_size: int) -> str:
    digest = hashlib.sha256(f"{ESTIMATOR} {ORDERS} {vocab_size}".encode())
    for part in (train, calibration, val):
        digest.update(part.cpu().numpy().tobytes() + b"|")
    return digest.hexdigest()[:24]


def yardsticks(train: torch.Tensor, calibration: torch.Tensor, val: torch.Tensor, vocab_size: int) -> dict:
    """{"1-gram": {"acc", "bpc", "discounts"}, ..., "7-gram": ...} on the validation split."""
    key = split_key(train, calibration, val, vocab_size)
    if key in MEASURED:
        return MEASURED[key]
    path = cache_dir() / "yardsticks" / f"{key}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            pass  # a damaged cache entry is measured again
    results = kneser_ney_yardsticks(train.tolist(), calibration.tolist(), val.tolist(), vocab_size, ORDERS)
    table = {f"{r.order}-gram": {"acc": r.accuracy, "bpc": r.bits_per_char, "discounts": r.discounts}
             for r in results}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, table)
    except OSError:
        pass  # an unwritable cache costs time, not results
    MEASURED[key] = table = json.loads(json.dumps(table))  # as a cached entry reads back
    return table


def best_of(table: dict) -> str:
    """The name of the order with the fewest bits/char."""
    return min(table, key=lambda name: table[name]["bpc"])

