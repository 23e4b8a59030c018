"""Generalised advantage estimation for ONE trajectory (vmap over environments where called)."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def gae_advantages(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    done: jax.Array,
    gamma: float,
    lam: float,
) -> tuple[jax.Array, jax.Array]:
    """GAE(γ, λ) over a trajectory of T steps that may span several episodes.

    Args:
      rewards: [T] reward r_t received after acting in s_t.
      values: [T] V(s_t).
      next_values: [T] V(s'_t) of the TRUE successor state (before any auto-reset), so a
        truncated episode is bootstrapped from its last state.
      terminated: [T] s'_t is terminal: no bootstrap (δ_t = r_t − V(s_t)).
      done: [T] the episode ended at t (terminated or truncated): the advantage recursion is
        cut there, so nothing flows from the next episode into this one.
      gamma, lam: discount and GAE λ.

    Returns:
      (advantages [T], returns [T] = advantages + values).

    δ_t = r_t + γ (1 − term_t) V(s'_t) − V(s_t);  A_t = δ_t + γ λ (1 − done_t) A_{t+1}.
    (Masking with step t's own done flag: the authors' code used the next step's, an off-by-one.)
    """
    chex.assert_rank([rewards, values, next_values, terminated, done], 1)
    chex.assert_equal_shape([rewards, values, next_values, terminated, done])
    not_term = 1.0 - terminated.astype(jnp.float32)
    not_done = 1.0 - done.astype(jnp.float32)
    deltas = rewards + gamma * not_term * next_values - values

    def body(next_adv, xs):
        delta, nd = xs
        adv = delta + gamma * lam * nd * next_adv
        return adv, adv

    _, adv = jax.lax.scan(body, jnp.zeros((), deltas.dtype), (deltas, not_done), reverse=True)
    return adv, adv + values
