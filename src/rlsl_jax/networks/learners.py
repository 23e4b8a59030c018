"""Learner distributions Λ: architecture + initialisation, sampled many at a time with one key.

``LearnerDist`` is a fixed-architecture distribution (all its samples stack on a leading axis
and share one ``vmap``). The paper's cart-pole learner α_c is ``cartpole_learner``: MLP
obs -> 64 -> 64 -> actions, tanh, orthogonal weights with gain √2 (last layer 0.01), zero biases.
"""

from __future__ import annotations

import dataclasses

import jax

from rlsl_jax.networks.mlp import MLPSpec, Params, mlp_apply, mlp_init_many


@dataclasses.dataclass(frozen=True)
class LearnerDist:
    """A distribution over learners of ONE architecture.

    Attributes:
      name: short identifier (e.g. "ortho"), stored in checkpoints' metadata.
      spec: the MLP architecture and its initialiser.
    """

    name: str
    spec: MLPSpec

    def sample(self, key: jax.Array, num: int) -> Params:
        """``num`` learners' parameters stacked on a leading axis [num, ...]."""
        return mlp_init_many(key, self.spec, num)

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """ONE learner's outputs for ``x`` [..., obs] -> [..., out]."""
        return mlp_apply(params, x, self.spec.activation)

    @property
    def obs_dim(self) -> int:
        return self.spec.in_dim

    @property
    def out_dim(self) -> int:
        return self.spec.out_dim


def cartpole_learner(obs_dim: int, num_actions: int, hidden: tuple[int, ...] = (64, 64)) -> LearnerDist:
    """Λ of the paper (α_c): tanh MLP, orthogonal √2 hidden, 0.01 head, zero biases."""
    return LearnerDist("ortho", MLPSpec(obs_dim, tuple(hidden), num_actions, "tanh", "orthogonal", 2.0**0.5, 0.01))


def make_learner_dist(name: str, obs_dim: int, num_actions: int):
    """Learner distribution by name: any of ``rlsl_jax.networks.distributions.DIST_NAMES``
    ("ortho" is Λ, the paper's α_c)."""
    from rlsl_jax.networks.distributions import make_learner_dist as make

    return make(name, obs_dim, num_actions)
