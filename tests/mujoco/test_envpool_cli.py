"""The mujoco CLI on envpool's Hopper-v4 (the other bridge, envs.envpool_mujoco) as a user runs it:
PPMO in a subprocess, --resume (the emulators restart, the normaliser is kept), --eval."""

import json

import numpy as np
import pytest

from conftest import run_cli

pytest.importorskip("envpool")

from rlsl_jax import cli  # noqa: E402
from rlsl_jax.experiments import mujoco  # noqa: E402

TINY = ["--backend", "envpool", "--k", "4", "--num-envs", "2", "--rollout-steps", "64", "--minibatch-size", "64",
        "--update-epochs", "1", "--critic-hidden", "16", "--chunk", "2", "--no-progress"]


def test_envpool_backend_trains_resumes_and_evaluates(tmp_path, capsys):
    out = tmp_path / "hop"
    r = run_cli("rlsl_jax.experiments.mujoco", "--env", "hopper", "--meta-epochs", "2", "--out", str(out), *TINY,
                timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().splitlines()[-1].startswith("PPMO hopper: 2 meta-epochs")
    run = json.loads((out / "run.json").read_text())
    assert run["mujoco"]["backend"] == "envpool" and run["config"]["num_envs"] == 2 and run["config"]["k"] == 4
    with np.load(out / "dataset.npz") as z:
        count = float(z["obs_count"])
    mujoco.main(["--resume", "--out", str(out), "--meta-epochs", "4", "--no-progress"])
    assert "resuming" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "envpool" and summary["meta_epochs"] == 4 and summary["paper_table3"] == 1858
    rows = (out / "log.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert len(rows) == 5 and "kshot_mean" not in header
    rets = [float(r.split(",")[header.index("episode_return")]) for r in rows[1:]]
    # 4 x 2 envs x 64 steps of an untrained hopper: episodes end (falls) and their raw returns are > 0
    # (envpool's 0-return auto-reset steps are not counted as episodes)
    assert np.nanmin(rets) > 0
    with np.load(out / "dataset.npz") as z:
        assert z["x"].shape == (4, 11) and z["obs_mean"].shape == (11,)
        assert float(z["obs_count"]) > count  # the restored statistics kept counting after the resume
    mujoco.main(["--eval", str(out), "--eval-learners", "2", "--no-progress", "--out", str(tmp_path / "ev")])
    assert "envpool hopper k=4: 2 fresh learners" in capsys.readouterr().out
    ev = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert list(ev) == ["mean", "std", "n", "returns", "dataset", "env", "backend", "k", "inner_lr", "greedy",
                        "obs_normalised", "wall_s", "seed"]
    assert ev["obs_normalised"] and len(ev["returns"]) == 2 and all(np.isfinite(ev["returns"]))
    # a published folder without checkpoints (dataset.npz + run.json, as experiments/mujoco/table3 commits it)
    # and its npz are scored without --env: run.json records the task
    pub = tmp_path / "published"
    pub.mkdir()
    for f in ("dataset.npz", "run.json"):
        (pub / f).write_bytes((out / f).read_bytes())
    for target in (pub, pub / "dataset.npz"):
        mujoco.main(["--eval", str(target), "--eval-learners", "2", "--out", str(tmp_path / "pub_ev")])
        assert "envpool hopper k=4: 2 fresh learners" in capsys.readouterr().out
    # a dataset without a stored normaliser is scored on raw observations, and the line says so
    with np.load(out / "dataset.npz") as z:
        np.savez(tmp_path / "raw.npz", **{k: z[k] for k in ("x", "y", "inner_lr", "k", "log_std")})
    mujoco.main(["--eval", str(tmp_path / "raw.npz"), "--env", "hopper", "--backend", "envpool", "--eval-learners", "2",
                 "--out", str(tmp_path / "raw_ev")])
    assert "stored normaliser: none" in capsys.readouterr().out
    assert not json.loads((tmp_path / "raw_ev" / "eval.json").read_text())["obs_normalised"]
    # a dataset of another task: one line, exit 2, nothing written
    with pytest.raises(SystemExit) as e:
        cli.run_main(lambda: mujoco.main(["--eval", str(out / "dataset.npz"), "--env", "ant", "--backend", "envpool",
                                          "--out", str(tmp_path / "ant_ev")]))
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "do not fit envpool ant" in err[0]
    assert not (tmp_path / "ant_ev").exists()
    # a dataset without a log-std target (a discrete-action one): the same one-line refusal
    with np.load(out / "dataset.npz") as z:
        np.savez(tmp_path / "discrete.npz", **{k: z[k] for k in ("x", "y", "inner_lr", "k")})
    with pytest.raises(SystemExit) as e:
        cli.run_main(lambda: mujoco.main(["--eval", str(tmp_path / "discrete.npz"), "--env", "hopper",
                                          "--backend", "envpool", "--out", str(tmp_path / "discrete_ev")]))
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "without a log-std target do not fit" in err[0], err
    assert not (tmp_path / "discrete_ev").exists()


def test_envpool_ppo_resumes_and_scores_the_agent(tmp_path, capsys):
    # direct PPO's state keeps its env carry one level down (``.ppo``): the envpool resume must find it
    out = tmp_path / "ppo"
    mujoco.main(["--env", "hopper", "--method", "ppo", "--meta-epochs", "2", "--out", str(out), *TINY])
    mujoco.main(["--resume", "--out", str(out), "--meta-epochs", "3", "--final-eval-learners", "3", "--no-progress"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("PPO hopper: 3 meta-epochs") and "the trained agent, 3 episodes" in line
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta_epochs"] == 3 and not (out / "dataset.npz").exists()
    for name in ("eval", "eval_mean"):
        assert summary[name]["n"] == 3 and np.isfinite(summary[name]["mean"]) and summary[name]["mean"] > 0


def test_envpool_ppo_anneals_its_rates_over_anneal_steps(tmp_path):
    """--anneal-steps 128 = one epoch of TINY's 2 envs x 64 steps: the rates reach 0 within epoch 1, so
    from epoch 2 on (resumed too) the policy no longer moves (approximate KL exactly 0); without it, it does."""
    kl = {}
    for steps in (128, 0):
        out = tmp_path / f"anneal{steps}"
        mujoco.main(["--env", "hopper", "--method", "ppo", "--meta-epochs", "2", "--anneal-steps", str(steps),
                     "--out", str(out), *TINY])
        mujoco.main(["--resume", "--out", str(out), "--meta-epochs", "3", "--no-progress"])
        assert json.loads((out / "run.json").read_text())["mujoco"].get("anneal_steps", 0) == steps
        rows = (out / "log.csv").read_text().splitlines()
        col = rows[0].split(",").index("approx_kl")
        kl[steps] = [float(r.split(",")[col]) for r in rows[1:]]
    assert len(kl[128]) == 3 and kl[128][0] != 0 and kl[128][1:] == [0.0, 0.0], kl
    assert all(k != 0 for k in kl[0]), kl


def hopper_set(path, obs_mean, obs_count):
    """(θ, its normaliser's statistics, the npz written to ``path``): a k = 4 Hopper set with η 0.7, log-std
    target -0.5 and observation variance 2."""
    from rlsl_jax.checkpoint import write_npz
    from rlsl_jax.distill.dataset import Dataset

    rng = np.random.default_rng(0)
    ds = Dataset(rng.normal(size=(4, 11)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32),
                 np.float32(0.7), log_std=np.full(3, -0.5, np.float32))
    stats = {"obs_mean": np.asarray(obs_mean, np.float32), "obs_var": np.full(11, 2.0, np.float32),
             "obs_count": np.float32(obs_count)}
    return ds, stats, write_npz(ds, {"extra": stats}, path)


def test_init_dataset_starts_ppmo_from_a_saved_dataset(tmp_path, capsys):
    """--init-dataset: θ (X, Y, η, log-std target) and the observation normaliser start from the saved
    dataset (here at another population), the record keeps its path; a dataset that does not fit the
    run (k, task, normalisation) is one line, exit 2, nothing written."""
    import jax

    from rlsl_jax.tasks import mujoco as M

    ds, stats, src = hopper_set(tmp_path / "start.npz", np.random.default_rng(0).normal(size=11), 1e6)
    out = tmp_path / "warm"
    mujoco.main(["--env", "hopper", "--init-dataset", str(src), "--population", "2", "--meta-epochs", "2",
                 "--out", str(out), *TINY])
    run = json.loads((out / "run.json").read_text())
    assert run["mujoco"]["init_dataset"] == str(src) and run["config"]["population"] == 2
    state = M.from_record(run).init(jax.random.key(0))
    np.testing.assert_array_equal(state.dataset.x, ds.x)
    np.testing.assert_array_equal(state.dataset.log_std, ds.log_std)
    assert float(state.dataset.inner_lr) == pytest.approx(0.7)
    np.testing.assert_array_equal(state.carry.env_state.obs_rms.mean, stats["obs_mean"])
    with np.load(out / "dataset.npz") as z:  # two outer Adam steps of 3e-4 away from the start, not a random θ
        assert np.abs(z["x"] - ds.x).max() < 0.05 and np.abs(z["y"] - ds.y).max() < 0.05
        assert abs(float(z["obs_count"]) - 1e6) < 1e4  # the stored count kept, then a few batches merged in
    capsys.readouterr()
    bad = [(["--k", "8"], "do not fit envpool hopper with k = 8"),
           (["--no-norm-obs"], "was distilled on normalised observations; drop --no-norm-obs"),
           (["--method", "ppo"], "--init-dataset starts a distillation")]
    for i, (flags, msg) in enumerate(bad):
        target = tmp_path / f"bad{i}"
        with pytest.raises(SystemExit) as e:
            cli.run_main(lambda: mujoco.main(["--env", "hopper", "--init-dataset", str(src), "--meta-epochs", "1",
                                              "--out", str(target), *TINY, *flags]))
        err = capsys.readouterr().err.strip().splitlines()
        assert e.value.code == 2 and len(err) == 1 and msg in err[0], err
        assert not target.exists()


def test_obs_scale_is_stored_in_the_normaliser_and_rescales_a_warm_start(tmp_path, capsys):
    """--obs-scale c: a set of scale 1 continued at c = 2 starts rescaled (X / 2, η · 4, log-std target
    / 4, the running statistics as stored); the npz stores obs_scale 2 and obs_var = 4 (var + 1e-8) −
    1e-8, and continuing that npz at c = 2 takes X and η as they are and the statistics unscaled;
    --eval scores it with the stored normaliser; --obs-scale 0 or with --no-norm-obs is one line, exit 2."""
    import jax

    from rlsl_jax.tasks import mujoco as M

    ds, stats, src = hopper_set(tmp_path / "start.npz", np.zeros(11), 1e9)
    out = tmp_path / "c2"
    mujoco.main(["--env", "hopper", "--init-dataset", str(src), "--obs-scale", "2", "--meta-epochs", "2",
                 "--out", str(out), *TINY])
    run = json.loads((out / "run.json").read_text())
    assert run["mujoco"]["obs_scale"] == 2.0
    state = M.from_record(run).init(jax.random.key(0))
    np.testing.assert_allclose(state.dataset.x, ds.x / 2, rtol=1e-6)
    np.testing.assert_allclose(state.dataset.log_std, ds.log_std / 4, rtol=1e-6)
    np.testing.assert_allclose(state.dataset.y, M.rescale_inputs(ds, 2.0).y, rtol=1e-6)
    assert float(state.dataset.inner_lr) == pytest.approx(2.8)
    np.testing.assert_allclose(state.carry.env_state.obs_rms.var, 2.0, rtol=1e-6)
    with np.load(out / "dataset.npz") as z:
        assert float(z["obs_scale"]) == 2.0
        np.testing.assert_allclose(z["obs_var"], 4 * (2.0 + 1e-8) - 1e-8, rtol=1e-3)  # count 1e9: ~unchanged
        x2, eta2 = z["x"].copy(), float(z["inner_lr"])
    assert json.loads((out / "summary.json").read_text())["obs_scale"] == 2.0
    run2 = M.from_record({**run, "mujoco": {**run["mujoco"], "init_dataset": str(out / "dataset.npz")}})
    state2 = run2.init(jax.random.key(0))
    np.testing.assert_array_equal(state2.dataset.x, x2)
    assert float(state2.dataset.inner_lr) == pytest.approx(eta2)
    np.testing.assert_allclose(state2.carry.env_state.obs_rms.var, 2.0, rtol=1e-3)
    capsys.readouterr()
    mujoco.main(["--eval", str(out), "--eval-learners", "2", "--no-progress"])
    assert "envpool hopper k=4: 2 fresh learners" in capsys.readouterr().out
    for i, (flags, msg) in enumerate([(["--obs-scale", "0"], "--obs-scale must be > 0"),
                                      (["--obs-scale", "2", "--no-norm-obs"], "--obs-scale scales normalised")]):
        target = tmp_path / f"bad{i}"
        with pytest.raises(SystemExit) as e:
            cli.run_main(lambda: mujoco.main(["--env", "hopper", "--meta-epochs", "1", "--out", str(target), *TINY,
                                              *flags]))
        err = capsys.readouterr().err.strip().splitlines()
        assert e.value.code == 2 and len(err) == 1 and msg in err[0], err
        assert not target.exists()


def test_rescale_inputs_keeps_the_linear_part_of_the_one_step_means():
    """rescale_inputs(θ, f): X / f, η f², log-std target / f², and targets moved by the least change
    that keeps Σ Y / f² (the bias path, which does not shrink with the inputs) and Σ yᵢ xᵢ; so in the
    near-linear regime the one-step means η Σ yᵢ (1 + 4 s·xᵢ) stay what they were."""
    from rlsl_jax.distill.dataset import Dataset
    from rlsl_jax.tasks.mujoco import rescale_inputs

    rng = np.random.default_rng(3)
    ds = Dataset(rng.normal(size=(64, 11)).astype(np.float32), rng.normal(0.5, 1.0, size=(64, 3)).astype(np.float32),
                 np.float32(2.0), log_std=np.full(3, -1.0, np.float32))
    r = rescale_inputs(ds, 4.0)
    np.testing.assert_allclose(r.x, ds.x / 4, rtol=1e-6)
    assert float(r.inner_lr) == pytest.approx(32.0) and np.allclose(r.log_std, -1.0 / 16)
    np.testing.assert_allclose(r.y.sum(0), ds.y.sum(0) / 16, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(r.y - ds.y).T @ ds.x, 0.0, atol=1e-3)
    assert np.abs(np.asarray(r.y - ds.y)).max() > 0.1  # the shift is real (Σ Y is far from 0 here)
    # the linear-kernel means at test inputs s (in the old units): η Σ yᵢ (1 + 4 s·xᵢ) before and after
    s = rng.normal(size=(5, 11))
    old = float(ds.inner_lr) * (ds.y.sum(0) + 4 * (s @ ds.x.T) @ ds.y)
    new = float(r.inner_lr) * (np.asarray(r.y).sum(0) + 4 * ((s / 4) @ np.asarray(r.x).T) @ np.asarray(r.y))
    np.testing.assert_allclose(new, old, rtol=1e-3, atol=1e-2)
    assert rescale_inputs(ds, 1.0) is ds
