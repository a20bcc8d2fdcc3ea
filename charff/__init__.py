"""charff: a character-level language model trained with Forward-Forward."""

import torch

__version__ = "0.1.0"

# Subnormal floats (below 1.2e-38) are computed many times slower on the CPU, and silent units'
# gradients and optimizer moments fall into them; as zeros they change no metric
# (benchmarks/subnormals.py). Set at import, before torch starts its thread pool: its threads
# take the setting from the thread that starts them, not from later calls.
torch.set_flush_denormal(True)
