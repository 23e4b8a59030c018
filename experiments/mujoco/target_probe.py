"""Which part of a distilled MuJoCo set carries its score? Score the set as it is and with one part replaced.

Variants (each scored by the same fresh learners on the same start states as ``--eval``: one SGD step,
one episode each, raw returns, the dataset's stored normaliser):

    as is            the dataset
    Y := col. mean   every row's action-mean target replaced by the mean over rows (a state-blind target)
    Y rows permuted  the targets shuffled across rows (column statistics kept, the X -> Y pairing lost)
    Y redrawn        fresh N(0, rms(Y)^2) targets (only the scale kept)
    X redrawn        fresh N(0, 1) states (the targets kept)
    log-std 0        the log-std target set to 0 (the learner's sigma after the step = 1)
    Y shrunk ×a      (``--shrink a ...``) each row's target moved toward the column mean:
                     mean + a·(Y_i − mean); a = 0 is "Y := col. mean", a = 1 the dataset
    η ×b             (``--eta b ...``) the inner step's learning rate scaled by b (the whole step, the
                     log-std's part included, is b times as long)
    log-std +d       (``--log-std-shift d ...``) the log-std target shifted by d (d < 0: less noise in
                     sampled actions)

``--no-controls`` scores only "as is" and the scaled variants.

A one-step learner's action mean is (to first order) the head bias η·2/D·mean_i Y_i plus a
state-dependent sum over rows of random-feature similarities to X_i times Y_i, so "Y := col. mean"
keeps the bias and removes what the rows say differently. ``--write DIR`` saves every variant as an
npz (with the normaliser) that ``--eval V.npz --env <task> --backend envpool`` scores and
``--init-dataset`` continues.

    python experiments/mujoco/target_probe.py experiments/mujoco/table3/humanoidstandup_ppmo_scale1 --learners 64
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax.checkpoint import write_npz
from rlsl_jax.rl.normalize import rms_to_arrays
from rlsl_jax.tasks import mujoco as M


def variants(ds, seed: int, shrink: tuple[float, ...] = (), eta: tuple[float, ...] = (),
             log_std_shift: tuple[float, ...] = (), controls: bool = True) -> dict:
    """name -> Dataset: the probe's replacements of one part of ``ds`` (keys from ``seed``); without
    ``controls`` only "as is" and the ``shrink``/``eta``/``log_std_shift`` variants."""
    k_perm, k_y, k_x = jax.random.split(jax.random.key(seed), 3)
    y_rms = jnp.sqrt(jnp.mean(ds.y ** 2))
    mean = ds.y.mean(0)
    scaled = {**{f"Y shrunk ×{a:g}": ds.replace(y=mean + a * (ds.y - mean)) for a in shrink},
              **{f"η ×{b:g}": ds.replace(inner_lr=ds.inner_lr * b) for b in eta},
              **{f"log-std {d:+g}": ds.replace(log_std=ds.log_std + d) for d in log_std_shift}}
    if not controls:
        return {"as is": ds, **scaled}
    return {
        "as is": ds,
        "Y := col. mean": ds.replace(y=jnp.broadcast_to(ds.y.mean(0), ds.y.shape)),
        "Y rows permuted": ds.replace(y=ds.y[jax.random.permutation(k_perm, ds.y.shape[0])]),
        "Y redrawn": ds.replace(y=y_rms * jax.random.normal(k_y, ds.y.shape)),
        "X redrawn": ds.replace(x=jax.random.normal(k_x, ds.x.shape)),
        "log-std 0": ds.replace(log_std=jnp.zeros_like(ds.log_std)),
        **scaled,
    }


def file_name(variant: str) -> str:
    """The npz name ``--write`` gives a variant: "Y := col. mean" -> Y_col_mean.npz, "Y shrunk ×0.5" -> Y_shrunk_0.5.npz,
    "η ×2" -> eta_2.npz."""
    return variant.replace("η", "eta").replace(" := ", "_").replace("col. ", "col_").replace(" ×", "_").replace(" ", "_") + ".npz"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="run folder, checkpoint folder or npz of a MuJoCo PPMO dataset")
    p.add_argument("--env", default=None, help="task (default: the one the dataset records)")
    p.add_argument("--backend", default="envpool", help="backend when --env is given (default: envpool)")
    p.add_argument("--learners", type=int, default=64, help="fresh learners per variant (default: 64)")
    p.add_argument("--seed", type=int, default=0, help="as --eval's --seed (default: 0); also draws the variants")
    p.add_argument("--greedy", action="store_true", help="mean actions (default: sampled)")
    p.add_argument("--shrink", type=float, nargs="+", default=[], metavar="A",
                   help="also score the targets moved toward their column mean by these factors (default: none)")
    p.add_argument("--eta", type=float, nargs="+", default=[], metavar="B",
                   help="also score the set with its inner learning rate η scaled by these factors (default: none)")
    p.add_argument("--log-std-shift", type=float, nargs="+", default=[], metavar="D",
                   help="also score the set with its log-std target shifted by these amounts (default: none)")
    p.add_argument("--no-controls", action="store_true",
                   help="skip the fixed replacements (col. mean, permuted, redrawn, X redrawn, log-std 0)")
    p.add_argument("--write", type=Path, default=None, help="folder to write each variant's npz and probe.json into "
                                                              "(refused if it exists)")
    args = p.parse_args(argv)
    if args.learners < 1:
        p.error(f"--learners must be >= 1 (got {args.learners})")
    if args.write is not None and args.write.exists():
        p.error(f"--write {args.write} exists; choose another folder")
    try:
        s = M.load_scored(args.dataset, args.learners, args.seed, args.env, args.backend)
    except (ValueError, OSError) as e:
        p.error(str(e))
    rows = []
    if args.write is not None:
        args.write.mkdir(parents=True)
    print(f"{s.env} ({s.backend}), {args.learners} fresh learners, {'mean' if args.greedy else 'sampled'} actions, "
          f"normaliser: {'stored' if s.obs_rms is not None else 'none (raw)'}\n")
    print("| variant | return |\n|---|---|")
    for name, ds in variants(s.ds, args.seed, tuple(args.shrink), tuple(args.eta), tuple(args.log_std_shift),
                             controls=not args.no_controls).items():
        r = M.kshot(ds, s.obs_rms, args.learners, seed=args.seed, backend=s.backend, env=s.env,
                    brax_backend=s.brax_backend, episode_length=s.episode_length, greedy=args.greedy)
        rows.append({"variant": name, "mean": r["mean"], "std": r["std"], "n": r["n"]})
        print(f"| {name} | {r['mean']:.1f} ± {r['std']:.1f} |", flush=True)
        if args.write is not None:
            extra = {"extra": rms_to_arrays(s.obs_rms)} if s.obs_rms is not None else {}
            write_npz(ds, extra, args.write / file_name(name))
    if args.write is not None:
        (args.write / "probe.json").write_text(json.dumps(
            {"dataset": str(args.dataset), "env": s.env, "learners": args.learners, "seed": args.seed,
             "greedy": args.greedy, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
