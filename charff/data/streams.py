"""B parallel read heads over a token tensor: each yields the window ending at its position."""

from __future__ import annotations

import torch


class Streams:
    """Streams start evenly spaced at a seeded offset; one that runs off the end restarts at a
    random position and reports it, so the trainer can clear that row's recurrent state."""

    def __init__(self, ids: torch.Tensor, count: int, window: int, generator: torch.Generator):
        self.ids = ids
        self.window = window
        self.generator = generator  # where a stream that runs off the end restarts
        # every position has a full window one step back (for restarts from real context) and a
        # next character
        self.first = window
        self.last = len(ids) - 2
        span = self.last - self.first + 1
        offset = int(torch.randint(span, (1,), generator=generator))
        spacing = torch.arange(count) * span // count
        self.positions = self.first + (offset + spacing) % span
        self.lags = torch.arange(-window + 1, 1)

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
        if wrapped.any():
            span = self.last - self.first + 1
            fresh = torch.randint(span, (int(wrapped.sum()),), generator=self.generator)
            self.positions[wrapped] = self.first + fresh
        return wrapped

    def state_dict(self) -> dict:
        return {"positions": self.positions.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.positions = state["positions"].clone()
