"""PPO clipped surrogate (Eq. 1 of the paper) and the critic loss (Eq. 2), for one minibatch."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from rlsl_jax.networks.heads import (  # noqa: F401  (re-exported: rl's public names)
    LOG_2PI_E, Categorical, DiagGaussian, categorical_entropy, categorical_log_prob,
)


def action_dist_of(learner) -> type:
    """The action-distribution head of a learner (``networks.learners.Learner.action_dist``)."""
    return learner.action_dist


def policy_fn_of(learner):
    """``f(params, x) -> distribution parameters`` of a learner (``Learner.policy``): logits for
    a categorical head, (means, log-std) for a Gaussian one."""
    return learner.policy


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
