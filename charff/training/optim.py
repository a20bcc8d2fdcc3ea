"""The optimizer over layers and readout, and the learning-rate schedule over characters."""

from __future__ import annotations

import math

import torch

from charff.config import Config

# the one place to add an optimizer: one entry per config.Optimizer; train.momentum is SGD's
# momentum and Adam's beta1
OPTIMIZERS = {
    "adam": lambda groups, t: torch.optim.Adam(groups, betas=(t.momentum, 0.999), weight_decay=t.weight_decay),
    "sgd": lambda groups, t: torch.optim.SGD(groups, momentum=t.momentum, weight_decay=t.weight_decay),
}


def build_optimizer(model: torch.nn.Module, config: Config) -> torch.optim.Optimizer:
    """One optimizer, two parameter groups: the FF layers (train.lr) and the readout (train.readout_lr)."""
    t = config.train
    groups = [
        {"params": [p for layer in model.layers for p in layer.parameters()], "lr": t.lr},
        {"params": list(model.readout.parameters()), "lr": t.readout_lr},
    ]
    return OPTIMIZERS[t.optimizer](groups, t)


def cosine(progress: float, final_fraction: float) -> float:
    return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))


# one entry per config.LrDecay: the factor on both learning rates at a fraction of train.chars
LR_DECAYS = {"constant": lambda progress, final_fraction: 1.0, "cosine": cosine}


def lr_scale(config: Config, chars: int) -> float:
    t = config.train
    return LR_DECAYS[t.lr_decay](min(1.0, chars / t.chars), t.lr_final_fraction)


def set_learning_rates(optimizer: torch.optim.Optimizer, config: Config, chars: int) -> None:
    scale = lr_scale(config, chars)
    for group, base in zip(optimizer.param_groups, (config.train.lr, config.train.readout_lr), strict=True):
        group["lr"] = base * scale
