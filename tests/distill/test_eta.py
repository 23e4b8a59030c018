"""η (the inner learning rate) in PPMO's optimiser: the paper's clamped raw η is unchanged, Adam on
log η keeps η > 0 without a clamp, η's own rate applies, the state keeps η itself, and the flags."""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rlsl_jax.config import add_config_args, config_from_args
from rlsl_jax.distill import Dataset, PPMOConfig, epoch_keys, init_dataset, make_meta_step
from rlsl_jax.distill import ppmo as ppmo_module
from rlsl_jax.distill.ppmo import inner_lr_transform, make_optimizer
from rlsl_jax.envs import make

TINY = dict(num_envs=2, rollout_steps=16, minibatch_size=8, update_epochs=2)  # 2 epochs x 4 minibatches
# The paper's optimiser, whatever PPMOConfig's defaults are (the flags of the "paper" row).
PAPER = dict(inner_lr_param="clamp", inner_lr_lr=0.0, min_inner_lr=1e-4, init_inner_lr=0.02)
# Before the η options existed (commit af26c83), this config, init key 3 and epoch keys
# epoch_keys(key(4), 0, 4) gave these η after each meta-step (η clamped at 1e-4 for three steps)
# and these X, Y after the fourth; computed with that code on the 2-core CPU, jax 0.10.2.
REF_CFG = dict(k=2, init_inner_lr=2e-3, lr=1e-2, **TINY)
REF_ETA = [9.999999747378752e-05, 9.999999747378752e-05, 9.999999747378752e-05, 0.00010758759890450165]
REF_X = [[0.7396011352539062, -0.0293269045650959, 2.410559892654419, 0.7623489499092102],
         [-0.8333103656768799, 0.8026326298713684, 0.7796748280525208, -2.0124194622039795]]
REF_Y = [[-0.37903863191604614, 0.07000643014907837], [-1.0405468940734863, -0.5893000364303589]]


def run_steps(cfg, n=4, init_key=3, epoch_key=4):
    env, params = make("NDCartPole-v0", num_dims=1)
    init, step = make_meta_step(cfg, env, params)
    s = init(jax.random.key(init_key))
    states = []
    for k in epoch_keys(jax.random.key(epoch_key), 0, n):
        s, _ = step(s, k)
        states.append(s)
    return states


def old_optimizer(lr, cfg):  # the code path before the η options: clip, Adam, nothing else
    return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(lr, eps=cfg.adam_eps))


def old_project(ds, *_):
    return ds.replace(inner_lr=jnp.maximum(ds.inner_lr, 1e-4))


def test_paper_flags_are_bit_identical_to_the_old_code_path(monkeypatch):
    cfg = PPMOConfig(**{**REF_CFG, **PAPER, "init_inner_lr": REF_CFG["init_inner_lr"]})
    new = run_steps(cfg)
    monkeypatch.setattr(ppmo_module, "make_optimizer", old_optimizer)
    monkeypatch.setattr(ppmo_module, "project", old_project)
    old = run_steps(cfg)
    for a, b in zip(new, old):  # same process, same machine: exactly the same numbers
        for u, v in zip(jax.tree.leaves((a.dataset, a.dataset_opt, a.critic)),
                        jax.tree.leaves((b.dataset, b.dataset_opt, b.critic))):
            np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    assert jax.tree.structure(new[-1].dataset_opt) == jax.tree.structure(old[-1].dataset_opt)
    # and the numbers the old code gave (exact on the machine that computed them; other CPUs may
    # round XLA's float32 differently, hence the tolerance: on 2026-12-01 a 2-core CPU gave the last
    # η 1.01e-5 off, relative; 1e-4 still catches any change of η's 7.6e-6 step above its floor
    # larger than 0.15 %)
    np.testing.assert_allclose([float(s.dataset.inner_lr) for s in new], REF_ETA, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(new[-1].dataset.x), REF_X, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(new[-1].dataset.y), REF_Y, rtol=1e-4, atol=1e-5)


def test_paper_settings_give_direct_ppos_optimiser_and_one_state_layout_for_all():
    ds = init_dataset(jax.random.key(0), 3, 4, 2)
    paper = make_optimizer(2.5e-4, PPMOConfig(**PAPER))
    assert isinstance(paper.init(ds), tuple) and len(paper.init(ds)) == 2  # chain(clip, adam), no wrapper
    layouts = {jax.tree.structure(make_optimizer(2.5e-4, PPMOConfig(**kw)).init(ds))
               for kw in (PAPER, dict(inner_lr_param="log", inner_lr_lr=0.03), dict(inner_lr_lr=0.01))}
    assert len(layouts) == 1  # checkpoints of any setting restore into any other


def test_log_eta_stays_positive_is_never_clamped_and_moves_at_its_rate():
    eta_lr = 0.3
    cfg = PPMOConfig(k=2, lr=1e-2, init_inner_lr=2e-3, inner_lr_param="log", inner_lr_lr=eta_lr, min_inner_lr=0.0,
                     **TINY)
    etas = np.array([float(s.dataset.inner_lr) for s in run_steps(cfg, n=6)])
    assert np.all(np.isfinite(etas)) and np.all(etas > 0)
    assert etas.min() < 1e-4, etas  # below the clamp's floor: nothing held it there
    # 8 Adam updates per meta-step (TINY): log η moves by at most 8·inner_lr_lr per meta-step, and by
    # more than 8·lr (X and Y's rate) could move it
    steps = np.abs(np.diff(np.log(np.concatenate([[cfg.init_inner_lr], etas]))))
    assert np.all(steps <= 8 * eta_lr * 1.001), steps
    assert steps.max() > 8 * cfg.lr * 2, steps
    # optimiser level: a gradient that always pushes η down; η = η0·exp(Σ Δρ) > 0, far below any floor
    tx = make_optimizer(1e-2, cfg)
    ds = init_dataset(jax.random.key(0), 2, 4, 2, inner_lr=1e-3)
    state = tx.init(ds)
    g = jax.tree.map(jnp.zeros_like, ds).replace(inner_lr=jnp.float32(5.0))
    for _ in range(100):
        upd, state = tx.update(g, state, ds)
        ds = optax.apply_updates(ds, upd)
    # > 0 and far below the floor a clamp would hold (Adam's steps on log η shrink once η·g falls under eps)
    assert 0 < float(ds.inner_lr) < 1e-5, float(ds.inner_lr)


@pytest.mark.parametrize("param", ["clamp", "log"])
def test_eta_moves_at_its_own_rate(param):
    """Adam's first step is lr·sign(g) per element: X and Y move by lr, η (or log η) by inner_lr_lr."""
    lr, eta_lr, eta0 = 2.5e-4, 1e-2, 0.5
    cfg = PPMOConfig(lr=lr, inner_lr_param=param, inner_lr_lr=eta_lr)
    tx = make_optimizer(lr, cfg)
    ds = init_dataset(jax.random.key(0), 2, 4, 2, inner_lr=eta0)
    g = jax.tree.map(lambda a: 0.1 * jnp.ones_like(a), ds)  # norm 0.36 < 0.5: the clip leaves it alone
    upd, _ = tx.update(g, tx.init(ds), ds)
    new = optax.apply_updates(ds, upd)
    np.testing.assert_allclose(np.asarray(new.x - ds.x), -lr, rtol=1e-3)
    np.testing.assert_allclose(np.asarray(new.y - ds.y), -lr, rtol=1e-3)
    want = eta0 * np.exp(-eta_lr) if param == "log" else eta0 - eta_lr
    np.testing.assert_allclose(float(new.inner_lr), want, rtol=1e-5)
    # the default rate (inner_lr_lr = 0) is lr's
    tx = make_optimizer(lr, PPMOConfig(lr=lr, inner_lr_param=param, inner_lr_lr=0.0))
    upd, _ = tx.update(g, tx.init(ds), ds)
    want = eta0 * np.exp(-lr) if param == "log" else eta0 - lr
    np.testing.assert_allclose(float(optax.apply_updates(ds, upd).inner_lr), want, rtol=1e-5)


def test_flags_and_validation():
    p = argparse.ArgumentParser()
    add_config_args(p, PPMOConfig)
    cfg = config_from_args(PPMOConfig, p.parse_args(["--inner-lr-param", "clamp", "--inner-lr-lr", "0",
                                                     "--min-inner-lr", "1e-4"]))
    assert (cfg.inner_lr_param, cfg.eta_lr, cfg.min_inner_lr) == ("clamp", cfg.lr, 1e-4)
    with pytest.raises(SystemExit):
        p.parse_args(["--inner-lr-param", "softplus"])
    for bad in (dict(inner_lr_param="softplus"), dict(inner_lr_lr=-1.0), dict(inner_lr_param="clamp", min_inner_lr=0.0),
                dict(inner_lr_lr=0.01, lr=0.0)):
        with pytest.raises(ValueError):
            PPMOConfig(**bad)
    with pytest.raises(ValueError, match="param"):
        inner_lr_transform(optax.identity(), "softplus")


def test_dataset_keeps_eta_itself():
    """Under "log" the state holds η (what the inner step, checkpoints and npz files use), not log η."""
    cfg = PPMOConfig(k=2, init_inner_lr=0.7, inner_lr_param="log", inner_lr_lr=0.01, **TINY)
    env, params = make("NDCartPole-v0", num_dims=1)
    init, _ = make_meta_step(cfg, env, params)
    ds = init(jax.random.key(0)).dataset
    assert isinstance(ds, Dataset) and float(ds.inner_lr) == pytest.approx(0.7)


def test_shared_targets_start_every_row_on_one_draw():
    """--init-targets shared: every row's Y is one N(0, 1) draw, X still a draw per row; the default draws Y per row."""
    ind = init_dataset(jax.random.key(5), 4, 3, 2, continuous=True)
    sh = init_dataset(jax.random.key(5), 4, 3, 2, continuous=True, shared_targets=True)
    np.testing.assert_array_equal(sh.x, ind.x)
    assert np.all(np.asarray(sh.y) == np.asarray(sh.y)[:1]) and np.std(np.asarray(sh.y)[0]) > 0
    assert np.unique(np.asarray(ind.y)[:, 0]).size == 4
    cfg = PPMOConfig(k=3, init_targets="shared", **TINY)
    env, params = make("NDCartPole-v0", num_dims=1)
    init, _ = make_meta_step(cfg, env, params)
    y = np.asarray(init(jax.random.key(0)).dataset.y)
    assert y.shape == (3, 2) and np.all(y == y[:1])
    with pytest.raises(ValueError, match="init_targets"):
        PPMOConfig(init_targets="zeros")
