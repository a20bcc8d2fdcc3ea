"""Where B recurrent streams stand: the one object that training, the negatives, sampling and
validation advance one character at a time; `RealStreams` adds where in the training text the
real streams read."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from charff.data.streams import Streams
from charff.model.network import FFNet


@dataclass
class StreamState:
    """After each stream's last character: the window that ends there, every layer's normalised
    activity (the next step's recurrent input) and the softmax readout's logits (its prediction
    of the next character). The object owns its tensors; every update writes into them."""

    windows: torch.Tensor  # (B, W)
    state: list[torch.Tensor]  # per layer, (B, width)
    logits: torch.Tensor  # (B, vocab)

    @classmethod
    def start(cls, model: FFNet, windows: torch.Tensor) -> StreamState:
        """Streams about to read `windows`: no recurrent input yet, no prediction yet."""
        count, device = windows.shape[0], windows.device
        return cls(windows.clone(), model.initial_state(count, device),
                   torch.zeros(count, model.vocab_size, device=device))

    def rows(self, count: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The first `count` streams' windows and state: a forward pass's input."""
        return self.windows[:count], [s[:count] for s in self.state]

    @torch.no_grad()
    def advance(self, model: FFNet, windows: torch.Tensor, activities: list[torch.Tensor],
                logits: torch.Tensor | None = None, state: list[torch.Tensor] | None = None) -> None:
        """The first len(windows) streams have just been run on `windows`, giving `activities`
        (and, when the caller already has them, the readout's `logits` and next_state): they now
        stand there."""
        count = windows.shape[0]
        state = model.next_state(activities) if state is None else state
        self.windows[:count] = windows
        for kept, new in zip(self.state, state, strict=True):
            kept[:count] = new
        self.logits[:count] = model.readout_logits(activities, state) if logits is None else logits

    @torch.no_grad()
    def reset(self, restarted: torch.Tensor, windows: torch.Tensor | None = None) -> None:
        """Streams that jumped to another place in the text (mask `restarted`) forget their
        recurrent state and prediction; `windows` gives where they stand now."""
        for kept in self.state:
            kept[restarted] = 0.0
        self.logits[restarted] = 0.0
        if windows is not None:
            self.windows[restarted] = windows[restarted]

    @torch.no_grad()
    def copy_rows(self, source: StreamState, rows: torch.Tensor) -> None:
        """Take over `source`'s windows, state and logits on the masked rows (a restart from real text)."""
        self.windows[rows] = source.windows[rows]
        self.logits[rows] = source.logits[rows]
        for mine, theirs in zip(self.state, source.state, strict=True):
            mine[rows] = theirs[rows]

    def clone(self) -> StreamState:
        return StreamState(self.windows.clone(), [s.clone() for s in self.state], self.logits.clone())

    def to(self, device: torch.device) -> StreamState:
        return StreamState(self.windows.to(device), [s.to(device) for s in self.state], self.logits.to(device))

    def state_dict(self) -> dict:
        return {"windows": self.windows, "state": self.state, "logits": self.logits}

    @classmethod
    def from_state_dict(cls, saved: dict, device: torch.device) -> StreamState:
        return cls(saved["windows"], list(saved["state"]), saved["logits"]).to(device)


class RealStreams(StreamState):
    """Real streams as one object: B read heads over a text (`heads`: training's, or validation's)
    and where the model stands on each (windows, recurrent state, logits). `batch` gives the next
    step's windows and targets; `advance` moves the model's state and the heads together, and a
    head that runs off the text's end restarts elsewhere with a fresh state."""

    def __init__(self, model: FFNet, heads: Streams):
        self.heads = heads
        start = StreamState.start(model, self.heads.windows(-1))
        super().__init__(start.windows, start.state, start.logits)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, W) windows ending at each stream's next character t, and (B,) the characters after t."""
        return self.heads.windows(), self.heads.next_chars()

    @torch.no_grad()
    def advance(self, model: FFNet, windows: torch.Tensor, activities: list[torch.Tensor],
                logits: torch.Tensor | None = None, state: list[torch.Tensor] | None = None) -> None:
        super().advance(model, windows, activities, logits, state)
        restarted = self.heads.advance(windows.shape[0])
        if restarted.any():  # host-side positions: no device value is read
            self.reset(restarted.to(self.windows.device), self.heads.windows(-1))

    def state_dict(self) -> dict:
        """What a checkpoint keeps: recurrent state, logits and the heads' positions (the windows
        follow from the positions)."""
        return {"state": self.state, "logits": self.logits, "streams": self.heads.state_dict()}

    def load_state_dict(self, saved: dict) -> None:
        self.heads.load_state_dict(saved["streams"])
        device = self.windows.device
        self.windows = self.heads.windows(-1)
        self.state = [s.to(device) for s in saved["state"]]
        self.logits = saved["logits"].to(device)
