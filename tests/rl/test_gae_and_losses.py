"""GAE and PPO losses against values computed by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlsl_jax.rl import categorical_entropy, categorical_log_prob, gae_advantages, ppo_policy_loss, value_loss


def test_gae_hand_computed_with_termination_and_truncation():
    g, lam = 0.9, 0.5
    r = jnp.array([1.0, 2.0, 3.0, 4.0])
    v = jnp.array([0.5, 1.0, 1.5, 2.0])
    nv = jnp.array([1.0, 9.0, 2.0, 7.0])  # step 1 terminal (next value ignored); step 2 truncated
    term = jnp.array([False, True, False, False])
    done = jnp.array([False, True, True, False])
    adv, ret = gae_advantages(r, v, nv, term, done, g, lam)
    # deltas: r + g*(1-term)*nv - v
    d0 = 1 + 0.9 * 1.0 - 0.5      # 1.4
    d1 = 2 + 0.0 - 1.0            # 1.0 (terminated: no bootstrap)
    d2 = 3 + 0.9 * 2.0 - 1.5      # 3.3 (truncated: bootstrap from the true last state)
    d3 = 4 + 0.9 * 7.0 - 2.0      # 8.3
    a3 = d3
    a2 = d2                       # done at 2: nothing flows from step 3
    a1 = d1                       # done at 1
    a0 = d0 + g * lam * a1        # 1.4 + 0.45
    np.testing.assert_allclose(adv, [a0, a1, a2, a3], rtol=1e-6)
    np.testing.assert_allclose(ret, np.array([a0, a1, a2, a3]) + np.array(v), rtol=1e-6)


def test_gae_lambda_one_no_dones_is_discounted_return_minus_value():
    r = jnp.ones(5)
    v = jnp.zeros(5)
    nv = jnp.zeros(5)
    f = jnp.zeros(5, bool)
    adv, _ = gae_advantages(r, v, nv, f, f, 0.5, 1.0)
    np.testing.assert_allclose(adv, [1 + .5 + .25 + .125 + .0625, 1 + .5 + .25 + .125, 1.75, 1.5, 1.0], rtol=1e-6)


def test_log_prob_is_log_softmax_not_raw_logit():
    logits = jnp.array([[2.0, 0.0], [0.0, 1.0]])
    a = jnp.array([0, 1])
    expected = [2 - np.log(np.exp(2) + 1), 1 - np.log(1 + np.e)]
    np.testing.assert_allclose(categorical_log_prob(logits, a), expected, rtol=1e-6)
    np.testing.assert_allclose(categorical_entropy(jnp.zeros((1, 4))), [np.log(4)], rtol=1e-6)


def test_ppo_loss_hand_computed():
    lp = jnp.log(jnp.array([0.6, 0.2, 0.5]))
    old = jnp.log(jnp.array([0.4, 0.4, 0.5]))
    adv = jnp.array([1.0, -2.0, 3.0])
    ent = jnp.array([0.3, 0.6, 0.9])
    loss, aux = ppo_policy_loss(lp, old, adv, ent, clip_eps=0.2, ent_coef=0.1, normalize_advantages=False)
    # ratios 1.5, 0.5, 1.0; clipped 1.2, 0.8, 1.0
    surr = [min(1.5 * 1, 1.2 * 1), min(0.5 * -2, 0.8 * -2), 3.0]  # 1.2, -1.6, 3.0
    expected = -np.mean(surr) - 0.1 * 0.6
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    np.testing.assert_allclose(aux["clip_frac"], 2 / 3, rtol=1e-6)
    np.testing.assert_allclose(value_loss(jnp.array([1.0, 2.0]), jnp.array([0.0, 4.0])), 0.5 * (1 + 4) / 2)


def test_entropy_bonus_carries_gradient():
    def f(logits):
        lp = categorical_log_prob(logits, jnp.array([0]))
        loss, _ = ppo_policy_loss(lp, jax.lax.stop_gradient(lp), jnp.zeros(1), categorical_entropy(logits),
                                  0.2, 1.0, normalize_advantages=False)
        return loss

    g = jax.grad(f)(jnp.array([[1.0, 0.0]]))
    assert float(jnp.abs(g).sum()) > 1e-3  # only the entropy term can produce this gradient
    # Gradient descent on -entropy moves logits towards uniform.
    assert float(g[0, 0]) > 0 > float(g[0, 1])


@pytest.mark.parametrize("norm", [True, False])
def test_ppo_loss_at_ratio_one_is_minus_mean_advantage(norm):
    adv = jnp.array([1.0, 2.0, 6.0])
    lp = jnp.zeros(3)
    loss, _ = ppo_policy_loss(lp, lp, adv, jnp.zeros(3), 0.2, 0.0, normalize_advantages=norm)
    expected = 0.0 if norm else -3.0
    np.testing.assert_allclose(loss, expected, atol=1e-6)
