"""The Atari CLI as a user runs it: bad input (one line, exit 2, nothing written), the presets'
defaults in --help and in the config and env options a run gets, a tiny encoder-rollback run, its
resume, what its checkpoints and dataset.npz hold, --eval."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from conftest import cli_help, run_cli

pytest.importorskip("envpool")

from rlsl_jax import checkpoint, paper  # noqa: E402
from rlsl_jax.cli import UsageError  # noqa: E402
from rlsl_jax.config import config_from_dict  # noqa: E402
from rlsl_jax.distill.ppmo import PPMOConfig  # noqa: E402
from rlsl_jax.envs import make  # noqa: E402
from rlsl_jax.experiments import atari  # noqa: E402
from rlsl_jax.runner import seed_keys  # noqa: E402
from rlsl_jax.tasks import atari as T  # noqa: E402

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
    assert paper.KMIN_TABLE5 == {"Centipede": 10, "MsPacman": 6, "Pong": 4, "SpaceInvaders": 4}
    assert all(paper.kmin_for(c) == k for c, k in ((18, 10), (9, 6), (6, 4)))
    assert T.default_k("Centipede", 18) == 10 and T.default_k("Breakout", 4) == 3  # Eq. 3 off Table 5


def _help(argv) -> str:
    return " ".join(cli_help("rlsl_jax.experiments.atari", *argv).split())


@pytest.mark.parametrize("preset, envs, steps, mb, clipped", [("cleanrl", 8, 128, 256, True),
                                                             ("paper", 10, 200, 512, False)])
def test_help_shows_the_preset_defaults(preset, envs, steps, mb, clipped):
    out = _help([] if preset == "cleanrl" else ["--preset", preset])
    assert f"--num-envs NUM_ENVS parallel environments per learner (E) (default: {envs})" in out
    assert f"learner (default: {steps})" in out and f"(default: {mb})" in out
    assert "--clip-eps CLIP_EPS PPO ratio clipping epsilon (default: 0.1)" in out
    assert f"episodic_life) (default: {clipped})" in out and f"scores stay raw (default: {clipped})" in out


def test_paper_preset_config_and_env_options(tmp_path):
    """--preset paper: a run gets Appendix A's batch and ε, raw rewards and full-game training
    episodes (0 meta-epochs: nothing is compiled beyond the initial state)."""
    out = tmp_path / "paper"
    atari.main(["--game", "Pong", "--preset", "paper", "--meta-epochs", "0", "--out", str(out), "--no-progress"])
    run = json.loads((out / "run.json").read_text())
    cfg = config_from_dict(PPMOConfig, run["config"])
    assert cfg == dataclasses.replace(PPMOConfig(), k=4, clip_eps=0.1) == dataclasses.replace(T.PRESETS["paper"], k=4)
    assert (cfg.num_envs, cfg.rollout_steps, cfg.minibatch_size, cfg.num_minibatches) == (10, 200, 512, 4)
    assert run["env_kwargs"] == T.ENV_OPTIONS["paper"] == {"episodic_life": False, "reward_clip": False}
    assert T.train_env_kwargs("cleanrl") == {"episodic_life": True, "reward_clip": True}
    assert T.train_env_kwargs("paper", life_loss=True) == {"episodic_life": True, "reward_clip": False}
    benv, _ = make("envpool/Pong-v5", num_envs=1, **run["env_kwargs"])
    assert (benv.config["episodic_life"], benv.config["reward_clip"]) == (False, False)


def test_tiny_run_resume_then_eval(tmp_path, capsys):
    """Pong at l = 4 in a subprocess, --resume in-process (emulators restart), then: X, Y and the
    encoder moved; the checkpoint and dataset.npz hold the encoder and refuse other splits; --eval."""
    out = tmp_path / "pong"
    r = run_cli(M, "--game", "Pong", "--layer", "4", "--meta-epochs", "1", "--out", str(out), *TINY, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("run.json", "log.csv", "learning_curve.png", "dataset.npz", "summary.json", "checkpoints"):
        assert (out / name).exists(), name
    run = json.loads((out / "run.json").read_text())
    assert run["env_kwargs"] == {"episodic_life": True, "reward_clip": True} and run["layer"] == 4  # cleanrl preset
    assert run["config"]["num_envs"] == 2 and run["config"]["minibatch_size"] == 8 and run["config"]["k"] == 4
    atari.main(["--resume", "--out", str(out), "--meta-epochs", "2", "--no-progress"])
    assert "resuming" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["k"] == 4 and summary["layer"] == 4 and summary["meta_epochs"] == 2  # k = Table 5's k_min
    log = (out / "log.csv").read_text().strip().splitlines()
    assert len(log) == 3 and log[0].split(",") == list(T.LOG_FIELDS)

    task = T.make_task("Pong", 4, run["env_kwargs"])
    expected = jax.eval_shape(task.encoder.init, jax.random.key(0))
    ds, meta = checkpoint.load_dataset(out, expect_encoder=expected)
    assert meta["layer"] == 4 and meta["encoder"]["layer"] == 4 and ds.x.shape == (4, 4, 84, 84)
    ds_npz, meta_npz = checkpoint.load_dataset(out / "dataset.npz", expect_encoder=expected)
    assert meta_npz["encoder_layer"] == 4
    for a, b in zip(jax.tree.leaves(ds_npz.encoder), jax.tree.leaves(ds.encoder)):
        np.testing.assert_array_equal(a, b)
    cfg = config_from_dict(PPMOConfig, run["config"])
    init, *_ = T.make_atari_meta_step(cfg, "Pong-v5", 4, 0, run["env_kwargs"])
    first = init(seed_keys(0)[0]).dataset
    for name in ("x", "y", "encoder"):
        a, b = jax.tree.leaves(getattr(first, name)), jax.tree.leaves(getattr(ds, name))
        assert any(not np.allclose(u, v) for u, v in zip(a, b)), f"{name} did not move"
    for other in (None, jax.eval_shape(T.make_task("Pong", 3).encoder.init, jax.random.key(0))):
        with pytest.raises(ValueError, match="encoder mismatch"):  # an l = 4 dataset trains only l = 4 learners
            checkpoint.load_dataset(out, expect_encoder=other)

    atari.main(["--eval", str(out), "--eval-learners", "2", "--eval-max-steps", "8", "--no-progress",
                "--out", str(tmp_path / "ev")])
    assert "Pong-v5 k=4 l=4: 2 fresh learners, score" in capsys.readouterr().out
    ev = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert ev["n"] == 2 and len(ev["scores"]) == 2 and ev["steps"] == 8 and ev["truncated"] == 2
    assert list(ev)[:8] == ["mean", "std", "n", "scores", "steps", "truncated", "untrained", "wall_s"]
    with pytest.raises(UsageError, match="encoder mismatch"):
        atari.main(["--eval", str(out), "--layer", "0", "--no-progress"])
