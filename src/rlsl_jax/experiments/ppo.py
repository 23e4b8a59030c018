"""Direct PPO (the paper's "RL" baseline) on any discrete env from ``rlsl_jax.envs.make``.

    python -m rlsl_jax.experiments.ppo --env NDCartPole-v0 --dims 1 --seeds 8 --total-steps 500000

All seeds train at once (vmapped) in jitted chunks of epochs; one epoch is E x T transitions
(default 10 x 200, the same data as one PPMO meta-epoch). At the end every seed's final policy is
scored on --eval-episodes fresh episodes with sampled actions (as the k-shot evaluation does)
and with greedy actions. With --select-episodes > 0 (default 10) each agent's policy is also scored
after every chunk, its best checkpoint kept and re-scored at the end on --eval-episodes NEW
episodes ("best checkpoint": on 1-D cart-pole with the paper's settings the mean over agents of the
final policy is ~463 at 500k steps, that of the best checkpoint ~488; experiments/ppo/RESULTS.md).

Writes to --out: log.csv (one row per epoch, means over seeds), learning_curve.png,
summary.json (per-seed and mean final returns, compile and train wall time, env steps).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlsl_jax import cli
from rlsl_jax.config import add_config_args, config_from_args, config_to_dict
from rlsl_jax.logs import write_json
from rlsl_jax.rl.ppo import PPOConfig

POSITIVE = ("dims", "seeds", "total_steps", "chunk", "num_envs", "rollout_steps", "update_epochs", "minibatch_size")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.ppo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="NDCartPole-v0",
                   help="environment id (NDCartPole-v0 or any discrete gymnax id, e.g. CartPole-v1)")
    p.add_argument("--dims", type=int, default=1, help="N, cart-pole dimensions (NDCartPole-v0 only)")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiplies the physics time step tau")
    p.add_argument("--seeds", type=int, default=1, help="independent agents trained at once (vmapped)")
    p.add_argument("--seed", type=int, default=0, help="base random seed")
    p.add_argument("--total-steps", type=int, default=500_000,
                   help="environment steps per agent (rounded up to whole epochs of E*T)")
    p.add_argument("--chunk", type=int, default=25, help="epochs per jitted chunk (the host logs once per chunk)")
    p.add_argument("--eval-episodes", type=int, default=100, help="final evaluation episodes per seed (0 = skip)")
    p.add_argument("--select-episodes", type=int, default=10,
                   help="after every chunk, score each agent's current policy on this many fresh sampled episodes "
                        "and keep its best checkpoint; at the end the best checkpoints are re-scored on "
                        "--eval-episodes NEW episodes ('best checkpoint' in the summary; 0 = off)")
    p.add_argument("--out", type=Path, default=Path("runs/ppo"), help="output directory (must be new or empty)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_args(p, PPOConfig)
    cli.add_parallel_args(p, what="the seeds (independent agents)")
    cli.add_cache_args(p)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    mesh = cli.setup_parallel(args, {"--seeds": max(args.seeds, 1)})  # multi-host: first, before any JAX use
    main_process = cli.is_main_process()
    cli.check_positive(args, POSITIVE)
    cli.check_positive(args, ("eval_episodes", "select_episodes", "anneal_steps"), minimum=0)
    if not args.time_scale > 0:
        raise cli.UsageError(f"--time-scale must be > 0 (got {args.time_scale})")
    if main_process and args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise cli.UsageError(f"{args.out} already exists and is not an empty directory; choose another --out "
                             f"(nothing was overwritten)")
    cli.check_writable(args.out)
    from rlsl_jax.studies import ppo

    try:
        cfg = config_from_args(PPOConfig, args)
        env, env_params, env_kwargs = ppo.make_env(args.env, args.dims, args.time_scale)
    except ValueError as e:
        raise cli.UsageError(str(e)) from e
    cli.enable_compile_cache(args)
    import jax

    args.out.mkdir(parents=True, exist_ok=True)
    summary = ppo.run_ppo(cfg, env, env_params, seeds=args.seeds, seed=args.seed, total_steps=args.total_steps,
                          chunk=args.chunk, eval_episodes=args.eval_episodes,
                          out_dir=args.out if main_process else None, progress=not args.no_progress and main_process,
                          mesh=mesh, select_episodes=args.select_episodes)
    if not main_process:
        return
    from rlsl_jax.report import fmt, plot_curve

    summary = {"env_id": args.env, "env_kwargs": env_kwargs, "seed": args.seed, "config": config_to_dict(cfg),
               "backend": jax.default_backend(), **summary}
    write_json(args.out / "summary.json", summary)
    plot_curve(args.out / "log.csv", args.out / "learning_curve.png", "env_steps",
               ["episode_return", "entropy"], f"PPO {args.env} {env_kwargs} ({args.seeds} seeds)")
    line = (f"PPO {args.env} {env_kwargs}: {args.seeds} seeds x {summary['env_steps_per_seed']} steps "
            f"({summary['epochs']} epochs) in {summary['train_s']:.1f}s + {summary['compile_s']:.1f}s compile")
    if args.eval_episodes:
        line += f"; final return sampled {fmt(summary['sampled'])}, greedy {fmt(summary['greedy'])} (over seeds)"
    if "best_checkpoint" in summary:
        line += f"; best checkpoint (re-scored on new episodes) {fmt(summary['best_checkpoint'])}"
    print(line + f"; training return, last 10 epochs {summary['train_return_last10']:.1f}")

if __name__ == "__main__":
    cli.run_main(main)
