"""The inner SGD step by hand, and the meta-gradient through it against finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

from rlsl_jax.distill import Dataset, PPMOConfig, init_dataset, inner_loss, inner_step, meta_policy_loss
from rlsl_jax.distill.ppmo import inner_lr_transform
from rlsl_jax.networks import MLPSpec, cartpole_learner, mlp_apply, mlp_init


def test_inner_step_equals_hand_computed_sgd_on_linear_learner():
    # learner(x) = x @ W + b; loss = mean((xW + b - y)^2) over k*c entries.
    k, d, c = 3, 4, 2
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(k, d)), rng.normal(size=(k, c))
    w, b = rng.normal(size=(d, c)), rng.normal(size=(c,))
    lr = 0.7
    resid = x @ w + b - y
    gw = 2.0 / (k * c) * x.T @ resid
    gb = 2.0 / (k * c) * resid.sum(0)
    ds = Dataset(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), jnp.float32(lr))
    params = [{"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}]
    new = inner_step(lambda p, xx: mlp_apply(p, xx), params, ds)
    np.testing.assert_allclose(new[0]["w"], w - lr * gw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new[0]["b"], b - lr * gb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(inner_loss(lambda p, xx: mlp_apply(p, xx), params, ds), (resid**2).mean(), rtol=1e-5)


def test_inner_step_works_for_any_init_apply_pair():
    spec = MLPSpec(4, (8,), 3)
    params = mlp_init(jax.random.key(0), spec)
    ds = init_dataset(jax.random.key(1), 5, 4, 3, inner_lr=0.5)
    apply = lambda p, x: mlp_apply(p, x, spec.activation)  # noqa: E731
    before = inner_loss(apply, params, ds)
    after = inner_loss(apply, inner_step(apply, params, ds), ds)
    assert after < before  # one SGD step with a small lr lowers the inner loss


def _meta_loss_problem():
    """(f, ds): the outer loss of 2 small learners on 7 random samples as a function of a float64 dataset
    (call inside ``jax.enable_x64``)."""
    learner = cartpole_learner(4, 2, hidden=(6,))
    P, L = 2, 7
    keys = jax.random.split(jax.random.key(0), 6)
    phi = jax.tree.map(lambda a: a.astype(jnp.float64), learner.sample(keys[0], P))
    ds = init_dataset(keys[1], 3, 4, 2, inner_lr=0.3)
    ds = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), ds)
    obs = jax.random.normal(keys[2], (P, L, 4), jnp.float64)
    actions = jax.random.randint(keys[3], (P, L), 0, 2)
    adv = jax.random.normal(keys[4], (P, L), jnp.float64)
    # old log-probs close to the current ones, so the ratio is inside the clip range (smooth there)
    phi1 = jax.vmap(lambda p: inner_step(learner.apply, p, ds))(phi)
    logits = jax.vmap(learner.apply)(phi1, obs)
    old = jnp.take_along_axis(jax.nn.log_softmax(logits), actions[..., None], -1)[..., 0]
    old = old + 0.01 * jax.random.normal(keys[5], old.shape, jnp.float64)
    cfg = PPMOConfig(k=3, normalize_advantages=True)
    return (lambda d: meta_policy_loss(d, learner, phi, obs, actions, old, adv, cfg)[0]), ds


@pytest.mark.parametrize("param", ["clamp", "log"])
def test_eta_gradient_the_optimiser_sees_matches_finite_differences(param):
    """What ``inner_lr_transform`` hands Adam for η: ∂L/∂η ("clamp") or ∂L/∂ρ = η·∂L/∂η with
    η = exp(ρ) ("log"), against central differences of the outer loss in η or in log η."""
    with jax.enable_x64(True):
        f, ds = _meta_loss_problem()
        eta, h = float(ds.inner_lr), 1e-5
        if param == "log":
            g_fd = (f(ds.replace(inner_lr=eta * np.exp(h))) - f(ds.replace(inner_lr=eta * np.exp(-h)))) / (2 * h)
            rho = jnp.log(ds.inner_lr)
            check_grads(lambda r: f(ds.replace(inner_lr=jnp.exp(r))), (rho,), order=1, modes=["rev"], eps=1e-5,
                        atol=1e-6, rtol=1e-4)
        else:
            g_fd = (f(ds.replace(inner_lr=eta + h)) - f(ds.replace(inner_lr=eta - h))) / (2 * h)
        seen = []

        def capture(g, state, params=None):
            seen.append(g)
            return g, state

        tx = inner_lr_transform(optax.GradientTransformation(lambda p: optax.EmptyState(), capture), param)
        tx.update(jax.grad(f)(ds), tx.init(ds), ds)
        assert abs(float(g_fd)) > 1e-4  # a real gradient to compare
        np.testing.assert_allclose(float(seen[0].inner_lr), float(g_fd), rtol=1e-5, atol=1e-9)
        np.testing.assert_array_equal(np.asarray(seen[0].x), np.asarray(jax.grad(f)(ds).x))  # X, Y untouched


def test_meta_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        f, ds = _meta_loss_problem()
        check_grads(f, (ds,), order=1, modes=["rev"], eps=1e-5, atol=1e-6, rtol=1e-4)
        g = jax.grad(f)(ds)
        assert all(float(jnp.abs(v).max()) > 0 for v in jax.tree.leaves(g))  # x, y and lr all get gradient
