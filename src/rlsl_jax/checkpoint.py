"""Self-describing orbax checkpoints of distillation runs, ``load_dataset`` and npz export.

A run directory holds an orbax ``CheckpointManager`` tree: one folder per saved meta-epoch with
three items,
  * ``dataset``  — θ alone as {x, y, inner_lr} (plus any extra arrays a method adds, e.g. an
                   encoder): what users need, readable without any training config;
  * ``state``    — the whole training state (θ, critic, both optimiser states, env states);
  * ``metadata`` — JSON: format version, library version, env id and kwargs, k, learner
                   distribution, observation shape, number of actions, meta-epoch, seed, config.
Orbax writes each step to a temporary folder and renames it when complete, so a half-written
checkpoint never replaces a good one (an interrupted save leaves only a tmp folder, ignored).

Damaged checkpoints (truncated or overwritten files, a missing item folder, metadata that is not
JSON): ``restore`` and ``load_dataset`` read the newest step and, if it cannot be read, fall back
to the newest step that can, saying so in one line on stderr; if none can, they raise
:class:`CheckpointError` (one line: the directory, the steps tried and why). Nothing is deleted
on the way. A step that this process has proven unreadable is replaced when ``save`` writes the
same step number again (a run resumed from an older step re-saves it), and only then.

Non-finite data is never used or written silently: ``load_dataset`` rejects, and ``save`` /
``write_npz`` refuse to write, a dataset holding NaN or inf (:class:`DatasetError`, naming the
array); :func:`check_finite` is the same check for a training loop. Files that are not datasets
(an .npz that is not a zip archive or holds pickled objects, an npz without x, y or inner_lr, a
directory that is neither a run nor a checkpoint directory) raise :class:`DatasetError` with one
line saying what was found and what was expected.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from rlsl_jax import __version__
from rlsl_jax.distill.dataset import Dataset

FORMAT_VERSION = 1
ITEMS = ("dataset", "state", "metadata")
NPZ_EXPECTED = "expected the dataset.npz written by rlsl_jax or an authors' npz with x, y, inner_lr"


class CheckpointError(ValueError):
    """A checkpoint or dataset cannot be used. The message is one line: what (directory, steps
    tried, file) and why. CLIs report it as an error line with exit status 2."""


class DatasetError(CheckpointError):
    """A dataset's content or file format is wrong: NaN/inf in an array, an npz that is not one,
    missing arrays, a directory that holds no dataset."""


# (checkpoint directory, step) -> why: steps this process tried and could not read while an older
# step of the same directory could be read. Only these are ever deleted, by ``save`` of the same step.
_UNREADABLE: dict[tuple[str, int], str] = {}


def _dir_key(directory: Path) -> str:
    return os.path.realpath(directory)


def _manager(directory: str | os.PathLike, max_to_keep: int | None = 3, create: bool = True) -> ocp.CheckpointManager:
    # lightweight_initialize: do not read every step's _CHECKPOINT_METADATA on start (a damaged one
    # would only log errors; restore and save do not need the commit times).
    return ocp.CheckpointManager(
        Path(directory).absolute(),
        item_names=ITEMS,
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=create,
                                             enable_async_checkpointing=False, lightweight_initialize=True),
    )


def _why(e: BaseException, limit: int = 160) -> str:
    """``Type: message`` of an exception on one line, shortened."""
    msg = e.args[0] if isinstance(e, KeyError) and e.args and isinstance(e.args[0], str) else str(e)
    msg = " ".join(msg.split())
    if len(msg) > 1 and msg[0] == msg[-1] and msg[0] in "'\"":
        msg = msg[1:-1]
    if len(msg) > limit:
        msg = msg[:limit - 3] + "..."
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _leaf_name(path: tuple) -> str:
    parts = []
    for k in path:
        for attr in ("key", "idx", "name"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    return ".".join(parts)


def _nonfinite(a: Any) -> tuple[int, int]:
    """(number of NaN/inf entries, size) of an array; (0, size) for non-float arrays."""
    if isinstance(a, jax.Array):
        if not jnp.issubdtype(a.dtype, jnp.inexact):
            return 0, int(a.size)
        return int(jnp.sum(~jnp.isfinite(a))), int(a.size)
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.inexact):
        return 0, int(a.size)
    return int(np.count_nonzero(~np.isfinite(a))), int(a.size)


def _check_finite_tree(tree: Any, source: str) -> None:
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        bad, size = _nonfinite(leaf)
        if bad:
            raise DatasetError(f"{source}: dataset array {_leaf_name(path)!r} holds {bad} non-finite value(s) "
                               f"(NaN/inf) of {size}; a non-finite dataset is never used or saved")


def check_finite(ds: Any, source: str) -> None:
    """Raises :class:`DatasetError` naming the first array of ``ds`` (a Dataset or a dict of
    arrays: x, y, inner_lr, log_std, encoder.<...>) that holds NaN or inf; ``source`` (a file, a
    run, "meta-epoch 500") starts the message. Cheap enough for a training loop to call every chunk."""
    tree = _dataset_tree(ds)
    order = ("x", "y", "inner_lr", "log_std", "encoder")
    for name in (*[n for n in order if n in tree], *sorted(set(tree) - set(order))):
        _check_finite_tree({name: tree[name]}, source)


def _dataset_tree(ds: Any) -> dict:
    if isinstance(ds, Dataset):
        tree = {"x": ds.x, "y": ds.y, "inner_lr": ds.inner_lr}
        if ds.encoder is not None:
            tree["encoder"] = ds.encoder
        if ds.log_std is not None:
            tree["log_std"] = ds.log_std
        return tree
    return dict(ds)


_UNCHECKED = object()


def _describe_encoder(tree: Any) -> str:
    if tree is None or not jax.tree.leaves(tree):
        return "no encoder"
    return f"an encoder with parameter shapes {[tuple(np.shape(leaf)) for leaf in jax.tree.leaves(tree)]}"


def check_encoder(encoder: Any, expected: Any, source: str = "dataset", meta: dict | None = None) -> None:
    """Raises ValueError unless a dataset's stored ``encoder`` (None if it has none) matches the
    encoder ``expected`` by the learner about to be trained on it: None (the learner takes raw
    observations) or a pytree of arrays / ShapeDtypeStructs (e.g. ``jax.eval_shape(enc_init, key)``).
    Structure and every shape must agree."""
    same = (encoder is None or not jax.tree.leaves(encoder)) == (expected is None or not jax.tree.leaves(expected))
    if same and encoder is not None and jax.tree.leaves(encoder):
        same = (jax.tree.structure(encoder) == jax.tree.structure(expected)
                and all(tuple(np.shape(a)) == tuple(np.shape(b))
                        for a, b in zip(jax.tree.leaves(encoder), jax.tree.leaves(expected))))
    if not same:
        stored = (meta or {}).get("encoder")
        hint = f" (recorded in its metadata as {stored})" if stored else ""
        raise ValueError(
            f"{source}: encoder mismatch: the dataset holds {_describe_encoder(encoder)}{hint}, but the learner "
            f"to be trained expects {_describe_encoder(expected)}. A dataset distilled with encoder rollback "
            f"trains only learners split at the same layer (learner = the layers after its encoder); "
            f"choose the learner/layer the dataset was distilled for")


def _npz_encoder(arrays: dict, path: Path) -> list | None:
    """Encoder arrays of an npz (``encoder.<layer>.<name>``, written by ``export_npz``) as a list of
    per-layer dicts, or None."""
    layers: dict[int, dict] = {}
    for name in arrays:
        if name.startswith("encoder."):
            parts = name.split(".", 2)
            if len(parts) != 3 or not parts[1].isdigit():
                raise DatasetError(f"{path}: array {name!r} is not named encoder.<layer>.<name>; {NPZ_EXPECTED}")
            layers.setdefault(int(parts[1]), {})[parts[2]] = _numeric(arrays, name, path)
    return [layers[i] for i in sorted(layers)] if layers else None


def save(directory: str | os.PathLike, step: int, state: Any, dataset: Any, metadata: dict,
         max_to_keep: int | None = 3) -> None:
    """Saves ``state`` (any pytree), ``dataset`` and ``metadata`` as meta-epoch ``step``.

    Raises :class:`DatasetError` (nothing written) if the dataset holds NaN or inf. If ``step``
    exists and this process has proven it unreadable (``restore`` / ``load_dataset`` fell back
    past it), that step is deleted and written anew; any other existing step is left to orbax."""
    directory = Path(directory).absolute()
    step = int(step)
    check_finite(dataset, f"refusing to save step {step} in {directory}")
    meta = {"format_version": FORMAT_VERSION, "library_version": __version__, **metadata, "meta_epoch": step}
    with _manager(directory, max_to_keep) as mngr:
        if step in mngr.all_steps() and _UNREADABLE.pop((_dir_key(directory), step), None) is not None:
            mngr.delete(step)
        mngr.save(
            step,
            args=ocp.args.Composite(
                dataset=ocp.args.StandardSave(_dataset_tree(dataset)),
                state=ocp.args.StandardSave(state),
                metadata=ocp.args.JsonSave(meta),
            ),
            force=True,
        )
        mngr.wait_until_finished()


def latest_step(directory: str | os.PathLike) -> int | None:
    """The newest complete meta-epoch saved in ``directory`` (None if there is none). It may be
    damaged: ``restore`` / ``load_dataset`` then fall back to an older one."""
    if not Path(directory).is_dir():
        return None
    with _manager(directory, max_to_keep=None, create=False) as mngr:
        return mngr.latest_step()


def _steps_list(steps: list[int]) -> str:
    return ", ".join(map(str, steps))


def placed_here(tree: Any) -> Any:
    """``tree``'s leaves (arrays, ShapeDtypeStructs or orbax array metadata) as ShapeDtypeStructs
    placed in THIS process: a leaf's own ``jax.sharding.Sharding`` if it has one (a fresh state's,
    sharded over a mesh or not), else the first local device. Restoring into it reads a checkpoint
    written on other devices (a run trained on a GPU, resumed or loaded on a CPU) instead of failing
    on the placement saved with it."""
    default = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def leaf(x):
        sharding = getattr(x, "sharding", None)
        return jax.ShapeDtypeStruct(x.shape, x.dtype,
                                    sharding=sharding if isinstance(sharding, jax.sharding.Sharding) else default)

    return jax.tree.map(leaf, tree)


def abstract_like(state: Any) -> Any:
    """The restore target of a checkpoint of ``state``: its structure, shapes and dtypes
    (``jax.eval_shape``) with the placement of its arrays (``placed_here``)."""
    return placed_here(jax.tree.map(lambda s, a: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=getattr(
        a, "sharding", None)), jax.eval_shape(lambda: state), state))


def _dataset_args(step_dir: Path) -> Any:
    """Restore args of a step's dataset item (its saved structure, ``placed_here``) and metadata."""
    saved = ocp.StandardCheckpointHandler().metadata(step_dir / "dataset").tree
    return ocp.args.Composite(dataset=ocp.args.StandardRestore(placed_here(saved)), metadata=ocp.args.JsonRestore())


def _restore_intact(directory: Path, step: int | None, args: Any, done: str) -> tuple[int, dict, list[int]]:
    """Restores ``args`` (or ``args(step directory)`` if it is a function) at ``step``, or (``step``
    None) at the newest step that can be read. Returns (step used, orbax output, steps skipped as
    unreadable). One stderr line if it skipped any; :class:`CheckpointError` if no step could be
    read. Deletes nothing."""
    with _manager(directory, max_to_keep=None, create=False) as mngr:
        steps = sorted(mngr.all_steps(), reverse=True)
        if step is not None and int(step) not in steps:
            raise FileNotFoundError(f"{directory}: no checkpoint for step {step} "
                                    f"(saved steps: {_steps_list(sorted(steps)) or 'none'})")
        candidates = [int(step)] if step is not None else steps
        if not candidates:
            raise FileNotFoundError(f"no checkpoint in {directory}")
        failed: list[tuple[int, str]] = []
        used, out = None, None
        for candidate in candidates:
            try:
                restored = mngr.restore(candidate, args=args(directory / str(candidate)) if callable(args) else args)
                if not isinstance(restored["metadata"], dict):
                    raise ValueError(f"metadata is a JSON {type(restored['metadata']).__name__}, not an object")
            except Exception as e:  # orbax, tensorstore, json: any failure to read makes the step unusable
                failed.append((candidate, _why(e)))
                continue
            used, out = candidate, restored
            break
    if used is None:
        if step is not None:
            raise CheckpointError(f"checkpoint step {step} in {directory} cannot be read ({failed[0][1]}); "
                                  f"nothing was changed")
        tried = [bad for bad, _ in failed]
        detail = (f"all with {failed[0][1]}" if len(failed) > 1 and len({why for _, why in failed}) == 1
                  else "; ".join(f"step {bad}: {why}" for bad, why in failed))
        raise CheckpointError(f"no readable checkpoint in {directory}: tried step{'s' if len(tried) > 1 else ''} "
                              f"{_steps_list(tried)} ({detail}); nothing was changed")
    if failed:
        for bad, why in failed:
            _UNREADABLE[(_dir_key(directory), bad)] = why
        if jax.process_index() == 0:
            what = (f"step {failed[0][0]} in {directory} is damaged ({failed[0][1]})" if len(failed) == 1 else
                    f"steps {_steps_list([bad for bad, _ in failed])} in {directory} are damaged ("
                    + "; ".join(f"step {bad}: {why}" for bad, why in failed) + ")")
            print(f"checkpoint: {what}; {done} step {used}", file=sys.stderr, flush=True)
    return used, out, [bad for bad, _ in failed]


def restore(directory: str | os.PathLike, abstract_state: Any, step: int | None = None) -> tuple[Any, dict]:
    """Restores (state, metadata) at ``step`` (default: the newest readable one) into the structure
    of ``abstract_state`` (``abstract_like(fresh_state)``, or e.g. ``jax.eval_shape(init, key)``),
    placed by ``placed_here`` (its leaves' shardings, else the first local device), whatever
    devices wrote the checkpoint.

    Without ``step``, a newest step whose state or metadata cannot be read is skipped for the
    newest one that can, with one line on stderr (``checkpoint: step 1000 in DIR is damaged
    (...); resumed from step 500``). The metadata returned gets ``step`` (the step restored) and
    ``skipped_steps`` (the unreadable newer steps, [] normally). Raises :class:`CheckpointError`
    if no step (or the ``step`` asked for) can be read, FileNotFoundError if there is none."""
    used, out, skipped = _restore_intact(
        Path(directory).absolute(), step,
        ocp.args.Composite(state=ocp.args.StandardRestore(placed_here(abstract_state)),
                           metadata=ocp.args.JsonRestore()),
        "resumed from")
    return out["state"], {**dict(out["metadata"]), "step": int(used), "skipped_steps": skipped}


def _has_step_folders(path: Path) -> bool:
    return any(c.name.split(".", 1)[0].isdigit() and c.is_dir() for c in path.iterdir())


def _find_run_dir(path: Path) -> tuple[Path, int | None, Path | None]:
    """Accepts a CLI output folder (holding ``checkpoints/`` and/or ``dataset.npz``), a checkpoint
    directory, or one of its step folders. Returns (checkpoint directory, step named by the path,
    the run's dataset.npz if any); DatasetError for a directory that is none of these."""
    npz = path / "dataset.npz" if (path / "dataset.npz").is_file() else None
    if (path / "checkpoints").is_dir():
        return path / "checkpoints", None, npz
    if path.name.isdigit() and any((path / n).exists() for n in (*ITEMS, "_CHECKPOINT_METADATA")):
        return path.parent, int(path.name), None
    if path.name == "checkpoints" or _has_step_folders(path):
        return path, None, npz
    if npz is not None:
        return path, None, npz
    raise DatasetError(f"{path} is neither a run directory (no checkpoints/ or dataset.npz) nor an orbax "
                       f"checkpoint directory (no step folders); expected a CLI --out folder, its checkpoints/ "
                       f"folder, one step folder, or an .npz dataset")


def _npz_head(path: Path) -> str | None:
    """What the file is if it is not a zip archive (None if it is one)."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return None
    if not head:
        return "an empty file, not a zip archive"
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array, not a zip archive of arrays"
    if head[:1] == b"\x80":
        return "a Python pickle, not a zip archive"
    return "not a zip archive"


def _numeric(arrays: dict, name: str, path: Path) -> np.ndarray:
    a = arrays[name]
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise DatasetError(f"{path}: array {name!r} has dtype {a.dtype}, not numbers; {NPZ_EXPECTED}")
    return np.asarray(a, np.float32)


def _load_npz(path: Path, expect_encoder: Any) -> tuple[Dataset, dict]:
    if path.suffix != ".npz":
        raise DatasetError(f"{path} is not a dataset: expected an .npz file, a run directory or an orbax "
                           f"checkpoint directory")
    what = _npz_head(path)
    if what is not None:
        raise DatasetError(f"{path} is not an npz dataset ({what}); {NPZ_EXPECTED}")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise DatasetError(f"{path} is not an npz dataset (a single array); {NPZ_EXPECTED}")
            arrays = {name: z[name] for name in z.files}
    except DatasetError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, NotImplementedError) as e:
        why = ("contains pickled objects" if "allow_pickle" in str(e)
               else f"a damaged zip archive: {_why(e)}")
        raise DatasetError(f"{path} is not an npz dataset ({why}); {NPZ_EXPECTED}") from e
    missing = [n for n in ("x", "y", "inner_lr") if n not in arrays]
    if missing:
        raise DatasetError(f"{path} is not an npz dataset: it lacks {', '.join(missing)} (holds "
                           f"{', '.join(sorted(arrays)) or 'no arrays'}); {NPZ_EXPECTED}")
    inner_lr = _numeric(arrays, "inner_lr", path)
    if inner_lr.size != 1:
        raise DatasetError(f"{path}: inner_lr has shape {list(inner_lr.shape)}, expected a scalar; {NPZ_EXPECTED}")
    ds = Dataset(x=_numeric(arrays, "x", path), y=_numeric(arrays, "y", path), inner_lr=inner_lr.reshape(()),
                 encoder=_npz_encoder(arrays, path),
                 log_std=_numeric(arrays, "log_std", path) if "log_std" in arrays else None)
    check_finite(ds, str(path))
    k = arrays.get("k")
    if k is not None and (k.size != 1 or ds.x.ndim == 0 or int(k.reshape(())) != ds.x.shape[0]):
        raise DatasetError(f"{path}: records k = {k.tolist()} but x holds {list(ds.x.shape)}; {NPZ_EXPECTED}")
    meta = {"source": "npz", "path": str(path), "k": int(ds.x.shape[0]) if ds.x.ndim else 0}
    for name, a in arrays.items():
        if name.startswith("obs_"):  # observation normaliser statistics (continuous control)
            meta.setdefault("extra", {})[name] = np.asarray(a)
        elif name not in ("x", "y", "inner_lr") and a.ndim == 0:
            meta[name] = a.item()
    _check_finite_tree(meta.get("extra", {}), str(path))
    if expect_encoder is not _UNCHECKED:
        check_encoder(ds.encoder, expect_encoder, str(path), meta)
    return ds, meta


def load_dataset(path: str | os.PathLike, step: int | None = None, *,
                 expect_encoder: Any = _UNCHECKED) -> tuple[Dataset, dict]:
    """Loads a distilled dataset and its metadata, without the training config.

    ``path`` may be: a CLI ``--out`` folder or its ``checkpoints/`` directory (newest readable
    step, or ``step``), one step folder of it, an npz written by ``export_npz`` (a run folder with
    ``dataset.npz`` and no checkpoints loads that), or one of the paper authors' npz files.
    Returns (Dataset, metadata dict); an npz's metadata holds what the file says (e.g. dims, k),
    with ``source = "npz"``. A stored encoder (encoder rollback) is returned in ``Dataset.encoder``;
    other extra arrays in ``metadata["extra"]``. From a checkpoint, metadata["step"] is the step
    read and metadata["skipped_steps"] the newer steps that could not be read.

    Errors (all one line): FileNotFoundError (no such path, no checkpoint); CheckpointError (no
    readable step: the directory, steps tried and why; a damaged newest step only costs one
    stderr line and the next older step is loaded); DatasetError (NaN/inf in an array, not an
    npz dataset, arrays missing, a directory that holds no dataset).

    ``expect_encoder``: if given, the encoder of the learner that will be trained on the dataset
    (None for none, else a pytree of arrays or ShapeDtypeStructs); a dataset whose encoder differs
    raises ValueError with a clear message (see :func:`check_encoder`).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset not found: {path}")
    if path.is_file():
        return _load_npz(path, expect_encoder)
    run_dir, step_in_path, npz = _find_run_dir(path)
    step = step if step is not None else step_in_path
    if npz is not None and step is None and (not run_dir.is_dir() or latest_step(run_dir) is None):
        return _load_npz(npz, expect_encoder)
    if step is None and latest_step(run_dir) is None:
        raise FileNotFoundError(f"{path}: no complete checkpoint found (is this a run directory?)")
    run_dir = run_dir.absolute()
    try:
        used, out, skipped = _restore_intact(run_dir, step, _dataset_args, "loaded")
    except CheckpointError as e:
        if npz is not None:
            raise CheckpointError(f"{e} (the run's {npz.name} can be loaded instead: {npz})") from e
        raise
    tree = jax.tree.map(np.asarray, dict(out["dataset"]))
    lacking = [n for n in ("x", "y", "inner_lr") if n not in tree]
    if lacking:
        raise DatasetError(f"{run_dir} step {used}: the dataset item lacks {', '.join(lacking)}; expected "
                           f"a checkpoint written by rlsl_jax.checkpoint.save")
    ds = Dataset(x=tree.pop("x"), y=tree.pop("y"), inner_lr=tree.pop("inner_lr"), encoder=tree.pop("encoder", None),
                 log_std=tree.pop("log_std", None))
    source = f"{run_dir} step {used}"
    check_finite(ds, source)
    _check_finite_tree(tree, source)
    meta = {**dict(out["metadata"]), "source": "orbax", "path": str(run_dir), "step": int(used),
            "skipped_steps": skipped}
    if tree:
        meta["extra"] = tree
    if expect_encoder is not _UNCHECKED:
        check_encoder(ds.encoder, expect_encoder, str(path), meta)
    return ds, meta


def export_npz(path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Writes the dataset saved at ``path`` as npz (see ``write_npz``)."""
    ds, meta = load_dataset(path)
    return write_npz(ds, meta, out)


def write_npz(ds: Dataset, meta: dict, out: str | os.PathLike) -> Path:
    """Writes ``ds`` as npz with float32 ``x``, ``y``, ``inner_lr`` (the format of the paper
    authors' published datasets), plus ``k`` and, for N-D cart-pole,
    ``dims`` (from ``meta``); an encoder (a list of per-layer dicts) as ``encoder.<i>.<name>`` and
    its rollback layer as ``encoder_layer``; for continuous actions the log-std target as ``log_std``
    and the observation normaliser's statistics (``meta["extra"]``) as ``obs_mean``, ``obs_var``,
    ``obs_count``. Written to a temporary file, then renamed into place. Raises
    :class:`DatasetError` (nothing written) if any of these arrays holds NaN or inf."""
    out = Path(out)
    check_finite(ds, f"refusing to write {out}")
    _check_finite_tree({k: v for k, v in (meta.get("extra") or {}).items() if k.startswith("obs_")},
                       f"refusing to write {out}")
    arrays = {"x": np.asarray(ds.x, np.float32), "y": np.asarray(ds.y, np.float32),
              "inner_lr": np.asarray(ds.inner_lr, np.float32), "k": np.int64(ds.x.shape[0])}
    dims = (meta.get("env_kwargs") or {}).get("num_dims", meta.get("dims"))
    if dims is not None:
        arrays["dims"] = np.int64(dims)
    if ds.encoder is not None:
        for i, layer in enumerate(ds.encoder):
            for name, arr in layer.items():
                arrays[f"encoder.{i}.{name}"] = np.asarray(arr, np.float32)
        layer_idx = (meta.get("encoder") or {}).get("layer")
        if layer_idx is not None:
            arrays["encoder_layer"] = np.int64(layer_idx)
    if ds.log_std is not None:
        arrays["log_std"] = np.asarray(ds.log_std, np.float32)
    for name, arr in (meta.get("extra") or {}).items():
        if name.startswith("obs_"):
            arrays[name] = np.asarray(arr, np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def metadata_json(meta: dict) -> str:
    return json.dumps({k: v for k, v in meta.items() if k != "extra"}, indent=2, sort_keys=True, default=str)


def tree_to_numpy(tree: Any) -> Any:
    return jax.tree.map(np.asarray, tree)
