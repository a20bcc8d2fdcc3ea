"""separated:auto, the policy: P/P cycles whose P follows the separation law, P = train.auto_fraction
x H / R updates, re-measured before the first cycle and after every sleep phase (the grammar that
names it is charff.schedule's)."""

from __future__ import annotations

from charff.config import TrainConfig
from charff.schedule import AUTO_MAX, Phase, cycles_of


def auto_phase_chars(ratio: float | None, train: TrainConfig) -> int:
    """separated:auto's phase length: fraction x H / R updates, in characters, between one batch
    and AUTO_MAX (AUTO_MAX when R could not be measured)."""
    if not ratio or ratio <= 0:
        return AUTO_MAX
    chars = train.auto_fraction * train.momentum_horizon / ratio * train.chars_per_update
    return int(min(AUTO_MAX, max(train.streams, chars)))


def replanned(phases: list[Phase], first: int, ratio: float | None, train: TrainConfig) -> tuple[list[Phase], int]:
    """phases[first:] become P/P cycles with P from the one-sided ratio R just measured; returns the
    new phases and P."""
    chars = auto_phase_chars(ratio, train)
    done = sum(p.chars for p in phases[:first])
    return phases[:first] + cycles_of(chars, train.chars - done), chars
