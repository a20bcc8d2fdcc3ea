"""Hooks the trainer calls: the metrics log, the progress bar, TensorBoard, and the monitor of
generated text. The one place to add a logger."""

from charff.hooks.base import Hook

__all__ = ["Hook"]
