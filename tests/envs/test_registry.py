"""make(): our ids, gymnax pass-through, helpful ValueErrors."""

import jax
import pytest

from rlsl_jax.envs import NDCartPole, list_envs, make, registered_envs


@pytest.mark.parametrize("n", [1, 2, 5])
def test_make_nd_cartpole(n):
    env, params = make("NDCartPole-v0", num_dims=n)
    assert isinstance(env, NDCartPole) and env.num_actions == 2 * n
    assert params.max_steps_in_episode == 500 and params.time_scale == 1.0


def test_make_param_overrides():
    _, params = make("NDCartPole-v0", num_dims=4, time_scale=0.5)
    assert params.time_scale == 0.5


@pytest.mark.parametrize("bad", [0, -1, 2.5, 2.0, "3", True, None])
def test_bad_num_dims(bad):
    with pytest.raises(ValueError, match="num_dims must be an integer >= 1"):
        make("NDCartPole-v0", num_dims=bad)


def test_unknown_kwarg():
    with pytest.raises(ValueError, match="num_dims"):
        make("NDCartPole-v0", num_dim=3)


def test_unknown_id_lists_choices():
    with pytest.raises(ValueError, match="NDCartPole-v0.*CartPole-v1.*Acrobot-v1"):
        make("NDCartpole-v0")
    assert {"NDCartPole-v0", "CartPole-v1", "Acrobot-v1"} <= set(list_envs())
    assert list_envs() == registered_envs


@pytest.mark.parametrize("env_id", ["NDCartPole-v0", "CartPole-v1", "Acrobot-v1"])
def test_same_api(env_id):
    env, params = make(env_id)
    obs, state = env.reset(jax.random.key(0), params)
    assert obs.shape == env.observation_space(params).shape
    action = env.action_space(params).sample(jax.random.key(1))
    obs, state, rew, term, trunc, info = env.step(jax.random.key(2), state, action, params)
    assert rew.shape == () and term.shape == () and trunc.shape == ()
    assert "final_observation" in info
    assert env.num_actions == env.action_space(params).n
