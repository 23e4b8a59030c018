"""PPMO meta-step: shapes, no recompilation, chunking, and a short 1-D distillation that works."""

import jax
import numpy as np
import pytest

from rlsl_jax.distill import PPMOConfig, epoch_keys, make_chunk, make_meta_step
from rlsl_jax.runner import seed_keys
from rlsl_jax.envs import make
from rlsl_jax.evaluate import evaluate
from rlsl_jax.networks import cartpole_learner

TINY = dict(num_envs=2, rollout_steps=16, minibatch_size=8, update_epochs=2)


def test_meta_step_shapes_and_no_recompile():
    env, params = make("NDCartPole-v0", num_dims=2)
    cfg = PPMOConfig(k=3, population=3, **TINY)
    assert cfg.num_minibatches == 4 and cfg.minibatch_len == 8
    init, meta_step = make_meta_step(cfg, env, params)
    state = init(jax.random.key(0))
    assert state.dataset.x.shape == (3, 8) and state.dataset.y.shape == (3, 4)
    assert state.carry.obs.shape == (3 * 2, 8)
    x0 = np.asarray(state.dataset.x)
    for i in range(3):
        state, metrics = meta_step(state, jax.random.key(i))
    assert meta_step._cache_size() == 1  # traced and compiled once for all calls
    assert int(state.meta_epoch) == 3
    assert not np.allclose(np.asarray(state.dataset.x), x0)  # θ moved
    assert all(np.ndim(v) == 0 and np.isfinite(v) for k, v in metrics.items() if k != "episode_return")
    chunk = make_chunk(meta_step)
    state, m = chunk(state, epoch_keys(jax.random.key(1), 3, 4))
    state, m = chunk(state, epoch_keys(jax.random.key(1), 7, 4))
    assert chunk._cache_size() == 1 and m["inner_lr"].shape == (4,) and int(state.meta_epoch) == 11


def test_chunked_equals_stepwise():
    env, params = make("NDCartPole-v0", num_dims=1)
    init, meta_step = make_meta_step(PPMOConfig(k=2, population=2, **TINY), env, params)
    s1 = s2 = init(jax.random.key(0))
    keys = epoch_keys(jax.random.key(5), 0, 3)
    for k in keys:
        s1, _ = meta_step(s1, k)
    s2, _ = make_chunk(meta_step)(s2, keys)
    np.testing.assert_allclose(np.asarray(s1.dataset.y), np.asarray(s2.dataset.y), rtol=1e-5, atol=1e-6)


def test_inner_lr_stays_positive():
    env, params = make("NDCartPole-v0", num_dims=1)
    cfg = PPMOConfig(k=2, init_inner_lr=1e-4, lr=0.05, **TINY)  # big outer steps push lr around
    init, meta_step = make_meta_step(cfg, env, params)
    state = init(jax.random.key(0))
    state, m = make_chunk(meta_step)(state, epoch_keys(jax.random.key(0), 0, 5))
    assert float(m["inner_lr"].min()) >= 1e-4


@pytest.mark.slow
def test_short_1d_distillation_solves_cartpole():
    """1-D cart-pole, k = 2: fresh learners trained by one SGD step on the dataset balance the pole."""
    env, params = make("NDCartPole-v0", num_dims=1)
    cfg = PPMOConfig(k=2, population=4)
    init, meta_step = make_meta_step(cfg, env, params)
    k_init, k_epochs = seed_keys(0)
    state = init(k_init)
    chunk = make_chunk(meta_step)
    for c in range(12):  # at most 1200 meta-epochs; stop early once training returns are high
        state, m = chunk(state, epoch_keys(k_epochs, 100 * c, 100))
        if np.nanmean(m["episode_return"][-20:]) >= 490:
            break
    r = evaluate(jax.random.key(7), state.dataset, env, params, cartpole_learner(4, 2), 200)
    assert r["mean"] >= 400, r["mean"]
