"""k-shot evaluation: train many fresh learners on θ with ONE SGD step each, run them, score them.

All learners of one architecture train and act in one vmapped, jitted call; an episode runs
to termination or the env's step cap (500 for cart-pole) inside a ``lax.scan``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax.distill.dataset import Dataset
from rlsl_jax.distill.inner import inner_step
from rlsl_jax.networks.learners import LearnerDist


def episode_return(key: jax.Array, env, env_params, policy, max_steps: int, greedy: bool) -> jax.Array:
    """Return of ONE episode of ``policy(obs) -> logits`` (sampled or argmax actions).

    Runs ``max_steps`` steps; rewards after the first termination/truncation are ignored.
    """
    k_reset, k_run = jax.random.split(key)
    obs, state = env.reset(k_reset, env_params)

    def body(c, k):
        obs, state, alive, ret = c
        k_act, k_env = jax.random.split(k)
        logits = policy(obs)
        action = jnp.argmax(logits, -1) if greedy else jax.random.categorical(k_act, logits)
        obs, state, reward, term, trunc, _ = env.step(k_env, state, action, env_params)
        ret = ret + jnp.where(alive, reward, 0.0)
        alive = alive & ~(term | trunc)
        return (obs, state, alive, ret), None

    (_, _, _, ret), _ = jax.lax.scan(body, (obs, state, jnp.array(True), jnp.zeros(())),
                                     jax.random.split(k_run, max_steps))
    return ret


@functools.partial(jax.jit, static_argnames=("env", "learner", "num_learners", "episodes", "max_steps", "greedy"))
def kshot_returns(key: jax.Array, ds: Dataset, env, env_params, learner: LearnerDist, num_learners: int,
                  episodes: int = 1, max_steps: int = 500, greedy: bool = False) -> jax.Array:
    """Samples ``num_learners`` learners from ``learner``, trains each by one SGD step on ``ds``
    and returns their episode returns [num_learners, episodes]."""
    k_init, k_eval = jax.random.split(key)
    phi = learner.sample(k_init, num_learners)
    phi1 = jax.vmap(lambda p: inner_step(learner.apply, p, ds))(phi)

    def one(k, p):
        keys = jax.random.split(k, episodes)
        return jax.vmap(lambda kk: episode_return(kk, env, env_params, lambda o: learner.apply(p, o),
                                                  max_steps, greedy))(keys)

    return jax.vmap(one)(jax.random.split(k_eval, num_learners), phi1)


def evaluate(key: jax.Array, ds: Dataset, env, env_params, learner: LearnerDist, num_learners: int = 1000,
             episodes: int = 1, greedy: bool = False, chunk: int = 1000) -> dict[str, Any]:
    """k-shot score of ``ds``: mean ± std over ``num_learners`` fresh learners (chunks of ``chunk``)."""
    max_steps = int(getattr(env_params, "max_steps_in_episode", 500))
    ds = jax.tree.map(jnp.asarray, ds)
    out = []
    for i, start in enumerate(range(0, num_learners, chunk)):
        n = min(chunk, num_learners - start)
        out.append(np.asarray(kshot_returns(jax.random.fold_in(key, i), ds, env, env_params, learner, n,
                                            episodes, max_steps, greedy)))
    returns = np.concatenate(out, 0)
    per_learner = returns.mean(1)
    return {"mean": float(per_learner.mean()), "std": float(per_learner.std()), "n": int(num_learners),
            "returns": per_learner.tolist(), "greedy": bool(greedy)}
