"""Phase schedules: which updates happen, for how many characters.

`interleaved` (both in every step), `wake-only`, `separated:P` or `separated:P/N` (P wake then
N sleep characters, repeated until the budget; k and M suffixes), or an explicit list such as
`wake:250k,sleep:100k,interleaved:50k`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from charff.errors import CharffError

KINDS = ("interleaved", "wake", "sleep")
COUNT = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")


@dataclass(frozen=True)
class Phase:
    kind: str  # interleaved | wake | sleep
    chars: int

    @property
    def wake(self) -> bool:
        return self.kind in ("interleaved", "wake")

    @property
    def sleep(self) -> bool:
        return self.kind in ("interleaved", "sleep")


def parse_count(text: str) -> int:
    match = COUNT.match(text.strip())
    if not match:
        raise CharffError(f"bad character count {text!r}; write e.g. 1000, 4k or 1M")
    value = float(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    if value <= 0 or value != int(value):
        raise CharffError(f"character count {text!r} must be a positive whole number")
    return int(value)


def parse_schedule(spec: str, total_chars: int, batch: int) -> list[Phase]:
    """Expand a schedule string into phases that add up to exactly total_chars."""
    spec = spec.strip()
    if spec == "interleaved":
        pattern, repeat = [Phase("interleaved", total_chars)], False
    elif spec in ("wake-only", "wake"):
        pattern, repeat = [Phase("wake", total_chars)], False
    elif spec.startswith("separated:"):
        wake, _, sleep = spec.removeprefix("separated:").partition("/")
        wake_chars = parse_count(wake)
        pattern, repeat = [Phase("wake", wake_chars), Phase("sleep", parse_count(sleep or wake))], True
    elif ":" in spec:
        pattern, repeat = [], False
        for item in spec.split(","):
            kind, _, count = item.strip().partition(":")
            if kind not in KINDS:
                raise CharffError(f"unknown phase {kind!r} in schedule; use {', '.join(KINDS)}")
            pattern.append(Phase(kind, parse_count(count)))
    else:
        raise CharffError(
            f"cannot parse schedule {spec!r}; use interleaved, wake-only, separated:P[/N] "
            "or a list like wake:250k,sleep:250k"
        )
    check_pattern(spec, pattern, total_chars, batch, repeat)
    return fill_budget(pattern, total_chars, repeat)


def check_pattern(spec: str, pattern: list[Phase], total_chars: int, batch: int, repeat: bool) -> None:
    """Refuse schedules that would run something other than what they say."""
    for phase in pattern:
        if phase.chars < batch:
            raise CharffError(
                f"a {phase.kind} phase of {phase.chars} characters is shorter than one batch "
                f"({batch} streams); lengthen the phase or use fewer streams"
            )
    if not any(p.wake for p in pattern):
        raise CharffError(f"schedule {spec!r} never sees real text; add a wake or interleaved phase")
    if repeat and pattern[0].chars >= total_chars:
        raise CharffError(f"the wake phase of {spec!r} ({pattern[0].chars:,} characters) is not shorter than "
                          f"train.chars ({total_chars:,}), so no sleep phase would run; shorten it or raise chars")
    covered = sum(p.chars for p in pattern)
    if not repeat and covered < total_chars:
        raise CharffError(f"schedule {spec!r} covers {covered:,} characters but train.chars is {total_chars:,}; "
                          "add phases or set train.chars to match")


def fill_budget(pattern: list[Phase], total_chars: int, repeat: bool) -> list[Phase]:
    """Repeat (or not) the pattern, cutting the last phase so the total is exactly total_chars."""
    phases, used = [], 0
    while used < total_chars:
        for phase in pattern:
            chars = min(phase.chars, total_chars - used)
            if chars <= 0:
                break
            phases.append(Phase(phase.kind, chars))
            used += chars
        if not repeat:
            break
    return phases


def schedule_of(config) -> list[Phase]:
    """The phases a Config's train section asks for."""
    t = config.train
    return parse_schedule(t.schedule, t.chars, t.streams)
