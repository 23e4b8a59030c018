"""Environments with the gymnax >= 1.0 API: ``env, params = make(env_id, **kwargs)``."""

from rlsl_jax.envs.cartpole_nd import EnvParams, EnvState, NDCartPole
from rlsl_jax.envs.registry import list_envs, make, register, registered_envs
from rlsl_jax.envs.registry import MINATAR_ACTIONS, MINATAR_CHANNELS, MINATAR_IDS

__all__ = [
    "make",
    "register",
    "list_envs",
    "registered_envs",
    "NDCartPole",
    "EnvParams",
    "EnvState",
    "MINATAR_IDS",
    "MINATAR_CHANNELS",
    "MINATAR_ACTIONS",
]
