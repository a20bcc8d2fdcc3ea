"""The learning rule of one step: forward real (and negative) windows, each layer's FF loss and
the readout's cross-entropy, one optimizer update.

`learner = "ff"` updates goodness on the sides the phase asks for; the yardsticks
(`backprop`, `frozen_random`) train only the readout loss on real text, every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from charff.config import Config
from charff.model.network import FFNet
from charff.model.objectives import ff_losses, goodness, peer_normalisation
from charff.training.optim import build_optimizers, set_learning_rates
from charff.training.schedule import Phase


@dataclass
class StepResult:
    real_activities: list[torch.Tensor]
    negative_activities: list[torch.Tensor]
    logits: torch.Tensor  # the softmax readout on the real windows
    stats: dict


class Learner:
    """Gradients of `train.accumulate` steps make one update; a phase's end flushes a partial one,
    so no update mixes two phases."""

    def __init__(self, model: FFNet, config: Config):
        self.model, self.config = model, config
        self.is_ff = config.train.learner == "ff"
        if config.train.learner == "frozen_random":
            model.layers.requires_grad_(False)
        self.optimizers = build_optimizers(model, config)
        self.pending = 0  # steps whose gradients wait for the next update
        self.updates = 0

    def reset_optimizer(self) -> None:
        self.optimizers = build_optimizers(self.model, self.config)

    def apply_update(self, chars: int) -> None:
        """One optimizer update from the pending steps' mean gradient."""
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

    def sides(self, phase: Phase) -> tuple[bool, bool]:
        """(update real windows, update negatives) in this phase; a frozen phase updates nothing."""
        if phase.frozen:
            return False, False
        return phase.wake or not self.is_ff, phase.sleep and self.is_ff

    def forward(self, real: tuple, negative: tuple | None, wake: bool) -> tuple[list, list]:
        """Activities of real and negative windows: one batched pass when both are updated;
        in a sleep step the real streams only advance, so they run without autograd."""
        if negative is None:
            return self.model(*real), []
        if not wake:
            with torch.no_grad():
                real_activities = self.model(*real)
            return real_activities, self.model(*negative)
        rows = real[0].shape[0]
        joined = [torch.cat(parts) for parts in zip(real[1], negative[1], strict=True)]
        activities = self.model(torch.cat([real[0], negative[0]]), joined)
        return [a[:rows] for a in activities], [a[rows:] for a in activities]

    def peer_terms(self, real: list, negative: list, wake: bool, sleep: bool) -> list[torch.Tensor]:
        """Peer normalisation of every layer over the windows this step updates."""
        sides = [acts for acts, on in ((real, wake), (negative, sleep)) if on]
        return [peer_normalisation(torch.cat([acts[i] for acts in sides]), running)
                for i, running in enumerate(self.model.peer_means())]

    def update(self, real: tuple, negative: tuple | None, targets: torch.Tensor, phase: Phase,
               chars: int) -> StepResult:
        """real and negative: (windows, state); targets: the real next characters."""
        wake, sleep = self.sides(phase)
        if not (wake or sleep):
            return self.frozen_step(real, targets)
        real_activities, negative_activities = self.forward(real, negative, wake)
        good_pos = [goodness(a) for a in real_activities]
        good_neg = [goodness(a) for a in negative_activities]
        if self.is_ff:
            losses = ff_losses(good_pos, good_neg, wake, sleep, self.config.model)
            if self.config.model.peer_normalisation:
                losses = [loss + self.config.model.peer_normalisation * peer
                          for loss, peer in zip(losses, self.peer_terms(real_activities, negative_activities, wake,
                                                                        sleep), strict=True)]
        else:
            losses = [g[:0].sum() for g in good_pos]
        logits = self.model.readout_logits(real_activities)
        readout_loss = F.cross_entropy(logits, targets)
        total = torch.stack(losses).sum() + (readout_loss if wake else 0.0)
        if not torch.isfinite(total):
            raise FloatingPointError(f"the loss became {total.item()}")
        if total.requires_grad:
            (total / self.config.train.accumulate).backward()
        self.pending += 1
        if self.pending == self.config.train.accumulate:
            self.apply_update(chars)
        rows = targets.shape[0]
        stats = {"positive_rows": rows if wake else 0, "negative_rows": rows if sleep else 0,
                 "readout_loss": readout_loss.detach(),
                 "acc": (logits.argmax(-1) == targets).float().mean()}
        for i, loss in enumerate(losses):
            stats[f"loss/{i}"] = loss.detach()
            stats[f"good_pos/{i}"] = good_pos[i].detach().mean()
            if sleep:
                stats[f"good_neg/{i}"] = good_neg[i].detach().mean()
        return StepResult(real_activities, negative_activities, logits.detach(), stats)

    @torch.no_grad()
    def frozen_step(self, real: tuple, targets: torch.Tensor) -> StepResult:
        """The streams advance and nothing learns: the null arm after a fork."""
        activities = self.model(*real)
        logits = self.model.readout_logits(activities)
        stats = {"positive_rows": 0, "negative_rows": 0, "acc": (logits.argmax(-1) == targets).float().mean()}
        return StepResult(activities, [], logits, stats)

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
