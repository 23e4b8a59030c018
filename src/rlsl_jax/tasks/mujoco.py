"""The MuJoCo task family: continuous-action PPMO (or direct PPO) on brax or envpool MuJoCo-v4.

Learner: tanh MLP obs -> 64 -> 64 -> action means (orthogonal √2, head 0.01, zero biases) and a
state-independent log-std (init 0); actions ~ N(mean, exp(log-std)²), clipped to [-1, 1] by the
env, log-probs summed over action dimensions (``networks.gaussian.mujoco_learner``). The dataset θ
is X [k, obs], Y [k, act] (mean targets), a log-std target [act] (init 0) and η; the one inner SGD
step fits means to Y and the log-std to its target (MSE each).

Observations are normalised by running mean/var statistics (VecNormalize) and rewards scaled by
the running std of the discounted return (CleanRL, ``rl.normalize``); the observation statistics
are part of the distilled artefact (saved with X and Y in every checkpoint and in dataset.npz as
obs_mean, obs_var, obs_count) and k-shot scores apply them, frozen. An input scale c (``obs_scale``,
``--obs-scale``; ``OBS_SCALES`` per task) divides the normalised observations by c, so the learners
see inputs of std 1/c; the dataset stores the statistics with c folded into obs_var (and c itself as
obs_scale), so any evaluator that applies the stored normaliser feeds the learners what training
fed them. Why: with inputs ≤ 64 wide and orthogonal init, the one-step learner is its random tanh
features read out by a head fitted in one step, and where the tanh layers are near-linear those
features' inner products no longer depend on the draw (W₁W₁ᵀ = 2I, W₂W₂ᵀ = 2I), so fresh learners
trained on the same set differ less; with wider inputs (Humanoid's 376) the first layer is a random
64-dimensional projection and they agree only roughly. Every reported return is the RAW env return.
An optional periodic k-shot check (``kshot_check``, ``runner.KShotCheck``) scores the dataset during
training and keeps the best one for checkpoints, dataset.npz and the final score. ``method="ppo"``
runs direct PPO (``rl.ppo``, the same rollout/GAE/loss/optimiser code) with the same learner
architecture as actor: the paper's RL column.

Backends: ``brax`` (pure JAX, ``make("brax/<env>")``) or ``envpool`` (MuJoCo-v4, the paper's
tasks, ``make("envpool/<Task>-v4")``). Presets (``PRESETS``, PPMOConfig values), k = 64 and
ε = 0.1 (the paper's) in both:

* ``ours`` (the default): 16 envs × 128 steps = 2048 transitions per learner per meta-epoch
  (CleanRL's continuous-PPO rollout size) and CleanRL's continuous-PPO update: 10 epochs × 32
  minibatches of 64, Adam 3e-4 for X, Y and the critic (η at its own rate 1e-2), no entropy bonus.
  The update schedule is what mattered (envpool Hopper-v4, seed 0, training return at meta-epoch
  500: 4 × 4 minibatches of 512 at 2.5e-4: 517, at 1e-3: 513, at 3e-3: 874; 10 × 32 of 64 at 3e-4:
  1209, first ≥ 1235 at meta-epoch 364; 10 × 8 of 256 at 1e-3: 1215);
* ``paper``: the paper's Appendix A batch, 10 envs × 200 steps, minibatches of 512, entropy 0.01.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax import paper
from rlsl_jax.config import config_from_dict, config_to_dict
from rlsl_jax.distill.dataset import Dataset
from rlsl_jax.distill.ppmo import PPMOConfig, make_meta_step
from rlsl_jax.envs import make
from rlsl_jax.evaluate import evaluate_batched
from rlsl_jax.logs import write_json
from rlsl_jax.networks.gaussian import mujoco_learner
from rlsl_jax.rl.normalize import (NormalizedEnv, drain_raw_returns, rms_from_meta, rms_to_arrays, scaled_rms,
                                   unscaled_rms)
from rlsl_jax.runner import PPMO_LOG_FIELDS, KShotCheck, run, seed_keys

ENVS = ("ant", "halfcheetah", "hopper", "humanoid", "humanoidstandup", "inverted_double_pendulum", "reacher",
        "walker2d")
ENVPOOL_IDS = {"ant": "Ant-v4", "halfcheetah": "HalfCheetah-v4", "hopper": "Hopper-v4", "humanoid": "Humanoid-v4",
               "humanoidstandup": "HumanoidStandup-v4", "inverted_double_pendulum": "InvertedDoublePendulum-v4",
               "reacher": "Reacher-v4", "walker2d": "Walker2d-v4"}
BACKENDS = ("brax", "envpool")
METHODS = ("ppmo", "ppo")
EPISODE_LENGTH = 1000
DEFAULT_PRESET = "ours"
PRESETS = {
    "ours": PPMOConfig(k=64, clip_eps=0.1, num_envs=16, rollout_steps=128, update_epochs=10, minibatch_size=64,
                       lr=3e-4, critic_lr=3e-4, ent_coef=0.0),
    "paper": PPMOConfig(k=64, clip_eps=0.1, num_envs=10, rollout_steps=200, minibatch_size=512),
}
# Per-task settings of a preset for PPMO on envpool MuJoCo-v4 (PPMOConfig fields; not PPO, which
# trains one agent, nor brax's different envs) over ``PRESETS``, applied by ``preset_config``; the
# mujoco CLI's defaults once --env names the task and --backend is envpool.
# Each was measured on envpool MuJoCo-v4 (experiments/mujoco/RESULTS.md, its ablation lines):
# Hopper at population 4 passed the paper's 1858 in 500 meta-epochs (1893.6 over 64 fresh
# learners, 4.10 M env steps) where P = 1 scored 1561.5 after 4000 (8.19 M steps); Reacher at P = 4
# reached -7.97 after 3000 meta-epochs (24.6 M steps; 64-learner checks -7.5 ... -8.2 from 2000 on)
# where P = 1 stayed at -8.5 ... -10.3 from 6000 to 9000 (-9.4 over 64 fresh learners, 18.4 M steps);
# Humanoid at P = 4 reached 496.4 after 3400 meta-epochs (27.9 M steps; 414.3 after 450, 3.7 M) where
# P = 1 stayed at 336-409 (16-learner checks) from 1100 to 2600 meta-epochs (400.0 over 64 learners,
# 5.3 M steps) - better, still below the paper's 543. InvertedDoublePendulum at P = 4 gained nothing
# (5280 vs 4928 over 64 learners), so it stays at 1. Ant at P = 1 sat at 3000-3900 (64-learner checks)
# from meta-epoch 5000 to 8000 (3600.4 over 64 fresh learners, 16.4 M steps); continued from that
# dataset at P = 4 (--init-dataset) its checks rose to 3900-4170 within 600-800 more meta-epochs
# (3993.1 over 64 fresh learners after 600, 4.9 M more steps). Ant's PPMO clips the ratio at 0.2 (CleanRL's
# epsilon; the paper's 0.1 stays everywhere else): from scratch at P = 4 its set at meta-epoch 1300 scored 3510.9
# over 64 fresh learners where epsilon 0.1 gave 3100.8, and at 2000 (16.38 M steps, 44.2 min) 3971.2.
# HumanoidStandup from shared targets (every row's target one N(0, 1) draw; seed 0) reached 16-learner
# checks of 124.8-132.1 k from meta-epoch 400 to 800 (64 fresh learners: 127,894.1; seed 1 106,840.1; seed 2 93,579.5)
# where the paper's independent targets gave 76-82 k over three seeds (best set continued: 103,680.5).
# Elsewhere shared targets did not help, so the paper's start stays: InvertedDoublePendulum 4871.2 vs
# 4928.3, HalfCheetah (P = 1, 3000) 2020.9 vs checks 2018-2301, Walker2d (P = 1, 1000) 429.1 vs 1038.1.
# HumanoidStandup's critic is 256-256 wide (its 376 inputs; the learners stay 64-64): the row's command with it
# scored 140,102.7 over 64 fresh learners (256 others 137,855.3) where the 64-64 critic gave 138,075.8 (135,579.4).
TASK_SETTINGS = {"ours": {"ant": {"population": 4, "clip_eps": 0.2}, "hopper": {"population": 4},
                          "humanoid": {"population": 4},
                          "humanoidstandup": {"init_targets": "shared", "critic_hidden": (256, 256)},
                          "reacher": {"population": 4}}}
# Input scale c per task of a preset (envpool PPMO runs; else 1): the learners see normalised
# observations / c (module docstring). Measured from scratch (experiments/mujoco/RESULTS.md, "Smaller
# inputs", with every run): InvertedDoublePendulum's learners stop falling at c = 8 (64 fresh learners
# 9356.6 ± 5.7 vs 4928.3 ± 4335.0 at c = 1); HumanoidStandup's row is at c = 4 (138,076 vs 127,894 at
# c = 1, both with the 64-64 critic), though its runs at c = 2, 4 (a second seed) and 8 are not separated from each other. Ant at c = 8
# was faster at first, not higher; Walker2d's and HalfCheetah's rows continue c = 1 sets at c = 2, which
# was not measured from scratch to the end. All those keep 1.
OBS_SCALES: dict[str, dict[str, float]] = {"ours": {"humanoidstandup": 4.0, "inverted_double_pendulum": 8.0}}
# log.csv columns without the periodic k-shot check (with it: PPMO_LOG_FIELDS, adding kshot_mean/std)
LOG_FIELDS = tuple(f for f in PPMO_LOG_FIELDS if not f.startswith("kshot"))
EVAL_SEED = 1_000_003  # k-shot learners and eval envs: seed + EVAL_SEED
CHECK_SEED = 2_000_003  # the periodic check's learners and envs: seed + CHECK_SEED (not the final score's)


def check_env_name(env: str) -> str:
    """'hopper' or 'brax/hopper' (any case) -> 'hopper'; ValueError listing the names."""
    name = env.removeprefix("brax/").lower()
    if name not in ENVS:
        raise ValueError(f"unknown env {env!r}; valid: {', '.join(ENVS)}")
    return name


def _tuned_task(env: str | None, method: str, backend: str) -> str | None:
    """The task whose per-task settings apply: a known ``env`` in a PPMO run on envpool, else None
    (an unknown name is reported by the caller's own check)."""
    try:
        return check_env_name(env) if env is not None and method == "ppmo" and backend == "envpool" else None
    except ValueError:
        return None


def preset_config(preset: str, env: str | None = None, method: str = "ppmo", backend: str = "envpool") -> PPMOConfig:
    """``PRESETS[preset]`` with that preset's ``TASK_SETTINGS`` for ``env`` (a PPMO run of a known
    task on envpool; otherwise the preset as it is)."""
    return dataclasses.replace(PRESETS[preset], **TASK_SETTINGS.get(preset, {}).get(_tuned_task(env, method, backend), {}))


def default_obs_scale(preset: str, env: str | None = None, method: str = "ppmo", backend: str = "envpool") -> float:
    """``OBS_SCALES[preset][env]`` for a PPMO run of a known task on envpool, else 1."""
    return float(OBS_SCALES.get(preset, {}).get(_tuned_task(env, method, backend), 1.0))


def describe_task_settings(preset: str) -> str:
    """'hopper population 4' (comma-separated per task; envpool PPMO runs) or 'none'."""
    tasks = {**TASK_SETTINGS.get(preset, {})}
    for t, c in OBS_SCALES.get(preset, {}).items():
        tasks[t] = {**tasks.get(t, {}), "obs_scale": c}
    return ", ".join(f"{t} " + ", ".join(f"{f} {v}" for f, v in kw.items()) for t, kw in sorted(tasks.items())) or "none"


def check_brax_backend(name: str | None) -> None:
    """ValueError unless ``name`` is None or a brax physics pipeline."""
    from rlsl_jax.envs.brax_bridge import BACKENDS as BRAX_BACKENDS

    if name is not None and name not in BRAX_BACKENDS:
        raise ValueError(f"unknown --brax-backend {name!r}; valid: {', '.join(BRAX_BACKENDS)}")


def check_envpool() -> None:
    import importlib.util

    if importlib.util.find_spec("rlsl_jax.envs.envpool_mujoco") is None:
        raise ValueError("--backend envpool needs the envpool MuJoCo-v4 bridge (rlsl_jax.envs.envpool_mujoco), "
                         "which is not in this installation yet; use --backend brax")


def env_id_of(backend: str, env: str) -> str:
    return f"brax/{env}" if backend == "brax" else f"envpool/{ENVPOOL_IDS[env]}"


def make_benv(backend: str, env: str, num_envs: int, seed: int, brax_backend: str | None, episode_length: int,
              mesh=None):
    """The batched env of ``num_envs`` copies of ``env`` (registry ids "brax/<env>" or "envpool/<Task>-v4");
    ``mesh``: envpool's pool is split over its devices (brax envs are sharded by PPMO itself).
    ValueError (one line) if the backend cannot make it."""
    try:
        if backend == "brax":
            kw = {"episode_length": episode_length}
            if brax_backend is not None:
                kw["backend"] = brax_backend
            return make(f"brax/{env}", num_envs=num_envs, **kw)[0]
        check_envpool()
        return make(f"envpool/{ENVPOOL_IDS[env]}", num_envs=num_envs, seed=seed, mesh=mesh)[0]
    except ImportError as e:
        raise ValueError(str(e)) from e


def make_mujoco_step(cfg: PPMOConfig, method: str, benv, norm_obs: bool = True, scale_reward: bool = True, mesh=None,
                     obs_scale: float = 1.0, anneal_steps: int = 0):
    """(init, step, learner, dataset_of) for PPMO (``cfg`` a PPMOConfig) or direct PPO on ``benv``
    (P·E envs, P = 1 for PPO; its rates annealed to 0 over ``anneal_steps`` env steps if > 0),
    observations normalised (to std 1/``obs_scale``) and rewards scaled by ``rl.normalize``.

    ``step``'s metrics report RAW returns: ``episode_return`` (mean of the episodes that ended in
    that meta-epoch, nan if none), ``episodes``, ``last_return``; ``train_episode_return`` is the
    rollout's own return of the scaled rewards. ``dataset_of(state)`` is what a checkpoint's
    ``dataset`` item holds: θ and the observation statistics (PPMO), or the actor and them (PPO)."""
    from rlsl_jax.envs.brax_bridge import BraxEnv

    nenv = NormalizedEnv(benv, gamma=cfg.gamma, norm_obs=norm_obs, scale_reward=scale_reward, obs_scale=obs_scale)
    maybe_jit = jax.jit if isinstance(benv, BraxEnv) else (lambda f: f)  # envpool resets on the host
    learner = mujoco_learner(math.prod(benv.observation_space().shape), math.prod(benv.action_space().shape))

    def obs_stats(env_state):  # stored with the dataset only if observations are normalised, the scale folded in
        if not norm_obs:
            return {}
        scale = {} if obs_scale == 1.0 else {"obs_scale": jnp.asarray(obs_scale, jnp.float32)}
        return {**rms_to_arrays(scaled_rms(env_state.obs_rms, obs_scale)), **scale}

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

    pcfg = config_from_dict(PPOConfig, {**config_to_dict(cfg), "anneal_steps": anneal_steps})
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


class Run(NamedTuple):
    """A MuJoCo training run, built by ``make_run``: its record ``mj`` (env, backend, brax_backend,
    method, episode_length, norm_obs, scale_reward, obs_scale if not 1), config, seed, env and step
    functions."""

    mj: dict
    cfg: PPMOConfig
    seed: int
    benv: Any
    init: Callable
    step: Callable
    learner: Any
    dataset_of: Callable

    @property
    def metadata(self) -> dict:
        """What checkpoints and dataset.npz record about the run."""
        mj, cfg = self.mj, self.cfg
        return {"env_id": env_id_of(mj["backend"], mj["env"]), "mujoco": mj, "k": cfg.k,
                "obs_shape": list(self.benv.observation_space().shape), "act_dim": self.learner.out_dim,
                "learner": self.learner.describe(), "seed": self.seed, "config": config_to_dict(cfg),
                "method": mj["method"]}

    @property
    def record(self) -> dict:
        """run.json: what ``--resume`` rebuilds the run from."""
        return {"seed": self.seed, "config": config_to_dict(self.cfg), "mujoco": self.mj}


def make_run(mj: dict, cfg: PPMOConfig, seed: int, mesh=None) -> Run:
    """The env (P·E copies), step functions and learner of a run; the brax pipeline actually used
    is filled into ``mj``; ``mj["init_dataset"]`` (a path, optional): PPMO starts from that saved
    dataset (``warm_init``). ValueError if the env cannot be made or that dataset does not fit."""
    benv = make_benv(mj["backend"], mj["env"], cfg.population * cfg.num_envs, seed, mj["brax_backend"],
                     mj["episode_length"], mesh)
    init, step, learner, dataset_of = make_mujoco_step(cfg, mj["method"], benv, mj["norm_obs"], mj["scale_reward"],
                                                       mesh, obs_scale_of(mj), mj.get("anneal_steps", 0))
    if mj.get("init_dataset"):
        init = warm_init(init, mj, cfg, benv)
    if mj["backend"] == "brax" and mj["brax_backend"] is None:
        mj = {**mj, "brax_backend": benv.backend}
    return Run(mj, cfg, seed, benv, init, step, learner, dataset_of)


def obs_scale_of(mj: dict) -> float:
    """The run's input scale c (``mj["obs_scale"]``; 1 in records that predate it)."""
    return float(mj.get("obs_scale", 1.0))


def rescale_inputs(ds: Dataset, factor: float) -> Dataset:
    """θ for learners whose inputs shrink by ``factor`` (c_new / c_old), as a start for a continued
    distillation: X / f, η · f², log-std target / f², and Y + Δ with Δ the smallest change (per
    action, least squares) for which Σᵢ Δᵢ = (1/f² − 1) Σᵢ yᵢ and Σᵢ Δᵢ xᵢ = 0.

    Why: one SGD step from the 0.01-gain head makes the action means ≈ η' Σᵢ yᵢ (1 + h(s)·h(xᵢ))
    (h: the last hidden layer). Where the tanh layers are near-linear (orthogonal init, inputs ≤ 64
    wide) h(s)·h(xᵢ) = 4 s·xᵢ, which shrinks by f² with the inputs while the bias path's 1 does
    not: η · f² restores the first, Δ keeps the second at its old size. So the trained means keep
    their linear part; their tanh curvature changes, so sets that rest on it lose their score
    (experiments/mujoco/rescale_probe.py, 32 fresh learners: Walker2d's C = 1 set 2909 → 2573 at
    f = 4, Ant's 4008 → −564). The log-std moves by η times its target, hence / f²."""
    if factor == 1.0:
        return ds
    x, y = np.asarray(ds.x, np.float64).reshape(ds.x.shape[0], -1), np.asarray(ds.y, np.float64)
    m = np.concatenate([np.ones((1, x.shape[0])), x.T])                      # [1 + obs, k]
    rhs = np.zeros((m.shape[0], y.shape[1]))
    rhs[0] = (1.0 / factor**2 - 1.0) * y.sum(0)
    delta = np.linalg.lstsq(m, rhs, rcond=None)[0]                          # [k, act], least norm
    return ds.replace(x=jnp.asarray(ds.x) / factor, y=jnp.asarray(y + delta, jnp.float32),
                      inner_lr=jnp.asarray(ds.inner_lr) * factor**2,
                      log_std=None if ds.log_std is None else jnp.asarray(ds.log_std) / factor**2)


def stored_obs_scale(meta: dict) -> float:
    """The input scale a saved set was distilled at (``load_dataset``'s meta: its ``obs_scale``, 1 if absent)."""
    return float(np.asarray((meta.get("extra") or {}).get("obs_scale", 1.0)).reshape(()))


def at_scale(ds: Dataset, rms, meta: dict, scale: float) -> tuple[Dataset, Any]:
    """(θ, running observation statistics) of a saved set (``load_dataset``'s ``ds``, its stored
    normaliser ``rms`` and ``meta``) for learners at input scale ``scale``: the statistics unscaled
    by the set's own scale (``stored_obs_scale``), θ ``rescale_inputs``'d by scale / that."""
    own = stored_obs_scale(meta)
    return rescale_inputs(ds, scale / own), unscaled_rms(rms, own)


def check_fits(ds, benv, where: str, task: str, k: int | None = None) -> None:
    """ValueError (one line: ``where``, the shapes found and those ``task`` needs) unless ``ds`` is a
    continuous-action dataset (with a log-std target) whose x, y fit ``benv``'s observations and
    actions, with ``k`` rows when given (``benv`` None: only the log-std target is checked)."""
    rows = ds.x.shape[0] if k is None else k
    dims = None if benv is None else (benv.observation_space().shape[0], benv.action_space().shape[0])
    if ds.log_std is not None and (dims is None or (ds.x.shape, ds.y.shape) == ((rows, dims[0]), (rows, dims[1]))):
        return
    need = ("a continuous-action dataset with a log-std target" if dims is None
            else f"x [{'k' if k is None else k}, {dims[0]}], y [{'k' if k is None else k}, {dims[1]}] with a log-std target")
    raise ValueError(f"{where}: x {list(ds.x.shape)} / y {list(ds.y.shape)}"
                     f"{'' if ds.log_std is not None else ' without a log-std target'} do not fit {task}"
                     f"{'' if k is None else f' with k = {k}'} (it needs {need})")


def warm_init(init: Callable, mj: dict, cfg: PPMOConfig, benv) -> Callable:
    """``init`` of a PPMO run that starts from the saved dataset ``mj["init_dataset"]`` (run folder,
    checkpoint or npz) instead of random X, Y: its X, Y, η and log-std target become θ and its
    stored observation statistics the normaliser's (its count too, so they move as slowly as they
    did at its end); the dataset's optimiser, the critic and the reward scaling start fresh. E.g. to
    continue a published dataset with another population or other settings. A dataset stored at
    another input scale (its ``obs_scale``, 1 if absent) is ``rescale_inputs``'d to this run's and
    its statistics unscaled to the running ones. ValueError (one line)
    unless it is a continuous dataset of this task's shape and k, with a normaliser exactly when
    this run normalises observations."""
    from rlsl_jax import checkpoint

    path = mj["init_dataset"]
    if mj["method"] != "ppmo":
        raise ValueError("--init-dataset starts a distillation (PPMO); --method ppo trains an agent, not a dataset")
    try:
        ds, meta = checkpoint.load_dataset(path)
    except (FileNotFoundError, ValueError) as e:
        raise ValueError(f"--init-dataset: {e}") from e
    check_fits(ds, benv, f"--init-dataset {path}", f"{mj['backend']} {mj['env']}", k=cfg.k)
    rms = rms_from_meta(meta)
    if (rms is None) == mj["norm_obs"]:
        raise ValueError(f"--init-dataset {path} was distilled on {'raw' if rms is None else 'normalised'} "
                         f"observations; {'add --no-norm-obs' if rms is None else 'drop --no-norm-obs'}")
    if rms is not None:
        ds, rms = at_scale(ds, rms, meta, obs_scale_of(mj))

    def like(old, new):  # the fresh leaf's dtype and placement (replicated under a mesh)
        return jax.device_put(jnp.asarray(new, old.dtype), getattr(old, "sharding", None))

    def warm(key):
        state = init(key)
        saved = state.dataset.replace(x=ds.x, y=ds.y, inner_lr=ds.inner_lr, log_std=ds.log_std)
        state = state.replace(dataset=jax.tree.map(like, state.dataset, saved))
        if rms is not None:
            env_state = state.carry.env_state
            env_state = env_state.replace(obs_rms=jax.tree.map(like, env_state.obs_rms, rms))
            state = state.replace(carry=state.carry.replace(env_state=env_state))
        return state

    return warm


# the CLI arguments ``new_record`` takes besides seed and config
RECORD_ARGS = ("env", "backend", "brax_backend", "method", "episode_length", "norm_obs", "scale_reward", "init_dataset",
               "obs_scale", "anneal_steps")


def check_obs_scale(obs_scale: float | None, norm_obs: bool, default: float) -> float:
    """The run's input scale: ``obs_scale``, or when None ``default`` (the task's, ``default_obs_scale``)
    with normalised observations and 1 without; ValueError (one line) unless a given ``obs_scale`` is
    > 0, and 1 when observations are not normalised."""
    if obs_scale is None:
        return default if norm_obs else 1.0
    if not obs_scale > 0:
        raise ValueError(f"--obs-scale must be > 0 (got {obs_scale}); 1 = plain normalisation")
    if obs_scale != 1.0 and not norm_obs:
        raise ValueError("--obs-scale scales normalised observations; drop --no-norm-obs or --obs-scale")
    return obs_scale


def check_anneal(anneal_steps: int, method: str) -> None:
    """ValueError (one line) if ``anneal_steps`` is given to a method other than direct PPO."""
    if anneal_steps and method != "ppo":
        raise ValueError("--anneal-steps anneals direct PPO's rates (--method ppo); PPMO's dataset optimiser is constant")


def new_record(seed: int, cfg: PPMOConfig, env: str, backend: str, brax_backend: str | None, method: str,
               episode_length: int, norm_obs: bool, scale_reward: bool, init_dataset: str | Path | None = None,
               obs_scale: float = 1.0, anneal_steps: int = 0) -> dict:
    """run.json of a new run (what ``from_record`` and ``--resume`` rebuild it from); ``anneal_steps``:
    direct PPO's rates fall linearly to 0 over that many env steps (``check_anneal``)."""
    check_anneal(anneal_steps, method)
    mj = {"env": env, "backend": backend, "brax_backend": brax_backend, "method": method,
          "episode_length": episode_length, "norm_obs": norm_obs, "scale_reward": scale_reward,
          **({} if obs_scale == 1.0 else {"obs_scale": float(obs_scale)}),
          **({"anneal_steps": int(anneal_steps)} if anneal_steps else {})}
    return {"seed": seed, "config": config_to_dict(cfg),
            "mujoco": {**mj, "init_dataset": str(init_dataset)} if init_dataset else mj}


def from_record(saved: dict, mesh=None) -> Run:
    """The run of a run.json."""
    return make_run(saved["mujoco"], config_from_dict(PPMOConfig, saved["config"]), saved["seed"], mesh)


def restart_envpool(restored, fresh):
    """``after_restore`` for envpool: the emulators' state cannot be checkpointed, so the fresh env
    carry is used with the restored normaliser statistics (PPMO's state, or direct PPO's in ``.ppo``)."""
    if hasattr(restored, "ppo"):
        return restored.replace(ppo=restart_envpool(restored.ppo, fresh.ppo))
    env_state = fresh.carry.env_state.replace(obs_rms=restored.carry.env_state.obs_rms,
                                              ret_rms=restored.carry.env_state.ret_rms)
    return restored.replace(carry=fresh.carry.replace(env_state=env_state))


def stored_rms(arrays: dict):
    """The observation normaliser stored in a ``dataset_of`` item (None if observations are raw)."""
    return rms_from_meta({"extra": {k: v for k, v in arrays.items() if k.startswith("obs_")}})


def dataset_and_rms(arrays: dict) -> tuple[Dataset, Any]:
    """(θ, observation normaliser or None) of a PPMO ``dataset_of`` item."""
    return Dataset(arrays["x"], arrays["y"], arrays["inner_lr"], log_std=arrays["log_std"]), stored_rms(arrays)


def kshot_check(r: Run, every: int, target: float | None, learners: int) -> KShotCheck | None:
    """The periodic k-shot check of a PPMO run (None if ``every`` is 0): every ``every`` meta-epochs
    ``learners`` fresh learners, one SGD step and one episode each, sampled actions, observations
    normalised by the dataset's own statistics (frozen), through ``kshot`` (``evaluate_batched``,
    as ``--eval`` and the final score) on one eval env of ``learners`` copies made once, seeded
    ``seed + CHECK_SEED`` (envpool: a pool of its own beside the training pool). The same learners
    every time; brax also restarts from the same states, envpool's pool draws new ones at each
    reset. ValueError for direct PPO (no dataset)."""
    if not every:
        return None
    if r.mj["method"] != "ppmo":
        raise ValueError("the periodic k-shot check (--eval-every) scores a distilled dataset; --method ppo has none")
    mj = r.mj
    benv = make_benv(mj["backend"], mj["env"], learners, r.seed + CHECK_SEED, mj["brax_backend"], mj["episode_length"])

    def score(item):
        ds, rms = dataset_and_rms(jax.device_get(item))
        e = kshot(ds, rms, learners, seed=r.seed, backend=mj["backend"], env=mj["env"], brax_backend=mj["brax_backend"],
                  episode_length=mj["episode_length"], benv=benv, offset=CHECK_SEED)
        return e["mean"], e["std"]

    return KShotCheck(every, score, target)


def distil(r: Run, *, meta_epochs: int, out_dir: Path, resume: bool = False, chunk: int = 10,
           checkpoint_every: int = 100, progress: bool = True, check: KShotCheck | None = None) -> tuple[Any, dict]:
    """PPMO (or direct PPO, ``r.mj["method"]``) through ``runner.run`` into ``out_dir`` -> (final
    state, info); info adds ``epoch_s_after_compile`` when known and, with a ``check``
    (``kshot_check``), ``best`` (``runner.Best``: the best-scoring dataset, what the checkpoints
    hold; log.csv gains kshot_mean/kshot_std). An envpool resume restarts the emulators (keeping
    the normaliser), so it is not bit-exact; a brax resume is."""
    ticks: list[tuple[float, int]] = []
    k_init, k_epochs = seed_keys(r.seed)
    state, info = run(r.init, r.step, epochs=meta_epochs, init_key=k_init, epoch_key=k_epochs, out_dir=out_dir,
                      resume=resume, checkpoint_every=checkpoint_every, metadata=r.metadata,
                      dataset_of=r.dataset_of, after_restore=restart_envpool if r.mj["backend"] == "envpool" else None,
                      log_fields=LOG_FIELDS if check is None else PPMO_LOG_FIELDS, chunk=chunk, progress=progress,
                      check=check, on_chunk=lambda s, m, epoch: ticks.append((time.time(), epoch)))
    if len(ticks) >= 2 and ticks[-1][1] > ticks[0][1]:
        info["epoch_s_after_compile"] = (ticks[-1][0] - ticks[0][0]) / (ticks[-1][1] - ticks[0][1])
    return state, info


def kshot(ds: Dataset, obs_rms, num_learners: int, *, seed: int, backend: str, env: str,
          brax_backend: str | None, episode_length: int, greedy: bool = False, benv=None,
          offset: int = EVAL_SEED) -> dict:
    """k-shot score of a continuous dataset: ``num_learners`` fresh learners (key ``seed + offset``),
    one SGD step each, one episode each (at most ``episode_length`` steps) in ``num_learners`` envs
    (``benv``, or made with seed ``seed + offset``), observations normalised by ``obs_rms`` frozen
    (None: raw), sampled actions (``greedy``: the means). -> {"mean", "std", "n", "returns"} of raw returns."""
    if benv is None:
        benv = make_benv(backend, env, num_learners, seed + offset, brax_backend, episode_length)
    learner = mujoco_learner(benv.observation_space().shape[0], benv.action_space().shape[0])
    r = evaluate_batched(jax.random.key(seed + offset), ds, benv, learner, num_learners,
                         max_steps=episode_length, greedy=greedy, obs_rms=obs_rms)
    return {k: r[k] for k in ("mean", "std", "n", "returns")}


class Scored(NamedTuple):
    """A saved continuous dataset ready to score (``load_scored``)."""

    ds: Dataset
    meta: dict
    env: str
    backend: str
    brax_backend: str | None
    episode_length: int
    benv: Any
    obs_rms: Any


def run_record(path: str | Path) -> dict:
    """The run.json beside a dataset (``path`` a run folder, or a file in one; {} if none or unreadable):
    what a published run folder without checkpoints (dataset.npz + run.json) records of its task."""
    path = Path(path)
    try:
        return json.loads(((path if path.is_dir() else path.parent) / "run.json").read_text())
    except (OSError, ValueError):
        return {}


def load_scored(path: str | Path, num_learners: int, seed: int, env: str | None = None, backend: str = "brax",
                brax_backend: str | None = None, episode_length: int = EPISODE_LENGTH) -> Scored:
    """A saved dataset (run folder, checkpoint folder or npz) with the env and episode length it records
    (``env`` given: that env on ``backend``, episodes of ``episode_length``), an eval env of
    ``num_learners`` copies seeded ``seed + EVAL_SEED`` and its stored observation normaliser. ValueError (one line) if it cannot be loaded or does not fit."""
    from rlsl_jax import checkpoint

    ds, meta = checkpoint.load_dataset(path)
    if ds.log_std is None:  # before the env: a discrete dataset records no MuJoCo env
        check_fits(ds, None, str(path), "a MuJoCo task")
    stored = meta.get("mujoco") or run_record(path).get("mujoco") or {}
    name = check_env_name(env) if env else stored.get("env")
    if name is None:
        raise ValueError(f"{path} does not record its env; pass --env")
    backend = stored.get("backend", backend) if env is None else backend
    brax_backend = brax_backend or stored.get("brax_backend")
    episode_length = stored.get("episode_length", episode_length) if env is None else episode_length
    benv = make_benv(backend, name, num_learners, seed + EVAL_SEED, brax_backend, episode_length)
    check_fits(ds, benv, str(path), f"{backend} {name}")
    return Scored(ds, meta, name, backend, brax_backend, episode_length, benv, rms_from_meta(meta))


def score(s: Scored, num_learners: int, *, seed: int, greedy: bool = False, source: str = "",
          out: Path | None = None) -> dict:
    """``kshot`` of a ``load_scored`` dataset with its description (eval.json, written into ``out`` if given)."""
    t0 = time.time()
    r = kshot(s.ds, s.obs_rms, num_learners, seed=seed, backend=s.backend, env=s.env, brax_backend=s.brax_backend,
              episode_length=s.episode_length, greedy=greedy, benv=s.benv)
    r = {**r, "dataset": source, "env": s.env, "backend": s.backend, "k": int(s.ds.x.shape[0]),
         "inner_lr": float(s.ds.inner_lr), "greedy": bool(greedy), "obs_normalised": s.obs_rms is not None,
         "wall_s": round(time.time() - t0, 1), "seed": seed}
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        write_json(Path(out) / "eval.json", r)
    return r


def eval_line(r: dict) -> str:
    return (f"{r['backend']} {r['env']} k={r['k']}: {r['n']} fresh learners, return {r['mean']:.1f} ± {r['std']:.1f} "
            f"(one episode each, {'mean' if r['greedy'] else 'sampled'} actions, stored normaliser"
            f"{'' if r['obs_normalised'] else ': none'}; {r['wall_s']:.0f}s)")


def curve(r: Run, check: KShotCheck | None = None) -> tuple[list[str], str]:
    """(log.csv columns, title) of the run's learning-curve plot (with a ``check``: its score too)."""
    ys = ["episode_return"] + (["inner_lr"] if r.mj["method"] == "ppmo" else []) + (["kshot_mean"] if check else [])
    return ys, (f"{r.mj['method'].upper()} {env_id_of(r.mj['backend'], r.mj['env'])} k={r.cfg.k} "
                f"P={r.cfg.population} (raw return)")


def publish(r: Run, state, info: dict, out: Path, final_eval_learners: int = 0) -> tuple[dict, str]:
    """Writes ``out``/dataset.npz (PPMO) and summary.json (with a final k-shot score over
    ``final_eval_learners`` fresh learners if > 0; direct PPO: that many episodes of the trained
    agent, sampled ("eval") and mean actions ("eval_mean")) -> (summary, the line to print). With
    a periodic check (``info["best"]``) the dataset published and scored is the best-checked one,
    and summary.json records ``best_check`` {meta_epoch, kshot_mean}. Process 0 only."""
    from rlsl_jax.checkpoint import write_npz

    mj, cfg = r.mj, r.cfg
    summary = {"env": mj["env"], "backend": mj["backend"], "brax_backend": mj["brax_backend"], "method": mj["method"],
               "k": cfg.k, "population": cfg.population, "num_envs": cfg.num_envs, "obs_scale": obs_scale_of(mj),
               "rollout_steps": cfg.rollout_steps, "meta_epochs": int(state.meta_epoch),
               "train_wall_s": round(info.get("total_wall_s", info["wall_s"]), 2), "device": str(jax.devices()[0]),
               "paper_table3": paper.TABLE3[mj["env"]][0]}
    line = f"{mj['method'].upper()} {mj['env']}: {summary['meta_epochs']} meta-epochs in {summary['train_wall_s']:.1f}s"
    if "epoch_s_after_compile" in info:
        summary["epoch_s_after_compile"] = info["epoch_s_after_compile"]
        line += f" ({info['epoch_s_after_compile']:.2f} s/meta-epoch after compile)"
    if mj["method"] == "ppo" and final_eval_learners:
        # the trained actor itself, one episode in each of ``final_eval_learners`` envs, normaliser frozen
        arrays = jax.device_get(r.dataset_of(state))
        rms = stored_rms(arrays)
        benv = make_benv(mj["backend"], mj["env"], final_eval_learners, r.seed + EVAL_SEED, mj["brax_backend"],
                         mj["episode_length"])
        for greedy, name in ((False, "eval"), (True, "eval_mean")):
            e = evaluate_batched(jax.random.key(r.seed + EVAL_SEED), None, benv, r.learner, final_eval_learners,
                                 max_steps=mj["episode_length"], greedy=greedy, obs_rms=rms, actor=arrays["actor"])
            summary[name] = {k: e[k] for k in ("mean", "std", "n")}
        line += (f"; the trained agent, {final_eval_learners} episodes: return {summary['eval']['mean']:.1f} ± "
                 f"{summary['eval']['std']:.1f} sampled, {summary['eval_mean']['mean']:.1f} ± "
                 f"{summary['eval_mean']['std']:.1f} mean actions")
    best = info.get("best")
    if best is not None:
        summary["best_check"] = {"meta_epoch": best.meta_epoch, "kshot_mean": best.mean}
        line += f" (dataset of meta-epoch {best.meta_epoch}, check score {best.mean:.1f})"
    if mj["method"] == "ppmo":
        # from memory, on host copies: in a multi-process run only process 0 is here (reading the
        # checkpoint back through orbax, or computing on the global arrays, would wait for the others)
        arrays = jax.device_get(r.dataset_of(state) if best is None else best.dataset)
        ds, rms = dataset_and_rms(arrays)
        extra = {k: v for k, v in arrays.items() if k.startswith("obs_")}
        write_npz(ds, {**r.metadata, "extra": extra}, Path(out) / "dataset.npz")
        if final_eval_learners:
            e = kshot(ds, rms, final_eval_learners, seed=r.seed, backend=mj["backend"], env=mj["env"],
                      brax_backend=mj["brax_backend"], episode_length=mj["episode_length"])
            summary["eval"] = {k: e[k] for k in ("mean", "std", "n")}
            line += f"; {e['n']} fresh learners: return {e['mean']:.1f} ± {e['std']:.1f}"
    write_json(Path(out) / "summary.json", summary)
    return summary, line
