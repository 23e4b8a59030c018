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
import time
from pathlib import Path

from rlsl_jax.config import add_config_args, config_from_args, config_to_dict
from rlsl_jax.experiments.common import (UsageError, add_parallel_args, is_main_process, run_main, setup_parallel,
                                         write_json)
from rlsl_jax.rl.ppo import PPOConfig

LOG_FIELDS = ("epoch", "env_steps", "wall_s", "episode_return", "episode_return_min", "episode_return_max",
              "last_return", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac", "grad_norm")


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
    add_parallel_args(p, what="the seeds (independent agents)")
    return p


def validate(args, check_out: bool = True) -> None:
    from rlsl_jax.envs import list_envs

    if args.env not in list_envs():
        raise UsageError(f"unknown env {args.env!r}; valid: {', '.join(list_envs())}")
    checks = [("dims", 1), ("seeds", 1), ("total_steps", 1), ("chunk", 1), ("eval_episodes", 0), ("select_episodes", 0),
              ("num_envs", 1), ("rollout_steps", 1), ("update_epochs", 1), ("minibatch_size", 1),
              ("anneal_steps", 0)]
    for name, lo in checks:
        if getattr(args, name) < lo:
            raise UsageError(f"--{name.replace('_', '-')} must be >= {lo} (got {getattr(args, name)})")
    if not args.time_scale > 0:
        raise UsageError(f"--time-scale must be > 0 (got {args.time_scale})")
    if check_out and args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise UsageError(f"{args.out} already exists and is not an empty directory; choose another --out "
                         f"(nothing was overwritten)")


def make_env(env_id: str, dims: int, time_scale: float = 1.0):
    """(env, params, env_kwargs) for a discrete-action env; UsageError otherwise."""
    from rlsl_jax.envs import make
    from rlsl_jax.experiments.cartpole import env_kwargs_for

    kwargs = env_kwargs_for(env_id, dims, time_scale)
    try:
        env, params = make(env_id, **kwargs)
    except ValueError as e:
        raise UsageError(str(e)) from e
    if not hasattr(env.action_space(params), "n"):
        raise UsageError(f"{env_id} has a continuous action space; direct PPO here is discrete-action only")
    return env, params, kwargs


def chunk_plan(total: int, chunk: int) -> list[int]:
    """Sizes of the jitted chunks covering ``total`` epochs: equal chunks of the largest divisor of
    ``total`` that is <= ``chunk`` (one compilation), unless that divisor is below chunk / 4; then
    ``chunk``-sized chunks and one remainder (two compilations)."""
    chunk = max(1, min(chunk, total))
    d = next(d for d in range(chunk, 0, -1) if total % d == 0)
    if 4 * d >= chunk:
        return [d] * (total // d)
    return [chunk] * (total // chunk) + ([total % chunk] if total % chunk else [])


def run_ppo(cfg: PPOConfig, env, env_params, *, seeds: int, seed: int, total_steps: int, chunk: int = 25,
            eval_episodes: int = 100, log_path: Path | None = None, progress: bool = False, mesh=None,
            select_episodes: int = 0) -> dict:
    """Trains ``seeds`` PPO agents (vmapped) for ``total_steps`` env steps each and scores them.

    Returns a summary dict: epochs, env_steps, compile_s (trace + XLA compile of one chunk), train_s
    (running all chunks), per-seed final returns (sampled and greedy) and their mean ± std.
    With ``select_episodes`` > 0 every agent's policy is also scored after every chunk on that many
    fresh episodes, its best checkpoint kept and, at the end, re-scored on ``eval_episodes`` new
    episodes ("best_checkpoint"; select_s is the time this took, not part of train_s).
    With a device ``mesh`` the seeds are sharded over its devices (``seeds`` a multiple of their
    number); metrics and scores come back replicated (every process of a multi-host run has them).
    """
    import jax
    import jax.numpy as jnp
    import numpy as np
    from tqdm.auto import tqdm

    from rlsl_jax.experiments.common import CSVLog
    from rlsl_jax.networks import cartpole_learner
    from rlsl_jax.rl.ppo import epoch_keys, init_seeds, make_seed_chunk, make_train_step, policy_returns

    obs_dim = int(np.prod(env.observation_space(env_params).shape))
    learner = cartpole_learner(obs_dim, int(env.action_space(env_params).n))
    epochs = cfg.epochs_for(total_steps)
    init, step = make_train_step(cfg, env, env_params, learner)
    k_init, k_epochs, k_eval = jax.random.split(jax.random.key(seed), 3)
    states = init_seeds(init, jax.random.split(k_init, seeds))
    seed_epoch_keys = jax.random.split(k_epochs, seeds)
    chunk_fn = make_seed_chunk(step)
    if mesh is not None:  # seeds sharded over the devices, per-epoch metrics replicated
        from rlsl_jax.parallel import batch_sharding, check_divisible, replicated

        check_divisible(seeds, mesh, "seeds")
        states = jax.device_put(states, batch_sharding(mesh))
        seed_epoch_keys = jax.device_put(seed_epoch_keys, batch_sharding(mesh))
        chunk_fn = jax.jit(chunk_fn, out_shardings=(batch_sharding(mesh), replicated(mesh)))
    keys_of = jax.jit(jax.vmap(epoch_keys, in_axes=(0, None, None)), static_argnums=(1, 2))

    def scorer(episodes, greedy):  # (keys [S], actors [S]) -> returns [S, episodes]
        return jax.jit(jax.vmap(lambda k, a: policy_returns(k, a, env, env_params, learner, episodes, greedy)),
                       out_shardings=None if mesh is None else replicated(mesh))

    k_eval, k_select = jax.random.split(k_eval)
    best_actor, best_score, select_s = states.actor, np.full(seeds, -np.inf), 0.0
    select_score = scorer(select_episodes, False) if select_episodes else None

    t0 = time.time()
    plan = chunk_plan(epochs, chunk)
    compiled = {n: chunk_fn.lower(states, keys_of(seed_epoch_keys, 0, n)).compile() for n in set(plan)}
    compile_s = time.time() - t0
    log = CSVLog(log_path, LOG_FIELDS) if log_path is not None else None
    bar = tqdm(total=epochs, disable=not progress, unit="epoch", dynamic_ncols=True)
    t0 = time.time()
    finals = []
    start = 0
    for n in plan:
        states, metrics = compiled[n](states, keys_of(seed_epoch_keys, start, n))
        metrics = jax.device_get(metrics)
        if select_score is not None:  # keep each agent's best policy so far (first best on ties)
            t_sel = time.time()
            sel = np.asarray(select_score(jax.random.split(jax.random.fold_in(k_select, start), seeds),
                                          states.actor)).mean(1)
            better = sel > best_score
            best_score = np.where(better, sel, best_score)
            best_actor = jax.tree.map(lambda b, a: jnp.where(better.reshape(-1, *[1] * (a.ndim - 1)), a, b),
                                      best_actor, states.actor)
            select_s += time.time() - t_sel
        wall = time.time() - t0 - select_s
        ret = np.asarray(metrics["episode_return"])  # [S, n], nan where no episode ended
        finals.append(ret)
        if log is not None:
            rows = []
            for i in range(n):
                col = ret[:, i]
                fin = col[np.isfinite(col)]
                row = {k: float(np.nanmean(np.asarray(v)[:, i])) for k, v in metrics.items()
                       if k not in ("episode_return", "episodes")}
                row.update(epoch=start + i + 1, env_steps=(start + i + 1) * cfg.transitions_per_epoch, wall_s=wall,
                           episode_return=float(fin.mean()) if fin.size else float("nan"),
                           episode_return_min=float(fin.min()) if fin.size else float("nan"),
                           episode_return_max=float(fin.max()) if fin.size else float("nan"))
                rows.append(row)
            log.write(rows)
        last = ret[:, -1][np.isfinite(ret[:, -1])]
        bar.set_postfix(ret=f"{last.mean():.1f}" if last.size else "-")
        bar.update(n)
        start += n
    jax.block_until_ready(states)
    train_s = time.time() - t0 - select_s
    bar.close()
    summary = {"epochs": epochs, "env_steps_per_seed": epochs * cfg.transitions_per_epoch, "seeds": seeds,
               "compile_s": round(compile_s, 3), "train_s": round(train_s, 3), "select_s": round(select_s, 3)}
    last = np.concatenate(finals, 1)[:, -10:]
    summary["train_return_last10"] = float(np.nanmean(last))
    if eval_episodes:
        modes = [("sampled", False, states.actor), ("greedy", True, states.actor)]
        if select_score is not None:
            modes.append(("best_checkpoint", False, best_actor))
        for mode, greedy, actors in modes:
            per_seed = np.asarray(scorer(eval_episodes, greedy)(jax.random.split(k_eval, seeds), actors)).mean(1)
            summary[mode] = {"mean": float(per_seed.mean()), "std": float(per_seed.std()),
                             "median": float(np.median(per_seed)), "ge475": int((per_seed >= 475).sum()),
                             "per_seed": [round(float(r), 2) for r in per_seed], "episodes": eval_episodes}
    return summary


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    mesh = setup_parallel(args, {"--seeds": max(args.seeds, 1)})  # multi-host: first, before any JAX use
    main_process = is_main_process()
    validate(args, check_out=main_process)
    try:
        cfg = config_from_args(PPOConfig, args)
    except ValueError as e:
        raise UsageError(str(e)) from e
    env, env_params, env_kwargs = make_env(args.env, args.dims, args.time_scale)

    import jax

    from rlsl_jax.experiments.common import plot_curve

    args.out.mkdir(parents=True, exist_ok=True)
    summary = run_ppo(cfg, env, env_params, seeds=args.seeds, seed=args.seed, total_steps=args.total_steps,
                      chunk=args.chunk, eval_episodes=args.eval_episodes,
                      log_path=args.out / "log.csv" if main_process else None,
                      progress=not args.no_progress and main_process, mesh=mesh,
                      select_episodes=args.select_episodes)
    if not main_process:
        return
    summary = {"env_id": args.env, "env_kwargs": env_kwargs, "seed": args.seed, "config": config_to_dict(cfg),
               "backend": jax.default_backend(), **summary}
    write_json(args.out / "summary.json", summary)
    plot_curve(args.out / "log.csv", args.out / "learning_curve.png", "env_steps",
               ["episode_return", "entropy"], f"PPO {args.env} {env_kwargs} ({args.seeds} seeds)")
    line = (f"PPO {args.env} {env_kwargs}: {args.seeds} seeds x {summary['env_steps_per_seed']} steps "
            f"({summary['epochs']} epochs) in {summary['train_s']:.1f}s + {summary['compile_s']:.1f}s compile")
    if args.eval_episodes:
        line += (f"; final return sampled {summary['sampled']['mean']:.1f} ± {summary['sampled']['std']:.1f}, "
                 f"greedy {summary['greedy']['mean']:.1f} ± {summary['greedy']['std']:.1f} (over seeds)")
        if "best_checkpoint" in summary:
            line += (f"; best checkpoint (re-scored on new episodes) {summary['best_checkpoint']['mean']:.1f} ± "
                     f"{summary['best_checkpoint']['std']:.1f}")
    line += f"; training return, last 10 epochs {summary['train_return_last10']:.1f}"
    print(line)


if __name__ == "__main__":
    run_main(main)
