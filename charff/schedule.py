"""Phase schedules: which updates happen, for how many characters. The one place to add a pattern,
and the one parser: config validation turns train.schedule into a `Schedule` (Config.plan)
that everything else reads.

    interleaved                  both updates in every step
    wake-only                    positive updates only
    frozen                       no update of any kind: the null arm of a forked sweep
    separated:P[/N][*F]          P wake then N sleep characters (N = P when omitted), repeated
                                 until train.chars; with *F every cycle is F times longer than the last
    separated:auto               P/P cycles whose P follows the separation law: before the first
                                 cycle and after every sleep phase, P = train.auto_fraction x H / R
                                 (H the momentum horizon, R the one-sided ratio measured then),
                                 at least one batch, at most 250k
    wake:250k,sleep:100k,...     an explicit list of interleaved/wake/sleep/frozen phases
    interleaved:192k,separated:4k
                                 a list may end with a separated pattern, which repeats: a warm start

Counts take k and M suffixes (4k, 1.5M). In TOML a list may also be written as an array of
tables, [{phase = "wake", chars = 250000}, ...].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, get_args

from charff.errors import CharffError

PhaseKind = Literal["interleaved", "wake", "sleep", "frozen"]


@dataclass(frozen=True)
class Updates:
    """What a phase updates: goodness up on real windows (wake), down on negatives (sleep)."""

    wake: bool
    sleep: bool


# what each kind of phase updates: one entry per PhaseKind
PHASE_KINDS: dict[str, Updates] = {
    "interleaved": Updates(wake=True, sleep=True),
    "wake": Updates(wake=True, sleep=False),
    "sleep": Updates(wake=False, sleep=True),
    "frozen": Updates(wake=False, sleep=False),  # the null arm of a forked sweep
}
if set(PHASE_KINDS) != set(get_args(PhaseKind)):  # config.registry's check; config imports this module
    raise TypeError(f"PHASE_KINDS has {tuple(PHASE_KINDS)}, PhaseKind allows {get_args(PhaseKind)}")
KINDS = tuple(PHASE_KINDS)
COUNT = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")
SEPARATED = re.compile(r"^separated:([^/*]+)(?:/([^*]+))?(?:\*(\d+(?:\.\d+)?))?$")
GRAMMAR = "interleaved, wake-only, frozen, separated:P[/N][*F], or a list like interleaved:192k,separated:4k"


@dataclass(frozen=True)
class Phase:
    kind: PhaseKind
    chars: int

    @property
    def wake(self) -> bool:
        return PHASE_KINDS[self.kind].wake

    @property
    def sleep(self) -> bool:
        return PHASE_KINDS[self.kind].sleep

    @property
    def frozen(self) -> bool:
        return not (self.wake or self.sleep)

    @property
    def one_sided(self) -> bool:
        """A phase of a separated schedule: one update, not both."""
        return self.wake != self.sleep

    @property
    def interleaved(self) -> bool:
        return self.wake and self.sleep

    @property
    def wake_only(self) -> bool:
        return self.wake and not self.sleep

    @property
    def sleep_only(self) -> bool:
        return self.sleep and not self.wake


AUTO = "separated:auto"
AUTO_MAX = 250_000  # separated:auto lengthens its phases up to the draft's quarter of a million


@dataclass(frozen=True)
class Cycle:
    """The repeating wake/sleep pair of a separated pattern, growing by `growth` each cycle."""

    wake: int
    sleep: int
    growth: float = 1.0
    auto: bool = False  # separated:auto: the trainer sets the lengths as it goes

    def phases(self, cycle: int) -> list[Phase]:
        scale = self.growth ** cycle
        return [Phase("wake", round(self.wake * scale)), Phase("sleep", round(self.sleep * scale))]


def parse_count(text: str) -> int:
    match = COUNT.match(text.strip())
    if not match:
        raise CharffError(f"bad character count {text!r}; write e.g. 1000, 4k or 1M")
    value = float(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    if value <= 0 or value != int(value):
        raise CharffError(f"character count {text!r} must be a positive whole number")
    return int(value)


def parse_cycle(item: str) -> Cycle:
    if item.strip() == AUTO:  # planned with the longest phase; the trainer shortens it once it has measured
        return Cycle(AUTO_MAX, AUTO_MAX, auto=True)
    match = SEPARATED.match(item.strip())
    if not match:
        raise CharffError(f"cannot parse {item!r}; write separated:P, separated:P/N or separated:P/N*F")
    wake = parse_count(match.group(1))
    growth = float(match.group(3) or 1.0)
    if growth < 1.0:
        raise CharffError(f"the growth factor of {item!r} must be at least 1")
    return Cycle(wake, parse_count(match.group(2) or match.group(1)), growth)


def parse_parts(spec: str, total_chars: int) -> tuple[list[Phase], Cycle | None]:
    """A schedule string as fixed leading phases and an optional repeating cycle."""
    if spec == "interleaved":
        return [Phase("interleaved", total_chars)], None
    if spec in ("wake-only", "wake"):
        return [Phase("wake", total_chars)], None
    if spec == "frozen":
        return [Phase("frozen", total_chars)], None
    if ":" not in spec:
        raise CharffError(f"cannot parse schedule {spec!r}; use {GRAMMAR}")
    items = [item.strip() for item in spec.split(",")]
    prefix, cycle = [], None
    for n, item in enumerate(items):
        kind, _, count = item.partition(":")
        if kind == "separated":
            if n != len(items) - 1:
                raise CharffError(f"in schedule {spec!r} a separated pattern must come last; it repeats to the end")
            cycle = parse_cycle(item)
        elif kind in KINDS:
            prefix.append(Phase(kind, parse_count(count)))
        else:
            raise CharffError(f"unknown phase {kind!r} in schedule; use {', '.join(KINDS)} or separated")
    return prefix, cycle


def parse_schedule(spec: str, total_chars: int, batch: int) -> list[Phase]:
    """Expand a schedule string into phases that add up to exactly total_chars."""
    spec = spec.strip()
    prefix, cycle = parse_parts(spec, total_chars)
    phases, used = [], 0
    pattern = iter(prefix)
    cycles = 0
    while used < total_chars:
        phase = next(pattern, None)
        if phase is None:
            if cycle is None:
                break
            pattern = iter(cycle.phases(cycles))
            cycles += 1
            continue
        chars = min(phase.chars, total_chars - used)
        phases.append(Phase(phase.kind, chars))
        used += chars
    check(spec, prefix, cycle, phases, total_chars, batch)
    return phases


def check(spec: str, prefix: list[Phase], cycle: Cycle | None, phases: list[Phase], total_chars: int,
          batch: int) -> None:
    """Refuse schedules that would run something other than what they say."""
    for phase in prefix + (cycle.phases(0) if cycle and not cycle.auto else []):
        if phase.chars < batch:
            raise CharffError(
                f"a {phase.kind} phase of {phase.chars} characters is shorter than one batch "
                f"({batch} streams); lengthen the phase or use fewer streams"
            )
    if not any(p.wake for p in phases) and not all(p.frozen for p in phases):
        raise CharffError(f"schedule {spec!r} never sees real text; add a wake or interleaved phase")
    if cycle and not cycle.auto and not any(p.kind == "sleep" for p in phases[len(prefix):]):
        raise CharffError(f"the first wake phase of {spec!r} ({cycle.wake:,} characters) outlasts train.chars "
                          f"({total_chars:,}), so no sleep phase would run; shorten it or raise train.chars")
    covered = sum(p.chars for p in phases)
    if covered < total_chars:
        raise CharffError(f"schedule {spec!r} covers {covered:,} characters but train.chars is {total_chars:,}; "
                          "add phases or set train.chars to match")


@dataclass(frozen=True)
class Schedule:
    """A parsed train.schedule: its text, its phases (summing to train.chars) and what readers ask of it."""

    spec: str
    phases: tuple[Phase, ...]
    auto: bool = False  # separated:auto: the trainer replans the phases as it goes

    @classmethod
    def parse(cls, spec: str, total_chars: int, batch: int) -> Schedule:
        spec = spec.strip()
        return cls(spec, tuple(parse_schedule(spec, total_chars, batch)), spec.endswith(AUTO))

    @property
    def interleaved(self) -> bool:
        """Both updates in every step from start to end: the twin every other schedule is compared with."""
        return self.spec == "interleaved"

    @property
    def frozen(self) -> bool:
        """Nothing learns: the null arm."""
        return self.spec == "frozen"

    @property
    def separated(self) -> bool:
        """Wake and sleep phases of fixed lengths (separated:auto replans its own as it goes)."""
        kinds = {p.kind for p in self.phases}
        return not self.auto and {"wake", "sleep"} <= kinds

    def first(self, kind: str) -> int | None:
        """The length of the first phase of a kind (None if there is none, or the phases are replanned)."""
        if self.auto:
            return None
        return next((p.chars for p in self.phases if p.kind == kind), None)

    def separated_phases(self) -> list[Phase]:
        """The wake and sleep phases: where a separated schedule differs from interleaving."""
        return [p for p in self.phases if p.kind in ("wake", "sleep")]


def text_of_table(value: Any) -> Any:
    """A schedule given as a TOML array of tables, [{phase = "wake", chars = 250000}, ...], in its
    one-line form "wake:250000,..." (what config files and result tables show); anything else as it is."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        return value
    try:
        return ",".join(f"{item['phase']}:{item['chars']}" for item in value)
    except KeyError:
        raise CharffError("each phase of train.schedule needs phase and chars, "
                          'e.g. {phase = "wake", chars = 250000}') from None


def cycles_of(phase_chars: int, remaining: int) -> list[Phase]:
    """P/P cycles filling exactly `remaining` characters."""
    phases = []
    while remaining > 0:
        chars = min(phase_chars, remaining)
        phases.append(Phase("sleep" if len(phases) % 2 else "wake", chars))
        remaining -= chars
    return phases
