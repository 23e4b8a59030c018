"""The mujoco CLI on envpool's Hopper-v4 (the other bridge, envs.envpool_mujoco): PPMO and --eval."""

import json

import numpy as np
import pytest

pytest.importorskip("envpool")

from rlsl_jax.experiments import mujoco  # noqa: E402

TINY = ["--backend", "envpool", "--k", "4", "--num-envs", "2", "--rollout-steps", "64", "--minibatch-size", "64",
        "--update-epochs", "1", "--critic-hidden", "16", "--chunk", "2", "--no-progress"]


def test_envpool_backend_trains_and_evaluates(tmp_path, capsys):
    out = tmp_path / "hop"
    mujoco.main(["--env", "hopper", "--meta-epochs", "4", "--out", str(out), *TINY])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "envpool" and summary["meta_epochs"] == 4
    rows = (out / "log.csv").read_text().splitlines()
    header = rows[0].split(",")
    rets = [float(r.split(",")[header.index("episode_return")]) for r in rows[1:]]
    # 4 x 2 envs x 64 steps of an untrained hopper: episodes end (falls) and their raw returns are > 0
    # (envpool's 0-return auto-reset steps are not counted as episodes)
    assert np.nanmin(rets) > 0
    with np.load(out / "dataset.npz") as z:
        assert z["x"].shape == (4, 11) and z["obs_mean"].shape == (11,)
    capsys.readouterr()
    mujoco.main(["--eval", str(out), "--eval-learners", "2", "--no-progress"])
    assert "envpool hopper k=4: 2 fresh learners" in capsys.readouterr().out
