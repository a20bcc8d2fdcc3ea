"""The readouts: three ways to turn a model into a distribution over the next character.

Each readout starts from raw scores (the softmax readout's logits, and for some the goodness of
every candidate character), has a calibration fitted on held-out text (a temperature, or the
product's two weights), and turns the two into logits. Validation, sampling, the negatives, the
CLI and the checkpoint all go through READOUT_KINDS. Adding a readout: a class here, its entry in
READOUT_KINDS and a value in config.Readout. The readouts know no model: the network keeps each
readout's calibration as a buffer and asks a readout for its logits (FFNet.next_logits).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from charff.config import LearnerKind, Readout, registry
from charff.measures.search import golden_minimum


def fit_temperature(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The temperature minimising cross-entropy (golden section on log T), as a float64 scalar."""
    def loss(log_t: float) -> float:
        return F.cross_entropy(scores / math.exp(log_t), targets).item()

    return torch.tensor(math.exp(golden_minimum(loss, -8.0, 6.0, iterations=60)), dtype=torch.float64)


def product_of(goodness: torch.Tensor, readout_logits: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Logits of the product readout: weights[0] * goodness + weights[1] * log softmax(readout)."""
    return weights[0] * goodness + weights[1] * F.log_softmax(readout_logits.to(goodness.dtype), dim=-1)


def fit_product_weights(goodness_scores: torch.Tensor, readout_logits: torch.Tensor,
                        targets: torch.Tensor) -> torch.Tensor:
    """The product readout's weights minimising cross-entropy. The loss is convex in them, so
    L-BFGS finds the optimum; it starts from (1, 1), the plain product that NCE would predict."""
    goodness_scores, readout_logits = goodness_scores.double(), readout_logits.double()
    weights = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights], max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(product_of(goodness_scores, readout_logits, weights), targets)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return weights.detach().float()


class ReadoutKind:
    """One readout: its logits from raw scores and a calibration, and how the calibration is fitted.
    The defaults are a temperature's."""

    needs_goodness = False  # scores every candidate by goodness (costly: evaluations score a subset)
    buffer = ""  # the model buffer that keeps the calibration (saved with checkpoints)

    def initial(self) -> torch.Tensor:
        """The calibration before the first evaluation fits one."""
        return torch.tensor(1.0)

    def logits(self, calibration: torch.Tensor, softmax_logits: torch.Tensor,
               goodness: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def negative_logits(self, calibration: torch.Tensor, softmax_logits: torch.Tensor,
                        goodness: torch.Tensor | None) -> torch.Tensor:
        """The logits negatives are drawn from (before the negatives' own temperature)."""
        return self.logits(calibration, softmax_logits, goodness)

    def fit(self, softmax_logits: torch.Tensor, goodness: torch.Tensor | None,
            targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def fields(self, name: str, calibration: torch.Tensor) -> dict:
        """The calibration as metrics fields."""
        return {f"{name}_temperature": calibration.item()}


class SoftmaxReadout(ReadoutKind):
    """The linear readout trained by cross-entropy on every layer's normalised activity (a probe:
    its gradient never reaches the layers). Cheap: it comes with every forward pass."""

    buffer = "softmax_temperature"

    def logits(self, calibration, softmax_logits, goodness) -> torch.Tensor:
        return softmax_logits / calibration

    def negative_logits(self, calibration, softmax_logits, goodness) -> torch.Tensor:
        # cross-entropy gave these log-probabilities a scale of their own: negatives follow them
        # as trained, uncalibrated
        return softmax_logits

    def fit(self, softmax_logits, goodness, targets) -> torch.Tensor:
        return fit_temperature(softmax_logits, targets)


class GoodnessReadout(ReadoutKind):
    """Every candidate next character scored by the summed goodness of the window it would end.
    Goodness has no scale of its own, so every use (negatives too) divides by the temperature."""

    needs_goodness = True
    buffer = "goodness_temperature"

    def logits(self, calibration, softmax_logits, goodness) -> torch.Tensor:
        return goodness / calibration

    def fit(self, softmax_logits, goodness, targets) -> torch.Tensor:
        return fit_temperature(goodness, targets)


class ProductReadout(ReadoutKind):
    """Goodness times the softmax readout's probability, each raised to its fitted weight. FF
    learns goodness by telling real characters from negatives that the softmax readout (mostly)
    proposed, so goodness measures how much likelier a character is than that proposal made it
    (the NCE view): multiplying the two back gives the density."""

    needs_goodness = True
    buffer = "product_weights"

    def initial(self) -> torch.Tensor:
        return torch.ones(2)

    def logits(self, calibration, softmax_logits, goodness) -> torch.Tensor:
        return product_of(goodness, softmax_logits, calibration)

    def fit(self, softmax_logits, goodness, targets) -> torch.Tensor:
        return fit_product_weights(goodness, softmax_logits, targets)

    def fields(self, name: str, calibration: torch.Tensor) -> dict:
        return {f"{name}_goodness_weight": calibration[0].item(), f"{name}_softmax_weight": calibration[1].item()}


READOUT_KINDS = registry(Readout, {"softmax": SoftmaxReadout(), "goodness": GoodnessReadout(),
                                   "product": ProductReadout()})


def readouts_for(kind: LearnerKind) -> tuple[str, ...]:
    """The readouts a run has: a net not trained by FF has no goodness to read."""
    return tuple(name for name, readout in READOUT_KINDS.items() if kind.ff or not readout.needs_goodness)


def default_readout(kind: LearnerKind) -> str:
    """What `charff sample` reads unless told: the product for FF nets (the lowest bits/char
    measured, docs/results.md), else the softmax readout."""
    return "product" if kind.ff else "softmax"
