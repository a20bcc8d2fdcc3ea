"""The recurrent Forward-Forward network over a one-hot character window, and its readouts.

Every layer sees detached, RMS-normalised inputs (the layer below at t, and its own and the
upper layer's state at t-1), so each layer's loss trains only that layer: learning is local in
space and time. `local=False` turns the same shape into the backprop twin used as a yardstick.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from charff.config import ModelConfig, Recurrence, registry
from charff.model.activations import ACTIVATIONS
from charff.model.objectives import goodness
from charff.model.readouts import READOUT_KINDS

# the layers whose states from t-1 layer i (of L) reads: one entry per config.Recurrence
RECURRENCES = registry(Recurrence, {
    "none": lambda i, layers: [],
    "self": lambda i, layers: [i],
    "full": lambda i, layers: [i, i + 1] if i + 1 < layers else [i],
})


def rms_normalise(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Length-normalise to unit root-mean-square, so a layer cannot pass its goodness upward."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)


class FFLayer(nn.Module):
    """One layer: bottom-up input plus optional recurrent inputs from step t-1."""

    def __init__(self, bottom_up: nn.Module, width: int, context_widths: list[int]):
        super().__init__()
        self.bottom_up = bottom_up
        self.recurrent = nn.ModuleList(nn.Linear(w, width, bias=False) for w in context_widths)

    def context_drive(self, context: list[torch.Tensor]) -> torch.Tensor | float:
        return sum((lin(c) for lin, c in zip(self.recurrent, context, strict=True)), 0.0)


class SlotSum(torch.autograd.Function):
    """Sum of the looked-up rows of each window (embedding_bag in sum mode), with a backward pass
    that adds each slot's gradient rows with one index_add: several times faster on the CPU than
    embedding_bag's own backward, which sorts every index."""

    @staticmethod
    def forward(ctx, ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(ids)
        ctx.weight_shape = weight.shape
        return F.embedding_bag(ids, weight, mode="sum")

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        (ids,) = ctx.saved_tensors
        weight_grad = grad.new_zeros(ctx.weight_shape)
        for slot in ids.unbind(dim=1):
            weight_grad.index_add_(0, slot, grad)
        return None, weight_grad


class WindowEmbedding(nn.Module):
    """Layer 1's bottom-up weights on the normalised one-hot window, stored per (slot, symbol).

    The RMS-normalised one-hot window has sqrt(V) in each active entry, so the product is a sum
    of W looked-up columns; a candidate last character changes one column only.
    """

    def __init__(self, window: int, vocab_size: int, width: int):
        super().__init__()
        self.window = window
        self.vocab_size = vocab_size
        fan_in = window * vocab_size
        self.weight = nn.Parameter(torch.empty(fan_in, width).uniform_(-1, 1) / math.sqrt(fan_in))
        self.bias = nn.Parameter(torch.zeros(width))
        self.scale = math.sqrt(vocab_size)

    def slot_ids(self, windows: torch.Tensor, first_slot: int = 0) -> torch.Tensor:
        slots = torch.arange(first_slot, first_slot + windows.shape[1], device=windows.device)
        return windows + slots * self.vocab_size

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return SlotSum.apply(self.slot_ids(windows), self.weight) * self.scale + self.bias

    def context_part(self, context: torch.Tensor) -> torch.Tensor:
        """The product for the first W-1 slots, shared by every candidate last character."""
        return F.embedding_bag(self.slot_ids(context), self.weight, mode="sum") * self.scale + self.bias

    def last_slot_columns(self) -> torch.Tensor:
        """One column per candidate for the last slot: (V, width)."""
        start = (self.window - 1) * self.vocab_size
        return self.weight[start : start + self.vocab_size] * self.scale


class FFNet(nn.Module):
    def __init__(self, config: ModelConfig, vocab_size: int, local: bool = True):
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size
        self.local = local  # False: the backprop twin, whose gradients cross layers
        self.activation = ACTIVATIONS[config.activation]
        widths = config.hidden
        layers = []
        for i, width in enumerate(widths):
            bottom_up = (WindowEmbedding(config.window, vocab_size, width) if i == 0
                         else nn.Linear(widths[i - 1], width))
            layers.append(FFLayer(bottom_up, width, self.context_widths(i)))
        self.layers = nn.ModuleList(layers)
        self.readout = nn.Linear(sum(widths), vocab_size)
        # each readout's calibration (a temperature, the product's weights), fitted on held-out text
        # at every evaluation and stored here, so that sampling and checkpoints carry it
        for readout in READOUT_KINDS.values():
            self.register_buffer(readout.buffer, readout.initial())
        for i, width in enumerate(widths):  # running mean activity per unit, for peer normalisation
            self.register_buffer(f"peer_mean_{i}", torch.zeros(width))

    @property
    def device(self) -> torch.device:
        """Where the weights live: every caller puts the text it feeds the model here."""
        return self.readout.weight.device

    def peer_means(self) -> list[torch.Tensor]:
        return [getattr(self, f"peer_mean_{i}") for i in range(len(self.layers))]

    def context_widths(self, i: int) -> list[int]:
        """Widths of the states layer i reads from t-1 (model.recurrence)."""
        return [self.config.hidden[j] for j in RECURRENCES[self.config.recurrence](i, len(self.config.hidden))]

    def initial_state(self, batch: int, device=None) -> list[torch.Tensor]:
        return [torch.zeros(batch, w, device=device) for w in self.config.hidden]

    def layer_context(self, i: int, state: list[torch.Tensor]) -> list[torch.Tensor]:
        return [state[j] for j in RECURRENCES[self.config.recurrence](i, len(state))]

    def forward(self, windows: torch.Tensor, state: list[torch.Tensor]) -> list[torch.Tensor]:
        """Activities of every layer for windows (B, W) given normalised states from t-1."""
        activities, below = [], None
        for i, layer in enumerate(self.layers):
            if i == 0:
                drive = layer.bottom_up(windows)
            else:
                below_in = below.detach() if self.local else below
                drive = layer.bottom_up(rms_normalise(below_in))
            drive = drive + layer.context_drive([s.detach() for s in self.layer_context(i, state)])
            below = self.activation(drive)
            activities.append(below)
        return activities

    @staticmethod
    def next_state(activities: list[torch.Tensor]) -> list[torch.Tensor]:
        """Every layer's normalised, detached activity: the recurrent input of the next step."""
        return [rms_normalise(a.detach()) for a in activities]

    def readout_logits(self, activities: list[torch.Tensor], state: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Softmax readout over the next character from all layers' normalised activities; a local
        net reads exactly next_state(activities), which a caller that has it passes as `state`."""
        if state is not None and self.local:
            return self.readout(torch.cat(state, dim=-1))
        feats = [rms_normalise(a.detach() if self.local else a) for a in activities]
        return self.readout(torch.cat(feats, dim=-1))

    @torch.no_grad()
    def candidate_goodness(self, context: torch.Tensor, state: list[torch.Tensor]) -> torch.Tensor:
        """Summed goodness (B, V) of every candidate last character after context (B, W-1).

        Layer 1 costs one shared product plus one column per candidate, not V products.
        """
        batch, vocab = context.shape[0], self.vocab_size
        first = self.layers[0]
        shared = first.bottom_up.context_part(context) + first.context_drive(self.layer_context(0, state))
        below = self.activation(shared[:, None, :] + first.bottom_up.last_slot_columns()[None])
        total = goodness(below)
        for i, layer in enumerate(self.layers[1:], start=1):
            recurrent = layer.context_drive(self.layer_context(i, state))
            if torch.is_tensor(recurrent):
                recurrent = recurrent[:, None, :]
            below = self.activation(layer.bottom_up(rms_normalise(below)) + recurrent)
            total = total + goodness(below)
        return total.reshape(batch, vocab)

    def next_logits(self, name: str, windows: torch.Tensor, state: list[torch.Tensor], softmax_logits: torch.Tensor,
                    for_negatives: bool = False) -> torch.Tensor:
        """A readout's calibrated logits for the character after `windows` (B, W); for_negatives:
        the logits negatives are drawn from (see ReadoutKind.negative_logits)."""
        readout = READOUT_KINDS[name]
        goodness = self.candidate_goodness(windows[:, 1:], state) if readout.needs_goodness else None
        pick = readout.negative_logits if for_negatives else readout.logits
        return pick(getattr(self, readout.buffer), softmax_logits, goodness)

    def calibrate(self, calibration: dict[str, torch.Tensor]) -> None:
        """Store fitted calibrations (readout name -> value) where sampling and the negatives read them."""
        for name, value in calibration.items():
            getattr(self, READOUT_KINDS[name].buffer).copy_(value)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints written before a readout existed load with its initial calibration
        for readout in READOUT_KINDS.values():
            state_dict.setdefault(prefix + readout.buffer, readout.initial())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def forward_joined(model: FFNet, real: tuple, negative: tuple) -> tuple[list[torch.Tensor], int]:
    """Every layer's activities for real and negative windows (each a (windows, state) pair) in one
    pass, which is cheaper than two; a row's activities do not depend on the other rows. Returns
    the joined activities and the row where the negatives begin."""
    state = [torch.cat(parts) for parts in zip(real[1], negative[1], strict=True)]
    return model(torch.cat([real[0], negative[0]]), state), real[0].shape[0]
