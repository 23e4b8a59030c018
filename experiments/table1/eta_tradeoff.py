"""Why no single 4-D / 5-D k = N + 1 dataset serves both Λ and Xe std=1: the learned inner rate η.

Scores a saved Table-1 dataset with its η multiplied by each of --scales (X and Y unchanged) on
several learner distributions, so one can read which η each column wants. The factors apply to
the η as TRAINED (a run's dataset.npz whose run.json records a calibration ``eta_scale`` is
first divided by it). Writes nothing unless
--json is given; prints a markdown table (mean over --learners fresh learners, sampled actions).

    python experiments/table1/eta_tradeoff.py experiments/table1/runs/4d_k5_train-mix4w/dataset.npz \
        experiments/convergence/cli_datasets_5e-4/n4_s0.npz --scales 0.25,0.5,1,2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax.numpy as jnp

from rlsl_jax.checkpoint import load_dataset
from rlsl_jax.evaluate import evaluate
from rlsl_jax.networks.distributions import make_learner_dist
from rlsl_jax.paper import table1_cell
from rlsl_jax.studies.kshot import COLUMN_TITLES, dist_key
from rlsl_jax.tasks.cartpole import CARTPOLE_ID, make_task


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("datasets", nargs="+", type=Path, help="dataset npz files (one N each)")
    ap.add_argument("--scales", default="0.25,0.5,1,2", help="factors applied to the dataset's η")
    ap.add_argument("--dists", default="ortho,ortho-std1,xe,xe-std1,random-h", help="learner distributions")
    ap.add_argument("--learners", type=int, default=300, help="fresh learners per cell")
    ap.add_argument("--seed", type=int, default=0, help="learners' seed (the same learners in every row)")
    ap.add_argument("--json", type=Path, help="also write every cell here")
    args = ap.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    dists = args.dists.split(",")
    rows = []
    print("| dataset | η × | η | " + " | ".join(COLUMN_TITLES.get(d, d) for d in dists) + " |")
    print("|---|---|---|" + "---|" * len(dists))
    for path in args.datasets:
        for scale in scales:
            ds, _ = load_dataset(path)
            run_json = path.parent / "run.json"  # a Table-1 run's dataset.npz holds η × its calibration's scale
            if path.name == "dataset.npz" and run_json.exists():
                ds = ds.replace(inner_lr=ds.inner_lr / json.loads(run_json.read_text()).get("eta_scale", 1.0))
            dims = int(ds.x.shape[-1]) // 4  # N-D cart-pole observations have 4 N entries
            task = make_task(CARTPOLE_ID, {"num_dims": dims})
            ds = ds.replace(inner_lr=jnp.asarray(ds.inner_lr) * scale)
            cells = {}
            for d in dists:
                learner = make_learner_dist(d, 4 * dims, 2 * dims)
                cells[d] = evaluate(dist_key(args.seed, d), ds, task.env, task.env_params, learner,
                                    args.learners)["mean"]
            k = int(ds.x.shape[0])
            paper = {d: table1_cell(dims, k, d) for d in dists}
            rows.append({"dataset": str(path), "dims": dims, "k": k, "scale": scale,
                         "inner_lr": float(ds.inner_lr), "means": cells})
            print(f"| {path.parent.name if path.name == 'dataset.npz' else path.stem} ({dims}D {k}-shot) | {scale:g} "
                  f"| {float(ds.inner_lr):.1f} | "
                  + " | ".join(f"{cells[d]:.1f}" + (f" ({paper[d][0]:g})" if paper[d] else "") for d in dists)
                  + " |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
