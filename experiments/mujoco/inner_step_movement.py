"""How far ONE inner SGD step moves each layer of fresh MuJoCo learners, per distilled dataset.

For every dataset given, ``--learners`` fresh learners (the MuJoCo learner: tanh 64-64, orthogonal
√2 hidden layers, 0.01 head) take the one SGD step on it; the table gives, per layer, the mean over
learners of ‖W' − W‖ / ‖W‖ (weights only). A head that moves by orders of magnitude more than the
hidden layers means the trained learner is, to first order, its random initial features (the second
hidden layer's 64 tanh units) read out by a head fitted to the dataset in one step:

    python experiments/mujoco/inner_step_movement.py experiments/mujoco/table3/*_ppmo/dataset.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp

from rlsl_jax.checkpoint import load_dataset
from rlsl_jax.distill import inner_step
from rlsl_jax.networks.gaussian import mujoco_learner


def layer_movement(path: Path, learners: int, seed: int) -> tuple[float, list[float]]:
    """(η, per-layer mean relative weight change) of ``learners`` fresh learners on the dataset at ``path``."""
    ds, _ = load_dataset(str(path))
    learner = mujoco_learner(obs_dim=ds.x.shape[-1], act_dim=ds.y.shape[-1])
    params = learner.sample(jax.random.key(seed), learners)
    stepped = jax.vmap(lambda p: inner_step(learner.apply, p, ds))(params)
    rel = [jnp.mean(jnp.linalg.norm((b["w"] - a["w"]).reshape(learners, -1), axis=-1)
                    / jnp.linalg.norm(a["w"].reshape(learners, -1), axis=-1))
           for a, b in zip(params["mlp"], stepped["mlp"])]
    return float(ds.inner_lr), [float(r) for r in rel]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("datasets", nargs="+", type=Path, help="distilled MuJoCo datasets (npz)")
    p.add_argument("--learners", type=int, default=16, help="fresh learners per dataset (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of the learners' initialisation (default 0)")
    args = p.parse_args(argv)
    missing = [str(d) for d in args.datasets if not d.is_file()]
    if missing:
        raise SystemExit(f"error: no such dataset: {', '.join(missing)} (give npz files written by a PPMO run)")
    print("| dataset | η | hidden 1 | hidden 2 | head |\n|---|---|---|---|---|")
    for path in args.datasets:
        eta, rel = layer_movement(path, args.learners, args.seed)
        print(f"| {path.parent.name or path.name} | {eta:.2f} | " + " | ".join(f"{r:.4g}" for r in rel) + " |")


if __name__ == "__main__":
    main()
