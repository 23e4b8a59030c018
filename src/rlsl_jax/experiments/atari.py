"""Distil an Atari game (envpool) with PPMO and encoder rollback (Algorithm 2), or score a dataset.

    python -m rlsl_jax.experiments.atari --game Pong --layer 4 --meta-epochs 5000 --out runs/pong_l4
    python -m rlsl_jax.experiments.atari --game Centipede --out runs/centipede_l0          # full distillation
    python -m rlsl_jax.experiments.atari --game Centipede --preset paper --out runs/centipede_paper
    python -m rlsl_jax.experiments.atari --eval runs/pong_l4 --eval-learners 32
    python -m rlsl_jax.experiments.atari --eval ../shared/refdata/atari_centipede_fulldistill_k10.npz \\
        --game Centipede --eval-learners 32            # the authors' dataset (conformance check)

--layer l in 0..5 splits the Nature CNN: layers < l are an encoder trained with θ, layers >= l the
learner (0 = full distillation, 5 = plain PPO). --preset cleanrl (default): CleanRL's Atari PPO batch
(8 envs × 128 steps, minibatches of 256), clipped rewards, life-loss training episodes; --preset
paper: Appendix A (10 envs × 200 steps, minibatches of 512, raw rewards, full games); ε = 0.1 in both.
Writes to --out: checkpoints/ (--resume restarts the emulators), log.csv, learning_curve.png,
dataset.npz (with the encoder), summary.json. --eval trains --eval-learners fresh learners on a saved
dataset by one SGD step each and plays one full game each (raw score, sampled actions).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rlsl_jax import cli
from rlsl_jax.config import add_config_args, config_from_args, preset_name
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.logs import write_json
from rlsl_jax.report import plot_curve
from rlsl_jax.tasks.atari import DEFAULT_PRESET, ENV_OPTIONS, NUM_LAYERS, PRESETS, SKIP_FIELDS

POSITIVE = ("k", "population", "num_envs", "rollout_steps", "update_epochs", "minibatch_size", "chunk",
            "checkpoint_every", "eval_learners")


def build_parser(preset: str = DEFAULT_PRESET) -> argparse.ArgumentParser:
    """The parser with ``preset``'s values as the defaults of the config flags (what --help shows)."""
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.atari", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add = p.add_argument
    add("--preset", default=DEFAULT_PRESET, choices=sorted(PRESETS), help="what the flags below default to: "
        "cleanrl (CleanRL's batch, clipped rewards, life-loss episodes) or paper (Appendix A) (default: %(default)s)")
    add("--game", default=None, help="Atari game: Centipede, MsPacman, Pong, SpaceInvaders or any envpool Atari id "
        "(e.g. Breakout or Breakout-v5); required for training")
    add("--layer", type=int, default=None, help="encoder rollback layer l in 0..5 (0 = full distillation, 5 = plain "
        "PPO); default 0, or with --eval the dataset's own")
    add("--k", type=int, default=None, help="number of synthetic states (default: Table 5's k_min of the game)")
    add("--envs", dest="num_envs", type=int, default=argparse.SUPPRESS, help="alias of --num-envs")
    add("--meta-epochs", type=int, default=10000, help="total meta-epochs to run")
    add("--seed", type=int, default=0, help="random seed (learners, dataset, envpool's emulators)")
    add("--out", type=Path, default=None, help="output directory (default runs/atari/<game>_l<layer>; with --eval: "
        "where eval.json goes, optional)")
    add("--resume", action="store_true", help="continue the run in --out (saved config; the emulators restart)")
    add("--chunk", type=int, default=10, help="meta-epochs per jitted chunk (host logs once per chunk)")
    add("--checkpoint-every", type=int, default=100, help="save a checkpoint every C meta-epochs")
    add("--train-life-loss", action=argparse.BooleanOptionalAction, default=ENV_OPTIONS[preset]["episodic_life"],
        help="a lost life ends the TRAINING episode (envpool episodic_life) (default: %(default)s)")
    add("--train-reward-clip", action=argparse.BooleanOptionalAction, default=ENV_OPTIONS[preset]["reward_clip"],
        help="train on sign-clipped rewards; scores stay raw (default: %(default)s)")
    add("--final-eval-learners", type=int, default=0, help="after training, score this many fresh learners (0 = skip)")
    add("--no-progress", action="store_true", help="no progress bars")
    add = p.add_argument_group("evaluation").add_argument
    add("--eval", type=Path, default=None, metavar="DATASET",
        help="evaluate a saved dataset (run folder, checkpoint folder or npz) instead of training")
    add("--eval-learners", type=int, default=32, help="fresh learners to train and score")
    add("--untrained", action="store_true", help="score the learners WITHOUT the SGD step (inner lr 0)")
    add("--eval-max-steps", type=int, default=0, help="stop the evaluation after this many agent steps (games still "
        "running report partial scores); 0 = play every game to its end")
    add_config_args(p, PPMOConfig, skip=SKIP_FIELDS + ("k",), defaults=PRESETS[preset])
    cli.add_parallel_args(p, what="the learner population and its envpool envs (one pool per device)")
    cli.add_cache_args(p)
    return p


def validate(args) -> None:
    if args.layer is not None and not 0 <= args.layer <= NUM_LAYERS:
        raise cli.UsageError(f"--layer must be in 0..{NUM_LAYERS} (got {args.layer})")
    cli.check_positive(args, POSITIVE)
    cli.check_positive(args, ("meta_epochs", "eval_max_steps", "final_eval_learners"), minimum=0)
    if args.eval is not None:
        if args.resume:
            raise cli.UsageError("--eval and --resume do not go together")
        if not args.eval.exists():
            raise cli.UsageError(f"--eval: {args.eval} does not exist")
    elif args.resume:
        cli.check_out_dir(args.out or Path("."), True)
    elif args.game is None:
        raise cli.UsageError("--game is required (e.g. --game Pong); or --eval DATASET to score a dataset")


def run_eval(args, T) -> None:
    try:
        task, ds, _ = T.load_scored(args.eval, args.game, args.layer)
    except (FileNotFoundError, ValueError) as e:
        raise cli.UsageError(f"--eval: {e}") from e
    r = T.kshot(task, ds, args.eval_learners, seed=args.seed, untrained=args.untrained,
                max_steps=args.eval_max_steps, progress=not args.no_progress, source=str(args.eval))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / ("eval_untrained.json" if args.untrained else "eval.json"), r)
    print(T.eval_line(r))


def main(argv: list[str] | None = None) -> None:
    args = build_parser(preset_name(argv, PRESETS, DEFAULT_PRESET)).parse_args(argv)
    mesh = cli.setup_parallel(args)  # --distributed: before envpool is imported
    validate(args)
    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.tasks import atari as T
    if args.eval is not None:
        cli.enable_compile_cache(args)
        configure_cpu(1)
        return run_eval(args, T)
    try:
        if args.resume:
            task, cfg, seed = T.from_record(json.loads((args.out / "run.json").read_text()))
            print(f"resuming {args.out}: saved config and seed {seed} are used; --meta-epochs {args.meta_epochs}; "
                  f"the emulators restart (their state is not checkpointed)", file=sys.stderr)
        else:
            env_kwargs = T.train_env_kwargs(args.preset, args.train_life_loss, args.train_reward_clip)
            task, seed = T.make_task(args.game, args.layer or 0, env_kwargs), args.seed
    except ValueError as e:
        raise cli.UsageError(str(e)) from e
    if not args.resume:
        cfg = config_from_args(PPMOConfig, args, k=args.k or T.default_k(task.game, task.num_actions))
        args.out = args.out or Path("runs/atari") / f"{task.game}_l{task.layer}"
        if cli.is_main_process():
            cli.check_out_dir(args.out, False)
    if mesh is not None and cfg.population % mesh.size:
        raise cli.UsageError(f"--population ({cfg.population}) must be a multiple of the device count ({mesh.size})")
    cli.enable_compile_cache(args)
    configure_cpu(1)
    if cli.is_main_process() and not args.resume:
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / "run.json", T.run_record(task, cfg, seed))
    state, info = T.distil(task, cfg, seed=seed, meta_epochs=args.meta_epochs, out_dir=args.out, resume=args.resume,
                           chunk=args.chunk, checkpoint_every=args.checkpoint_every, progress=not args.no_progress,
                           mesh=mesh)
    if not cli.is_main_process():  # only process 0 writes plots, the npz and summaries
        return
    plot_curve(args.out / "log.csv", args.out / "learning_curve.png", "meta_epoch", ["episode_return", "inner_lr"],
               f"{'PPO' if task.layer == NUM_LAYERS else 'PPMO'} {task.task} l={task.layer} k={cfg.k} "
               f"P={cfg.population} (episode_return = raw game score)")
    summary = T.publish(task, cfg, seed, state, info, args.out, args.final_eval_learners, not args.no_progress)
    print(T.summary_line(summary))


if __name__ == "__main__":
    cli.run_main(main)
