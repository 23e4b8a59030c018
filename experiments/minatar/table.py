"""The MinAtar results table from the summary.json files of experiments/minatar/run_all.sh.

    python experiments/minatar/table.py runs/minatar        # prints markdown
    python experiments/minatar/table.py runs/minatar --out experiments/minatar/table.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rlsl_jax.paper import HADES_MINATAR, kmin_for
from rlsl_jax.report import markdown_table

GAMES = ("Breakout", "SpaceInvaders", "Asterix", "Freeway")
ROWS = (("ppo", "direct PPO"), ("k16", "PPMO l=0, k=16"), ("kmin", "PPMO l=0, k=k_min"), ("l2", "PPMO l=2, k=16"))


def cell(s: dict | None) -> str:
    if s is None or "sampled" not in s:
        return "not run"
    return (f"{s['sampled']['mean']:.1f} ± {s['sampled']['std']:.1f} / {s['greedy']['mean']:.1f} ± "
            f"{s['greedy']['std']:.1f}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", type=Path)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    runs = {(g, r): json.loads((args.root / f"{g}_{r}" / "summary.json").read_text())
            for g in GAMES for r, _ in ROWS if (args.root / f"{g}_{r}" / "summary.json").exists()}
    scores = [[g, *(cell(runs.get((g, r))) for r, _ in ROWS), f"{HADES_MINATAR[g]:g}"] for g in GAMES]
    budget = []
    for (g, r), s in runs.items():
        k = s["k"] if s["method"] == "ppmo" else "–"
        budget.append([g, dict(ROWS)[r], k, s["meta_epochs"], s["env_steps"], f"{s['train_wall_s'] / 60:.1f}",
                       s.get("inner_lr", "–") if s["method"] == "ppo" else f"{s['inner_lr']:.3g}",
                       s["sampled"]["n"] if "sampled" in s else "–"])
    text = ("Score: mean ± std of the per-learner return, sampled / greedy actions (PPO: episodes of the trained "
            f"agent); k_min = ceil(c/2)+1 = {', '.join(f'{g} {kmin_for(a)}' for g, a in zip(GAMES, (3, 4, 5, 3)))}\n\n"
            + markdown_table(["game", *(label for _, label in ROWS), "HaDES (k=16)"], scores) + "\n\n"
            + markdown_table(["game", "run", "k", "meta-epochs", "env steps", "train min", "η", "learners"], budget)
            + "\n")
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
