"""Negative windows: the model's own characters in place of real ones.

All three kinds are one mechanism, a bank of generator streams that restart from real context:
teacher forcing restarts every character (real context, one sampled last character), a
self-generated rollout restarts every R characters, and the random control samples uniformly.
A restart never samples the real next character, so a negative never equals its positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from charff.model.network import FFNet
from charff.model.sampling import next_logits, sample_from_logits


@dataclass
class RealContext:
    """What the real streams offer at step t: windows ending at t-1, their state and logits."""

    windows: torch.Tensor  # (B, W) ending at t-1
    state: list[torch.Tensor]  # normalised activities at t-1
    logits: torch.Tensor  # softmax readout at t-1, predicting character t
    true_next: torch.Tensor  # (B,) the real character t


@dataclass(frozen=True)
class NegativeKind:
    rollout: bool  # continues its own text between restarts (else restarts every character)
    uniform: bool  # samples uniformly over the alphabet instead of from a readout


# the one place to add a kind of negative: one entry per config.Negatives
KINDS = {
    "teacher_forcing": NegativeKind(rollout=False, uniform=False),
    "self_generated": NegativeKind(rollout=True, uniform=False),
    "random": NegativeKind(rollout=False, uniform=True),
}


class NegativeGenerator:
    def __init__(self, model: FFNet, kind: str, streams: int, restart_every: int, readout: str,
                 temperature: float, top_k: int, generator: torch.Generator):
        self.model, self.kind, self.readout = model, KINDS[kind], readout
        self.restart_every = restart_every if self.kind.rollout else 1
        self.temperature, self.top_k, self.generator = temperature, top_k, generator
        # every stream starts due for a restart; rollouts then restart together every R characters
        self.age = torch.full((streams,), self.restart_every)
        self.windows: torch.Tensor | None = None
        self.state: list[torch.Tensor] = []
        self.logits: torch.Tensor | None = None
        self.last_generated: torch.Tensor | None = None

    @torch.no_grad()
    def propose(self, real: RealContext, rows: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Negative windows (rows, W) and their recurrent state for this step."""
        if self.windows is None:
            self.windows, self.logits = real.windows.clone(), real.logits.clone()
            self.state = [s.clone() for s in real.state]
        restart = torch.zeros(len(self.age), dtype=torch.bool)
        restart[:rows] = self.age[:rows] >= self.restart_every
        restart = restart.to(real.true_next.device)
        self.windows[restart] = real.windows[restart]
        self.logits[restart] = real.logits[restart]
        for mine, theirs in zip(self.state, real.state, strict=True):
            mine[restart] = theirs[restart]
        self.age[restart.cpu()] = 0
        forbid = torch.where(restart, real.true_next, torch.full_like(real.true_next, -1))[:rows]
        windows, state = self.windows[:rows], [s[:rows] for s in self.state]
        if self.kind.uniform:
            logits = torch.zeros(rows, self.model.vocab_size, device=windows.device)
        else:
            logits = next_logits(self.model, self.readout, windows, state, self.logits[:rows])
        chars = sample_from_logits(logits, self.generator, self.temperature, self.top_k, forbid)
        self.last_generated = chars
        return torch.cat([windows[:, 1:], chars[:, None]], dim=1), state

    @property
    def continues_text(self) -> bool:
        """Whether the proposed characters form text worth reading (rollouts, not single swaps)."""
        return self.kind.rollout

    @torch.no_grad()
    def observe(self, windows: torch.Tensor, activities: list[torch.Tensor]) -> None:
        """Advance the generator streams past the negatives just scored."""
        rows = windows.shape[0]
        self.windows[:rows] = windows
        for mine, new in zip(self.state, self.model.next_state(activities), strict=True):
            mine[:rows] = new
        self.logits[:rows] = self.model.readout_logits(activities)
        self.age[:rows] += 1

    def state_dict(self) -> dict:
        return {"age": self.age, "windows": self.windows, "state": self.state, "logits": self.logits}

    def load_state_dict(self, data: dict) -> None:
        device = self.model.readout.weight.device
        moved = {k: v.to(device) if torch.is_tensor(v) else v for k, v in data.items() if k != "state"}
        self.age, self.windows, self.logits = data["age"].cpu(), moved["windows"], moved["logits"]
        self.state = [s.to(device) for s in data["state"]] if data["state"] else []
