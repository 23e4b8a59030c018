"""Wall time of one PPMO meta-epoch against one direct-PPO epoch on the same data (paper: 1.15 on Centipede).

Both sides process the same transitions with the same minibatches: per learner / agent E x T
transitions (default 10 x 200), ``update_epochs`` x M minibatches of the same length (PPMO's
Appendix-A settings: minibatch 512 -> 4 minibatches of 500). P = population: PPMO samples P
learners per meta-epoch (one dataset, one critic); PPO trains P independent agents (seeds vmapped,
P actors and P critics). PPMO's extra work is sampling P learners, the one-step inner update
recomputed on every minibatch and the second-order gradient through it.

Each side runs ``--epochs`` epochs inside ONE jitted ``lax.scan`` (compiled ahead of time, one warm-up
run); the two sides' timed runs alternate ``--repeats`` times and the time is each side's best run
divided by ``--epochs``. Prints a markdown table.

    python benchmarks/ppmo_vs_ppo.py --dims 1,5 --populations 1,64
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import jax

from rlsl_jax.distill.ppmo import PPMOConfig, epoch_keys, make_meta_step
from rlsl_jax.envs import make
from rlsl_jax.rl.ppo import PPOConfig, make_seed_chunk, make_train_step


def _ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",") if v.strip()]


def compile_chunk(fn, state, keys):
    """(compiled fn, compile seconds); one warm-up run."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(state, keys).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(state, keys))
    return compiled, compile_s


def best_times(calls: list, repeats: int) -> tuple[list[float], list[float]]:
    """Best wall time and best process CPU time (all threads) of each zero-argument call, the calls
    INTERLEAVED ``repeats`` times so that a load change on a shared machine hits both sides alike.
    CPU time counts the work done, whatever else runs on the machine; wall time is what a user waits."""
    wall = [float("inf")] * len(calls)
    cpu = [float("inf")] * len(calls)
    for _ in range(repeats):
        for i, call in enumerate(calls):
            t0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(call())
            wall[i] = min(wall[i], time.perf_counter() - t0)
            cpu[i] = min(cpu[i], time.process_time() - c0)
    return wall, cpu


def bench(n_dims: int, population: int, k: int, epochs: int, repeats: int, minibatch: int) -> dict:
    env, params = make("NDCartPole-v0", num_dims=n_dims)
    key = jax.random.key(0)

    mcfg = PPMOConfig(k=k, population=population, minibatch_size=minibatch)
    init, meta_step = make_meta_step(mcfg, env, params)
    state = init(key)
    keys = epoch_keys(key, 0, epochs)
    m_fn, m_compile = compile_chunk(lambda s, ks: jax.lax.scan(meta_step, s, ks), state, keys)

    pcfg = PPOConfig(num_envs=mcfg.num_envs, rollout_steps=mcfg.rollout_steps, update_epochs=mcfg.update_epochs,
                     minibatch_size=minibatch)
    assert pcfg.num_minibatches == mcfg.num_minibatches and pcfg.minibatch_len == mcfg.minibatch_len
    init_p, step = make_train_step(pcfg, env, params)
    states = jax.vmap(init_p)(jax.random.split(key, population))
    seed_keys = jax.vmap(lambda kk: epoch_keys(kk, 0, epochs))(jax.random.split(key, population))
    chunk = make_seed_chunk(step)
    p_fn, p_compile = compile_chunk(lambda s, ks: chunk(s, ks), states, seed_keys)
    (m_run, p_run), (m_cpu, p_cpu) = best_times([lambda: m_fn(state, keys), lambda: p_fn(states, seed_keys)],
                                                 repeats)
    return {"N": n_dims, "P": population, "k": k, "transitions": population * mcfg.transitions_per_learner,
            "minibatches": f"{mcfg.update_epochs}x{mcfg.num_minibatches}x{mcfg.minibatch_len}",
            "ppmo_ms": 1000 * m_run / epochs, "ppo_ms": 1000 * p_run / epochs, "ratio": m_run / p_run,
            "ppmo_cpu_ms": 1000 * m_cpu / epochs, "ppo_cpu_ms": 1000 * p_cpu / epochs, "cpu_ratio": m_cpu / p_cpu,
            "ppmo_compile_s": m_compile, "ppo_compile_s": p_compile}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dims", type=_ints, default=[1, 5], help="cart-pole dimensions N")
    p.add_argument("--populations", type=_ints, default=[1, 64], help="P values")
    p.add_argument("--k", type=int, default=0, help="dataset size (0 = N + 1, the paper's k_min)")
    p.add_argument("--epochs", type=int, default=10, help="epochs per timed call")
    p.add_argument("--repeats", type=int, default=3, help="timed calls (best is kept)")
    p.add_argument("--minibatch-size", type=int, default=512, help="both sides (PPMO's Appendix-A 512)")
    args = p.parse_args()
    print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}), jax {jax.__version__}")
    print("| N | P | k | transitions / epoch | epochs x minibatches x len | PPMO ms / meta-epoch | "
          "PPO ms / epoch | ratio PPMO/PPO | CPU ms (PPMO / PPO) | CPU-time ratio | compile s (PPMO / PPO) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in args.dims:
        for pop in args.populations:
            r = bench(n, pop, args.k or n + 1, args.epochs, args.repeats, args.minibatch_size)
            print(f"| {r['N']} | {r['P']} | {r['k']} | {r['transitions']:,} | {r['minibatches']} | {r['ppmo_ms']:.1f} | "
                  f"{r['ppo_ms']:.1f} | **{r['ratio']:.2f}** | {r['ppmo_cpu_ms']:.1f} / {r['ppo_cpu_ms']:.1f} | "
                  f"**{r['cpu_ratio']:.2f}** | {r['ppmo_compile_s']:.1f} / {r['ppo_compile_s']:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
