"""Multi-device and multi-host execution through JAX's own machinery (no home-made engine).

One 1-D device mesh with axis ``"batch"`` spans every device of every process. Whatever has a
leading population/learner/env axis (learner initialisations, env states, rollouts, k-shot
learners) is sharded along it; the dataset, critic and optimiser states are replicated; the
meta-gradient, a mean over all learners, becomes a cross-device all-reduce inserted by XLA
(GSPMD). Random numbers are drawn with ``jax_threefry_partitionable`` (JAX's default since 0.5), so
a run gives the same numbers on 1 and on D devices for the same seed and global sizes. With that
flag OFF, jax.random draws DIFFERENT bits for a sharded array than for the same array on one
device (measured: 1 vs 4 simulated CPU devices give different learners and different sampled
actions), so ``make_mesh`` refuses to build a multi-device mesh then.

Multi-host: ``initialize_distributed()`` (the CLIs' ``--distributed`` flag) must run before any
JAX computation; ``jax.distributed.initialize()`` reads the cluster from SLURM / the
coordinator environment unless --coordinator/--num-processes/--process-id are given. Importing
``rlsl_jax.experiments`` under ``python -m rlsl_jax.experiments.X --distributed`` calls
``initialize_from_argv`` first (before gymnax/envpool are imported); ``python -m rlsl_jax.launch``
does the same for any module. Only process 0 writes logs and progress bars
(``is_main_process``); orbax coordinates checkpoint writes across processes itself.
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
    if n > 1 and not jax.config.jax_threefry_partitionable:
        raise ValueError("a multi-device mesh needs jax_threefry_partitionable=True (JAX's default; it is off "
                         "here): without it random numbers depend on the sharding")
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
    """``jax.distributed.initialize(**kwargs)`` (reads SLURM / coordinator env when no kwargs);
    a no-op when already initialised. CPU processes exchange collectives through gloo (JAX's CPU
    implementation)."""
    if jax.distributed.is_initialized():
        return
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(**kwargs)


DIST_FLAGS = {"--coordinator": ("coordinator_address", str), "--num-processes": ("num_processes", int),
              "--process-id": ("process_id", int)}


def distributed_kwargs(argv: list[str]) -> dict | None:
    """``jax.distributed.initialize`` kwargs from the CLI flags in ``argv`` (``--coordinator H:P``,
    ``--num-processes N``, ``--process-id I``, also as ``--flag=value``); None if a value is
    missing or malformed (the CLI's own parser then reports it)."""
    kw = {}
    for i, a in enumerate(argv):
        name, eq, val = a.partition("=")
        if name not in DIST_FLAGS:
            continue
        if not eq:
            if i + 1 >= len(argv):
                return None
            val = argv[i + 1]
        key, typ = DIST_FLAGS[name]
        try:
            kw[key] = typ(val)
        except ValueError:
            return None
    return kw


def initialize_from_argv(argv: list[str]) -> bool:
    """Initialises JAX's distributed runtime if ``argv`` holds ``--distributed`` (and no --help):
    called by ``rlsl_jax.experiments/__init__`` BEFORE the CLI module imports gymnax/envpool (which
    touch the XLA backend). Returns whether it initialised."""
    if "--distributed" not in argv or "-h" in argv or "--help" in argv:
        return False
    kw = distributed_kwargs(argv)
    if kw is None:
        return False
    initialize_distributed(**kw)
    return True


def is_main_process() -> bool:
    return jax.process_index() == 0
