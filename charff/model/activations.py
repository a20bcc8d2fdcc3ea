"""Activation functions, one per config.Activation: the one place to add one."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from charff.config import Activation, registry


class ReLUFullGrad(torch.autograd.Function):
    """ReLU forward, identity backward (the straight-through ReLU of loeweX/Forward-Forward): a unit
    whose drive is negative still receives the gradient of its output, so a term that asks for
    more activity (peer normalisation) can bring a silent unit back."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


ACTIVATIONS = registry(Activation, {
    "relu": F.relu,
    "relu_full_grad": ReLUFullGrad.apply,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.05),
    "gelu": F.gelu,
})
