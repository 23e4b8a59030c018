"""k-shot throughput: fresh learners sampled + trained (one SGD step) + evaluated (one episode) per
second, M learners in ONE jitted, vmapped call (``rlsl_jax.evaluate.kshot_returns``).

    PYTHONPATH=src python3 benchmarks/kshot_throughput.py                 # M = 1, 100, 1000, 10000
    PYTHONPATH=src python3 benchmarks/kshot_throughput.py --learners 1000,4096 --repeats 5

Default dataset: the paper authors' 1-D k=2 cart-pole dataset (../shared/refdata), on which every
Λ learner balances for the full 500 steps, so every episode is 500 steps long ("1-D, 500-step
episodes"). The compile time is measured ahead of time (``lower().compile()``), then the compiled
call is timed ``--repeats`` times (best reported; M >= 10000 runs once). Learners/s = M / run s;
env steps/s counts the steps actually taken (sum of returns).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = REPO.parent / "shared" / "refdata" / "ndcartpole_1d_k2.npz"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--learners", default="1,100,1000,10000", help="comma-separated M")
    p.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="dataset (default: authors' 1-D k=2)")
    p.add_argument("--dims", type=int, default=1, help="N of the N-D cart-pole")
    p.add_argument("--dist", default="ortho", help="learner distribution (fixed-shape)")
    p.add_argument("--greedy", action="store_true", help="argmax actions (default: sampled, the paper's)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per M (best reported)")
    args = p.parse_args(argv)
    ms = [int(s) for s in args.learners.split(",") if s.strip()]
    if not ms or min(ms) < 1 or args.repeats < 1:
        p.error("--learners must be positive integers and --repeats >= 1")

    import jax
    import jax.numpy as jnp
    import numpy as np

    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.envs import make
    from rlsl_jax.evaluate import kshot_returns, load_dataset_for_env, max_steps_of
    from rlsl_jax.report import machine_info
    from rlsl_jax.networks import make_learner_dist

    configure_cpu()
    env, env_params = make("NDCartPole-v0", num_dims=args.dims)
    if not args.dataset.exists():
        sys.exit(f"dataset {args.dataset} not found (pass --dataset)")
    ds, _ = load_dataset_for_env(args.dataset, env, env_params)
    ds = jax.tree.map(jnp.asarray, ds)
    learner = make_learner_dist(args.dist, 4 * args.dims, 2 * args.dims)
    if not hasattr(learner, "sample"):
        sys.exit(f"{args.dist} has no fixed shape; pick a fixed-shape distribution")
    T = max_steps_of(env_params)
    greedy = jnp.asarray(args.greedy)
    info = machine_info()
    print(f"# k-shot throughput: {args.dataset.name}, N={args.dims}, {args.dist}, "
          f"{'greedy' if args.greedy else 'sampled'} actions, cap {T} steps; {info['processor']} "
          f"({info['cpu_count']} cores), {info['backend']}, jax {info['jax']}, {info['date_utc']}", flush=True)
    print("| M learners | compile s | run s | learners/s | env steps/s | mean return |")
    print("|---|---|---|---|---|---|")
    for m in ms:
        key = jax.random.key(m)
        t = time.perf_counter()
        compiled = kshot_returns.lower(key, ds, env, env_params, learner, m, 1, T, greedy).compile()
        compile_s = time.perf_counter() - t
        best, rets = float("inf"), None
        for r in range(1 if m >= 10000 else args.repeats):
            k = jax.random.fold_in(key, r)
            t = time.perf_counter()
            rets = jax.block_until_ready(compiled(k, ds, env_params, greedy))
            best = min(best, time.perf_counter() - t)
        rets = np.asarray(rets)
        print(f"| {m} | {compile_s:.2f} | {best:.3f} | {m / best:,.0f} | {rets.sum() / best:,.0f} | "
              f"{rets.mean():.1f} |", flush=True)


if __name__ == "__main__":
    main()
