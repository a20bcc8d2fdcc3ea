"""One Forward-Forward step, top to bottom: real windows in, negative windows in, the sides that
update, each layer's loss, the optimizer, a dict of scalars out.

`train_step` is the function to read (and to change when changing the learning rule); the
helpers below it each do one named part. The yardstick learners (`backprop`, `frozen_random`)
go through the same step with only the readout's loss on real text.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from charff.config import LearnerKind
from charff.model.network import FFNet, forward_joined
from charff.model.objectives import Side, ff_objective, goodness
from charff.model.stream_state import RealStreams
from charff.schedule import Phase
from charff.training.learner import Learner
from charff.training.negatives import NegativeGenerator


@dataclass(frozen=True)
class Sides:
    """Which windows a step updates, decided once from the phase and the learner."""

    real: bool  # raise goodness on real windows (FF) and train the softmax readout on them
    negative: bool  # lower goodness on negative windows

    @classmethod
    def of(cls, phase: Phase, kind: LearnerKind) -> Sides:
        """A frozen phase updates nothing; the yardsticks learn from real text in every other phase."""
        if phase.frozen:
            return cls(real=False, negative=False)
        return cls(real=phase.wake or not kind.ff, negative=phase.sleep and kind.ff)

    @property
    def learns(self) -> bool:
        return self.real or self.negative


def train_step(model: FFNet, learner: Learner, negatives: NegativeGenerator, real: RealStreams, sides: Sides,
               rows: int, chars: int) -> dict:
    """Advance the first `rows` real streams by one character t, updating what `sides` asks for
    (`chars`: the characters seen so far, for the learning rate's decay).

    real: the real streams before t; their batch is (B, W) windows ending at t and (B,) the
    characters after t, which the softmax readout learns to predict.
    Nothing here reads a device value on the host: a GPU runs the step without waiting for it.
    The losses, goodness, accuracy and readout loss returned are device tensors (the row counts
    are ints, known on the host); "finite" says whether the loss was, "generated" holds the
    negatives' new characters (sleep and interleaved steps).
    """
    windows, next_chars = real.batch()
    targets = next_chars[:rows]
    inputs = (windows[:rows], [s[:rows] for s in real.state])
    # negatives are proposed before the real windows are scored: rollouts restart from where the
    # real streams stood before character t, so a negative is judged in the same context
    negative = negatives.propose(real, windows[:, -1], rows) if sides.negative else None
    if not sides.learns:  # the frozen null: streams advance, nothing learns
        with torch.no_grad():
            real_activities = model(*inputs)
            state = model.next_state(real_activities)
            logits = model.readout_logits(real_activities, state)
        real.advance(model, windows[:rows], real_activities, logits, state)
        return {"positive_rows": 0, "negative_rows": 0, "acc": accuracy(logits, targets)}
    # peer normalisation over positives needs the real windows' gradient even in a sleep step
    peers_on_real = learner.kind.ff and model.config.peer_normalisation > 0 and model.config.peer_windows == "positives"
    real_side, negative_side = forward(model, inputs, negative, sides, real_grad=sides.real or peers_on_real)
    real_activities = real_side.activities
    if learner.kind.ff:
        # one loss per layer; every layer's input was detached, so each loss reaches its own layer only
        losses = ff_objective(real_side if sides.real else None, negative_side, model.config, model.peer_means(),
                              real=real_side)
    else:
        losses = [g.new_zeros(()) for g in real_side.goodness]  # the yardsticks' layers learn through the readout only
    state = model.next_state(real_activities)  # the real streams' recurrent input at the next step
    # the softmax readout is a probe on detached features: its loss trains the readout alone, and
    # only in steps that see real text (a sleep step has no real target to learn)
    logits = model.readout_logits(real_activities, state)
    readout_loss = F.cross_entropy(logits, targets)
    total = torch.stack(losses).sum() + (readout_loss if sides.real else 0.0)
    # summing independent losses and calling backward once is one graph traversal, not L + 1
    learner.backward(total)
    if learner.due():  # every train.accumulate steps (1: every step); a phase's end flushes the rest
        learner.update(chars)
    real.advance(model, windows[:rows], real_activities, logits.detach(), state)
    if negative is not None:
        negatives.observe(negative[0], negative_side.activities)  # rollouts continue from what was scored
    # every value stays on the device: the trainer sums them there and reads them at evaluations
    stats = {"positive_rows": rows if sides.real else 0, "negative_rows": rows if sides.negative else 0,
             "readout_loss": readout_loss.detach(), "acc": accuracy(logits, targets),
             "finite": torch.isfinite(total.detach())}  # checked by the trainer every few steps, not here
    if negative is not None:  # the characters the negatives' streams just generated (the first of k)
        stats["generated"] = negative[0][:rows, -1]
    for i, loss in enumerate(losses):
        stats[f"loss/{i}"] = loss.detach()
        stats[f"good_pos/{i}"] = real_side.goodness[i].detach().mean()
        if sides.negative:
            stats[f"good_neg/{i}"] = negative_side.goodness[i].detach().mean()
    return stats


def forward(model: FFNet, real: tuple, negative: tuple | None, sides: Sides,
            real_grad: bool = True) -> tuple[Side, Side | None]:
    """The real and negative sides' activities and goodness: one batched pass when both sides
    update (goodness taken before the split, so the backward pass never pads a slice's gradient
    back to the joined size); when only negatives update, the real streams just advance, without
    autograd unless `real_grad` (peer normalisation over positives)."""
    if negative is None:
        return Side.of(model(*real)), None
    if not sides.real:
        with torch.set_grad_enabled(real_grad):
            real_side = Side.of(model(*real))
        return real_side, Side.of(model(*negative))
    activities, rows = forward_joined(model, real, negative)
    good = [goodness(a) for a in activities]
    return (Side([a[:rows] for a in activities], [g[:rows] for g in good]),
            Side([a[rows:] for a in activities], [g[rows:] for g in good]))


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == targets).float().mean()

