"""Sweeps on a real two-node Ray cluster on this machine (loopback only): a node killed mid-sweep
loses nothing, and the table equals the local executor's."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'charff[ray]'")

GRID = """
description = "ray sweep"
seeds = [0, 1]
[base.model]
hidden = [16]
[base.train]
chars = 6_000
streams = 2
eval_every = 400
eval_goodness_chars = 64
[grid]
"train.lr" = [0.003]
"""
RAY = str(Path(sys.executable).parent / "ray")
NODE = ["--num-cpus=1", "--disable-usage-stats", "--object-store-memory=80000000", "--block"]
# a dead node is noticed within seconds instead of the default half minute
QUICK_HEALTH = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "4",
                "RAY_health_check_initial_delay_ms": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([RAY, "start", *args, *NODE], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def session_members(session: int) -> list[int]:
    """Every process of a session: a node's ray start, raylet, agents and the task workers, which
    Ray moves into process groups of their own."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session:
                members.append(int(entry.name))
    return members


def stop_node(node: subprocess.Popen) -> None:
    """Kill a node and everything it started (it leads its own session), as a machine dying would."""
    deadline = time.monotonic() + 20
    while (members := session_members(node.pid)) and time.monotonic() < deadline:
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    node.wait()


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def nodes_alive(address: str, env: dict) -> int:
    probe = (f"import ray; ray.init(address='{address}', log_to_driver=False); "
             "print(sum(n['Alive'] for n in ray.nodes()))")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    return int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0


@pytest.fixture
def cluster():
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    env = {**os.environ, **QUICK_HEALTH, "RAY_TMPDIR": temp}
    port = free_port()
    address = f"127.0.0.1:{port}"
    head = start_node(["--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--include-dashboard=false",
                       f"--temp-dir={temp}"], env)
    nodes = [head]
    try:
        time.sleep(3)
        nodes.append(start_node([f"--address={address}", "--node-ip-address=127.0.0.1"], env))
        wait_until(lambda: nodes_alive(address, env) == 2, 90, "two Ray nodes")
        yield address, nodes[1], env
    finally:
        for node in reversed(nodes):
            stop_node(node)


def table(folder: Path) -> list[dict]:
    return json.loads((folder / "results.json").read_text())["rows"]


def test_a_sweep_survives_a_dead_node_and_matches_the_local_table(tmp_path, cluster):
    address, worker_node, env = cluster
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    charff = [sys.executable, "-m", "charff", "ablate", str(grid), "--yes"]
    subprocess.run([*charff, "--out", str(tmp_path / "local"), "--workers", "2"], env=env, check=True,
                   capture_output=True)
    out = tmp_path / "ray"
    sweep = subprocess.Popen([*charff, "--out", str(out), "--executor", "ray", "--address", address], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoints = [out / "lr=0.003" / f"seed{s}" / "checkpoint.pt" for s in (0, 1)]
    wait_until(lambda: all(c.exists() for c in checkpoints) or sweep.poll() is not None, 120, "both cells")
    assert not any((c.parent / "summary.json").exists() for c in checkpoints)
    stop_node(worker_node)  # one of the two running cells loses its node mid-run
    assert not session_members(worker_node.pid)
    _, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, err
    assert table(out) == table(tmp_path / "local")  # so the killed cell was run again, from its checkpoint


def test_a_missing_ray_is_one_line(tmp_path, monkeypatch, capsys):
    from charff.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    with pytest.raises(SystemExit) as exit_info:
        main(["ablate", str(grid), "--yes", "--executor", "ray", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "pip install 'charff[ray]'" in err
