"""The optimizer over layers and readout, and the learning-rate schedule over characters."""

from __future__ import annotations

import math

import torch

from charff.config import Config


def build_optimizer(model: torch.nn.Module, config: Config) -> torch.optim.Optimizer:
    """One optimizer, two parameter groups: the FF layers (train.lr) and the readout (train.readout_lr)."""
    t = config.train
    groups = [
        {"params": [p for layer in model.layers for p in layer.parameters()], "lr": t.lr},
        {"params": list(model.readout.parameters()), "lr": t.readout_lr},
    ]
    if t.optimizer == "sgd":
        return torch.optim.SGD(groups, momentum=t.momentum, weight_decay=t.weight_decay)
    return torch.optim.Adam(groups, betas=(t.momentum, 0.999), weight_decay=t.weight_decay)


def lr_scale(config: Config, chars: int) -> float:
    """The factor on both learning rates after `chars` characters (one entry per config.LrDecay)."""
    t = config.train
    if t.lr_decay == "cosine":
        progress = min(1.0, chars / t.chars)
        return t.lr_final_fraction + (1 - t.lr_final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))
    return 1.0


def set_learning_rates(optimizer: torch.optim.Optimizer, config: Config, chars: int) -> None:
    scale = lr_scale(config, chars)
    for group, base in zip(optimizer.param_groups, (config.train.lr, config.train.readout_lr), strict=True):
        group["lr"] = base * scale
