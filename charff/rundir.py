"""The run directory: config, metrics log, checkpoint, samples and summary, readable later."""

from __future__ import annotations

import json
import time
from pathlib import Path

from charff.errors import CharffError

CONFIG_FILE, SUMMARY_FILE, SAMPLES_FILE = "config.toml", "summary.json", "samples.txt"


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def to_toml(tree: dict) -> str:
    lines = []
    for section, values in tree.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def default_run_dir(prefix: str = "train") -> Path:
    return Path("runs") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


def create_run_dir(path: Path, config_tree: dict) -> Path:
    """A new run directory; refuses one that already holds a run, so nothing is overwritten."""
    path = Path(path)
    if (path / "checkpoint.pt").exists() or (path / "metrics.jsonl").exists():
        raise CharffError(f"{path} already holds a run; continue it with --resume {path} or pick another --out")
    path.mkdir(parents=True, exist_ok=True)
    (path / CONFIG_FILE).write_text(to_toml(config_tree), encoding="utf-8")
    return path


def write_json(path: Path, data) -> None:
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
