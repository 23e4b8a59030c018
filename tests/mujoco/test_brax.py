"""brax bridge and the mujoco CLI on a tiny hopper (spring backend: the fastest to compile on a CPU).

brax compiles slowly on a CPU, so this module is small: one bridge test and one CLI round trip
(train 1 meta-epoch, --eval the saved dataset with its normaliser) plus the CLI's error paths.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("brax")

from rlsl_jax.envs import make  # noqa: E402
from rlsl_jax.experiments import mujoco  # noqa: E402

TINY = ["--brax-backend", "spring", "--k", "4", "--num-envs", "2", "--rollout-steps", "8", "--minibatch-size", "16",
        "--update-epochs", "1", "--critic-hidden", "16", "--episode-length", "6", "--chunk", "1", "--no-progress"]


def test_brax_bridge_truncates_with_true_final_obs_and_auto_resets():
    benv, params = make("brax/hopper", num_envs=2, backend="spring", episode_length=3)
    assert params is None and benv.observation_space().shape == (11,) and benv.action_space().shape == (3,)

    @jax.jit
    def run(key):
        obs, st = benv.reset(key)

        def f(s, k):
            r = benv.step(k, s, jnp.zeros((2, 3)))
            return r.state, (r.obs, r.final_obs, r.reward, r.terminated, r.truncated)

        return obs, jax.lax.scan(f, st, jax.random.split(key, 4))[1]

    obs0, (obs, final, rew, term, trunc) = run(jax.random.key(0))
    assert obs.shape == final.shape == (4, 2, 11) and rew.dtype == jnp.float32
    # hopper standing still does not fall in 3 steps: step 3 (index 2) is a truncation, not a termination
    np.testing.assert_array_equal(np.asarray(trunc), [[False] * 2, [False] * 2, [True] * 2, [False] * 2])
    assert not np.asarray(term).any()
    np.testing.assert_allclose(obs[2], obs0)                       # auto-reset to the first state
    assert not np.allclose(final[2], obs0)                         # the true successor differs
    np.testing.assert_allclose(final[1], obs[1])                   # without a reset, final_obs == obs


def test_cli_trains_saves_normaliser_and_evaluates(tmp_path, capsys):
    out = tmp_path / "hop"
    mujoco.main(["--env", "hopper", "--meta-epochs", "2", "--out", str(out), *TINY])
    for name in ("log.csv", "learning_curve.png", "dataset.npz", "summary.json", "run.json"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta_epochs"] == 2 and summary["k"] == 4 and summary["brax_backend"] == "spring"
    with np.load(out / "dataset.npz") as z:
        assert z["x"].shape == (4, 11) and z["y"].shape == (4, 3) and z["log_std"].shape == (3,)
        assert z["obs_mean"].shape == (11,) and float(z["obs_count"]) > 2 * 8  # updated by the rollouts
        assert np.abs(z["obs_mean"]).max() > 0
    log = (out / "log.csv").read_text().splitlines()
    assert len(log) == 3
    capsys.readouterr()
    mujoco.main(["--eval", str(out), "--eval-learners", "2", "--out", str(tmp_path / "ev"), "--no-progress"])
    printed = capsys.readouterr().out
    assert "2 fresh learners" in printed
    ev = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert ev["obs_normalised"] and ev["env"] == "hopper" and len(ev["returns"]) == 2
    assert all(np.isfinite(ev["returns"]))


def test_cli_errors(tmp_path, capsys):
    def err(argv):
        with pytest.raises(SystemExit) as e:
            mujoco.run_main(lambda: mujoco.main(argv))
        assert e.value.code == 2
        return capsys.readouterr().err

    msg = err(["--env", "cheetah", "--out", str(tmp_path / "x")])
    assert "unknown env 'cheetah'" in msg and "halfcheetah" in msg and "walker2d" in msg
    assert not (tmp_path / "x").exists()
    assert "unknown --brax-backend 'fast'" in err(["--env", "ant", "--brax-backend", "fast"])
    assert "--population must be 1" in err(["--env", "ant", "--method", "ppo", "--population", "2"])


def test_mjx_state_has_no_zero_size_leaves_for_orbax():
    # mjx states hold zero-size arrays (orbax cannot save them): the bridge carries only the others
    benv, _ = make("brax/hopper", num_envs=2)  # default pipeline: mjx (traced only, not compiled here)
    assert benv.backend == "mjx" and benv._empty
    packed = jax.eval_shape(lambda k: benv.reset(k)[1], jax.random.key(0))
    assert all(leaf.size > 0 for leaf in jax.tree.leaves(packed))
    full = jax.eval_shape(benv.brax_state, packed)
    assert jax.tree.structure(full) == benv._treedef and "final_obs" in full.info
