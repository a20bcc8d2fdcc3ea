"""Cells as Ray tasks: on an embedded local Ray, or on a running cluster (`--address HOST:PORT`).

Every node must see the sweep's output folder at the same path (shared storage): a cell's run
directory is its state. A task whose node dies is retried by Ray, and the retry continues the
cell from its last checkpoint, as a rerun of the same command would.
"""

from __future__ import annotations

from collections.abc import Callable

from charff.errors import CharffError
from charff.sweep.grid import Cell

RETRIES = 3  # times Ray reruns a cell whose worker or node died


def import_ray():
    try:
        import ray
    except ImportError:
        raise CharffError("--executor ray needs Ray; install it with: pip install 'charff[ray]'") from None
    return ray


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
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except ConnectionError as err:
            raise CharffError(f"cannot reach a Ray cluster at {address}: {err}; start one with "
                              "`ray start --head` or drop --address for a local Ray") from None
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
