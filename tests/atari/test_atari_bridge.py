"""envpool bridge: the batched-env API, jit of a rollout, envpool's auto-reset and full-game scores."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("envpool")

from rlsl_jax.envs import make  # noqa: E402
from rlsl_jax.envs.batched import StepResult  # noqa: E402
from rlsl_jax.envs.envpool_bridge import atari_ids, drain_scores  # noqa: E402
from rlsl_jax.rl.rollout import categorical_act_fn, init_rollout_carry, rollout  # noqa: E402


def test_shapes_spaces_and_jitted_step():
    benv, params = make("envpool/Pong-v5", num_envs=2)
    assert params is None and benv.num_envs == 2
    assert benv.observation_space().shape == (4, 84, 84) and benv.action_space().n == 6
    cfg = benv.config
    assert (cfg["frame_skip"], cfg["stack_num"], cfg["noop_max"], cfg["max_episode_steps"]) == (4, 4, 30, 27000)
    assert (cfg["img_height"], cfg["img_width"], cfg["repeat_action_probability"]) == (84, 84, 0.0)
    obs, state = benv.reset(jax.random.key(0))
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == jnp.uint8
    res = jax.jit(benv.step)(jax.random.key(1), state, jnp.array([0, 3]))
    assert isinstance(res, StepResult)
    assert res.obs.shape == res.final_obs.shape == (2, 4, 84, 84) and res.obs.dtype == jnp.uint8
    for f in (res.reward, res.terminated, res.truncated):
        assert f.shape == (2,)
    assert res.reward.dtype == jnp.float32 and res.terminated.dtype == jnp.bool_
    with pytest.raises(TypeError, match="host call"):
        jax.jit(benv.reset)(jax.random.key(0))


def test_unknown_id_lists_atari_ids():
    assert {"Centipede-v5", "MsPacman-v5", "Pong-v5", "SpaceInvaders-v5"} <= set(atari_ids())
    with pytest.raises(ValueError, match="valid: .*envpool/Pong-v5"):
        make("envpool/NoSuchGame-v5")


def test_jitted_rollout_reset_step_and_scores():
    """A 6-step game cap: step 5 truncates; envpool resets on the next call (action ignored) — that
    transition is reported terminated with reward 0, so no transition spans two episodes."""
    benv, _ = make("envpool/Pong-v5", num_envs=2, max_episode_steps=6, episodic_life=True, reward_clip=True)
    carry = init_rollout_carry(jax.random.key(0), benv)
    act = categorical_act_fn(lambda o: jnp.zeros((o.shape[0], 6)))
    value = lambda o: o.reshape(o.shape[0], -1).astype(jnp.float32).mean(-1)  # noqa: E731
    f = jax.jit(lambda k, c: rollout(k, c, act, value, benv, 10))
    carry, traj = f(jax.random.key(1), carry)
    assert traj.obs.shape == (10, 2, 4, 84, 84) and traj.obs.dtype == jnp.uint8
    done, term = np.asarray(traj.done), np.asarray(traj.terminated)
    np.testing.assert_array_equal(done[:, 0], [0, 0, 0, 0, 0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(term[:, 0], [0, 0, 0, 0, 0, 0, 1, 0, 0, 0])  # truncation, then reset step
    assert float(np.abs(np.asarray(traj.reward[6])).sum()) == 0.0
    first = np.asarray(traj.obs[7, 0])  # first obs of the new game: a freshly filled frame stack
    assert all(np.array_equal(first[0], first[i]) for i in range(4))
    st = carry.env_state
    np.testing.assert_array_equal(np.asarray(st.finished_games), [1, 1])  # one (capped) game each
    st, stats = drain_scores(st)
    assert int(stats["games"]) == 2 and int(st.finished_games.sum()) == 0
    carry, traj = f(jax.random.key(2), carry.replace(env_state=st))
    assert f._cache_size() == 1
    np.testing.assert_array_equal(np.asarray(traj.done)[:, 0], [0, 0, 1, 1, 0, 0, 0, 0, 0, 1])
    # final_obs is the next obs (final_obs_is_obs): rollout takes next_value from the next step's value
    v = np.asarray(jax.vmap(value)(traj.obs))
    np.testing.assert_array_equal(np.asarray(traj.next_value)[:-1], v[1:])
    np.testing.assert_array_equal(np.asarray(traj.next_value)[-1], np.asarray(value(carry.obs)))
