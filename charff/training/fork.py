"""Forks: a run that continues another run's finished state (`train.fork_from`), so the arms of a
sweep share one warm start instead of each training its own, and differ only after the fork.

Everything that shapes what follows carries over: weights, optimizer state (momentum buffers),
the streams' positions, recurrent state, the negative generators and the random streams, so the
arms of one seed see the same text and the same random numbers. The arm's own hyperparameters
(momentum, learning rates, schedule) apply from the fork on, and it counts characters from 0.
"""

from __future__ import annotations

from pathlib import Path

from charff.config import Config, config_from_dict, flatten
from charff.data.vocab import Vocabulary
from charff.errors import CharffError
from charff.rundir import is_finished
from charff.training.checkpoint import load_checkpoint

# what must match for the trunk's state to mean the same thing in the arm
SHARED = ("corpus.", "model.", "train.streams", "train.learner", "train.optimizer", "train.negatives",
          "train.negatives_per_position", "train.seed")
# what an arm may change at the fork although it sits under a shared prefix: how the learning rule
# treats the same weights (its loss and peer normalisation), not what the weights mean
RULE_KEYS = ("model.loss", "model.threshold", "model.symba_alpha", "model.band", "model.clip_margin",
             "model.peer_windows", "model.peer_normalisation")


def fork_payload(config: Config, vocab: Vocabulary) -> dict:
    """The trunk's checkpoint, checked to be finished and compatible with this config."""
    trunk = Path(config.train.fork_from)
    if not is_finished(trunk):
        raise CharffError(f"train.fork_from {trunk} is not a finished run; finish it first "
                          f"(charff train --resume {trunk})")
    payload = load_checkpoint(trunk)
    mine, theirs = flatten(config.to_dict()), flatten(config_from_dict(payload["config"]).to_dict())
    differ = [k for k in mine if k.startswith(SHARED) and k not in RULE_KEYS and mine[k] != theirs.get(k)]
    if differ:
        raise CharffError(f"train.fork_from {trunk} was trained with other {', '.join(differ)}; "
                          "a fork must keep the corpus, model, streams, negatives and seed of its trunk")
    if Vocabulary.from_dict(payload["vocab"]) != vocab:
        raise CharffError(f"the corpus behind train.fork_from {trunk} changed since it was trained; retrain it")
    return payload
