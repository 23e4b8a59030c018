"""Is a distilled MuJoCo set's spread across fresh learners a property of the learner or of the
episode? Trains L fresh learners by one SGD step on the dataset (as ``--eval`` does) and plays E
episodes with EACH of them (different start states), then prints per learner its mean return and
the share of episodes that reached ``--full`` (default: 9000, a full InvertedDoublePendulum episode).

    python experiments/mujoco/per_learner.py experiments/mujoco/table3/inverted_double_pendulum_ppmo_scale1 \
        --learners 8 --episodes 32 [--sampled]
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

from rlsl_jax.evaluate import evaluate_batched, trained_learners
from rlsl_jax.networks.gaussian import mujoco_learner
from rlsl_jax.report import markdown_table
from rlsl_jax.tasks import mujoco as tm


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="run folder, checkpoint folder or dataset.npz of a MuJoCo PPMO run")
    p.add_argument("--learners", type=int, default=8, help="fresh learners (default: %(default)s)")
    p.add_argument("--episodes", type=int, default=32, help="episodes per learner (default: %(default)s)")
    p.add_argument("--full", type=float, default=9000.0, help="return counted as a full episode (default: %(default)s)")
    p.add_argument("--sampled", action="store_true", help="sample actions (default: the means)")
    p.add_argument("--seed", type=int, default=123, help="learners' key (default: %(default)s)")
    args = p.parse_args(argv)
    if min(args.learners, args.episodes) < 1:
        p.error("--learners and --episodes must be >= 1")
    try:
        s = tm.load_scored(args.dataset, args.episodes, 0)
    except (ValueError, FileNotFoundError) as e:
        p.error(str(e))
    learner = mujoco_learner(s.ds.x.shape[1], s.ds.y.shape[1])
    phi = trained_learners(jax.random.key(args.seed), s.ds, learner, None, args.learners)
    rows = []
    for i in range(args.learners):
        r = evaluate_batched(jax.random.key(i), None, s.benv, learner, args.episodes, max_steps=s.episode_length,
                             greedy=not args.sampled, obs_rms=s.obs_rms, actor=jax.tree.map(lambda a: a[i], phi))
        ret = np.asarray(r["returns"])
        rows.append([i, f"{ret.mean():.1f} ± {ret.std():.1f}", f"{100 * np.mean(ret >= args.full):.0f} %"])
    print(markdown_table(["learner", f"return over {args.episodes} episodes", f"episodes ≥ {args.full:g}"], rows))


if __name__ == "__main__":
    main()
