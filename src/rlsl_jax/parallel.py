"""Multi-device and multi-host execution through JAX's own machinery (no home-made engine).

One 1-D device mesh with axis ``"batch"`` spans every device of every process. Whatever has a
leading population/learner/env axis (learner initialisations, env states, rollouts, k-shot
learners) is sharded along it; the dataset, critic and optimiser states are replicated; the
meta-gradient, a mean over all learners, becomes a cross-device all-reduce inserted by XLA
(GSPMD). Random numbers are drawn with ``jax_threefry_partitionable`` (JAX's default), so
a run gives the same numbers on 1 and on D devices for the same seed and global sizes.

Multi-host: call ``initialize_distributed()`` (the CLIs' ``--distributed`` flag) before any
other JAX call; ``jax.distributed.initialize()`` reads the cluster from SLURM / the
coordinator environment. Only process 0 writes logs and progress bars (``is_main_process``);
orbax coordinates checkpoint writes across processes itself.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "batch"


def make_mesh(num_devices: int | None = None) -> Mesh:
    """A 1-D mesh over the first ``num_devices`` global devices (default: all of them)."""
    devices = jax.devices()
    n = len(devices) if num_devices is None else int(num_devices)
    if not 1 <= n <= len(devices):
        raise ValueError(f"num_devices must be in 1..{len(devices)} (got {num_devices})")
    return Mesh(np.array(devices[:n]), (AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def check_divisible(size: int, mesh: Mesh | None, what: str) -> None:
    if mesh is not None and size % mesh.size:
        raise ValueError(f"{what} ({size}) must be a multiple of the number of devices ({mesh.size})")


def constrain_batch(tree: Any, mesh: Mesh | None) -> Any:
    """Inside jit: shard every leaf of ``tree`` along its leading axis (no-op without a mesh)."""
    if mesh is None:
        return tree
    s = batch_sharding(mesh)
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, s) if np.ndim(x) else x, tree)


def constrain_replicated(tree: Any, mesh: Mesh | None) -> Any:
    if mesh is None:
        return tree
    s = replicated(mesh)
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, s), tree)


def initialize_distributed(**kwargs) -> None:
    """``jax.distributed.initialize(**kwargs)`` (reads SLURM / coordinator env when no kwargs).
    CPU processes exchange collectives through gloo (JAX's CPU implementation)."""
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(**kwargs)


def is_main_process() -> bool:
    return jax.process_index() == 0
