"""``make(env_id, **kwargs) -> (env, params)`` for our envs and every gymnax env.

Our ids come first; any other id registered in gymnax (``gymnax.registered_envs``, e.g.
"CartPole-v1", "Acrobot-v1") is passed through to ``gymnax.make`` with its kwargs, which already
returns ``(env, default_params)`` with the same API. Bridges (envpool, brax) add themselves with
:func:`register`.

Ids "envpool/<task>" (e.g. "envpool/Centipede-v5", any envpool Atari id) return an already
batched env, ``(envs.envpool_bridge.EnvpoolEnv, None)``: ``make("envpool/Pong-v5", num_envs=B,
**envpool_options)`` (envpool's XLA step cannot be vmapped, so the pool itself is the batch).
They are not in :func:`list_envs` (envpool is optional and has 100+ Atari ids); see
``envs.envpool_bridge.atari_ids()``. envpool MuJoCo ids ("envpool/Ant-v4", any of
``envs.envpool_mujoco.mujoco_ids()``) return ``(envs.envpool_mujoco.EnvpoolMujocoEnv, None)`` the same way.

MinAtar (Young & Tian 2019) is gymnax's pure-JAX port, passed through like any gymnax id:
``make("Breakout-MinAtar")`` -> ``(env, params)``; :data:`MINATAR_IDS` are the four games this
project distils (gymnax also registers "Seaquest-MinAtar", left out here). Observations are
[10, 10, C] float32 in {0, 1}, channels-last, C per game in :data:`MINATAR_CHANNELS`; the action
sets are gymnax's minimal ones (:data:`MINATAR_ACTIONS`; ``use_minimal_action_set=False`` gives all
6). gymnax's MinAtar has no sticky actions (the original MinAtar repeats the last action w.p. 0.1).

Ids "brax/<name>" (ant, halfcheetah, hopper, humanoid, humanoidstandup, inverted_double_pendulum,
reacher, walker2d) return an already batched, pure-JAX (vmappable) env, ``(envs.brax_bridge.BraxEnv,
None)``: ``make("brax/hopper", num_envs=B, backend="mjx", episode_length=1000)`` (mjx is the default).
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import gymnax

from rlsl_jax.envs.base import Environment
from rlsl_jax.envs.cartpole_nd import EnvParams, NDCartPole

Factory = Callable[..., tuple[Environment, Any]]


def _make_nd_cartpole(num_dims: int = 1, **param_overrides: Any) -> tuple[NDCartPole, EnvParams]:
    """NDCartPole(num_dims) with default params, any EnvParams field overridable by keyword."""
    fields = [f.name for f in dataclasses.fields(EnvParams)]
    unknown = sorted(set(param_overrides) - set(fields))
    if unknown:
        raise ValueError(
            f"Unknown NDCartPole-v0 kwargs {unknown}; valid: ['num_dims'] + {fields}"
        )
    env = NDCartPole(num_dims)
    return env, env.default_params.replace(**param_overrides)


_REGISTRY: dict[str, Factory] = {"NDCartPole-v0": _make_nd_cartpole}

MINATAR_IDS: tuple[str, ...] = ("Breakout-MinAtar", "SpaceInvaders-MinAtar", "Asterix-MinAtar", "Freeway-MinAtar")
"""The four gymnax MinAtar games (served by the gymnax pass-through of :func:`make`)."""
MINATAR_CHANNELS: dict[str, int] = {"Breakout-MinAtar": 4, "SpaceInvaders-MinAtar": 6, "Asterix-MinAtar": 4,
                                    "Freeway-MinAtar": 7}
"""C of each game's [10, 10, C] observation."""
MINATAR_ACTIONS: dict[str, int] = {"Breakout-MinAtar": 3, "SpaceInvaders-MinAtar": 4, "Asterix-MinAtar": 5,
                                   "Freeway-MinAtar": 3}
"""Actions of each game with gymnax's default (minimal) action set."""


def register(env_id: str, factory: Factory) -> None:
    """Add ``env_id``; ``factory(**kwargs)`` must return ``(env, params)``."""
    if env_id in list_envs():
        raise ValueError(f"{env_id!r} is already registered")
    _REGISTRY[env_id] = factory
    registered_envs.append(env_id)


def list_envs() -> list[str]:
    """All valid ids: ours, then gymnax's."""
    return list(_REGISTRY) + [e for e in gymnax.registered_envs if e not in _REGISTRY]


def make(env_id: str, **kwargs: Any) -> tuple[Environment, Any]:
    """Build an environment and its default params.

    Args:
      env_id: one of :func:`list_envs`, e.g. "NDCartPole-v0" or "CartPole-v1".
      **kwargs: for "NDCartPole-v0": ``num_dims`` (int >= 1, default 1) and optional overrides of
        EnvParams fields (e.g. ``time_scale=0.5``); for gymnax ids: the env constructor's kwargs.

    Returns:
      (env, params).

    Raises:
      ValueError: unknown id (message lists the valid ids), invalid ``num_dims`` or unknown kwargs.
    """
    if env_id in _REGISTRY:
        return _REGISTRY[env_id](**kwargs)
    if env_id.startswith("brax/"):
        from rlsl_jax.envs.brax_bridge import BRAX_ENVS, make_brax

        name = env_id[len("brax/"):]
        if name not in BRAX_ENVS:
            raise ValueError(f"Unknown brax env {name!r}; valid: {', '.join('brax/' + n for n in BRAX_ENVS)}")
        return make_brax(name, **kwargs)
    if env_id.startswith("envpool/"):
        from rlsl_jax.envs.envpool_bridge import atari_ids, make_envpool, require_envpool
        from rlsl_jax.envs.envpool_mujoco import make_envpool_mujoco, mujoco_ids

        require_envpool()
        task = env_id[len("envpool/"):]
        if task in mujoco_ids():
            return make_envpool_mujoco(task, **kwargs)
        if task not in atari_ids():
            raise ValueError(f"Unknown envpool id {task!r}; valid: "
                             f"{', '.join('envpool/' + t for t in mujoco_ids() + atari_ids())}")
        return make_envpool(task, **kwargs)
    if env_id in gymnax.registered_envs:
        try:
            return gymnax.make(env_id, **kwargs)
        except TypeError as e:
            raise ValueError(f"Invalid kwargs {sorted(kwargs)} for {env_id}: {e}") from e
    raise ValueError(f"Unknown env id {env_id!r}; valid ids: {', '.join(list_envs())}")


registered_envs: list[str] = list_envs()
"""Valid ids (gymnax-style name), updated in place by :func:`register`."""
