"""Reading results: finished runs and sweeps (results), the collapse verdict, paired comparisons,
the separation law, tables and plots. Imports no training code."""
