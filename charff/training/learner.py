"""The optimizers behind a step (training/step.py): gradient accumulation, updates, their state
in checkpoints and forks.

`learner = "ff"` trains each layer on its own FF loss; `frozen_random` keeps the hidden layers
as they were initialised; `backprop` trains them through the readout.
"""

from __future__ import annotations

import torch

from charff.config import Config
from charff.model.network import FFNet
from charff.training.optim import build_optimizers, set_learning_rates


class Learner:
    """Gradients of `train.accumulate` steps make one update; a phase's end flushes a partial one,
    so no update mixes two phases. The caller says when: `backward(loss)`, then `update(chars)`
    once `due()`."""

    def __init__(self, model: FFNet, config: Config):
        self.model, self.config = model, config
        self.kind = config.train.learner_kind  # what it does with the hidden layers (kind.ff: trained by FF)
        if not self.kind.trains_layers:
            model.layers.requires_grad_(False)
        self.optimizers = build_optimizers(model, config)
        self.pending = 0  # steps whose gradients wait for the next update
        self.updates = 0

    def reset_optimizer(self) -> None:
        self.optimizers = build_optimizers(self.model, self.config)

    def update(self, chars: int) -> None:
        """One optimizer update from the pending steps' mean gradient (nothing when none is pending);
        `chars` sets the learning rate's place in its decay."""
        if self.pending == 0:
            return
        if self.pending < self.config.train.accumulate:
            for p in self.model.parameters():
                if p.grad is not None:
                    p.grad.mul_(self.config.train.accumulate / self.pending)
        set_learning_rates(self.optimizers, self.config, chars)
        for optimizer in self.optimizers:
            optimizer.step()
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        self.pending = 0
        self.updates += 1

    def backward(self, loss: torch.Tensor) -> None:
        """Add this step's share of the next update's gradient."""
        if loss.requires_grad:
            (loss / self.config.train.accumulate).backward()
        self.pending += 1

    def due(self) -> bool:
        """Whether train.accumulate steps' gradients are in: time for an update."""
        return self.pending == self.config.train.accumulate

    def adopt(self, state: dict) -> None:
        """Continue from another run's optimizer state (a fork), under this run's hyperparameters:
        the momentum buffers carry over, the momentum and learning rates are this config's."""
        fresh = [[{k: v for k, v in g.items() if k != "params"} for g in o.param_groups] for o in self.optimizers]
        self.load_state_dict(state)
        for optimizer, groups in zip(self.optimizers, fresh, strict=True):
            for group, settings in zip(optimizer.param_groups, groups, strict=True):
                group.update(settings)
        self.updates = 0

    def state_dict(self) -> dict:
        return {"optimizers": [o.state_dict() for o in self.optimizers], "pending": self.pending,
                "updates": self.updates, "grads": [p.grad for p in self.model.parameters()]}

    def load_state_dict(self, state: dict) -> None:
        for optimizer, saved in zip(self.optimizers, state["optimizers"], strict=True):
            optimizer.load_state_dict(saved)
        self.pending, self.updates = state["pending"], state["updates"]
        for p, grad in zip(self.model.parameters(), state["grads"], strict=True):
            p.grad = None if grad is None else grad.to(p.device)
