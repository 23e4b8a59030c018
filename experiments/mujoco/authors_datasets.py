"""The paper authors' published MuJoCo datasets next to ours: what they hold, and what they score here.

The authors published one k = 64 dataset per MuJoCo task with their code
(https://github.com/wconnorr/RL-to-SL_Distillation, ``distilled_envs/MuJoCo/<task>_b64_state.ckpt``,
MIT licence): a PyTorch checkpoint whose ``distiller`` holds X, the action-mean targets, the
log-std target and η — and no observation normaliser. Their code wraps the envs in a VecNormalize
(re-created at random every ~10 meta-epochs, never saved) that overrides only ``step_wait`` and
``reset``; under the gymnasium 1.1.1 their requirements.txt pins, ``VectorWrapper.step`` calls the
inner env's ``step`` directly, so only the first observation after each (re-)creation was
normalised and every later observation and reward reached the learner raw: with those versions their
X lives in raw observation space (with others, in a normalised space nobody can rebuild). This script reads such a file without
PyTorch (its zip / pickle layout), prints its statistics beside our dataset of the same task, and
scores it with 64 fresh learners (one SGD step, one 1000-step episode each; envpool MuJoCo-v4) on
raw observations and with OUR dataset's stored normaliser — two guesses at the missing one.

    python experiments/mujoco/authors_datasets.py hopper_b64_state.ckpt \
        experiments/mujoco/table3/hopper_ppmo/dataset.npz --env hopper
"""

from __future__ import annotations

import argparse
import pickle
import zipfile
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from rlsl_jax.checkpoint import write_npz
from rlsl_jax.distill import Dataset
from rlsl_jax.report import markdown_table
from rlsl_jax.rl.normalize import rms_from_meta
from rlsl_jax.tasks import mujoco as tm

DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64, "IntStorage": np.int32}


def read_torch_checkpoint(path: Path) -> dict:
    """A ``torch.save`` zip file as nested dicts of numpy arrays (tensors and parameters only)."""
    archive = zipfile.ZipFile(path)
    root = archive.namelist()[0].split("/")[0]

    def rebuild(storage, offset, size, stride, *_):
        size = tuple(size)
        if not size:
            return storage[offset].copy()
        strides = [s * storage.itemsize for s in stride]
        return np.lib.stride_tricks.as_strided(storage[offset:], shape=size, strides=strides).copy()

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if name == "_rebuild_tensor_v2":
                return rebuild
            if name == "_rebuild_parameter":
                return lambda data, *_: data
            if module.startswith("torch"):  # storage types: only their names are used
                return type(name, (), {})
            return super().find_class(module, name)

        def persistent_load(self, pid):
            _, storage_type, key, _location, _numel = pid
            raw = archive.read(f"{root}/data/{key}")
            return np.frombuffer(raw, dtype=DTYPES.get(getattr(storage_type, "__name__", ""), np.float32))

    return Reader(archive.open(f"{root}/data.pkl")).load()


def stats(name: str, ds: Dataset) -> list:
    x, y, ls = (np.asarray(a) for a in (ds.x, ds.y, ds.log_std))
    return [name, f"{float(ds.inner_lr):.3f}", f"{np.sqrt((x ** 2).mean()):.2f} / {np.abs(x).max():.2f}",
            f"{np.sqrt((y ** 2).mean()):.2f} / {np.abs(y).max():.2f}", f"{ls.mean():.2f} [{ls.min():.2f}, {ls.max():.2f}]"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("authors", type=Path, help="the authors' <task>_b64_state.ckpt")
    p.add_argument("ours", help="our dataset of the same task (run folder or dataset.npz, with its normaliser)")
    p.add_argument("--env", required=True, help=f"the task ({', '.join(tm.ENVS)})")
    p.add_argument("--learners", type=int, default=64, help="fresh learners per score (default: %(default)s)")
    p.add_argument("--export", type=Path, help="also write the authors' dataset with OUR dataset's normaliser to "
                   "this npz (refused if it exists), e.g. for --eval or --init-dataset")
    args = p.parse_args(argv)
    if args.export is not None and args.export.exists():
        p.error(f"--export {args.export} exists; choose another path")
    try:
        env = tm.check_env_name(args.env)
        d = read_torch_checkpoint(args.authors)["distiller"]
        theirs = Dataset(x=jnp.asarray(d["x"]), y=jnp.asarray(d["y_mean"]), inner_lr=jnp.asarray(d["inner_lr"], jnp.float32),
                         log_std=jnp.asarray(np.ravel(d["y_logstd"])))
        s = tm.load_scored(args.ours, args.learners, 0, env=env, backend="envpool")
        tm.check_fits(theirs, s.benv, str(args.authors), f"envpool {env}")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError) as e:
        p.error(f"{type(e).__name__}: {e}")
    if args.export is not None:
        write_npz(theirs, {"extra": s.meta.get("extra", {})}, args.export)
        print(f"wrote {args.export}: the authors' dataset with the normaliser of {args.ours}")
    print(markdown_table(["dataset", "η", "X rms / max", "Y rms / max", "log-std target mean [min, max]"],
                         [stats("authors'", theirs), stats("ours", s.ds)]))
    rows = []
    for label, ds, rms in [("authors', raw observations", theirs, None),
                           ("authors', our dataset's normaliser", theirs, s.obs_rms),
                           ("ours, its own normaliser", s.ds, s.obs_rms)]:
        r = [tm.kshot(ds, rms, args.learners, seed=0, backend="envpool", env=env, brax_backend=None,
                      episode_length=tm.EPISODE_LENGTH, greedy=g, benv=s.benv) for g in (False, True)]
        rows.append([label, f"{r[0]['mean']:.1f} ± {r[0]['std']:.1f}", f"{r[1]['mean']:.1f} ± {r[1]['std']:.1f}"])
    print()
    print(markdown_table(["dataset (envpool " + env + "-v4)", "sampled actions", "mean actions"], rows))


if __name__ == "__main__":
    main()
