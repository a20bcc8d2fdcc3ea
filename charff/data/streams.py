"""B parallel read heads over a token tensor: each yields the window ending at its position."""

from __future__ import annotations

import torch


class Streams:
    """B read heads, each at the last character of the window it reads next. With a generator, a
    head that runs off the end restarts at a random position and reports it, so the trainer can
    clear that row's recurrent state; without one, heads never restart (validation's heads read
    blocks that end with the text)."""

    def __init__(self, ids: torch.Tensor, window: int, positions: torch.Tensor,
                 generator: torch.Generator | None = None):
        self.ids = ids
        self.window = window
        self.positions = positions.clone()
        self.generator = generator  # where a head that runs off the end restarts
        # every position a restart may pick has a full window one step back (for restarts from
        # real context) and a next character
        self.first = window
        self.last = len(ids) - 2
        self.lags = torch.arange(-window + 1, 1)

    @classmethod
    def spread(cls, ids: torch.Tensor, count: int, window: int, generator: torch.Generator) -> Streams:
        """Training's heads: evenly spaced from a seeded offset, restarting when they run off the end."""
        span = len(ids) - 2 - window + 1
        offset = int(torch.randint(span, (1,), generator=generator))
        spacing = torch.arange(count) * span // count
        return cls(ids, window, window + (offset + spacing) % span, generator)

    def windows(self, shift: int = 0) -> torch.Tensor:
        """(B, W) windows ending at position + shift."""
        return self.ids[((self.positions + shift)[:, None] + self.lags).to(self.ids.device)]

    def next_chars(self) -> torch.Tensor:
        return self.ids[(self.positions + 1).to(self.ids.device)]

    def advance(self, rows: int) -> torch.Tensor:
        """Step the first `rows` streams by one character; returns a mask of streams that restarted."""
        self.positions = self.positions.clone()
        self.positions[:rows] += 1
        wrapped = self.positions > self.last
        if self.generator is None:  # heads that read a block to the text's end, and no further
            return torch.zeros_like(wrapped)
        if wrapped.any():
            span = self.last - self.first + 1
            fresh = torch.randint(span, (int(wrapped.sum()),), generator=self.generator)
            self.positions[wrapped] = self.first + fresh
        return wrapped

    def state_dict(self) -> dict:
        return {"positions": self.positions.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.positions = state["positions"].clone()
