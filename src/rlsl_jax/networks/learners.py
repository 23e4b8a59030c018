"""Learner distributions Λ: architecture + initialisation, sampled many at a time with one key.

``LearnerDist`` is a fixed-architecture distribution (all its samples stack on a leading axis
and share one ``vmap``). The paper's cart-pole learner α_c is ``cartpole_learner``: MLP
obs -> 64 -> 64 -> actions, tanh, orthogonal weights with gain √2 (last layer 0.01), zero biases.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

import jax

from rlsl_jax.networks.heads import Categorical
from rlsl_jax.networks.mlp import MLPSpec, Params, mlp_apply, mlp_init, mlp_init_many


@runtime_checkable
class Learner(Protocol):
    """What PPMO, direct PPO and the k-shot evaluator need of a learner distribution Λ.

    ``sample(key, num)`` draws ``num`` learners' parameters stacked on a leading axis;
    ``apply(params, x)`` is ONE learner's output (logits or action means: what the inner step fits
    to Y); ``policy(params, x)`` is the parameters of its action distribution ``action_dist``
    (``networks.heads.Categorical`` or ``DiagGaussian``); ``describe()`` is the JSON-able record
    stored in checkpoints' metadata. Implementations: ``LearnerDist`` (MLPs),
    ``networks.distributions`` (Table 1's), ``networks.cnn.CNNLearnerDist`` (Atari),
    ``networks.gaussian.GaussianLearner`` (MuJoCo).
    """

    name: str
    action_dist: Any

    def sample(self, key: jax.Array, num: int) -> Any: ...

    def apply(self, params: Any, x: jax.Array) -> jax.Array: ...

    def policy(self, params: Any, x: jax.Array) -> Any: ...

    def describe(self) -> dict: ...


class SpecDims:
    """Mixin of the learner distributions built on an ``MLPSpec`` ``spec``: their input and output widths."""

    @property
    def obs_dim(self) -> int:
        return self.spec.in_dim

    @property
    def out_dim(self) -> int:
        return self.spec.out_dim


class DiscreteLearner:
    """Mixin of the categorical learners: logits are the policy (``action_dist = Categorical``)."""

    action_dist = Categorical

    def policy(self, params: Any, x: jax.Array) -> jax.Array:
        """Logits of ONE learner (the same as ``apply``)."""
        return self.apply(params, x)

    def describe(self) -> dict:
        spec = getattr(self, "spec", None)
        out = {"name": self.name}
        if dataclasses.is_dataclass(spec):
            out.update(dataclasses.asdict(spec))
        return out


@dataclasses.dataclass(frozen=True)
class LearnerDist(SpecDims, DiscreteLearner):
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

    def init_params(self, key: jax.Array) -> Params:
        """ONE learner's parameters (direct PPO's actor)."""
        return mlp_init(key, self.spec)

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """ONE learner's outputs for ``x`` [..., obs] -> [..., out]."""
        return mlp_apply(params, x, self.spec.activation)


def cartpole_learner(obs_dim: int, num_actions: int, hidden: tuple[int, ...] = (64, 64)) -> LearnerDist:
    """Λ of the paper (α_c): tanh MLP, orthogonal √2 hidden, 0.01 head, zero biases."""
    return LearnerDist("ortho", MLPSpec(obs_dim, tuple(hidden), num_actions, "tanh", "orthogonal", 2.0**0.5, 0.01))
