"""Action-distribution heads: how a policy network's output becomes actions, log-probs and entropies.

``Categorical`` reads logits [..., A] (discrete actions); ``DiagGaussian`` reads (means [..., D],
log-std) (continuous actions). Every learner declares its head as ``learner.action_dist``
(``networks.learners.Learner``); rollout, the PPO losses and the k-shot evaluator use only this
interface.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def categorical_log_prob(logits: jax.Array, actions: jax.Array) -> jax.Array:
    """log softmax(logits)[a]: logits [B, A], actions [B] int -> [B].

    (The authors' code used the raw logit here; we normalise, as PPO requires.)
    """
    logp = jax.nn.log_softmax(logits, axis=-1)
    return jnp.take_along_axis(logp, actions[..., None].astype(jnp.int32), axis=-1)[..., 0]


def categorical_entropy(logits: jax.Array) -> jax.Array:
    """Entropy of softmax(logits) along the last axis: [B, A] -> [B]."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.sum(jnp.exp(logp) * logp, axis=-1)


LOG_2PI_E = float(jnp.log(2.0 * jnp.pi) + 1.0)


class Categorical:
    """Discrete actions: the policy's output is logits [..., A]; actions are int [...]."""

    continuous = False

    @staticmethod
    def sample(key: jax.Array, logits: jax.Array) -> tuple[jax.Array, jax.Array]:
        action = jax.random.categorical(key, logits, axis=-1)
        return action, categorical_log_prob(logits, action)

    @staticmethod
    def log_prob(logits: jax.Array, actions: jax.Array) -> jax.Array:
        return categorical_log_prob(logits, actions)

    @staticmethod
    def entropy(logits: jax.Array) -> jax.Array:
        return categorical_entropy(logits)

    @staticmethod
    def mode(logits: jax.Array) -> jax.Array:
        return jnp.argmax(logits, axis=-1)


class DiagGaussian:
    """Continuous actions: the policy's output is (mean [..., D], log_std [..., D] or [D]); actions
    are [..., D]; log-probs and entropies are summed over the D action dimensions."""

    continuous = True

    @staticmethod
    def sample(key: jax.Array, params: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        mean, log_std = params
        action = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
        return action, DiagGaussian.log_prob(params, action)

    @staticmethod
    def log_prob(params: tuple[jax.Array, jax.Array], actions: jax.Array) -> jax.Array:
        """sum_d log N(a_d; μ_d, σ_d²)."""
        mean, log_std = params
        z = (actions - mean) * jnp.exp(-log_std)
        return jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)

    @staticmethod
    def entropy(params: tuple[jax.Array, jax.Array]) -> jax.Array:
        """sum_d (log σ_d + ½ log 2πe), with the mean's batch shape."""
        mean, log_std = params
        return jnp.sum(jnp.broadcast_to(log_std, mean.shape) + 0.5 * LOG_2PI_E, axis=-1)

    @staticmethod
    def mode(params: tuple[jax.Array, jax.Array]) -> jax.Array:
        return params[0]
