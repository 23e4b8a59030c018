"""Distil an Atari game (envpool) with PPMO and encoder rollback (Algorithm 2), or score a dataset.

    python -m rlsl_jax.experiments.atari --game Pong --layer 4 --meta-epochs 5000 --out runs/pong_l4
    python -m rlsl_jax.experiments.atari --game Centipede --out runs/centipede_l0          # full distillation
    python -m rlsl_jax.experiments.atari --eval runs/pong_l4 --eval-learners 32
    python -m rlsl_jax.experiments.atari --eval ../shared/refdata/atari_centipede_fulldistill_k10.npz \\
        --game Centipede --eval-learners 32            # the authors' dataset (conformance check)

Learner α_a: the Nature CNN (3 conv + dense 512 + head), split at --layer l ∈ 0..5: layers < l are
the encoder, trained with θ by the outer loss and never re-sampled (stored in the dataset); layers
>= l are the learner, re-sampled every meta-epoch and trained by the one-step inner update on
encoder(X). l = 0 is full distillation; l = 5 leaves the learner empty, so the meta-step is exactly
the PPO update of the whole network (plain RL, the paper's baseline; same rollout, GAE, losses and
optimiser as PPMO). X keeps the observation shape [k, 4, 84, 84] at every l. The critic is a
separate Nature CNN (head gain 1).

Environment (envpool, see envs/envpool_bridge.py): 84×84 gray, 4-frame stack, frame skip 4, up to
30 no-ops at reset, 27000-step cap; training uses clipped rewards and life-loss episodes (turn off
with --no-train-reward-clip / --no-train-life-loss); every reported score (progress bar,
log.csv's episode_return, --eval) is the raw return of a full game.

Writes to --out: checkpoints/ (orbax; --resume continues, restarting the emulators), log.csv,
learning_curve.png, dataset.npz (x, y, inner_lr and the encoder), summary.json (with the time per
meta-epoch after compilation). --eval trains --eval-learners fresh learners on a saved dataset
(checkpoint folder or npz) with one SGD step each, plays one full game per learner (no life loss,
raw rewards, sampled actions) and prints mean ± std.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from rlsl_jax.config import add_config_args, config_from_args, config_from_dict, config_to_dict
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.experiments.common import (UsageError, add_parallel_args, is_main_process, run_main, setup_parallel,
                                         write_json)

NUM_LAYERS = 5
KMIN_TABLE5 = {"Centipede": 10, "MsPacman": 6, "Pong": 4, "SpaceInvaders": 4}
# PPMO on Atari: CleanRL's Atari PPO settings (8 envs × 128 steps, 4 minibatches, 4 epochs) with
# the paper's ε = 0.1 (DESIGN.md); everything else is PPMOConfig's (the paper's Appendix A).
ATARI_DEFAULTS = {"num_envs": 8, "rollout_steps": 128, "minibatch_size": 256, "clip_eps": 0.1}
SKIP_FIELDS = ("critic_hidden",)  # the Atari critic is a Nature CNN


def kmin_for(num_actions: int) -> int:
    """Eq. 3: k_min = ceil(c / 2) + 1 (Table 5's values for the four games)."""
    return math.ceil(num_actions / 2) + 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.atari", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default=None,
                   help="Atari game: Centipede, MsPacman, Pong, SpaceInvaders or any envpool Atari id "
                        "(e.g. Breakout or Breakout-v5); required for training")
    p.add_argument("--layer", type=int, default=None,
                   help="encoder rollback layer l in 0..5 (0 = full distillation, 5 = plain PPO); default 0, "
                        "or with --eval the dataset's own")
    p.add_argument("--envs", dest="num_envs", type=int, default=argparse.SUPPRESS,
                   help="parallel environments per learner (E; alias of --num-envs)")
    p.add_argument("--meta-epochs", type=int, default=10000, help="total meta-epochs to run")
    p.add_argument("--seed", type=int, default=0, help="random seed (learners, dataset, envpool's emulators)")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default runs/atari/<game>_l<layer>; with --eval: where eval.json goes, "
                        "optional)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its newest checkpoint (saved config; emulators restart)")
    p.add_argument("--chunk", type=int, default=10, help="meta-epochs per jitted chunk (host logs once per chunk)")
    p.add_argument("--checkpoint-every", type=int, default=100, help="save a checkpoint every C meta-epochs")
    p.add_argument("--train-life-loss", action=argparse.BooleanOptionalAction, default=True,
                   help="a lost life ends the TRAINING episode (envpool episodic_life)")
    p.add_argument("--train-reward-clip", action=argparse.BooleanOptionalAction, default=True,
                   help="train on sign-clipped rewards (scores stay raw)")
    p.add_argument("--final-eval-learners", type=int, default=0,
                   help="after training, score this many fresh learners on the final dataset (0 = skip)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    g = p.add_argument_group("evaluation")
    g.add_argument("--eval", type=Path, default=None, metavar="DATASET",
                   help="evaluate a saved dataset (run folder, checkpoint folder or npz) instead of training")
    g.add_argument("--eval-learners", type=int, default=32, help="fresh learners to train and score")
    g.add_argument("--untrained", action="store_true",
                   help="score the learners WITHOUT the SGD step (inner lr 0): the untrained baseline")
    g.add_argument("--eval-max-steps", type=int, default=0,
                   help="stop the evaluation after this many agent steps even if games are still running "
                        "(their partial scores are then reported as truncated); 0 = play every game to its end")
    add_config_args(p, PPMOConfig, skip=SKIP_FIELDS)
    # --devices: the population and its envs split over the devices, one envpool pool per device
    # (envpool_bridge.DevicePools); with --distributed each process steps its own devices' pools
    add_parallel_args(p, what="the learner population and its envpool envs (one pool per device)")
    p.set_defaults(k=None, **ATARI_DEFAULTS)
    return p


def resolve_game(game: str) -> tuple[str, str]:
    """'Pong', 'Pong-v5' or 'envpool/Pong-v5' -> ('Pong', 'Pong-v5'); UsageError listing the ids."""
    from rlsl_jax.envs.envpool_bridge import atari_ids

    ids = atari_ids()
    if not ids:
        raise UsageError("envpool is not installed: pip install 'rlsl-jax[atari]' (envpool>=1.2.5)")
    name = game.removeprefix("envpool/")
    task = name if name.endswith("-v5") else f"{name}-v5"
    if task not in ids:
        raise UsageError(f"unknown game {game!r}; valid envpool Atari ids: {', '.join(ids)}")
    return task.removesuffix("-v5"), task


def validate(args) -> None:
    if args.layer is not None and not 0 <= args.layer <= NUM_LAYERS:
        raise UsageError(f"--layer must be in 0..{NUM_LAYERS} (got {args.layer})")
    if args.k is not None and args.k < 1:
        raise UsageError(f"--k must be >= 1 (got {args.k})")
    for name in ("population", "num_envs", "rollout_steps", "update_epochs", "minibatch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    if args.meta_epochs < 0 or args.chunk < 1 or args.checkpoint_every < 1:
        raise UsageError("--meta-epochs must be >= 0, --chunk and --checkpoint-every >= 1")
    if args.eval_learners < 1 or args.eval_max_steps < 0 or args.final_eval_learners < 0:
        raise UsageError("--eval-learners must be >= 1, --eval-max-steps and --final-eval-learners >= 0")
    if args.eval is not None:
        if args.resume:
            raise UsageError("--eval and --resume do not go together")
        if not args.eval.exists():
            raise UsageError(f"--eval: {args.eval} does not exist")
        if args.game is not None:
            resolve_game(args.game)
        return
    if args.resume:
        if args.out is None or not (args.out / "run.json").exists():
            raise UsageError(f"--resume: no run in {args.out} (run.json missing); start one without --resume")
        return
    if args.game is None:
        raise UsageError("--game is required (e.g. --game Pong); or --eval DATASET to score a dataset")
    resolve_game(args.game)
    if args.out is None:
        args.out = Path("runs/atari") / f"{resolve_game(args.game)[0]}_l{args.layer or 0}"
    if args.out.exists() and any(args.out.iterdir()):
        raise UsageError(f"{args.out} already holds files; pass --resume to continue that run or choose "
                         f"another --out (nothing was overwritten)")


# ------------------------------------------------------------------------------------------------
# k-shot evaluation on envpool


def kshot_scores(key, ds, task: str, learner, encoder_apply, num_learners: int, *, seed: int = 0,
                 env_kwargs: dict | None = None, untrained: bool = False, max_steps: int = 0,
                 chunk_steps: int = 200, progress: bool = True) -> dict:
    """Samples ``num_learners`` learners, trains each by ONE SGD step on ``ds`` (``untrained``:
    lr 0), and plays one full game per learner in a pool of ``num_learners`` envpool envs
    (``env_kwargs``, default ``EVAL_KWARGS``: no life loss, raw rewards), actions sampled from
    softmax(logits). Returns {"mean", "std", "n", "scores", "steps", "truncated", "wall_s"}:
    scores are raw full-game returns."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from tqdm.auto import tqdm

    from rlsl_jax.distill.ppmo import adapted_params, policy_apply
    from rlsl_jax.envs import make
    from rlsl_jax.envs.envpool_bridge import EVAL_KWARGS

    t0 = time.time()
    benv, _ = make(f"envpool/{task}", num_envs=num_learners, seed=seed,
                   **(EVAL_KWARGS if env_kwargs is None else env_kwargs))
    ds = jax.tree.map(jnp.asarray, ds)
    if untrained:
        ds = ds.replace(inner_lr=jnp.zeros_like(ds.inner_lr))
    k_init, k_play = jax.random.split(key)
    phi = learner.sample(k_init, num_learners)
    phi1 = jax.jit(jax.vmap(lambda p, d: adapted_params(d, p, learner.apply, encoder_apply), in_axes=(0, None),
                            axis_size=num_learners))(phi, ds)
    policy = policy_apply(learner.apply, encoder_apply)

    @jax.jit
    def play(phi1, ds, c, keys):  # learners and dataset as arguments, not as baked-in constants
        def body(c, k):
            obs, st, alive, score = c
            logits = jax.vmap(lambda p, o: policy(ds, p, o))(phi1, obs)
            res = benv.step(k, st, jax.random.categorical(k, logits))
            ended = res.state.finished_games > st.finished_games
            score = jnp.where(alive & ended, res.state.finished_score - st.finished_score, score)
            running = jnp.where(alive & ~ended, res.state.score, 0.0)
            return (res.obs, res.state, alive & ~ended, score), running

        c, running = jax.lax.scan(body, c, keys)
        return c, running[-1]

    obs, st = benv.reset()
    carry = (obs, st, jnp.ones((num_learners,), bool), jnp.zeros((num_learners,), jnp.float32))
    steps, running = 0, np.zeros(num_learners, np.float32)
    bar = tqdm(disable=not progress, unit="step", desc=f"{task} eval", dynamic_ncols=True)
    while bool(np.asarray(carry[2]).any()) and (max_steps == 0 or steps < max_steps):
        n = chunk_steps if max_steps == 0 else min(chunk_steps, max_steps - steps)
        carry, last_running = play(phi1, ds, carry, jax.random.split(jax.random.fold_in(k_play, steps), n))
        # (a chunk shorter than chunk_steps compiles once more; only the last one can be)
        steps += n
        running = np.asarray(last_running)
        bar.update(n)
        bar.set_postfix(playing=int(np.asarray(carry[2]).sum()))
    bar.close()
    alive = np.asarray(carry[2])
    scores = np.where(alive, running, np.asarray(carry[3]))
    return {"mean": float(scores.mean()), "std": float(scores.std()), "n": int(num_learners),
            "scores": scores.tolist(), "steps": steps, "truncated": int(alive.sum()),
            "untrained": bool(untrained), "wall_s": round(time.time() - t0, 1)}


def stored_layer(meta: dict) -> int:
    """Rollback layer a dataset was distilled at (0 for the authors' npz and other encoder-less files)."""
    if "layer" in meta:
        return int(meta["layer"])
    if "encoder_layer" in meta:
        return int(meta["encoder_layer"])
    enc = meta.get("encoder")
    return int(enc["layer"]) if isinstance(enc, dict) and "layer" in enc else 0


def run_eval(args) -> None:
    import jax

    from rlsl_jax import checkpoint
    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.envs import make
    from rlsl_jax.networks.cnn import ATARI_OBS_SHAPE, nature_cnn_split

    configure_cpu(1)
    try:
        ds, meta = checkpoint.load_dataset(args.eval)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(f"--eval: {e}") from e
    game = args.game or meta.get("game")
    if game is None:
        raise UsageError(f"--eval: {args.eval} does not record its game; pass --game")
    if args.game and meta.get("game") and resolve_game(args.game)[0] != meta["game"]:
        raise UsageError(f"--eval: the dataset was distilled on {meta['game']}, not {args.game}")
    game, task = resolve_game(game)
    layer = args.layer if args.layer is not None else stored_layer(meta)
    probe, _ = make(f"envpool/{task}", num_envs=1)
    num_actions = int(probe.action_space().n)
    del probe
    if tuple(ds.x.shape[1:]) != ATARI_OBS_SHAPE or ds.y.shape[1] != num_actions:
        raise UsageError(f"--eval: dataset x {tuple(ds.x.shape)} / y {tuple(ds.y.shape)} do not fit {task} "
                         f"(x [k, 4, 84, 84], y [k, {num_actions}])")
    learner, enc = nature_cnn_split(num_actions, layer)
    expected = None if enc is None else jax.eval_shape(enc.init, jax.random.key(0))
    try:
        checkpoint.check_encoder(ds.encoder, expected, str(args.eval), meta)
    except ValueError as e:
        raise UsageError(str(e)) from e
    r = kshot_scores(jax.random.key(args.seed + 1_000_003), ds, task, learner, None if enc is None else enc.apply,
                     args.eval_learners, seed=args.seed + 1_000_003, untrained=args.untrained,
                     max_steps=args.eval_max_steps, progress=not args.no_progress)
    r.update({"dataset": str(args.eval), "game": game, "task": task, "layer": layer, "k": int(ds.x.shape[0]),
              "inner_lr": float(ds.inner_lr), "seed": args.seed})
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / ("eval_untrained.json" if args.untrained else "eval.json"), r)
    trunc = f", {r['truncated']} games cut at {r['steps']} steps (partial scores)" if r["truncated"] else ""
    print(f"{task} k={r['k']} l={layer}{' UNTRAINED' if args.untrained else ''}: {r['n']} fresh learners, "
          f"score {r['mean']:.1f} ± {r['std']:.1f} (one full game each, raw score, sampled actions; "
          f"{r['steps']} steps in {r['wall_s']:.0f}s{trunc})")


# ------------------------------------------------------------------------------------------------
# training


def make_atari_meta_step(cfg: PPMOConfig, task: str, layer: int, seed: int, env_kwargs: dict, mesh=None):
    """(init, meta_step, learner, encoder, benv) for PPMO on envpool ``task`` at rollback ``layer``.

    ``meta_step`` is PPMO's, followed by draining the bridge's full-game score counters into the
    metrics: ``episode_return`` is the mean raw score of the games that ended in that meta-epoch
    (nan if none), ``episodes`` their number, ``last_return`` the mean of each env's last score;
    ``train_episode_return`` is the rollout's own (clipped-reward, life-loss) episode mean."""
    import jax

    from rlsl_jax.distill import make_meta_step
    from rlsl_jax.envs import make
    from rlsl_jax.envs.envpool_bridge import drain_scores
    from rlsl_jax.networks.cnn import nature_cnn_critic, nature_cnn_split

    benv, _ = make(f"envpool/{task}", num_envs=cfg.population * cfg.num_envs, seed=seed, mesh=mesh, **env_kwargs)
    num_actions = int(benv.action_space().n)
    learner, enc = nature_cnn_split(num_actions, layer)
    init, ppmo_step = make_meta_step(cfg, None, None, learner, benv=benv, critic=nature_cnn_critic(), encoder=enc,
                                     mesh=mesh)

    def meta_step(state, key):
        state, m = ppmo_step(state, key)
        env_state, s = drain_scores(state.carry.env_state)
        state = state.replace(carry=state.carry.replace(env_state=env_state))
        m = {**m, "train_episode_return": m["episode_return"], "episode_return": s["score"],
             "episodes": s["games"], "last_return": env_state.last_score.mean()}
        return state, m

    return init, jax.jit(meta_step), learner, enc, benv


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    # --distributed: before envpool is imported; the population is checked once the config is known
    mesh = setup_parallel(args)
    validate(args)
    if args.eval is not None:
        return run_eval(args)

    import jax

    from rlsl_jax.checkpoint import write_npz
    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.distill import runner
    from rlsl_jax.experiments.common import plot_curve
    from rlsl_jax.envs.envpool_bridge import TRAIN_KWARGS
    from rlsl_jax.networks.cnn import ATARI_OBS_SHAPE, encoder_description

    configure_cpu(1)
    if args.resume:
        run_info = json.loads((args.out / "run.json").read_text())
        cfg = config_from_dict(PPMOConfig, run_info["config"])
        game, task, layer = run_info["game"], run_info["task"], run_info["layer"]
        env_kwargs, seed = run_info["env_kwargs"], run_info["seed"]
        print(f"resuming {args.out}: saved config and seed {seed} are used; --meta-epochs {args.meta_epochs}; "
              f"the emulators restart (their state is not checkpointed)", file=sys.stderr)
    else:
        game, task = resolve_game(args.game)
        layer = args.layer or 0
        env_kwargs = {**TRAIN_KWARGS, "episodic_life": args.train_life_loss, "reward_clip": args.train_reward_clip}
        seed = args.seed
        k = args.k
        if k is None:
            from rlsl_jax.envs import make

            probe, _ = make(f"envpool/{task}", num_envs=1)
            k = KMIN_TABLE5.get(game) or kmin_for(int(probe.action_space().n))
            del probe
        cfg = config_from_args(PPMOConfig, args, k=k)
    if mesh is not None and cfg.population % mesh.size:
        raise UsageError(f"--population ({cfg.population}) must be a multiple of the device count ({mesh.size})")

    init, meta_step, learner, enc, benv = make_atari_meta_step(cfg, task, layer, seed, env_kwargs, mesh)
    num_actions = int(benv.action_space().n)
    metadata = {
        "env_id": f"envpool/{task}", "env_kwargs": env_kwargs, "game": game, "k": cfg.k, "layer": layer,
        "obs_shape": list(ATARI_OBS_SHAPE), "num_actions": num_actions, "learner": learner.describe(),
        "encoder": encoder_description(num_actions, layer), "seed": seed, "config": config_to_dict(cfg),
        "method": "ppo" if layer == NUM_LAYERS else "ppmo",
    }
    main_process = is_main_process()
    if main_process:
        args.out.mkdir(parents=True, exist_ok=True)
    if not args.resume and main_process:
        write_json(args.out / "run.json", {"game": game, "task": task, "layer": layer, "env_kwargs": env_kwargs,
                                           "seed": seed, "config": config_to_dict(cfg)})
    ticks: list[tuple[float, int]] = []

    def on_chunk(state, metrics):
        ticks.append((time.time(), int(state.meta_epoch)))

    state, info = runner.run(init, meta_step, out_dir=args.out, meta_epochs=args.meta_epochs, seed=seed,
                             metadata=metadata, resume=args.resume, chunk=args.chunk,
                             checkpoint_every=args.checkpoint_every, progress=not args.no_progress,
                             on_chunk=on_chunk, after_restore=lambda restored, fresh: restored.replace(carry=fresh.carry))
    if not main_process:  # only process 0 writes plots, the npz and summaries
        return
    plot_curve(args.out / "log.csv", args.out / "learning_curve.png", "meta_epoch", ["episode_return", "inner_lr"],
               f"{'PPO' if layer == NUM_LAYERS else 'PPMO'} {task} l={layer} k={cfg.k} P={cfg.population} "
               f"(episode_return = raw game score)")
    # from memory, on host copies: in a multi-process run only process 0 is here
    dataset = jax.device_get(state.dataset)
    write_npz(dataset, metadata, args.out / "dataset.npz")
    summary = {"game": game, "task": task, "layer": layer, "k": cfg.k, "population": cfg.population,
               "num_envs": cfg.num_envs, "rollout_steps": cfg.rollout_steps, "meta_epochs": int(state.meta_epoch),
               "train_wall_s": round(info["wall_s"], 2), "backend": jax.default_backend(),
               "device": str(jax.devices()[0])}
    if len(ticks) >= 2 and ticks[-1][1] > ticks[0][1]:
        summary["epoch_s_after_compile"] = (ticks[-1][0] - ticks[0][0]) / (ticks[-1][1] - ticks[0][1])
    if args.final_eval_learners:
        r = kshot_scores(jax.random.key(seed + 1_000_003), dataset, task, learner,
                         None if enc is None else enc.apply, args.final_eval_learners, seed=seed + 1_000_003,
                         progress=not args.no_progress)
        summary["eval"] = {k: r[k] for k in ("mean", "std", "n", "steps", "truncated")}
    write_json(args.out / "summary.json", summary)
    line = f"{task} l={layer} k={cfg.k}: {summary['meta_epochs']} meta-epochs in {summary['train_wall_s']:.1f}s"
    if "epoch_s_after_compile" in summary:
        line += f" ({summary['epoch_s_after_compile']:.2f} s/meta-epoch after compile)"
    if "eval" in summary:
        line += f"; {r['n']} fresh learners: score {r['mean']:.1f} ± {r['std']:.1f}"
    print(line)


if __name__ == "__main__":
    run_main(main)
