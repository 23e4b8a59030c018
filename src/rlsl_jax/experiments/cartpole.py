"""Distil N-D cart-pole (or any discrete gymnax env) with PPMO.

    python -m rlsl_jax.experiments.cartpole --dims 1 --k 2 --out runs/cartpole1d

Writes to --out: checkpoints/ (orbax, resumable with --resume), log.csv (one row per
meta-epoch), learning_curve.png, dataset.npz (x, y, inner_lr as the authors' format),
summary.json; prints a final one-line k-shot summary over fresh learners.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rlsl_jax import cli
from rlsl_jax.config import add_config_args, config_from_args, config_from_dict, config_to_dict
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.logs import write_json

POSITIVE = ("k", "population", "num_envs", "rollout_steps", "update_epochs", "minibatch_size", "dims", "chunk",
            "checkpoint_every")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.cartpole", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="NDCartPole-v0", help="env id: NDCartPole-v0 or any discrete gymnax id")
    p.add_argument("--dims", type=int, default=1, help="N, cart-pole dimensions (NDCartPole-v0 only)")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiplies the physics step tau (paper App. B)")
    p.add_argument("--meta-epochs", type=int, default=1000, help="total meta-epochs to run")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed = same run)")
    p.add_argument("--out", type=Path, default=Path("runs/cartpole"), help="output directory")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (uses its saved config)")
    p.add_argument("--chunk", type=int, default=50, help="meta-epochs per jitted chunk (host logs once per chunk)")
    p.add_argument("--checkpoint-every", type=int, default=500, help="save a checkpoint every C meta-epochs")
    p.add_argument("--stop-return", type=float, default=None, help="stop after a chunk whose mean training return "
                   "reaches this (a noisy proxy: prefer --eval-every/--target)")
    p.add_argument("--eval-every", type=int, default=0, help="every M meta-epochs score the dataset with "
                   "--eval-check-learners fresh learners (log.csv kshot_mean); 0 = off")
    p.add_argument("--target", type=float, default=None, help="with --eval-every: stop once that score reaches R")
    p.add_argument("--eval-check-learners", type=int, default=200, help="learners of each periodic check")
    p.add_argument("--eval-learners", type=int, default=1000, help="learners of the final k-shot summary (0 = skip)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_args(p, PPMOConfig)
    cli.add_parallel_args(p)
    cli.add_cache_args(p)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    cli.check_positive(args, POSITIVE)
    if args.meta_epochs < 0 or args.eval_learners < 0 or args.eval_every < 0 or not args.time_scale > 0:
        raise cli.UsageError("--meta-epochs, --eval-learners, --eval-every must be >= 0 and --time-scale > 0")
    mesh = cli.setup_parallel(args, None if args.resume else {"--population": args.population})
    main_process = cli.is_main_process()
    if main_process:
        cli.check_out_dir(args.out, args.resume)
    from rlsl_jax.tasks import cartpole as task_lib

    if args.resume:
        saved = json.loads((args.out / "run.json").read_text())
        cfg, env_id, env_kwargs, seed = (config_from_dict(PPMOConfig, saved["config"]), saved["env_id"],
                                         saved["env_kwargs"], saved["seed"])
        print(f"resuming {args.out}: saved config and seed {seed}; --meta-epochs {args.meta_epochs}", file=sys.stderr)
    else:
        cfg, env_id, seed = config_from_args(PPMOConfig, args), args.env, args.seed
        env_kwargs = task_lib.env_kwargs_for(env_id, args.dims, args.time_scale)
    try:
        task = task_lib.make_task(env_id, env_kwargs)
    except ValueError as e:
        raise cli.UsageError(str(e)) from e
    if mesh is not None and cfg.population % mesh.size:
        raise cli.UsageError(f"the population ({cfg.population}) must be a multiple of the device count ({mesh.size})")
    cli.enable_compile_cache(args)
    if not args.resume and main_process:
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / "run.json", {"env_id": env_id, "env_kwargs": env_kwargs, "seed": seed,
                                           "config": config_to_dict(cfg)})
    check = (task_lib.kshot_check(task, args.eval_every, args.target, args.eval_check_learners, seed)
             if args.eval_every else None)
    state, dataset, info = task_lib.distil(
        task, cfg, seed=seed, meta_epochs=args.meta_epochs, out_dir=args.out, resume=args.resume, chunk=args.chunk,
        checkpoint_every=args.checkpoint_every, progress=not args.no_progress, stop_return=args.stop_return,
        check=check, mesh=mesh)
    summary = {"env_id": env_id, "env_kwargs": env_kwargs, "k": cfg.k, "population": cfg.population,
               "meta_epochs": int(state.meta_epoch), "train_wall_s": round(info["wall_s"], 2)}
    if info["best"] is not None:
        summary["best_check"] = {"meta_epoch": info["best"].meta_epoch, "kshot_mean": info["best"].mean}
    if args.eval_learners:
        summary.update(task_lib.kshot_summary(task, dataset, args.eval_learners, seed, mesh))
    if not main_process:
        return
    from rlsl_jax.checkpoint import write_npz
    from rlsl_jax.report import plot_curve

    plot_curve(args.out / "log.csv", args.out / "learning_curve.png", "meta_epoch",
               ["episode_return", "inner_lr"] + (["kshot_mean"] if check else []),
               f"PPMO {env_id} {env_kwargs} k={cfg.k} P={cfg.population}")
    write_npz(dataset, task_lib.metadata(task, cfg, seed), args.out / "dataset.npz")
    write_json(args.out / "summary.json", summary)
    line = f"{env_id} {env_kwargs} k={cfg.k}: {summary['meta_epochs']} meta-epochs in {summary['train_wall_s']:.1f}s"
    if "best_check" in summary:
        line += f" (dataset of meta-epoch {summary['best_check']['meta_epoch']})"
    if args.eval_learners:
        s, g = summary["sampled"], summary["greedy"]
        line += (f"; {args.eval_learners}-learner {cfg.k}-shot return: sampled {s['mean']:.1f} ± {s['std']:.1f}, "
                 f"greedy {g['mean']:.1f} ± {g['std']:.1f}")
    print(line)


if __name__ == "__main__":
    cli.run_main(main)
