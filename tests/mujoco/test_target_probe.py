"""experiments/mujoco/target_probe.py: each variant replaces exactly the part it names."""

import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax.distill import Dataset


def test_variants_replace_only_what_they_name(experiment_script):
    kx, ky = jax.random.split(jax.random.key(3))
    ds = Dataset(jax.random.normal(kx, (6, 5)), 2.0 + jax.random.normal(ky, (6, 3)), jnp.float32(1.5),
                 log_std=jnp.full((3,), -0.5))
    v = experiment_script("mujoco/target_probe").variants(ds, seed=0, shrink=(0.0, 0.5, 1.0))
    mean = np.asarray(ds.y).mean(0)
    np.testing.assert_array_equal(v["as is"].y, ds.y)
    np.testing.assert_allclose(v["Y := col. mean"].y, np.broadcast_to(mean, (6, 3)), rtol=1e-6)
    np.testing.assert_array_equal(v["Y := col. mean"].x, ds.x)
    perm = np.asarray(v["Y rows permuted"].y)
    assert not np.array_equal(perm, ds.y)  # seed 0 moves rows of a 6-row set
    np.testing.assert_array_equal(np.sort(perm, axis=0), np.sort(np.asarray(ds.y), axis=0))
    assert not np.allclose(v["X redrawn"].x, ds.x) and np.array_equal(v["X redrawn"].y, ds.y)
    np.testing.assert_array_equal(v["log-std 0"].log_std, np.zeros(3))
    np.testing.assert_array_equal(v["log-std 0"].y, ds.y)
    np.testing.assert_allclose(v["Y shrunk ×0"].y, v["Y := col. mean"].y, rtol=1e-6)
    np.testing.assert_allclose(v["Y shrunk ×1"].y, ds.y, rtol=1e-6)
    np.testing.assert_allclose(v["Y shrunk ×0.5"].y, (np.asarray(ds.y) + mean) / 2, rtol=1e-5)
    redrawn = np.asarray(v["Y redrawn"].y)
    assert redrawn.shape == (6, 3) and not np.allclose(redrawn, ds.y)
    for name, d in v.items():  # η and the shapes never change
        assert float(d.inner_lr) == 1.5 and d.x.shape == (6, 5) and d.y.shape == (6, 3), name


def test_scaled_variants_and_no_controls(experiment_script):
    ds = Dataset(jnp.ones((4, 2)), jnp.arange(8.0).reshape(4, 2), jnp.float32(2.0), log_std=jnp.full((2,), -0.5))
    v = experiment_script("mujoco/target_probe").variants(ds, seed=0, shrink=(0.5,), eta=(1.5,), log_std_shift=(-0.25,), controls=False)
    assert list(v) == ["as is", "Y shrunk ×0.5", "η ×1.5", "log-std -0.25"]
    assert float(v["η ×1.5"].inner_lr) == 3.0 and np.array_equal(v["η ×1.5"].y, ds.y)
    np.testing.assert_allclose(v["log-std -0.25"].log_std, np.full(2, -0.75))
    assert np.array_equal(v["log-std -0.25"].y, ds.y) and float(v["log-std -0.25"].inner_lr) == 2.0


def test_variant_file_names(experiment_script):
    f = experiment_script("mujoco/target_probe").file_name
    assert [f("Y := col. mean"), f("Y shrunk ×0.5"), f("log-std 0"), f("η ×2")] == [
        "Y_col_mean.npz", "Y_shrunk_0.5.npz", "log-std_0.npz", "eta_2.npz"]
