"""Is a distilled MuJoCo set bounded by its learners' random features? Average M fresh learners.

One SGD step moves almost only a learner's head (``inner_step_movement.py``), so a trained learner
is its random hidden features read out by a head fitted to the dataset: a kernel smoother whose
kernel is drawn anew with every learner. The mean action of M learners, each trained by its own one
step on the dataset, is the same smoother with M times the features drawn from the SAME distribution
(one block-diagonal MLP of width 64·M): its kernel is closer to the expected one. If the score rises
with M, the learner-to-learner noise is what costs the set its score; if not, the set itself is
the limit. Each of ``--groups`` groups of M learners plays ``--episodes`` episodes (M = 1: single
learners, the Table's learner):

    python experiments/mujoco/learner_average.py experiments/mujoco/table3/inverted_double_pendulum_ppmo_scale1 --m 1,4,16
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax.evaluate import evaluate_batched, trained_learners
from rlsl_jax.networks.gaussian import mujoco_learner
from rlsl_jax.report import markdown_table
from rlsl_jax.tasks import mujoco as tm


def averaged(phi: dict, m: int) -> dict:
    """M stacked trained 64-64 learners -> ONE MLP of width 64·M whose output is their mean action."""
    (l1, l2, l3), hidden = phi["mlp"], phi["mlp"][0]["w"].shape[-1]
    eye = jnp.eye(m, dtype=l2["w"].dtype)
    return {"mlp": [{"w": jnp.moveaxis(l1["w"], 0, 1).reshape(l1["w"].shape[1], m * hidden), "b": l1["b"].reshape(-1)},
                    {"w": jnp.einsum("mij,mn->minj", l2["w"], eye).reshape(m * hidden, m * hidden),
                     "b": l2["b"].reshape(-1)},
                    {"w": l3["w"].reshape(m * hidden, -1) / m, "b": l3["b"].mean(0)}],
            "log_std": phi["log_std"].mean(0)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="run folder, checkpoint folder or dataset.npz of a MuJoCo PPMO run")
    p.add_argument("--m", default="1,4,16", help="learners averaged, comma-separated (default: %(default)s)")
    p.add_argument("--groups", type=int, default=16, help="groups of M fresh learners (default: %(default)s)")
    p.add_argument("--episodes", type=int, default=4, help="episodes per group (default: %(default)s)")
    p.add_argument("--greedy", action="store_true", help="mean actions (default: sampled, the Table's protocol)")
    p.add_argument("--seed", type=int, default=0, help="learners' key (default: %(default)s)")
    args = p.parse_args(argv)
    try:
        ms = [int(m) for m in args.m.split(",")]
    except ValueError:
        p.error(f"--m {args.m!r}: give integers separated by commas, e.g. 1,4,16")
    if min(ms + [args.groups, args.episodes]) < 1:
        p.error("--m, --groups and --episodes must be >= 1")
    try:
        s = tm.load_scored(args.dataset, args.episodes, args.seed)
    except (ValueError, FileNotFoundError) as e:
        p.error(str(e))
    obs_dim, act_dim = s.ds.x.shape[1], s.ds.y.shape[1]
    base = mujoco_learner(obs_dim, act_dim)
    rows = []
    for m in ms:
        wide = mujoco_learner(obs_dim, act_dim, hidden=(64 * m, 64 * m))
        phi = trained_learners(jax.random.key(args.seed), s.ds, base, None, args.groups * m)
        rets = []
        for g in range(args.groups):
            group = averaged(jax.tree.map(lambda a: a[g * m:(g + 1) * m], phi), m)
            r = evaluate_batched(jax.random.key(g), None, s.benv, wide, args.episodes, max_steps=s.episode_length,
                                 greedy=args.greedy, obs_rms=s.obs_rms, actor=group)
            rets.append(np.asarray(r["returns"]))
        ret = np.stack(rets)
        rows.append([m, f"{ret.mean():.1f} ± {ret.std():.1f}", f"{ret.mean(1).std():.1f}"])
    actions = "mean" if args.greedy else "sampled"
    print(f"{s.env} ({s.backend}): {args.groups} groups × {args.episodes} episodes, {actions} actions\n")
    print(markdown_table(["learners averaged (M)", "return", "std of the groups' means"], rows))


if __name__ == "__main__":
    main()
