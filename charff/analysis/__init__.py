"""Reading results: finished runs and sweeps (results), the collapse verdict, seed statistics,
text statistics, tables and plots."""
