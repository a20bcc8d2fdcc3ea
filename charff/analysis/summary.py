"""A finished run's summary.json: final and best numbers beside the Kneser-Ney n-gram yardsticks
of the same split, the same on the test split, and the collapse verdict, computed here once and
read everywhere else."""

from __future__ import annotations

from charff.analysis.collapse import detect_collapse
from charff.analysis.results import evals_of
from charff.config import READOUTS
from charff.data.dataset import Dataset
from charff.data.ngram import best_of, split_yardsticks

FINAL_KEYS = tuple(f"{readout}_{metric}" for readout in READOUTS for metric in ("acc", "bpc"))  # each with "_ci"


def summarise(records: list[dict], dataset: Dataset, chars: int, seconds: float, updates: dict,
              test: dict | None = None) -> dict:
    """updates: characters per update, updates per phase and the momentum horizon (see
    training.optim.granularity), with the number of updates made; test: the finished model's
    evaluation on the test split (training.validation.evaluate), when the dataset has one."""
    evals = evals_of(records)
    final = evals[-1]
    best = max(evals, key=lambda r: r["softmax_acc"])
    tables = split_yardsticks(dataset)
    ngram = tables["val"]
    summary = {
        "corpus": {"name": dataset.corpus.name, "source": dataset.corpus.source,
                   "alphabet": dataset.vocab.alphabet, "train_chars": len(dataset.train),
                   "val_chars": len(dataset.val), "test_chars": len(dataset.test)},
        "chars": chars,
        "seconds": seconds,
        "chars_per_second": chars / seconds if seconds else None,
        "updates": updates,
        "final": {k: final.get(k) for key in FINAL_KEYS for k in (key, key + "_ci")},  # no goodness readout: None
        "best_softmax_acc": best["softmax_acc"],
        "best_softmax_at": best["chars"],
        "collapse": detect_collapse(records, ngram["1-gram"]["acc"]).to_dict(),
        "ngram": ngram,  # Kneser-Ney, orders 1-7
        "ngram_best": best_of(ngram),
    }
    if test is not None and "test" in tables:
        summary["test"] = {"chars": test["val_chars"],
                           **{k: test.get(k) for key in FINAL_KEYS for k in (key, key + "_ci")},
                           "goodness_auc": test.get("goodness_auc"),
                           "ngram": tables["test"], "ngram_best": best_of(tables["test"])}
    return summary
