"""Nature CNN α_a: shapes, the authors' initialisation, frame scaling, and the encoder/learner split."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlsl_jax.networks.cnn import (
    CNNLearnerDist, cnn_apply, cnn_init, cnn_init_jit, encoder_description, nature_cnn_critic, nature_cnn_spec,
    nature_cnn_split,
)


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    from rlsl_jax.cpu import configure_cpu

    configure_cpu(1)  # QRs of the orthogonal initialisers: ~50x faster with one OpenBLAS thread


def test_shapes_and_param_count():
    spec = nature_cnn_spec(18)
    assert [spec.feature_shape(i) for i in range(6)] == [(4, 84, 84), (32, 20, 20), (64, 9, 9), (64, 7, 7),
                                                         (512,), (18,)]
    assert [spec.weight_shape(i) for i in range(5)] == [(32, 4, 8, 8), (64, 32, 4, 4), (64, 64, 3, 3),
                                                        (3136, 512), (512, 18)]
    assert spec.num_params() == 1_693_362
    params = jax.eval_shape(lambda k: cnn_init(k, spec), jax.random.key(0))
    assert sum(x.size for x in jax.tree.leaves(params)) == spec.num_params()
    assert encoder_description(18, 0) is None and encoder_description(18, 3)["out_shape"] == [64, 7, 7]


def test_authors_init():
    """Orthogonal gain √2 (conv weights as [out, in·kh·kw] matrices, rows orthonormal), head 0.01, zero biases."""
    spec = nature_cnn_spec(6)
    params = cnn_init_jit(jax.random.key(1), spec)
    for i, layer in enumerate(params):
        w = np.asarray(layer["w"], np.float64)
        m = w.reshape(w.shape[0], -1) if w.ndim == 4 else w.T  # [out, fan_in]
        gain2 = 1e-4 if i == 4 else 2.0
        np.testing.assert_allclose(m @ m.T, gain2 * np.eye(m.shape[0]), atol=1e-5 * max(gain2, 1))
        assert not np.asarray(layer["b"]).any()


def test_frames_scaled_and_split_equals_whole():
    spec = nature_cnn_spec(6)
    params = cnn_init_jit(jax.random.key(2), spec)
    frames = jax.random.randint(jax.random.key(3), (2, 3, 4, 84, 84), 0, 256).astype(jnp.uint8)

    @jax.jit
    def all_outputs(params, frames):
        whole = cnn_apply(params, frames, spec)
        scaled = cnn_apply(params, frames.astype(jnp.float32) / 255.0, spec)
        splits = [cnn_apply(params[l:], cnn_apply(params[:l], frames, spec, 0), spec, l) for l in range(6)]
        return whole, scaled, splits

    whole, scaled, splits = all_outputs(params, frames)
    assert whole.shape == (2, 3, 6)
    np.testing.assert_allclose(whole, scaled, rtol=1e-5, atol=1e-6)
    for out in splits:
        np.testing.assert_allclose(out, whole, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="layer 0 expects"):
        cnn_apply(params, jnp.zeros((2, 84, 84)), spec)


def test_split_learners_and_encoders():
    for layer in range(6):
        learner, enc = nature_cnn_split(6, layer)
        assert isinstance(learner, CNNLearnerDist) and learner.start == layer
        assert (enc is None) == (layer == 0)  # l = 0: full distillation, no encoder parameters
        if enc is not None:
            shapes = jax.eval_shape(enc.init, jax.random.key(0))
            assert len(shapes) == layer
    learner, _ = nature_cnn_split(6, 3)
    phi = jax.eval_shape(lambda k: learner.sample(k, 3), jax.random.key(0))
    assert [x.shape for x in jax.tree.leaves(phi)] == [(3, 512), (3, 3136, 512), (3, 6), (3, 512, 6)]
    assert nature_cnn_split(6, 5)[0].sample(jax.random.key(0), 3) == []  # l = 5: no learner parameters
    critic = nature_cnn_critic()
    v = jax.eval_shape(critic.apply, jax.eval_shape(critic.init, jax.random.key(0)),
                       jax.ShapeDtypeStruct((5, 4, 84, 84), jnp.uint8))
    assert v.shape == (5,)
    with pytest.raises(ValueError):
        nature_cnn_split(6, 6)


def test_im2col_equals_conv_values_gradients_and_meta_gradient():
    """The CPU default (im2col, channels-last inside) computes the same function as lax.conv (the
    GPU default) at every split: outputs, gradients, and the second-order meta-gradient dL/dX
    through one SGD step on (X, Y)."""
    from rlsl_jax.networks.cnn import conv_impl

    assert conv_impl() == ("im2col" if jax.default_backend() == "cpu" else "conv")
    spec = nature_cnn_spec(6)
    params = cnn_init_jit(jax.random.key(4), spec)
    x = jax.random.normal(jax.random.key(5), (3, 4, 84, 84))
    frames = jax.random.randint(jax.random.key(6), (5, 4, 84, 84), 0, 256).astype(jnp.uint8)
    y = jax.random.normal(jax.random.key(7), (3, 6))

    def close(a, b):
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            scale = float(np.abs(np.asarray(v)).max()) + 1e-12
            np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=0, atol=2e-5 * scale)

    for layer in range(6):
        feats = cnn_apply(params[:layer], x, spec, 0, impl="conv")
        outs = {}
        for impl in ("conv", "im2col"):
            f = lambda p, h, impl=impl: cnn_apply(p, h, spec, layer, impl=impl)  # noqa: E731
            val, grads = jax.jit(jax.value_and_grad(lambda p, h: jnp.sum(jnp.sin(f(p, h))), argnums=(0, 1)))(
                params[layer:], feats)
            outs[impl] = (f(params[layer:], feats), val, grads)
        close(outs["im2col"], outs["conv"])

    def meta(impl):
        def outer(xx):
            inner = lambda p: jnp.mean((cnn_apply(p, xx, spec, impl=impl) - y) ** 2)  # noqa: E731
            p1 = jax.tree.map(lambda p, g: p - 0.5 * g, params, jax.grad(inner)(params))
            return jax.nn.log_softmax(cnn_apply(p1, frames, spec, impl=impl))[:, 0].mean()
        return jax.jit(jax.grad(outer))(x)

    close(meta("im2col"), meta("conv"))
    with pytest.raises(ValueError, match="impl must be"):
        cnn_apply(params, x, spec, impl="fft")
