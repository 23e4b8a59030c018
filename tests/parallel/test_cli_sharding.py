"""CLIs with --devices 2 (two simulated CPU devices) give the --devices 1 numbers: direct PPO with
its seeds sharded, k-shot evaluation with its learners sharded."""

import json

import pytest

from conftest import run_cli

TWO = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}


@pytest.fixture
def two_devices(monkeypatch):
    for k, v in TWO.items():
        monkeypatch.setenv(k, v)


def test_ppo_seeds_sharded_same_numbers(tmp_path, two_devices):
    args = ["--seeds", "2", "--total-steps", "200", "--num-envs", "2", "--rollout-steps", "50",
            "--minibatch-size", "25", "--update-epochs", "1", "--chunk", "1", "--eval-episodes", "2", "--no-progress"]
    out = {}
    for d in (1, 2):
        r = run_cli("rlsl_jax.experiments.ppo", *args, "--devices", str(d), "--out", str(tmp_path / f"d{d}"))
        assert r.returncode == 0, r.stderr[-1500:]
        out[d] = json.loads((tmp_path / f"d{d}" / "summary.json").read_text())
    for mode in ("sampled", "greedy"):
        assert out[2][mode]["per_seed"] == pytest.approx(out[1][mode]["per_seed"])
    r = run_cli("rlsl_jax.experiments.ppo", *args, "--seeds", "3", "--devices", "2", "--out", str(tmp_path / "bad"))
    assert r.returncode == 2 and "--seeds (3) must be a multiple of the device count (2)" in r.stderr


def test_kshot_learners_sharded_same_numbers(tmp_path, two_devices, refdata):
    ds = refdata / "ndcartpole_1d_k2.npz"
    if not ds.exists():
        pytest.skip(f"{ds} missing")
    out = {}
    for d in (1, 2):
        r = run_cli("rlsl_jax.experiments.kshot", "--dataset", str(ds), "--dims", "1", "--learners", "7",
                    "--dist", "ortho,random-L", "--devices", str(d), "--json", str(tmp_path / f"{d}.json"))
        assert r.returncode == 0, r.stderr[-1500:]
        out[d] = json.loads((tmp_path / f"{d}.json").read_text())["results"]
    for dist in ("ortho", "random-L"):
        for mode in ("sampled", "greedy"):
            assert out[2][dist][mode]["returns"] == out[1][dist][mode]["returns"], (dist, mode)


def test_kmin_distillation_sharded_same_numbers(tmp_path, two_devices):
    """kmin with a mesh distils its seeds one after the other (vmapping them around the sharded
    meta-step wedged XLA:CPU): same datasets and scores as the vmapped single-device run."""
    args = ["--dims", "1", "--ks", "2", "--ppo-steps", "0", "--population", "2", "--seeds", "2",
            "--meta-epochs", "4", "--learners", "4", "--num-envs", "2", "--rollout-steps", "20",
            "--minibatch-size", "20", "--update-epochs", "1", "--chunk", "2", "--no-progress"]
    cells = {}
    for d in (1, 2):
        r = run_cli("rlsl_jax.experiments.kmin", *args, "--devices", str(d), "--out", str(tmp_path / f"d{d}"),
                    timeout=240)
        assert r.returncode == 0, r.stderr[-1500:]
        cells[d] = json.loads((tmp_path / f"d{d}" / "cells.jsonl").read_text().splitlines()[0])
    assert cells[2]["inner_lr"] == pytest.approx(cells[1]["inner_lr"], rel=1e-4)
    assert cells[2]["sampled_mean"] == pytest.approx(cells[1]["sampled_mean"])


def test_mujoco_envpool_ppmo_sharded_same_numbers(tmp_path, two_devices):
    """Continuous PPMO on envpool Hopper-v4 with the pool split over 2 devices (and the observation
    normaliser's statistics replicated): the single-device dataset, statistics included."""
    pytest.importorskip("envpool")
    import numpy as np

    args = ["--env", "hopper", "--backend", "envpool", "--k", "4", "--population", "2", "--num-envs", "2",
            "--rollout-steps", "32", "--minibatch-size", "32", "--update-epochs", "1", "--critic-hidden", "16",
            "--meta-epochs", "2", "--chunk", "2", "--no-progress"]
    data = {}
    for d in (1, 2):
        r = run_cli("rlsl_jax.experiments.mujoco", *args, "--devices", str(d), "--out", str(tmp_path / f"d{d}"),
                    timeout=240)
        assert r.returncode == 0, r.stderr[-1500:]
        with np.load(tmp_path / f"d{d}" / "dataset.npz") as z:
            data[d] = {k: z[k] for k in ("x", "y", "inner_lr", "log_std", "obs_mean", "obs_var")}
    for k, v in data[1].items():
        np.testing.assert_allclose(data[2][k], v, rtol=1e-4, atol=1e-5, err_msg=k)
    r = run_cli("rlsl_jax.experiments.mujoco", *args, "--population", "3", "--devices", "2",
                "--out", str(tmp_path / "bad"))
    assert r.returncode == 2 and "must be a multiple of the device count (2)" in r.stderr
    assert not (tmp_path / "bad").exists()
