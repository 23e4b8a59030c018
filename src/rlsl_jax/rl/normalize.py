"""Observation normalisation and reward scaling for continuous control, as pure pytrees.

``RunningMeanStd`` is the parallel (Chan et al.) running mean/variance of gymnasium's
``NormalizeObservation`` / SB3's ``VecNormalize``; observations are mapped to
clip((obs − mean) / sqrt(var + 1e-8), ±10). Rewards are divided by the running std of each env's
discounted return (γ) and clipped to ±10 — gymnasium's ``NormalizeReward`` as used by CleanRL's
``ppo_continuous_action`` — which only rescales what the critic and the advantages see.

``NormalizedEnv`` wraps ANY batched env (``envs.batched`` interface: ``num_envs``, ``reset(key)``,
``step(key, state, action) -> StepResult``) and keeps the statistics in its state, so they live in
the rollout carry, update inside the jitted step (outside every gradient: the env is never
differentiated), carry over between meta-epochs and are checkpointed with the training state.
Because rewards are rescaled, the wrapper also sums the RAW rewards per env so that logged
returns stay in the env's units (``raw_stats``). The statistics of the observation normaliser are
part of a distilled dataset: the learners trained on it must see observations normalised the same
way (``NormalizedEnv(..., update=False)`` with the stored statistics).

``scale`` c (default 1) divides the normalised observations further: clip((obs − mean) / (c·sqrt(var
+ 1e-8)), ±10), so the learners see inputs of std 1/c. A dataset stores the statistics with c folded
into the variance (``scaled_rms``: var' = c²·(var + 1e-8) − 1e-8), so that anyone applying the
plain formula to the stored ``obs_mean``/``obs_var`` feeds its learners exactly what training fed
them; ``unscaled_rms`` recovers the running statistics.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from rlsl_jax.envs.batched import StepResult

OBS_CLIP = 10.0
REWARD_CLIP = 10.0
EPS = 1e-8


@flax.struct.dataclass
class RunningMeanStd:
    """Running mean/var over a stream of batches of shape [B, *shape]."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array   # float32 [] samples seen (starts at 1e-4, as gymnasium)


def rms_init(shape: tuple[int, ...] | int) -> RunningMeanStd:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return RunningMeanStd(jnp.zeros(shape, jnp.float32), jnp.ones(shape, jnp.float32), jnp.asarray(1e-4, jnp.float32))


def rms_update(rms: RunningMeanStd, batch: jax.Array) -> RunningMeanStd:
    """Merges a batch [B, *shape] into the statistics (parallel variance formula)."""
    batch = batch.astype(jnp.float32)
    b_mean, b_var, b_count = batch.mean(0), batch.var(0), jnp.asarray(batch.shape[0], jnp.float32)
    delta = b_mean - rms.mean
    tot = rms.count + b_count
    mean = rms.mean + delta * b_count / tot
    m2 = rms.var * rms.count + b_var * b_count + delta**2 * rms.count * b_count / tot
    return RunningMeanStd(mean, m2 / tot, tot)


def normalize_obs(rms: RunningMeanStd, obs: jax.Array, clip: float = OBS_CLIP, scale: float = 1.0) -> jax.Array:
    """clip((obs − mean) / (scale · sqrt(var + 1e-8)), ±clip)."""
    return jnp.clip((obs - rms.mean) / (scale * jnp.sqrt(rms.var + EPS)), -clip, clip)


def scaled_rms(rms: RunningMeanStd, scale: float) -> RunningMeanStd:
    """The statistics whose plain ``normalize_obs`` is ``normalize_obs(rms, ·, scale=scale)``:
    var' = scale²·(var + 1e-8) − 1e-8 (what a dataset stores; ``rms`` itself if scale is 1)."""
    if scale == 1.0:
        return rms
    return rms.replace(var=scale**2 * (rms.var + EPS) - EPS)


def unscaled_rms(rms: RunningMeanStd, scale: float) -> RunningMeanStd:
    """Inverse of ``scaled_rms``: the running statistics behind stored ones of input scale ``scale``."""
    if scale == 1.0:
        return rms
    return rms.replace(var=(rms.var + EPS) / scale**2 - EPS)


@flax.struct.dataclass
class NormState:
    """State of ``NormalizedEnv``: the inner env's state, the statistics and raw-return counters."""

    env_state: Any
    obs_rms: RunningMeanStd
    ret_rms: RunningMeanStd     # of the discounted returns (reward scaling)
    disc_return: jax.Array      # [B] discounted return in progress (reward scaling)
    raw_return: jax.Array       # [B] raw return of the episode in progress
    raw_sum: jax.Array          # [] sum of raw returns of episodes finished since the last drain
    raw_count: jax.Array        # [] number of those episodes
    raw_last: jax.Array         # [B] raw return of each env's last finished episode


class NormalizedEnv:
    """A batched env with normalised observations and scaled rewards (see module docstring).

    Args:
      benv: the batched env.
      gamma: discount of the reward scaler's returns.
      norm_obs, scale_reward: switch either part off.
      update: False freezes the statistics (evaluation with a dataset's stored normaliser).
      obs_rms: initial observation statistics (default: mean 0, var 1, count 1e-4).
      obs_scale: c > 0, observations are normalised to std 1/c (module docstring); the state's
        statistics stay the plain running ones.
    """

    def __init__(self, benv, gamma: float = 0.99, norm_obs: bool = True, scale_reward: bool = True,
                 update: bool = True, obs_rms: RunningMeanStd | None = None, obs_scale: float = 1.0):
        if not obs_scale > 0:
            raise ValueError(f"obs_scale must be > 0 (got {obs_scale})")
        self.benv, self.gamma, self.norm_obs, self.scale_reward, self.update = benv, gamma, norm_obs, scale_reward, update
        self.obs_scale = float(obs_scale)
        self.num_envs = benv.num_envs
        self._obs_rms0 = obs_rms

    def _spaces(self, params):
        # bridges (brax, envpool) expose the spaces; a VmapEnv's come from its gymnax env
        if hasattr(self.benv, "observation_space"):
            return self.benv, params
        return self.benv.env, self.benv.env_params if params is None else params

    def observation_space(self, params=None):
        src, params = self._spaces(params)
        return src.observation_space(params)

    def action_space(self, params=None):
        src, params = self._spaces(params)
        return src.action_space(params)

    def _obs(self, rms, obs):
        return normalize_obs(rms, obs, scale=self.obs_scale) if self.norm_obs else obs.astype(jnp.float32)

    def reset(self, key: jax.Array) -> tuple[jax.Array, NormState]:
        obs, env_state = self.benv.reset(key)
        # strong dtypes (gymnax's Pendulum resets with a weakly typed leaf that its step makes strong):
        # the carry's type must be a fixed point of the step, or chunked scans recompile
        env_state = jax.tree.map(lambda x: jnp.asarray(x, dtype=x.dtype), env_state)
        rms = self._obs_rms0 if self._obs_rms0 is not None else rms_init(obs.shape[1:])
        rms = jax.tree.map(jnp.asarray, rms)
        if self.update and self.norm_obs:
            rms = rms_update(rms, obs)
        zeros = jnp.zeros((self.num_envs,), jnp.float32)
        state = NormState(env_state, rms, rms_init(()), zeros, zeros, jnp.zeros((), jnp.float32),
                          jnp.zeros((), jnp.float32), zeros)
        return self._obs(rms, obs), state

    def step(self, key: jax.Array, state: NormState, action: jax.Array) -> StepResult:
        res = self.benv.step(key, state.env_state, action)
        done = jnp.logical_or(res.terminated, res.truncated)
        rms = state.obs_rms
        if self.update and self.norm_obs:
            rms = rms_update(rms, res.final_obs)   # the true successors (auto-reset obs are start states)
        reward = res.reward.astype(jnp.float32)
        disc = state.disc_return * self.gamma + reward
        ret_rms = rms_update(state.ret_rms, disc) if (self.update and self.scale_reward) else state.ret_rms
        scaled = jnp.clip(reward / jnp.sqrt(ret_rms.var + EPS), -REWARD_CLIP, REWARD_CLIP) if self.scale_reward else reward
        raw = state.raw_return + reward
        new = NormState(
            res.state, rms, ret_rms, jnp.where(done, 0.0, disc), jnp.where(done, 0.0, raw),
            state.raw_sum + jnp.sum(jnp.where(done, raw, 0.0)), state.raw_count + done.sum(),
            jnp.where(done, raw, state.raw_last),
        )
        return StepResult(self._obs(rms, res.obs), new, scaled, res.terminated, res.truncated,
                          self._obs(rms, res.final_obs))


def drain_raw_returns(state: NormState) -> tuple[NormState, dict[str, jax.Array]]:
    """(state with the finished-episode counters zeroed, {"episode_return": mean raw return of the
    episodes finished since the last drain (nan if none), "episodes": their number,
    "last_return": mean over envs of each env's last raw return})."""
    n = state.raw_count
    stats = {"episode_return": jnp.where(n > 0, state.raw_sum / jnp.maximum(n, 1.0), jnp.nan),
             "episodes": n, "last_return": state.raw_last.mean()}
    return state.replace(raw_sum=jnp.zeros_like(state.raw_sum), raw_count=jnp.zeros_like(state.raw_count)), stats


def rms_to_arrays(rms: RunningMeanStd) -> dict[str, jax.Array]:
    """The statistics as the dataset's extra arrays ``obs_mean``, ``obs_var``, ``obs_count``
    (stored with X and Y in checkpoints and npz exports)."""
    return {"obs_mean": rms.mean, "obs_var": rms.var, "obs_count": rms.count}


def rms_from_meta(meta: dict) -> RunningMeanStd | None:
    """The observation normaliser stored with a dataset (``checkpoint.load_dataset``'s
    ``meta["extra"]``), or None if the dataset has none."""
    extra = meta.get("extra") or {}
    if "obs_mean" not in extra:
        return None
    return RunningMeanStd(jnp.asarray(extra["obs_mean"], jnp.float32), jnp.asarray(extra["obs_var"], jnp.float32),
                          jnp.asarray(extra["obs_count"], jnp.float32).reshape(()))
