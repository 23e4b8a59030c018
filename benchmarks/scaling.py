"""Scaling over devices: PPMO meta-epoch time and k-shot learners/s on D = 1, 2, 4, 8 devices.

    XLA_FLAGS=--xla_force_host_platform_device_count=8 JAX_PLATFORMS=cpu \\
        PYTHONPATH=src python3 benchmarks/scaling.py                      # simulated CPU devices
    PYTHONPATH=src python3 benchmarks/scaling.py --devices 1              # one GPU

One process; a 1-D mesh over the first D devices (``rlsl_jax.parallel.make_mesh``), the PPMO
population / env batch and the k-shot learners sharded along it, θ and the critic replicated.
Strong scaling: the global sizes stay fixed (P = --population, M = --learners) while D grows.
Weak scaling: the per-device sizes stay fixed (P = --population-per-device · D, M =
--learners-per-device · D). Meta-epoch: 1-D cart-pole, E envs × T steps per learner; the time is
the best of --repeats runs of one jitted chunk of --chunk meta-epochs, divided by --chunk
(compile excluded). k-shot: one jitted ``kshot_returns`` call on the authors' 1-D k=2 dataset
(every learner balances for 500 steps), sampled actions, learners/s = M / best run time.

Simulated CPU devices (``--xla_force_host_platform_device_count``) split ONE host's cores: they
show that the sharded program is correct and what partitioning costs (collectives, per-device
overheads), not a speed-up beyond the cores the host has.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "refdata" / "ndcartpole_1d_k2.npz"


def best_of(fn, repeats: int) -> float:
    import jax

    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", default="1,2,4,8", help="comma-separated D (each <= the device count)")
    p.add_argument("--population", type=int, default=8, help="strong scaling: global PPMO population P")
    p.add_argument("--population-per-device", type=int, default=2, help="weak scaling: P per device")
    p.add_argument("--learners", type=int, default=512, help="strong scaling: global k-shot learners M")
    p.add_argument("--learners-per-device", type=int, default=64, help="weak scaling: M per device")
    p.add_argument("--num-envs", type=int, default=4, help="envs per learner (E)")
    p.add_argument("--rollout-steps", type=int, default=100, help="rollout steps (T)")
    p.add_argument("--chunk", type=int, default=5, help="meta-epochs per timed jitted chunk")
    p.add_argument("--repeats", type=int, default=3, help="timed runs (best reported)")
    args = p.parse_args(argv)

    import jax
    import jax.numpy as jnp

    from rlsl_jax.checkpoint import load_dataset
    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.distill import PPMOConfig, epoch_keys, make_chunk, make_meta_step
    from rlsl_jax.envs import make
    from rlsl_jax.evaluate import kshot_returns
    from rlsl_jax.networks import cartpole_learner
    from rlsl_jax.parallel import make_mesh

    configure_cpu()
    ds_list = [int(s) for s in args.devices.split(",") if s.strip()]
    if max(ds_list) > len(jax.devices()):
        p.error(f"--devices {args.devices}: only {len(jax.devices())} devices (set XLA_FLAGS="
                f"--xla_force_host_platform_device_count=8 for simulated CPU devices)")
    env, params = make("NDCartPole-v0", num_dims=1)
    learner = cartpole_learner(4, 2)
    ds, _ = load_dataset(DATASET)
    ds = jax.tree.map(jnp.asarray, ds)

    def meta_epoch_s(P: int, D: int) -> float:
        mesh = make_mesh(D) if D > 1 else None
        cfg = PPMOConfig(k=2, population=P, num_envs=args.num_envs, rollout_steps=args.rollout_steps,
                         minibatch_size=args.num_envs * args.rollout_steps // 4)
        init, step = make_meta_step(cfg, env, params, learner, mesh=mesh)
        chunk = make_chunk(step)
        state = init(jax.random.key(0))
        keys = epoch_keys(jax.random.key(1), 0, args.chunk)
        compiled = chunk.lower(state, keys).compile()
        jax.block_until_ready(compiled(state, keys))
        return best_of(lambda: compiled(state, keys), args.repeats) / args.chunk

    def learners_per_s(M: int, D: int) -> float:
        mesh = make_mesh(D) if D > 1 else None
        f = kshot_returns.lower(jax.random.key(2), ds, env, params, learner, M, 1, 500, jnp.asarray(False),
                                mesh).compile()
        jax.block_until_ready(f(jax.random.key(2), ds, params, jnp.asarray(False)))
        return M / best_of(lambda: f(jax.random.key(2), ds, params, jnp.asarray(False)), args.repeats)

    dev = jax.devices()[0]
    print(f"# {len(jax.devices())} x {dev.platform} devices ({dev.device_kind}), jax {jax.__version__}")
    print("\n| D | strong: P | meta-epoch s | speed-up | weak: P | meta-epoch s | efficiency |")
    print("|---|---|---|---|---|---|---|")
    base_s = base_w = None
    for D in ds_list:
        s = meta_epoch_s(args.population, D)
        w = meta_epoch_s(args.population_per_device * D, D)
        base_s, base_w = base_s or s, base_w or w
        print(f"| {D} | {args.population} | {s:.3f} | {base_s / s:.2f} | {args.population_per_device * D} | "
              f"{w:.3f} | {base_w / w:.2f} |", flush=True)
    print("\n| D | strong: M | learners/s | speed-up | weak: M | learners/s | per-device efficiency |")
    print("|---|---|---|---|---|---|---|")
    base_s = base_w = None
    for D in ds_list:
        s = learners_per_s(args.learners, D)
        w = learners_per_s(args.learners_per_device * D, D)
        base_s, base_w = base_s or s, base_w or w
        print(f"| {D} | {args.learners} | {s:.0f} | {s / base_s:.2f} | {args.learners_per_device * D} | {w:.0f} | "
              f"{w / (D * base_w):.2f} |", flush=True)


if __name__ == "__main__":
    main()
