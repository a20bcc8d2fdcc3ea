"""Atomic checkpoint files: a crash mid-write never leaves a half checkpoint behind."""

from __future__ import annotations

import io
import os
from pathlib import Path

import torch

from charff.errors import CharffError


def save_atomic(payload: dict, path: Path) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with open(tmp, "wb") as handle:
        handle.write(buffer.getvalue())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise CharffError(f"no checkpoint at {path}; train a run first with `charff train --out RUN`")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # torch raises several types for damaged files
        raise CharffError(f"checkpoint {path} is corrupt or unreadable ({type(err).__name__}); "
                          "resume from another run or retrain") from None
    if not isinstance(payload, dict) or "model" not in payload or "config" not in payload:
        raise CharffError(f"checkpoint {path} is not a charff checkpoint; point at a run directory")
    return payload
