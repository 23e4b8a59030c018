"""Faults on load and save: damaged checkpoint steps (fall back to the newest readable one, one
stderr line, nothing deleted), non-finite datasets (never used or written), files that are not
datasets (one clear line)."""

import hashlib
import os
import pickle
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlsl_jax import checkpoint
from rlsl_jax.checkpoint import CheckpointError, DatasetError
from rlsl_jax.distill.dataset import Dataset

META = {"env_id": "NDCartPole-v0", "env_kwargs": {"num_dims": 1}, "k": 2}
STEPS = (1, 2, 3)


def make_state(step: int) -> dict:
    return {"params": {"w": jnp.arange(6.0).reshape(2, 3) * step, "b": jnp.full((3,), -step, jnp.float32)},
            "meta_epoch": jnp.int32(step), "key": jax.random.key_data(jax.random.key(step))}


def make_dataset(step: int) -> Dataset:
    return Dataset(x=jnp.full((2, 4), float(step)), y=jnp.arange(4.0).reshape(2, 2) + step,
                   inner_lr=jnp.float32(0.02 * step), log_std=jnp.zeros((2,), jnp.float32))


ABSTRACT = jax.eval_shape(lambda: make_state(0))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("run") / "checkpoints"
    for s in STEPS:
        checkpoint.save(d, s, make_state(s), make_dataset(s), META)
    return d


@pytest.fixture
def run(template, tmp_path) -> Path:
    """A fresh copy of a checkpoint directory holding steps 1, 2, 3."""
    d = tmp_path / "out" / "checkpoints"
    shutil.copytree(template, d)
    return d


def files(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if p.is_file())


def tree_hash(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        h.update(str(p.relative_to(d)).encode() + b"\0")
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def truncate(step_dir: Path) -> None:
    for p in files(step_dir):
        with open(p, "r+b") as f:
            f.truncate(p.stat().st_size // 2)


def overwrite(step_dir: Path) -> None:
    rng = np.random.default_rng(0)
    for p in files(step_dir):
        p.write_bytes(b"\xff\xfe" + rng.bytes(max(p.stat().st_size, 8)))


def drop_metadata(step_dir: Path) -> None:
    shutil.rmtree(step_dir / "metadata")


DAMAGE = {"truncated": truncate, "overwritten": overwrite, "no_metadata_item": drop_metadata}


def assert_tree_equal(a, b) -> None:
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def err_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("checkpoint:")]


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_newest_step_falls_back(run, damage, capsys):
    DAMAGE[damage](run / "3")
    capsys.readouterr()
    state, meta = checkpoint.restore(run, ABSTRACT)
    assert_tree_equal(state, make_state(2))
    assert meta["step"] == 2 and meta["meta_epoch"] == 2 and meta["skipped_steps"] == [3]
    lines = err_lines(capsys)
    assert len(lines) == 1, lines
    assert f"step 3 in {run.absolute()} is damaged (" in lines[0] and lines[0].endswith("; resumed from step 2")

    ds, meta = checkpoint.load_dataset(run.parent)  # the run folder, as evaluators pass it
    np.testing.assert_array_equal(ds.x, np.asarray(make_dataset(2).x))
    assert meta["step"] == 2 and meta["skipped_steps"] == [3]
    lines = err_lines(capsys)
    assert len(lines) == 1 and lines[0].endswith("; loaded step 2"), lines
    assert checkpoint.latest_step(run) == 3  # the damaged step is still there


def test_damaged_state_data_only_matters_to_restore(run, capsys):
    for p in files(run / "3" / "state" / "d"):  # tensorstore data files of the training state
        with open(p, "r+b") as f:
            f.truncate(7)
    state, meta = checkpoint.restore(run, ABSTRACT)
    assert meta["step"] == 2 and int(state["meta_epoch"]) == 2
    ds, meta = checkpoint.load_dataset(run)  # the dataset item of step 3 is intact
    assert meta["step"] == 3 and meta["skipped_steps"] == []
    np.testing.assert_array_equal(ds.y, np.asarray(make_dataset(3).y))


def test_undamaged_run_says_nothing(run, capsys):
    state, meta = checkpoint.restore(run, ABSTRACT)
    assert meta["step"] == 3 and meta["skipped_steps"] == []
    assert_tree_equal(state, make_state(3))
    assert err_lines(capsys) == []


def test_two_damaged_steps_fall_back_to_the_oldest(run, capsys):
    overwrite(run / "3")
    drop_metadata(run / "2")
    state, meta = checkpoint.restore(run, ABSTRACT)
    assert_tree_equal(state, make_state(1))
    assert meta["skipped_steps"] == [3, 2]
    lines = err_lines(capsys)
    assert len(lines) == 1 and "steps 3, 2 in" in lines[0] and lines[0].endswith("resumed from step 1"), lines


def test_all_steps_damaged_raises_one_line_and_changes_nothing(run, capsys):
    truncate(run / "3")
    overwrite(run / "2")
    drop_metadata(run / "1")
    before = tree_hash(run.parent)
    with pytest.raises(CheckpointError) as e:
        checkpoint.restore(run, ABSTRACT)
    msg = str(e.value)
    assert "\n" not in msg and str(run.absolute()) in msg and "tried steps 3, 2, 1" in msg
    assert "step 1: KeyError" in msg and "nothing was changed" in msg
    with pytest.raises(CheckpointError, match="tried steps 3, 2, 1"):
        checkpoint.load_dataset(run.parent)
    assert isinstance(e.value, ValueError)  # CLIs that catch ValueError keep working
    assert checkpoint.latest_step(run) == 3
    assert tree_hash(run.parent) == before  # nothing deleted, nothing written
    assert err_lines(capsys) == []  # no "resumed from" line when nothing was restored


def test_explicit_damaged_step_does_not_fall_back(run):
    overwrite(run / "3")
    with pytest.raises(CheckpointError, match=r"checkpoint step 3 in .* cannot be read"):
        checkpoint.restore(run, ABSTRACT, step=3)
    with pytest.raises(CheckpointError, match="step 3"):
        checkpoint.load_dataset(run / "3")  # a step folder names its step
    state, meta = checkpoint.restore(run, ABSTRACT, step=2)
    assert meta["step"] == 2 and meta["skipped_steps"] == []


def test_resave_after_fallback_replaces_only_the_damaged_step(run, capsys):
    overwrite(run / "3")
    older = {s: tree_hash(run / str(s)) for s in (1, 2)}
    state, meta = checkpoint.restore(run, ABSTRACT)
    assert meta["step"] == 2
    new_state = {**make_state(3), "params": {"w": jnp.ones((2, 3)), "b": jnp.zeros((3,))}}
    checkpoint.save(run, 3, new_state, make_dataset(3), META)  # orbax alone: "step 3 already exists"
    capsys.readouterr()
    state, meta = checkpoint.restore(run, ABSTRACT)
    assert meta["step"] == 3 and meta["skipped_steps"] == []
    assert_tree_equal(state, new_state)
    assert err_lines(capsys) == []
    assert {s: tree_hash(run / str(s)) for s in (1, 2)} == older


def test_save_never_deletes_a_step_not_proven_damaged(run):
    overwrite(run / "3")  # damaged, but no restore has tried it in this process
    before = tree_hash(run)
    with pytest.raises(ValueError, match="already exists"):
        checkpoint.save(run, 3, make_state(3), make_dataset(3), META)
    assert tree_hash(run) == before
    kept = {s: tree_hash(run / str(s)) for s in STEPS}
    checkpoint.save(run, 4, make_state(4), make_dataset(4), META, max_to_keep=None)  # a new step beside them
    assert {s: tree_hash(run / str(s)) for s in STEPS} == kept


# --- non-finite data ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["x", "y", "inner_lr", "log_std", "encoder"])
def test_load_dataset_rejects_nonfinite_npz(tmp_path, name):
    arrays = {"x": np.zeros((2, 4), np.float32), "y": np.zeros((2, 2), np.float32),
              "inner_lr": np.float32(0.1), "log_std": np.zeros(2, np.float32),
              "encoder.0.kernel": np.zeros((3, 3), np.float32)}
    key = "encoder.0.kernel" if name == "encoder" else name
    arrays[key] = np.full_like(arrays[key], np.inf) if name == "inner_lr" else arrays[key].copy()
    if name != "inner_lr":
        arrays[key].flat[1] = np.nan
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError) as e:
        checkpoint.load_dataset(path)
    msg = str(e.value)
    assert f"'{key}'" in msg and str(path) in msg and "\n" not in msg
    assert "1 non-finite value(s)" in msg


def test_load_dataset_rejects_nonfinite_checkpoint(tmp_path, monkeypatch):
    bad = make_dataset(1).replace(y=jnp.array([[0.0, jnp.nan], [1.0, 2.0]]))
    monkeypatch.setattr(checkpoint, "check_finite", lambda ds, source: None)  # as an older version wrote it
    checkpoint.save(tmp_path / "ck", 1, make_state(1), bad, META)
    monkeypatch.undo()
    with pytest.raises(DatasetError, match=r"ck step 1: dataset array 'y' holds 1 non-finite"):
        checkpoint.load_dataset(tmp_path / "ck")


def test_save_refuses_nonfinite_dataset_and_writes_nothing(tmp_path):
    bad = make_dataset(1).replace(x=jnp.full((2, 4), jnp.inf))
    with pytest.raises(DatasetError, match=r"refusing to save step 1 .*'x'"):
        checkpoint.save(tmp_path / "ck", 1, make_state(1), bad, META)
    assert not (tmp_path / "ck").exists()


def test_write_npz_refuses_nonfinite_dataset_and_writes_nothing(tmp_path):
    bad = make_dataset(1).replace(log_std=jnp.array([0.0, jnp.nan]))
    with pytest.raises(DatasetError, match=r"refusing to write .*d\.npz: dataset array 'log_std'"):
        checkpoint.write_npz(bad, {}, tmp_path / "d.npz")
    assert list(tmp_path.iterdir()) == []
    checkpoint.write_npz(make_dataset(1), {}, tmp_path / "d.npz")  # a finite one is written
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]


def test_check_finite_names_the_array():
    ds = make_dataset(1)
    checkpoint.check_finite(ds, "meta-epoch 5")
    enc = [{"kernel": jnp.zeros((2, 2))}, {"kernel": jnp.array([[0.0, -jnp.inf]]), "bias": jnp.zeros(1)}]
    with pytest.raises(DatasetError, match=r"^meta-epoch 5: dataset array 'encoder\.1\.kernel' holds 1 "):
        checkpoint.check_finite(ds.replace(encoder=enc), "meta-epoch 5")
    with pytest.raises(DatasetError, match="'inner_lr'"):
        checkpoint.check_finite(ds.replace(inner_lr=jnp.float32(jnp.nan)), "meta-epoch 5")


# --- files that are not datasets ---------------------------------------------------------------

def assert_one_clean_line(msg: str) -> None:
    assert "\n" not in msg and "Traceback" not in msg and 'File "' not in msg


def test_garbage_npz_is_one_clear_line(tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(os.urandom(300).replace(b"PK", b"pk").replace(b"\x80", b"\x81").replace(b"\x93", b"\x94"))
    with pytest.raises(DatasetError) as e:
        checkpoint.load_dataset(path)
    msg = str(e.value)
    assert_one_clean_line(msg)
    assert msg.startswith(f"{path} is not an npz dataset (not a zip archive)")
    assert "expected the dataset.npz written by rlsl_jax" in msg and "allow_pickle" not in msg


def test_pickles_and_truncated_npz_are_named(tmp_path):
    pkl = tmp_path / "p.npz"
    pkl.write_bytes(pickle.dumps({"x": [1, 2]}))
    with pytest.raises(DatasetError, match="a Python pickle, not a zip archive"):
        checkpoint.load_dataset(pkl)
    obj = tmp_path / "o.npz"
    np.savez(obj, x=np.array([{"a": 1}], dtype=object), y=np.zeros((1, 2)), inner_lr=np.float32(1))
    with pytest.raises(DatasetError, match=r"o\.npz is not an npz dataset \(contains pickled objects\)"):
        checkpoint.load_dataset(obj)
    cut = tmp_path / "c.npz"
    np.savez(cut, x=np.zeros((2, 4)), y=np.zeros((2, 2)), inner_lr=np.float32(1))
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    with pytest.raises(DatasetError) as e:
        checkpoint.load_dataset(cut)
    assert "is not an npz dataset (a damaged zip archive: BadZipFile" in str(e.value)
    assert_one_clean_line(str(e.value))


def test_npz_without_y(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((2, 4), np.float32), inner_lr=np.float32(1))
    with pytest.raises(DatasetError, match=r"d\.npz is not an npz dataset: it lacks y \(holds inner_lr, x\)"):
        checkpoint.load_dataset(path)


def test_directory_that_holds_no_dataset(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hi")
    with pytest.raises(DatasetError) as e:
        checkpoint.load_dataset(tmp_path / "notes")
    assert str(e.value).startswith(f"{tmp_path / 'notes'} is neither a run directory (no checkpoints/ or "
                                   f"dataset.npz) nor an orbax checkpoint directory")
    assert_one_clean_line(str(e.value))


def test_run_folder_with_only_dataset_npz(tmp_path):
    checkpoint.write_npz(make_dataset(2), META, tmp_path / "run" / "dataset.npz")
    ds, meta = checkpoint.load_dataset(tmp_path / "run")
    assert meta["source"] == "npz"
    np.testing.assert_array_equal(ds.x, np.asarray(make_dataset(2).x))
