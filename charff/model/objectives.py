"""The Forward-Forward objective: goodness, the per-layer losses (the one place to add a loss) and
`ff_objective`, the one function every step and instrument calls for a layer's loss."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from charff.config import Loss, ModelConfig, registry


def goodness(activity: torch.Tensor) -> torch.Tensor:
    """Mean squared activity over the last dimension: independent of layer width."""
    return activity.pow(2).mean(dim=-1)


def sum_of_sides(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Mean per-window loss of each side that has windows, summed: either side may be empty (a wake
    or sleep phase updates one side only)."""
    return torch.stack([side.mean() for side in (positive, negative) if side.numel()]).sum()


def threshold_loss(good_pos: torch.Tensor, good_neg: torch.Tensor, threshold: float) -> torch.Tensor:
    """Hinton's loss: -log p(real) on positives, -log p(fake) on negatives, p = sigmoid(g - threshold)."""
    return sum_of_sides(F.softplus(threshold - good_pos), F.softplus(good_neg - threshold))


def symba_loss(good_pos: torch.Tensor, good_neg: torch.Tensor, alpha: float) -> torch.Tensor:
    """SymBa (arXiv 2303.08418): a symmetric, pairwise loss on the goodness gap, no threshold.

    It needs both sides: in a one-sided phase it is undefined, so the threshold loss stands in.
    """
    return F.softplus(-alpha * (good_pos - good_neg)).mean()


def softplus_layer_loss(good_pos: torch.Tensor, good_neg: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    return threshold_loss(good_pos, good_neg, config.threshold)


def symba_layer_loss(good_pos: torch.Tensor, good_neg: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    if good_pos.numel() and good_neg.numel():
        return symba_loss(good_pos, good_neg, config.symba_alpha)
    return threshold_loss(good_pos, good_neg, config.threshold)


def band_layer_loss(good_pos: torch.Tensor, good_neg: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """The threshold loss with softplus walls: positives are pushed back below band[1] and
    negatives back above band[0], so a one-sided phase can neither inflate goodness without bound
    nor silence every unit."""
    (low, high), theta = config.band, config.threshold
    return sum_of_sides(F.softplus(theta - good_pos) + F.softplus(good_pos - high),
                        F.softplus(good_neg - theta) + F.softplus(low - good_neg))


def clipped_layer_loss(good_pos: torch.Tensor, good_neg: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """The threshold loss with no gradient once a window is clip_margin past the threshold on its
    own side: a long wake phase stops raising goodness, a long sleep phase stops lowering it."""
    theta, margin = config.threshold, config.clip_margin
    positive = torch.where(good_pos < theta + margin, F.softplus(theta - good_pos), 0.0)
    negative = torch.where(good_neg > theta - margin, F.softplus(good_neg - theta), 0.0)
    return sum_of_sides(positive, negative)


LOSSES = registry(Loss, {"softplus": softplus_layer_loss, "symba": symba_layer_loss, "band": band_layer_loss,
                        "clipped": clipped_layer_loss})


def layer_loss(good_pos: torch.Tensor, good_neg: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    return LOSSES[config.loss](good_pos, good_neg, config)


@dataclass(frozen=True)
class Side:
    """The windows of one side of a step: every layer's activities and goodness (a joined pass
    takes goodness before it splits the sides, so its backward never pads a slice's gradient)."""

    activities: list[torch.Tensor]
    goodness: list[torch.Tensor]

    @classmethod
    def of(cls, activities: list[torch.Tensor]) -> Side:
        return cls(activities, [goodness(a) for a in activities])


def ff_objective(positive: Side | None, negative: Side | None, config: ModelConfig,
                 running_means: list[torch.Tensor] | None = None, real: Side | None = None) -> list[torch.Tensor]:
    """Every layer's Forward-Forward loss for a step that updates real windows (`positive`),
    negative windows (`negative`) or both; an absent side (None) is a one-sided phase.

    Negatives come k per position, the j-th of every position in block j: with both sides present
    each is paired with its own positive (SymBa compares the two; the other losses average).
    With `running_means`, Hinton's peer normalisation (weight config.peer_normalisation) over the
    windows config.peer_windows names: the sides updated, or the real windows, which `real` gives
    when the step does not update them (a sleep step)."""
    real = real or positive
    losses = []
    for i in range(len((positive or negative).goodness)):
        good_pos = positive.goodness[i] if positive else None
        good_neg = negative.goodness[i] if negative else None
        if good_pos is not None and good_neg is not None:
            good_neg = good_neg.reshape(-1, good_pos.shape[0])  # (k, rows): row r pairs with positive r
        empty = (good_pos if good_pos is not None else good_neg)[:0]
        loss = layer_loss(good_pos if good_pos is not None else empty, good_neg if good_neg is not None else empty,
                          config)
        losses.append(loss)
    if not config.peer_normalisation or running_means is None:
        return losses
    # loeweX averages over positives; "updated" averages over whatever this step updates, so over
    # negatives alone in a sleep step
    peers = [real] if config.peer_windows == "positives" else [s for s in (positive, negative) if s]
    if not all(peers):  # over positives, with no real windows given: nothing to average
        return losses
    return [loss + config.peer_normalisation * peer_normalisation(torch.cat([s.activities[i] for s in peers]),
                                                                  running)
            for i, (loss, running) in enumerate(zip(losses, running_means, strict=True))]


def peer_normalisation(activity: torch.Tensor, running_mean: torch.Tensor, momentum: float = 0.9) -> torch.Tensor:
    """Hinton's peer normalisation: the squared distance of every unit's running mean activity from
    the layer's average, so a unit that falls silent is pulled back toward its peers (it needs
    model.activation = "relu_full_grad" for the pull to reach a unit whose drive is negative).
    Updates running_mean in place."""
    mean = running_mean * momentum + activity.mean(dim=0) * (1 - momentum)
    running_mean.copy_(mean.detach())
    return (mean.mean() - mean).pow(2).mean()
