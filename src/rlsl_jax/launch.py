"""Multi-host launcher: ``jax.distributed.initialize()`` first, then any experiment CLI.

``jax.distributed.initialize`` must run before anything touches the XLA backend, and importing
the experiments (gymnax, envpool, brax) does. So the launcher initialises JAX's distributed
runtime and then runs the experiment module in the same process:

    python -m rlsl_jax.launch [--coordinator HOST:PORT --num-processes N --process-id I] \\
        rlsl_jax.experiments.cartpole --devices 0 --dims 5 --k 6 --population 64 --out runs/c5

Without --coordinator, JAX reads the cluster from SLURM (``srun``) or its coordinator
environment. Only process 0 writes logs, progress bars and summaries; orbax coordinates
checkpoint writes; every process must see the same --out (a shared file system).
"""

from __future__ import annotations

import argparse
import runpy
import sys


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.launch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--coordinator", default=None, help="host:port of process 0 (default: from SLURM/env)")
    p.add_argument("--num-processes", type=int, default=None, help="number of processes (with --coordinator)")
    p.add_argument("--process-id", type=int, default=None, help="this process's id, 0-based (with --coordinator)")
    p.add_argument("module", help="experiment module to run, e.g. rlsl_jax.experiments.cartpole")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the experiment's own flags")
    a = p.parse_args(argv)
    if not a.module.startswith("rlsl_jax.experiments."):
        p.error(f"module must be one of rlsl_jax.experiments.* (got {a.module!r})")

    from rlsl_jax.parallel import initialize_distributed

    kw = {k: v for k, v in (("coordinator_address", a.coordinator), ("num_processes", a.num_processes),
                            ("process_id", a.process_id)) if v is not None}
    initialize_distributed(**kw)
    sys.argv = [a.module, *a.args]
    runpy.run_module(a.module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
