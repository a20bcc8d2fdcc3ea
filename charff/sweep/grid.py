"""Grid files: the one format of both `charff ablate` grids and `charff reproduce` presets.

    description = "what the sweep asks"
    seeds = [0, 1]
    budget_minutes = 30            # above this estimate the sweep asks for --yes
    [base]                         # a normal config shared by every cell ([base.model], [base.train], ...)
    [grid]                         # dotted key -> list of values; their cartesian product
    "train.schedule" = ["interleaved", "separated:4k"]
    [arms.low_lr]                  # optional named bundles of settings, crossed with the grid
    label = "learning rate / 10"
    "train.lr" = 3e-4
    [fork]                         # optional: one shared warm start per seed (OUT/fork/seedN), run
    "train.chars" = 2_000_000      # first; every FF cell then continues from it (train.fork_from)
                                   # and counts its characters from the fork
    per_setting = ["train.lr"]     # optional: these keys take each setting's value in its warm
                                   # start too: one per distinct value set (OUT/fork/lr=0.01/seedN)

A setting is one grid combination under one arm; a cell is a setting with one seed, trained in
its own run directory OUT/SETTING/seedN.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from charff.config import LEARNERS, Config, apply_all, flatten, read_toml, with_settings
from charff.errors import CharffError
from charff.packaged import presets_folder
from charff.rundir import FORK_DIR, warm_start_dir

KEYS = ("description", "seeds", "budget_minutes", "base", "grid", "arms", "fork")


@dataclass
class Setting:
    name: str
    arm: str | None
    label: str
    values: dict  # dotted config key -> value, grid values then the arm's


@dataclass
class Cell:
    name: str
    seed: int
    config: Config
    run_dir: Path
    log: tuple[str, ...] = ()  # loggers asked for with --log


@dataclass
class Grid:
    description: str
    seeds: list[int]
    budget_minutes: float
    base: Config
    settings: list[Setting] = field(default_factory=list)
    fork: dict = field(default_factory=dict)  # the warm start's settings over base; empty: no fork
    per_setting: tuple[str, ...] = ()  # keys whose setting's value its warm start takes too

    def config_for(self, setting: Setting, seed: int, out: Path | None = None) -> Config:
        values = {**setting.values, "train.seed": seed}
        # a yardstick learner (frozen random layers, backprop) trains from scratch: an FF trunk is not its own
        forks = LEARNERS[setting.values.get("train.learner", self.base.train.learner)].ff
        if self.fork and out is not None and forks:
            values["train.fork_from"] = str(self.trunk_dir(out, seed, self.trunk_of(setting)))
        return with_settings(self.base, values)

    def trunk_of(self, setting: Setting) -> str:
        """The name of the warm start a setting forks from ("" when every setting shares one)."""
        return grid_name({k: setting.values[k] for k in self.per_setting if k in setting.values})

    def trunk_dir(self, out: Path, seed: int, trunk: str = "") -> Path:
        return warm_start_dir(out, seed, trunk).resolve()

    def trunks(self, out: Path, log: tuple[str, ...] = ()) -> list[Cell]:
        """The shared warm starts, one per seed (and per value set of `per_setting`); they run
        before every other cell."""
        if not self.fork:
            return []
        names = {self.trunk_of(s): s for s in self.settings
                 if LEARNERS[s.values.get("train.learner", self.base.train.learner)].ff}
        return [Cell(f"{FORK_DIR}/{name}" if name else FORK_DIR, seed,
                     with_settings(self.base, {**{k: setting.values[k] for k in self.per_setting
                                                  if k in setting.values}, **self.fork, "train.seed": seed}),
                     self.trunk_dir(out, seed, name), log)
                for name, setting in names.items() for seed in self.seeds]

    def cells(self, out: Path, log: tuple[str, ...] = ()) -> list[Cell]:
        return [Cell(s.name, seed, self.config_for(s, seed, out), Path(out) / s.name / f"seed{seed}", log)
                for s in self.settings for seed in self.seeds]


def grid_name(values: dict) -> str:
    parts = [f"{key.split('.')[-1]}={value}" for key, value in values.items()]
    return ",".join(parts).replace("/", "_").replace(" ", "").replace(":", "-")


def settings_of(grid: dict, arms: dict) -> list[Setting]:
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    arm_items = list(arms.items()) or [(None, {})]
    settings = []
    for combo in combos:
        for arm, spec in arm_items:
            values = {k: v for k, v in flatten(spec).items() if k != "label"}
            arm_part = (f"arm={arm}" if combo else arm) if arm else ""
            name = ",".join(part for part in (grid_name(combo), arm_part) if part)
            settings.append(Setting(name or "base", arm, spec.get("label", arm or name),
                                    {**combo, **values}))
    return settings


def preset_path(name_or_path: str) -> Path:
    """A reproduce preset by name (experiments/reproduce_NAME.toml) or a grid file path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.is_file():
        return path
    folder = presets_folder()
    names = sorted(p.name.removeprefix("reproduce_").removesuffix(".toml") for p in folder.iterdir()
                   if p.name.startswith("reproduce_"))
    if name_or_path not in names:
        raise CharffError(f"unknown preset {name_or_path!r}; use one of {', '.join(names)} or a grid file")
    return Path(str(folder / f"reproduce_{name_or_path}.toml"))


def load_grid(path: Path, overrides: dict | None = None, seeds: list[int] | None = None) -> Grid:
    """A grid file with command-line overrides applied to its base; every cell is validated now,
    not in a worker an hour later."""
    spec = read_toml(path, "grid file", "see experiments/phase_length_ablation.toml")
    unknown = set(spec) - set(KEYS)
    if unknown:
        raise CharffError(f"unknown key(s) {sorted(unknown)} in {path}; use {', '.join(KEYS)}")
    grid, arms = spec.get("grid", {}), spec.get("arms", {})
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise CharffError(f"grid entry {key!r} in {path} must be a non-empty list of values")
    if not all(isinstance(a, dict) for a in arms.values()):
        raise CharffError(f"arms in {path} must be tables, e.g. [arms.low_lr] with \"train.lr\" = 3e-4")
    seeds = seeds if seeds is not None else spec.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool)
                                                              for s in seeds):
        raise CharffError(f"seeds in {path} must be a non-empty list of integers, e.g. seeds = [0, 1]")
    if not grid and not arms:
        raise CharffError(f"grid in {path} is empty; give [grid] lists or [arms.NAME] tables")
    base = apply_all(Config(), {**flatten(spec.get("base", {})), **(overrides or {})})
    fork = flatten(spec.get("fork", {}))
    per_setting = tuple(fork.pop("per_setting", ()))
    if fork and "train.chars" not in fork:
        raise CharffError(f"[fork] in {path} needs \"train.chars\": the length of the shared warm start")
    result = Grid(spec.get("description", Path(path).stem), seeds, spec.get("budget_minutes", 30), base,
                  settings_of(grid, arms), fork, per_setting)
    names = [s.name for s in result.settings]
    repeated = next((n for n in names if names.count(n) > 1), None) or next(
        (seed for seed in seeds if seeds.count(seed) > 1), None)
    if repeated is not None:
        raise CharffError(f"{path} lists {repeated!r} twice (in a grid list or the seeds); remove the duplicate")
    for setting in result.settings:  # every arm's config is validated (its schedule parsed) before anything runs
        result.config_for(setting, seeds[0])
    result.trunks(Path("."))  # and every trunk's
    return result
