"""Goodness and the per-layer Forward-Forward losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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

    It needs both sides: in a one-sided phase it is undefined, so callers fall back to the
    threshold loss there.
    """
    return F.softplus(-alpha * (good_pos - good_neg)).mean()


def layer_loss(good_pos: torch.Tensor, good_neg: torch.Tensor, kind: str, threshold: float,
               alpha: float) -> torch.Tensor:
    if kind == "symba" and good_pos.numel() and good_neg.numel():
        return symba_loss(good_pos, good_neg, alpha)
    return threshold_loss(good_pos, good_neg, threshold)
