"""The MinAtar CLI as a user runs it: bad input (one line, exit 2, nothing written), a tiny
distillation with encoder rollback that writes every output, and --eval of what it wrote."""

import json

import numpy as np
import pytest

from conftest import run_cli

M = "rlsl_jax.experiments.minatar"
TINY = ["--preset", "tiny", "--chunk", "2", "--checkpoint-every", "2", "--eval-learners", "2",
        "--no-progress"]


@pytest.mark.parametrize("args, msg", [
    (["--game", "Pong"], "unknown MinAtar game 'Pong'; valid: Breakout, SpaceInvaders, Asterix, Freeway"),
    (["--game", "Breakout", "--k", "0"], "--k must be >= 1"),
    (["--game", "Breakout", "--layer", "4"], "--layer must be in 0..3 (got 4)"),
    (["--game", "Breakout", "--layer", "-1"], "--layer must be in 0..3 (got -1)"),
    (["--game", "Breakout", "--arch", "mlp", "--layer", "1"], "--arch mlp has no encoder rollback"),
    (["--game", "Breakout", "--method", "ppo", "--layer", "2"], "--method ppo trains the whole network"),
    (["--k", "3"], "--game is required"),
    (["--game", "Breakout", "--resume"], "no run in"),
    (["--eval", "/no/such/dataset.npz"], "no such file or directory"),
])
def test_bad_input_in_process(tmp_path, capsys, args, msg):
    from rlsl_jax import cli
    from rlsl_jax.experiments import minatar as minatar_cli

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        cli.run_main(lambda: minatar_cli.main(["--out", str(out), *args]))
    assert e.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and msg in lines[0], lines
    assert not out.exists()


def test_bad_input_subprocess_one_line_exit_2_nothing_written(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    r = run_cli(M, "--out", str(out), "--game", "Breakout", timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "already holds files; pass --resume" in lines[0], r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_tiny_distillation_with_encoder_rollback_resumes_bit_exactly_then_eval(tmp_path, monkeypatch):
    """l = 1, 4 meta-epochs vs 2 + --resume to 4: the same dataset.npz (X, Y, η, encoder) and scores;
    every output written; --eval of the npz gives the run's own score. One compilation: the later
    processes load it from the persistent cache."""
    monkeypatch.setenv("RLSL_JAX_CACHE", str(tmp_path / "cache"))
    a, b = tmp_path / "a", tmp_path / "b"
    flags = ["--game", "Breakout", "--layer", "1", *TINY]
    r = run_cli(M, *flags, "--meta-epochs", "4", "--out", str(a))
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert "Breakout-MinAtar PPMO k=4 l=1 (conv): 4 meta-epochs, 128 env steps" in last and "HaDES 11.9" in last
    for name in ("run.json", "checkpoints", "log.csv", "learning_curve.png", "dataset.npz", "dataset.png",
                 "summary.json"):
        assert (a / name).exists(), name
    assert run_cli(M, *flags, "--meta-epochs", "2", "--out", str(b)).returncode == 0
    r = run_cli(M, *flags, "--meta-epochs", "4", "--out", str(b), "--resume")
    assert r.returncode == 0 and "resuming" in r.stderr, r.stderr
    za, zb = np.load(a / "dataset.npz"), np.load(b / "dataset.npz")
    assert sorted(za.files) == sorted(zb.files) and "encoder.0.w" in za.files
    for name in za.files:
        np.testing.assert_array_equal(za[name], zb[name], err_msg=name)
    assert za["x"].shape == (4, 10, 10, 4) and za["y"].shape == (4, 3) and int(za["encoder_layer"]) == 1
    assert za["encoder.0.w"].shape == (16, 4, 3, 3)
    s, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert (s["method"], s["layer"], s["env_steps"], s["sampled"]["n"], s["hades"]) == ("ppmo", 1, 128, 2, 11.9)
    for mode in ("sampled", "greedy"):
        assert [sb[mode][f] for f in ("mean", "std", "n")] == [s[mode][f] for f in ("mean", "std", "n")]
    assert len((b / "log.csv").read_text().strip().splitlines()) == 1 + 4
    r = run_cli(M, "--eval", str(a / "dataset.npz"), "--eval-learners", "2")
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip().splitlines()[-1]
    assert "Breakout-MinAtar k=4 l=1: 2 fresh learners" in line
    assert f"sampled {s['sampled']['mean']:.1f}" in line and f"greedy {s['greedy']['mean']:.1f}" in line
