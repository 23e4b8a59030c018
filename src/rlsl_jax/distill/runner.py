"""The host loop shared by every distillation CLI: jitted chunks of meta-epochs, progress bar,
CSV log, checkpoints every C meta-epochs and at the end, exact resume.

Meta-epoch i always uses the key ``fold_in(epoch_key, i)`` and the whole training state is
checkpointed, so a resumed run reproduces an uninterrupted one with the same seed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np
from tqdm.auto import tqdm

from rlsl_jax import checkpoint
from rlsl_jax.distill.ppmo import epoch_keys, make_chunk
from rlsl_jax.experiments.common import CSVLog
from rlsl_jax.parallel import is_main_process

LOG_FIELDS = ("meta_epoch", "wall_s", "episode_return", "episodes", "last_return", "policy_loss",
              "value_loss", "entropy", "approx_kl", "clip_frac", "inner_lr", "meta_grad_norm")


def seed_keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """(init key, epoch key) of a run."""
    k_init, k_epochs = jax.random.split(jax.random.key(seed))
    return k_init, k_epochs


def run(
    init: Callable[[jax.Array], Any],
    meta_step: Callable,
    *,
    out_dir: Path,
    meta_epochs: int,
    seed: int,
    metadata: dict,
    resume: bool = False,
    chunk: int = 50,
    checkpoint_every: int = 500,
    progress: bool = True,
    dataset_of: Callable[[Any], Any] = lambda s: s.dataset,
    on_chunk: Callable[[Any, dict], None] | None = None,
    stop_return: float | None = None,
    after_restore: Callable[[Any, Any], Any] | None = None,
) -> tuple[Any, dict]:
    """Runs meta-epochs [start, meta_epochs) and returns (final state, {"wall_s", "start"}).

    ``out_dir`` gets ``checkpoints/`` and ``log.csv``. With ``resume`` the newest checkpoint
    in ``out_dir/checkpoints`` is restored (its meta-epoch is the start). With ``stop_return``,
    training stops after the first chunk whose mean training episode return reaches it.
    ``after_restore(restored, fresh) -> state`` (optional) fixes up a restored state, e.g. puts back
    the fresh env carry of ``init`` for envs whose state a checkpoint cannot hold (envpool).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out_dir / "checkpoints"
    k_init, k_epochs = seed_keys(seed)
    state = init(k_init)
    start = 0
    if resume and checkpoint.latest_step(ckpt_dir) is not None:
        restored, _ = checkpoint.restore(ckpt_dir, jax.eval_shape(lambda: state))
        state = restored if after_restore is None else after_restore(restored, state)
        start = int(state.meta_epoch)
    main = is_main_process()  # multi-host: only process 0 writes the log (orbax coordinates saves)
    log = CSVLog(out_dir / "log.csv", LOG_FIELDS) if main else None
    if log is not None:
        log.truncate_after("meta_epoch", start)
    chunk_fn = make_chunk(meta_step)
    t0 = time.time()
    bar = tqdm(total=meta_epochs, initial=start, disable=not (progress and main), unit="meta-epoch", dynamic_ncols=True)
    epoch = start
    last_saved = start
    while epoch < meta_epochs:
        n = min(chunk, meta_epochs - epoch)
        state, metrics = chunk_fn(state, epoch_keys(k_epochs, epoch, n))
        metrics = jax.device_get(metrics)
        wall = time.time() - t0
        rows = [{**{k: float(np.asarray(v)[i]) for k, v in metrics.items()}, "meta_epoch": epoch + i + 1,
                 "wall_s": wall} for i in range(n)]
        if log is not None:
            log.write(rows)
        epoch += n
        rets = np.asarray(metrics["episode_return"])
        shown = float(np.nanmean(rets)) if np.isfinite(rets).any() else float("nan")
        bar.set_postfix(ret=f"{shown:.1f}", lr=f"{float(metrics['inner_lr'][-1]):.3f}")
        bar.update(n)
        if on_chunk is not None:
            on_chunk(state, metrics)
        stop = stop_return is not None and shown >= stop_return
        if epoch // checkpoint_every > last_saved // checkpoint_every or epoch == meta_epochs or stop:
            checkpoint.save(ckpt_dir, epoch, state, dataset_of(state), metadata)
            last_saved = epoch
        if stop:
            break
    bar.close()
    if epoch == start and checkpoint.latest_step(ckpt_dir) is None:
        checkpoint.save(ckpt_dir, epoch, state, dataset_of(state), metadata)
    return state, {"wall_s": time.time() - t0, "start": start, "stopped_early": epoch < meta_epochs}
