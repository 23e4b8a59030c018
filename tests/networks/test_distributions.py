"""Table 1 / Table 6 learner distributions, padding, mixtures, and the CPU QR-deadlock guard."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlsl_jax.cpu import configure_cpu
from rlsl_jax.distill.inner import inner_step
from rlsl_jax.distill.dataset import init_dataset
from rlsl_jax.networks import (
    DIST_NAMES, FIXED_SHAPE_DISTS, LearnerDist, MLPSpec, MixtureDist, PaddedDist, RandomDepthDist, RandomWidthDist,
    grid_dists, learner_groups, make_learner_dist, make_mixture, make_train_dist, parse_dist_names, parse_train_dist,
)
from rlsl_jax.networks.distributions import embedded_orthogonal, pad_params
from rlsl_jax.networks.mlp import mlp_init

configure_cpu()
OBS, ACT = 8, 4  # 2-D cart-pole


@functools.lru_cache(maxsize=None)
def sampler(name, n=200):
    """A jitted ``sample(key)`` of ``n`` learners of ``name`` (compiled once per module)."""
    d = make_learner_dist(name, OBS, ACT)
    return jax.jit(lambda k: d.sample(k, n))


def shapes(params):
    return [(layer["w"].shape, layer["b"].shape) for layer in params]


@pytest.mark.parametrize("name", ["ortho", "ortho-std1", "xe", "xe-std1"])
def test_fixed_dists_shape_and_determinism(name):
    a, b = sampler(name)(jax.random.key(3)), sampler(name)(jax.random.key(3))
    assert shapes(a) == [((200, 8, 64), (200, 64)), ((200, 64, 64), (200, 64)), ((200, 64, 4), (200, 4))]
    jax.tree.map(np.testing.assert_array_equal, a, b)
    assert not np.allclose(a[1]["w"][0], a[1]["w"][1])  # learners differ
    assert all(float(jnp.abs(layer["b"]).max()) == 0.0 for layer in a)


def test_orthogonal_gains():
    for name, gains in (("ortho", (2.0, 2.0, 1e-4)), ("ortho-std1", (1.0, 1.0, 1.0))):
        p = sampler(name)(jax.random.key(0))
        w0, w1, w2 = (np.asarray(layer["w"][0], np.float64) for layer in p)
        np.testing.assert_allclose(w0 @ w0.T, gains[0] * np.eye(OBS), atol=1e-5)       # orthonormal rows
        np.testing.assert_allclose(w1 @ w1.T, gains[1] * np.eye(64), atol=1e-5)
        np.testing.assert_allclose(w2.T @ w2, gains[2] * np.eye(ACT), atol=1e-5 * gains[2])  # columns


def test_xavier_std():
    for name, (g_hidden, g_out) in (("xe", (2**0.5, 0.01)), ("xe-std1", (1.0, 1.0))):
        p = sampler(name)(jax.random.key(1))
        np.testing.assert_allclose(np.std(p[1]["w"]), g_hidden * np.sqrt(2 / 128), rtol=0.02)
        np.testing.assert_allclose(np.std(p[2]["w"]), g_out * np.sqrt(2 / 68), rtol=0.05)


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="ortho-std1.*random-L-noact"):
        make_learner_dist("orthogonal", OBS, ACT)
    with pytest.raises(ValueError, match="choose from"):
        parse_dist_names("ortho,nope")
    assert parse_dist_names("all") == list(DIST_NAMES)
    assert parse_dist_names("xe, ortho,xe") == ["xe", "ortho"]


# ---- random-h: padding ------------------------------------------------------------------------

@pytest.mark.parametrize("mode,r,c", [("rows", 3, 37), ("cols", 41, 5), ("square", 29, 29), ("square", 7, 19)])
def test_embedded_orthogonal_is_semi_orthogonal_block(mode, r, c):
    R, C = (3 if mode == "rows" else 64), (5 if mode == "cols" else 64)
    for buckets in ((), (16, 32, 48)):
        w = np.asarray(embedded_orthogonal(jax.random.key(r * c), r, c, R, C, 2.0, mode, buckets), np.float64)
        assert np.abs(w[r:]).max(initial=0) == 0 and np.abs(w[:, c:]).max(initial=0) == 0
        blk = w[:r, :c] / 2.0
        gram = blk @ blk.T if r <= c else blk.T @ blk
        np.testing.assert_allclose(gram, np.eye(min(r, c)), atol=2e-5)


def test_random_h_widths_zeros_and_determinism():
    d = make_learner_dist("random-h", OBS, ACT)
    assert isinstance(d, RandomWidthDist) and (d.min_width, d.max_width) == (32, 256)
    key = jax.random.key(7)
    sample = jax.jit(d.sample, static_argnums=1)
    p = sample(key, 64)
    hs = np.asarray(d.widths(key, 64))
    assert shapes(p) == [((64, 8, 256), (64, 256)), ((64, 256, 256), (64, 256)), ((64, 256, 4), (64, 4))]
    assert hs.min() >= 32 and hs.max() <= 256 and len(set(hs.tolist())) > 20
    for i in range(0, 64, 9):
        h = hs[i]
        w0, w1, w2 = (np.asarray(layer["w"][i], np.float64) for layer in p)
        # the true block is h wide (both hidden layers share h); everything else is exactly zero
        assert np.abs(w0[:, h:]).max(initial=0) == 0 and np.abs(w1[h:]).max(initial=0) == 0
        assert np.abs(w1[:, h:]).max(initial=0) == 0 and np.abs(w2[h:]).max(initial=0) == 0
        assert np.abs(w0[:, h - 1]).max() > 0 and np.abs(w2[h - 1]).max() > 0
        np.testing.assert_allclose(w1[:h, :h] @ w1[:h, :h].T, 2 * np.eye(h), atol=1e-4)
    jax.tree.map(np.testing.assert_array_equal, p, sample(key, 64))


def test_padding_is_exact_through_the_inner_step():
    """A padded width-h learner trains and acts exactly as the unpadded one; padding stays 0."""
    h = 45
    small = LearnerDist("ortho", MLPSpec(OBS, (h, h), ACT))
    ds = init_dataset(jax.random.key(1), 5, OBS, ACT, inner_lr=3.0)
    x = jax.random.normal(jax.random.key(2), (11, OBS))

    @jax.jit
    def both(key):
        phi = mlp_init(key, small.spec)
        phi1, pad1 = inner_step(small.apply, phi, ds), inner_step(small.apply, pad_params(phi, (256, 256)), ds)
        return phi1, pad1, small.apply(phi1, x), small.apply(pad1, x)

    phi1, pad1, y_small, y_padded = both(jax.random.key(0))
    np.testing.assert_allclose(y_padded, y_small, rtol=1e-5, atol=1e-6)
    assert float(jnp.abs(pad1[1]["w"][h:]).max()) == 0.0 and float(jnp.abs(pad1[1]["w"][:, h:]).max()) == 0.0
    assert float(jnp.abs(pad1[0]["b"][h:]).max()) == 0.0 and float(jnp.abs(pad1[2]["w"][h:]).max()) == 0.0
    np.testing.assert_allclose(pad1[1]["w"][:h, :h], phi1[1]["w"], rtol=1e-5, atol=1e-6)


# ---- random-L ---------------------------------------------------------------------------------

def test_random_depth_groups():
    for name, act in (("random-L", "tanh"), ("random-L-noact", "identity")):
        d = make_learner_dist(name, OBS, ACT)
        assert isinstance(d, RandomDepthDist) and d.activation == act and (d.min_depth, d.max_depth) == (1, 6)
        groups = d.groups(jax.random.key(5), 300)
        depths = d.depths(jax.random.key(5), 300)
        assert sorted(np.concatenate([g.indices for g in groups]).tolist()) == list(range(300))
        assert set(depths.tolist()) == {1, 2, 3, 4, 5, 6}
        for g in groups:
            assert g.dist.spec.hidden == (64,) * len(g.dist.spec.hidden) and g.dist.spec.activation == act
            assert (depths[g.indices] == len(g.dist.spec.hidden)).all()
        again = d.groups(jax.random.key(5), 300)
        assert all((a.indices == b.indices).all() for a, b in zip(groups, again))


def test_random_l_noact_is_linear():
    g = make_learner_dist("random-L-noact", OBS, ACT).groups(jax.random.key(0), 20)[-1]
    p = jax.tree.map(lambda a: a[0], g.dist.sample(g.key, 1))
    x1, x2 = jax.random.normal(jax.random.key(1), (2, OBS))
    np.testing.assert_allclose(g.dist.apply(p, x1 + 2 * x2), g.dist.apply(p, x1) + 2 * g.dist.apply(p, x2),
                               rtol=1e-4, atol=1e-6)


def test_learner_groups_of_fixed_dist_is_one_group():
    d = make_learner_dist("xe", OBS, ACT)
    (g,) = learner_groups(d, jax.random.key(0), 7)
    assert g.dist is d and g.indices.tolist() == list(range(7))


# ---- mixtures ----------------------------------------------------------------------------------

def test_mixture_samples_come_from_components():
    mix = make_train_dist("mix4", OBS, ACT)
    assert isinstance(mix, MixtureDist) and [c.name for c in mix.components] == ["ortho", "ortho-std1", "xe", "xe-std1"]
    key, n = jax.random.key(11), 200
    k_comp = jax.random.split(key)[1]
    p, comp = jax.jit(lambda k: (mix.sample(k, n), [c.sample(kk, n) for c, kk in
                                                     zip(mix.components, jax.random.split(k_comp, 4))]))(key)
    idx = np.asarray(mix.choices(key, n))
    assert np.bincount(idx, minlength=4).min() > 30   # roughly uniform
    for i in range(0, n, 17):
        for layer in range(3):
            np.testing.assert_array_equal(p[layer]["w"][i], comp[idx[i]][layer]["w"][i])
    # head gain tells the components apart: 0.01 (ortho, xe) vs 1 (the std1 ones)
    head_norm = np.linalg.norm(np.asarray(p[2]["w"]).reshape(n, -1), axis=1)
    assert ((head_norm > 0.3) == np.isin(idx, [1, 3])).all()


def test_mixture_with_random_h_pads_to_256_and_rejects_random_l():
    mix = make_train_dist("ortho,random-h", OBS, ACT)
    assert isinstance(mix.components[0], PaddedDist) and mix.components[0].widths == (256, 256)
    p = jax.eval_shape(lambda k: mix.sample(k, 6), jax.random.key(0))
    assert shapes(p)[1] == ((6, 256, 256), (6, 256))
    with pytest.raises(ValueError, match="random-L"):
        make_mixture(["ortho", "random-L"], OBS, ACT)
    assert make_train_dist("xe", OBS, ACT).name == "xe"  # one name: that distribution itself


def test_weighted_mixture_parsing_and_proportions():
    assert parse_train_dist("mix4") == (["ortho", "ortho-std1", "xe", "xe-std1"], None)
    assert parse_train_dist("ortho, xe-std1") == (["ortho", "xe-std1"], None)
    assert parse_train_dist("ortho:2,xe-std1:2") == (["ortho", "xe-std1"], None)  # equal weights: uniform
    assert parse_train_dist("ortho:3,xe-std1") == (["ortho", "xe-std1"], [3.0, 1.0])
    for bad in ("ortho:0,xe", "ortho:x", "ortho,ortho", "random-L:1", "", "ortho:-1"):
        with pytest.raises(ValueError, match="train-dist"):
            parse_train_dist(bad)
    mix = make_train_dist("ortho:3,xe-std1:1", OBS, ACT)
    assert mix.weights == (3.0, 1.0) and mix.name == "mix(ortho:3,xe-std1:1)"
    key, n = jax.random.key(5), 4000
    idx = np.asarray(mix.choices(key, n))
    assert abs((idx == 0).mean() - 0.75) < 0.03
    p = mix.sample(key, n)  # the learners sampled are those of the chosen components: head gain 1 only for xe-std1
    head_norm = np.linalg.norm(np.asarray(p[2]["w"]).reshape(n, -1), axis=1)
    assert ((head_norm > 0.3) == (idx == 1)).all()
    with pytest.raises(ValueError, match="positive"):
        MixtureDist("m", mix.components, (1.0, 0.0))


def test_grid():
    g = grid_dists(OBS, ACT)
    assert len(g) == 1 + 5 * 4 and g[(0, 0)].spec.hidden == () and g[(3, 128)].spec.hidden == (128,) * 3
    assert g[(2, 64)].spec == make_learner_dist("ortho", OBS, ACT).spec


# ---- the CPU batched-QR deadlock (docs/design.md section 4, "Known traps") ----------------------------------------

@pytest.mark.timeout(120)
def test_cpu_samplers_many_learners_in_one_jit_do_not_hang():
    """Several orthogonal samplers of >= 256 learners inside ONE jitted computation: the shape
    of program that deadlocks XLA:CPU when the QRs are batched."""
    dists = [make_learner_dist("ortho-std1", OBS, ACT), make_train_dist("ortho,random-h", OBS, ACT)]

    @jax.jit
    def f(key):
        ks = jax.random.split(key, len(dists))
        return [d.sample(k, 256) for d, k in zip(dists, ks)]

    out = jax.block_until_ready(f(jax.random.key(0)))
    assert out[1][1]["w"].shape == (256, 256, 256) and out[0][0]["w"].shape == (256, OBS, 64)
    assert set(FIXED_SHAPE_DISTS) == {"ortho", "ortho-std1", "xe", "xe-std1", "random-h"}
