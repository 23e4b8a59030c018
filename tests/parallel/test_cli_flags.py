"""Every experiment CLI offers --distributed (and --devices where sharding is supported), and the
parallel flags are validated before anything runs (one error line, exit 2)."""

import pytest

from conftest import cli_help, run_cli

CLIS = ["cartpole", "kshot", "table1", "kmin", "cost", "ppo", "atari", "mujoco"]
WITH_DEVICES = ["cartpole", "kshot", "table1", "kmin", "cost", "ppo", "atari", "mujoco"]


@pytest.mark.parametrize("name", CLIS)
def test_help_lists_parallel_flags(name):
    out = cli_help(f"rlsl_jax.experiments.{name}")
    for flag in ("--distributed", "--coordinator", "--num-processes", "--process-id"):
        assert flag in out, (name, flag)
    assert ("--devices" in out) == (name in WITH_DEVICES)


def test_cluster_flags_need_distributed(tmp_path):
    r = run_cli("rlsl_jax.experiments.cartpole", "--coordinator", "127.0.0.1:1", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "--coordinator needs --distributed" in r.stderr
    assert not (tmp_path / "o").exists()


def test_devices_must_divide_population(tmp_path):
    r = run_cli("rlsl_jax.experiments.cartpole", "--devices", "1", "--population", "3", "--meta-epochs", "0",
                "--eval-learners", "0", "--no-progress", "--out", str(tmp_path / "ok"), timeout=300)
    assert r.returncode == 0, r.stderr[-1000:]
    r = run_cli("rlsl_jax.experiments.ppo", "--devices", "-1", "--out", str(tmp_path / "bad"))
    assert r.returncode == 2 and "--devices must be >= 0" in r.stderr
    assert not (tmp_path / "bad").exists()
