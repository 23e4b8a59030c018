"""The Table-3 comparison from the runs of experiments/mujoco/table3.sh: per task the paper's RL
and full-distillation columns beside our direct PPO (episodes of the trained agent) and our PPMO
dataset (fresh learners, one SGD step and one 1000-step episode each), sampled / mean actions; a PPO
run with --anneal-steps is marked "(rates annealed)"; where untrained.py has scored a PPMO row's learners
before their SGD step, the verdict adds the share of the gap from them to our PPO that the row closes. A PPMO
row started from another run's dataset (--init-dataset) counts that run's env steps and time too.

    python experiments/mujoco/table3.py runs/table3                       # prints markdown
    python experiments/mujoco/table3.py runs/table3 --copy experiments/mujoco/table3
      (--copy: also copies each run's dataset.npz, log.csv, learning_curve.png, summary.json,
       run.json and eval files there, and writes the table to DEST/table.md)
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from rlsl_jax.paper import TABLE3, TABLE3_RL
from rlsl_jax.report import gap_closed, markdown_table
from rlsl_jax.tasks.mujoco import ENVS

FILES = ("dataset.npz", "log.csv", "learning_curve.png", "summary.json", "run.json", "eval_sampled/eval.json",
         "eval_mean/eval.json", "eval_untrained/eval.json")


def load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def ms(r: dict | None) -> str:
    return "—" if r is None else f"{r['mean']:.1f} ± {r['std']:.1f}"


def stages(run: Path) -> list[dict]:
    """The summaries of a run and of the runs it started from (run.json ``init_dataset``, a path from the
    repository root: ``--init-dataset``), newest first; [] if the run has no summary."""
    out, seen = [], set()
    while run is not None and run.resolve() not in seen and (s := load(run / "summary.json")) is not None:
        seen.add(run.resolve())
        out.append(s)
        src = ((load(run / "run.json") or {}).get("mujoco") or {}).get("init_dataset")
        run = None if src is None else (Path(src) if Path(src).is_dir() else Path(src).parent)
    return out


def row(root: Path, task: str) -> list | None:
    ppo, ppmo = load(root / f"{task}_ppo" / "summary.json"), stages(root / f"{task}_ppmo") or None
    if ppo is None and ppmo is None:
        return None
    sampled, mean, untrained = (load(root / f"{task}_ppmo" / d / "eval.json")
                                for d in ("eval_sampled", "eval_mean", "eval_untrained"))
    paper_d, paper_rl = TABLE3[task][0], TABLE3_RL[task][0]
    ours_ppo = None if ppo is None or "eval" not in ppo else ppo["eval"]["mean"]
    verdict = []
    if sampled is not None:
        d = sampled["mean"]
        verdict.append(f"{'≥' if d >= paper_d else '<'} paper distil.")
        verdict.append(f"{'≥' if d >= paper_rl else '<'} paper RL")
        if ours_ppo is not None:
            verdict.append(f"{100 * d / ours_ppo:.0f} % of our PPO" if ours_ppo > 0 else f"our PPO {ours_ppo:.1f}")
            if untrained is not None and (g := gap_closed(d, ours_ppo, untrained["mean"])) is not None:
                verdict[-1] += f" ({100 * g:.0f} % of the gap from untrained learners)"

    def steps(s):  # a PPMO row: the sum over its stages
        if s is None:
            return "—"
        return f"{sum(x['meta_epochs'] * x['num_envs'] * x['rollout_steps'] * x['population'] for x in s) / 1e6:.2f} M"

    def wall(s):
        return "—" if s is None else f"{sum(x['train_wall_s'] for x in s) / 60:.1f}"

    annealed = (((load(root / f"{task}_ppo" / "run.json") or {}).get("mujoco") or {}).get("anneal_steps") or 0) > 0
    return [task, f"{TABLE3_RL[task][0]:g} ± {TABLE3_RL[task][1]:g}", f"{paper_d:g} ± {TABLE3[task][1]:g}",
            f"{ms(ppo and ppo.get('eval'))} / {ms(ppo and ppo.get('eval_mean'))}" + (" (rates annealed)" if annealed else ""),
            f"{ms(sampled)} / {ms(mean)}",
            "; ".join(verdict) or "—", f"{steps(ppo and [ppo])} / {steps(ppmo)}", f"{wall(ppo and [ppo])} / {wall(ppmo)}"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", type=Path, help="OUT_ROOT of table3.sh")
    p.add_argument("--copy", type=Path, default=None, metavar="DEST", help="copy the artefacts and table there")
    args = p.parse_args(argv)
    rows = [r for r in (row(args.root, t) for t in ENVS) if r is not None]
    table = markdown_table(["task", "paper RL", "paper full distillation", "our PPO: sampled / mean actions",
                            "our PPMO k=64: sampled / mean actions", "verdict (sampled)", "env steps PPO / PPMO",
                            "train min PPO / PPMO"], rows)
    print(table)
    if args.copy:
        for run in sorted(d for d in args.root.iterdir() if d.is_dir()):
            for f in FILES:
                if (run / f).exists():
                    (args.copy / run.name / f).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(run / f, args.copy / run.name / f)
        (args.copy / "table.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
