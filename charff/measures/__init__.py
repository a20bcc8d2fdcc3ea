"""Measures shared by training and analysis: statistics and text statistics."""
