"""envpool Atari as a batched env that runs inside ``jax.jit`` through envpool's ``.xla()``.

    benv, _ = rlsl_jax.envs.make("envpool/Centipede-v5", num_envs=P * E)
    obs, state = benv.reset(key)                      # host call, outside jit: obs uint8 [B, 4, 84, 84]
    res = benv.step(key, state, action)               # jittable; StepResult with leading axis [B]

It has exactly the interface of ``envs.batched.VmapEnv`` (``num_envs``, ``reset``, ``step`` ->
``StepResult``) plus gymnax-style ``observation_space()``/``action_space()``, so ``rl.rollout`` and
PPMO run on it unchanged. envpool's XLA calls cannot be vmapped and the emulators live in C++, so a
population of P learners with E envs each is ONE pool of B = P·E envs whose actions are
concatenated learner-major (env b belongs to learner b // E), as ``VmapEnv`` orders them.

Preprocessing is envpool's Atari standard (its defaults, kept): 84×84 grayscale, 4-frame stack,
frame skip 4 (max-pool of the last two frames), up to 30 no-op actions at reset, sticky actions
off (repeat_action_probability 0), FIRE on reset for games that need it, 27000 agent steps
(108k frames) per game. ``TRAIN_KWARGS`` adds the usual training signals (clipped rewards, a lost
life ends the training episode); ``EVAL_KWARGS`` turns both off: scores are full games, raw.

Auto-reset. envpool returns the terminal observation on the step that ends an episode and
resets on the NEXT call, ignoring that call's action and returning the first observation of the
new episode with reward 0 (checked on Centipede-v5: ``elapsed_step`` does not advance on it).
That call's transition (terminal obs, ignored action, reward 0, new first obs) spans two
episodes. We report it as ``terminated`` with reward 0 — a zero-reward step of an absorbing
terminal state — so no transition links two episodes: GAE cuts there, the critic's target for
the terminal observation is 0 (its true value) and the policy-gradient term of that sample has
no dependence on the (ignored) action in expectation. ``final_obs`` is ``obs`` (envpool never
resets within a step; a truncation at the 27000-step cap is therefore bootstrapped from the
true last observation). (CleanRL's envpool PPO instead keeps the transition as an ordinary
non-terminal step into the new episode.) Side effect: ``rl.rollout``'s own episode counters
count each episode twice (once as a length-0 episode); the bridge therefore tracks scores
itself, below.

Scores. ``EnvpoolState`` accumulates envpool's ``info["reward"]`` — the raw, unclipped game
reward even when training rewards are clipped — until the GAME ends (``info["terminated"]``, or
the step cap), whatever the life-loss signal. ``finished_score`` / ``finished_games`` sum the
finished games since they were last drained (:func:`drain_scores`), so a caller reads exact
full-game scores per rollout. (With life-loss episodes, envpool's no-ops after a lost life report
reward 0: a point scored during those ≤ 30 no-ops would be missed. ``EVAL_KWARGS`` has no
life-loss episodes, so reported evaluation scores are exact.)

Seeding: envpool seeds its emulators at construction (``seed``); ``reset(key)`` ignores the key.
Checkpoints cannot hold emulator states: on resume, restart the envs (``runner.run``'s
``after_restore``), so an Atari resume is not bit-exact.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax.envs.base import Box, Discrete
from rlsl_jax.envs.batched import StepResult

PREFIX = "envpool/"
TRAIN_KWARGS: dict[str, Any] = {"episodic_life": True, "reward_clip": True}
EVAL_KWARGS: dict[str, Any] = {"episodic_life": False, "reward_clip": False}


@functools.lru_cache(maxsize=None)
def task_ids(family: str) -> tuple[str, ...]:
    """envpool task ids registered under ``family`` (envpool's module, e.g. "envpool.atari",
    "envpool.mujoco.gym"), sorted; empty if envpool is not installed."""
    try:
        from envpool.registration import registry
    except ImportError:
        return ()
    return tuple(sorted(k for k, v in registry.specs.items() if v[0] == family))


def atari_ids() -> tuple[str, ...]:
    """All envpool Atari task ids (e.g. "Pong-v5"), sorted; empty if envpool is not installed."""
    return task_ids("envpool.atari")


def require_envpool() -> None:
    try:
        import envpool  # noqa: F401
    except ImportError as e:
        raise ImportError("envpool is not installed: pip install 'rlsl-jax[atari]' (envpool>=1.2.5)") from e


@flax.struct.dataclass
class EnvpoolState:
    """Per-pool state carried through jit (the emulators themselves live in C++)."""

    handle: jax.Array          # uint8 [8]: envpool's XLA ordering token (unused dummy [B] with a mesh)
    reset_next: jax.Array      # bool [B]: the last step ended an episode, so envpool resets on the next
    score: jax.Array           # float32 [B]: raw return of the game in progress
    finished_score: jax.Array  # float32 [B]: summed raw returns of games finished since the last drain
    finished_games: jax.Array  # int32 [B]: number of those games
    last_score: jax.Array      # float32 [B]: raw score of the last finished game (0 before any)


def initial_state(handle: Any, num_envs: int) -> EnvpoolState:
    """The state right after ``pool.reset()``: envpool's ``handle`` from ``pool.xla()``, zero scores."""
    zeros = jnp.zeros((num_envs,), jnp.float32)
    return EnvpoolState(jnp.asarray(handle), jnp.zeros((num_envs,), bool), zeros, zeros,
                        jnp.zeros((num_envs,), jnp.int32), zeros)


def check_host_call(key: Any, name: str) -> None:
    if isinstance(key, jax.core.Tracer):
        raise TypeError(f"{name}.reset is a host call and cannot run inside jit/vmap; call it outside "
                        "(e.g. build the initial state eagerly) and jit only step()")


def auto_reset(state: EnvpoolState, handle: jax.Array, reward: jax.Array, raw_reward: jax.Array,
               terminated: jax.Array, truncated: jax.Array, game_over: jax.Array,
               ) -> tuple[jax.Array, jax.Array, jax.Array, EnvpoolState]:
    """envpool's next-call auto-reset as the module docstring describes it, and score tracking.

    Args (all [B], from one envpool step): ``handle`` the new XLA token; ``reward`` the training
    reward; ``raw_reward`` the reward the score sums; ``terminated``/``truncated`` envpool's flags;
    ``game_over`` whether the scored game ended (Atari: ``info["terminated"]`` or truncation, so a
    lost life does not end it; MuJoCo: ``terminated | truncated``).
    -> (reward float32, terminated, truncated, new state): the call that only reset an env (its
    action ignored) is reported terminated with reward 0 and is not scored.
    """
    was_reset = state.reset_next
    score = state.score + jnp.where(was_reset, 0.0, raw_reward).astype(jnp.float32)
    game_over = game_over & ~was_reset
    new_state = EnvpoolState(
        handle=handle,
        reset_next=(terminated | truncated) & ~was_reset,
        score=jnp.where(game_over, 0.0, score),
        finished_score=state.finished_score + jnp.where(game_over, score, 0.0),
        finished_games=state.finished_games + game_over.astype(jnp.int32),
        last_score=jnp.where(game_over, score, state.last_score),
    )
    reward = jnp.where(was_reset, 0.0, reward).astype(jnp.float32)
    return reward, terminated | was_reset, truncated & ~was_reset, new_state


class DevicePools:
    """envpool on a device mesh: ONE pool per mesh device that this process owns, each holding that
    device's contiguous share of the B envs (learner-major, as ``VmapEnv`` orders them).

    envpool's ``.xla()`` step is an XLA custom call with side effects, which XLA's SPMD partitioner
    refuses to place on a multi-device mesh ("Side-effect HLO must have sharding"). Here every
    device steps its own pool through its numpy API from a ``jax.experimental.io_callback`` inside
    ``jax.shard_map`` (the callback runs in the process that owns the device, with that device's
    actions), so the outputs come back sharded along the env axis and a multi-host run keeps each
    process's envs in that process. envpool seeds env j of a pool with ``seed + j``; pool i is made
    with ``seed + i · B/D``, so D pools step exactly the envs of one pool of B (tested). Calls are
    ordered by data dependence (each step's actions depend on the previous observations).

    Args:
      make_pool: ``make_pool(num_envs, seed)`` -> an envpool gym-API pool.
      mesh: a 1-D ``parallel.make_mesh`` mesh; B must be a multiple of its size.
    """

    def __init__(self, make_pool: Any, mesh: Any, num_envs: int, seed: int):
        if num_envs % mesh.size:
            raise ValueError(f"num_envs ({num_envs}) must be a multiple of the number of devices ({mesh.size})")
        self.mesh, self.num_envs, self.per_device = mesh, num_envs, num_envs // mesh.size
        self.devices = list(mesh.devices.flat)
        me = jax.process_index()
        self.pools = {i: make_pool(self.per_device, seed + i * self.per_device)
                      for i, d in enumerate(self.devices) if d.process_index == me}

    @property
    def any_pool(self) -> Any:
        """One of this process's pools (spaces and configuration are the same in all)."""
        return next(iter(self.pools.values()))

    def reset(self, dtype: Any) -> jax.Array:
        """Resets every local pool (a host call) -> obs [B, ...] sharded along the env axis."""
        from rlsl_jax.parallel import batch_sharding

        parts = [jax.device_put(np.asarray(pool.reset()[0], dtype), self.devices[i]) for i, pool in self.pools.items()]
        return jax.make_array_from_single_device_arrays((self.num_envs, *parts[0].shape[1:]),
                                                        batch_sharding(self.mesh), parts)

    def step(self, action: jax.Array, obs_shape: tuple[int, ...], obs_dtype: Any,
             info_keys: tuple[str, ...] = ()) -> tuple:
        """Steps all B envs (jittable) -> (obs [B, *obs_shape], reward float32 [B], terminated [B],
        truncated [B], {key: float32 [B] from envpool's info for each of ``info_keys``}), sharded."""
        from jax.experimental import io_callback
        from jax.sharding import PartitionSpec

        from rlsl_jax.parallel import AXIS

        n = self.per_device
        flag = jax.ShapeDtypeStruct((n,), jnp.bool_)
        f32 = jax.ShapeDtypeStruct((n,), jnp.float32)
        shapes = (jax.ShapeDtypeStruct((n, *obs_shape), obs_dtype), f32, flag, flag, {k: f32 for k in info_keys})

        def host(i, a):
            o, r, te, tr, info = self.pools[int(i)].step(np.asarray(a))
            return (np.asarray(o, obs_dtype), np.asarray(r, np.float32), np.asarray(te, bool), np.asarray(tr, bool),
                    {k: np.asarray(info[k], np.float32) for k in info_keys})

        def local(a):  # this device's [B/D] actions -> its pool's outputs
            return io_callback(host, shapes, jax.lax.axis_index(AXIS), a)

        spec = PartitionSpec(AXIS)
        return jax.shard_map(local, mesh=self.mesh, in_specs=spec, out_specs=spec)(action)


def check_mesh(mesh: Any) -> Any:
    """``mesh`` if it spans several devices, None for none or a single device."""
    return None if mesh is None or mesh.size == 1 else mesh


def open_pools(task_id: str, num_envs: int, seed: int, mesh: Any, kwargs: dict, x64: bool = False) -> tuple:
    """The envpool pool(s) behind a bridge -> (pool, xla_step, handle0, pools): without a mesh
    (``check_mesh``) ONE pool of ``num_envs`` with its ``.xla()`` step and initial handle
    (``x64``: built inside ``jax.enable_x64(True)``, for float64 tasks) and ``pools`` None; on a
    mesh a :class:`DevicePools` (``pool`` one of them, for spaces and config; no ``.xla()``; a
    dummy [B] handle)."""
    import contextlib

    import envpool

    def make_pool(n, s):
        return envpool.make(task_id, env_type="gym", num_envs=n, batch_size=n, seed=s, **kwargs)

    if mesh is None:
        pool = make_pool(num_envs, seed)
        with jax.enable_x64(True) if x64 else contextlib.nullcontext():
            handle, _, _, xla_step = pool.xla()
        return pool, xla_step, np.asarray(handle), None
    pools = DevicePools(make_pool, mesh, num_envs, seed)
    return pools.any_pool, None, np.zeros((num_envs,), np.uint8), pools


def drain_scores(state: EnvpoolState) -> tuple[EnvpoolState, dict[str, jax.Array]]:
    """-> (state with zeroed counters, {"games": n, "score": mean raw score of those n games (nan
    if none), "score_sum": sum}). Jittable."""
    n = state.finished_games.sum()
    total = state.finished_score.sum()
    stats = {"games": n, "score_sum": total, "score": jnp.where(n > 0, total / jnp.maximum(n, 1), jnp.nan)}
    return state.replace(finished_score=jnp.zeros_like(state.finished_score),
                         finished_games=jnp.zeros_like(state.finished_games)), stats


class EnvpoolEnv:
    """A pool of ``num_envs`` envpool Atari environments behind the batched-env interface.

    Args:
      task_id: an envpool Atari id, e.g. "Centipede-v5" (see :func:`atari_ids`).
      num_envs: B, the pool size (synchronous: every step steps all B envs).
      seed: envpool's seed (emulators are seeded at construction).
      mesh: a multi-device ``parallel.make_mesh`` mesh (any number of processes): one pool per
        device of this process (:class:`DevicePools`), outputs sharded along the env axis (B must
        be a multiple of the device count); None (default) or one device: ONE pool via ``.xla()``.
      **kwargs: envpool options, e.g. ``episodic_life``, ``reward_clip``, ``noop_max``,
        ``max_episode_steps``, ``num_threads``; defaults are envpool's (no clipping, no life loss).
    """

    final_obs_is_obs = True   # envpool never resets within a step (rl.rollout uses one critic call per step)

    def __init__(self, task_id: str, num_envs: int = 1, seed: int = 0, *, mesh: Any = None, **kwargs: Any):
        require_envpool()
        if task_id not in atari_ids():
            raise ValueError(f"unknown envpool Atari id {task_id!r}; valid: {', '.join(atari_ids())}")
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1 (got {num_envs})")
        self.task_id, self.num_envs, self.seed = task_id, int(num_envs), int(seed)
        self.kwargs = dict(kwargs)
        self.mesh = check_mesh(mesh)
        self.pool, self._xla_step, self._handle0, self.pools = open_pools(task_id, self.num_envs, self.seed,
                                                                          self.mesh, kwargs)
        space = self.pool.observation_space
        self._obs_space = Box(0, 255, tuple(space.shape), jnp.uint8)
        self._num_actions = int(self.pool.action_space.n)

    def __repr__(self) -> str:
        return f"EnvpoolEnv({self.task_id!r}, num_envs={self.num_envs}, seed={self.seed}, {self.kwargs})"

    @property
    def config(self) -> dict[str, Any]:
        """envpool's full configuration of the pool (preprocessing options included)."""
        return dict(self.pool.config)

    def observation_space(self, params: Any = None) -> Box:
        return self._obs_space

    def action_space(self, params: Any = None) -> Discrete:
        return Discrete(self._num_actions)

    def reset(self, key: jax.Array | None = None) -> tuple[jax.Array, EnvpoolState]:
        """Resets all B envs (a host call: NOT jittable; ``key`` is ignored). -> (obs [B, 4, 84, 84]
        uint8, state)."""
        check_host_call(key, "EnvpoolEnv")
        if self.mesh is not None:
            return self.pools.reset(np.uint8), initial_state(self._handle0, self.num_envs)
        obs, _ = self.pool.reset()
        return jnp.asarray(obs), initial_state(self._handle0, self.num_envs)

    def step(self, key: jax.Array, state: EnvpoolState, action: jax.Array) -> StepResult:
        """Steps all B envs with ``action`` [B] (jittable, not vmappable; ``key`` is unused)."""
        del key
        if self.mesh is None:
            handle, (obs, reward, term, trunc, info) = self._xla_step(state.handle, action.astype(jnp.int32))
        else:
            handle = state.handle
            obs, reward, term, trunc, info = self.pools.step(action.astype(jnp.int32), self._obs_space.shape,
                                                             jnp.uint8, ("reward", "terminated"))
        reward, terminated, truncated, new_state = auto_reset(
            state, handle, reward, info["reward"], term, trunc, (info["terminated"] > 0) | trunc)
        return StepResult(obs, new_state, reward, terminated, truncated, obs)


def make_envpool(task_id: str, num_envs: int = 1, seed: int = 0, **kwargs: Any) -> tuple[EnvpoolEnv, None]:
    """``envs.make("envpool/<id>", ...)``'s factory: -> (EnvpoolEnv, None). There are no env params
    (envpool options are fixed at construction); the env is already batched."""
    return EnvpoolEnv(task_id, num_envs, seed, **kwargs), None
