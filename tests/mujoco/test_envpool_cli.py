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
