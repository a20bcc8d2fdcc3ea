"""Typed configs: every knob with its default, loaded from TOML and `--set key=value` overrides.

Each choice is declared once, as a `Literal` type below; validation, the command-line choices
and the tests that every choice has an implementation all read it from here.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_type_hints

from charff.config_checks import (
    BELOW_ONE,
    FRACTION,
    MEASURING_STREAMS,
    NON_NEGATIVE,
    OPEN_FRACTION,
    POSITIVE,
    Range,
    check_combinations,
)
from charff.errors import CharffError
from charff.schedule import Schedule, text_of_table

Alphabet = Literal["hinton30", "full"]
Recurrence = Literal["none", "self", "full"]  # self: own state at t-1; full: also the layer above
Activation = Literal["relu", "relu_full_grad", "leaky_relu", "gelu"]  # relu_full_grad: straight-through
Loss = Literal["softplus", "symba", "band", "clipped"]  # see charff.model.objectives
Learner = Literal["ff", "backprop", "frozen_random"]  # backprop and frozen_random are yardsticks
Negatives = Literal["teacher_forcing", "self_generated", "random"]
Readout = Literal["softmax", "goodness", "product"]
READOUTS: tuple[str, ...] = typing.get_args(Readout)  # implemented in model/readouts.py
Proposal = Literal["unigram", "uniform"]  # the fixed distribution mixed into the negatives
# the windows peer normalisation averages each unit's activity over: "updated" every window the step
# updates (so negatives alone in a sleep phase), "positives" real windows only, in every phase
# (loeweX/Forward-Forward's choice, whose weight 0.03 is the default here)
PeerWindows = Literal["updated", "positives"]
Optimizer = Literal["adam", "sgd"]
LrDecay = Literal["constant", "cosine"]
# float32 matmuls: "highest" computes them in float32; "high" lets a GPU use TF32 (about 2.3x on an
# H200's 3x2000 steps, measured), "medium" bfloat16 passes; the CPU computes float32 whatever is set
MatmulPrecision = Literal["highest", "high", "medium"]


def registry(choice: Any, entries: dict) -> dict:
    """The implementations of a Literal choice, one per allowed value: a value added to the
    Literal without its entry (or an entry without its value) fails when charff is imported."""
    allowed = typing.get_args(choice)
    if set(entries) != set(allowed):
        raise TypeError(f"the registry for {allowed} has entries {tuple(entries)}")
    return entries


@dataclass(frozen=True)
class LearnerKind:
    """What a learner does with the hidden layers; the yardsticks train only the readout's loss."""

    ff: bool  # each layer learns from its own goodness loss
    local: bool  # no gradient crosses from one layer to another
    trains_layers: bool  # the hidden layers change at all


LEARNERS = registry(Learner, {
    "ff": LearnerKind(ff=True, local=True, trains_layers=True),
    "backprop": LearnerKind(ff=False, local=False, trains_layers=True),
    "frozen_random": LearnerKind(ff=False, local=True, trains_layers=False),
})


def ranged(default: float, allowed: Range) -> Any:
    """A number field with the values it accepts beside it (checked by validate)."""
    return field(default=default, metadata={"range": allowed})


@dataclass
class CorpusConfig:
    name: str = "fables"  # a named corpus, a text file path, or hf:NAME[:CONFIG[:SPLIT[:COLUMN]]]
    alphabet: Alphabet = "hinton30"
    val_fraction: float = ranged(0.1, OPEN_FRACTION)  # before the test split; never trained on
    calibration_fraction: float = ranged(0.05, OPEN_FRACTION)  # just before validation: calibrates the readouts
    # the very last part, after validation: scored once, when a run finishes (0: none)
    test_fraction: float = ranged(0.1, BELOW_ONE)


@dataclass
class ModelConfig:
    window: int = ranged(10, POSITIVE)  # characters seen by layer 1, ending at the character being judged
    hidden: list[int] = field(default_factory=lambda: [500, 500, 500])
    recurrence: Recurrence = "self"
    # the defaults below are the settings that measured best at the quick size (docs/results.md);
    # activation "relu" and peer_normalisation 0 give the plain network, whose units can die (and
    # the one a backprop twin wants: the straight-through ReLU's gradients are not the true ones)
    activation: Activation = "relu_full_grad"
    loss: Loss = "softplus"
    threshold: float = ranged(2.0, NON_NEGATIVE)  # goodness (mean squared activity) separating real from fake
    symba_alpha: float = ranged(4.0, NON_NEGATIVE)  # sharpness of the SymBa loss
    band: list[float] = field(default_factory=lambda: [0.5, 8.0])  # band loss: goodness walls [low, high]
    clip_margin: float = ranged(1.0, NON_NEGATIVE)  # clipped loss: no gradient this far past the threshold
    peer_normalisation: float = ranged(0.03, NON_NEGATIVE)  # Hinton's peer normalisation weight (loeweX: 0.03)
    peer_windows: PeerWindows = "updated"  # which windows it averages over; see PeerWindows


@dataclass
class TrainConfig:
    chars: int = ranged(300_000, POSITIVE)  # total characters (B streams x T steps) for the whole schedule
    learner: Learner = "ff"
    streams: int = ranged(64, POSITIVE)  # B parallel streams of real text
    schedule: str = "interleaved"  # the phase schedule; see charff.schedule
    negatives: Negatives = "teacher_forcing"
    negative_readout: Readout = "softmax"  # which readout samples negatives
    negative_temperature: float = ranged(1.0, POSITIVE)
    negative_top_k: int = ranged(0, NON_NEGATIVE)  # 0 means sample from the whole alphabet
    rollout_restart: int = ranged(10, POSITIVE)  # self-generated streams restart from real text every R characters
    negatives_per_position: int = ranged(1, POSITIVE)  # k negative windows per real one (a rollout continues the first)
    # share of negatives from negative_proposal, not the readout (0: the readout's alone); half of
    # them uniform over the alphabet pushes every character down somewhere (measured best)
    negative_mix: float = ranged(0.5, FRACTION)
    negative_proposal: Proposal = "uniform"  # unigram: training-split counts plus one; never the unknown symbol
    hard_negatives: int = 0  # of the k, how many are the readout's likeliest wrong characters
    optimizer: Optimizer = "adam"  # for the FF layers; the softmax readout has its own Adam
    lr: float = ranged(3e-3, POSITIVE)
    readout_lr: float = ranged(3e-3, POSITIVE)
    momentum: float = ranged(0.9, BELOW_ONE)  # SGD momentum or Adam's beta1; horizon 1/(1-momentum) updates
    adam_beta2: float = ranged(0.999, BELOW_ONE)
    adam_bias_correction: bool = True  # off: Adam's first moment is not bias-corrected
    nesterov: bool = False  # Nesterov momentum for SGD
    accumulate: int = ranged(1, POSITIVE)  # steps per update: streams x accumulate characters each
    lr_decay: LrDecay = "cosine"  # to lr_final_fraction of lr over train.chars; "constant" keeps lr
    lr_final_fraction: float = ranged(0.1, FRACTION)
    weight_decay: float = ranged(0.0, NON_NEGATIVE)
    reset_optimizer_each_phase: bool = False  # keep momentum across phases unless asked
    # separated:auto: each phase is this fraction of H / R (momentum horizon over one-sided ratio)
    auto_fraction: float = ranged(0.03, POSITIVE)
    eval_every: int = ranged(50_000, POSITIVE)  # characters between validation evaluations (and checkpoints)
    eval_streams: int = ranged(256, POSITIVE)  # streams scoring the splits side by side (cost, not result)
    # characters the costly goodness readout scores at evaluations before the last (0: all), in
    # whole steps of eval_streams characters; the last evaluation scores the whole validation split
    eval_goodness_chars: int = ranged(4096, NON_NEGATIVE)
    eval_at_phase_ends: bool = False  # also evaluate at the end of every wake and sleep phase
    measure_gradients: bool = False  # log the one-sided ratio and the gradient noise scale at evaluations
    # a finished run directory to continue from (model, optimizer state, streams, random state):
    # an arm of a forked sweep; this run counts its own characters from 0 at the fork
    fork_from: str = ""
    seed: int = 0
    device: str = "cpu"
    matmul_precision: MatmulPrecision = "highest"  # see MatmulPrecision; the default keeps float32 everywhere
    # treat subnormal floats (below 1.2e-38) as zeros on the CPU: silent units' gradients and
    # optimizer moments fall into them, which the CPU computes many times slower; as zeros they
    # change no measured number (benchmarks/subnormals.py). Set when the trainer is built; torch's
    # worker threads take it only if none has started yet, as in a fresh process.
    flush_subnormals: bool = True

    @property
    def learner_kind(self) -> LearnerKind:
        return LEARNERS[self.learner]

    @property
    def chars_per_update(self) -> int:
        return self.streams * self.accumulate

    @property
    def momentum_horizon(self) -> float:
        """The momentum's memory in updates, 1 / (1 - momentum) (SGD's momentum, Adam's beta1): a
        gradient's weight falls as momentum^age. 1 without momentum."""
        return 1 / (1 - self.momentum) if self.momentum > 0 else 1.0


@dataclass
class Config:
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def plan(self) -> Schedule:
        """train.schedule parsed against train.chars and train.streams (its phases, and what kind
        of schedule it is); validation parses it first, and it is parsed again only if one of the
        three changes."""
        t = self.train
        key = (t.schedule, t.chars, t.streams)
        parsed = getattr(self, "_schedule", None)
        if parsed is None or parsed[0] != key:
            parsed = (key, Schedule.parse(*key))
            self._schedule = parsed
        return parsed[1]


def choices(section: type, name: str) -> tuple[str, ...]:
    """The allowed values of a Literal field, e.g. choices(TrainConfig, "negatives")."""
    return typing.get_args(get_type_hints(section)[name])


def literal_fields() -> dict[str, tuple[str, ...]]:
    """Every field declared as a Literal, by dotted key, with its allowed values."""
    out = {}
    for section, section_type in get_type_hints(Config).items():
        for name, hint in get_type_hints(section_type).items():
            if typing.get_origin(hint) is Literal:
                out[f"{section}.{name}"] = typing.get_args(hint)
    return out


def coerce(key: str, value: Any, annotation: Any) -> Any:
    """Check one value against its dataclass field type, accepting ints where floats are due."""
    if typing.get_origin(annotation) is Literal:
        allowed = typing.get_args(annotation)
        if value not in allowed:
            raise CharffError(f"{key} must be one of {', '.join(allowed)}, got {value!r}")
        return value
    kind = annotation if isinstance(annotation, type) else typing.get_origin(annotation)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is list:
        (item,) = typing.get_args(annotation)
        allowed = (int,) if item is int else (int, float)
        if not isinstance(value, list) or not all(isinstance(v, allowed) and not isinstance(v, bool) and v > 0
                                                  for v in value):
            raise CharffError(f"{key} must be a list of positive {item.__name__}s, got {value!r}")
        return [item(v) for v in value]
    if kind is not None and not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CharffError(f"{key} must be {kind.__name__}, got {value!r}")
    return value


def validate(config: Config) -> Config:
    flat = flatten(config.to_dict())
    for key, allowed in literal_fields().items():
        if flat[key] not in allowed:
            raise CharffError(f"{key} must be one of {', '.join(allowed)}, got {flat[key]!r}")
    for name in ("corpus", "model", "train"):
        section = getattr(config, name)
        for item in dataclasses.fields(section):
            allowed = item.metadata.get("range")
            value = getattr(section, item.name)
            if allowed is not None and not allowed.holds(value):
                raise CharffError(allowed.refusal(f"{name}.{item.name}", value))
    check_combinations(flat)
    # a schedule that cannot run is refused with the rest of the config
    if config.plan.auto and config.train.streams < MEASURING_STREAMS:
        raise CharffError(f"train.schedule separated:auto measures the one-sided ratio on eighths of the batch, so it "
                          f"needs train.streams of at least {MEASURING_STREAMS}, got {config.train.streams}")
    return config


def flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def apply(config: Config, key: str, value: Any) -> None:
    if key == "train.schedule":
        value = text_of_table(value)
    section, _, name = key.partition(".")
    target = getattr(config, section, None) if name else None
    if not dataclasses.is_dataclass(target) or name not in {f.name for f in dataclasses.fields(target)}:
        known = ", ".join(sorted(flatten(config.to_dict())))
        raise CharffError(f"unknown config key {key!r}; known keys: {known}")
    setattr(target, name, coerce(key, value, get_type_hints(type(target))[name]))


def apply_all(config: Config, settings: dict) -> Config:
    """Apply a {dotted key: value} mapping in order and validate the result."""
    for key, value in settings.items():
        apply(config, key, value)
    return validate(config)


def with_settings(base: Config, settings: dict) -> Config:
    """A validated copy of base with the settings applied (base is left as it was)."""
    return apply_all(copy.deepcopy(base), settings)


def parse_value(text: str) -> Any:
    """A --set value is read as TOML (numbers, booleans, lists), else taken as a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_overrides(overrides: list[str]) -> dict:
    """`--set key=value` strings as an ordered {key: value} mapping."""
    settings = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise CharffError(f"--set needs key=value, got {item!r}")
        settings[key.strip()] = parse_value(text.strip())
    return settings


def read_toml(path: str | Path, what: str, hint: str) -> dict:
    """A TOML file as a dict, or one clear error naming what it was meant to be."""
    path = Path(path)
    if not path.is_file():
        raise CharffError(f"{what} {path} does not exist; {hint}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise CharffError(f"{what} {path} is not valid TOML: {err}") from None


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    tree = read_toml(path, "config file", "see experiments/ for examples") if path is not None else {}
    return apply_all(Config(), {**flatten(tree), **parse_overrides(overrides)})


def config_from_dict(tree: dict) -> Config:
    """A saved run's config. Runs saved before the test split existed had none."""
    flat = flatten(tree)
    if any(key.startswith("corpus.") for key in flat):
        flat.setdefault("corpus.test_fraction", 0.0)
    return apply_all(Config(), flat)
