"""Seconds per MuJoCo-v4 meta-epoch through envpool: PPMO full distillation (k = 64) vs direct PPO
(one PPO epoch on the same env steps) per task, at the mujoco CLI's preset
(``rlsl_jax.tasks.mujoco.PRESETS``; observation normalisation and reward scaling on, as the CLI).

Each row: ``--epochs`` (meta-)epochs in ONE jitted ``lax.scan`` (``distill.ppmo.make_chunk``),
compiled and run once first, then timed ``--repeats`` times (``minatar_epoch.time_chunk``); wall time
is the best repeat, CPU time (all threads of this process) that repeat's. The PPMO/PPO ratio is of
wall times measured in this one run. On a shared, loaded machine wall time includes waiting for the
cores; CPU time does not.

    python benchmarks/mujoco_epoch.py                               # all eight tasks
    python benchmarks/mujoco_epoch.py --tasks hopper,ant --epochs 10 --out /tmp/mj.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax

from minatar_epoch import time_chunk  # benchmarks/minatar_epoch.py: compile, then best of repeats


def main(argv=None) -> None:
    from rlsl_jax.tasks import mujoco as M

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default=",".join(M.ENVS), help="comma-separated tasks (default: all eight)")
    p.add_argument("--preset", default=M.DEFAULT_PRESET, choices=sorted(M.PRESETS))
    p.add_argument("--epochs", type=int, default=5, help="(meta-)epochs per timed chunk")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", type=Path, default=None, help="also write the markdown table here")
    args = p.parse_args(argv)
    cfg = M.PRESETS[args.preset]
    steps = cfg.num_envs * cfg.rollout_steps
    lines = [f"backend {jax.default_backend()}, envpool MuJoCo-v4, preset {args.preset}: k {cfg.k}, {cfg.num_envs} "
             f"envs x {cfg.rollout_steps} steps = {steps} env steps per (meta-)epoch, {cfg.update_epochs} epochs x "
             f"minibatches of {cfg.minibatch_size}; best of {args.repeats} chunks of {args.epochs}", "",
             "| task | PPMO s/meta-epoch | PPO s/epoch | PPMO / PPO | PPMO CPU s | PPO CPU s | PPMO env steps/s | "
             "compile+first s (PPMO, PPO) |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    print("\n".join(lines), flush=True)
    for task in args.tasks.split(","):
        task = M.check_env_name(task)
        t = {}
        for method in ("ppmo", "ppo"):
            mj = {"env": task, "backend": "envpool", "brax_backend": None, "method": method,
                  "episode_length": M.EPISODE_LENGTH, "norm_obs": True, "scale_reward": True}
            r = M.make_run(mj, cfg, seed=0)
            t[method] = time_chunk(r.step, r.init, args.epochs, args.repeats)
        (f1, w1, c1), (f2, w2, c2) = t["ppmo"], t["ppo"]
        n = args.epochs
        line = (f"| {task} | {w1 / n:.3f} | {w2 / n:.3f} | {w1 / w2:.2f} | {c1 / n:.3f} | {c2 / n:.3f} | "
                f"{steps * n / w1:.0f} | {f1:.1f}, {f2:.1f} |")
        lines.append(line)
        print(line, flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
