"""Polyak-average the datasets a MuJoCo PPMO run was TRAINING at several checkpoints into one npz.

A checkpoint's ``dataset`` item is the best-checked dataset; this reads the training state's θ
(X, Y, η, log-std target) and observation normaliser instead, from each checkpoint step folder, and
averages them element-wise. Only meaningful within one lineage (one run, or runs started from the
same dataset with ``--init-dataset``), where row i of X and Y is the same synthetic state throughout.
The result is scored like any dataset:

    python experiments/mujoco/average_datasets.py runs/humanoid_p8w/checkpoints/{500,550,600} --out /tmp/avg.npz
    python -m rlsl_jax.experiments.mujoco --eval /tmp/avg.npz --env humanoid --backend envpool --eval-learners 64
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import orbax.checkpoint as ocp

from rlsl_jax.checkpoint import write_npz
from rlsl_jax.distill import Dataset

FIELDS = ("x", "y", "inner_lr", "log_std")
RMS = {"obs_mean": "mean", "obs_var": "var", "obs_count": "count"}


def training_dataset(step_dir: Path) -> dict:
    """θ and the observation statistics of the training state saved in ``step_dir``."""
    state = ocp.PyTreeCheckpointer().restore(str(step_dir.resolve() / "state"))
    rms = state["carry"]["env_state"]["obs_rms"]
    return {**{f: np.asarray(state["dataset"][f]) for f in FIELDS}, **{k: np.asarray(rms[v]) for k, v in RMS.items()}}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("steps", nargs="+", type=Path, help="checkpoint step folders (<run>/checkpoints/<meta-epoch>)")
    p.add_argument("--out", type=Path, required=True, help="npz to write (refused if it exists)")
    args = p.parse_args(argv)
    if args.out.exists():
        p.error(f"--out {args.out} exists; choose another path")
    missing = [str(s) for s in args.steps if not (s / "state").is_dir()]
    if missing:
        p.error(f"not a checkpoint step folder (no state/): {', '.join(missing)}")
    sets = [training_dataset(s) for s in args.steps]
    shapes = {tuple(d["x"].shape) for d in sets} | {tuple(d["y"].shape) for d in sets}
    if len(shapes) != 2:
        p.error("the checkpoints hold datasets of different shapes: not one lineage")
    avg = {k: np.mean([d[k] for d in sets], axis=0).astype(np.float32) for k in sets[0]}
    write_npz(Dataset(**{f: avg[f] for f in FIELDS}), {"extra": {k: avg[k] for k in RMS}}, args.out)
    ref = sets[0]
    for s, d in zip(args.steps[1:], sets[1:]):
        print(f"{s}: |ΔX|/|X| {np.linalg.norm(d['x'] - ref['x']) / np.linalg.norm(ref['x']):.4f}, "
              f"|ΔY|/|Y| {np.linalg.norm(d['y'] - ref['y']) / np.linalg.norm(ref['y']):.4f} vs {args.steps[0]}")
    print(f"wrote {args.out}: the mean of {len(sets)} training datasets")


if __name__ == "__main__":
    main()
