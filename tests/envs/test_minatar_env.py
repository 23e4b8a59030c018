"""The four gymnax MinAtar games through the registry: ids listed, (env, params), float32 channels-last
[10, 10, C] observations, minimal action sets, reset/step inside jit and lax.scan, batched by VmapEnv."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlsl_jax.envs import MINATAR_ACTIONS, MINATAR_CHANNELS, MINATAR_IDS, list_envs, make
from rlsl_jax.envs.batched import VmapEnv

EXPECTED = {"Breakout-MinAtar": (4, 3), "SpaceInvaders-MinAtar": (6, 4), "Asterix-MinAtar": (4, 5),
            "Freeway-MinAtar": (7, 3)}


def test_ids_listed_with_channels_and_actions():
    assert set(MINATAR_IDS) == set(EXPECTED) and set(MINATAR_IDS) <= set(list_envs())
    assert {g: (MINATAR_CHANNELS[g], MINATAR_ACTIONS[g]) for g in MINATAR_IDS} == EXPECTED


@pytest.mark.parametrize("env_id", MINATAR_IDS)
def test_reset_and_scan_of_steps_in_jit(env_id):
    env, params = make(env_id)
    c, a = EXPECTED[env_id]
    space = env.observation_space(params)
    assert tuple(space.shape) == (10, 10, c) and space.dtype == jnp.float32
    assert env.action_space(params).n == env.num_actions == a

    @jax.jit
    def run(key):
        k0, k1 = jax.random.split(key)
        obs0, state = env.reset(k0, params)

        def body(state, k):
            ka, ks = jax.random.split(k)
            action = jax.random.randint(ka, (), 0, a)
            obs, state, reward, term, trunc, info = env.step(ks, state, action, params)
            return state, (obs, reward, term, trunc, info["final_observation"])

        _, traj = jax.lax.scan(body, state, jax.random.split(k1, 64))
        return obs0, traj

    obs0, (obs, reward, term, trunc, final_obs) = run(jax.random.key(0))
    assert obs0.shape == (10, 10, c) and obs0.dtype == jnp.float32
    assert obs.shape == final_obs.shape == (64, 10, 10, c) and obs.dtype == jnp.float32
    assert reward.shape == term.shape == trunc.shape == (64,) and reward.dtype == jnp.float32
    assert term.dtype == trunc.dtype == jnp.bool_
    assert set(np.unique(np.asarray(obs))) <= {0.0, 1.0} and np.asarray(obs0).any()
    np.testing.assert_array_equal(np.asarray(obs[~np.asarray(term | trunc)]),
                                  np.asarray(final_obs[~np.asarray(term | trunc)]))  # no reset: same obs
    assert run._cache_size() == 1


def test_vmap_env_batch():
    env, params = make("Breakout-MinAtar")
    benv = VmapEnv(env, params, 3)
    obs, state = jax.jit(benv.reset)(jax.random.key(0))
    assert obs.shape == (3, 10, 10, 4) and obs.dtype == jnp.float32
    res = jax.jit(benv.step)(jax.random.key(1), state, jnp.array([0, 1, 2]))
    assert res.obs.shape == res.final_obs.shape == (3, 10, 10, 4) and res.reward.shape == (3,)


def test_full_action_set_kwarg_passes_through():
    env, params = make("Asterix-MinAtar", use_minimal_action_set=False)
    assert env.num_actions == 6
    with pytest.raises(ValueError, match="Invalid kwargs"):
        make("Breakout-MinAtar", num_dims=2)
