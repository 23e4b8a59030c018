"""Self-describing orbax checkpoints of distillation runs, ``load_dataset`` and npz export.

A run directory holds an orbax ``CheckpointManager`` tree: one folder per saved meta-epoch with
three items,
  * ``dataset``  — θ alone as {x, y, inner_lr} (plus any extra arrays a method adds, e.g. an
                   encoder): what users need, readable without any training config;
  * ``state``    — the whole training state (θ, critic, both optimiser states, env states);
  * ``metadata`` — JSON: format version, library version, env id and kwargs, k, learner
                   distribution, observation shape, number of actions, meta-epoch, seed, config.
Orbax writes each step to a temporary folder and renames it when complete, so a half-written
checkpoint never replaces a good one (an interrupted save leaves only a tmp folder, ignored and
cleaned up on the next start).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from rlsl_jax import __version__
from rlsl_jax.distill.dataset import Dataset

FORMAT_VERSION = 1
ITEMS = ("dataset", "state", "metadata")


def _manager(directory: str | os.PathLike, max_to_keep: int | None = 3, create: bool = True) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(
        Path(directory).absolute(),
        item_names=ITEMS,
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=create,
                                             enable_async_checkpointing=False),
    )


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


def _npz_encoder(z) -> list | None:
    """Encoder arrays of an npz (``encoder.<layer>.<name>``, written by ``export_npz``) as a list of
    per-layer dicts, or None."""
    layers: dict[int, dict] = {}
    for name in z.files:
        if name.startswith("encoder."):
            _, i, leaf = name.split(".", 2)
            layers.setdefault(int(i), {})[leaf] = np.asarray(z[name])
    return [layers[i] for i in sorted(layers)] if layers else None


def save(directory: str | os.PathLike, step: int, state: Any, dataset: Any, metadata: dict,
         max_to_keep: int | None = 3) -> None:
    """Saves ``state`` (any pytree), ``dataset`` and ``metadata`` as meta-epoch ``step``."""
    meta = {"format_version": FORMAT_VERSION, "library_version": __version__, **metadata, "meta_epoch": int(step)}
    with _manager(directory, max_to_keep) as mngr:
        mngr.save(
            int(step),
            args=ocp.args.Composite(
                dataset=ocp.args.StandardSave(_dataset_tree(dataset)),
                state=ocp.args.StandardSave(state),
                metadata=ocp.args.JsonSave(meta),
            ),
            force=True,
        )
        mngr.wait_until_finished()


def latest_step(directory: str | os.PathLike) -> int | None:
    """The newest complete meta-epoch saved in ``directory`` (None if there is none)."""
    if not Path(directory).is_dir():
        return None
    with _manager(directory, create=False) as mngr:
        return mngr.latest_step()


def restore(directory: str | os.PathLike, abstract_state: Any, step: int | None = None) -> tuple[Any, dict]:
    """Restores (state, metadata) at ``step`` (default latest) into the structure of
    ``abstract_state`` (e.g. ``jax.eval_shape(init, key)``)."""
    with _manager(directory, create=False) as mngr:
        step = mngr.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {directory}")
        out = mngr.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), metadata=ocp.args.JsonRestore()))
    return out["state"], dict(out["metadata"])


def _find_run_dir(path: Path) -> tuple[Path, int | None]:
    """Accepts a CLI output folder (holding ``checkpoints/``), a checkpoint directory, or one of
    its step folders."""
    if (path / "checkpoints").is_dir():
        path = path / "checkpoints"
    if (path / "dataset").is_dir() and (path / "metadata").exists() and path.name.isdigit():
        return path.parent, int(path.name)
    return path, None


def load_dataset(path: str | os.PathLike, step: int | None = None, *,
                 expect_encoder: Any = _UNCHECKED) -> tuple[Dataset, dict]:
    """Loads a distilled dataset and its metadata, without the training config.

    ``path`` may be: a CLI ``--out`` folder or its ``checkpoints/`` directory (newest step, or
    ``step``), one step folder of it, an
    npz written by ``export_npz``, or one of the paper authors' npz files (shared/refdata).
    Returns (Dataset, metadata dict); an npz's metadata holds what the file says (e.g. dims, k),
    with ``source = "npz"``. A stored encoder (encoder rollback) is returned in ``Dataset.encoder``;
    other extra arrays in ``metadata["extra"]``.

    ``expect_encoder``: if given, the encoder of the learner that will be trained on the dataset
    (None for none, else a pytree of arrays or ShapeDtypeStructs); a dataset whose encoder differs
    raises ValueError with a clear message (see :func:`check_encoder`).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset not found: {path}")
    if path.is_file():
        if path.suffix != ".npz":
            raise ValueError(f"{path}: expected an .npz file or an orbax checkpoint directory")
        with np.load(path) as z:
            missing = {"x", "y", "inner_lr"} - set(z.files)
            if missing:
                raise ValueError(f"{path}: npz lacks {sorted(missing)}; expected arrays x, y, inner_lr")
            ds = Dataset(x=np.asarray(z["x"], np.float32), y=np.asarray(z["y"], np.float32),
                         inner_lr=np.asarray(z["inner_lr"], np.float32).reshape(()), encoder=_npz_encoder(z),
                         log_std=np.asarray(z["log_std"], np.float32) if "log_std" in z.files else None)
            meta = {"source": "npz", "path": str(path), "k": int(ds.x.shape[0])}
            for name in z.files:
                if name.startswith("obs_"):  # observation normaliser statistics (continuous control)
                    meta.setdefault("extra", {})[name] = np.asarray(z[name])
                elif name not in ("x", "y", "inner_lr") and z[name].ndim == 0:
                    meta[name] = z[name].item()
        if expect_encoder is not _UNCHECKED:
            check_encoder(ds.encoder, expect_encoder, str(path), meta)
        return ds, meta
    run_dir, step_in_path = _find_run_dir(path)
    step = step if step is not None else step_in_path
    with _manager(run_dir, create=False) as mngr:
        step = mngr.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"{path}: no complete checkpoint found (is this a run directory?)")
        out = mngr.restore(step, args=ocp.args.Composite(
            dataset=ocp.args.StandardRestore(), metadata=ocp.args.JsonRestore()))
    tree = jax.tree.map(np.asarray, dict(out["dataset"]))
    ds = Dataset(x=tree.pop("x"), y=tree.pop("y"), inner_lr=tree.pop("inner_lr"), encoder=tree.pop("encoder", None),
                 log_std=tree.pop("log_std", None))
    meta = {**dict(out["metadata"]), "source": "orbax", "path": str(run_dir), "step": int(step)}
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
    authors' published datasets, shared/refdata/README.md), plus ``k`` and, for N-D cart-pole,
    ``dims`` (from ``meta``); an encoder (a list of per-layer dicts) as ``encoder.<i>.<name>`` and
    its rollback layer as ``encoder_layer``; for continuous actions the log-std target as ``log_std``
    and the observation normaliser's statistics (``meta["extra"]``) as ``obs_mean``, ``obs_var``,
    ``obs_count``. Written to a temporary file, then renamed into place."""
    out = Path(out)
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
    np.savez(tmp, **arrays)
    os.replace(tmp, out)
    return out


def metadata_json(meta: dict) -> str:
    return json.dumps({k: v for k, v in meta.items() if k != "extra"}, indent=2, sort_keys=True, default=str)


def tree_to_numpy(tree: Any) -> Any:
    return jax.tree.map(np.asarray, tree)
