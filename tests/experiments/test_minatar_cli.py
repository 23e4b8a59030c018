"""The MinAtar CLI as a user runs it: bad input (one line, exit 2, nothing written), a tiny
distillation with encoder rollback that writes every output, and --eval of what it wrote."""

import json

import numpy as np
import pytest

from conftest import run_cli

M = "rlsl_jax.experiments.minatar"
TINY = ["--preset", "tiny", "--meta-epochs", "2", "--chunk", "2", "--checkpoint-every", "2", "--eval-learners", "2",
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


def test_tiny_distillation_writes_everything_then_eval(tmp_path, monkeypatch):
    monkeypatch.setenv("RLSL_JAX_CACHE", str(tmp_path / "cache"))  # --eval reuses the run's compiled evaluator
    out = tmp_path / "run"
    r = run_cli(M, "--game", "Breakout", "--layer", "1", "--out", str(out), *TINY)
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert "Breakout-MinAtar PPMO k=4 l=1 (conv): 2 meta-epochs, 64 env steps" in last and "HaDES 11.9" in last
    for name in ("run.json", "checkpoints", "log.csv", "learning_curve.png", "dataset.npz", "dataset.png",
                 "summary.json"):
        assert (out / name).exists(), name
    z = np.load(out / "dataset.npz")
    assert z["x"].shape == (4, 10, 10, 4) and z["y"].shape == (4, 3) and int(z["encoder_layer"]) == 1
    assert z["encoder.0.w"].shape == (16, 4, 3, 3)
    s = json.loads((out / "summary.json").read_text())
    assert (s["method"], s["layer"], s["env_steps"], s["sampled"]["n"], s["hades"]) == ("ppmo", 1, 64, 2, 11.9)
    r = run_cli(M, "--eval", str(out / "dataset.npz"), "--eval-learners", "2")
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip().splitlines()[-1]
    assert "Breakout-MinAtar k=4 l=1: 2 fresh learners" in line
    assert f"sampled {s['sampled']['mean']:.1f}" in line and f"greedy {s['greedy']['mean']:.1f}" in line
