"""Goodness and the per-layer Forward-Forward losses: the one place to add a loss."""

from __future__ import annotations

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


def ff_losses(good_pos: list[torch.Tensor], good_neg: list[torch.Tensor], wake: bool, sleep: bool,
              config: ModelConfig) -> list[torch.Tensor]:
    """Every layer's loss for a step that updates real windows (wake), negatives (sleep) or both."""
    losses = []
    for i, positive in enumerate(good_pos):
        nothing = positive[:0]
        losses.append(layer_loss(positive if wake else nothing, good_neg[i] if sleep else nothing, config))
    return losses


def peer_normalisation(activity: torch.Tensor, running_mean: torch.Tensor, momentum: float = 0.9) -> torch.Tensor:
    """Hinton's peer normalisation: the squared distance of every unit's running mean activity from
    the layer's average, so a unit that falls silent is pulled back toward its peers (it needs
    model.activation = "relu_full_grad" for the pull to reach a unit whose drive is negative).
    Updates running_mean in place."""
    mean = running_mean * momentum + activity.mean(dim=0) * (1 - momentum)
    running_mean.copy_(mean.detach())
    return (mean.mean() - mean).pow(2).mean()
