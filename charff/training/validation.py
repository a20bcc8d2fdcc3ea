"""Validation: accuracy and bits/char of both readouts on the same characters, goodness of real
and teacher-forced windows per layer, and dead units. Streams run through contiguous segments
of the validation split so the recurrent state sees real history."""

from __future__ import annotations

import math
from collections import Counter

import torch
import torch.nn.functional as F

from charff.analysis.textstats import text_stats
from charff.data.vocab import Vocabulary
from charff.model.network import FFNet
from charff.model.objectives import goodness
from charff.model.sampling import generate, sample_from_logits

WARMUP = 8  # characters of history before a position is scored
SAMPLE_STREAMS, SAMPLE_CHARS = 16, 100  # samples drawn at every evaluation


def fit_temperature(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """The goodness-readout temperature minimising cross-entropy (golden section on log T)."""
    def loss(log_t: float) -> float:
        return F.cross_entropy(scores / math.exp(log_t), targets).item()

    lo, hi = -8.0, 6.0
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if loss(a) < loss(b):
            hi = b
        else:
            lo = a
    return math.exp((lo + hi) / 2)


def auc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """P(a random real window outscores a random fake one), ties counted half (Mann-Whitney)."""
    scores = torch.cat([positive, negative]).double()
    _, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
    last = torch.cumsum(counts, 0).double()  # 1-based rank of the last member of each tie group
    ranks = (last - (counts.double() - 1) / 2)[inverse]  # each score gets its group's mean rank
    n_pos, n_neg = len(positive), len(negative)
    return ((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)).item()


def bits(logits: torch.Tensor, targets: torch.Tensor) -> float:
    return F.cross_entropy(logits, targets).item() / math.log(2)


@torch.no_grad()
def evaluate(model: FFNet, val: torch.Tensor, streams: int, goodness_chars: int, seed: int) -> dict:
    """Scores characters t of the validation split with p(c_t | window ending at t-1).

    The goodness readout's temperature is fitted on the even scored positions and its bits/char
    reported on the odd ones, so the fit never sees the characters it is judged on.
    """
    window = model.config.window
    device = val.device
    generator = torch.Generator(device=device).manual_seed(seed)
    segment = (len(val) - 1) // streams
    if segment < window + WARMUP + 2:
        streams = max(1, (len(val) - 1) // (window + WARMUP + 2))
        segment = (len(val) - 1) // streams
    starts = torch.arange(streams, device=device) * segment
    lags = torch.arange(-window + 1, 1, device=device)
    state = model.initial_state(streams, val.device)
    steps = range(window - 1, segment)
    scored_steps = len(steps) - WARMUP
    goodness_every = max(1, math.ceil(scored_steps * streams / max(goodness_chars, 1)))
    soft_logits, soft_targets, good_scores, good_targets = [], [], [], []
    layers = len(model.layers)
    sum_real, sum_fake = torch.zeros(layers, device=device), torch.zeros(layers, device=device)
    total_real, total_fake = [], []
    active = [torch.zeros(w, dtype=torch.bool, device=device) for w in model.config.hidden]
    logits = None
    count = 0
    for n, offset in enumerate(steps):
        windows = val[(starts + offset)[:, None] + lags]
        scored = n >= WARMUP
        if scored:
            targets = windows[:, -1]
            soft_logits.append(logits)
            soft_targets.append(targets)
            if (n - WARMUP) % goodness_every == 0:
                good_scores.append(model.candidate_goodness(windows[:, :-1], state))
                good_targets.append(targets)
            fake_last = sample_from_logits(logits, generator, forbid=targets)
            fake = torch.cat([windows[:, :-1], fake_last[:, None]], dim=1)
            fake_acts = model(fake, state)
        activities = model(windows, state)
        if scored:
            real_good = torch.stack([goodness(a) for a in activities])  # (layers, streams)
            fake_good = torch.stack([goodness(a) for a in fake_acts])
            sum_real += real_good.sum(dim=1)
            sum_fake += fake_good.sum(dim=1)
            total_real.append(real_good.sum(dim=0))
            total_fake.append(fake_good.sum(dim=0))
            count += streams
            for seen, a in zip(active, activities, strict=True):
                seen |= (a > 0).any(dim=0)
        state, logits = model.next_state(activities), model.readout_logits(activities)
    soft_logits, soft_targets = torch.cat(soft_logits), torch.cat(soft_targets)
    scores, good_targets = torch.cat(good_scores), torch.cat(good_targets)
    temperature = fit_temperature(scores[0::2], good_targets[0::2])
    model.goodness_temperature.fill_(temperature)
    held_out = scores[1::2] if len(scores) > 1 else scores
    held_targets = good_targets[1::2] if len(scores) > 1 else good_targets
    record = {
        "val_chars": len(soft_targets),
        "softmax_acc": (soft_logits.argmax(-1) == soft_targets).float().mean().item(),
        "softmax_bpc": bits(soft_logits, soft_targets),
        "goodness_chars": len(good_targets),
        "goodness_acc": (scores.argmax(-1) == good_targets).float().mean().item(),
        "goodness_bpc": bits(held_out / temperature, held_targets),
        "goodness_temperature": temperature,
        "goodness_auc": auc(torch.cat(total_real), torch.cat(total_fake)),
    }
    for i in range(layers):
        record[f"good_real/{i}"] = (sum_real[i] / count).item()
        record[f"good_fake/{i}"] = (sum_fake[i] / count).item()
        record[f"dead/{i}"] = 1.0 - active[i].float().mean().item()
    return record


@torch.no_grad()
def sample_stats(model: FFNet, val: torch.Tensor, vocab: Vocabulary, reference: Counter, seed: int) -> dict:
    """Statistics of fresh samples from the softmax readout after a validation prompt: the
    evaluation-time view of degenerate generation (runs of spaces and the like)."""
    generator = torch.Generator(device=val.device).manual_seed(seed)
    out = generate(model, val[: 2 * model.config.window], SAMPLE_STREAMS, SAMPLE_CHARS, generator)
    return text_stats([vocab.decode(row) for row in out], reference, prefix="sample_")
