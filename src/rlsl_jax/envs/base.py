"""Environment API: a thin re-export of gymnax's base classes and spaces.

Every environment in :mod:`rlsl_jax.envs` follows the gymnax >= 1.0 API and subclasses
:class:`gymnax.environments.environment.Environment`, whose jitted ``step`` / ``reset`` do the
automatic reset::

    obs, state = env.reset(key, params)
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)

``info`` carries ``"terminated"``, ``"truncated"`` and ``"final_observation"`` (the observation
of the transition before the auto-reset) plus whatever ``step_env`` adds (e.g. ``"discount"``).
Subclasses implement only ``step_env`` (no reset), ``reset_env``, ``get_obs``, ``is_terminated``
and the spaces; truncation is the base class's ``state.time >= params.max_steps_in_episode``.
"""

from gymnax.environments import spaces
from gymnax.environments.environment import EnvParams as BaseEnvParams
from gymnax.environments.environment import EnvState as BaseEnvState
from gymnax.environments.environment import Environment
from gymnax.environments.spaces import Box, Discrete

__all__ = ["Environment", "BaseEnvState", "BaseEnvParams", "spaces", "Box", "Discrete"]
