"""Gradient instruments for the separation law, measured at an evaluation on one training batch
(the real streams' next windows and negatives drawn as training would draw them).

- `one_sided_ratio` = |G_wake| / |G_wake + G_sleep|: how much larger the push of one phase alone
  is than the interleaved learning signal (the momentum view: a separated run oscillates around
  its interleaved twin by about (P / H) x R).
- `noise_scale` = B_simple = tr(Sigma) / |G|^2 of the interleaved gradient (McCandlish et al.
  2018, "An Empirical Model of Large-Batch Training", appendix A), from squared gradient norms at
  two batch sizes: the whole batch and each of its `chunks` equal parts. In characters (real
  positions): updates over more characters than this stop being free per character.

Both per FF layer (`/i`) and for all layers together. The FF loss only: peer normalisation, a
regulariser on running means, is left out.
"""

from __future__ import annotations

import torch

from charff.config import ModelConfig
from charff.model.network import FFNet
from charff.model.objectives import Side, ff_objective

CHUNKS = 8  # the small batch is 1/CHUNKS of the measured batch


def side_gradients(model: FFNet, config: ModelConfig, real: tuple, negative: tuple) -> tuple[list, list]:
    """Per layer, the flat gradient of the wake side's loss and of the sleep side's loss. Every
    layer's input is detached, so summing the layers' losses keeps their gradients apart."""
    params = [list(layer.parameters()) for layer in model.layers]
    flat = [p for layer in params for p in layer]
    with torch.enable_grad():
        wake = sum(ff_objective(Side.of(model(*real)), None, config))  # no running means: no peer term
        sleep = sum(ff_objective(None, Side.of(model(*negative)), config))
        grads = [torch.autograd.grad(loss, flat, allow_unused=True) for loss in (wake, sleep)]
    return [split_by_layer(g, params) for g in grads]


def split_by_layer(grads: tuple, params: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    out, start = [], 0
    for layer in params:
        parts = [torch.zeros_like(p) if g is None else g for p, g in zip(layer, grads[start:], strict=False)]
        out.append(torch.cat([g.reshape(-1) for g in parts]))
        start += len(layer)
    return out


def rows_of(batch: tuple, index: torch.Tensor) -> tuple:
    windows, state = batch
    return windows[index], [s[index] for s in state]


def measure_gradients(model: FFNet, config: ModelConfig, real: tuple, negative: tuple,
                      chunks: int = CHUNKS) -> dict:
    """real: (windows, state) of B rows; negative: (windows, state) of k x B rows, the j-th
    negative of every row in block j (as the negative generator proposes them)."""
    rows = real[0].shape[0]
    k = negative[0].shape[0] // rows
    size = rows // chunks
    if size < 1:
        raise ValueError(f"measuring the noise scale needs at least {chunks} streams")
    wake_parts, sleep_parts = [], []
    for j in range(chunks):
        index = torch.arange(j * size, (j + 1) * size, device=real[0].device)
        negative_index = torch.cat([index + block * rows for block in range(k)])
        wake, sleep = side_gradients(model, config, rows_of(real, index), rows_of(negative, negative_index))
        wake_parts.append(wake)
        sleep_parts.append(sleep)
    record = {}
    layers = len(wake_parts[0])
    totals = {"wake": 0.0, "both": 0.0, "small": 0.0}
    for i in range(layers):
        wake = torch.stack([w[i] for w in wake_parts])  # (chunks, params)
        both = wake + torch.stack([s[i] for s in sleep_parts])
        big_wake, big = wake.mean(0), both.mean(0)  # the whole batch's gradients
        small_sq = both.pow(2).sum(1).mean().item()
        parts = {"wake": big_wake.pow(2).sum().item(), "both": big.pow(2).sum().item(), "small": small_sq}
        record.update(layer_record(parts, size, size * chunks, f"/{i}"))
        for key, value in parts.items():
            totals[key] += value
    record.update(layer_record(totals, size, size * chunks, ""))
    return record


def layer_record(parts: dict, small: int, big: int, suffix: str) -> dict:
    """The ratio and the noise scale from squared norms: |G_wake|^2 and |G|^2 of the big batch,
    and the mean |G|^2 of the small batches."""
    signal = (big * parts["both"] - small * parts["small"]) / (big - small)  # unbiased |G|^2
    trace = (parts["small"] - parts["both"]) / (1 / small - 1 / big)  # tr(Sigma)
    return {f"one_sided_ratio{suffix}": (parts["wake"] / parts["both"]) ** 0.5 if parts["both"] > 0 else None,
            f"noise_scale{suffix}": trace / signal if signal > 0 else None,
            f"grad_norm{suffix}": parts["both"] ** 0.5}
