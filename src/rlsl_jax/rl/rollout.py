"""Rollouts: ``lax.scan`` over T steps of a batch of B environments (see ``envs.batched``).

The environment is never differentiated: rollouts store observations, actions and the
behaviour policy's log-probabilities; losses recompute log-probs from the stored observations.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp

from rlsl_jax.rl.ppo_loss import categorical_log_prob


class Transition(NamedTuple):
    """One step of B environments; a rollout stacks these to [T, B, ...]."""

    obs: jax.Array           # [B, *obs] s_t
    action: jax.Array        # [B] a_t ([B, D] for continuous actions)
    log_prob: jax.Array      # [B] log π_old(a_t | s_t)
    value: jax.Array         # [B] V(s_t)
    next_value: jax.Array    # [B] V(s'_t) of the true successor (bootstraps truncations)
    reward: jax.Array        # [B] r_t
    terminated: jax.Array    # [B] bool
    done: jax.Array          # [B] bool, terminated or truncated
    episode_return: jax.Array  # [B] return of the episode that ended at t (0 where not done)


@flax.struct.dataclass
class RolloutCarry:
    """What carries over between rollouts (and meta-epochs): env state, current obs, stats."""

    env_state: Any
    obs: jax.Array              # [B, *obs]
    running_return: jax.Array   # [B] return of the episode in progress
    last_return: jax.Array      # [B] return of the last finished episode (0 before any)


def init_rollout_carry(key: jax.Array, benv) -> RolloutCarry:
    obs, state = benv.reset(key)
    zeros = jnp.zeros((benv.num_envs,), jnp.float32)
    return RolloutCarry(state, obs, zeros, zeros)


ActFn = Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]  # (key, obs[B]) -> (a[B], logp[B])
ValueFn = Callable[[jax.Array], jax.Array]                            # obs[B] -> V[B]


def rollout(
    key: jax.Array, carry: RolloutCarry, act_fn: ActFn, value_fn: ValueFn, benv, num_steps: int
) -> tuple[RolloutCarry, Transition]:
    """Runs ``num_steps`` steps of all B environments; returns the new carry and [T, B] data.

    ``next_value`` is V(final_obs). For envs whose ``final_obs`` is always the next ``obs``
    (class attribute ``final_obs_is_obs = True``: the envpool bridges, which never reset within a
    step) it is the next step's ``value`` instead, plus one critic call on the last observation
    after the scan: one critic forward per step instead of two, same numbers."""
    shift = bool(getattr(benv, "final_obs_is_obs", False))

    def step(c: RolloutCarry, k: jax.Array):
        k_act, k_env = jax.random.split(k)
        action, log_prob = act_fn(k_act, c.obs)
        value = value_fn(c.obs)
        res = benv.step(k_env, c.env_state, action)
        done = jnp.logical_or(res.terminated, res.truncated)
        next_value = value if shift else value_fn(res.final_obs)   # placeholder when shifted
        ep_ret = c.running_return + res.reward
        tr = Transition(
            c.obs, action, log_prob, value, next_value, res.reward, res.terminated, done,
            jnp.where(done, ep_ret, 0.0),
        )
        c = RolloutCarry(
            res.state, res.obs, jnp.where(done, 0.0, ep_ret), jnp.where(done, ep_ret, c.last_return)
        )
        return c, tr

    carry, traj = jax.lax.scan(step, carry, jax.random.split(key, num_steps))
    if shift:
        last = value_fn(carry.obs)[None]
        traj = traj._replace(next_value=jnp.concatenate([traj.value[1:], last], axis=0))
    return carry, traj


def categorical_act_fn(logits_fn: Callable[[jax.Array], jax.Array]) -> ActFn:
    """Samples a ~ softmax(logits_fn(obs)) and returns (a, log π(a|s))."""
    def act(key, obs):
        logits = logits_fn(obs)
        action = jax.random.categorical(key, logits, axis=-1)
        return action, categorical_log_prob(logits, action)

    return act


def dist_act_fn(action_dist, dist_fn: Callable[[jax.Array], Any]) -> ActFn:
    """Samples a ~ ``action_dist`` with parameters ``dist_fn(obs)`` (logits, or (mean, log-std)
    for ``ppo_loss.DiagGaussian``) and returns (a, log π(a|s))."""
    def act(key, obs):
        return action_dist.sample(key, dist_fn(obs))

    return act


def episode_stats(traj: Transition) -> dict[str, jax.Array]:
    """Number and mean return of the episodes that ended during a [T, B] rollout."""
    n = traj.done.sum()
    return {"episodes": n, "episode_return": jnp.where(n > 0, traj.episode_return.sum() / jnp.maximum(n, 1), jnp.nan)}
