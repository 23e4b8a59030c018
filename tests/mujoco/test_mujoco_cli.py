"""The mujoco CLI's input checks (one line, exit 2, nothing written) and its presets in --help;
no physics is run here (brax and envpool are exercised in test_brax.py and test_envpool_cli.py)."""

import pytest

from conftest import cli_help, run_cli
from rlsl_jax import cli
from rlsl_jax.experiments import mujoco
from rlsl_jax.tasks import mujoco as M


def test_bad_input_cli_one_line_exit_2(tmp_path):
    out = tmp_path / "x"
    r = run_cli("rlsl_jax.experiments.mujoco", "--env", "cheetah", "--out", str(out), timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown env 'cheetah'" in lines[0] and "halfcheetah" in lines[0]
    assert not out.exists()


def test_cli_errors(tmp_path, capsys):
    def err(argv):
        with pytest.raises(SystemExit) as e:
            cli.run_main(lambda: mujoco.main(argv))
        assert e.value.code == 2
        return capsys.readouterr().err

    msg = err(["--env", "cheetah", "--out", str(tmp_path / "x")])
    assert "unknown env 'cheetah'" in msg and "halfcheetah" in msg and "walker2d" in msg
    assert not (tmp_path / "x").exists()
    assert "unknown --brax-backend 'fast'" in err(["--env", "ant", "--brax-backend", "fast"])
    assert "--population must be 1" in err(["--env", "ant", "--method", "ppo", "--population", "2"])
    assert "no --eval-every" in err(["--env", "ant", "--method", "ppo", "--eval-every", "5"])
    assert "anneals direct PPO's rates" in err(["--env", "ant", "--anneal-steps", "1000", "--out", str(tmp_path / "x")])
    assert "--anneal-steps must be >= 0" in err(["--env", "ant", "--method", "ppo", "--anneal-steps", "-1"])
    assert "--target needs --eval-every" in err(["--env", "ant", "--target", "100"])
    assert "--eval-check-learners must be >= 1" in err(["--env", "ant", "--eval-every", "5",
                                                        "--eval-check-learners", "0"])
    assert "--num-envs must be >= 1" in err(["--env", "ant", "--num-envs", "0"])
    assert "--env is required" in err(["--out", str(tmp_path / "x")])
    assert "no run in" in err(["--resume", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()


def _help(argv) -> str:
    """The mujoco CLI's --help for ``argv``, whitespace squeezed."""
    return " ".join(cli_help("rlsl_jax.experiments.mujoco", *argv).split())


@pytest.mark.parametrize("preset, envs, steps, ent, mb, epochs", [("ours", 16, 128, 0.0, 64, 10),
                                                                   ("paper", 10, 200, 0.01, 512, 4)])
def test_help_shows_the_preset_defaults(preset, envs, steps, ent, mb, epochs):
    out = _help(["--preset", preset] if preset != "ours" else [])
    assert f"--num-envs NUM_ENVS parallel environments per learner (E) (default: {envs})" in out
    assert f"learner (default: {steps})" in out and f"--minibatch-size MINIBATCH_SIZE" in out
    assert f"(default: {mb})" in out and f"(default: {epochs})" in out
    assert f"--ent-coef ENT_COEF entropy bonus weight (default: {ent})" in out
    assert "--clip-eps CLIP_EPS PPO ratio clipping epsilon (default: 0.1)" in out
    assert "0 = off (default: 0)" in out and "each periodic check (default: 16)" in out
    assert "--k K number of synthetic states in the distilled dataset (default: 64)" in out
    assert (M.PRESETS[preset].num_envs, M.PRESETS[preset].rollout_steps, M.PRESETS[preset].k) == (envs, steps, 64)


EP = ["--backend", "envpool"]


@pytest.mark.parametrize("argv, population", [(["--env", "hopper", *EP], 4), (["--env", "Hopper", *EP], 4),
                                              (["--env", "hopper"], 1), (["--env", "hopper", "--method", "ppo", *EP], 1),
                                              (["--env", "hopper", "--preset", "paper", *EP], 1),
                                              (["--env", "reacher", *EP], 4), (["--env", "humanoid", *EP], 4),
                                              (["--env", "ant", *EP], 4), (["--env", "walker2d", *EP], 1), ([], 1)])
def test_help_shows_the_task_settings(argv, population):
    """Preset ours' per-task settings (``TASK_SETTINGS``: envpool Ant, Hopper, Humanoid and Reacher PPMO at P = 4,
    Ant's with the ratio clipped at 0.2, HumanoidStandup from shared targets with a 256-256 critic)
    are the defaults --help shows once --env names the task on envpool; brax, PPO and the paper
    preset keep P = 1."""
    out = _help(argv)
    assert f"1 = the paper) (default: {population})" in out
    assert ("per task: ant population 4, clip_eps 0.2, hopper population 4, humanoid population 4, "
            "humanoidstandup init_targets shared, critic_hidden (256, 256), obs_scale 4.0, inverted_double_pendulum "
            "obs_scale 8.0, reacher population 4") in out
    assert M.preset_config("ours", "hopper").population == 4 and M.preset_config("ours", "nosuch").population == 1
    assert M.preset_config("ours", "hopper", backend="brax") == M.PRESETS["ours"]
    assert M.preset_config("ours", "humanoidstandup").critic_hidden == (256, 256)
    assert M.preset_config("ours", "ant").clip_eps == 0.2 and M.preset_config("ours", "ant", "ppo").clip_eps == 0.1
    assert M.preset_config("ours", "humanoidstandup", "ppo").critic_hidden == (64, 64)
    assert M.preset_config("ours", "hopper", "ppo") == M.PRESETS["ours"] == M.preset_config("ours")


@pytest.mark.parametrize("argv, scale", [(["--env", "inverted_double_pendulum", *EP], "8.0"),
                                         (["--env", "inverted_double_pendulum"], "1.0"),
                                         (["--env", "inverted_double_pendulum", "--method", "ppo", *EP], "1.0"),
                                         (["--env", "inverted_double_pendulum", "--preset", "paper", *EP], "1.0"),
                                         (["--env", "humanoidstandup", *EP], "4.0"),
                                         (["--env", "hopper", *EP], "1.0")])
def test_help_shows_the_input_scale(argv, scale):
    """Envpool InvertedDoublePendulum PPMO under preset ours feeds its learners inputs at 1/8 and
    HumanoidStandup at 1/4 (``OBS_SCALES``); brax, PPO, the paper preset and the other tasks keep 1."""
    out = _help(argv)
    assert f"with --init-dataset a set of another scale is rescaled (default: {scale}; 1 with --no-norm-obs)" in out


def test_the_default_input_scale_is_for_normalised_observations(tmp_path):
    """A task's default scale (HumanoidStandup's 4) applies with normalised observations; with
    --no-norm-obs and no --obs-scale the run is at 1, not an error; an explicit scale ≠ 1 with it is one."""
    hs = M.default_obs_scale("ours", "humanoidstandup")
    assert (M.check_obs_scale(None, True, hs), M.check_obs_scale(None, False, hs), M.check_obs_scale(2.0, True, hs)) == (4.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="drop --no-norm-obs"):
        M.check_obs_scale(2.0, False, hs)
    args = mujoco.build_parser(env="humanoidstandup", backend="envpool").parse_args(
        ["--env", "humanoidstandup", "--backend", "envpool", "--no-norm-obs", "--eval", str(tmp_path)])
    mujoco.validate(args, M)
    assert args.obs_scale == 1.0


@pytest.mark.parametrize("argv, targets", [(["--env", "humanoidstandup", *EP], "shared"),
                                           (["--env", "humanoidstandup"], "independent"),
                                           (["--env", "humanoidstandup", "--preset", "paper", *EP], "independent"),
                                           (["--env", "hopper", *EP], "independent")])
def test_help_shows_humanoidstandups_shared_targets(argv, targets):
    """Envpool HumanoidStandup PPMO under preset ours starts from shared targets; the paper's start elsewhere."""
    out = _help(argv)
    assert f"blind) (default: {targets})" in out
