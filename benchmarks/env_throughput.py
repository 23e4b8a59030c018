"""Env throughput: random-policy steps/s of NDCartPole (N = 1..5) and gymnax CartPole-v1.

B envs are vmapped inside one jitted ``lax.scan`` of T steps (auto-reset ``env.step``, a fresh
key per env per step, uniform random actions), i.e. the way rollouts use the env. Prints a
markdown table. Example:

    python benchmarks/env_throughput.py --envs 4096 --steps 1000 --dims 1,2,3,4,5
"""

import argparse
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp

from rlsl_jax.envs import make


def make_runner(env, params, num_envs: int, num_steps: int) -> Callable[[jax.Array], jax.Array]:
    """Jitted fn(key) -> total reward [] of ``num_steps`` random steps in ``num_envs`` envs."""
    n_act = env.action_space(params).n
    v_reset = jax.vmap(env.reset, in_axes=(0, None))
    v_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    @jax.jit
    def run(key: jax.Array) -> jax.Array:
        key, k = jax.random.split(key)
        _, state = v_reset(jax.random.split(k, num_envs), params)

        def body(carry, key):
            state, total = carry
            k_act, k_step = jax.random.split(key)
            action = jax.random.randint(k_act, (num_envs,), 0, n_act)
            keys = jax.random.split(k_step, num_envs)
            _, state, reward, *_ = v_step(keys, state, action, params)
            return (state, total + reward.sum()), None

        init = (state, jnp.float32(0))
        (_, total), _ = jax.lax.scan(body, init, jax.random.split(key, num_steps))
        return total

    return run


def bench(env_id: str, kwargs: dict, num_envs: int, num_steps: int, repeats: int) -> tuple:
    """Returns (compile+first-run seconds, best run seconds, steps/s)."""
    env, params = make(env_id, **kwargs)
    run = make_runner(env, params, num_envs, num_steps)
    t0 = time.perf_counter()
    jax.block_until_ready(run(jax.random.key(0)))
    compile_s = time.perf_counter() - t0
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(run(jax.random.key(r + 1)))
        times.append(time.perf_counter() - t0)
    run_s = min(times)
    return compile_s, run_s, num_envs * num_steps / run_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=4096, help="parallel envs B")
    parser.add_argument("--steps", type=int, default=1000, help="scan length T")
    parser.add_argument("--dims", default="1,2,3,4,5", help="comma-separated N values")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    args = parser.parse_args()

    print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}")
    print("| env | N | envs | steps | compile s | run s | M steps/s | ratio vs N=1 |")
    print("|---|---|---|---|---|---|---|---|")
    cases = [("NDCartPole-v0", {"num_dims": int(n)}) for n in args.dims.split(",")]
    cases.append(("CartPole-v1", {}))
    base = None
    for env_id, kw in cases:
        c, r, sps = bench(env_id, kw, args.envs, args.steps, args.repeats)
        n = kw.get("num_dims", 1)
        if base is None and env_id == "NDCartPole-v0" and n == 1:
            base = sps
        ratio = f"{sps / base:.2f}" if base else "-"
        name = env_id if env_id == "NDCartPole-v0" else f"{env_id} (gymnax)"
        print(f"| {name} | {n} | {args.envs} | {args.steps} | {c:.2f} | {r:.3f} | "
              f"{sps / 1e6:.2f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
