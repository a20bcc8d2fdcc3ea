"""Sweeps on Ray as users run them: a real two-node cluster on this machine (loopback only, token
authentication) where a node killed mid-sweep loses nothing and the table equals the local
executor's; a stale cluster file never attached to; an address that does not answer refused in time."""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'charff[ray]'")

from charff.errors import CharffError  # noqa: E402
from charff.sweep.ray_executor import LOOPBACK, check_cluster  # noqa: E402

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
        s.bind((LOOPBACK, 0))
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


def loopback_env(temp: str) -> dict:
    """A Ray of its own: its own temp directory, token authentication with a fresh token, and no
    address inherited from the environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH")}
    return {**env, **QUICK_HEALTH, "RAY_TMPDIR": temp, "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(16)}


def node_addresses(address: str, env: dict) -> list[str]:
    probe = (f"import ray; ray.init(address='{address}', log_to_driver=False); "
             "print(' '.join(n['NodeManagerAddress'] for n in ray.nodes() if n['Alive']))")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    return out.stdout.strip().splitlines()[-1].split() if out.returncode == 0 and out.stdout.strip() else []


@pytest.fixture
def cluster():
    """A head and a second node on one machine, on loopback only, as the README's recipe starts them."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    env = loopback_env(temp)
    port = free_port()
    address = f"{LOOPBACK}:{port}"
    on_loopback = f"--node-ip-address={LOOPBACK}"
    head = start_node(["--head", f"--port={port}", on_loopback, "--include-dashboard=false", f"--temp-dir={temp}"],
                      env)
    nodes = [head]
    try:
        time.sleep(3)
        if head.poll() is not None:
            pytest.skip(f"this machine cannot start a Ray head on {LOOPBACK} (ray start exited {head.returncode})")
        nodes.append(start_node([f"--address={address}", on_loopback], env))
        try:
            wait_until(lambda: len(node_addresses(address, env)) == 2, 90, "two Ray nodes")
        except AssertionError:
            pytest.skip("this machine cannot run a two-node Ray cluster on loopback: the second node never joined")
        yield address, nodes[1], env, Path(temp)
    finally:
        for node in reversed(nodes):
            stop_node(node)


def table(folder: Path) -> list[dict]:
    return json.loads((folder / "results.json").read_text())["rows"]


def test_a_sweep_survives_a_dead_node_and_matches_the_local_table(tmp_path, cluster):
    address, worker_node, env, temp = cluster
    assert node_addresses(address, env) == [LOOPBACK, LOOPBACK]  # every node registered on loopback
    raylet_logs = "".join(p.read_text() for p in temp.glob("session_latest/logs/raylet*.out"))
    assert raylet_logs.count(f"node_manager address: {LOOPBACK}:") == 2
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


def run_charff(args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "charff", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_without_an_address_a_stale_cluster_file_is_never_attached(tmp_path):
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    (Path(temp) / "ray_current_cluster").write_text(f"{LOOPBACK}:{free_port()}")  # a cluster that died
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    done = run_charff(["ablate", str(grid), "--yes", "--executor", "ray", "--out", str(tmp_path / "out")],
                      loopback_env(temp), timeout=240)  # before, this hung for ever
    assert done.returncode == 0, done.stderr
    assert all((tmp_path / "out" / "lr=0.003" / f"seed{s}" / "summary.json").exists() for s in (0, 1))


def test_an_address_where_nothing_listens_is_one_line_at_once(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    started = time.monotonic()
    done = run_charff(["ablate", str(grid), "--yes", "--executor", "ray", "--address", f"{LOOPBACK}:{free_port()}",
                       "--out", str(tmp_path / "out")], loopback_env(str(tmp_path)), timeout=60)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "cannot reach a Ray cluster" in done.stderr and time.monotonic() - started < 30
    assert not (tmp_path / "out").exists()


def test_a_cluster_that_never_answers_is_refused_at_the_deadline():
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never speaks
        silent.bind((LOOPBACK, 0))
        silent.listen(8)
        address = f"{LOOPBACK}:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(CharffError, match="no Ray cluster answered"):
            check_cluster(address, timeout_s=5)
        assert time.monotonic() - started < 15
