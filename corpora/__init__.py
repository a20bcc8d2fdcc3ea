"""Bundled corpora and their descriptions (installed as the package `charff.bundled`)."""
