"""Direct PPO: config, minibatching, shared RL pieces, no recompilation, vmap over seeds, learning."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlsl_jax import rl
from rlsl_jax.envs import make
from rlsl_jax.networks import cartpole_learner
from rlsl_jax.rl import ppo
from rlsl_jax.evaluate import policy_returns
from rlsl_jax.rl.ppo import PPOConfig, epoch_keys, make_seed_chunk, make_train_step

TINY = PPOConfig(num_envs=3, rollout_steps=16, minibatch_size=16, update_epochs=2)


def test_config_defaults_and_sizes():
    cfg = PPOConfig()
    # PPMO's settings (the paper's Appendix A): 2000 transitions, 4 epochs x 4 minibatches of 500.
    assert (cfg.num_envs, cfg.rollout_steps, cfg.update_epochs, cfg.anneal_steps) == (10, 200, 4, 0)
    assert (cfg.lr, cfg.critic_lr, cfg.adam_eps, cfg.max_grad_norm, cfg.clip_eps, cfg.ent_coef) == \
        (2.5e-4, 2.5e-4, 1e-5, 0.5, 0.2, 0.01)
    assert cfg.transitions_per_epoch == 2000 and cfg.num_minibatches == 4 and cfg.minibatch_len == 500
    # structure: value clipping on (what makes 1-D cart-pole stable), two optimisers, truncations bootstrapped
    assert (cfg.clip_value, cfg.combined_loss, cfg.bootstrap_truncation) == (True, False, True)
    from rlsl_jax.distill.ppmo import PPMOConfig

    m = PPMOConfig()
    assert (m.num_minibatches, m.minibatch_len, m.update_epochs) == (cfg.num_minibatches, cfg.minibatch_len, 4)
    fine = PPOConfig(minibatch_size=128)
    assert fine.num_minibatches == 16 and fine.minibatch_len == 125
    assert cfg.epochs_for(500_000) == 250 and cfg.epochs_for(500_001) == 251 and cfg.epochs_for(1) == 1
    for bad in ({"num_envs": 0}, {"minibatch_size": 0}, {"anneal_steps": -1}):
        with pytest.raises(ValueError):
            PPOConfig(**bad)


def test_flatten_and_shuffle_minibatches():
    x = jnp.arange(3 * 4).reshape(3, 4)  # [T=3, E=4], value = t*4 + e
    flat = ppo.flatten_time_env(x)
    # env-major: env 0's steps first
    np.testing.assert_array_equal(flat[:3], [0, 4, 8])
    n = 12
    batch = (jnp.arange(n), jnp.arange(n) * 10.0, jnp.arange(2 * n).reshape(n, 2))
    mbs = ppo.shuffle_minibatches(jax.random.key(0), batch, 2, 5)
    assert mbs[0].shape == (2, 5) and mbs[2].shape == (2, 5, 2)
    idx = np.asarray(mbs[0]).ravel()
    assert len(set(idx.tolist())) == 10 and not np.array_equal(idx, np.arange(10))  # a permutation, shuffled
    np.testing.assert_array_equal(np.asarray(mbs[1]).ravel(), idx * 10.0)  # same permutation on every leaf
    np.testing.assert_array_equal(np.asarray(mbs[2])[..., 0].ravel(), 2 * idx)


def test_uses_the_shared_rl_functions():
    # The baseline must reuse PPMO's rollout / GAE / loss, not copies of them.
    assert ppo.rollout is rl.rollout and ppo.gae_advantages is rl.gae_advantages
    assert ppo.ppo_policy_loss is rl.ppo_policy_loss and ppo.value_loss is rl.value_loss
    assert ppo.dist_act_fn is rl.dist_act_fn and ppo.action_dist_of is rl.action_dist_of


def test_step_updates_and_does_not_recompile():
    env, params = make("NDCartPole-v0", num_dims=2)
    init, step = make_train_step(TINY, env, params)
    state = init(jax.random.key(0))
    spec = cartpole_learner(8, 4).spec
    assert [l["w"].shape for l in state.actor] == list(spec.shapes)
    s1, m1 = step(state, jax.random.key(1))
    s2, m2 = step(s1, jax.random.key(2))
    assert step._cache_size() == 1
    assert int(s2.epoch) == 2
    for name in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac", "grad_norm", "last_return"):
        assert np.ndim(m2[name]) == 0 and np.isfinite(m2[name]), name
    # both networks moved, the env state carried over
    assert not np.allclose(s2.actor[0]["w"], state.actor[0]["w"])
    assert not np.allclose(s2.critic[-1]["w"], state.critic[-1]["w"])
    assert not np.allclose(s2.carry.obs, state.carry.obs)


def test_vmap_over_seeds_equals_separate_runs():
    env, params = make("NDCartPole-v0", num_dims=1)
    init, step = make_train_step(TINY, env, params)
    keys = jax.random.split(jax.random.key(3), 2)
    states = jax.vmap(init)(keys)
    ek = jax.vmap(lambda k: epoch_keys(k, 0, 3))(keys)
    out, metrics = make_seed_chunk(step)(states, ek)
    assert metrics["policy_loss"].shape == (2, 3)
    for i in range(2):
        s = init(keys[i])
        for j in range(3):
            s, _ = step(s, ek[i, j])
        np.testing.assert_allclose(s.actor[-1]["w"], out.actor[-1]["w"][i], rtol=2e-4, atol=1e-6)
    # different seeds gave different agents
    assert not np.allclose(out.actor[-1]["w"][0], out.actor[-1]["w"][1])


def test_annealing_reaches_zero_learning_rate():
    env, params = make("NDCartPole-v0", num_dims=1)
    cfg = dataclasses.replace(TINY, anneal_steps=2 * TINY.transitions_per_epoch)
    init, step = make_train_step(cfg, env, params)
    s, _ = step(init(jax.random.key(0)), jax.random.key(1))
    s, _ = step(s, jax.random.key(2))
    s3, _ = step(s, jax.random.key(3))  # past the schedule: rate 0, actor frozen
    np.testing.assert_array_equal(s3.actor[0]["w"], s.actor[0]["w"])


def test_combined_loss_is_one_optimiser_over_both_networks():
    env, params = make("NDCartPole-v0", num_dims=1)
    key, k_step = jax.random.key(4), jax.random.key(5)
    loose = dataclasses.replace(TINY, max_grad_norm=1e9)  # the clip never binds
    runs = {}
    for name, cfg in {"two": loose, "one": dataclasses.replace(loose, combined_loss=True),
                      "one_clipped": dataclasses.replace(TINY, combined_loss=True, max_grad_norm=1e-3)}.items():
        init, step = make_train_step(cfg, env, params)
        s0 = init(key)
        runs[name] = (s0, step(s0, k_step)[0])
    s0, one = runs["one"]
    assert s0.critic_opt == () and len(jax.tree.leaves(s0.actor_opt)) > len(jax.tree.leaves(runs["two"][0].actor_opt))
    # Adam is per parameter: without a binding clip, the one optimiser moves the actor exactly as the
    # actor's own optimiser does (the critic differs only through vf_coef vs Adam's eps).
    two = runs["two"][1]
    for a, b in zip(jax.tree.leaves(one.actor), jax.tree.leaves(two.actor)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert not np.allclose(one.critic[-1]["w"], s0.critic[-1]["w"])
    # ONE global-norm clip over both gradients: the (large) value gradient shrinks the actor's step.
    clipped = runs["one_clipped"][1]
    moved = lambda s: float(sum(jnp.abs(a - b).sum() for a, b in zip(jax.tree.leaves(s.actor),  # noqa: E731
                                                                      jax.tree.leaves(s0.actor))))
    assert 0 < moved(clipped) < moved(one)


def test_clipped_value_loss_by_hand():
    v, old, ret = jnp.array([1.0, 0.0, 5.0]), jnp.array([0.0, 0.0, 4.0]), jnp.array([3.0, -1.0, 4.5])
    # sample 0: V moved 1.0 > 0.2 towards R: clipped 0.2 -> (0.2-3)^2 = 7.84 > (1-3)^2 = 4
    # sample 1: unclipped (0+1)^2 = 1; sample 2: V moved 1.0 away: clipped 4.2 -> 0.09 < (5-4.5)^2 = 0.25
    expected = 0.5 * (7.84 + 1.0 + 0.25) / 3
    np.testing.assert_allclose(ppo.clipped_value_loss(v, old, ret, 0.2), expected, rtol=1e-6)
    np.testing.assert_allclose(ppo.clipped_value_loss(v, old, ret, 1e6), rl.value_loss(v, ret), rtol=1e-6)


def test_value_clipping_and_truncation_options_change_the_update():
    env, params = make("NDCartPole-v0", num_dims=1, max_steps_in_episode=5)  # truncations in every rollout
    key, k_step = jax.random.key(6), jax.random.key(7)
    out = {}
    for name, kw in {"base": {"clip_value": False}, "clip_value": {"clip_value": True},
                     "no_bootstrap": {"clip_value": False, "bootstrap_truncation": False}}.items():
        # a large critic rate so that its predictions move by more than clip_eps within one epoch
        init, step = make_train_step(dataclasses.replace(TINY, critic_lr=0.05, **kw), env, params)
        out[name] = step(init(key), k_step)[0]
    base = out["base"]
    for name in ("clip_value", "no_bootstrap"):
        assert not np.allclose(out[name].critic[-1]["w"], base.critic[-1]["w"]), name
    # value clipping touches the critic only (two separate optimisers)
    np.testing.assert_array_equal(out["clip_value"].actor[0]["w"], base.actor[0]["w"])


@pytest.mark.slow
def test_ppo_learns_1d_cartpole():
    """4 agents, 60k env steps each (30 epochs, ~20 s on 2 CPU cores): random play scores ~22."""
    env, params = make("NDCartPole-v0", num_dims=1)
    cfg = PPOConfig(minibatch_size=128)  # 16 updates per epoch: learns in fewer env steps
    from rlsl_jax import runner

    init, step = make_train_step(cfg, env, params)
    k_init, k_epochs = jax.random.split(jax.random.key(0))
    states, metrics = [], []
    states, _ = runner.run(init, step, epochs=30, init_key=k_init, epoch_key=k_epochs, num_seeds=4, chunk=30,
                           on_chunk=lambda s, m, e: metrics.append(m) and False, log_fields=None)
    metrics = metrics[0]
    train = np.nanmean(np.asarray(metrics["episode_return"])[:, -5:], axis=1)
    assert np.nanmean(np.asarray(metrics["episode_return"])[:, 0]) < 40
    assert train.min() > 100 and train.mean() > 200, train
    learner = cartpole_learner(4, 2)
    score = jax.jit(jax.vmap(lambda k, a: policy_returns(k, a, env, params, learner, 20)))
    final = np.asarray(score(jax.random.split(jax.random.key(1), 4), states.actor)).mean(1)
    assert final.mean() > 200, final
