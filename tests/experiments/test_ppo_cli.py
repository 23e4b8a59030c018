"""Direct PPO: the study (studies.ppo.run_ppo through runner.run) on a tiny run, and the CLI
(python -m rlsl_jax.experiments.ppo): a tiny real run, bad input (one line, exit 2, nothing written)."""

import csv
import json

import pytest
from conftest import run_cli

from rlsl_jax.experiments import ppo as ppo_cli
from rlsl_jax.runner import chunk_plan

M = "rlsl_jax.experiments.ppo"
TINY = ("--num-envs", "4", "--rollout-steps", "25", "--minibatch-size", "50", "--update-epochs", "2",
        "--eval-episodes", "3", "--chunk", "4", "--no-progress")


def test_tiny_run_writes_log_summary_and_plot(tmp_path):
    out = tmp_path / "run"
    # 1000 steps = 10 epochs of 4 x 25 (chunks of 2: the largest divisor of 10 that is <= --chunk 4)
    r = run_cli(M, "--dims", "2", "--seeds", "2", "--total-steps", "1000", "--out", str(out), *TINY, timeout=180)
    assert r.returncode == 0, r.stderr
    assert "2 seeds x 1000 steps (10 epochs)" in r.stdout and "final return sampled" in r.stdout
    assert "best checkpoint (re-scored on new episodes)" in r.stdout
    s = json.loads((out / "summary.json").read_text())
    assert s["env_kwargs"] == {"num_dims": 2} and s["epochs"] == 10 and s["env_steps_per_seed"] == 1000
    assert s["config"]["num_envs"] == 4 and s["config"]["minibatch_size"] == 50
    for mode in ("sampled", "greedy", "best_checkpoint"):
        assert len(s[mode]["per_seed"]) == 2 and all(1 <= v <= 500 for v in s[mode]["per_seed"])
    assert s["compile_s"] > 0 and s["train_s"] > 0
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 11))
    assert [int(r["env_steps"]) for r in rows][-1] == 1000
    assert all(float(r["entropy"]) > 0 for r in rows)
    assert sorted(p.name for p in out.iterdir()) == ["learning_curve.png", "log.csv", "summary.json"]  # no checkpoints
    assert (out / "learning_curve.png").stat().st_size > 1000


@pytest.mark.parametrize("args, msg", [
    (("--dims", "0"), "--dims must be >= 1"),
    (("--seeds", "0"), "--seeds must be >= 1"),
    (("--total-steps", "0"), "--total-steps must be >= 1"),
    (("--minibatch-size", "-3"), "--minibatch-size must be >= 1"),
    (("--env", "NoSuchEnv-v9"), "unknown env 'NoSuchEnv-v9'"),
    (("--env", "Pendulum-v1"), "continuous action space"),
    (("--time-scale", "0"), "--time-scale must be > 0"),
])
def test_bad_input(tmp_path, capsys, args, msg):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        ppo_cli.cli.run_main(lambda: ppo_cli.main([*args, "--out", str(out)]))
    assert e.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and msg in lines[0], lines
    assert not out.exists()


def test_refuses_a_non_empty_out(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")  # (the subprocess path: one line on stderr, exit 2)
    r = run_cli(M, "--out", str(out), timeout=60)
    assert r.returncode == 2 and "nothing was overwritten" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_chunk_plan():
    assert chunk_plan(250, 25) == [25] * 10
    assert chunk_plan(10, 4) == [2] * 5
    assert chunk_plan(97, 25) == [25, 25, 25, 22]  # prime: two sizes rather than 97 calls
    assert chunk_plan(3, 50) == [3]
    assert sum(chunk_plan(1001, 100)) == 1001


def test_seed_rows_aggregate_over_seeds():
    import numpy as np

    from rlsl_jax.studies.ppo import seed_rows

    nan = float("nan")
    metrics = {"episode_return": np.array([[10.0, nan], [30.0, nan]]), "episodes": np.array([[1, 0], [1, 0]]),
               "entropy": np.array([[0.5, 0.7], [0.7, 0.9]])}
    rows = seed_rows(metrics, start=4, wall=1.5, transitions_per_epoch=100)
    assert [(r["epoch"], r["env_steps"], r["wall_s"]) for r in rows] == [(5, 500, 1.5), (6, 600, 1.5)]
    assert rows[0]["episode_return"] == 20.0 and rows[0]["episode_return_min"] == 10.0
    assert rows[0]["episode_return_max"] == 30.0 and rows[0]["entropy"] == pytest.approx(0.6)
    assert np.isnan(rows[1]["episode_return"]) and "episodes" not in rows[1]  # no episode ended in epoch 6
