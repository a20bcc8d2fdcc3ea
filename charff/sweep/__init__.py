"""Sweeps: grid files (one format for ablation grids and reproduce presets), running their cells
locally in worker processes, and the one runner behind `charff reproduce` and `charff ablate`."""
