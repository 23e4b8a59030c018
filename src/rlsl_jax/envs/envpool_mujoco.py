"""envpool MuJoCo (gymnasium's v4 tasks, the paper's Table 3) as a batched env that runs inside ``jax.jit``.

    benv, _ = rlsl_jax.envs.make("envpool/Hopper-v4", num_envs=P * E)
    obs, state = benv.reset(key)                      # host call, outside jit: obs float32 [B, obs_dim]
    res = benv.step(key, state, action)               # jittable; action float32 [B, act_dim]

Same interface as ``envs.envpool_bridge.EnvpoolEnv`` (``num_envs``, ``reset``, ``step`` ->
``StepResult``, ``observation_space()``, ``action_space()`` -> ``Box`` with the action bounds), so
``rl.rollout`` runs on it unchanged; one pool of B = P·E envs, learner-major. The physics runs on
envpool's C++ threads (option ``num_threads``) through ``.xla()``, on the CPU.
Observations are raw (unnormalised) and rewards unscaled; both are float32.

float64. envpool's MuJoCo step takes float64 actions and returns float64 observations. Its
``.xla()`` fixes the XLA call's buffer types when it is called, canonicalised by the x64 flag of
that moment: with ``jax_enable_x64`` off they become float32 while the C++ side still reads and
writes float64 — wrong numbers and heap corruption (measured: ``free(): invalid size``). So the
bridge builds the XLA call and traces the call itself inside ``jax.enable_x64(True)`` and casts
to float32 right there; the flag is untouched outside those two places, so the library keeps
running in float32 with x64 off, also inside an outer ``jax.jit``/``lax.scan`` of a rollout.

Actions are clipped to the action space's bounds before the step (``clip_actions=True``, as
CleanRL's ``ClipAction``): MuJoCo clamps the controls itself, but the v4 control cost is computed
on the unclipped action, so an unclipped Gaussian sample would be penalised for nothing.

Auto-reset and scores are the Atari bridge's (``envs.envpool_bridge``; checked here on Hopper-v4:
the step that ends an episode returns its last observation; the NEXT call ignores its action,
resets that env and returns the new first observation with reward 0 and ``elapsed_step`` 0). That
call is reported ``terminated`` with reward 0, so no transition spans two episodes; ``final_obs``
is ``obs``. ``rl.rollout``'s own episode counters therefore also count a length-0 episode of
return 0 after every episode: read returns from the state's ``finished_score``/``finished_games``
(:func:`envs.envpool_bridge.drain_scores`) or ``last_score``, which sum the true per-episode
returns. Episodes end at ``max_episode_steps`` (envpool's default: 1000, Reacher 50) by truncation.

Seeding: envpool seeds the envs at construction (``seed``); ``reset(key)`` ignores the key.
"""

from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax.envs.base import Box
from rlsl_jax.envs.batched import StepResult
from rlsl_jax.envs.envpool_bridge import (
    EnvpoolState,
    auto_reset,
    check_host_call,
    check_mesh,
    initial_state,
    open_pools,
    require_envpool,
    task_ids,
)

PAPER_TASKS = ("Ant-v4", "HalfCheetah-v4", "Hopper-v4", "Humanoid-v4", "HumanoidStandup-v4",
               "InvertedDoublePendulum-v4", "Reacher-v4", "Walker2d-v4")
"""The eight MuJoCo-v4 tasks of the paper's Table 3."""


def mujoco_ids() -> tuple[str, ...]:
    """All envpool gymnasium-MuJoCo task ids (v2..v5, e.g. "Ant-v4"), sorted; empty without envpool."""
    return task_ids("envpool.mujoco.gym")


class EnvpoolMujocoEnv:
    """A pool of ``num_envs`` envpool MuJoCo environments behind the batched-env interface.

    Args:
      task_id: an envpool MuJoCo id, e.g. "Ant-v4" (see :func:`mujoco_ids`).
      num_envs: B, the pool size (synchronous: every step steps all B envs).
      seed: envpool's seed (envs are seeded at construction).
      clip_actions: clip actions to the action space's bounds before stepping.
      mesh: a multi-device mesh: one pool per device of this process (``envpool_bridge.DevicePools``;
        numpy API, float64 handled on the host), outputs sharded along the env axis.
      **kwargs: envpool options, e.g. ``max_episode_steps``, ``num_threads``, ``reset_noise_scale``;
        defaults are envpool's (gymnasium's v4 defaults).
    """

    final_obs_is_obs = True   # envpool never resets within a step (rl.rollout uses one critic call per step)

    def __init__(self, task_id: str, num_envs: int = 1, seed: int = 0, *, clip_actions: bool = True,
                 mesh: Any = None, **kwargs: Any):
        require_envpool()
        if task_id not in mujoco_ids():
            raise ValueError(f"unknown envpool MuJoCo id {task_id!r}; valid: {', '.join(mujoco_ids())}")
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1 (got {num_envs})")
        self.task_id, self.num_envs, self.seed = task_id, int(num_envs), int(seed)
        self.clip_actions, self.kwargs = bool(clip_actions), dict(kwargs)
        self.mesh = check_mesh(mesh)
        # x64: the XLA call's buffers must be float64 (module docstring)
        self.pool, self._xla_step, self._handle0, self.pools = open_pools(task_id, self.num_envs, self.seed,
                                                                          self.mesh, kwargs, x64=True)
        obs_space, act_space = self.pool.observation_space, self.pool.action_space
        self._obs_space = Box(-np.inf, np.inf, tuple(obs_space.shape), jnp.float32)
        self._low = np.asarray(act_space.low, np.float32)
        self._high = np.asarray(act_space.high, np.float32)
        self._act_space = Box(self._low, self._high, tuple(act_space.shape), jnp.float32)

    def __repr__(self) -> str:
        return (f"EnvpoolMujocoEnv({self.task_id!r}, num_envs={self.num_envs}, seed={self.seed}, "
                f"clip_actions={self.clip_actions}, {self.kwargs})")

    @property
    def config(self) -> dict[str, Any]:
        """envpool's full configuration of the pool (reward weights, episode length, ...)."""
        return dict(self.pool.config)

    def observation_space(self, params: Any = None) -> Box:
        return self._obs_space

    def action_space(self, params: Any = None) -> Box:
        return self._act_space

    def reset(self, key: jax.Array | None = None) -> tuple[jax.Array, EnvpoolState]:
        """Resets all B envs (a host call: NOT jittable; ``key`` is ignored). -> (obs [B, obs_dim]
        float32, state)."""
        check_host_call(key, "EnvpoolMujocoEnv")
        if self.mesh is not None:
            return self.pools.reset(np.float32), initial_state(self._handle0, self.num_envs)
        obs, _ = self.pool.reset()
        return jnp.asarray(np.asarray(obs, np.float32)), initial_state(self._handle0, self.num_envs)

    def step(self, key: jax.Array, state: EnvpoolState, action: jax.Array) -> StepResult:
        """Steps all B envs with ``action`` [B, act_dim] (jittable, not vmappable; ``key`` is unused)."""
        del key
        chex.assert_shape(action, (self.num_envs, *self._act_space.shape))
        action = action.astype(jnp.float32)
        if self.clip_actions:
            action = jnp.clip(action, self._low, self._high)
        if self.mesh is not None:
            handle = state.handle
            obs, reward, term, trunc, _ = self.pools.step(action, self._obs_space.shape, jnp.float32)
        else:
            with jax.enable_x64(True):
                handle, (obs, reward, term, trunc, _) = self._xla_step(state.handle, action.astype(jnp.float64))
                obs, reward = obs.astype(jnp.float32), reward.astype(jnp.float32)
        reward, terminated, truncated, new_state = auto_reset(state, handle, reward, reward, term, trunc,
                                                              term | trunc)
        return StepResult(obs, new_state, reward, terminated, truncated, obs)


def make_envpool_mujoco(task_id: str, num_envs: int = 1, seed: int = 0, **kwargs: Any
                        ) -> tuple[EnvpoolMujocoEnv, None]:
    """``envs.make("envpool/<MuJoCo id>", ...)``'s factory: -> (EnvpoolMujocoEnv, None)."""
    return EnvpoolMujocoEnv(task_id, num_envs, seed, **kwargs), None
