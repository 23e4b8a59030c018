"""Continuous-action PPMO pieces without brax: Gaussian log-prob/entropy by hand, the continuous
inner step by hand, the normaliser, PPMO/PPO on gymnax Pendulum-v1, and the dataset round trip."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlsl_jax import checkpoint
from rlsl_jax.distill import Dataset, PPMOConfig, init_dataset, inner_loss, inner_step, make_meta_step
from rlsl_jax.distill.ppmo import make_chunk
from rlsl_jax.envs import make
from rlsl_jax.envs.batched import VmapEnv
from rlsl_jax.networks.gaussian import GaussianLearner, mujoco_learner
from rlsl_jax.networks.mlp import MLPSpec
from rlsl_jax.rl import DiagGaussian, action_dist_of
from rlsl_jax.rl.normalize import (
    NormalizedEnv, drain_raw_returns, normalize_obs, rms_from_meta, rms_init, rms_to_arrays, rms_update, scaled_rms,
    unscaled_rms,
)
from rlsl_jax.rl.ppo import PPOConfig, make_train_step

TINY = dict(num_envs=2, rollout_steps=8, minibatch_size=16, update_epochs=1, critic_hidden=(16,))


def test_gaussian_log_prob_and_entropy_by_hand():
    mean = np.array([[0.5, -1.0, 2.0]], np.float32)
    log_std = np.array([[0.0, np.log(2.0), -1.0]], np.float32)
    a = np.array([[1.0, 0.0, 2.5]], np.float32)
    std = np.exp(log_std)
    expected = np.sum(-0.5 * ((a - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi), -1)
    np.testing.assert_allclose(DiagGaussian.log_prob((mean, log_std), a), expected, rtol=1e-6)
    np.testing.assert_allclose(DiagGaussian.entropy((mean, log_std)),
                               np.sum(np.log(std) + 0.5 * np.log(2 * np.pi * np.e), -1), rtol=1e-6)
    # a sample's returned log-prob is the log-prob of that sample; samples have the right spread
    m, ls = jnp.zeros((20000, 2)), jnp.broadcast_to(jnp.log(jnp.array([0.5, 3.0])), (20000, 2))
    act, lp = DiagGaussian.sample(jax.random.key(0), (m, ls))
    np.testing.assert_allclose(lp, DiagGaussian.log_prob((m, ls), act), rtol=1e-6)
    np.testing.assert_allclose(np.std(np.asarray(act), 0), [0.5, 3.0], rtol=0.03)


def test_continuous_inner_step_by_hand():
    # linear learner: means = x W + b, log_std a parameter; inner loss = mean((xW+b-Y)^2) + mean((s-t)^2)
    k, d, c = 4, 3, 2
    rng = np.random.default_rng(0)
    x, y, w, b = rng.normal(size=(k, d)), rng.normal(size=(k, c)), rng.normal(size=(d, c)), rng.normal(size=(c,))
    s, t, lr = np.array([0.1, -0.3]), np.array([0.7, 0.2]), 0.5
    learner = GaussianLearner("lin", MLPSpec(d, (), c))
    params = {"mlp": [{"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}],
              "log_std": jnp.asarray(s, jnp.float32)}
    ds = Dataset(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), jnp.float32(lr),
                 log_std=jnp.asarray(t, jnp.float32))
    resid = x @ w + b - y
    np.testing.assert_allclose(inner_loss(learner.apply, params, ds), (resid**2).mean() + ((s - t) ** 2).mean(),
                               rtol=1e-5)
    new = inner_step(learner.apply, params, ds)
    np.testing.assert_allclose(new["mlp"][0]["w"], w - lr * 2.0 / (k * c) * x.T @ resid, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new["mlp"][0]["b"], b - lr * 2.0 / (k * c) * resid.sum(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new["log_std"], s - lr * 2.0 / c * (s - t), rtol=1e-5, atol=1e-6)
    # the learner's policy is (means, log-std broadcast)
    mean, ls = learner.policy(new, jnp.asarray(x, jnp.float32))
    assert mean.shape == ls.shape == (k, c)


def test_discrete_dataset_unchanged_by_the_continuous_option():
    key = jax.random.key(3)
    kx, ky = jax.random.split(key)
    disc, cont = init_dataset(key, 5, 4, 2), init_dataset(key, 5, 4, 2, continuous=True)
    assert disc.log_std is None
    np.testing.assert_array_equal(disc.x, jax.random.normal(kx, (5, 4)))
    np.testing.assert_array_equal(disc.y, jax.random.normal(ky, (5, 2)))
    np.testing.assert_array_equal(cont.x, disc.x)
    np.testing.assert_array_equal(cont.log_std, np.zeros(2))


def test_running_mean_std_matches_numpy_and_normaliser_env():
    rng = np.random.default_rng(1)
    batches = [rng.normal(3.0, 2.0, size=(n, 2)).astype(np.float32) for n in (5, 7, 11)]
    rms = rms_init(2)
    for b in batches:
        rms = rms_update(rms, jnp.asarray(b))
    allb = np.concatenate(batches)
    np.testing.assert_allclose(rms.mean, allb.mean(0), rtol=1e-3)
    np.testing.assert_allclose(rms.var, allb.var(0), rtol=1e-3)
    np.testing.assert_allclose(normalize_obs(rms, jnp.asarray(allb)).mean(0), 0.0, atol=1e-3)

    env, params = make("Pendulum-v1")
    plain = VmapEnv(env, params, 3)
    nenv = NormalizedEnv(plain, gamma=0.9)
    _, st = nenv.reset(jax.random.key(0))
    _, pst = plain.reset(jax.random.key(0))
    raw_sum, disc, scaled = np.zeros(3), np.zeros(3), None
    for i in range(5):
        res = nenv.step(jax.random.key(i + 1), st, jnp.ones((3, 1)))
        pres = plain.step(jax.random.key(i + 1), pst, jnp.ones((3, 1)))
        st, pst = res.state, pres.state
        raw_sum += np.asarray(pres.reward)
        disc = disc * 0.9 + np.asarray(pres.reward)
        scaled, raw = np.asarray(res.reward), np.asarray(pres.reward)
    assert float(st.obs_rms.count) > 15  # 3 reset obs + 5 x 3 successors
    np.testing.assert_allclose(st.raw_return, raw_sum, rtol=1e-5)  # raw (unscaled) returns are tracked
    np.testing.assert_allclose(st.disc_return, disc, rtol=1e-5)
    np.testing.assert_allclose(scaled, raw / np.sqrt(float(st.ret_rms.var) + 1e-8), rtol=1e-4)
    np.testing.assert_allclose(res.obs, normalize_obs(st.obs_rms, pres.obs), rtol=1e-5, atol=1e-6)
    # frozen statistics: the same normaliser, no updates
    frozen = NormalizedEnv(VmapEnv(env, params, 3), update=False, scale_reward=False, obs_rms=st.obs_rms)
    o2, st2 = frozen.reset(jax.random.key(0))
    r2 = frozen.step(jax.random.key(9), st2, jnp.ones((3, 1)))
    np.testing.assert_array_equal(r2.state.obs_rms.mean, st.obs_rms.mean)
    np.testing.assert_allclose(o2, normalize_obs(st.obs_rms, VmapEnv(env, params, 3).reset(jax.random.key(0))[0]))


def test_obs_scale_divides_the_normalised_obs_and_folds_into_stored_statistics():
    """NormalizedEnv(obs_scale=c) feeds obs / c of the plain normalisation while its state keeps the
    plain running statistics; the plain formula on scaled_rms (what a dataset stores) gives exactly
    the training inputs, and unscaled_rms inverts it."""
    env, params = make("Pendulum-v1")
    plain, scaled = NormalizedEnv(VmapEnv(env, params, 3)), NormalizedEnv(VmapEnv(env, params, 3), obs_scale=4.0)
    (o1, s1), (o4, s4) = plain.reset(jax.random.key(0)), scaled.reset(jax.random.key(0))
    r1, r4 = plain.step(jax.random.key(1), s1, jnp.ones((3, 1))), scaled.step(jax.random.key(1), s4, jnp.ones((3, 1)))
    np.testing.assert_array_equal(r4.state.obs_rms.var, r1.state.obs_rms.var)
    assert np.abs(np.asarray(r1.obs)).max() > 0.5  # not a trivially small input
    np.testing.assert_allclose(r4.obs, np.asarray(r1.obs) / 4.0, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(o4, np.asarray(o1) / 4.0, rtol=1e-5, atol=1e-7)
    stored = scaled_rms(r4.state.obs_rms, 4.0)
    raw = VmapEnv(env, params, 3).reset(jax.random.key(5))[0]
    np.testing.assert_allclose(normalize_obs(stored, raw), normalize_obs(r4.state.obs_rms, raw, scale=4.0), rtol=1e-5)
    np.testing.assert_allclose(unscaled_rms(stored, 4.0).var, r4.state.obs_rms.var, rtol=1e-5)
    assert scaled_rms(r4.state.obs_rms, 1.0) is r4.state.obs_rms
    with pytest.raises(ValueError, match="obs_scale must be > 0"):
        NormalizedEnv(VmapEnv(env, params, 3), obs_scale=0.0)


def test_ppmo_on_pendulum_learns_log_std_target_without_recompiling():
    env, params = make("Pendulum-v1")
    cfg = PPMOConfig(k=4, population=2, clip_eps=0.1, **TINY)
    benv = NormalizedEnv(VmapEnv(env, params, cfg.population * cfg.num_envs))
    init, meta_step = make_meta_step(cfg, env, params, benv=benv)
    state = init(jax.random.key(0))
    assert state.dataset.y.shape == (4, 1) and state.dataset.log_std.shape == (1,)
    chunk = make_chunk(meta_step)
    state, m = chunk(state, jax.random.split(jax.random.key(1), 2))
    state, m = chunk(state, jax.random.split(jax.random.key(2), 2))
    assert chunk._cache_size() == 1
    assert np.all(np.isfinite(np.asarray(m["policy_loss"])))
    assert float(jnp.abs(state.dataset.log_std).max()) > 0  # the outer loss moves the log-std target
    assert float(state.carry.env_state.obs_rms.count) > 2 * 8 * 4  # statistics carried over meta-epochs
    # raw returns of the running (200-step) episodes: pendulum rewards are <= 0, summed unscaled
    assert float(state.carry.env_state.raw_return.max()) < 0
    drained, stats = drain_raw_returns(state.carry.env_state)
    assert int(stats["episodes"]) == 0 and np.isnan(float(stats["episode_return"]))  # none ended in 32 steps


def test_ppo_continuous_updates_mean_and_log_std():
    env, params = make("Pendulum-v1")
    init, step = make_train_step(PPOConfig(**TINY), env, params)
    s0 = init(jax.random.key(0))
    assert set(s0.actor) == {"mlp", "log_std"}
    s1, m = step(s0, jax.random.key(1))
    assert np.isfinite(float(m["policy_loss"]))
    assert not np.allclose(s1.actor["log_std"], s0.actor["log_std"])
    assert not np.allclose(s1.actor["mlp"][-1]["w"], s0.actor["mlp"][-1]["w"])


def test_learner_action_dist_and_default():
    lr = mujoco_learner(11, 3)
    assert action_dist_of(lr) is DiagGaussian
    p = lr.sample(jax.random.key(0), 5)
    assert p["mlp"][0]["w"].shape == (5, 11, 64) and p["log_std"].shape == (5, 3)
    np.testing.assert_array_equal(p["log_std"], 0.0)


def test_dataset_with_log_std_and_normaliser_round_trips(tmp_path):
    rms = rms_update(rms_init(3), jnp.arange(12.0).reshape(4, 3))
    ds = init_dataset(jax.random.key(0), 6, 3, 2, continuous=True).replace(log_std=jnp.array([0.3, -0.2]))
    item = {"x": ds.x, "y": ds.y, "inner_lr": ds.inner_lr, "log_std": ds.log_std, **rms_to_arrays(rms)}
    checkpoint.save(tmp_path / "ck", 3, {"a": jnp.zeros(2)}, item, {"env_id": "brax/hopper"})
    got, meta = checkpoint.load_dataset(tmp_path / "ck")
    np.testing.assert_array_equal(got.log_std, ds.log_std)
    np.testing.assert_array_equal(got.x, ds.x)
    back = rms_from_meta(meta)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(rms)):
        np.testing.assert_allclose(a, b)
    npz = checkpoint.export_npz(tmp_path / "ck", tmp_path / "d.npz")
    with np.load(npz) as z:
        assert {"x", "y", "inner_lr", "log_std", "obs_mean", "obs_var", "obs_count"} <= set(z.files)
    got2, meta2 = checkpoint.load_dataset(npz)
    np.testing.assert_array_equal(got2.log_std, ds.log_std)
    np.testing.assert_allclose(rms_from_meta(meta2).var, rms.var)
    assert math.isclose(float(rms_from_meta(meta2).count), float(rms.count), rel_tol=1e-6)
