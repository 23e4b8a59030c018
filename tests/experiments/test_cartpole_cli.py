"""The cartpole distillation CLI as a user runs it: tiny budgets, outputs, resume, bad input."""

import json

import numpy as np
import pytest

from conftest import cli_help, run_cli

M = "rlsl_jax.experiments.cartpole"
TINY = ["--num-envs", "2", "--rollout-steps", "16", "--minibatch-size", "8", "--update-epochs", "1",
        "--chunk", "2", "--checkpoint-every", "2", "--eval-learners", "8", "--eval-every", "0", "--no-progress"]


@pytest.mark.parametrize("args, msg", [
    (["--k", "0"], "--k must be >= 1"),
    (["--dims", "0"], "--dims must be >= 1"),
    (["--env", "NoSuchEnv-v9"], "unknown env 'NoSuchEnv-v9'; valid: NDCartPole-v0"),
    (["--population", "-1"], "--population must be >= 1"),
    (["--resume"], "no run in"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, args, msg):
    """In this process (the exit code of a real process: test_refuses_to_overwrite_existing_run)."""
    from rlsl_jax import cli
    from rlsl_jax.experiments import cartpole

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        cli.run_main(lambda: cartpole.main(["--out", str(out), *args]))
    assert e.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and msg in lines[0], lines
    assert not out.exists()


def test_refuses_to_overwrite_existing_run(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    r = run_cli(M, "--out", str(out), *TINY, timeout=120)
    assert r.returncode == 2 and "--resume" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_tiny_run_writes_everything_and_resumes(tmp_path):
    out = tmp_path / "run"
    r = run_cli(M, "--dims", "2", "--k", "3", "--meta-epochs", "4", "--out", str(out), *TINY)
    assert r.returncode == 0, r.stderr
    assert "NDCartPole-v0" in r.stdout and "3-shot return: sampled" in r.stdout
    for name in ("log.csv", "learning_curve.png", "dataset.npz", "summary.json", "run.json", "checkpoints"):
        assert (out / name).exists(), name
    z = np.load(out / "dataset.npz")
    assert z["x"].shape == (3, 8) and z["y"].shape == (3, 4) and z["inner_lr"].dtype == np.float32
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta_epochs"] == 4 and summary["sampled"]["n"] == 8
    r = run_cli(M, "--meta-epochs", "6", "--out", str(out), "--resume", *TINY)
    assert r.returncode == 0, r.stderr
    resumed = json.loads((out / "summary.json").read_text())
    assert resumed["meta_epochs"] == 6
    assert len((out / "log.csv").read_text().strip().splitlines()) == 1 + 6
    # training time goes on across the resume: the log's wall_s never falls, the summary counts both calls
    wall = [float(row.split(",")[1]) for row in (out / "log.csv").read_text().strip().splitlines()[1:]]
    assert wall == sorted(wall) and wall[4] >= wall[3] > 0
    assert resumed["train_wall_s"] >= wall[-1] - 0.01


def test_help_explains_every_flag():
    out = cli_help(M)
    for flag in ("--dims", "--k", "--population", "--meta-epochs", "--seed", "--out", "--resume", "--clip-eps"):
        assert flag in out


def test_stops_on_the_kshot_target_and_keeps_the_best_dataset(tmp_path):
    """--eval-every M --target R: the k-shot check is logged, the run stops at the first check that
    reaches R, and dataset.npz / the checkpoint hold the dataset of the best check."""
    import csv

    from rlsl_jax.checkpoint import load_dataset

    out = tmp_path / "run"
    args = [a for a in TINY if a not in ("--eval-every", "0")]
    r = run_cli(M, "--dims", "1", "--k", "2", "--meta-epochs", "8", "--out", str(out), *args,
                "--eval-every", "2", "--target", "1", "--eval-check-learners", "4")
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta_epochs"] == 2 and summary["best_check"]["meta_epoch"] == 2  # stopped at the first check
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert len(rows) == 2 and rows[-1]["kshot_mean"] not in ("", "nan") and float(rows[-1]["kshot_mean"]) >= 1
    ds, meta = load_dataset(out)
    assert meta["best"]["meta_epoch"] == 2
    np.testing.assert_array_equal(np.load(out / "dataset.npz")["x"], ds.x)


def test_help_shows_the_defaults_used():
    out = cli_help(M)
    assert "1500, 3000, 5000" in out and "495 for NDCartPole-v0" in out and "(default: 50)" in out
