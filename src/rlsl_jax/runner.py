"""THE host loop of the package: jitted chunks of (meta-)epochs, progress bar, CSV log, checkpoints,
exact resume, early stopping (training return, periodic k-shot check), non-finite guard.

PPMO distillation (``distill.ppmo.make_meta_step``) and direct PPO (``rl.ppo.make_train_step``)
both give a pure ``step(state, key) -> (state, metrics)``; ``run`` drives either, for one run or
for S independent seeds at once (``num_seeds``: states stacked, the step vmapped).

Keys: (meta-)epoch i of a run always uses ``fold_in(epoch_key, i)`` (seed s of a multi-seed run:
``fold_in(split(epoch_key, S)[s], i)``), so chunk sizes and resuming never change a run; a
resumed single run restores its whole training state from the newest intact checkpoint and
reproduces an uninterrupted run bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from rlsl_jax import checkpoint
from rlsl_jax.distill.ppmo import make_chunk
from rlsl_jax.logs import CSVLog
from rlsl_jax.parallel import batch_sharding, check_divisible, is_main_process, replicated
from rlsl_jax.rl.update import epoch_keys, init_seeds, make_seed_chunk

PPMO_LOG_FIELDS = ("meta_epoch", "wall_s", "episode_return", "episodes", "last_return", "policy_loss",
                   "value_loss", "entropy", "approx_kl", "clip_frac", "inner_lr", "meta_grad_norm",
                   "kshot_mean", "kshot_std")


class NonFiniteError(RuntimeError):
    """The training state became NaN/inf; the newest checkpoint is the last finite one."""


def seed_keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """(init key, epoch key) of a single run with integer ``seed``."""
    k_init, k_epochs = jax.random.split(jax.random.key(seed))
    return k_init, k_epochs


def chunk_plan(total: int, chunk: int) -> list[int]:
    """Sizes of the jitted chunks covering ``total`` epochs: equal chunks of the largest divisor of
    ``total`` that is <= ``chunk`` (one compilation), unless that divisor is below chunk / 4; then
    ``chunk``-sized chunks and one remainder (two compilations)."""
    if total <= 0:
        return []
    chunk = max(1, min(chunk, total))
    d = next(d for d in range(chunk, 0, -1) if total % d == 0)
    if 4 * d >= chunk:
        return [d] * (total // d)
    return [chunk] * (total // chunk) + ([total % chunk] if total % chunk else [])


@dataclasses.dataclass(frozen=True)
class KShotCheck:
    """Periodic k-shot check during a distillation: every ``every`` meta-epochs ``score(dataset)``
    -> (mean, std) over fresh learners is logged (kshot_mean/kshot_std in log.csv); the run stops
    once the mean reaches ``target`` (None: never). The best-scoring dataset is kept: it is what
    the checkpoints' dataset item (and so ``load_dataset``) and the run's dataset.npz hold. On a
    resume the kept dataset is scored again by the current check before later ones compete."""

    every: int
    score: Callable[[Any], tuple[float, float]]
    target: float | None = None


@dataclasses.dataclass
class Best:
    meta_epoch: int
    mean: float
    std: float
    dataset: Any


def _finite(tree: Any) -> list[str]:
    """Paths of the leaves of ``tree`` that hold NaN or inf."""
    bad = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        a = np.asarray(leaf)
        if np.issubdtype(a.dtype, np.inexact) and not np.isfinite(a).all():
            bad.append(jax.tree_util.keystr(path))
    return bad


def ppmo_rows(metrics: dict, start: int, wall: float) -> list[dict]:
    """One log row per meta-epoch of a single run (scalar metrics [n])."""
    n = len(np.asarray(metrics["episode_return"]))
    return [{**{k: float(np.asarray(v)[i]) for k, v in metrics.items()}, "meta_epoch": start + i + 1, "wall_s": wall}
            for i in range(n)]


def mean_return(metrics: dict) -> float:
    """Mean of the finite training episode returns of a chunk (nan if no episode ended)."""
    rets = np.asarray(metrics["episode_return"])
    return float(np.nanmean(rets)) if np.isfinite(rets).any() else float("nan")


def default_postfix(metrics: dict) -> dict:
    """Progress-bar fields: mean training return of the chunk (and η of a distillation)."""
    out = {"ret": f"{mean_return(metrics):.1f}"}
    if "inner_lr" in metrics:
        out["lr"] = f"{float(np.ravel(metrics['inner_lr'])[-1]):.3f}"
    return out


def run(
    init: Callable[[jax.Array], Any],
    step: Callable,
    *,
    epochs: int,
    init_key: jax.Array,
    epoch_key: jax.Array,
    num_seeds: int | None = None,
    sequential_seeds: bool = False,
    mesh=None,
    out_dir: Path | None = None,
    resume: bool = False,
    checkpoint_every: int | None = None,
    metadata: dict | None = None,
    dataset_of: Callable[[Any], Any] = lambda s: s.dataset,
    after_restore: Callable[[Any, Any], Any] | None = None,
    log_fields: tuple[str, ...] | None = PPMO_LOG_FIELDS,
    rows_of: Callable[[dict, int, float], list[dict]] = ppmo_rows,
    chunk: int = 50,
    progress: bool = False,
    unit: str = "meta-epoch",
    postfix: Callable[[dict], dict] | None = None,
    on_chunk: Callable[[Any, dict, int], bool | None] | None = None,
    stop_return: float | None = None,
    check: KShotCheck | None = None,
    check_finite: bool = True,
    aot: bool = False,
) -> tuple[Any, dict]:
    """Runs (meta-)epochs [start, epochs) of ``step`` and returns (state, info).

    Single run (``num_seeds`` None): ``state = init(init_key)``; with ``out_dir`` the loop keeps
    ``out_dir/log.csv`` (``log_fields``, rows from ``rows_of(metrics, start, wall_s)``) and
    ``out_dir/checkpoints`` (every ``checkpoint_every`` epochs, at the end and when stopping;
    ``dataset_of(state)`` and ``metadata`` go with the state). ``resume`` restores the newest intact
    checkpoint (``after_restore(restored, fresh)`` may fix it up, e.g. envpool's env carry).
    Several seeds (``num_seeds`` S): S states from ``split(init_key, S)``, the step vmapped over
    them (``sequential_seeds``: one seed after the other, for a step that is itself sharded); with
    a ``mesh`` the seeds are sharded over its devices. Metrics then carry a leading seed axis.

    Stopping: ``stop_return`` (a chunk's mean training return reaches it), ``check`` (periodic
    k-shot check, see :class:`KShotCheck`), or ``on_chunk(state, metrics, epoch)`` returning True.
    ``check_finite``: after each chunk the dataset (single runs) must be finite, else
    :class:`NonFiniteError` is raised after logging the chunk and before any checkpoint of it.
    ``aot``: compile every chunk size before the loop, so ``info["compile_s"]`` is compilation alone
    and ``info["train_s"]`` running alone (else compilation is in the first chunk's time).

    info: start, epochs (done), compile_s, train_s (= wall_s: this call's), total_wall_s (with the
    training time of the calls before a resume, as log.csv's ``wall_s`` column), stopped_early, best
    (a :class:`Best` when ``check`` is given).
    """
    multi = num_seeds is not None
    if multi and (resume or out_dir is not None and checkpoint_every):
        raise ValueError("multi-seed runs keep no checkpoints (resume is per single run)")
    if check is not None and check.every < 1:
        raise ValueError(f"check.every must be >= 1 (got {check.every})")
    main = is_main_process()  # multi-host: only process 0 writes the log (orbax coordinates saves)
    ckpt_dir = Path(out_dir) / "checkpoints" if out_dir is not None and not multi else None  # multi: log only
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)

    # --- state, keys, chunk function --------------------------------------------------------
    if multi:
        state = init_seeds(init, jax.random.split(init_key, num_seeds))
        seed_epoch_keys = jax.random.split(epoch_key, num_seeds)
        keys_of = jax.jit(jax.vmap(epoch_keys, in_axes=(0, None, None)), static_argnums=(1, 2))
        if sequential_seeds:
            one = make_chunk(step)

            def chunk_fn(states, keys):
                outs = [one(jax.tree.map(lambda x: x[i], states), keys[i]) for i in range(num_seeds)]
                return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)
        else:
            chunk_fn = make_seed_chunk(step)
            if mesh is not None:  # seeds sharded over the devices, per-epoch metrics replicated
                check_divisible(num_seeds, mesh, "seeds")
                state = jax.device_put(state, batch_sharding(mesh))
                seed_epoch_keys = jax.device_put(seed_epoch_keys, batch_sharding(mesh))
                chunk_fn = jax.jit(chunk_fn, out_shardings=(batch_sharding(mesh), replicated(mesh)))

        def keys_for(start, n):
            return keys_of(seed_epoch_keys, start, n)
    else:
        state = init(init_key)
        chunk_fn = make_chunk(step)

        def keys_for(start, n):
            return epoch_keys(epoch_key, start, n)

    start, best = 0, None
    if resume and ckpt_dir is not None:
        if checkpoint.latest_step(ckpt_dir) is not None:
            restored_state, meta = checkpoint.restore(ckpt_dir, checkpoint.abstract_like(state))
            state = restored_state if after_restore is None else after_restore(restored_state, state)
            start = int(state.meta_epoch)
            if meta.get("best"):  # kept even when this call runs no check (it then has nothing to beat)
                ds, ds_meta = checkpoint.load_dataset(ckpt_dir, step=start)
                like = dataset_of(state)
                if isinstance(like, dict):  # a method's own item (e.g. MuJoCo: θ + normaliser), as saved
                    saved = {"x": ds.x, "y": ds.y, "inner_lr": ds.inner_lr, "encoder": ds.encoder,
                             "log_std": ds.log_std, **ds_meta.get("extra", {})}
                    ds = {k: saved[k] for k in like}
                ds = jax.tree.map(jnp.asarray, ds)
                # with a check: re-scored by THIS check (the saved score may come from another one, e.g.
                # fewer learners, and later checks must be compared on the same scale); without one the
                # saved score stands, as nothing will be compared with it
                kept = meta["best"]
                mean, std = (check.score(ds) if check is not None
                             else (kept["kshot_mean"], kept.get("kshot_std", float("nan"))))
                best = Best(int(kept["meta_epoch"]), float(mean), float(std), ds)

    log = CSVLog(Path(out_dir) / "log.csv", log_fields) if (out_dir is not None and log_fields and main) else None
    wall_before = 0.0  # training wall seconds of the calls before this resume (log.csv's wall_s goes on from it)
    if log is not None:
        last = log.truncate_after(log_fields[0], start)
        if last is not None and last.get("wall_s") not in (None, "", "nan"):
            wall_before = float(last["wall_s"])

    def save(epoch: int) -> None:
        if ckpt_dir is None:
            return
        meta = dict(metadata or {})
        ds = dataset_of(state)
        if best is not None:
            meta["best"] = {"meta_epoch": best.meta_epoch, "kshot_mean": best.mean, "kshot_std": best.std}
            ds = best.dataset
        checkpoint.save(ckpt_dir, epoch, state, ds, meta)

    # --- the chunk plan: boundaries at every check -------------------------------------------
    size = chunk if check is None else math.gcd(chunk, check.every)
    plan = chunk_plan(epochs - start, size)
    t0, compiled = time.time(), {}
    if aot and hasattr(chunk_fn, "lower"):  # (sequential seeds compile in their first chunk)
        compiled = {n: chunk_fn.lower(state, keys_for(start, n)).compile() for n in set(plan)}
    compile_s = time.time() - t0

    bar = tqdm(total=epochs, initial=start, disable=not (progress and main), unit=unit, dynamic_ncols=True)
    t0 = time.time()
    epoch, last_saved, stopped = start, start, False
    for n in plan:
        state, metrics = compiled.get(n, chunk_fn)(state, keys_for(epoch, n))
        metrics = jax.device_get(metrics)
        wall = wall_before + time.time() - t0
        rows = rows_of(metrics, epoch, wall) if log is not None else []
        epoch += n
        bad = _finite(dataset_of(state)) if (check_finite and not multi) else []
        if check is not None and not bad and (epoch % check.every == 0 or epoch == epochs):
            mean, std = check.score(dataset_of(state))
            if rows:
                rows[-1].update(kshot_mean=mean, kshot_std=std)
            if best is None or mean > best.mean:
                best = Best(epoch, mean, std, jax.tree.map(jnp.copy, dataset_of(state)))
            stopped = check.target is not None and mean >= check.target
        if log is not None:
            log.write(rows)
        if bad:
            bar.close()
            newest = checkpoint.latest_step(ckpt_dir) if ckpt_dir is not None else None
            raise NonFiniteError(
                f"{unit} {epoch - n + 1}..{epoch}: the dataset became non-finite ({', '.join(bad)} hold NaN/inf); "
                + (f"the newest checkpoint (step {newest}) is the last finite state" if newest is not None
                   else "no checkpoint was written") + "; try a smaller --lr or --max-grad-norm")
        shown = mean_return(metrics)
        bar.set_postfix(**(postfix or default_postfix)(metrics))
        bar.update(n)
        if on_chunk is not None and on_chunk(state, metrics, epoch):
            stopped = True
        stopped = stopped or (stop_return is not None and shown >= stop_return)
        if ckpt_dir is not None and (checkpoint_every and epoch // checkpoint_every > last_saved // checkpoint_every
                                     or epoch == epochs or stopped):
            save(epoch)
            last_saved = epoch
        if stopped:
            break
    jax.block_until_ready(state)
    train_s = time.time() - t0
    bar.close()
    if ckpt_dir is not None and epoch == start and checkpoint.latest_step(ckpt_dir) is None:
        save(epoch)
    return state, {"start": start, "epochs": epoch, "compile_s": compile_s, "train_s": train_s, "wall_s": train_s,
                   "total_wall_s": wall_before + train_s,
                   "stopped_early": epoch < epochs, "best": best}
