"""Checkpoints: round trip, load_dataset without the config, npz export, exact resume."""

import json

import jax
import numpy as np
import pytest

from rlsl_jax import checkpoint
from rlsl_jax import runner
from rlsl_jax.distill import PPMOConfig, make_meta_step
from rlsl_jax.envs import make

TINY = PPMOConfig(k=2, population=2, num_envs=2, rollout_steps=16, minibatch_size=8, update_epochs=2)
META = {"env_id": "NDCartPole-v0", "env_kwargs": {"num_dims": 1}, "k": 2, "learner": {"name": "ortho"}}


@pytest.fixture(scope="module")
def steps():
    env, params = make("NDCartPole-v0", num_dims=1)
    return make_meta_step(TINY, env, params)


def test_round_trip_and_load_dataset(tmp_path, steps):
    init, meta_step = steps
    state, _ = meta_step(init(jax.random.key(0)), jax.random.key(1))
    checkpoint.save(tmp_path / "ck", 1, state, state.dataset, META)
    restored, meta = checkpoint.restore(tmp_path / "ck", jax.eval_shape(lambda: state))
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(restored)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert meta["format_version"] == checkpoint.FORMAT_VERSION and meta["env_id"] == "NDCartPole-v0"
    ds, meta = checkpoint.load_dataset(tmp_path / "ck")  # no config, no abstract state needed
    np.testing.assert_array_equal(ds.x, np.asarray(state.dataset.x))
    assert meta["k"] == 2 and meta["meta_epoch"] == 1 and meta["source"] == "orbax"
    ds2, _ = checkpoint.load_dataset(tmp_path / "ck" / "1")  # a step folder works too
    np.testing.assert_array_equal(ds2.y, ds.y)


def test_export_npz_matches_reference_format(tmp_path, steps, refdata):
    init, _ = steps
    state = init(jax.random.key(0))
    checkpoint.save(tmp_path / "ck", 0, state, state.dataset, META)
    out = checkpoint.export_npz(tmp_path / "ck", tmp_path / "d.npz")
    ours, ref = np.load(out), np.load(refdata / "ndcartpole_1d_k2.npz")
    for name in ("x", "y", "inner_lr"):
        assert ours[name].dtype == ref[name].dtype == np.float32
        assert ours[name].shape == ref[name].shape, name
    assert int(ours["dims"]) == 1 and int(ours["k"]) == 2
    ds, meta = checkpoint.load_dataset(out)
    np.testing.assert_array_equal(ds.x, np.asarray(state.dataset.x))
    ref_ds, ref_meta = checkpoint.load_dataset(refdata / "ndcartpole_2d_k3.npz")
    assert ref_ds.x.shape == (3, 8) and ref_meta["dims"] == 2


def test_half_written_checkpoint_is_ignored(tmp_path, steps):
    init, _ = steps
    state = init(jax.random.key(0))
    checkpoint.save(tmp_path / "ck", 5, state, state.dataset, META)
    # An interrupted save leaves a temporary folder behind; it must not count as a checkpoint.
    tmp = tmp_path / "ck" / "10.orbax-checkpoint-tmp-123"
    (tmp / "dataset").mkdir(parents=True)
    assert checkpoint.latest_step(tmp_path / "ck") == 5
    ds, meta = checkpoint.load_dataset(tmp_path / "ck")
    assert meta["meta_epoch"] == 5


def test_load_dataset_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        checkpoint.load_dataset(tmp_path / "nope")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="inner_lr"):
        checkpoint.load_dataset(bad)


def test_resume_equals_uninterrupted(tmp_path, steps):
    init, meta_step = steps
    k_init, k_epochs = runner.seed_keys(3)
    kw = dict(init_key=k_init, epoch_key=k_epochs, metadata=META, chunk=2, checkpoint_every=2, progress=False)
    full, _ = runner.run(init, meta_step, out_dir=tmp_path / "full", epochs=6, **kw)
    runner.run(init, meta_step, out_dir=tmp_path / "part", epochs=4, **kw)
    assert checkpoint.latest_step(tmp_path / "part" / "checkpoints") == 4
    resumed, info = runner.run(init, meta_step, out_dir=tmp_path / "part", epochs=6, resume=True, **kw)
    assert info["start"] == 4 and int(resumed.meta_epoch) == 6
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    rows = (tmp_path / "part" / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 6  # header + one row per meta-epoch, no duplicates after resume
    assert json.loads(json.dumps(checkpoint.load_dataset(tmp_path / "part")[1]["env_kwargs"])) == {"num_dims": 1}


def test_resume_past_a_damaged_checkpoint_equals_uninterrupted(tmp_path, steps, capsys):
    init, meta_step = steps
    k_init, k_epochs = runner.seed_keys(3)
    kw = dict(init_key=k_init, epoch_key=k_epochs, metadata=META, chunk=2, checkpoint_every=2, progress=False)
    full, _ = runner.run(init, meta_step, out_dir=tmp_path / "run", epochs=6, **kw)
    ckpt = tmp_path / "run" / "checkpoints"
    assert checkpoint.latest_step(ckpt) == 6
    (ckpt / "6" / "metadata" / "metadata").write_bytes(b"\xff\xfe\x00garbage")  # damaged newest step
    capsys.readouterr()
    resumed, info = runner.run(init, meta_step, out_dir=tmp_path / "run", epochs=6, resume=True, **kw)
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("checkpoint:")]
    assert len(err) == 1 and "step 6" in err[0] and err[0].endswith("resumed from step 4"), err
    assert info["start"] == 4 and int(resumed.meta_epoch) == 6
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    ds, meta = checkpoint.load_dataset(tmp_path / "run")  # step 6 was written anew over the damaged one
    assert meta["step"] == 6 and meta["skipped_steps"] == []
    np.testing.assert_array_equal(ds.x, np.asarray(full.dataset.x))


def test_resume_rescores_the_kept_dataset_with_the_current_check(tmp_path, steps):
    """A check that changed between runs (e.g. more learners) must not compare its scores with the
    old check's: on resume the kept dataset is scored again, and a later dataset replaces it only
    by beating THAT score."""
    init, meta_step = steps
    k_init, k_epochs = runner.seed_keys(3)
    kw = dict(init_key=k_init, epoch_key=k_epochs, metadata=META, chunk=2, checkpoint_every=2, progress=False)
    generous = runner.KShotCheck(2, lambda ds: (100.0, 0.0))  # the old check: one very lucky score
    runner.run(init, meta_step, out_dir=tmp_path / "run", epochs=2, check=generous, **kw)
    scored = []

    def honest(ds):  # the new check scores by meta-epoch order: later datasets are better
        scored.append(float(np.asarray(ds.x).sum()))
        return float(len(scored)), 0.0

    _, info = runner.run(init, meta_step, out_dir=tmp_path / "run", epochs=4, resume=True,
                         check=runner.KShotCheck(2, honest), **kw)
    assert len(scored) == 2  # the kept dataset of meta-epoch 2 again, then meta-epoch 4's
    assert info["best"].meta_epoch == 4 and info["best"].mean == 2.0


def test_resume_without_a_check_keeps_the_best_dataset(tmp_path, steps):
    """Publishing a checked run at its checkpoint (``--resume`` without ``--eval-every``) must keep
    the best-checked dataset and its saved score, not hand back the last meta-epoch's."""
    init, meta_step = steps
    k_init, k_epochs = runner.seed_keys(3)
    kw = dict(init_key=k_init, epoch_key=k_epochs, metadata=META, chunk=2, checkpoint_every=2, progress=False)
    first_wins = runner.KShotCheck(2, lambda ds: (-float(np.asarray(ds.x).sum() ** 2), 0.5))
    _, before = runner.run(init, meta_step, out_dir=tmp_path / "run", epochs=4, check=first_wins, **kw)
    assert before["best"].meta_epoch == 2  # the case under test: the best check is not the last one
    state, info = runner.run(init, meta_step, out_dir=tmp_path / "run", epochs=4, resume=True, **kw)
    assert int(state.meta_epoch) == 4 and info["best"].meta_epoch == 2
    assert (info["best"].mean, info["best"].std) == (before["best"].mean, before["best"].std)
    np.testing.assert_array_equal(np.asarray(info["best"].dataset.x), np.asarray(before["best"].dataset.x))


SAVE_ON_DEVICE_1 = """
import os, sys, json
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import jax, jax.numpy as jnp
from rlsl_jax import checkpoint
from rlsl_jax.distill.dataset import Dataset
dev = jax.devices()[1]
ds = Dataset(x=jax.device_put(jnp.arange(6.0).reshape(3, 2), dev), y=jax.device_put(jnp.ones((3, 2)), dev),
             inner_lr=jax.device_put(jnp.float32(0.5), dev))
state = {"w": jax.device_put(jnp.arange(4.0), dev), "n": jax.device_put(jnp.int32(7), dev)}
checkpoint.save(sys.argv[1], 3, state, ds, {"env_id": "NDCartPole-v0"})
print(json.dumps({"devices": [str(d) for d in state["w"].devices()]}))
"""


def test_a_checkpoint_written_on_other_devices_loads_and_resumes_here(tmp_path):
    """A checkpoint whose arrays lived on a device this process does not have (there: a second
    simulated CPU; in use: a GPU run resumed or loaded on a CPU) is restored onto this process's
    devices: ``load_dataset`` by its saved structure, ``restore`` by ``abstract_like`` of a fresh
    state; orbax alone refuses it (the saved placement)."""
    from conftest import run_script_json

    assert run_script_json(SAVE_ON_DEVICE_1, str(tmp_path / "ck"))["devices"] == ["cpu:1"]
    assert len(jax.devices()) == 1
    ds, meta = checkpoint.load_dataset(tmp_path / "ck")
    np.testing.assert_array_equal(ds.x, np.arange(6.0).reshape(3, 2)) and meta["step"] == 3
    fresh = {"w": jax.numpy.zeros(4), "n": jax.numpy.int32(0)}
    state, meta = checkpoint.restore(tmp_path / "ck", checkpoint.abstract_like(fresh))
    np.testing.assert_array_equal(state["w"], np.arange(4.0))
    assert int(state["n"]) == 7 and state["w"].devices() == {jax.devices()[0]}
