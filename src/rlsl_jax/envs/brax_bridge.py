"""brax environments as batched envs (``envs.batched`` interface), fully on the accelerator.

``make("brax/hopper", num_envs=B, backend=..., episode_length=1000)`` returns ``(BraxEnv, None)``,
an already-batched env like the envpool bridge, but pure JAX: it can be jitted, scanned and
vmapped (e.g. over PPO seeds). Names: ant, halfcheetah, hopper, humanoid, humanoidstandup,
inverted_double_pendulum, reacher, walker2d (``BRAX_ENVS``). brax's observation sizes differ
from MuJoCo-v4 for humanoid (244 vs 376) and inverted_double_pendulum (8 vs 11).

The batch is brax's own training stack — ``VmapWrapper`` → ``EpisodeWrapper`` (time limit,
``info["truncation"]``) → ``AutoResetWrapper`` — with one extra pass-through wrapper between the
last two that copies the true successor observation into ``info["final_obs"]`` before the
auto-reset replaces ``obs`` (StepResult.final_obs bootstraps truncated episodes). As in brax's
training, an auto-reset returns the env to the state of its first reset (no new randomness).
``terminated = done & ~truncation``. Actions are clipped to the action space [-1, 1] before the
step (CleanRL's ``ClipAction``; the policy's log-prob is of the unclipped sample).

Physics backend: default ``"mjx"`` — the default of brax's own training entry point
(``brax/training/learner.py --backend``); the envs' constructors default to ``"generalized"``.
``"spring"`` compiles fastest on a CPU (tests use it). Measured
on hopper, 2 envs x 8 steps in one jitted scan, compile + first run on the shared 2-core CPU
(2026-11-25): spring 8.6 s, mjx 11.1 s, positional 17.5 s. The whole rollout is one jitted
scan, so a brax env is traced once per program (a bare ``jit(env.step)`` compiles twice: docs/design.md
section 5).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from rlsl_jax.envs.batched import StepResult

BRAX_ENVS = ("ant", "halfcheetah", "hopper", "humanoid", "humanoidstandup", "inverted_double_pendulum",
             "reacher", "walker2d")
DEFAULT_BACKEND = "mjx"
BACKENDS = ("positional", "spring", "generalized", "mjx")


def require_brax() -> None:
    try:
        import brax  # noqa: F401
    except ImportError as e:  # pragma: no cover - brax is a dependency of the [all] extra
        raise ImportError("brax is not installed: pip install 'brax>=0.14'") from e


def _final_obs_wrapper():
    from brax.envs.base import Wrapper

    class FinalObsWrapper(Wrapper):
        """Copies each step's observation into ``info["final_obs"]`` (AutoResetWrapper, applied
        after this, overwrites ``obs`` with the reset observation where the episode ended)."""

        def reset(self, rng):
            state = self.env.reset(rng)
            state.info["final_obs"] = state.obs
            return state

        def step(self, state, action):
            state = self.env.step(state, action)
            state.info["final_obs"] = state.obs
            return state

    return FinalObsWrapper


class Box:
    """Minimal Box space (shape, low, high), gymnax-style."""

    def __init__(self, low: float, high: float, shape: tuple[int, ...]):
        self.low, self.high, self.shape = low, high, tuple(shape)


class BraxEnv:
    """B copies of a brax env behind the batched-env interface (see module docstring)."""

    def __init__(self, name: str, num_envs: int, backend: str = DEFAULT_BACKEND, episode_length: int = 1000,
                 **env_kwargs: Any):
        require_brax()
        from brax import envs as brax_envs
        from brax.envs.wrappers.training import AutoResetWrapper, EpisodeWrapper, VmapWrapper

        if name not in BRAX_ENVS:
            raise ValueError(f"unknown brax env {name!r}; valid: {', '.join(BRAX_ENVS)}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown brax backend {backend!r}; valid: {', '.join(BACKENDS)}")
        if num_envs < 1 or episode_length < 1:
            raise ValueError(f"num_envs and episode_length must be >= 1 (got {num_envs}, {episode_length})")
        self.name, self.backend, self.num_envs, self.episode_length = name, backend, int(num_envs), int(episode_length)
        self.raw = brax_envs.get_environment(name, backend=backend, **env_kwargs)
        env = EpisodeWrapper(VmapWrapper(self.raw), self.episode_length, 1)
        self.env = AutoResetWrapper(_final_obs_wrapper()(env))
        self.obs_dim, self.act_dim = int(self.raw.observation_size), int(self.raw.action_size)
        # The env state travels as the flat list of brax State's non-empty leaves: mjx states hold
        # zero-size arrays (e.g. hopper's `act`), which orbax cannot checkpoint. They are rebuilt
        # (as zeros) from this static template before every brax step (``brax_state``).
        shapes = jax.eval_shape(self.env.reset, jax.ShapeDtypeStruct((self.num_envs, 2), jnp.uint32))
        self._treedef = jax.tree.structure(shapes)
        self._empty = {i: leaf for i, leaf in enumerate(jax.tree.leaves(shapes)) if leaf.size == 0}

    def observation_space(self, params=None) -> Box:
        return Box(-jnp.inf, jnp.inf, (self.obs_dim,))

    def action_space(self, params=None) -> Box:
        return Box(-1.0, 1.0, (self.act_dim,))

    def _pack(self, state) -> list:
        return [leaf for i, leaf in enumerate(jax.tree.leaves(state)) if i not in self._empty]

    def brax_state(self, packed: list):
        """The brax ``State`` of an env state returned by ``reset``/``step``."""
        it = iter(packed)
        n = self._treedef.num_leaves
        leaves = [jnp.zeros(self._empty[i].shape, self._empty[i].dtype) if i in self._empty else next(it)
                  for i in range(n)]
        return jax.tree.unflatten(self._treedef, leaves)

    def reset(self, key: jax.Array) -> tuple[jax.Array, list]:
        """-> (obs [B, obs_dim], env state: brax State's non-empty leaves, see ``brax_state``)."""
        # brax's wrappers want raw uint32 keys [B, 2] (EpisodeWrapper reads rng.shape[:-1])
        state = self.env.reset(jax.random.key_data(jax.random.split(key, self.num_envs)))
        return state.obs, self._pack(state)

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> StepResult:
        del key  # brax's dynamics are deterministic
        state = self.env.step(self.brax_state(state), jnp.clip(action, -1.0, 1.0).astype(jnp.float32))
        # brax's step returns some weakly typed float leaves that reset does not: make them strong, so
        # the carry's type is a fixed point of the step and chunked scans never recompile
        state = jax.tree.map(lambda x: jnp.asarray(x, dtype=x.dtype), state)
        trunc = state.info["truncation"].astype(bool)
        done = state.done.astype(bool)
        return StepResult(state.obs, self._pack(state), state.reward.astype(jnp.float32), done & ~trunc, trunc,
                          state.info["final_obs"])


def make_brax(name: str, num_envs: int = 1, **kwargs: Any) -> tuple[BraxEnv, None]:
    return BraxEnv(name, num_envs, **kwargs), None
