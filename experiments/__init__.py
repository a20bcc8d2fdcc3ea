"""Experiment configs (installed as the package `charff.experiments`, so presets work anywhere)."""
