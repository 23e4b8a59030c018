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
        return {"x": ds.x, "y": ds.y, "inner_lr": ds.inner_lr}
    return dict(ds)


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


def load_dataset(path: str | os.PathLike, step: int | None = None) -> tuple[Dataset, dict]:
    """Loads a distilled dataset and its metadata, without the training config.

    ``path`` may be: a CLI ``--out`` folder or its ``checkpoints/`` directory (newest step, or
    ``step``), one step folder of it, an
    npz written by ``export_npz``, or one of the paper authors' npz files (shared/refdata).
    Returns (Dataset, metadata dict); an npz's metadata holds what the file says (e.g. dims, k),
    with ``source = "npz"``. Extra arrays (e.g. an encoder) are returned in ``metadata["extra"]``.
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
                         inner_lr=np.asarray(z["inner_lr"], np.float32).reshape(()))
            meta = {"source": "npz", "path": str(path), "k": int(ds.x.shape[0])}
            for name in z.files:
                if name not in ("x", "y", "inner_lr") and z[name].ndim == 0:
                    meta[name] = z[name].item()
        return ds, meta
    run_dir, step_in_path = _find_run_dir(path)
    step = step if step is not None else step_in_path
    with _manager(run_dir, create=False) as mngr:
        step = mngr.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"{path}: no complete checkpoint found (is this a run directory?)")
        out = mngr.restore(step, args=ocp.args.Composite(
            dataset=ocp.args.StandardRestore(), metadata=ocp.args.JsonRestore()))
    tree = {k: np.asarray(v) for k, v in out["dataset"].items()}
    ds = Dataset(x=tree.pop("x"), y=tree.pop("y"), inner_lr=tree.pop("inner_lr"))
    meta = {**dict(out["metadata"]), "source": "orbax", "path": str(run_dir), "step": int(step)}
    if tree:
        meta["extra"] = tree
    return ds, meta


def export_npz(path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Writes the dataset at ``path`` as npz with float32 ``x``, ``y``, ``inner_lr`` (the format of
    the paper authors' published datasets, shared/refdata/README.md), plus ``k`` and, for
    N-D cart-pole, ``dims``. The npz is written to a temporary file and renamed into place."""
    ds, meta = load_dataset(path)
    out = Path(out)
    arrays = {"x": np.asarray(ds.x, np.float32), "y": np.asarray(ds.y, np.float32),
              "inner_lr": np.asarray(ds.inner_lr, np.float32), "k": np.int64(ds.x.shape[0])}
    dims = (meta.get("env_kwargs") or {}).get("num_dims", meta.get("dims"))
    if dims is not None:
        arrays["dims"] = np.int64(dims)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, out)
    return out


def metadata_json(meta: dict) -> str:
    return json.dumps({k: v for k, v in meta.items() if k != "extra"}, indent=2, sort_keys=True, default=str)


def tree_to_numpy(tree: Any) -> Any:
    return jax.tree.map(np.asarray, tree)
