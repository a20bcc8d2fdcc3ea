"""The optimizers (one for the FF layers, one for the softmax readout) and the learning-rate
decay over characters; the one place to add an optimizer."""

from __future__ import annotations

import math

import torch

from charff.config import Config, LrDecay, Optimizer, registry


class Adam(torch.optim.Optimizer):
    """Adam whose first-moment bias correction can be switched off.

    With the correction on it matches torch.optim.Adam; off, the first updates are (1 - beta1)
    times as large, so a long phase cannot start with full-size steps in one direction.
    """

    def __init__(self, params, lr: float, betas: tuple[float, float], weight_decay: float = 0.0,
                 eps: float = 1e-8, correct_first_moment: bool = True):
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay, "eps": eps})
        self.correct_first_moment = correct_first_moment

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.add(p, alpha=group["weight_decay"]) if group["weight_decay"] else p.grad
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float64)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = float(state["step"])
                state["exp_avg"].lerp_(grad, 1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                first = 1 - beta1**t if self.correct_first_moment else 1.0
                denom = (state["exp_avg_sq"] / (1 - beta2**t)).sqrt_().add_(group["eps"])
                p.addcdiv_(state["exp_avg"], denom, value=-group["lr"] / first)


def build_adam(params, lr: float, t) -> torch.optim.Optimizer:
    if t.adam_bias_correction:
        return torch.optim.Adam(params, lr=lr, betas=(t.momentum, t.adam_beta2), weight_decay=t.weight_decay)
    return Adam(params, lr, (t.momentum, t.adam_beta2), t.weight_decay, correct_first_moment=False)


# one entry per config.Optimizer; train.momentum is SGD's momentum and Adam's beta1
OPTIMIZERS = registry(Optimizer, {
    "adam": build_adam,
    "sgd": lambda params, lr, t: torch.optim.SGD(params, lr=lr, momentum=t.momentum, nesterov=t.nesterov,
                                                 weight_decay=t.weight_decay),
})


def build_optimizers(model: torch.nn.Module, config: Config) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """The layers' optimizer (train.optimizer at train.lr) and the readout's: a probe with its own
    Adam at train.readout_lr, whatever the layers use, so it does not change the experiment."""
    t = config.train
    layers = OPTIMIZERS[t.optimizer]([p for layer in model.layers for p in layer.parameters()], t.lr, t)
    readout = torch.optim.Adam(model.readout.parameters(), lr=t.readout_lr, betas=(0.9, 0.999),
                               weight_decay=t.weight_decay)
    return layers, readout


def cosine(progress: float, final_fraction: float) -> float:
    return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))


# one entry per config.LrDecay: the factor on both learning rates at a fraction of train.chars
LR_DECAYS = registry(LrDecay, {"constant": lambda progress, final_fraction: 1.0, "cosine": cosine})


def lr_scale(config: Config, chars: int) -> float:
    t = config.train
    return LR_DECAYS[t.lr_decay](min(1.0, chars / t.chars), t.lr_final_fraction)


def set_learning_rates(optimizers, config: Config, chars: int) -> None:
    scale = lr_scale(config, chars)
    for optimizer, base in zip(optimizers, (config.train.lr, config.train.readout_lr), strict=True):
        for group in optimizer.param_groups:
            group["lr"] = base * scale


def granularity(config: Config) -> dict:
    """Characters per update, updates in the first wake phase, and the momentum horizon
    (1/(1-momentum) updates) in updates and in characters: what a separated run's phase
    length means to its optimizer."""
    t = config.train
    per_update = t.streams * t.accumulate
    wake = config.plan.first("wake")
    horizon = t.momentum_horizon
    return {"chars_per_update": per_update, "updates_per_phase": wake / per_update if wake else None,
            "horizon_updates": horizon, "horizon_chars": horizon * per_update}
