"""Checkpoint files: written atomically, read with torch's safe loader (plain data and tensors only),
so a checkpoint from someone else's run directory cannot run code on load."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import torch

from charff.errors import CharffError
from charff.rundir import CHECKPOINT_FILE
from charff.storage import write_atomic


def save_checkpoint(payload: dict, path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_atomic(path, buffer.getvalue())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_FILE
    if not path.is_file():
        inside = sorted(path.parent.glob(f"*/seed*/{CHECKPOINT_FILE}"))
        if inside:  # a sweep's folder: its runs are SETTING/seedN inside it
            raise CharffError(f"{path.parent} is a sweep, not a run; name one of its runs, e.g. "
                              f"{inside[0].parent}")
        raise CharffError(f"no checkpoint at {path}; train a run first with `charff train --out RUN`")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights_only" in str(err) or "Unsupported" in str(err):
            raise CharffError(f"checkpoint {path} holds objects other than tensors and plain data; "
                              "refusing to load it (it could run code); retrain or use a trusted run") from None
        raise CharffError(f"checkpoint {path} is corrupt or unreadable (UnpicklingError); "
                          "resume from another run or retrain") from None
    except Exception as err:  # torch raises several types for damaged files
        raise CharffError(f"checkpoint {path} is corrupt or unreadable ({type(err).__name__}); "
                          "resume from another run or retrain") from None
    if not isinstance(payload, dict) or "model" not in payload or "config" not in payload:
        raise CharffError(f"checkpoint {path} is not a charff checkpoint; point at a run directory")
    return payload
