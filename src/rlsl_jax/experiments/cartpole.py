"""Distil N-D cart-pole (or any discrete gymnax env) with PPMO.

    python -m rlsl_jax.experiments.cartpole --dims 1 --k 2 --out runs/cartpole1d

With only --dims N --k N+1 --seed S --out D the run scores the dataset every 50 meta-epochs with 500
fresh learners, stops once they reach 495 (or after 1500/3000/5000/8000/10000 meta-epochs at N = 1..5)
and keeps the best dataset. Expected for the whole command on a 2-core CPU (measured, seeds 0-4):
N = 1 20-35 s, N = 2 25-40 s, N = 3 40-105 s, N = 4 1-3 min; X and Y move at Adam 5e-4 (the paper:
--lr 2.5e-4 --inner-lr-param clamp --inner-lr-lr 0 --min-inner-lr 1e-4).

Writes to --out: checkpoints/ (orbax, resumable with --resume), log.csv (one row per
meta-epoch), learning_curve.png, dataset.npz (x, y, inner_lr as the authors' format),
summary.json; prints a final one-line k-shot summary over fresh learners.
"""

from __future__ import annotations

import argparse
import sys

from rlsl_jax import cli
from rlsl_jax.config import add_config_args, config_from_args, config_from_dict, config_to_dict
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.logs import write_json
from rlsl_jax.tasks.cartpole import DEFAULT_PRESET, PRESETS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.cartpole", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="NDCartPole-v0", help="env id: NDCartPole-v0 or any discrete gymnax id")
    p.add_argument("--dims", type=int, default=1, help="N, cart-pole dimensions (NDCartPole-v0 only)")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiplies the physics step tau (paper App. B)")
    cli.add_run_args(p, meta_epochs=None, out="runs/cartpole", eval_every=50, check_learners=500,
                     meta_epochs_help="1500, 3000, 5000, 8000, 10000 for N = 1..5 of NDCartPole-v0, else 1000",
                     target_help="495 for NDCartPole-v0, else none")
    add_config_args(p, PPMOConfig, defaults=PRESETS[DEFAULT_PRESET])
    cli.add_parallel_args(p)
    cli.add_cache_args(p)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    cli.check_positive(args, ("k", "population", "num_envs", "rollout_steps", "update_epochs", "minibatch_size",
                              "dims"))
    if args.target is None and args.eval_every and args.env == "NDCartPole-v0":
        args.target = 495.0  # tasks.cartpole.DEFAULT_TARGET, without importing JAX before --distributed
    cli.check_run_args(args)
    if not args.time_scale > 0:
        raise cli.UsageError(f"--time-scale must be > 0 (got {args.time_scale})")
    mesh = cli.setup_parallel(args, None if args.resume else {"--population": args.population})
    main_process = cli.is_main_process()
    if main_process:
        cli.check_out_dir(args.out, args.resume)
    from rlsl_jax.tasks import cartpole as tasks

    if args.resume:
        saved = cli.read_run(args.out)
        cfg, env_id, env_kwargs, seed = (config_from_dict(PPMOConfig, saved["config"]), saved["env_id"],
                                         saved["env_kwargs"], saved["seed"])
    else:
        cfg, env_id, seed = config_from_args(PPMOConfig, args), args.env, args.seed
        env_kwargs = tasks.env_kwargs_for(env_id, args.dims, args.time_scale)
    if args.meta_epochs is None:
        args.meta_epochs = tasks.default_meta_epochs(env_id, env_kwargs.get("num_dims", 1))
    try:
        task = tasks.make_task(env_id, env_kwargs)
    except ValueError as e:
        raise cli.UsageError(str(e)) from e
    if mesh is not None and cfg.population % mesh.size:
        raise cli.UsageError(f"the population ({cfg.population}) must be a multiple of the device count ({mesh.size})")
    cli.enable_compile_cache(args)
    if not args.resume and main_process:
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / "run.json", {"env_id": env_id, "env_kwargs": env_kwargs, "seed": seed,
                                           "config": config_to_dict(cfg)})
    check = tasks.kshot_check(task, args.eval_every, args.target, args.eval_check_learners, seed) \
        if args.eval_every else None
    state, dataset, info = tasks.distil(
        task, cfg, seed=seed, meta_epochs=args.meta_epochs, out_dir=args.out, resume=args.resume, chunk=args.chunk,
        checkpoint_every=args.checkpoint_every, progress=not args.no_progress, stop_return=args.stop_return,
        check=check, mesh=mesh)
    if args.resume:
        print(f"resumed {args.out} at meta-epoch {info['start']} with its saved config and seed {seed}", file=sys.stderr)
    summary = tasks.summarize(task, cfg, state, dataset, info, args.eval_learners, seed, mesh)
    if main_process:
        from rlsl_jax.checkpoint import write_npz
        from rlsl_jax.report import plot_curve

        plot_curve(args.out / "log.csv", args.out / "learning_curve.png", "meta_epoch",
                   ["episode_return", "inner_lr"] + (["kshot_mean"] if check else []),
                   f"PPMO {env_id} {env_kwargs} k={cfg.k} P={cfg.population}")
        write_npz(dataset, tasks.metadata(task, cfg, seed), args.out / "dataset.npz")
        write_json(args.out / "summary.json", summary)
        print(tasks.summary_line(summary))


if __name__ == "__main__":
    cli.run_main(main)
