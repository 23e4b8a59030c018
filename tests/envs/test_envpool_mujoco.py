"""envpool MuJoCo bridge: shapes/dtypes, float64 contained (x64 stays off), auto-reset semantics in a
jitted scan, scores, action clipping, registry errors. The bridge is checked against envpool's own
numpy API (a second pool with the same seed, stepped with float64 actions)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

envpool = pytest.importorskip("envpool")

from rlsl_jax.envs import make  # noqa: E402
from rlsl_jax.envs.batched import StepResult  # noqa: E402
from rlsl_jax.envs.envpool_bridge import drain_scores  # noqa: E402
from rlsl_jax.envs.envpool_mujoco import PAPER_TASKS, EnvpoolMujocoEnv, mujoco_ids  # noqa: E402
from rlsl_jax.rl.rollout import init_rollout_carry, rollout  # noqa: E402


@pytest.fixture(autouse=True)
def x64_unchanged():
    before = jax.config.jax_enable_x64
    yield
    assert jax.config.jax_enable_x64 == before


def reference(task, num_envs, actions, **kwargs):
    """envpool's numpy API: (reset obs, [(obs, reward, term, trunc, elapsed_step)] per action)."""
    pool = envpool.make(task, env_type="gym", num_envs=num_envs, batch_size=num_envs, seed=0, **kwargs)
    obs0, _ = pool.reset()
    out = []
    for a in actions:
        obs, r, te, tr, info = pool.step(np.asarray(a, np.float64))
        out.append((obs, r, te, tr, info["elapsed_step"]))
    return obs0, out


@pytest.mark.parametrize("task,obs_dim,act_dim,bound", [("Hopper-v4", 11, 3, 1.0), ("Ant-v4", 27, 8, 1.0)])
def test_shapes_dtypes_and_values(task, obs_dim, act_dim, bound):
    benv, params = make(f"envpool/{task}", num_envs=2)
    assert params is None and isinstance(benv, EnvpoolMujocoEnv) and benv.num_envs == 2
    assert benv.observation_space().shape == (obs_dim,) and benv.observation_space().dtype == jnp.float32
    space = benv.action_space()
    assert space.shape == (act_dim,)
    np.testing.assert_array_equal(space.low, -bound)
    np.testing.assert_array_equal(space.high, bound)
    obs, state = benv.reset(jax.random.key(0))
    assert obs.shape == (2, obs_dim) and obs.dtype == jnp.float32
    action = np.linspace(-0.9, 0.9, 2 * act_dim, dtype=np.float32).reshape(2, act_dim)
    res = jax.jit(benv.step)(jax.random.key(1), state, jnp.asarray(action))
    assert isinstance(res, StepResult)
    assert res.obs.shape == res.final_obs.shape == (2, obs_dim) and res.obs.dtype == jnp.float32
    for f in (res.reward, res.terminated, res.truncated):
        assert f.shape == (2,)
    assert res.reward.dtype == jnp.float32 and res.terminated.dtype == res.truncated.dtype == jnp.bool_
    ref_obs0, [(ref_obs, ref_r, _, _, _)] = reference(task, 2, [action])
    np.testing.assert_allclose(obs, ref_obs0, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res.obs, ref_obs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(res.reward, ref_r, rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="host call"):
        jax.jit(benv.reset)(jax.random.key(0))
    with pytest.raises(AssertionError):
        benv.step(jax.random.key(1), state, jnp.zeros((2, act_dim + 1)))


def test_jitted_rollout_termination_truncation_and_scores():
    """InvertedDoublePendulum falls within a few steps under a constant push (terminated); Hopper
    hits a 3-step cap (truncated). The next call resets: reported terminated, reward 0, action
    ignored. A jitted lax.scan rollout with x64 off matches envpool's numpy API step for step."""
    T = 12
    for task, kwargs, act in [("InvertedDoublePendulum-v4", {}, [[1.0], [-1.0]]),
                              ("Hopper-v4", {"max_episode_steps": 3}, [[0.1] * 3, [-0.1] * 3])]:
        benv, _ = make(f"envpool/{task}", num_envs=2, **kwargs)
        a = jnp.asarray(act, jnp.float32)
        carry = init_rollout_carry(jax.random.key(0), benv)
        f = jax.jit(lambda k, c, benv=benv, a=a: rollout(k, c, lambda _, o: (a, jnp.zeros(2)),
                                                          lambda o: o.sum(-1), benv, T))
        carry, traj = f(jax.random.key(1), carry)
        assert traj.obs.shape == (T, 2, benv.observation_space().shape[0]) and traj.obs.dtype == jnp.float32
        _, ref = reference(task, 2, [act] * T, **kwargs)
        ref_obs, ref_r, ref_te, ref_tr, ref_el = (np.stack(x) for x in zip(*ref))
        was_reset = np.concatenate([np.zeros((1, 2), bool), (ref_te | ref_tr)[:-1]])
        np.testing.assert_array_equal(was_reset, ref_el == 0)  # envpool resets on the next call
        np.testing.assert_allclose(traj.obs[1:], ref_obs[:-1], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(carry.obs, ref_obs[-1], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(traj.reward, np.where(was_reset, 0.0, ref_r), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(traj.terminated, ref_te | was_reset)
        np.testing.assert_array_equal(traj.done, ref_te | ref_tr | was_reset)
        if task == "Hopper-v4":
            assert not ref_te.any()
            np.testing.assert_array_equal(traj.done[:, 0], [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1])
            np.testing.assert_array_equal(traj.terminated[:, 0], [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1])
        else:
            assert ref_te.any() and not ref_tr.any()
        # scores: the true returns of the finished episodes (the reset call is not an episode)
        ended = ref_te | ref_tr
        returns = [[] for _ in range(2)]
        for b in range(2):
            acc = 0.0
            for t in range(T):
                acc += 0.0 if was_reset[t, b] else ref_r[t, b]
                if ended[t, b]:
                    returns[b].append(acc)
                    acc = 0.0
        st, stats = drain_scores(carry.env_state)
        assert int(stats["games"]) == sum(map(len, returns)) > 0
        np.testing.assert_allclose(float(stats["score_sum"]), sum(map(sum, returns)), rtol=1e-5)
        np.testing.assert_allclose(st.last_score, [r[-1] for r in returns], rtol=1e-5)
        assert int(st.finished_games.sum()) == 0
        carry, _ = f(jax.random.key(2), carry.replace(env_state=st))
        assert f._cache_size() == 1


def test_actions_clipped_to_bounds():
    """v4's control cost uses the raw action: unclipped, 5.0 costs more than 1.0; clipped, the same."""
    rewards = {}
    for clip in (True, False):
        for a in (1.0, 5.0):
            benv, _ = make("envpool/Hopper-v4", num_envs=1, clip_actions=clip)
            _, state = benv.reset()
            rewards[clip, a] = float(benv.step(None, state, jnp.full((1, 3), a)).reward[0])
    assert rewards[True, 1.0] == rewards[True, 5.0] == rewards[False, 1.0]
    np.testing.assert_allclose(rewards[False, 1.0] - rewards[False, 5.0], 1e-3 * 3 * (25 - 1), rtol=1e-4)


def test_ids_and_unknown_id():
    assert set(PAPER_TASKS) <= set(mujoco_ids())
    with pytest.raises(ValueError, match="valid: .*envpool/Ant-v4.*envpool/Pong-v5"):
        make("envpool/NoSuchTask-v4")
    with pytest.raises(ValueError, match="unknown envpool MuJoCo id 'Pong-v5'"):
        EnvpoolMujocoEnv("Pong-v5")
