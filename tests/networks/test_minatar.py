"""MinAtar learner family: shapes of the conv and MLP learners, the init, channels-last convolution,
encoder rollback at every split point, the CPU sampler, and PPMO meta-steps with encoder rollback."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlsl_jax.distill import PPMOConfig, make_meta_step
from rlsl_jax.envs import make
from rlsl_jax.networks import Learner
from rlsl_jax.networks.cnn import cnn_init, cnn_init_jit
from rlsl_jax.networks.minatar import (
    MinAtarLearner, MinAtarMLPLearner, minatar_apply, minatar_critic, minatar_encoder_description, minatar_learner,
    minatar_spec, minatar_split,
)

OBS = (10, 10, 4)  # Breakout
ACT = 3


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    from rlsl_jax.cpu import configure_cpu

    configure_cpu(1)


def test_conv_shapes_and_param_count():
    for c, a in [(4, 3), (6, 4), (4, 5), (7, 3)]:  # Breakout, SpaceInvaders, Asterix, Freeway
        spec = minatar_spec((10, 10, c), a)
        assert spec.in_shape == (c, 10, 10) and spec.num_layers == 3
        assert [spec.feature_shape(i) for i in range(4)] == [(c, 10, 10), (16, 8, 8), (128,), (a,)]
        assert [spec.weight_shape(i) for i in range(3)] == [(16, c, 3, 3), (1024, 128), (128, a)]
        assert spec.num_params() == 16 * c * 9 + 16 + 1024 * 128 + 128 + 128 * a + a
        learner = minatar_learner((10, 10, c), a)
        shapes = jax.eval_shape(lambda k: learner.sample(k, 5), jax.random.key(0))  # noqa: B023
        assert [p["w"].shape for p in shapes] == [(5, 16, c, 3, 3), (5, 1024, 128), (5, 128, a)]
        assert sum(x.size for x in jax.tree.leaves(shapes)) == 5 * spec.num_params()
    learner = minatar_learner(OBS, ACT)
    assert isinstance(learner, MinAtarLearner) and isinstance(learner, Learner)
    assert learner.in_shape == OBS and learner.out_dim == ACT
    params = learner.sample(jax.random.key(0), 5)
    x = jax.random.bernoulli(jax.random.key(1), 0.2, (2, 3, *OBS)).astype(jnp.float32)
    out = jax.jit(jax.vmap(learner.apply, in_axes=(0, None)))(params, x)
    assert out.shape == (5, 2, 3, ACT)
    one = jax.tree.map(lambda p: p[0], params)
    assert learner.policy(one, x[0, 0]).shape == (ACT,)
    d = learner.describe()
    assert d["arch"] == "minatar_cnn" and d["num_params"] == learner.spec.num_params() and json.dumps(d)
    with pytest.raises(AssertionError):  # channels-first input is refused
        learner.apply(one, jnp.zeros((4, 10, 10)))


def test_mlp_learner_takes_images_or_flat_obs():
    learner = minatar_learner(OBS, ACT, arch="mlp")
    assert isinstance(learner, MinAtarMLPLearner) and isinstance(learner, Learner)
    assert learner.spec.in_dim == 400 and learner.spec.hidden == (64, 64) and learner.spec.activation == "tanh"
    assert (learner.spec.hidden_gain, learner.spec.out_gain) == (2.0**0.5, 0.01)
    params = learner.sample(jax.random.key(0), 4)
    assert [p["w"].shape for p in params] == [(4, 400, 64), (4, 64, 64), (4, 64, ACT)]
    x = jax.random.normal(jax.random.key(1), (6, *OBS))
    one = jax.tree.map(lambda p: p[1], params)
    y = learner.apply(one, x)
    assert y.shape == (6, ACT)
    np.testing.assert_allclose(learner.apply(one, x.reshape(6, 400)), y, rtol=1e-6)
    assert learner.describe()["arch"] == "minatar_mlp" and json.dumps(learner.describe())
    with pytest.raises(ValueError, match="arch"):
        minatar_learner(OBS, ACT, arch="transformer")
    with pytest.raises(ValueError, match="channels-last"):
        minatar_learner((4,), ACT)


def test_init_orthogonal_gains_and_zero_biases():
    params = cnn_init_jit(jax.random.key(2), minatar_spec(OBS, ACT))
    for i, layer in enumerate(params):
        w = np.asarray(layer["w"], np.float64)
        m = w.reshape(w.shape[0], -1) if w.ndim == 4 else w  # rows of conv [16, 36]; dense [in, out]
        m = m if m.shape[0] <= m.shape[1] else m.T
        gain2 = 1e-4 if i == 2 else 2.0
        np.testing.assert_allclose(m @ m.T, gain2 * np.eye(m.shape[0]), atol=1e-5 * max(gain2, 1))
        assert not np.asarray(layer["b"]).any()
    critic = minatar_critic(OBS)
    psi = critic.init(jax.random.key(3))
    w = np.asarray(psi[-1]["w"], np.float64)
    np.testing.assert_allclose(w.T @ w, [[1.0]], rtol=1e-5)  # head gain 1
    assert critic.apply(psi, jnp.zeros((5, 2, *OBS))).shape == (5, 2)


def test_channels_last_convolution_matches_reference():
    """The first layer is a VALID 3×3 convolution over (H, W) of channels-last input, for both
    convolution paths; checked against lax.conv in NHWC/HWIO."""
    spec = minatar_spec(OBS, ACT)
    params = cnn_init_jit(jax.random.key(4), spec)
    x = jax.random.normal(jax.random.key(5), (3, *OBS))
    w_hwio = jnp.transpose(params[0]["w"], (2, 3, 1, 0))
    ref = jax.nn.relu(jax.lax.conv_general_dilated(x, w_hwio, (1, 1), "VALID",
                                                   dimension_numbers=("NHWC", "HWIO", "NHWC")) + params[0]["b"])
    ref = jnp.transpose(ref, (0, 3, 1, 2))  # the encoder's features are channel-first [16, 8, 8]
    for impl in ("im2col", "conv"):
        got = jax.jit(lambda p, x: minatar_apply(p, x, spec, 0, impl))(params[:1], x)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
        full = jax.jit(lambda p, x: minatar_apply(p, x, spec, 0, impl))(params, x)
        np.testing.assert_allclose(full, jax.jit(lambda p, x: minatar_apply(p, x, spec))(params, x),
                                   rtol=1e-5, atol=1e-6)


def test_split_at_every_layer_composes_to_the_full_network():
    spec = minatar_spec(OBS, ACT)
    key = jax.random.key(6)
    params = cnn_init_jit(key, spec)
    x = jax.random.bernoulli(jax.random.key(7), 0.3, (2, 5, *OBS)).astype(jnp.float32)
    shapes = {1: (16, 8, 8), 2: (128,), 3: (ACT,)}
    splits = [minatar_split(OBS, ACT, l) for l in range(4)]

    @jax.jit
    def outputs(params, x):
        whole = minatar_apply(params, x, spec)
        outs = []
        for l, (learner, enc) in enumerate(splits):
            feats = x if enc is None else enc.apply(params[:l], x)
            outs.append((feats, learner.apply(params[l:], feats)))
        return whole, outs

    whole, outs = outputs(params, x)
    assert whole.shape == (2, 5, ACT)
    for l, ((learner, enc), (feats, out)) in enumerate(zip(splits, outs)):
        assert (enc is None) == (l == 0)
        assert learner.start == l and learner.in_shape == (OBS if l == 0 else shapes[l])
        if l:
            assert feats.shape == (2, 5, *shapes[l])
            enc_params = enc.init(key)  # the encoder's layers are the whole network's with the same key
            for a, b in zip(jax.tree.leaves(enc_params), jax.tree.leaves(params[:l])):
                np.testing.assert_array_equal(a, b)
            desc = minatar_encoder_description(OBS, ACT, l)
            assert desc["out_shape"] == list(shapes[l])
            assert desc["num_params"] == sum(p.size for p in jax.tree.leaves(enc_params))
        np.testing.assert_allclose(out, whole, rtol=1e-5, atol=1e-6)
    assert minatar_encoder_description(OBS, ACT, 0) is None
    assert splits[3][0].sample(jax.random.key(8), 7) == []  # l = 3: plain RL, identity learner
    assert [p["w"].shape for p in splits[2][0].sample(jax.random.key(8), 7)] == [(7, 128, ACT)]
    with pytest.raises(ValueError, match="layer"):
        minatar_split(OBS, ACT, 4)


@pytest.mark.timeout(120)
def test_cpu_sampler_many_learners_in_one_jit_does_not_hang():
    """256 conv learners (two orthogonal layers each) and 256 MLP learners in ONE jitted program:
    the batched-QR shape of program that deadlocks XLA:CPU unless the sampler maps sequentially."""
    conv, mlp = minatar_learner(OBS, ACT), minatar_learner(OBS, ACT, "mlp")

    @jax.jit
    def f(key):
        k1, k2 = jax.random.split(key)
        return conv.sample(k1, 256), mlp.sample(k2, 256)

    c, m = jax.block_until_ready(f(jax.random.key(0)))
    assert c[1]["w"].shape == (256, 1024, 128) and m[0]["w"].shape == (256, 400, 64)
    # sampled learners are the single-network init of their keys
    keys = jax.random.split(jax.random.key(9), 3)
    one = cnn_init(keys[2], conv.spec)
    np.testing.assert_allclose(conv.sample(jax.random.key(9), 3)[0]["w"][2], one[0]["w"], rtol=1e-6)


TINY = PPMOConfig(k=4, num_envs=2, rollout_steps=16, minibatch_size=16, update_epochs=1)


@pytest.mark.parametrize("layer", [0, 1, 3])
def test_ppmo_meta_step_with_encoder_rollback(layer):
    """Breakout-MinAtar, conv critic: X keeps the raw [k, 10, 10, 4] shape; a meta-step moves the
    dataset (l < 3) and the encoder (l > 0); l = 3 leaves X and Y untouched (no inner learner); the
    second call does not recompile."""
    env, params = make("Breakout-MinAtar")
    obs_shape = env.observation_space(params).shape
    learner, enc = minatar_split(obs_shape, env.num_actions, layer)
    init, meta_step = make_meta_step(TINY, env, params, learner, critic=minatar_critic(obs_shape), encoder=enc)
    s0 = init(jax.random.key(0))
    assert s0.dataset.x.shape == (4, 10, 10, 4) and s0.dataset.y.shape == (4, 3)
    assert s0.carry.obs.shape == (2, 10, 10, 4)
    assert (s0.dataset.encoder is None) == (layer == 0)
    s1, _ = meta_step(s0, jax.random.key(1))
    s2, m2 = meta_step(s1, jax.random.key(2))
    assert meta_step._cache_size() == 1
    assert int(s2.meta_epoch) == 2
    assert all(np.isfinite(v) for k, v in m2.items() if k != "episode_return")

    def moved(a, b):
        return any(not np.allclose(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    assert moved(s0.critic, s2.critic)
    if layer < 3:
        assert moved(s0.dataset.x, s2.dataset.x) and moved(s0.dataset.y, s2.dataset.y)
    else:
        np.testing.assert_array_equal(s2.dataset.x, s0.dataset.x)
        np.testing.assert_array_equal(s2.dataset.y, s0.dataset.y)
        assert float(s2.dataset.inner_lr) == float(s0.dataset.inner_lr)
    if layer > 0:
        assert moved(s0.dataset.encoder, s2.dataset.encoder)
