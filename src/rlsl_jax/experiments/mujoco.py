"""Continuous-action PPMO (or direct PPO, --method ppo) on a MuJoCo task (brax or envpool MuJoCo-v4),
or score a distilled dataset (--eval: fresh learners, one SGD step and one episode each).

    python -m rlsl_jax.experiments.mujoco --env hopper --backend envpool --out runs/mujoco/hopper_v4   # Table 3's
    python -m rlsl_jax.experiments.mujoco --eval runs/mujoco/hopper --eval-learners 64

Learner, dataset and normalisation: rlsl_jax.tasks.mujoco; observation statistics are stored with the dataset and
applied, frozen, by --eval; returns are RAW env returns. --preset: see below (`--env T --help`: task T's defaults).
Writes to --out: checkpoints/ (for --resume), log.csv, learning_curve.png, dataset.npz (PPMO), summary.json. PPMO with
--eval-every M scores the dataset every M meta-epochs like --eval (log.csv: kshot_mean), publishes the best (best_check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlsl_jax import cli
from rlsl_jax.config import add_config_args, config_from_args, config_from_dict, preset_name
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.logs import write_json
from rlsl_jax.report import plot_curve
from rlsl_jax.tasks.mujoco import (BACKENDS, DEFAULT_PRESET, ENVS, EPISODE_LENGTH, METHODS, PRESETS,
                                   default_obs_scale, describe_task_settings, preset_config)

POSITIVE = ("k", "population", "num_envs", "rollout_steps", "update_epochs", "minibatch_size", "episode_length", "eval_learners")


def build_parser(preset: str = DEFAULT_PRESET, env: str | None = None, method: str = "ppmo", backend: str = "brax"):
    """The parser with ``preset``'s values, and its settings for the task ``env`` (envpool PPMO), as
    the defaults of the config flags (what --help shows)."""
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.mujoco", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add = p.add_argument
    add("--preset", default=DEFAULT_PRESET, choices=sorted(PRESETS), help="what the config flags below default to (with "
        f"--env: for that task): ours (16 envs × 128 steps, CleanRL's PPO update; envpool PPMO per task: "
        f"{describe_task_settings('ours')}) or paper (Appendix A) (default: %(default)s)")
    add("--env", default=None, help=f"task: {', '.join(ENVS)}; required for training")
    add("--backend", default="brax", choices=BACKENDS, help="brax (pure JAX; humanoid 244 obs, IDP 8) or envpool (MuJoCo-v4)")
    add("--brax-backend", default=None, help="brax physics pipeline: mjx (default), generalized, positional or spring (fastest to compile on a CPU)")
    add("--method", default="ppmo", choices=METHODS, help="ppmo: distil a dataset; ppo: direct PPO (the RL column)")
    add("--episode-length", type=int, default=EPISODE_LENGTH, help="episode time limit, steps (--eval: the dataset's unless --env is given)")
    add("--norm-obs", action=argparse.BooleanOptionalAction, default=True, help="normalise observations (running mean/var, stored)")
    add("--obs-scale", type=float, default=None, metavar="C", help="learners see the normalised observations / C (stored "
        "in the dataset's normaliser); with --init-dataset a set of another scale is rescaled (default: "
        f"{default_obs_scale(preset, env, method, backend)}; 1 with --no-norm-obs)")
    add("--scale-reward", action=argparse.BooleanOptionalAction, default=True,
        help="scale rewards by the running std of the discounted return (training only)")
    add("--meta-epochs", type=int, default=2000, help="total meta-epochs (PPO: epochs) to run")
    add("--seed", type=int, default=0, help="random seed (same seed = same run)")
    add("--out", type=Path, default=None, help="output directory (default runs/mujoco/<env>_<method>; --eval: its eval.json)")
    add("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    add("--init-dataset", type=Path, default=None, metavar="DATASET", help="PPMO: start from a saved dataset of the "
        "task (run, checkpoint or npz; its X, Y, η, log-std target and normaliser), e.g. with another --population")
    add("--chunk", type=int, default=10, help="meta-epochs per jitted chunk (host logs once per chunk)")
    add("--checkpoint-every", type=int, default=100, help="save a checkpoint every C meta-epochs")
    add("--final-eval-learners", type=int, default=0, help="after training, score this many fresh learners on the "
        "final dataset (PPO: episodes of the agent, sampled and mean actions; 0 = skip)")
    add("--anneal-steps", type=int, default=0, help="PPO: anneal its rates linearly to 0 over this many env steps (default: %(default)s = constant)")
    add("--no-progress", action="store_true", help="no progress bars")
    add = p.add_argument_group("evaluation").add_argument
    add("--eval", type=Path, default=None, metavar="DATASET", help="score a saved dataset (run, checkpoint or npz)")
    add("--eval-learners", type=int, default=64, help="fresh learners to train and score")
    add("--greedy", action="store_true", help="evaluate with the action means instead of samples")
    cli.add_check_args(p.add_argument_group("periodic k-shot check (PPMO)"), eval_every=0, check_learners=16)
    add_config_args(p, PPMOConfig, defaults=preset_config(preset, env, method, backend))
    cli.add_parallel_args(p, what="the PPMO population and its envs (envpool: one pool per device)")
    cli.add_cache_args(p)
    return p


def validate(args, M) -> None:
    cli.check_positive(args, POSITIVE)
    cli.check_run_args(args)  # chunk, checkpoints, meta-epochs, the periodic check
    cli.check_positive(args, ("final_eval_learners", "anneal_steps"), minimum=0)
    try:
        M.check_brax_backend(args.brax_backend)
        M.check_anneal(args.anneal_steps, args.method)
        args.obs_scale = M.check_obs_scale(args.obs_scale, args.norm_obs, default_obs_scale(args.preset, args.env, args.method, args.backend))
        args.env = None if args.env is None else M.check_env_name(args.env)
        if args.eval is None and not args.resume and args.backend == "envpool":
            M.check_envpool()
    except ValueError as e:
        raise cli.UsageError(str(e)) from e
    if args.init_dataset is not None and (args.resume or args.eval is not None):
        raise cli.UsageError("--init-dataset starts a new run (a resumed run keeps its own start); not with --resume/--eval")
    if args.eval is not None and (args.resume or not args.eval.exists()):
        raise cli.UsageError("--eval and --resume do not go together" if args.resume else
                             f"--eval: {args.eval} does not exist")
    elif args.eval is None and args.resume:
        cli.check_out_dir(args.out or Path("."), True)
    elif args.eval is None and args.env is None:
        raise cli.UsageError(f"--env is required (one of {', '.join(ENVS)}); or --eval DATASET to score a dataset")
    elif args.eval is None and args.method == "ppo" and (args.population != 1 or args.eval_every):
        raise cli.UsageError("--method ppo trains one agent and no dataset: --population must be 1, no --eval-every")


def run_eval(args, M) -> None:
    try:
        s = M.load_scored(args.eval, args.eval_learners, args.seed, args.env, args.backend, args.brax_backend,
                          args.episode_length)
    except (FileNotFoundError, ValueError) as e:
        raise cli.UsageError(f"--eval: {e}") from e
    print(M.eval_line(M.score(s, args.eval_learners, seed=args.seed, greedy=args.greedy, source=str(args.eval),
                              out=args.out)))


def main(argv: list[str] | None = None) -> None:
    first = ((PRESETS, DEFAULT_PRESET), (None, None, "--env"), (METHODS, "ppmo", "--method"), (BACKENDS, "brax", "--backend"))
    args = build_parser(*(preset_name(argv, *f) for f in first)).parse_args(argv)  # the preset's defaults for the task
    mesh = cli.setup_parallel(args)  # --distributed before brax/envpool load; population checked below
    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.tasks import mujoco as M
    validate(args, M)
    cli.enable_compile_cache(args)
    configure_cpu(1)
    if args.eval is not None:
        return run_eval(args, M)
    if args.resume:
        saved = cli.read_run(args.out)
        print(f"resuming {args.out}: saved config and seed {saved['seed']} are used; --meta-epochs {args.meta_epochs}",
              file=sys.stderr)
    else:
        saved = M.new_record(args.seed, config_from_args(PPMOConfig, args), **{k: getattr(args, k) for k in M.RECORD_ARGS})
        args.out = args.out or Path("runs/mujoco") / f"{args.env}_{args.method}"
        if cli.is_main_process():
            cli.check_out_dir(args.out, False)
    mj, cfg = saved["mujoco"], config_from_dict(PPMOConfig, saved["config"])
    if mesh is not None and (mj["method"] == "ppo" or cfg.population % mesh.size):
        raise cli.UsageError("--method ppo trains one agent on one device; --devices/--distributed are for ppmo"
                             if mj["method"] == "ppo" else
                             f"--population ({cfg.population}) must be a multiple of the device count ({mesh.size})")
    try:
        run = M.make_run(mj, cfg, saved["seed"], mesh)
        check = M.kshot_check(run, args.eval_every, args.target, args.eval_check_learners)
    except ValueError as e:
        raise cli.UsageError(str(e)) from e
    if cli.is_main_process() and not args.resume:
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / "run.json", run.record)
    state, info = M.distil(run, meta_epochs=args.meta_epochs, out_dir=args.out, resume=args.resume, chunk=args.chunk,
                           checkpoint_every=args.checkpoint_every, progress=not args.no_progress, check=check)
    if cli.is_main_process():  # only process 0 writes plots, exports and summaries
        plot_curve(args.out / "log.csv", args.out / "learning_curve.png", "meta_epoch", *M.curve(run, check))
        print(M.publish(run, state, info, args.out, args.final_eval_learners)[1])


if __name__ == "__main__":
    cli.run_main(main)
