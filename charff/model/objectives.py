"""Goodness and the per-layer Forward-Forward losses: the one place to add a loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from charff.config import ModelConfig


def goodness(activity: torch.Tensor) -> torch.Tensor:
    """Mean squared activity over the last dimension: independent of layer width."""
    return activity.pow(2).mean(dim=-1)


def threshold_loss(good_pos: torch.Tensor, good_neg: torch.Tensor, threshold: float) -> torch.Tensor:
    """Hinton's loss: -log p(real) on positives, -log p(fake) on negatives, p = sigmoid(g - threshold).

    Either side may be empty (a wake or sleep phase updates one side only).
    """
    terms = []
    if good_pos.numel():
        terms.append(F.softplus(threshold - good_pos).mean())
    if good_neg.numel():
        terms.append(F.softplus(good_neg - threshold).mean())
    return torch.stack(terms).sum()


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


LOSSES = {"softplus": softplus_layer_loss, "symba": symba_layer_loss}  # one per config.Loss


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
