"""charff: a character-level language model trained with Forward-Forward."""

__version__ = "0.1.0"
