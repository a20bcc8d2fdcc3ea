"""The values a config accepts beyond its types: positive counts, ranges, devices, combinations."""

from __future__ import annotations

import math

from charff.errors import CharffError

NON_NEGATIVE = ("model.threshold", "model.symba_alpha", "model.clip_margin", "model.peer_normalisation",
                "train.weight_decay", "train.negative_top_k",
                "train.eval_goodness_chars")
RANGES = {"train.momentum": (lambda v: 0 <= v < 1, "[0, 1)"),
          "train.adam_beta2": (lambda v: 0 <= v < 1, "[0, 1)"),
          "train.lr_final_fraction": (lambda v: 0 <= v <= 1, "[0, 1]"),
          "train.negative_mix": (lambda v: 0 <= v <= 1, "[0, 1]"),
          "corpus.val_fraction": (lambda v: 0 < v < 1, "(0, 1)"),
          "corpus.calibration_fraction": (lambda v: 0 < v < 1, "(0, 1)")}
POSITIVE = ("model.window", "train.chars", "train.streams", "train.accumulate", "train.rollout_restart", "train.lr",
            "train.readout_lr", "train.eval_every", "train.eval_streams",
            "train.negative_temperature", "train.negatives_per_position", "train.auto_fraction")


def check_values(flat: dict) -> None:
    """flat: the config as {dotted key: value}; raises one CharffError naming the first bad value."""
    for key in POSITIVE:
        if not 0 < flat[key] < math.inf:
            raise CharffError(f"{key} must be positive and finite, got {flat[key]!r}")
    if not flat["model.hidden"]:
        raise CharffError("model.hidden needs at least one layer width, e.g. [500, 500, 500]")
    for key in NON_NEGATIVE:
        if not 0 <= flat[key] < math.inf:
            raise CharffError(f"{key} must be zero or more (and finite), got {flat[key]!r}")
    for key, (within, text) in RANGES.items():
        if not within(flat[key]):
            raise CharffError(f"{key} must be in {text}, got {flat[key]!r}")
    if flat["train.nesterov"] and not (flat["train.optimizer"] == "sgd" and flat["train.momentum"] > 0):
        raise CharffError("train.nesterov needs train.optimizer = \"sgd\" and train.momentum above 0")
    if not 0 <= flat["train.hard_negatives"] <= flat["train.negatives_per_position"]:
        raise CharffError(f"train.hard_negatives must be between 0 and train.negatives_per_position "
                          f"({flat['train.negatives_per_position']}), got {flat['train.hard_negatives']!r}")
    if flat["train.hard_negatives"] and flat["train.negatives"] == "random":
        raise CharffError("train.hard_negatives needs a readout to rank characters; random negatives have none "
                          "(use teacher_forcing or self_generated)")
    if flat["corpus.val_fraction"] + flat["corpus.calibration_fraction"] >= 0.5:
        raise CharffError("corpus.val_fraction + corpus.calibration_fraction must stay below 0.5 "
                          "so that most of the text is trained on")
    band = flat["model.band"]
    if flat["model.loss"] == "band" and not (len(band) == 2 and band[0] < flat["model.threshold"] < band[1]):
        raise CharffError(f"model.band must be [low, high] around model.threshold, got {flat['model.band']}")
    if flat["train.measure_gradients"] and flat["train.streams"] < 8:
        raise CharffError("train.measure_gradients needs at least 8 streams (the noise scale compares the batch "
                          "with eighths of it)")
    check_device(flat["train.device"])


def check_device(name: str) -> None:
    import torch

    try:
        device = torch.device(name)
    except RuntimeError:
        raise CharffError(f"train.device {name!r} is not a device torch knows; use cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CharffError(f"train.device is {name!r} but CUDA is not available here; use cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise CharffError(f"train.device {name!r} is not supported; use cpu or cuda")


