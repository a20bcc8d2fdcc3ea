"""Cells as Ray tasks: on an embedded local Ray, or on a running cluster (`--address HOST:PORT`).

Every node must see the sweep's output folder at the same path (shared storage): a cell's run
directory is its state. A task whose node dies is retried by Ray, and the retry continues the
cell from its last checkpoint, as a rerun of the same command would.

Without --address charff always starts its own Ray (never the cluster that Ray's temp directory
last recorded, which may be dead or someone else's), on a loopback address. With --address a
cluster that does not answer within CONNECT_TIMEOUT_S is one line, never a hang: Ray's own
connect retries for ever.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable

from charff.errors import CharffError
from charff.sweep.grid import Cell

RETRIES = 3  # times Ray reruns a cell whose worker or node died
CONNECT_TIMEOUT_S = 30.0
# Ray replaces 127.0.0.1 and localhost by the machine's interface address; any other loopback
# address it keeps, so a local Ray (and a one-machine cluster) stays on loopback
LOOPBACK = "127.0.0.2"
PROBE = "import sys, ray; ray.init(address=sys.argv[1], log_to_driver=False, configure_logging=False)"
RECIPE = (f"start every node with --node-ip-address (on one machine {LOOPBACK}, since Ray rewrites 127.0.0.1 to "
          "the interface address) and pass that address")


def import_ray():
    try:
        import ray
    except ImportError:
        raise CharffError("--executor ray needs Ray; install it with: pip install 'charff[ray]'") from None
    return ray


def host_and_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise CharffError(f"--address {address!r} is not HOST:PORT; give the head's address, e.g. {LOOPBACK}:6379")
    return host.strip("[]"), int(port)


def check_cluster(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse, in one line and within timeout_s, a cluster address that does not answer as Ray.

    A closed port fails at once; anything else is tried by a throwaway Ray driver in a child
    process that is killed at the deadline, because Ray's connect never gives up on its own."""
    host, port = host_and_port(address)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as err:
        raise CharffError(f"cannot reach a Ray cluster at {address} ({err.strerror or err}); start one with "
                          f"`ray start --head`, {RECIPE}, or drop --address for a local Ray") from None
    try:
        probe = subprocess.run([sys.executable, "-c", PROBE, address], capture_output=True, text=True,
                               timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise CharffError(f"no Ray cluster answered at {address} within {timeout_s:g} s; check the address "
                          f"({RECIPE}) or drop --address for a local Ray") from None
    if probe.returncode != 0:
        if "AuthToken" in probe.stderr or "uthentication" in probe.stderr:
            raise CharffError(f"the Ray cluster at {address} refused charff's credentials: give every node and "
                              "charff the same RAY_AUTH_MODE and token (RAY_AUTH_TOKEN, or ~/.ray/auth_token from "
                              "`ray get-auth-token --generate`), or RAY_AUTH_MODE=disabled on all of them on a "
                              "trusted network")
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        raise CharffError(f"cannot connect to the Ray cluster at {address}: {last}")


def start_ray(ray, address: str | None) -> None:
    options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address is None:
        ray.init(address="local", _node_ip_address=LOOPBACK, **options)
        return
    try:  # run_sweep has checked the address (check_cluster) before measuring this machine's speed
        ray.init(address=address, **options)
    except ConnectionError as err:
        raise CharffError(f"cannot reach a Ray cluster at {address}: {err}; {RECIPE}") from None


def ray_cell(cell: Cell, threads: int) -> str:
    """The task: one cell to the end (continuing from its checkpoint if it has one)."""
    import torch

    from charff.sweep.runner import run_cell

    torch.set_num_threads(threads)
    run_cell(cell)
    return cell.name


def run_on_ray(cells: list[Cell], on_done: Callable[[Cell], None], address: str | None,
               cpus_per_cell: int, gpus_per_cell: float) -> None:
    """Run the cells as Ray tasks, each declaring its CPUs (its torch threads) and GPUs."""
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        start_ray(ray, address)
    task = ray.remote(num_cpus=cpus_per_cell, num_gpus=gpus_per_cell, max_retries=RETRIES)(ray_cell)
    running = {task.remote(cell, cpus_per_cell): cell for cell in cells}
    try:
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            cell = running.pop(done[0])
            try:
                ray.get(done[0])
            except ray.exceptions.RayError as err:
                raise CharffError(f"cell {cell.name} seed {cell.seed} failed on Ray: {str(err).splitlines()[0]}; "
                                  "rerun the same command to resume the unfinished cells") from None
            on_done(cell)
    finally:
        for ref in running:
            ray.cancel(ref)
        if started_here:
            ray.shutdown()
