"""Continuous-action learners: an MLP of action means plus a state-independent log-std.

The MuJoCo learner (docs/design.md section 1, "Continuous actions") is the cart-pole architecture with
action means as outputs — tanh MLP obs -> 64 -> 64 -> act_dim, orthogonal √2 hidden layers, 0.01
head, zero biases — and one log-std parameter per action dimension, initialised to 0 (σ = 1), as
CleanRL's ``ppo_continuous_action``. Parameters are ``{"mlp": [layers], "log_std": [act_dim]}``;
``apply`` gives the means (what the inner step fits to Y), ``policy`` gives (means, log-std), the
parameters of ``networks.heads.DiagGaussian``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rlsl_jax.networks.mlp import MLPSpec, mlp_apply, mlp_init, mlp_init_many
from rlsl_jax.networks.heads import DiagGaussian
from rlsl_jax.networks.learners import SpecDims


@dataclasses.dataclass(frozen=True)
class GaussianLearner(SpecDims):
    """Λ for continuous actions: MLP means (``spec``) and a log-std [act_dim] starting at ``init_log_std``."""

    name: str
    spec: MLPSpec
    init_log_std: float = 0.0
    action_dist = DiagGaussian

    def init_params(self, key: jax.Array) -> dict:
        """ONE learner's parameters."""
        return {"mlp": mlp_init(key, self.spec), "log_std": jnp.full((self.out_dim,), self.init_log_std, jnp.float32)}

    def sample(self, key: jax.Array, num: int) -> dict:
        """``num`` learners stacked on a leading axis (orthogonal inits sequential on CPU, see mlp)."""
        return {"mlp": mlp_init_many(key, self.spec, num),
                "log_std": jnp.full((num, self.out_dim), self.init_log_std, jnp.float32)}

    def apply(self, params: dict, x: jax.Array) -> jax.Array:
        """Action means of ONE learner: [..., obs] -> [..., act_dim]."""
        return mlp_apply(params["mlp"], x, self.spec.activation)

    def policy(self, params: dict, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(means [..., act_dim], log-std broadcast to the same shape)."""
        mean = self.apply(params, x)
        return mean, jnp.broadcast_to(params["log_std"], mean.shape)

    def describe(self) -> dict:
        return {"name": self.name, "kind": "gaussian", "obs_dim": self.obs_dim, "act_dim": self.out_dim,
                "hidden": list(self.spec.hidden), "activation": self.spec.activation, "init": self.spec.init,
                "hidden_gain": self.spec.hidden_gain, "out_gain": self.spec.out_gain,
                "init_log_std": self.init_log_std}


def mujoco_learner(obs_dim: int, act_dim: int, hidden: tuple[int, ...] = (64, 64)) -> GaussianLearner:
    """The MuJoCo learner: α_c's MLP with action-mean outputs, plus a log-std parameter (init 0)."""
    return GaussianLearner("gaussian-ortho", MLPSpec(obs_dim, tuple(hidden), act_dim, "tanh", "orthogonal",
                                                     2.0**0.5, 0.01))
