"""Validation: accuracy and bits/char of the readouts, goodness of real windows and of the
configured negatives per layer, and dead units. Streams run through contiguous blocks of a split,
each after a warm-up on the text before it so the recurrent state sees real history; more streams
make an evaluation cheaper (fewer, larger passes) without changing which characters are scored.

Each readout's calibration (a temperature, the product readout's two weights) is fitted on the
calibration slice (held out from training, never the validation split), then the validation split
is scored with it. The readouts themselves live in model/readouts.py.
Intervals are 95% intervals over the means of 64 contiguous blocks of the split: neighbouring
characters are correlated, blocks far apart nearly are not.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from charff.config import READOUTS, TrainConfig
from charff.data.streams import Streams
from charff.data.vocab import Vocabulary
from charff.measures.stats import INTERVAL_BLOCKS, mean_ci
from charff.measures.textstats import text_stats
from charff.model.network import FFNet, forward_joined
from charff.model.objectives import goodness
from charff.model.readouts import READOUT_KINDS, ReadoutKind, readouts_for
from charff.model.sampling import generate
from charff.model.stream_state import StreamState
from charff.training.negatives import NegativeGenerator

WARMUP = 16  # characters of history before a position is scored
SAMPLE_STREAMS, SAMPLE_CHARS = 16, 100  # samples drawn at every evaluation


def auc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """P(a random real window outscores a random fake one), ties counted half (Mann-Whitney)."""
    scores = torch.cat([positive, negative]).double()
    _, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
    last = torch.cumsum(counts, 0).double()  # 1-based rank of the last member of each tie group
    ranks = (last - (counts.double() - 1) / 2)[inverse]  # each score gets its group's mean rank
    n_pos, n_neg = len(positive), len(negative)
    return ((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)).item()


class Scored:
    """One readout's scores on a split: logits (N, V), targets and the segment of each position,
    written into storage reserved up front. (Thousands of small scores kept between the large
    temporaries of the candidate passes fragmented the heap: a full-alphabet evaluation grew to
    gigabytes.)"""

    def __init__(self, capacity: int, width: int, device=None):
        self.logits = torch.empty(capacity, width, device=device)
        self.targets = torch.empty(capacity, dtype=torch.long, device=device)
        self.segments = torch.empty(capacity, dtype=torch.long, device=device)
        self.count = 0  # positions scored

    def add(self, logits: torch.Tensor, targets: torch.Tensor, segments: torch.Tensor) -> None:
        rows = slice(self.count, self.count + len(targets))
        self.logits[rows], self.targets[rows], self.segments[rows] = logits, targets, segments
        self.count += len(targets)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.logits[: self.count], self.targets[: self.count], self.segments[: self.count]


def readout_summary(name: str, logits: torch.Tensor, targets: torch.Tensor, segments: torch.Tensor) -> dict:
    """Accuracy and bits/char of calibrated logits, each with its 95% half-width over segments."""
    predicted = logits.argmax(-1)
    correct = (predicted == targets).double()
    nll_bits = F.cross_entropy(logits, targets, reduction="none").double() / math.log(2)
    # the share of its single most frequent prediction: near 1, the accuracy is a floor (the
    # frequency of one character), not a measure of what was learned
    out = {f"{name}_top_share": torch.bincount(predicted).max().item() / max(len(predicted), 1)}
    for metric, values in (("acc", correct), ("bpc", nll_bits)):
        means = torch.zeros(int(segments.max()) + 1, dtype=torch.float64, device=values.device)
        means.index_add_(0, segments, values)
        means /= torch.bincount(segments).clamp(min=1)
        out[f"{name}_{metric}"] = values.mean().item()
        out[f"{name}_{metric}_ci"] = mean_ci(means.tolist())[1]
    return out


@dataclass
class SplitPass:
    softmax: Scored  # the softmax readout's logits at every scored position
    goodness: Scored | None  # every candidate's goodness, where goodness was scored
    softmax_at_goodness: Scored | None  # the softmax readout's logits there: the product's other factor
    diagnostics: dict  # per-layer goodness of real and fake windows, AUC, dead units (validation only)

    def scores(self, readout: ReadoutKind) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """A readout's raw scores: (softmax logits, goodness or None, targets, segments), at every
        scored position, or only where goodness was scored when the readout needs goodness."""
        if not readout.needs_goodness:
            logits, targets, segments = self.softmax.tensors()
            return logits, None, targets, segments
        goodness, targets, segments = self.goodness.tensors()
        return self.softmax_at_goodness.tensors()[0], goodness, targets, segments


@dataclass
class Evaluation:
    record: dict  # the metrics of one evaluation
    calibration: dict[str, torch.Tensor]  # readout name -> its calibration, fitted on the calibration slice


def layout(length: int, streams: int, window: int) -> tuple[int, int]:
    """(streams, scored positions per stream). Every position after the first full window and
    WARMUP more characters is scored by exactly one stream: each stream starts WARMUP characters
    before its block, so its recurrent state has seen real history, and the blocks tile the split
    whatever the stream count (a tail shorter than one position per stream goes unscored). Fewer
    streams when the split has fewer positions than streams."""
    lead = window - 1 + WARMUP
    streams = max(1, min(streams, length - lead))
    return streams, (length - lead) // streams


@torch.no_grad()
def score_split(model: FFNet, ids: torch.Tensor, streams: int, goodness_chars: int | None,
                fakes: NegativeGenerator | None) -> SplitPass:
    """Scores characters t of a split with p(c_t | window ending at t-1). goodness_chars: how many
    positions the goodness readout scores (0: all; None: no goodness readout); fakes: when given,
    the configured negatives (a fresh bank for these streams), for the diagnostics."""
    window, device = model.config.window, ids.device
    streams, block = layout(len(ids), streams, window)
    # one read head per block, at the block's first full window; they never restart
    heads = Streams(ids, window, torch.arange(streams) * block + window - 1)
    stream = StreamState.start(model, heads.windows())
    goodness_every = max(1, math.ceil(block * streams / goodness_chars)) if goodness_chars else 1
    interval_block = torch.arange(streams, device=device) * min(streams, INTERVAL_BLOCKS) // streams
    vocab = model.vocab_size
    softmax = Scored(block * streams, vocab, device)
    good_rows = math.ceil(block / goodness_every) * streams
    good = softmax_at_good = None
    if goodness_chars is not None:
        good = Scored(good_rows, vocab, device)
        softmax_at_good = Scored(good_rows, vocab, device)
    layers = len(model.layers)
    real_good, fake_good = [], []
    active = [torch.zeros(w, dtype=torch.bool, device=device) for w in model.config.hidden]
    for n in range(WARMUP + block):
        windows = heads.windows()
        scored = n >= WARMUP
        if scored:
            targets = windows[:, -1]
            softmax.add(stream.logits, targets, interval_block)
            if good is not None and (n - WARMUP) % goodness_every == 0:
                good.add(model.candidate_goodness(windows[:, :-1], stream.state), targets, interval_block)
                softmax_at_good.add(stream.logits, targets, interval_block)
        if scored and fakes is not None:
            fake_windows, fake_state = fakes.propose(stream, targets, streams)
            joined, _ = forward_joined(model, (windows, stream.state), (fake_windows, fake_state))
            activities, fake_acts = [a[:streams] for a in joined], [a[streams:] for a in joined]
            fakes.observe(fake_windows, fake_acts)
            both = torch.stack([goodness(a) for a in joined])  # (layers, real then fake windows)
            real_good.append(both[:, :streams])
            fake_good.append(both[:, streams:])
            for seen, a in zip(active, activities, strict=True):
                seen |= (a > 0).any(dim=0)
        else:
            activities = model(windows, stream.state)
        stream.advance(model, windows, activities)
        heads.advance(streams)
    diagnostics = {}
    if fakes is not None:
        real, fake = torch.cat(real_good, dim=1), torch.cat(fake_good, dim=1)  # (layers, positions)
        diagnostics["goodness_auc"] = auc(real.sum(dim=0), fake.sum(dim=0))
        for i in range(layers):
            diagnostics[f"good_real/{i}"] = real[i].mean().item()
            diagnostics[f"good_fake/{i}"] = fake[i].mean().item()
            diagnostics[f"dead/{i}"] = 1.0 - active[i].float().mean().item()
    return SplitPass(softmax, good, softmax_at_good, diagnostics)


@torch.no_grad()
def evaluate(model: FFNet, val: torch.Tensor, calibration: torch.Tensor, streams: int, goodness_chars: int,
             seed: int, negatives: NegativeGenerator, readouts: tuple[str, ...] = READOUTS) -> Evaluation:
    """Fits each readout's calibration on the calibration slice, then scores the validation split
    with it (readouts that need goodness on goodness_chars positions of each, 0 meaning all).
    The model is left as it was: the caller stores the calibration (readouts.calibrate) or not."""
    # the splits may come from a Dataset on the CPU while the model sits on a GPU
    val, calibration = val.to(model.device), calibration.to(model.device)
    needs_goodness = any(READOUT_KINDS[name].needs_goodness for name in readouts)
    scored_by_goodness = goodness_chars if needs_goodness else None
    calibrating = score_split(model, calibration, streams, scored_by_goodness, None)
    record = {"calibration_chars": len(calibration)}
    generator = torch.Generator(device=val.device).manual_seed(seed)
    validating = score_split(model, val, streams, scored_by_goodness,
                             negatives.fresh(layout(len(val), streams, model.config.window)[0], generator))
    record["val_chars"] = validating.softmax.count
    fitted = {}
    for name in readouts:
        readout = READOUT_KINDS[name]
        softmax_logits, goodness_scores, targets, _ = calibrating.scores(readout)
        fitted[name] = readout.fit(softmax_logits, goodness_scores, targets)
        softmax_logits, goodness_scores, targets, segments = validating.scores(readout)
        if readout.needs_goodness and "goodness_chars" not in record:
            record["goodness_chars"] = validating.goodness.count
        record.update(readout.fields(name, fitted[name]))
        logits = readout.logits(fitted[name], softmax_logits, goodness_scores)
        record.update(readout_summary(name, logits, targets, segments))
    record.update(validating.diagnostics)
    return Evaluation(record, fitted)


def evaluate_run(model: FFNet, train: TrainConfig, split: torch.Tensor, calibration: torch.Tensor,
                 negatives: NegativeGenerator, goodness_chars: int = 0) -> Evaluation:
    """evaluate with a run's settings and readouts, the model in eval mode meanwhile: what the
    trainer, `charff evaluate` and the test split call."""
    was_training = model.training
    model.eval()
    try:
        return evaluate(model, split, calibration, train.eval_streams, goodness_chars, train.seed, negatives,
                        readouts_for(train.learner_kind))
    finally:
        model.train(was_training)


@torch.no_grad()
def sample_stats(model: FFNet, val: torch.Tensor, vocab: Vocabulary, reference: Counter, seed: int) -> dict:
    """Statistics of fresh samples from the softmax readout after a validation prompt: the
    evaluation-time view of degenerate generation (runs of spaces and the like)."""
    generator = torch.Generator(device=model.device).manual_seed(seed)
    out = generate(model, val[: 2 * model.config.window], SAMPLE_STREAMS, SAMPLE_CHARS, generator)
    return text_stats([vocab.decode(row) for row in out], reference, prefix="sample_")
