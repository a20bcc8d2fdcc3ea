"""The thread policy: torch uses the cores other processes leave free, and the numbers do not
depend on how many threads computed them."""

from __future__ import annotations

import json

import pytest
import torch

from charff import threads
from charff.run import finish_run, start_run
from tests.conftest import tiny_config


@pytest.mark.parametrize(("free", "most", "expected"), [
    (2.0, 2, 2), (1.9, 2, 2), (1.75, 2, 2), (1.5, 2, 1), (1.0, 2, 1), (0.2, 2, 1), (8.0, 4, 4), (2.0, 1, 1)])
def test_threads_are_the_free_cores_within_the_cap(free, most, expected):
    assert threads.threads_for(free, most) == expected


def test_the_governor_follows_another_process_on_and_off_a_core(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        governor = threads.ThreadGovernor()
        governor.choose(others=1.0)  # a busy loop holds one core
        assert torch.get_num_threads() == 1
        governor.choose(others=0.05)  # it stopped
        assert torch.get_num_threads() == 2
        assert governor.chosen == [1, 2]
    finally:
        torch.set_num_threads(before)


def test_a_run_gives_the_same_numbers_on_one_thread_and_on_two(tmp_path):
    before = torch.get_num_threads()
    logs = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            trainer = start_run(tiny_config(chars=2_000, eval_every=1_000), tmp_path / f"t{n}")
            trainer.hooks = [h for h in trainer.hooks if not isinstance(h, threads.ThreadGovernor)]
            trainer.run()
            finish_run(trainer)
            records = [json.loads(line) for line in (tmp_path / f"t{n}" / "metrics.jsonl").read_text().splitlines()]
            logs.append([{k: v for k, v in r.items() if "second" not in k} for r in records])
    finally:
        torch.set_num_threads(before)
    assert logs[0] == logs[1]
