"""Files shipped with the package: bundled corpora (charff.bundled) and presets (charff.experiments)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def package_folder(package: str, checkout_folder: str):
    """Files installed as `package`, or the source checkout's folder when charff is imported from
    a checkout that shadows the installed package (as the test suite does)."""
    try:
        return resources.files(package)
    except ModuleNotFoundError:
        return CHECKOUT / checkout_folder


def corpora_folder():
    return package_folder("charff.bundled", "corpora")


def presets_folder():
    return package_folder("charff.experiments", "experiments")
