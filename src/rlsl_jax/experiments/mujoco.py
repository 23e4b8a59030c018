"""Distil a MuJoCo task (brax, or envpool MuJoCo-v4) with continuous-action PPMO, run direct PPO
on it, or score a distilled dataset.

    python -m rlsl_jax.experiments.mujoco --env hopper --k 64 --meta-epochs 2000 --out runs/mujoco/hopper
    python -m rlsl_jax.experiments.mujoco --env ant --method ppo --meta-epochs 2000 --out runs/mujoco/ant_ppo
    python -m rlsl_jax.experiments.mujoco --env hopper --backend envpool --out runs/mujoco/hopper_v4
    python -m rlsl_jax.experiments.mujoco --eval runs/mujoco/hopper --eval-learners 64

Learner: tanh MLP obs -> 64 -> 64 -> action means (orthogonal √2, head 0.01, zero biases) and a
state-independent log-std (init 0); actions ~ N(mean, exp(log-std)²), clipped to [-1, 1] by the
env, log-probs summed over action dimensions. The dataset θ is X [k, obs], Y [k, act] (mean
targets), a log-std target [act] (init 0) and η; the one inner SGD step fits means to Y and the
log-std to its target (MSE each). ε = 0.1, k = 64 by default.

Observations are normalised by running mean/var statistics (VecNormalize) and rewards scaled by
the running std of the discounted return (CleanRL); the observation statistics are part of the
distilled artefact (saved with X and Y in every checkpoint and in dataset.npz as obs_mean, obs_var,
obs_count) and --eval applies them, frozen. Every reported return (progress bar, log.csv's
episode_return, --eval) is the RAW env return.

--method ppo runs direct PPO (rl.ppo, the same rollout/GAE/loss/optimiser code) with the same
learner architecture as actor: the paper's RL column; its checkpoints hold the actor, not a dataset.

Writes to --out: checkpoints/ (orbax; --resume continues with the saved config), log.csv,
learning_curve.png, dataset.npz (PPMO), summary.json (time per meta-epoch after compilation).
--eval trains --eval-learners fresh learners by one SGD step each on a saved dataset, runs one
episode per learner (sampled actions; --greedy: the means) with the stored normaliser, and prints
mean ± std of the raw returns.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rlsl_jax.config import add_config_args, config_from_args, config_from_dict, config_to_dict
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.experiments.common import (UsageError, add_parallel_args, is_main_process, run_main, setup_parallel,
                                         write_json)

ENVS = ("ant", "halfcheetah", "hopper", "humanoid", "humanoidstandup", "inverted_double_pendulum", "reacher",
        "walker2d")
ENVPOOL_IDS = {"ant": "Ant-v4", "halfcheetah": "HalfCheetah-v4", "hopper": "Hopper-v4", "humanoid": "Humanoid-v4",
               "humanoidstandup": "HumanoidStandup-v4", "inverted_double_pendulum": "InvertedDoublePendulum-v4",
               "reacher": "Reacher-v4", "walker2d": "Walker2d-v4"}
BACKENDS = ("brax", "envpool")
METHODS = ("ppmo", "ppo")
# Table 3 of the paper (MuJoCo-v4, k = 64, full distillation).
TABLE3 = {"ant": 3485, "halfcheetah": 2526, "hopper": 1858, "humanoid": 543, "humanoidstandup": 139717,
          "inverted_double_pendulum": 1365, "reacher": -8.0, "walker2d": 201}
# Our MuJoCo settings (the paper gives k = 64 and ε = 0.1; the rest is ours): 16 envs x 128 steps =
# 2048 transitions per learner per meta-epoch (CleanRL's rollout size), 4 epochs x 4 minibatches of
# 512, no entropy bonus (CleanRL's continuous PPO), Adam 2.5e-4 (the paper's), everything else
# PPMOConfig's defaults.
MUJOCO_DEFAULTS = {"k": 64, "clip_eps": 0.1, "num_envs": 16, "rollout_steps": 128, "minibatch_size": 512,
                   "ent_coef": 0.0}
EPISODE_LENGTH = 1000


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.mujoco", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default=None, help=f"task: {', '.join(ENVS)}; required for training")
    p.add_argument("--backend", default="brax", choices=BACKENDS,
                   help="brax (pure JAX, vmappable; brax's sizes: humanoid 244 obs, inverted_double_pendulum 8) "
                        "or envpool (MuJoCo-v4 via make('envpool/<Task>-v4'))")
    p.add_argument("--brax-backend", default=None,
                   help="brax physics pipeline: mjx (default, brax's training default), generalized, positional "
                        "or spring (fastest to compile on a CPU)")
    p.add_argument("--method", default="ppmo", choices=METHODS,
                   help="ppmo: distil a dataset; ppo: direct PPO on the learner (the RL column)")
    p.add_argument("--episode-length", type=int, default=EPISODE_LENGTH, help="time limit (steps) of an episode")
    p.add_argument("--norm-obs", action=argparse.BooleanOptionalAction, default=True,
                   help="normalise observations by running mean/var (stored with the dataset)")
    p.add_argument("--scale-reward", action=argparse.BooleanOptionalAction, default=True,
                   help="scale rewards by the running std of the discounted return (training only)")
    p.add_argument("--meta-epochs", type=int, default=2000, help="total meta-epochs (PPO: epochs) to run")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed = same run)")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default runs/mujoco/<env>_<method>; with --eval: where eval.json goes, "
                        "optional)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    p.add_argument("--chunk", type=int, default=10, help="meta-epochs per jitted chunk (host logs once per chunk)")
    p.add_argument("--checkpoint-every", type=int, default=100, help="save a checkpoint every C meta-epochs")
    p.add_argument("--final-eval-learners", type=int, default=0,
                   help="after PPMO training, score this many fresh learners on the final dataset (0 = skip)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    g = p.add_argument_group("evaluation")
    g.add_argument("--eval", type=Path, default=None, metavar="DATASET",
                   help="evaluate a saved dataset (run folder, checkpoint folder or npz) instead of training")
    g.add_argument("--eval-learners", type=int, default=64, help="fresh learners to train and score")
    g.add_argument("--greedy", action="store_true", help="evaluate with the action means instead of samples")
    add_config_args(p, PPMOConfig)
    add_parallel_args(p, what="the PPMO population and its envs (envpool: one pool per device)")
    p.set_defaults(**MUJOCO_DEFAULTS)
    return p


def check_env_name(env: str) -> str:
    name = env.removeprefix("brax/").lower()
    if name not in ENVS:
        raise UsageError(f"unknown env {env!r}; valid: {', '.join(ENVS)}")
    return name


def validate(args) -> None:
    for name in ("k", "population", "num_envs", "rollout_steps", "update_epochs", "minibatch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    if args.meta_epochs < 0 or args.chunk < 1 or args.checkpoint_every < 1 or args.episode_length < 1:
        raise UsageError("--meta-epochs must be >= 0, --chunk, --checkpoint-every and --episode-length >= 1")
    if args.eval_learners < 1 or args.final_eval_learners < 0:
        raise UsageError("--eval-learners must be >= 1 and --final-eval-learners >= 0")
    if args.brax_backend is not None:
        from rlsl_jax.envs.brax_bridge import BACKENDS as BRAX_BACKENDS

        if args.brax_backend not in BRAX_BACKENDS:
            raise UsageError(f"unknown --brax-backend {args.brax_backend!r}; valid: {', '.join(BRAX_BACKENDS)}")
    if args.eval is not None:
        if args.resume:
            raise UsageError("--eval and --resume do not go together")
        if not args.eval.exists():
            raise UsageError(f"--eval: {args.eval} does not exist")
        if args.env is not None:
            check_env_name(args.env)
        return
    if args.resume:
        if args.out is None or not (args.out / "run.json").exists():
            raise UsageError(f"--resume: no run in {args.out} (run.json missing); start one without --resume")
        return
    if args.env is None:
        raise UsageError(f"--env is required (one of {', '.join(ENVS)}); or --eval DATASET to score a dataset")
    args.env = check_env_name(args.env)
    if args.method == "ppo" and args.population != 1:
        raise UsageError("--method ppo trains one agent; --population must be 1")
    if args.backend == "envpool":
        check_envpool()
    if args.out is None:
        args.out = Path("runs/mujoco") / f"{args.env}_{args.method}"
    if args.out.exists() and any(args.out.iterdir()):
        raise UsageError(f"{args.out} already holds files; pass --resume to continue that run or choose "
                         f"another --out (nothing was overwritten)")


def check_envpool() -> None:
    import importlib.util

    if importlib.util.find_spec("rlsl_jax.envs.envpool_mujoco") is None:
        raise UsageError("--backend envpool needs the envpool MuJoCo-v4 bridge (rlsl_jax.envs.envpool_mujoco), "
                         "which is not in this installation yet; use --backend brax")


def make_benv(backend: str, env: str, num_envs: int, seed: int, brax_backend: str | None, episode_length: int,
              mesh=None):
    """The batched env of ``num_envs`` copies of ``env`` (registry ids "brax/<env>" or "envpool/<Task>-v4");
    ``mesh``: envpool's pool is split over its devices (brax envs are sharded by PPMO itself)."""
    from rlsl_jax.envs import make

    try:
        if backend == "brax":
            kw = {"episode_length": episode_length}
            if brax_backend is not None:
                kw["backend"] = brax_backend
            benv, _ = make(f"brax/{env}", num_envs=num_envs, **kw)
        else:
            check_envpool()
            benv, _ = make(f"envpool/{ENVPOOL_IDS[env]}", num_envs=num_envs, seed=seed, mesh=mesh)
    except (ValueError, ImportError) as e:
        raise UsageError(str(e)) from e
    return benv


def env_id_of(backend: str, env: str) -> str:
    return f"brax/{env}" if backend == "brax" else f"envpool/{ENVPOOL_IDS[env]}"


# ------------------------------------------------------------------------------------------------
# training


def make_mujoco_step(cfg, method: str, benv, norm_obs: bool = True, scale_reward: bool = True, mesh=None):
    """(init, step, learner, dataset_of) for PPMO (``cfg`` a PPMOConfig) or direct PPO on ``benv``
    (P·E envs, P = 1 for PPO), observations normalised and rewards scaled by ``rl.normalize``.

    ``step``'s metrics report RAW returns: ``episode_return`` (mean of the episodes that ended in
    that meta-epoch, nan if none), ``episodes``, ``last_return``; ``train_episode_return`` is the
    rollout's own return of the scaled rewards. ``dataset_of(state)`` is what a checkpoint's
    ``dataset`` item holds: θ and the observation statistics (PPMO), or the actor and them (PPO)."""
    import math

    import flax.struct
    import jax
    import jax.numpy as jnp

    from rlsl_jax.distill.dataset import Dataset
    from rlsl_jax.networks.gaussian import mujoco_learner
    from rlsl_jax.rl.normalize import NormalizedEnv, drain_raw_returns, rms_to_arrays

    from rlsl_jax.envs.brax_bridge import BraxEnv

    nenv = NormalizedEnv(benv, gamma=cfg.gamma, norm_obs=norm_obs, scale_reward=scale_reward)
    maybe_jit = jax.jit if isinstance(benv, BraxEnv) else (lambda f: f)  # envpool resets on the host

    def obs_stats(env_state):  # stored with the dataset only if observations are normalised
        return rms_to_arrays(env_state.obs_rms) if norm_obs else {}
    learner = mujoco_learner(math.prod(benv.observation_space().shape), math.prod(benv.action_space().shape))

    def drain(carry, m):
        env_state, s = drain_raw_returns(carry.env_state)
        if hasattr(env_state.env_state, "finished_games"):
            # envpool: its auto-reset step is a 0-return "episode"; its own counters hold the true returns
            from rlsl_jax.envs.envpool_bridge import drain_scores

            pool_state, e = drain_scores(env_state.env_state)
            env_state = env_state.replace(env_state=pool_state)
            s = {"episode_return": e["score"], "episodes": e["games"], "last_return": pool_state.last_score.mean()}
        return carry.replace(env_state=env_state), {**m, "train_episode_return": m["episode_return"], **s}

    if method == "ppmo":
        from rlsl_jax.distill.ppmo import make_meta_step

        init, ppmo_step = make_meta_step(cfg, None, None, learner, benv=nenv, mesh=mesh)

        def step(state, key):
            state, m = ppmo_step(state, key)
            carry, m = drain(state.carry, m)
            return state.replace(carry=carry), m

        def dataset_of(state):
            ds: Dataset = state.dataset
            return {"x": ds.x, "y": ds.y, "inner_lr": ds.inner_lr, "log_std": ds.log_std,
                    **obs_stats(state.carry.env_state)}

        # init jitted too: an eagerly built brax-mjx state differs from a jitted step's output in a
        # way jit's cache sees (measured: one extra compilation of the first chunk otherwise)
        return maybe_jit(init), jax.jit(step), learner, dataset_of

    from rlsl_jax.rl.ppo import PPOConfig, make_train_step

    pcfg = config_from_dict(PPOConfig, config_to_dict(cfg))
    ppo_init, ppo_step = make_train_step(pcfg, None, None, learner, benv=nenv)

    @flax.struct.dataclass
    class PPORun:  # the runner counts meta_epoch
        ppo: object
        meta_epoch: jax.Array

    def init(key):
        return PPORun(ppo_init(key), jnp.zeros((), jnp.int32))

    def step(state, key):
        s, m = ppo_step(state.ppo, key)
        carry, m = drain(s.carry, m)
        return PPORun(s.replace(carry=carry), state.meta_epoch + 1), {**m, "inner_lr": jnp.nan}

    def dataset_of(state):
        return {"actor": state.ppo.actor, **obs_stats(state.ppo.carry.env_state)}

    return maybe_jit(init), jax.jit(step), learner, dataset_of


# ------------------------------------------------------------------------------------------------
# k-shot evaluation


def kshot_continuous(key, ds, benv, learner, obs_rms, num_learners: int, max_steps: int,
                     greedy: bool = False) -> dict:
    """Trains ``num_learners`` fresh learners by ONE SGD step each on ``ds`` and runs one episode
    per learner in ``benv`` (``num_learners`` envs: env i runs learner i) with the dataset's
    observation normaliser ``obs_rms`` frozen (None: raw observations). Returns {"mean", "std",
    "n", "returns"} of the raw episode returns (an episode still running after ``max_steps``
    counts what it has)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from rlsl_jax.distill.inner import inner_step
    from rlsl_jax.rl.normalize import NormalizedEnv
    from rlsl_jax.rl.ppo_loss import DiagGaussian

    if benv.num_envs != num_learners:
        raise ValueError(f"benv has {benv.num_envs} envs; need one per learner ({num_learners})")
    nenv = NormalizedEnv(benv, norm_obs=obs_rms is not None, scale_reward=False, update=False, obs_rms=obs_rms)
    ds = jax.tree.map(jnp.asarray, ds)
    k_init, k_reset, k_run = jax.random.split(key, 3)
    phi = learner.sample(k_init, num_learners)

    from rlsl_jax.envs.brax_bridge import BraxEnv

    # envpool resets on the host (not jittable); a brax reset is best compiled
    obs0, st0 = (jax.jit(nenv.reset) if isinstance(benv, BraxEnv) else nenv.reset)(k_reset)

    @jax.jit
    def play(phi, ds, obs, st):
        phi1 = jax.vmap(lambda p: inner_step(learner.apply, p, ds))(phi)

        def body(c, k):
            obs, st, alive, ret = c
            k_act, k_env = jax.random.split(k)
            dp = jax.vmap(learner.policy)(phi1, obs)
            action = dp[0] if greedy else DiagGaussian.sample(k_act, dp)[0]
            res = nenv.step(k_env, st, action)
            ret = ret + jnp.where(alive, res.reward, 0.0)
            alive = alive & ~(res.terminated | res.truncated)
            return (res.obs, res.state, alive, ret), None

        c0 = (obs, st, jnp.ones((num_learners,), bool), jnp.zeros((num_learners,), jnp.float32))
        return jax.lax.scan(body, c0, jax.random.split(k_run, max_steps))[0][3]

    returns = np.asarray(play(phi, ds, obs0, st0), np.float64)
    return {"mean": float(returns.mean()), "std": float(returns.std()), "n": int(num_learners),
            "returns": returns.tolist()}


def run_eval(args) -> None:
    import jax

    from rlsl_jax import checkpoint
    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.networks.gaussian import mujoco_learner
    from rlsl_jax.rl.normalize import rms_from_meta

    configure_cpu(1)
    try:
        ds, meta = checkpoint.load_dataset(args.eval)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(f"--eval: {e}") from e
    if ds.log_std is None:
        raise UsageError(f"--eval: {args.eval} has no log-std target: not a continuous-action (MuJoCo) dataset")
    stored = meta.get("mujoco") or {}
    env = check_env_name(args.env) if args.env else stored.get("env")
    if env is None:
        raise UsageError(f"--eval: {args.eval} does not record its env; pass --env")
    backend = stored.get("backend", args.backend) if args.env is None else args.backend
    brax_backend = args.brax_backend or stored.get("brax_backend")
    benv = make_benv(backend, env, args.eval_learners, args.seed + 1_000_003, brax_backend,
                     stored.get("episode_length", args.episode_length))
    obs_dim, act_dim = benv.observation_space().shape[0], benv.action_space().shape[0]
    if ds.x.shape[1:] != (obs_dim,) or ds.y.shape[1] != act_dim:
        raise UsageError(f"--eval: dataset x {list(ds.x.shape)} / y {list(ds.y.shape)} do not fit {backend} {env} "
                         f"(x [k, {obs_dim}], y [k, {act_dim}])")
    rms = rms_from_meta(meta)
    t0 = time.time()
    r = kshot_continuous(jax.random.key(args.seed + 1_000_003), ds, benv, mujoco_learner(obs_dim, act_dim), rms,
                         args.eval_learners, stored.get("episode_length", args.episode_length), args.greedy)
    r.update({"dataset": str(args.eval), "env": env, "backend": backend, "k": int(ds.x.shape[0]),
              "inner_lr": float(ds.inner_lr), "greedy": bool(args.greedy), "obs_normalised": rms is not None,
              "wall_s": round(time.time() - t0, 1), "seed": args.seed})
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / "eval.json", r)
    print(f"{backend} {env} k={r['k']}: {r['n']} fresh learners, return {r['mean']:.1f} ± {r['std']:.1f} "
          f"(one episode each, {'mean' if args.greedy else 'sampled'} actions, stored normaliser"
          f"{'' if rms is not None else ': none'}; {r['wall_s']:.0f}s)")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    mesh = setup_parallel(args)  # --distributed before brax/envpool load; population checked below
    main_process = is_main_process()
    validate(args)
    if args.eval is not None:
        return run_eval(args)

    import jax

    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.distill import runner
    from rlsl_jax.experiments.common import plot_curve

    configure_cpu(1)
    if args.resume:
        run_info = json.loads((args.out / "run.json").read_text())
        cfg = config_from_dict(PPMOConfig, run_info["config"])
        mj = run_info["mujoco"]
        print(f"resuming {args.out}: saved config and seed {run_info['seed']} are used; --meta-epochs "
              f"{args.meta_epochs}", file=sys.stderr)
    else:
        cfg = config_from_args(PPMOConfig, args)
        mj = {"env": args.env, "backend": args.backend, "brax_backend": args.brax_backend, "method": args.method,
              "episode_length": args.episode_length, "norm_obs": args.norm_obs, "scale_reward": args.scale_reward}
        run_info = {"seed": args.seed, "config": config_to_dict(cfg), "mujoco": mj}
    seed = run_info["seed"]
    if mesh is not None:
        if mj["method"] == "ppo":
            raise UsageError("--method ppo trains one agent on one device; --devices/--distributed are for ppmo")
        if cfg.population % mesh.size:
            raise UsageError(f"--population ({cfg.population}) must be a multiple of the device count ({mesh.size})")
    benv = make_benv(mj["backend"], mj["env"], cfg.population * cfg.num_envs, seed, mj["brax_backend"],
                     mj["episode_length"], mesh)
    init, step, learner, dataset_of = make_mujoco_step(cfg, mj["method"], benv, mj["norm_obs"], mj["scale_reward"],
                                                       mesh)
    if mj["backend"] == "brax" and mj["brax_backend"] is None:
        mj = {**mj, "brax_backend": benv.backend}
    metadata = {"env_id": env_id_of(mj["backend"], mj["env"]), "mujoco": mj, "k": cfg.k,
                "obs_shape": list(benv.observation_space().shape), "act_dim": learner.out_dim,
                "learner": learner.describe(), "seed": seed, "config": config_to_dict(cfg), "method": mj["method"]}
    if main_process:
        args.out.mkdir(parents=True, exist_ok=True)
    if not args.resume and main_process:
        write_json(args.out / "run.json", {**run_info, "mujoco": mj})
    ticks: list[tuple[float, int]] = []
    after_restore = None
    if mj["backend"] == "envpool":  # the emulators' state cannot be checkpointed: restart them, keep statistics
        def after_restore(restored, fresh):
            env_state = fresh.carry.env_state.replace(obs_rms=restored.carry.env_state.obs_rms,
                                                      ret_rms=restored.carry.env_state.ret_rms)
            return restored.replace(carry=fresh.carry.replace(env_state=env_state))

    state, info = runner.run(init, step, out_dir=args.out, meta_epochs=args.meta_epochs, seed=seed,
                             metadata=metadata, resume=args.resume, chunk=args.chunk,
                             checkpoint_every=args.checkpoint_every, progress=not args.no_progress,
                             dataset_of=dataset_of, on_chunk=lambda s, m: ticks.append((time.time(), int(s.meta_epoch))),
                             after_restore=after_restore)
    if not main_process:  # only process 0 writes plots, exports and summaries
        return
    method = mj["method"].upper()
    plot_curve(args.out / "log.csv", args.out / "learning_curve.png", "meta_epoch",
               ["episode_return"] + (["inner_lr"] if mj["method"] == "ppmo" else []),
               f"{method} {env_id_of(mj['backend'], mj['env'])} k={cfg.k} P={cfg.population} (raw return)")
    summary = {"env": mj["env"], "backend": mj["backend"], "brax_backend": mj["brax_backend"], "method": mj["method"],
               "k": cfg.k, "population": cfg.population, "num_envs": cfg.num_envs,
               "rollout_steps": cfg.rollout_steps, "meta_epochs": int(state.meta_epoch),
               "train_wall_s": round(info["wall_s"], 2), "device": str(jax.devices()[0]),
               "paper_table3": TABLE3[mj["env"]]}
    if len(ticks) >= 2 and ticks[-1][1] > ticks[0][1]:
        summary["epoch_s_after_compile"] = (ticks[-1][0] - ticks[0][0]) / (ticks[-1][1] - ticks[0][1])
    line = f"{method} {mj['env']}: {summary['meta_epochs']} meta-epochs in {summary['train_wall_s']:.1f}s"
    if "epoch_s_after_compile" in summary:
        line += f" ({summary['epoch_s_after_compile']:.2f} s/meta-epoch after compile)"
    if mj["method"] == "ppmo":
        from rlsl_jax.checkpoint import write_npz
        from rlsl_jax.distill.dataset import Dataset

        # from memory, on host copies: in a multi-process run only process 0 is here (reading the
        # checkpoint back through orbax, or computing on the global arrays, would wait for the others)
        arrays = jax.device_get(dataset_of(state))
        ds = Dataset(arrays["x"], arrays["y"], arrays["inner_lr"], log_std=arrays["log_std"])
        extra = {k: v for k, v in arrays.items() if k.startswith("obs_")}
        write_npz(ds, {**metadata, "extra": extra}, args.out / "dataset.npz")
        if args.final_eval_learners:
            from rlsl_jax.rl.normalize import rms_from_meta

            ebenv = make_benv(mj["backend"], mj["env"], args.final_eval_learners, seed + 1_000_003,
                              mj["brax_backend"], mj["episode_length"])
            rms = rms_from_meta({"extra": extra}) if mj["norm_obs"] else None
            r = kshot_continuous(jax.random.key(seed + 1_000_003), ds, ebenv, learner, rms,
                                 args.final_eval_learners, mj["episode_length"])
            summary["eval"] = {k: r[k] for k in ("mean", "std", "n")}
            line += f"; {r['n']} fresh learners: return {r['mean']:.1f} ± {r['std']:.1f}"
    write_json(args.out / "summary.json", summary)
    print(line)


if __name__ == "__main__":
    run_main(main)
