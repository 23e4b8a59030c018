"""Distil a MinAtar game (gymnax) with PPMO, with encoder rollback, or train the direct-PPO ceiling.

    python -m rlsl_jax.experiments.minatar --game Breakout --k 16 --layer 0 --out runs/breakout_k16
    python -m rlsl_jax.experiments.minatar --game Breakout --k-min --out runs/breakout_kmin
    python -m rlsl_jax.experiments.minatar --game Breakout --layer 2 --out runs/breakout_l2
    python -m rlsl_jax.experiments.minatar --game Breakout --method ppo --out runs/breakout_ppo
    python -m rlsl_jax.experiments.minatar --eval runs/breakout_k16 --eval-learners 256

Games: Breakout, SpaceInvaders, Asterix, Freeway. --layer l (0..3) splits the MinAtar conv net:
the first l layers are an encoder trained with the dataset and stored in it, the rest is the
learner (0 = full distillation, 3 = plain RL). --arch mlp: a 64-64 tanh MLP learner (l = 0 only).
--method ppo: direct PPO of the whole network with the same rollout, critic and optimiser fields
(one PPO epoch = the env steps of one meta-epoch).

Writes to --out: run.json, checkpoints/ (resumable with --resume), log.csv (one row per
meta-epoch, with env_steps), learning_curve.png, summary.json; for PPMO also dataset.npz (x, y,
inner_lr and the encoder for l > 0) and dataset.png (the k synthetic frames, each cell coloured by
its largest channel, the label's argmax action under each frame). The last line printed is the
score: fresh learners (one SGD step each, one full episode each), sampled and greedy actions.
--eval D scores the dataset in D (a run folder or dataset.npz) the same way and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlsl_jax import cli
from rlsl_jax.config import add_config_args, config_from_args, preset_name
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.logs import write_json
from rlsl_jax.tasks import minatar as tasks


def build_parser(preset: str = tasks.DEFAULT_PRESET) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.minatar", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default=None, help=f"MinAtar game: {', '.join(tasks.GAMES)} (needed to train; "
                   "--eval reads it from the dataset)")
    p.add_argument("--layer", type=int, default=0, help="encoder-rollback layer l in 0..3 (default: %(default)s)")
    p.add_argument("--arch", default="conv", choices=("conv", "mlp"), help="learner (default: %(default)s)")
    p.add_argument("--method", default="ppmo", choices=("ppmo", "ppo"), help="distil, or direct PPO (default: ppmo)")
    p.add_argument("--k-min", action="store_true", help="k = the paper's k_min = ceil(c/2)+1 for the game's c actions")
    p.add_argument("--preset", default=tasks.DEFAULT_PRESET, choices=sorted(tasks.PRESETS),
                   help="what the config flags default to (default: %(default)s)")
    p.add_argument("--eval", type=Path, default=None, metavar="D", help="score the dataset in D (run folder or npz) "
                   "with --eval-learners fresh learners, sampled and greedy; trains nothing")
    cli.add_run_args(p, meta_epochs=500, out="runs/minatar", checkpoint_every=250, chunk=25, eval_learners=256,
                     check_learners=64)
    add_config_args(p, PPMOConfig, skip=("critic_hidden",), defaults=tasks.PRESETS[preset])
    cli.add_cache_args(p)
    return p


def check_args(args) -> None:
    cli.check_positive(args, ("k", "population", "num_envs", "rollout_steps", "update_epochs", "minibatch_size"))
    cli.check_run_args(args)
    if args.game is not None:
        try:
            args.game = tasks.resolve_game(args.game)
        except ValueError as e:
            raise cli.UsageError(str(e)) from e
    elif args.eval is None and not args.resume:
        raise cli.UsageError(f"--game is required: one of {', '.join(tasks.GAMES)}")
    if not 0 <= args.layer <= tasks.NUM_LAYERS:
        raise cli.UsageError(f"--layer must be in 0..{tasks.NUM_LAYERS} (got {args.layer})")
    if args.arch == "mlp" and args.layer:
        raise cli.UsageError("--arch mlp has no encoder rollback: use --layer 0")
    if args.method == "ppo" and (args.eval_every or args.layer):
        raise cli.UsageError("--method ppo trains the whole network: no --layer, no --eval-every")
    if args.eval is not None:
        if not args.eval.exists():
            raise cli.UsageError(f"--eval {args.eval}: no such file or directory")
        if args.eval_learners < 1:
            raise cli.UsageError("--eval needs --eval-learners >= 1")
    else:
        cli.check_out_dir(args.out, args.resume)


def evaluate_only(args) -> None:
    try:
        task, ds, _ = tasks.load_scored(args.eval, args.game)
    except ValueError as e:
        raise cli.UsageError(str(e)) from e
    s = tasks.score_modes(task, ds, args.eval_learners, seed=args.seed)
    print(f"{args.eval}: {task.env_id} k={ds.x.shape[0]} l={task.layer}: {args.eval_learners} fresh learners, "
          f"sampled {s['sampled']['mean']:.1f} ± {s['sampled']['std']:.1f}, greedy {s['greedy']['mean']:.1f} ± "
          f"{s['greedy']['std']:.1f} (HaDES {tasks.paper.HADES_MINATAR[task.game]})")


def main(argv: list[str] | None = None) -> None:
    args = build_parser(preset_name(argv, tasks.PRESETS, tasks.DEFAULT_PRESET)).parse_args(argv)
    check_args(args)
    cli.enable_compile_cache(args)
    if args.eval is not None:
        return evaluate_only(args)
    if args.resume:
        saved = cli.read_run(args.out)
        task, cfg, seed, method = tasks.from_record(saved)
        print(f"resuming {args.out}: saved config and seed {seed}; --meta-epochs {args.meta_epochs}", file=sys.stderr)
    else:
        task = tasks.make_task(args.game, args.layer, args.arch)
        k = tasks.paper.kmin_for(task.num_actions) if args.k_min else args.k
        cfg, seed, method = config_from_args(PPMOConfig, args, k=k), args.seed, args.method
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / "run.json", tasks.run_record(task, cfg, seed, method))
    check = tasks.kshot_check(task, args.eval_every, args.target, args.eval_check_learners, seed) \
        if args.eval_every else None
    state, published, info = tasks.distil(
        task, cfg, seed=seed, meta_epochs=args.meta_epochs, out_dir=args.out, method=method, resume=args.resume,
        chunk=args.chunk, checkpoint_every=args.checkpoint_every, progress=not args.no_progress,
        stop_return=args.stop_return, check=check)
    summary = tasks.summarize(task, cfg, method, state, published, info, args.eval_learners, seed)
    from rlsl_jax.report import plot_curve

    what = "PPO" if method == "ppo" else f"PPMO k={cfg.k} l={task.layer}"
    plot_curve(args.out / "log.csv", args.out / "learning_curve.png", "env_steps",
               ["episode_return", "entropy"] + ([] if method == "ppo" else ["inner_lr"])
               + (["kshot_mean"] if check else []), f"{task.env_id} {what} ({task.arch})")
    if method == "ppmo":
        from rlsl_jax.checkpoint import write_npz

        write_npz(published, tasks.metadata(task, cfg, seed), args.out / "dataset.npz")
        tasks.dataset_picture(task, published, args.out / "dataset.png")
    write_json(args.out / "summary.json", summary)
    print(tasks.summary_line(summary))


if __name__ == "__main__":
    cli.run_main(main)
