"""Direct PPO (the paper's "RL" baseline) for S independent agents at once, scored at the end.

``run_ppo`` trains S seeds vmapped through the host loop (``runner.run``: AOT-compiled chunks,
so compile_s and train_s are separate; log.csv rows are per epoch, aggregated over the seeds).
With ``select_episodes`` > 0 an ``on_chunk`` callback scores every agent's current policy after
each chunk and keeps its best checkpoint. At the end the final policies are scored with sampled
and greedy actions, and the best checkpoints (if selected) on NEW episodes
(``evaluate.policy_returns``). Keys: ``k_init, k_epochs, k_eval = split(key(seed), 3)``; the seeds'
init and epoch keys are ``split(k_init, S)`` and ``split(k_epochs, S)`` (the runner's).
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax.evaluate import policy_returns
from rlsl_jax.networks import cartpole_learner
from rlsl_jax.parallel import replicated
from rlsl_jax.rl.ppo import PPOConfig, make_train_step
from rlsl_jax.runner import run

LOG_FIELDS = ("epoch", "env_steps", "wall_s", "episode_return", "episode_return_min", "episode_return_max",
              "last_return", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac", "grad_norm")


def make_env(env_id: str, dims: int, time_scale: float = 1.0):
    """(env, params, env_kwargs) for a discrete-action env; ValueError (one line) otherwise."""
    from rlsl_jax.envs import list_envs, make
    from rlsl_jax.tasks.cartpole import env_kwargs_for

    if env_id not in list_envs():
        raise ValueError(f"unknown env {env_id!r}; valid: {', '.join(list_envs())}")
    kwargs = env_kwargs_for(env_id, dims, time_scale)
    env, params = make(env_id, **kwargs)
    if not hasattr(env.action_space(params), "n"):
        raise ValueError(f"{env_id} has a continuous action space; direct PPO here is discrete-action only")
    return env, params, kwargs


def seed_rows(metrics: dict, start: int, wall: float, transitions_per_epoch: int) -> list[dict]:
    """One log row per epoch of a chunk of S seeds (metrics [S, n]): means over seeds; the episode
    return's mean/min/max over the seeds whose episodes ended in that epoch."""
    ret = np.asarray(metrics["episode_return"])  # [S, n], nan where no episode ended
    rows = []
    for i in range(ret.shape[1]):
        fin = ret[:, i][np.isfinite(ret[:, i])]
        row = {k: float(np.nanmean(np.asarray(v)[:, i])) for k, v in metrics.items()
               if k not in ("episode_return", "episodes")}
        row.update(epoch=start + i + 1, env_steps=(start + i + 1) * transitions_per_epoch, wall_s=wall,
                   episode_return=float(fin.mean()) if fin.size else float("nan"),
                   episode_return_min=float(fin.min()) if fin.size else float("nan"),
                   episode_return_max=float(fin.max()) if fin.size else float("nan"))
        rows.append(row)
    return rows


def run_ppo(cfg: PPOConfig, env, env_params, *, seeds: int, seed: int, total_steps: int, chunk: int = 25,
            eval_episodes: int = 100, out_dir: Path | None = None, progress: bool = False, mesh=None,
            select_episodes: int = 0) -> dict:
    """Trains ``seeds`` PPO agents (vmapped) for ``total_steps`` env steps each and scores them.

    Returns a summary dict: epochs, env_steps_per_seed, seeds, compile_s (trace + XLA compile of the
    chunks), train_s (running all chunks), select_s, train_return_last10, and per mode (sampled,
    greedy, best_checkpoint) the per-seed final returns and their mean, std, median, ge475.
    With ``select_episodes`` > 0 every agent's policy is also scored after every chunk on that many
    fresh episodes, its best checkpoint kept and, at the end, re-scored on ``eval_episodes`` new
    episodes ("best_checkpoint"; select_s is the time this took, not part of train_s).
    With ``out_dir`` the per-epoch log goes to out_dir/log.csv. With a device ``mesh`` the seeds
    are sharded over its devices (``seeds`` a multiple of their number); metrics and scores come
    back replicated (every process of a multi-host run has them).
    """
    obs_dim = int(np.prod(env.observation_space(env_params).shape))
    learner = cartpole_learner(obs_dim, int(env.action_space(env_params).n))
    init, step = make_train_step(cfg, env, env_params, learner)
    k_init, k_epochs, k_eval = jax.random.split(jax.random.key(seed), 3)
    k_eval, k_select = jax.random.split(k_eval)

    def scorer(episodes, greedy):  # (keys [S], actors [S]) -> returns [S, episodes]
        return jax.jit(jax.vmap(lambda k, a: policy_returns(k, a, env, env_params, learner, episodes, greedy)),
                       out_shardings=None if mesh is None else replicated(mesh))

    select_score = scorer(select_episodes, False) if select_episodes else None
    sel = {"actor": None, "score": np.full(seeds, -np.inf), "s": 0.0, "epoch": 0}
    finals = []

    def on_chunk(states, metrics, epoch):
        finals.append(np.asarray(metrics["episode_return"]))
        start, sel["epoch"] = sel["epoch"], epoch
        if select_score is None:
            return False
        t0 = time.time()  # keep each agent's best policy so far (first best on ties)
        score = np.asarray(select_score(jax.random.split(jax.random.fold_in(k_select, start), seeds),
                                        states.actor)).mean(1)
        better = score > sel["score"]
        sel["score"] = np.where(better, score, sel["score"])
        best = states.actor if sel["actor"] is None else sel["actor"]
        sel["actor"] = jax.tree.map(lambda b, a: jnp.where(better.reshape(-1, *[1] * (a.ndim - 1)), a, b),
                                    best, states.actor)
        sel["s"] += time.time() - t0
        return False

    def rows_of(metrics, start, wall):  # wall clock of training only (selection excluded)
        return seed_rows(metrics, start, wall - sel["s"], cfg.transitions_per_epoch)

    def postfix(metrics):
        last = np.asarray(metrics["episode_return"])[:, -1]
        last = last[np.isfinite(last)]
        return {"ret": f"{last.mean():.1f}" if last.size else "-"}

    epochs = cfg.epochs_for(total_steps)
    states, info = run(init, step, epochs=epochs, init_key=k_init, epoch_key=k_epochs, num_seeds=seeds, mesh=mesh,
                       out_dir=out_dir, log_fields=LOG_FIELDS, rows_of=rows_of, chunk=chunk, progress=progress,
                       unit="epoch", postfix=postfix, on_chunk=on_chunk, aot=True)
    summary = {"epochs": epochs, "env_steps_per_seed": epochs * cfg.transitions_per_epoch, "seeds": seeds,
               "compile_s": round(info["compile_s"], 3), "train_s": round(info["train_s"] - sel["s"], 3),
               "select_s": round(sel["s"], 3)}
    summary["train_return_last10"] = float(np.nanmean(np.concatenate(finals, 1)[:, -10:]))
    if eval_episodes:
        modes = [("sampled", False, states.actor), ("greedy", True, states.actor)]
        if select_score is not None:
            modes.append(("best_checkpoint", False, sel["actor"]))
        for mode, greedy, actors in modes:
            per_seed = np.asarray(scorer(eval_episodes, greedy)(jax.random.split(k_eval, seeds), actors)).mean(1)
            summary[mode] = {"mean": float(per_seed.mean()), "std": float(per_seed.std()),
                             "median": float(np.median(per_seed)), "ge475": int((per_seed >= 475).sum()),
                             "per_seed": [round(float(r), 2) for r in per_seed], "episodes": eval_episodes}
    return summary
