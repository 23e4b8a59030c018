"""NDCartPole: CartPole-v1 conformance at N = 1, per-axis semantics at N > 1, auto-reset, jit."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments.classic_control import cartpole as gx_cartpole

from rlsl_jax.envs import EnvState, NDCartPole, make

THETA_MAX = 12 * 2 * np.pi / 360


def np_cartpole_step(s: np.ndarray, force: float, tau: float = 0.02) -> np.ndarray:
    """Reference CartPole-v1 equations (float64) for one axis; s = (x, x_dot, theta, theta_dot)."""
    x, x_dot, theta, theta_dot = s
    g, mc, mp, length = 9.8, 1.0, 0.1, 0.5
    total, pml = mc + mp, mp * length
    cos, sin = np.cos(theta), np.sin(theta)
    temp = (force + pml * theta_dot**2 * sin) / total
    thetaacc = (g * sin - cos * temp) / (length * (4.0 / 3.0 - mp * cos**2 / total))
    xacc = temp - pml * thetaacc * cos / total
    return np.array([x + tau * x_dot, x_dot + tau * xacc, theta + tau * theta_dot,
                     theta_dot + tau * thetaacc])


def pd_action(obs) -> int:
    """Balancing controller: survives 500 steps of CartPole-v1."""
    return int(obs[2] + 0.5 * obs[3] > 0)


def set_state(state: EnvState, physics, time: int) -> EnvState:
    return state.replace(physics=jnp.asarray(physics, jnp.float32).reshape(state.physics.shape),
                         time=jnp.asarray(time, jnp.int32))


@pytest.fixture(scope="module")
def env1():
    return make("NDCartPole-v0", num_dims=1)


@pytest.mark.parametrize("policy", ["random", "pd"])
def test_matches_gymnasium_cartpole_v1(env1, policy):
    """Whole episodes step for step vs gymnasium (auto-reset step; final_observation compared).

    Random policy: gymnasium (float64) runs free from our initial state; episodes are short, so
    float32 rounding stays < 1e-6. PD policy (500 steps): any float32 implementation drifts from
    float64 under the same action sequence (1e-4 after ~100 steps, O(1) after ~200: the upright
    pole is unstable open loop), so gymnasium's state is re-synced to ours before every step; this
    compares the one-step map, rewards, terminated and truncated along the whole 500-step episode.
    """
    env, params = env1
    step = jax.jit(env.step)
    gym_env = gym.make("CartPole-v1")
    rng = np.random.default_rng(0)
    key = jax.random.key(0)
    resync = policy == "pd"
    for _ in range(3 if policy == "random" else 1):
        key, k = jax.random.split(key)
        obs, state = env.reset(k, params)
        gym_env.reset(seed=int(rng.integers(1 << 30)))
        gym_env.unwrapped.state = np.asarray(state.physics[0], np.float64)
        for t in range(1, 501):
            a = int(rng.integers(2)) if policy == "random" else pd_action(np.asarray(obs))
            if resync:
                gym_env.unwrapped.state = np.asarray(state.physics[0], np.float64)
            g_obs, g_rew, g_term, g_trunc, _ = gym_env.step(a)
            key, k = jax.random.split(key)
            obs, state, rew, term, trunc, info = step(k, state, a, params)
            np.testing.assert_allclose(info["final_observation"], g_obs, atol=1e-5)
            assert float(rew) == g_rew
            assert (bool(term), bool(trunc)) == (g_term, g_trunc), t
            if g_term or g_trunc:
                break
        if policy == "pd":
            assert t == 500 and bool(trunc) and not bool(term)
        else:
            assert bool(term) and t < 500
        assert int(state.time) == 0  # auto-reset


def test_matches_gymnax_cartpole_v1(env1):
    env, params = env1
    gx_env = gx_cartpole.CartPole()
    gx_params = gx_env.default_params
    key = jax.random.key(1)
    obs, state = env.reset(key, params)
    gx_obs, gx_state = gx_env.reset(key, gx_params)
    np.testing.assert_array_equal(obs, gx_obs)  # same key -> same initial state
    rng = np.random.default_rng(1)
    step, gx_step = jax.jit(env.step_env), jax.jit(gx_env.step_env)
    for _ in range(300):  # free-running, past termination (no auto-reset) on purpose
        a = int(rng.integers(2))
        obs, state, rew, term, _ = step(key, state, a, params)
        gx_obs, gx_state, gx_rew, gx_term, _ = gx_step(key, gx_state, a, gx_params)
        np.testing.assert_array_equal(obs, gx_obs)  # bit-exact (same float32 expressions)
        assert float(rew) == float(gx_rew) and bool(term) == bool(gx_term)


def test_spaces_and_sizes():
    env, params = make("NDCartPole-v0", num_dims=3)
    assert (env.num_dims, env.obs_dim, env.num_actions) == (3, 12, 6)
    assert env.observation_space(params).shape == (12,)
    assert env.action_space(params).n == 6
    obs, state = env.reset(jax.random.key(0), params)
    assert obs.shape == (12,) and obs.dtype == jnp.float32
    assert state.physics.shape == (3, 4) and state.time.dtype == jnp.int32
    np.testing.assert_array_equal(obs, state.physics.reshape(-1))  # row-major
    assert bool(jnp.all(jnp.abs(obs) <= 0.05))
    assert bool(env.observation_space(params).contains(obs))


def test_free_axis_evolves_like_unforced_cartpole():
    n, free = 3, 1
    env, params = make("NDCartPole-v0", num_dims=n)
    _, state = env.reset(jax.random.key(2), params)
    ref = np.asarray(state.physics[free], np.float64)
    rng = np.random.default_rng(2)
    step = jax.jit(env.step_env)
    for _ in range(40):
        a = int(rng.choice([0, 1, 4, 5]))  # only axes 0 and 2 pushed
        _, state, *_ = step(jax.random.key(0), state, a, params)
        ref = np_cartpole_step(ref, 0.0)
        np.testing.assert_allclose(state.physics[free], ref, atol=1e-5)


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("col,thr", [(0, 2.4), (2, THETA_MAX)])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_any_axis_failure_terminates(axis, col, thr, sign):
    env, params = make("NDCartPole-v0", num_dims=3)
    _, state = env.reset(jax.random.key(0), params)
    physics = np.zeros((3, 4), np.float32)
    assert not bool(env.is_terminated(set_state(state, physics, 0), params))
    physics[axis, col] = sign * (thr + 1e-3)
    assert bool(env.is_terminated(set_state(state, physics, 0), params))
    # through step: crossing the threshold on one axis ends the episode for all
    physics[axis, col] = sign * (thr - 5e-3)
    physics[axis, col + 1] = sign * 1.0  # velocity carries it over in one step (tau = 0.02)
    assert not bool(env.is_terminated(set_state(state, physics, 0), params))
    _, _, rew, term, trunc, info = env.step(
        jax.random.key(1), set_state(state, physics, 0), 2 * axis, params)
    assert bool(term) and not bool(trunc) and float(rew) == 1.0
    final = EnvState(physics=info["final_observation"].reshape(3, 4), time=jnp.int32(1))
    assert bool(env.is_terminated(final, params))


def test_action_encoding():
    n = 3
    env, params = make("NDCartPole-v0", num_dims=n)
    _, state = env.reset(jax.random.key(0), params)
    state = set_state(state, np.zeros((n, 4)), 0)
    for a in range(2 * n):
        obs, *_ = env.step_env(jax.random.key(0), state, a, params)
        x_dot = np.asarray(obs).reshape(n, 4)[:, 1]
        expected = np.zeros(n)
        expected[a // 2] = 1.0 if a % 2 else -1.0
        np.testing.assert_array_equal(np.sign(x_dot), expected)


def test_truncation_at_500_and_auto_reset():
    env, params = make("NDCartPole-v0", num_dims=2)
    _, state = env.reset(jax.random.key(0), params)
    state = set_state(state, np.zeros((2, 4)), 498)
    _, state, _, term, trunc, _ = env.step(jax.random.key(1), state, 0, params)
    assert not bool(term) and not bool(trunc) and int(state.time) == 499
    obs, state, rew, term, trunc, info = env.step(jax.random.key(2), state, 1, params)
    assert bool(trunc) and not bool(term) and float(rew) == 1.0
    assert info["final_observation"].shape == (8,)
    assert int(state.time) == 0 and bool(jnp.all(jnp.abs(state.physics) <= 0.05))
    np.testing.assert_array_equal(obs, state.physics.reshape(-1))
    assert not np.allclose(obs, info["final_observation"])


def test_time_scale_scales_tau_and_params_vmap():
    env, params = make("NDCartPole-v0", num_dims=2)
    _, state = env.reset(jax.random.key(0), params)
    scales = jnp.array([1.0, 0.5, 0.25])
    batched = jax.vmap(lambda ts: params.replace(time_scale=ts))(scales)
    obs, *_ = jax.vmap(env.step_env, in_axes=(None, None, None, 0))(
        jax.random.key(0), state, 1, batched)
    dx = obs.reshape(3, 2, 4)[:, :, 0] - state.physics[None, :, 0]
    np.testing.assert_allclose(dx, 0.02 * scales[:, None] * state.physics[None, :, 1], rtol=1e-4,
                               atol=1e-9)


def test_vmap_scan_compiles_once():
    env, params = make("NDCartPole-v0", num_dims=3)
    batch, steps = 1024, 50
    traces = []

    @jax.jit
    def run(key):
        traces.append(1)  # Python side effect: runs once per trace
        keys = jax.random.split(key, batch)
        _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)

        def body(state, key):
            k_act, k_step = jax.random.split(key)
            action = jax.random.randint(k_act, (batch,), 0, env.num_actions)
            _, state, rew, term, trunc, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_step, batch), state, action, params)
            return state, (rew.sum(), term.sum())

        return jax.lax.scan(body, state, jax.random.split(key, steps))

    for seed in range(3):
        state, (rew, term) = run(jax.random.key(seed))
    jax.block_until_ready(state)
    assert len(traces) == 1 and run._cache_size() == 1
    assert rew.shape == (steps,) and float(rew[-1]) == batch  # every step pays 1.0
    assert int(term.sum()) > 0 and state.physics.shape == (batch, 3, 4)
    assert bool(jnp.all(state.time <= steps))


def test_equal_envs_share_jit_cache():
    assert NDCartPole(2) == NDCartPole(2) and hash(NDCartPole(2)) == hash(NDCartPole(2))
    assert NDCartPole(2) != NDCartPole(3)
