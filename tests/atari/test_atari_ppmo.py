"""PPMO with the Nature CNN and encoder rollback: l = 5 is the PPO update, l = 0 has no encoder and
loads the authors' dataset. (A meta-step at l = 4 training the encoder, checkpoints keeping it and
load_dataset refusing mismatches: tests/atari/test_atari_cli.py's run.)"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rlsl_jax import checkpoint
from rlsl_jax.distill import PPMOConfig, init_dataset
from rlsl_jax.distill.ppmo import make_optimizer, meta_policy_loss
from rlsl_jax.networks.cnn import cnn_apply, nature_cnn_spec, nature_cnn_split
from rlsl_jax.rl import ppo as ppo_baseline
from rlsl_jax.rl.ppo_loss import categorical_entropy, categorical_log_prob, ppo_policy_loss

OBS = (4, 84, 84)


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    from rlsl_jax.cpu import configure_cpu

    configure_cpu(1)


def test_layer5_meta_update_is_the_ppo_update():
    """At l = 5 the learner is empty, so the inner step is the identity and the outer loss is PPO's on
    the encoder (= the whole network): same gradient, and with the baseline's optimiser the same update;
    X, Y and η get exactly zero gradient."""
    learner, enc = nature_cnn_split(6, 5)
    cfg = PPMOConfig(k=4, clip_eps=0.1)
    params = enc.init(jax.random.key(0))
    ds = init_dataset(jax.random.key(1), 4, OBS, 6).replace(encoder=params)
    ks = jax.random.split(jax.random.key(2), 4)
    L = 6
    obs = jax.random.randint(ks[0], (1, L, *OBS), 0, 256).astype(jnp.uint8)
    act = jax.random.randint(ks[1], (1, L), 0, 6)
    old_lp = -1.8 + 0.1 * jax.random.normal(ks[2], (1, L))
    adv = jax.random.normal(ks[3], (1, L))
    phi = learner.sample(jax.random.key(3), 1)
    assert phi == []

    def ppo_loss(p):
        logits = cnn_apply(p, obs[0], nature_cnn_spec(6))
        return ppo_policy_loss(categorical_log_prob(logits, act[0]), old_lp[0], adv[0], categorical_entropy(logits),
                               cfg.clip_eps, cfg.ent_coef, cfg.normalize_advantages)[0]

    @jax.jit
    def both(ds, params):
        meta = jax.value_and_grad(lambda d: meta_policy_loss(d, learner, phi, obs, act, old_lp, adv, cfg,
                                                             enc.apply)[0])(ds)
        return meta, jax.value_and_grad(ppo_loss)(params)

    (l_meta, g_meta), (l_ppo, g_ppo) = both(ds, params)
    np.testing.assert_allclose(l_meta, l_ppo, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(g_meta.encoder), jax.tree.leaves(g_ppo)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
    for g in (g_meta.x, g_meta.y, g_meta.inner_lr):
        assert not np.asarray(g).any()
    tx_meta = make_optimizer(cfg.lr, cfg)
    tx_ppo = ppo_baseline.make_optimizer(cfg.lr, cfg.max_grad_norm, cfg.adam_eps)
    upd_meta, _ = jax.jit(lambda g, p: tx_meta.update(g, tx_meta.init(p), p))(g_meta, ds)
    upd_ppo, _ = jax.jit(lambda g, p: tx_ppo.update(g, tx_ppo.init(p), p))(g_ppo, params)
    for a, b in zip(jax.tree.leaves(upd_meta.encoder), jax.tree.leaves(upd_ppo)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)  # Adam: ~lr·sign(g) where g ≈ 0
    assert not np.asarray(optax.tree.norm(upd_meta.replace(encoder=None)))


def test_layer0_has_no_encoder(refdata):
    """l = 0 (full distillation): θ is only X, Y, η — as in the authors' Centipede file, which loads
    for an l = 0 learner and is refused for an l = 4 one."""
    learner, enc = nature_cnn_split(18, 0)
    assert enc is None
    pytest.importorskip("envpool")
    from rlsl_jax.tasks.atari import make_atari_meta_step

    cfg = PPMOConfig(k=10, population=1, num_envs=1, rollout_steps=2, minibatch_size=2, update_epochs=1)
    init, *_ = make_atari_meta_step(cfg, "Centipede-v5", 0, 0, {})
    state = init(jax.random.key(0))
    assert state.dataset.encoder is None and len(jax.tree.leaves(state.dataset)) == 3
    ds, meta = checkpoint.load_dataset(refdata / "atari_centipede_fulldistill_k10.npz", expect_encoder=None)
    assert ds.encoder is None and ds.x.shape == (10, *OBS) and ds.y.shape == (10, 18)
    assert set(checkpoint._dataset_tree(ds)) == {"x", "y", "inner_lr"}
    with pytest.raises(ValueError, match="encoder mismatch"):
        checkpoint.load_dataset(refdata / "atari_centipede_fulldistill_k10.npz",
                                expect_encoder=jax.eval_shape(nature_cnn_split(18, 4)[1].init, jax.random.key(0)))
