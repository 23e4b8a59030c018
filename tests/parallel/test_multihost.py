"""Two local processes (jax.distributed + gloo on CPU) run the cartpole CLI through rlsl_jax.launch
and through its own --distributed flag, and give the single-process, two-device numbers. Opt-in (RLSL_MULTIHOST_TEST=1): it opens a local
TCP port and takes ~1 minute; the lead ran it on 2026-11-24 (2-core CPU, jax 0.10.2): passed."""

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import REPO

ARGS = ["--devices", "0", "--dims", "1", "--k", "2", "--population", "2", "--meta-epochs", "4", "--chunk", "2",
        "--checkpoint-every", "2", "--num-envs", "2", "--rollout-steps", "16", "--minibatch-size", "8",
        "--eval-learners", "8", "--no-progress"]


@pytest.mark.skipif(os.environ.get("RLSL_MULTIHOST_TEST") != "1", reason="opt-in: set RLSL_MULTIHOST_TEST=1")
@pytest.mark.parametrize("via", ["launch", "flag"])
def test_two_processes_match_one_process_with_two_devices(tmp_path, via):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), JAX_PLATFORMS="cpu")

    def cmd(i):
        cluster = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)]
        if via == "launch":
            return ["-m", "rlsl_jax.launch", *cluster, "rlsl_jax.experiments.cartpole", *ARGS]
        return ["-m", "rlsl_jax.experiments.cartpole", *ARGS, "--distributed", *cluster]

    procs = [subprocess.Popen([sys.executable, *cmd(i), "--out", str(tmp_path / "multi")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-1500:] for o in outs]
    env1 = dict(env, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    r = subprocess.run([sys.executable, "-m", "rlsl_jax.experiments.cartpole", *ARGS, "--out", str(tmp_path / "one")],
                       env=env1, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    multi = json.loads((tmp_path / "multi" / "summary.json").read_text())
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert multi["sampled"] == pytest.approx(one["sampled"]) and multi["greedy"] == pytest.approx(one["greedy"])


@pytest.mark.skipif(os.environ.get("RLSL_MULTIHOST_TEST") != "1", reason="opt-in: set RLSL_MULTIHOST_TEST=1")
def test_envpool_two_processes_each_step_their_own_pool(tmp_path):
    """Continuous PPMO on envpool Hopper-v4 over 2 processes x 1 device (each process makes and steps
    only its own device's pool) gives the dataset of 1 process x 2 devices."""
    pytest.importorskip("envpool")
    import numpy as np

    args = ["--env", "hopper", "--backend", "envpool", "--k", "4", "--population", "2", "--num-envs", "2",
            "--rollout-steps", "32", "--minibatch-size", "32", "--update-epochs", "1", "--critic-hidden", "16",
            "--meta-epochs", "2", "--chunk", "2", "--no-progress"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), JAX_PLATFORMS="cpu")
    cluster = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
    procs = [subprocess.Popen([sys.executable, "-m", "rlsl_jax.experiments.mujoco", *args, "--distributed", *cluster,
                               "--process-id", str(i), "--out", str(tmp_path / "multi")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-1500:] for o in outs]
    env1 = dict(env, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    r = subprocess.run([sys.executable, "-m", "rlsl_jax.experiments.mujoco", *args, "--devices", "2",
                        "--out", str(tmp_path / "one")], env=env1, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    with np.load(tmp_path / "multi" / "dataset.npz") as a, np.load(tmp_path / "one" / "dataset.npz") as b:
        for k in ("x", "y", "inner_lr", "log_std", "obs_mean", "obs_var"):
            np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-5, err_msg=k)
