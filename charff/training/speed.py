"""The one speed meter: characters per second of a trainer's steps, and the float32 matmul speed
they are read against, measured the same way by the sweep's cost estimate and the benchmarks."""

from __future__ import annotations

import time

import torch

from charff.schedule import Phase
from charff.training.run_state import RunState


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


CPU = torch.device("cpu")


def matmul_gflops(rows: int, inner: int, cols: int, device: torch.device = CPU, seconds: float = 1.0) -> float:
    """float32 GFLOP/s of (rows x inner) @ (inner x cols), timed over at least `seconds` after one
    untimed product."""
    a = torch.randn(rows, inner, device=device)
    b = torch.randn(inner, cols, device=device)
    a @ b
    synchronize(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    synchronize(device)
    return 2 * rows * inner * cols * count / (time.perf_counter() - start) / 1e9


def step_rate(state: RunState, kind: str = "interleaved", seconds: float = 2.0, warmup_steps: int = 1,
              min_steps: int = 2) -> float:
    """Characters per second of full-batch steps of one kind (interleaved, wake, sleep), timed over
    at least `seconds` and `min_steps` after `warmup_steps` untimed ones."""
    phase = Phase(kind, 10**15)  # never ends while timed
    rows = state.config.train.streams
    for _ in range(warmup_steps):
        state.step(phase, rows)
    synchronize(state.device)
    steps, start = 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - start < seconds:
        state.step(phase, rows)
        steps += 1
    synchronize(state.device)
    return steps * rows / (time.perf_counter() - start)
