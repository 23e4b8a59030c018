"""The Atari CLI as a user runs it: bad input (one line, exit 2, nothing written), a tiny run, --eval."""

import json

import pytest

from conftest import run_cli

pytest.importorskip("envpool")

from rlsl_jax.experiments import atari  # noqa: E402
from rlsl_jax.experiments.common import UsageError  # noqa: E402

M = "rlsl_jax.experiments.atari"
TINY = ["--envs", "2", "--rollout-steps", "4", "--minibatch-size", "8", "--update-epochs", "1", "--chunk", "1",
        "--no-progress"]


@pytest.mark.parametrize("args, msg", [
    (["--game", "Pongg"], "unknown game 'Pongg'; valid envpool Atari ids: Adventure-v5"),
    (["--game", "Pong", "--layer", "6"], "--layer must be in 0..5"),
    (["--game", "Pong", "--k", "0"], "--k must be >= 1"),
    (["--game", "Pong", "--envs", "0"], "--num-envs must be >= 1"),
    ([], "--game is required"),
    (["--resume"], "no run in"),
    (["--eval", "/no/such/dataset"], "does not exist"),
])
def test_bad_input_in_process(tmp_path, args, msg):
    out = tmp_path / "run"
    with pytest.raises(UsageError, match=msg.replace("(", r"\(").replace(".", r"\.")):
        atari.main(["--out", str(out), *args])
    assert not out.exists()


def test_bad_input_cli_one_line_exit_2(tmp_path):
    out = tmp_path / "run"
    r = run_cli(M, "--game", "NoSuchGame", "--out", str(out), timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "valid envpool Atari ids:" in lines[0] and "Centipede-v5" in lines[0]
    assert not out.exists()


def test_kmin_defaults():
    assert atari.KMIN_TABLE5 == {"Centipede": 10, "MsPacman": 6, "Pong": 4, "SpaceInvaders": 4}
    assert all(atari.kmin_for(c) == k for c, k in ((18, 10), (9, 6), (6, 4)))


def test_tiny_full_distillation_run_then_eval(tmp_path, capsys):
    out = tmp_path / "pong"
    r = run_cli(M, "--game", "Pong", "--layer", "0", "--meta-epochs", "2", "--out", str(out), *TINY, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("run.json", "log.csv", "learning_curve.png", "dataset.npz", "summary.json", "checkpoints"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["k"] == 4 and summary["layer"] == 0 and summary["meta_epochs"] == 2  # k = Table 5's k_min
    atari.main(["--eval", str(out), "--eval-learners", "2", "--eval-max-steps", "8", "--no-progress",
                "--out", str(tmp_path / "ev")])
    assert "Pong-v5 k=4 l=0: 2 fresh learners, score" in capsys.readouterr().out
    ev = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert ev["n"] == 2 and len(ev["scores"]) == 2 and ev["steps"] == 8
    with pytest.raises(UsageError, match="encoder mismatch"):  # an l = 0 dataset cannot train an l = 4 learner
        atari.main(["--eval", str(out), "--layer", "4", "--no-progress"])
