"""brax bridge and the MuJoCo task on a tiny hopper (spring backend: the fastest to compile on a CPU).

brax compiles slowly on a CPU, so this module is small: one bridge test, one round trip through
tasks.mujoco (distil 2 meta-epochs, score the saved dataset with its normaliser), one CLI run with
the periodic k-shot check and a trace-only check of the mjx pipeline.
"""

import csv
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("brax")

from rlsl_jax.checkpoint import load_dataset  # noqa: E402
from rlsl_jax.distill.ppmo import PPMOConfig  # noqa: E402
from rlsl_jax.envs import make  # noqa: E402
from rlsl_jax.experiments import mujoco  # noqa: E402
from rlsl_jax.tasks import mujoco as M  # noqa: E402

TINY = dict(k=4, num_envs=2, rollout_steps=8, minibatch_size=16, update_epochs=1, critic_hidden=(16,), clip_eps=0.1,
            ent_coef=0.0)


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


def test_distil_saves_normaliser_and_scores(tmp_path):
    """tasks.mujoco on brax hopper: 2 meta-epochs, dataset.npz with the normaliser, then fresh
    learners scored on the saved run with the stored normaliser."""
    cfg = PPMOConfig(**TINY)
    mj = {"env": "hopper", "backend": "brax", "brax_backend": "spring", "method": "ppmo", "episode_length": 6,
          "norm_obs": True, "scale_reward": True}
    out = tmp_path / "hop"
    run = M.make_run(mj, cfg, seed=0)
    state, info = M.distil(run, meta_epochs=2, out_dir=out, chunk=1, progress=False)
    summary, line = M.publish(run, state, info, out)
    assert summary["meta_epochs"] == 2 and summary["k"] == 4 and summary["brax_backend"] == "spring"
    assert line.startswith("PPMO hopper: 2 meta-epochs")
    with np.load(out / "dataset.npz") as z:
        assert z["x"].shape == (4, 11) and z["y"].shape == (4, 3) and z["log_std"].shape == (3,)
        assert z["obs_mean"].shape == (11,) and float(z["obs_count"]) > 2 * 8  # updated by the rollouts
        assert np.abs(z["obs_mean"]).max() > 0
    assert len((out / "log.csv").read_text().splitlines()) == 3
    scored = M.load_scored(out, 2, seed=0)
    assert (scored.env, scored.backend, scored.brax_backend, scored.episode_length) == ("hopper", "brax", "spring", 6)
    # --env given: the CLI's episode length (and backend) win over what the run recorded
    assert M.load_scored(out, 2, seed=0, env="hopper", backend="brax", brax_backend="spring",
                         episode_length=9).episode_length == 9
    r = M.score(scored, 2, seed=0, source=str(out))
    assert r["obs_normalised"] and r["env"] == "hopper" and len(r["returns"]) == 2
    assert all(np.isfinite(r["returns"]))
    assert "brax hopper k=4: 2 fresh learners, return" in M.eval_line(r)


def test_cli_periodic_check_publishes_the_best_dataset(tmp_path):
    """--eval-every 2 over 4 meta-epochs: log.csv gains kshot_mean/kshot_std at the checks,
    summary.json a best_check, and dataset.npz holds the best-checked dataset (seed 0: meta-epoch 2's,
    not the last one) with that meta-epoch's normaliser."""
    out = tmp_path / "hop"
    mujoco.main(["--env", "hopper", "--brax-backend", "spring", "--episode-length", "6", "--k", "4", "--num-envs", "2",
                 "--rollout-steps", "8", "--minibatch-size", "16", "--update-epochs", "1", "--critic-hidden", "16",
                 "--meta-epochs", "4", "--chunk", "1", "--checkpoint-every", "2", "--eval-every", "2",
                 "--eval-check-learners", "3", "--no-progress", "--no-compile-cache", "--out", str(out)])
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert "kshot_std" in rows[0] and [r["kshot_mean"] != "" for r in rows] == [False, True, False, True]
    scores = {int(r["meta_epoch"]): float(r["kshot_mean"]) for r in rows if r["kshot_mean"]}
    assert scores[2] > scores[4]  # the case under test: the best check is not the last one
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_check"]["meta_epoch"] == 2
    assert summary["best_check"]["kshot_mean"] == pytest.approx(scores[2], rel=1e-5)
    at2, meta2 = load_dataset(out / "checkpoints", step=2)  # meta-epoch 2's own dataset (the best so far)
    with np.load(out / "dataset.npz") as z:
        np.testing.assert_array_equal(z["x"], at2.x)
        np.testing.assert_array_equal(z["obs_count"], meta2["extra"]["obs_count"])
        assert 2 * 2 * 8 <= float(z["obs_count"]) < 3 * 2 * 8  # 2 meta-epochs of 2 envs x 8 steps, not 4
    newest, meta = load_dataset(out)  # the last checkpoint (meta-epoch 4) holds the best dataset too
    assert meta["step"] == 4 and meta["best"]["meta_epoch"] == 2
    np.testing.assert_array_equal(newest.x, at2.x)


def test_mjx_state_has_no_zero_size_leaves_for_orbax():
    # mjx states hold zero-size arrays (orbax cannot save them): the bridge carries only the others
    benv, _ = make("brax/hopper", num_envs=2)  # default pipeline: mjx (traced only, not compiled here)
    assert benv.backend == "mjx" and benv._empty
    packed = jax.eval_shape(lambda k: benv.reset(k)[1], jax.random.key(0))
    assert all(leaf.size > 0 for leaf in jax.tree.leaves(packed))
    full = jax.eval_shape(benv.brax_state, packed)
    assert jax.tree.structure(full) == benv._treedef and "final_obs" in full.info
