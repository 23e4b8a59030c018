"""PPO clipped surrogate (Eq. 1 of the paper) and the critic loss (Eq. 2), for one minibatch."""

from __future__ import annotations

import chex
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


def action_dist_of(learner) -> type:
    """The action distribution of a learner distribution: ``learner.action_dist`` if it declares
    one (continuous learners do), else ``Categorical`` (every discrete learner)."""
    return getattr(learner, "action_dist", Categorical)


def policy_fn_of(learner):
    """``f(params, x) -> distribution parameters`` of a learner: ``learner.policy`` if it has one
    (Gaussian learners: (means, log-std)), else ``learner.apply`` (logits)."""
    return getattr(learner, "policy", learner.apply)


def ppo_policy_loss(
    log_prob: jax.Array,
    old_log_prob: jax.Array,
    advantages: jax.Array,
    entropy: jax.Array,
    clip_eps: float,
    ent_coef: float,
    normalize_advantages: bool = True,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Clipped surrogate minus entropy bonus, averaged over a minibatch of B samples.

    Args:
      log_prob: [B] log π_new(a|s) (differentiable).
      old_log_prob: [B] log π_old(a|s) stored at rollout time.
      advantages: [B]; normalised to zero mean / unit std over the minibatch if asked.
      entropy: [B] entropy of π_new(·|s) (differentiable: the bonus carries a gradient).
      clip_eps: ε of the clipped ratio.
      ent_coef: weight of the entropy bonus.

    Returns:
      (loss, aux) with aux = policy_loss, entropy, approx_kl, clip_frac.
    """
    chex.assert_rank([log_prob, old_log_prob, advantages, entropy], 1)
    if normalize_advantages:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    surrogate = jnp.minimum(ratio * advantages, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages)
    pg_loss = -surrogate.mean()
    ent = entropy.mean()
    aux = {
        "policy_loss": pg_loss,
        "entropy": ent,
        "approx_kl": jax.lax.stop_gradient(((ratio - 1.0) - log_ratio).mean()),
        "clip_frac": jax.lax.stop_gradient((jnp.abs(ratio - 1.0) > clip_eps).mean()),
    }
    return pg_loss - ent_coef * ent, aux


def value_loss(values: jax.Array, returns: jax.Array) -> jax.Array:
    """0.5 · mean (V(s) − R)² (Eq. 2, no value clipping). values, returns: [B]."""
    chex.assert_equal_shape([values, returns])
    return 0.5 * jnp.mean((values - returns) ** 2)


def clipped_value_loss(values: jax.Array, old_values: jax.Array, returns: jax.Array, clip_eps: float) -> jax.Array:
    """PureJaxRL/CleanRL value clipping (direct PPO's default; PPMO uses ``value_loss``):
    0.5 · mean max((V − R)², (V_clip − R)²) with V_clip = V_old + clip(V − V_old, ±clip_eps),
    V_old the rollout's prediction. values, old_values, returns: [B]."""
    chex.assert_equal_shape([values, old_values, returns])
    v_clipped = old_values + jnp.clip(values - old_values, -clip_eps, clip_eps)
    return 0.5 * jnp.mean(jnp.maximum((values - returns) ** 2, (v_clipped - returns) ** 2))
