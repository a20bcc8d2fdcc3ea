"""Negative windows: the model's own characters in place of real ones.

Every kind is one mechanism, a bank of generator streams that restart from real context, with a
strategy that proposes each next character (KINDS): teacher forcing restarts every character
(real context, one sampled last character), a self-generated rollout restarts every R characters,
and the random control samples uniformly. A restart never samples the real next character, so a
negative never equals its positive. Adding a kind: a strategy here and a value in config.Negatives.

Each position gets k = negatives_per_position negative windows: characters drawn from a mixture of
the readout's distribution and a fixed proposal (a smoothed unigram or uniform), which pushes down
characters the readout rarely proposes, then the readout's likeliest wrong characters (hard
negatives). The unknown symbol is never proposed. A rollout continues with the first of the k.
"""

from __future__ import annotations

import dataclasses

import torch

from charff.config import Negatives, Proposal, TrainConfig, registry
from charff.data.vocab import Vocabulary
from charff.errors import CharffError
from charff.model.network import FFNet
from charff.model.sampling import forbidden, model_probabilities
from charff.model.stream_state import StreamState


class FromReadout:
    """Proposes from the configured readout's distribution over the next character, after real
    context: restarts every character (teacher forcing)."""

    rollout = False  # continues its own text between restarts (else restarts every character)
    ranks = True  # has a readout whose likeliest wrong characters can serve as hard negatives

    def restart_every(self, train: TrainConfig) -> int:
        return train.rollout_restart if self.rollout else 1

    def logits(self, model: FFNet, readout: str, windows: torch.Tensor, state: list[torch.Tensor],
               readout_logits: torch.Tensor) -> torch.Tensor:
        """Unnormalised log-probabilities of the next character of each bank stream."""
        return model.next_logits(readout, windows, state, readout_logits, for_negatives=True)


class Rollout(FromReadout):
    """The model's own text: continues its rollout for train.rollout_restart characters."""

    rollout = True


class Uniform(FromReadout):
    """The control: every character equally likely, no readout (so no hard negatives either)."""

    ranks = False

    def logits(self, model, readout, windows, state, readout_logits) -> torch.Tensor:
        return torch.zeros(windows.shape[0], model.vocab_size, device=windows.device)


# the one place to add a kind of negative: one strategy per config.Negatives
KINDS = registry(Negatives, {"teacher_forcing": FromReadout(), "self_generated": Rollout(), "random": Uniform()})

def check_negatives(train: TrainConfig) -> None:
    """What a kind of negative asks of the rest of the config: one CharffError saying what to do."""
    if train.hard_negatives and not KINDS[train.negatives].ranks:
        ranking = " or ".join(name for name, kind in KINDS.items() if kind.ranks)
        raise CharffError(f"train.hard_negatives needs a readout to rank characters; {train.negatives} negatives "
                          f"have none (use {ranking})")


# the proposals' weights before the unknown symbol is zeroed: one entry per config.Proposal
PROPOSALS = registry(Proposal, {
    "unigram": lambda train_ids, size: torch.bincount(train_ids.cpu(), minlength=size).double() + 1.0,
    "uniform": lambda train_ids, size: torch.ones(size, dtype=torch.float64),
})


def proposal_distribution(kind: str, train_ids: torch.Tensor, vocab_size: int, never: int | None) -> torch.Tensor:
    """The fixed distribution mixed into the negatives: unigram counts of the training split plus
    one (so every character has some mass), or uniform; zero on the unknown symbol."""
    weights = PROPOSALS[kind](train_ids, vocab_size)
    if never is not None:
        weights[never] = 0.0
    return (weights / weights.sum()).float()


def configured_negatives(model: FFNet, train: TrainConfig, train_ids: torch.Tensor, vocab: Vocabulary,
                         generator: torch.Generator) -> NegativeGenerator:
    """The negatives a config asks for, drawing from `generator`; never the unknown symbol."""
    never = vocab.unknown_id
    proposal = proposal_distribution(train.negative_proposal, train_ids, vocab.size, never)
    return NegativeGenerator(model, train, proposal, never, generator)


class NegativeGenerator:
    """The bank of generator streams and the draw: what every kind of negative shares. Which
    characters the bank proposes is the strategy's (KINDS)."""

    def __init__(self, model: FFNet, train: TrainConfig, proposal: torch.Tensor, never: int | None,
                 generator: torch.Generator):
        check_negatives(train)
        self.model = model
        self.train = train
        self.kind = KINDS[train.negatives]
        self.readout = train.negative_readout
        self.restart_every = self.kind.restart_every(train)
        self.generator = generator
        # the draw: k characters per position, `hard` of them the readout's likeliest wrong ones,
        # the rest from (1 - mix) x the readout at `temperature` over its top_k + mix x the proposal
        self.k = train.negatives_per_position
        self.hard = train.hard_negatives
        self.temperature = train.negative_temperature
        self.top_k = train.negative_top_k
        self.mix = train.negative_mix
        self.proposal = proposal.to(model.device)
        self.never = never  # the unknown symbol: never proposed
        # every stream starts due for a restart; rollouts then restart together every R characters
        self.age = torch.full((train.streams,), self.restart_every)
        self.bank: StreamState | None = None  # the generator streams, made on the first proposal

    @torch.no_grad()
    def propose(self, real: StreamState, true_next: torch.Tensor, rows: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Negative windows (k x rows, W), the j-th negative of every row in block j, and their
        recurrent state for this step. real: the real streams before character t; true_next: t."""
        if self.bank is None:
            self.bank = real.clone()
        # ages live on the host: which rows restart is known without waiting for the device
        restarting = torch.zeros(len(self.age), dtype=torch.bool)
        restarting[:rows] = self.age[:rows] >= self.restart_every
        restart = restarting.to(true_next.device)
        self.bank.copy_rows(real, restart)
        self.age[restarting] = 0
        forbid = torch.where(restart, true_next, torch.full_like(true_next, -1))[:rows]
        windows, state = self.bank.rows(rows)
        logits = self.kind.logits(self.model, self.readout, windows, state, self.bank.logits[:rows])
        chars = self.draw(logits, forbid)  # (rows, k)
        context = windows[:, 1:].repeat(self.k, 1)
        negatives = torch.cat([context, chars.T.reshape(-1, 1)], dim=1)
        return negatives, [s.repeat(self.k, 1) for s in state]

    def draw(self, logits: torch.Tensor, forbid: torch.Tensor) -> torch.Tensor:
        """k characters per row: k - hard from the mixture, then the hard ones."""
        parts = []
        sampled = self.k - self.hard
        if sampled:
            probs = model_probabilities(logits, self.temperature, self.top_k, forbid, self.never)
            if self.mix:
                allowed = self.proposal.expand_as(probs).masked_fill(forbidden(forbid, probs.shape[-1]), 0.0)
                probs = (1 - self.mix) * probs + self.mix * allowed / allowed.sum(dim=1, keepdim=True)
            parts.append(torch.multinomial(probs, sampled, replacement=sampled > 1, generator=self.generator))
        if self.hard:
            scores = model_probabilities(logits, forbid=forbid, never=self.never)
            parts.append(torch.topk(scores, self.hard, dim=1).indices)
        return torch.cat(parts, dim=1)

    def propose_aside(self, real: StreamState, true_next: torch.Tensor, rows: int,
                      generator: torch.Generator) -> tuple:
        """What propose would give, drawn from `generator`, leaving the bank and its random stream
        as they were: negatives for a measurement that must change nothing after it."""
        saved = {key: [s.clone() for s in value] if isinstance(value, list)
                 else value.clone() if torch.is_tensor(value) else value for key, value in self.state_dict().items()}
        own = self.generator
        self.generator = generator
        try:
            return self.propose(real, true_next, rows)
        finally:
            self.generator = own
            self.load_state_dict(saved)

    def fresh(self, streams: int, generator: torch.Generator, kind: type | None = None, **extra) -> NegativeGenerator:
        """A new bank of the same negatives for `streams` other streams (validation's fakes), of
        this class or of `kind` (a subclass, built with `extra`: the yardstick's recording banks)."""
        return (kind or type(self))(self.model, dataclasses.replace(self.train, streams=streams), self.proposal,
                                    self.never, generator, **extra)

    @property
    def continues_text(self) -> bool:
        """Whether the proposed characters form text worth reading (rollouts, not single swaps)."""
        return self.kind.rollout

    @torch.no_grad()
    def observe(self, windows: torch.Tensor, activities: list[torch.Tensor]) -> None:
        """Advance the generator streams past the first of the k negatives just scored."""
        rows = windows.shape[0] // self.k
        self.bank.advance(self.model, windows[:rows], [a[:rows] for a in activities])
        self.age[:rows] += 1

    def state_dict(self) -> dict:
        bank = self.bank.state_dict() if self.bank else {"windows": None, "state": [], "logits": None}
        return {"age": self.age, **bank}

    def load_state_dict(self, data: dict) -> None:
        self.age = data["age"].cpu()
        self.bank = StreamState.from_state_dict(data, self.model.device) if data["windows"] is not None else None
