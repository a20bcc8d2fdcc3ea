"""Sampling characters from logits, and generating text from a trained model."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from charff.data.vocab import UNKNOWN, Vocabulary
from charff.errors import CharffError
from charff.model.network import FFNet
from charff.model.stream_state import StreamState


def forbidden(forbid: torch.Tensor, width: int) -> torch.Tensor:
    """(rows, width) mask of each row's forbidden character (none where forbid is -1), built
    without reading forbid on the host, so a GPU step need not wait for it."""
    return torch.arange(width, device=forbid.device) == forbid[:, None]


def model_probabilities(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0,
                        forbid: torch.Tensor | None = None, never: int | None = None) -> torch.Tensor:
    """Softmax of logits / temperature over the top_k; rows with forbid >= 0 never give that
    character, and no row gives `never` (the unknown symbol, which no text should contain)."""
    logits = logits.float() / max(temperature, 1e-6)
    if forbid is not None or never is not None:
        logits = logits.clone()
    if forbid is not None:
        logits = logits.masked_fill(forbidden(forbid, logits.shape[-1]), float("-inf"))
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


@torch.no_grad()
def generate(model: FFNet, prompt: torch.Tensor, count: int, max_new_chars: int, generator: torch.Generator,
             temperature: float = 1.0, top_k: int = 0, readout: str = "softmax",
             never: int | None = None) -> torch.Tensor:
    """Continue a prompt (ids, at least one window long) `count` times from the calibrated readout,
    never emitting `never` (the unknown symbol); returns (count, new chars)."""
    window = model.config.window
    ids = prompt.to(model.device)[None, :].expand(count, -1)
    stream = StreamState.start(model, ids[:, :window])
    for end in range(window, ids.shape[1] + 1):  # warm the recurrent state on the prompt
        windows = ids[:, end - window : end]
        stream.advance(model, windows, model(windows, stream.state))
    out = []
    for _ in range(max_new_chars):
        logits = model.next_logits(readout, stream.windows, stream.state, stream.logits)
        chars = sample_from_logits(logits, generator, temperature, top_k, never=never)
        out.append(chars)
        windows = torch.cat([stream.windows[:, 1:], chars[:, None]], dim=1)
        stream.advance(model, windows, model(windows, stream.state))
    return torch.stack(out, dim=1)


def prompt_context(prompt: str, window: int, training_text: str | None, seed: int) -> str:
    """A prompt shorter than the window is extended on the left with the real text before one of
    its occurrences in the training split (chosen by the seed), never with invented padding."""
    if len(prompt) >= window:
        return prompt
    if training_text is None:
        raise CharffError(f"the prompt has {len(prompt)} characters; give at least the model's window of "
                          f"{window}, or make the run's corpus available to extend it from real text")
    need = window - len(prompt)
    places = [m.start() for m in re.finditer(f"(?={re.escape(prompt)})", training_text) if m.start() >= need]
    if not places:
        raise CharffError(f"the prompt {prompt!r} is shorter than the model's window of {window} and never "
                          "occurs in the training text; give a longer prompt")
    place = places[int(torch.randint(len(places), (1,), generator=torch.Generator().manual_seed(seed)))]
    return training_text[place - need : place] + prompt


def clean_prompt(vocab: Vocabulary, prompt: str) -> tuple[str, str | None]:
    """The prompt as the corpus was cleaned (characters outside the alphabet dropped), and a one-line
    note of what changed, or None when nothing did."""
    cleaned = vocab.clean(prompt)
    cleaned = "".join(c for c in cleaned if c in vocab.symbols and c != UNKNOWN)
    if cleaned == prompt:
        return cleaned, None
    return cleaned, f"note: prompt cleaned as the corpus was ({vocab.alphabet}): {prompt!r} -> {cleaned!r}"


def sample_text(model: FFNet, vocab: Vocabulary, prompt: str, count: int, max_new_chars: int, seed: int,
                temperature: float = 1.0, top_k: int = 0, readout: str = "softmax",
                training_text: str | None = None) -> tuple[str, list[str]]:
    """The context the model read (the cleaned prompt, extended on the left with real text when
    shorter than a window) and `count` continuations of it."""
    context = prompt_context(prompt, model.config.window, training_text, seed)
    generator = torch.Generator().manual_seed(seed)
    out = generate(model, vocab.encode(context, strict=True), count, max_new_chars, generator, temperature, top_k,
                   readout, never=vocab.unknown_id)
    return context, [vocab.decode(row) for row in out]


def read_prompt(start: str) -> str:
    from charff.data.corpora import decode_text

    if start.startswith("FILE:"):
        path = Path(start[5:])
        if not path.is_file():
            raise CharffError(f"prompt file {path} does not exist")
        return decode_text(path.read_bytes(), str(path), what="prompt file")
    return start
