"""A batch of B environments behind one interface, the unit every rollout works on.

Pure-JAX (gymnax-style) environments are batched with ``vmap``; bridges whose step cannot be
vmapped (envpool's ``.xla()``) implement the same two methods over their own pool. A
population of P learners with E environments each is ONE batch of B = P·E environments, the
learner of env b being b // E.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax


class StepResult(NamedTuple):
    """What ``BatchedEnv.step`` returns, every field with leading axis [B]."""

    obs: jax.Array          # next observation (after auto-reset where the episode ended)
    state: Any              # next env state
    reward: jax.Array       # [B] float32
    terminated: jax.Array   # [B] bool: the episode reached a terminal state
    truncated: jax.Array    # [B] bool: the episode hit its time limit
    final_obs: jax.Array    # the true successor observation (before any auto-reset)


class VmapEnv:
    """B copies of a gymnax-style environment (``reset``/``step`` with auto-reset), vmapped."""

    def __init__(self, env, env_params, num_envs: int):
        self.env, self.env_params, self.num_envs = env, env_params, int(num_envs)

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        """-> (obs [B, ...], state)."""
        keys = jax.random.split(key, self.num_envs)
        return jax.vmap(self.env.reset, in_axes=(0, None))(keys, self.env_params)

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> StepResult:
        keys = jax.random.split(key, self.num_envs)
        obs, state, reward, term, trunc, info = jax.vmap(self.env.step, in_axes=(0, 0, 0, None))(
            keys, state, action, self.env_params
        )
        return StepResult(obs, state, reward.astype("float32"), term, trunc, info["final_observation"])
