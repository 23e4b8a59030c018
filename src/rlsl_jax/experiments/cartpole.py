"""Distil N-D cart-pole (or any discrete gymnax env) with PPMO.

    python -m rlsl_jax.experiments.cartpole --dims 1 --k 2 --meta-epochs 1000 --out runs/cartpole1d

Writes to --out: checkpoints/ (orbax, resumable with --resume), log.csv (one row per
meta-epoch), learning_curve.png, dataset.npz (x, y, inner_lr as the authors' format),
summary.json; prints a final one-line k-shot summary over fresh learners.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from rlsl_jax.config import add_config_args, config_from_args, config_from_dict, config_to_dict
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.experiments.common import (UsageError, add_parallel_args, is_main_process, run_main, setup_parallel,
                                         write_json)

CARTPOLE_ID = "NDCartPole-v0"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m rlsl_jax.experiments.cartpole",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default=CARTPOLE_ID,
                   help="environment id (NDCartPole-v0 or any discrete gymnax id, e.g. CartPole-v1)")
    p.add_argument("--dims", type=int, default=1, help="N, cart-pole dimensions (NDCartPole-v0 only)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="multiplies the physics time step tau (paper Appendix B remedy for large N)")
    p.add_argument("--meta-epochs", type=int, default=1000, help="total meta-epochs to run")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed = same run)")
    p.add_argument("--out", type=Path, default=Path("runs/cartpole"), help="output directory")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its newest checkpoint (uses the saved config)")
    p.add_argument("--chunk", type=int, default=50,
                   help="meta-epochs per jitted chunk (the host logs once per chunk)")
    p.add_argument("--checkpoint-every", type=int, default=500, help="save a checkpoint every C meta-epochs")
    p.add_argument("--stop-return", type=float, default=None,
                   help="stop early after a chunk whose mean training episode return reaches this value "
                        "(e.g. 495); the final k-shot evaluation still scores fresh learners")
    p.add_argument("--eval-learners", type=int, default=1000,
                   help="fresh learners for the final k-shot summary (0 = skip)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_args(p, PPMOConfig)
    add_parallel_args(p)
    return p


def check_env(args) -> None:
    from rlsl_jax.envs import list_envs

    if args.env not in list_envs():
        raise UsageError(f"unknown env {args.env!r}; valid: {', '.join(list_envs())}")


def validate(args) -> None:
    """Flag checks that need no JAX (multi-host init must come before any JAX call)."""
    if args.dims < 1:
        raise UsageError(f"--dims must be >= 1 (got {args.dims})")
    for name in ("k", "population", "num_envs", "rollout_steps", "update_epochs", "minibatch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    if args.meta_epochs < 0 or args.chunk < 1 or args.checkpoint_every < 1 or args.eval_learners < 0:
        raise UsageError("--meta-epochs must be >= 0, --chunk and --checkpoint-every >= 1, --eval-learners >= 0")
    if not args.time_scale > 0:
        raise UsageError(f"--time-scale must be > 0 (got {args.time_scale})")


def check_out_dir(args) -> None:
    if args.resume:
        if not (args.out / "run.json").exists():
            raise UsageError(f"--resume: no run in {args.out} (run.json missing); start one without --resume")
    elif args.out.exists() and any(args.out.iterdir()):
        raise UsageError(f"{args.out} already holds files; pass --resume to continue that run or choose "
                         f"another --out (nothing was overwritten)")


def env_kwargs_for(env_id: str, dims: int, time_scale: float) -> dict:
    if env_id == CARTPOLE_ID:
        kw = {"num_dims": dims}
        if time_scale != 1.0:
            kw["time_scale"] = time_scale
        return kw
    return {}


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    validate(args)
    # --resume reuses the saved population; setup_parallel checks it after the config is known
    mesh = setup_parallel(args, None if args.resume else {"--population": args.population})
    main_process = is_main_process()
    check_env(args)
    if main_process:
        check_out_dir(args)

    import jax

    from rlsl_jax.distill import make_meta_step, runner
    from rlsl_jax.envs import make
    from rlsl_jax.evaluate import evaluate
    from rlsl_jax.experiments.common import plot_curve
    from rlsl_jax.checkpoint import write_npz
    from rlsl_jax.networks import cartpole_learner

    if args.resume:
        run_info = json.loads((args.out / "run.json").read_text())
        cfg = config_from_dict(PPMOConfig, run_info["config"])
        env_id, env_kwargs, seed = run_info["env_id"], run_info["env_kwargs"], run_info["seed"]
        print(f"resuming {args.out}: saved config and seed {seed} are used; --meta-epochs {args.meta_epochs}",
              file=sys.stderr)
    else:
        cfg = config_from_args(PPMOConfig, args)
        env_id, env_kwargs, seed = args.env, env_kwargs_for(args.env, args.dims, args.time_scale), args.seed

    try:
        env, env_params = make(env_id, **env_kwargs)
    except ValueError as e:
        raise UsageError(str(e)) from e
    if not hasattr(env.action_space(env_params), "n"):
        raise UsageError(f"{env_id} has a continuous action space; use rlsl_jax.experiments.mujoco")
    obs_dim = int(env.observation_space(env_params).shape[0])
    num_actions = int(env.action_space(env_params).n)
    learner = cartpole_learner(obs_dim, num_actions)
    metadata = {
        "env_id": env_id, "env_kwargs": env_kwargs, "k": cfg.k, "obs_shape": [obs_dim],
        "num_actions": num_actions, "learner": {"name": learner.name, **dataclasses.asdict(learner.spec)},
        "seed": seed, "config": config_to_dict(cfg), "method": "ppmo",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.resume and main_process:
        write_json(args.out / "run.json", {"env_id": env_id, "env_kwargs": env_kwargs, "seed": seed,
                                           "config": config_to_dict(cfg)})

    if mesh is not None and cfg.population % mesh.size:  # (k-shot evaluation pads its learners itself)
        raise UsageError(f"the run's population ({cfg.population}) must be a multiple of the device count "
                         f"({mesh.size})")
    init, meta_step = make_meta_step(cfg, env, env_params, learner, mesh=mesh)
    state, info = runner.run(init, meta_step, out_dir=args.out, meta_epochs=args.meta_epochs, seed=seed,
                             metadata=metadata, resume=args.resume, chunk=args.chunk,
                             checkpoint_every=args.checkpoint_every, progress=not args.no_progress,
                             stop_return=args.stop_return)
    if main_process:
        plot_curve(args.out / "log.csv", args.out / "learning_curve.png", "meta_epoch",
                   ["episode_return", "inner_lr"], f"PPMO {env_id} {env_kwargs} k={cfg.k} P={cfg.population}")
        write_npz(jax.device_get(state.dataset), metadata, args.out / "dataset.npz")
    summary = {"env_id": env_id, "env_kwargs": env_kwargs, "k": cfg.k, "population": cfg.population,
               "meta_epochs": int(state.meta_epoch), "train_wall_s": round(info["wall_s"], 2)}
    if args.eval_learners:
        key = jax.random.key(seed + 1_000_003)
        for mode, greedy in (("sampled", False), ("greedy", True)):
            r = evaluate(key, state.dataset, env, env_params, learner, args.eval_learners, greedy=greedy, mesh=mesh)
            summary[mode] = {"mean": r["mean"], "std": r["std"], "n": r["n"]}
    if not main_process:
        return
    write_json(args.out / "summary.json", summary)
    line = (f"{env_id} {env_kwargs} k={cfg.k}: {summary['meta_epochs']} meta-epochs in "
            f"{summary['train_wall_s']:.1f}s")
    if args.eval_learners:
        line += (f"; {args.eval_learners}-learner {cfg.k}-shot return: sampled {summary['sampled']['mean']:.1f} ± "
                 f"{summary['sampled']['std']:.1f}, greedy {summary['greedy']['mean']:.1f} ± "
                 f"{summary['greedy']['std']:.1f}")
    print(line)


if __name__ == "__main__":
    run_main(main)
