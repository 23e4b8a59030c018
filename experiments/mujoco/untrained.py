"""What fresh learners score BEFORE their one SGD step, per Table-3 task: the floor against which
"within 80 % of our PPO" can be read as a share of the gap closed (a ratio of raw returns means
nothing where returns are negative, as on Reacher).

For each ``<task>_ppmo`` run under ROOT it scores the run's dataset with its inner learning rate
set to 0 — the same 64 fresh learners (same keys, same envs, same stored normaliser) as
``--eval``, left untrained — writes ``<task>_ppmo/eval_untrained/eval.json`` and prints, per task,
untrained / PPMO / PPO and (PPMO − untrained) / (PPO − untrained). table3.py adds that share to its
verdicts.

    python experiments/mujoco/untrained.py experiments/mujoco/table3 [--learners 64] [--tasks reacher ant]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax.numpy as jnp

from rlsl_jax.report import gap_closed, markdown_table
from rlsl_jax.tasks import mujoco as tm


def mean_of(path: Path) -> float | None:
    """The sampled-action mean of an eval.json, or of a PPO summary.json's "eval"; None if absent."""
    if not path.exists():
        return None
    r = json.loads(path.read_text())
    return r.get("eval", r).get("mean")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", type=Path, help="folder of <task>_ppmo / <task>_ppo runs (table3.sh's OUT_ROOT)")
    p.add_argument("--learners", type=int, default=64, help="fresh learners per task (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="as --eval's --seed (default: %(default)s)")
    p.add_argument("--tasks", nargs="+", default=list(tm.ENVS), choices=tm.ENVS, metavar="TASK",
                   help="tasks to score (default: all eight)")
    args = p.parse_args(argv)
    if args.learners < 1:
        p.error(f"--learners must be >= 1 (got {args.learners})")
    rows = []
    for task in args.tasks:
        run = args.root / f"{task}_ppmo"
        if not (run / "dataset.npz").exists():
            continue
        try:
            s = tm.load_scored(run, args.learners, args.seed)
        except (ValueError, FileNotFoundError) as e:
            p.error(str(e))
        s = s._replace(ds=s.ds.replace(inner_lr=jnp.zeros_like(s.ds.inner_lr)))
        r = tm.score(s, args.learners, seed=args.seed, source=f"{run} at inner lr 0 (untrained)",
                     out=run / "eval_untrained")
        ppmo, ppo = mean_of(run / "eval_sampled" / "eval.json"), mean_of(args.root / f"{task}_ppo" / "summary.json")
        share = None if None in (ppmo, ppo) else gap_closed(ppmo, ppo, r["mean"])
        rows.append([task, f"{r['mean']:.1f} ± {r['std']:.1f}", "—" if ppmo is None else f"{ppmo:.1f}",
                     "—" if ppo is None else f"{ppo:.1f}", "—" if share is None else f"{100 * share:.0f} %"])
    print(markdown_table(["task", f"untrained ({args.learners} learners, sampled)", "PPMO (sampled)", "our PPO",
                          "gap closed: (PPMO − untrained) / (PPO − untrained)"], rows))


if __name__ == "__main__":
    main()
