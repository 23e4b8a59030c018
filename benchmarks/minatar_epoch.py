"""Seconds per MinAtar meta-epoch: PPMO (l = 0 by default, k = 16) and direct PPO (one PPO epoch:
the same env steps) per game, at the minatar CLI's preset (``rlsl_jax.tasks.minatar.PRESETS``).

Each row: ``--epochs`` (meta-)epochs in ONE jitted ``lax.scan`` (``distill.ppmo.make_chunk``),
compiled and run once first, then timed ``--repeats`` times; wall time is the best repeat, CPU time
(``time.process_time``, all threads of this process) that repeat's. On a shared, loaded machine the
wall time includes waiting for the cores; CPU time does not. ``env_steps/s`` is the wall figure.

    python benchmarks/minatar_epoch.py                                  # four games, PPMO l=0 + PPO
    python benchmarks/minatar_epoch.py --games Breakout --layers 0,2 --epochs 5
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax


def time_chunk(step, init, epochs: int, repeats: int) -> tuple[float, float, float]:
    """(compile+first run s, best wall s, CPU s of that repeat) per ``epochs`` (meta-)epochs."""
    from rlsl_jax.distill.ppmo import make_chunk
    from rlsl_jax.rl.update import epoch_keys

    chunk = make_chunk(step)
    state = init(jax.random.key(0))
    keys = epoch_keys(jax.random.key(1), 0, epochs)
    t0 = time.perf_counter()
    state, _ = jax.block_until_ready(chunk(state, keys))
    first = time.perf_counter() - t0
    best = (float("inf"), float("inf"))
    for r in range(repeats):
        keys = epoch_keys(jax.random.key(1), (r + 1) * epochs, epochs)
        t0, c0 = time.perf_counter(), time.process_time()
        state, _ = jax.block_until_ready(chunk(state, keys))
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return first, *best


def main(argv=None) -> None:
    from rlsl_jax.tasks import minatar as tasks

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--games", default=",".join(tasks.GAMES), help="comma-separated MinAtar games")
    p.add_argument("--layers", default="0", help="comma-separated PPMO rollback layers")
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--preset", default=tasks.DEFAULT_PRESET, choices=sorted(tasks.PRESETS))
    p.add_argument("--epochs", type=int, default=5, help="(meta-)epochs per timed chunk")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--no-ppo", action="store_true", help="skip the direct-PPO rows")
    p.add_argument("--out", type=Path, default=None, help="also write the markdown table here")
    args = p.parse_args(argv)
    import dataclasses

    cfg = dataclasses.replace(tasks.PRESETS[args.preset], k=args.k)
    steps = tasks.env_steps_per_epoch(cfg)
    lines = [f"backend {jax.default_backend()}, preset {args.preset}: {cfg.num_envs} envs x {cfg.rollout_steps} "
             f"steps = {steps} env steps per (meta-)epoch, {cfg.update_epochs} epochs x {cfg.num_minibatches} "
             f"minibatches; best of {args.repeats} chunks of {args.epochs}", "",
             "| game | method | compile+first chunk s | s/meta-epoch (wall) | CPU s/meta-epoch | env steps/s |",
             "|---|---|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    for game in args.games.split(","):
        runs = [(f"PPMO l={l} k={cfg.k}", tasks.make_task(game, int(l)), "ppmo") for l in args.layers.split(",")]
        if not args.no_ppo:
            runs.append(("PPO", tasks.make_task(game), "ppo"))
        for label, task, method in runs:
            init, step, _ = tasks.make_step(task, cfg, method)
            first, wall, cpu = time_chunk(step, init, args.epochs, args.repeats)
            line = (f"| {task.game} | {label} | {first:.1f} | {wall / args.epochs:.3f} | {cpu / args.epochs:.3f} | "
                    f"{steps * args.epochs / wall:.0f} |")
            lines.append(line)
            print(line, flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
