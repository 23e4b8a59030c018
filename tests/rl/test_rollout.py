"""rl.rollout: envs that declare ``final_obs_is_obs`` get the same trajectory with one critic call per step."""

import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax.envs.batched import StepResult
from rlsl_jax.rl.rollout import categorical_act_fn, init_rollout_carry, rollout


class Walk:
    """B random walks that end (terminated) when |x| >= 3 and restart at 0 on the NEXT step, so the
    step that ends an episode returns the terminal obs (final_obs is obs, as envpool does)."""

    num_envs = 3
    final_obs_is_obs = False

    def reset(self, key):
        x = jnp.zeros((self.num_envs, 2))
        return x, (x, jnp.zeros((self.num_envs,), bool))

    def step(self, key, state, action):
        x, ended = state
        x = jnp.where(ended[:, None], 0.0, x + jnp.stack([2.0 * action - 1.0, action * 0.5], -1))
        term = jnp.abs(x[:, 0]) >= 3
        return StepResult(x, (x, term), jnp.ones(self.num_envs), term, jnp.zeros_like(term), x)


class ShiftedWalk(Walk):
    final_obs_is_obs = True


def test_final_obs_is_obs_gives_the_same_trajectory():
    act = categorical_act_fn(lambda o: jnp.stack([o[:, 0], -o[:, 1]], -1))
    value = lambda o: jnp.tanh(o @ jnp.array([0.7, -1.3])) + 0.1  # noqa: E731
    out = []
    for env in (Walk(), ShiftedWalk()):
        carry = init_rollout_carry(jax.random.key(0), env)
        out.append(jax.jit(lambda k, c, env=env: rollout(k, c, act, value, env, 12))(jax.random.key(1), carry))
    (c0, t0), (c1, t1) = out
    assert bool(t0.terminated.any())   # episodes ended inside the rollout
    for a, b in zip(jax.tree.leaves((c0, t0)), jax.tree.leaves((c1, t1))):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6)


def test_final_obs_is_obs_calls_the_critic_once_per_step():
    calls = []

    def value(o):
        jax.debug.callback(lambda: calls.append(1))
        return o[:, 0]

    act = categorical_act_fn(lambda o: jnp.zeros((o.shape[0], 2)))
    for env, expected in ((Walk(), 2 * 12), (ShiftedWalk(), 12 + 1)):
        calls.clear()
        carry = init_rollout_carry(jax.random.key(0), env)
        jax.block_until_ready(jax.jit(lambda k, c, env=env: rollout(k, c, act, value, env, 12))(jax.random.key(1), carry))
        jax.effects_barrier()
        assert len(calls) == expected
