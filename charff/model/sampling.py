"""Sampling characters from logits, and generating text from a trained model."""

from __future__ import annotations

import torch

from charff.data.vocab import Vocabulary
from charff.model.network import FFNet


def model_probabilities(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0,
                        forbid: torch.Tensor | None = None, never: int | None = None) -> torch.Tensor:
    """Softmax of logits / temperature over the top_k; rows with forbid >= 0 never give that
    character, and no row gives `never` (the unknown symbol, which no text should contain)."""
    logits = logits.float() / max(temperature, 1e-6)
    if forbid is not None or never is not None:
        logits = logits.clone()
    if forbid is not None:
        rows = torch.nonzero(forbid >= 0).squeeze(1)
        logits[rows, forbid[rows]] = float("-inf")
    if never is not None:
        logits[:, never] = float("-inf")
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(logits, dim=-1)


def sample_from_logits(logits: torch.Tensor, generator: torch.Generator, temperature: float = 1.0,
                       top_k: int = 0, forbid: torch.Tensor | None = None, never: int | None = None) -> torch.Tensor:
    """One character per row (see model_probabilities)."""
    probs = model_probabilities(logits, temperature, top_k, forbid, never)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def next_logits(model: FFNet, readout: str, windows: torch.Tensor, state: list[torch.Tensor],
                readout_logits: torch.Tensor) -> torch.Tensor:
    """Logits for the character after `windows` (B, W): the softmax readout's were computed with
    the last forward pass; the goodness readout scores every candidate after the last W-1."""
    if readout == "goodness":
        return model.goodness_logits(windows[:, 1:], state)
    return readout_logits


@torch.no_grad()
def generate(model: FFNet, prompt: torch.Tensor, count: int, max_new_chars: int, generator: torch.Generator,
             temperature: float = 1.0, top_k: int = 0, readout: str = "softmax") -> torch.Tensor:
    """Continue a prompt (ids, at least one window long) `count` times; returns (count, new chars)."""
    window = model.config.window
    state = model.initial_state(count, prompt.device)
    ids = prompt[None, :].expand(count, -1)
    logits = None
    for end in range(window, ids.shape[1] + 1):  # warm the recurrent state on the prompt
        activities = model(ids[:, end - window : end], state)
        state, logits = model.next_state(activities), model.readout_logits(activities)
    windows, out = ids[:, -window:], []
    for _ in range(max_new_chars):
        chars = sample_from_logits(next_logits(model, readout, windows, state, logits), generator,
                                   temperature, top_k)
        out.append(chars)
        windows = torch.cat([windows[:, 1:], chars[:, None]], dim=1)
        activities = model(windows, state)
        state, logits = model.next_state(activities), model.readout_logits(activities)
    return torch.stack(out, dim=1)


def sample_text(model: FFNet, vocab: Vocabulary, prompt: str, count: int, max_new_chars: int, seed: int,
                temperature: float = 1.0, top_k: int = 0, readout: str = "softmax") -> list[str]:
    """`count` continuations of a prompt, each printed after the prompt as the alphabet folds it."""
    prompt = vocab.fold(prompt)
    ids = vocab.encode(prompt, strict=True)
    window = model.config.window
    if len(ids) < window:  # pad short prompts on the left with spaces (or the first symbol)
        pad = vocab.symbols.index(" ") if " " in vocab.symbols else 0
        ids = torch.cat([torch.full((window - len(ids),), pad, dtype=torch.long), ids])
    generator = torch.Generator().manual_seed(seed)
    out = generate(model, ids, count, max_new_chars, generator, temperature, top_k, readout)
    return [prompt + vocab.decode(row) for row in out]
