"""The values a config accepts beyond its types: the ranges fields declare, rules joining fields, devices."""

from __future__ import annotations

import math
from dataclasses import dataclass

from charff.errors import CharffError


@dataclass(frozen=True)
class Range:
    """The values a number field accepts, kept beside the field (config.ranged) and checked by validation."""

    low: float = 0.0
    high: float = math.inf
    low_open: bool = False
    high_open: bool = True  # math.inf itself is never a value

    def holds(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def refusal(self, key: str, value: object) -> str:
        if self.high == math.inf:
            what = "positive and finite" if self.low_open else "zero or more (and finite)"
            return f"{key} must be {what}, got {value!r}"
        brackets = ("(" if self.low_open else "[", ")" if self.high_open else "]")
        return f"{key} must be in {brackets[0]}{self.low:g}, {self.high:g}{brackets[1]}, got {value!r}"


MEASURING_STREAMS = 8  # the gradient instruments compare the batch with eighths of it
POSITIVE = Range(low_open=True)
NON_NEGATIVE = Range()
FRACTION = Range(high=1.0, high_open=False)  # [0, 1]
BELOW_ONE = Range(high=1.0)  # [0, 1): a momentum
OPEN_FRACTION = Range(high=1.0, low_open=True)  # (0, 1): a share of the text


def check_combinations(flat: dict) -> None:
    """Rules that join several fields; flat: the config as {dotted key: value}; raises one
    CharffError naming the first bad value."""
    if not flat["model.hidden"]:
        raise CharffError("model.hidden needs at least one layer width, e.g. [500, 500, 500]")
    if flat["train.nesterov"] and not (flat["train.optimizer"] == "sgd" and flat["train.momentum"] > 0):
        raise CharffError("train.nesterov needs train.optimizer = \"sgd\" and train.momentum above 0")
    if not 0 <= flat["train.hard_negatives"] <= flat["train.negatives_per_position"]:
        raise CharffError(f"train.hard_negatives must be between 0 and train.negatives_per_position "
                          f"({flat['train.negatives_per_position']}), got {flat['train.hard_negatives']!r}")
    if flat["corpus.val_fraction"] + flat["corpus.calibration_fraction"] + flat["corpus.test_fraction"] >= 0.5:
        raise CharffError("corpus.val_fraction + corpus.calibration_fraction + corpus.test_fraction must stay "
                          "below 0.5 so that most of the text is trained on")
    band = flat["model.band"]
    if flat["model.loss"] == "band" and not (len(band) == 2 and band[0] < flat["model.threshold"] < band[1]):
        raise CharffError(f"model.band must be [low, high] around model.threshold, got {flat['model.band']}")
    if flat["train.measure_gradients"] and flat["train.streams"] < MEASURING_STREAMS:
        raise CharffError(f"train.measure_gradients needs at least {MEASURING_STREAMS} streams (the noise scale "
                          "compares the batch with eighths of it)")
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


