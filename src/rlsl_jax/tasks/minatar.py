"""The MinAtar task family (gymnax's pure-JAX MinAtar): PPMO with encoder rollback, the direct-PPO
ceiling on the same code, k-shot scores and a picture of a distilled dataset.

Games (``GAMES``): Breakout, SpaceInvaders, Asterix, Freeway; observations [10, 10, C] float32
channels-last (C = 4, 6, 4, 7), gymnax's minimal action sets (3, 4, 5, 3 actions), episodes capped
at 1000 steps (Freeway 2500), no sticky actions.

Learner (``networks.minatar``): the standard MinAtar conv net (conv 16 3×3, dense 128, head) split
at layer l ∈ 0..3 (``minatar_split``): layers < l are the encoder ξ, stored in the dataset and
trained by the outer loss; layers >= l are the learner, re-sampled every meta-epoch and trained by
the one-step inner update on encoder(X). l = 0 is full distillation, l = 3 plain RL. ``arch="mlp"``
(l = 0 only): a 64-64 tanh MLP on the flattened frame. The critic is the conv net with one output.

Direct PPO (``method="ppo"``): ``rl.ppo.make_train_step`` with the whole conv net (or the MLP) as
the actor and the same conv critic; one PPO epoch uses exactly the env steps of one meta-epoch
(E·T), so equal epoch counts are equal env-step budgets. Its actor is scored like a dataset: one
full episode per evaluation, sampled and greedy.

k-shot scores (``kshot``): fresh learners of the split at the dataset's layer, ONE SGD step each on
MSE(learner(encoder_ξ(X)), Y) (the PPMO inner step; ξ frozen), one full episode each, through
``evaluate.evaluate``.
"""

from __future__ import annotations

import dataclasses
import functools
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
from rlsl_jax.distill.ppmo import PPMOConfig, make_meta_step
from rlsl_jax.envs import MINATAR_ACTIONS, MINATAR_CHANNELS, MINATAR_IDS, make
from rlsl_jax.evaluate import evaluate, policy_returns, summarize as summarize_returns
from rlsl_jax.networks.cnn import cnn_init_jit
from rlsl_jax.networks.learners import DiscreteLearner
from rlsl_jax.networks.minatar import (
    ARCHS, MINATAR_NUM_LAYERS, MinAtarLearner, minatar_critic, minatar_encoder_description, minatar_learner,
    minatar_split,
)
from rlsl_jax.runner import PPMO_LOG_FIELDS, KShotCheck, ppmo_rows, run, seed_keys

GAMES = tuple(i.removesuffix("-MinAtar") for i in MINATAR_IDS)
NUM_LAYERS = MINATAR_NUM_LAYERS
METHODS = ("ppmo", "ppo")
ACTION_NAMES = ("noop", "left", "up", "right", "down", "fire")  # MinAtar's full action set, by index
CHANNEL_NAMES = {  # what each observation channel shows (gymnax's MinAtar renderers)
    "Breakout": ("paddle", "ball", "trail", "brick"),
    "SpaceInvaders": ("cannon", "alien", "alien left", "alien right", "own shot", "enemy shot"),
    "Asterix": ("player", "enemy", "trail", "gold"),
    "Freeway": ("chicken", "car", "speed 1", "speed 2", "speed 3", "speed 4", "speed 5"),
}
DEFAULT_PRESET = "default"
PRESETS = {
    # 16 envs x 128 steps (2048 transitions per meta-epoch), 4 PPO epochs x 4 minibatches of 512,
    # Adam 5e-4, eps 0.2: the rollout of gymnax/PureJaxRL's MinAtar PPO at a quarter of its width
    # (a 2-core CPU), their learning rate and clipping (MinAtar frames are small, binary and the
    # policy changes slowly per update, so the paper's Atari eps 0.1 only slows it; measured in
    # experiments/minatar/RESULTS.md). Direct PPO uses the same fields.
    "default": PPMOConfig(k=16, num_envs=16, rollout_steps=128, update_epochs=4, minibatch_size=512,
                          clip_eps=0.2, lr=5e-4, critic_lr=5e-4),
    # gymnax/PureJaxRL's MinAtar PPO batch (64 envs x 128 steps, 4 epochs x 8 minibatches of 1024): for
    # an accelerator, where a meta-epoch costs about as much at 64 envs as at 16
    "purejaxrl": PPMOConfig(k=16, num_envs=64, rollout_steps=128, update_epochs=4, minibatch_size=1024,
                            clip_eps=0.2, lr=5e-4, critic_lr=5e-4),
    # tests and smoke runs
    "tiny": PPMOConfig(k=4, num_envs=2, rollout_steps=16, update_epochs=1, minibatch_size=16),
}
PPO_LOG_FIELDS = ("meta_epoch", "env_steps", "wall_s", "episode_return", "episodes", "last_return", "policy_loss",
                  "value_loss", "entropy", "approx_kl", "clip_frac", "grad_norm")
LOG_FIELDS = ("meta_epoch", "env_steps", *PPMO_LOG_FIELDS[1:])
EVAL_SEED = 1_000_003   # final k-shot learners: seed + EVAL_SEED
CHECK_SEED = 2_000_003  # periodic-check learners: seed + CHECK_SEED


class Task(NamedTuple):
    game: str            # "Breakout"
    env_id: str          # "Breakout-MinAtar"
    layer: int           # encoder rollback layer l (0 = full distillation)
    arch: str            # "conv" or "mlp"
    env: Any
    env_params: Any
    obs_shape: tuple[int, int, int]
    num_actions: int
    action_names: tuple[str, ...]
    learner: Any         # the learner distribution of layers [l, 3) (or the MLP)
    encoder: Any         # networks.cnn.NetFns of layers [0, l), None for l = 0


def resolve_game(game: str) -> str:
    """'Breakout' or 'Breakout-MinAtar' (any case) -> 'Breakout'; ValueError listing the games."""
    name = str(game).lower().removesuffix("-minatar")
    for g in GAMES:
        if g.lower() == name:
            return g
    raise ValueError(f"unknown MinAtar game {game!r}; valid: {', '.join(GAMES)}")


def make_task(game: str, layer: int = 0, arch: str = "conv") -> Task:
    """Env + learner (+ encoder) of ``game`` split at ``layer``; ValueError (one line) for an unknown
    game, a layer outside 0..3 or the MLP with l > 0. The same arguments give the same Task object
    (so ``make_step`` and the evaluator reuse their compiled programs within a process)."""
    return _make_task(resolve_game(game), int(layer), arch)


@functools.lru_cache(maxsize=32)
def _make_task(name: str, layer: int, arch: str) -> Task:
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)} (got {arch!r})")
    if not 0 <= int(layer) <= NUM_LAYERS:
        raise ValueError(f"layer must be in 0..{NUM_LAYERS} (got {layer})")
    if arch == "mlp" and layer != 0:
        raise ValueError(f"encoder rollback splits the conv net; the mlp learner takes layer 0 only (got {layer})")
    env, params = make(f"{name}-MinAtar")
    obs_shape = tuple(int(s) for s in env.observation_space(params).shape)
    num_actions = int(env.action_space(params).n)
    names = tuple(ACTION_NAMES[int(a)] for a in np.asarray(env.action_set))
    if arch == "conv":
        learner, enc = minatar_split(obs_shape, num_actions, int(layer))
    else:
        learner, enc = minatar_learner(obs_shape, num_actions, "mlp"), None
    return Task(name, f"{name}-MinAtar", int(layer), arch, env, params, obs_shape, num_actions, names, learner, enc)


def kmin(game: str) -> int:
    """The paper's Eq. 3, ceil(c / 2) + 1, for the game's c actions (3, 3, 4, 3)."""
    return paper.kmin_for(make_task(game).num_actions)


def env_steps_per_epoch(cfg: PPMOConfig) -> int:
    """Env steps of one meta-epoch (P·E·T) or of one direct-PPO epoch (E·T, P = 1)."""
    return cfg.population * cfg.num_envs * cfg.rollout_steps


# ---------------------------------------------------------------------------------------------
# direct PPO's actor


@dataclasses.dataclass(frozen=True)
class WholeNet(DiscreteLearner):
    """ONE whole MinAtar conv net as direct PPO's actor. ``rl.ppo`` hands the actor flattened
    observations [..., H·W·C]; ``apply`` takes those or frames [..., H, W, C]."""

    net: MinAtarLearner
    name: str = "minatar_cnn"

    def init_params(self, key: jax.Array):
        return cnn_init_jit(key, self.net.spec)

    def sample(self, key: jax.Array, num: int):
        return self.net.sample(key, num)

    def apply(self, params, x: jax.Array) -> jax.Array:
        shape = self.net.obs_shape
        if tuple(x.shape[x.ndim - 3:]) != tuple(shape):
            x = x.reshape(*x.shape[:-1], *shape)
        return self.net.apply(params, x)

    @property
    def obs_dim(self) -> int:
        return math.prod(self.net.obs_shape)

    @property
    def out_dim(self) -> int:
        return self.net.out_dim

    def describe(self) -> dict:
        return self.net.describe()


def ppo_actor(task: Task):
    """Direct PPO's actor: the whole conv net (``WholeNet``) or the MLP learner itself."""
    if task.arch == "mlp":
        return task.learner
    return WholeNet(minatar_split(task.obs_shape, task.num_actions, 0)[0])


@dataclasses.dataclass(frozen=True, eq=False)
class RolledBack(DiscreteLearner):
    """Fresh learners on a dataset's frozen encoder: ``apply(φ, x) = learner.apply(φ,
    encoder_apply(ξ, x))``, so ``inner_step`` fits learner(encoder_ξ(X)) to Y, exactly the PPMO
    inner step. ξ is baked into the object (hashed by identity: one compilation per dataset)."""

    learner: Any
    encoder_apply: Callable
    xi: Any
    name: str = "rolled_back"

    def sample(self, key: jax.Array, num: int):
        return self.learner.sample(key, num)

    def apply(self, params, x: jax.Array) -> jax.Array:
        return self.learner.apply(params, self.encoder_apply(self.xi, x))

    @property
    def out_dim(self) -> int:
        return self.learner.out_dim

    def describe(self) -> dict:
        return {**self.learner.describe(), "name": self.name}


def kshot_learner(task: Task, ds) -> Any:
    """The learner ``evaluate`` trains on ``ds``: ``task.learner`` itself (l = 0), else the learner
    on ``ds.encoder`` (``RolledBack``)."""
    if task.encoder is None:
        return task.learner
    return RolledBack(task.learner, task.encoder.apply, jax.tree.map(jnp.asarray, ds.encoder))


# ---------------------------------------------------------------------------------------------
# runs


def metadata(task: Task, cfg: PPMOConfig, seed: int, method: str = "ppmo") -> dict:
    """What checkpoints and dataset.npz record about the run (``load_dataset`` reads it back)."""
    learner = ppo_actor(task) if method == "ppo" else task.learner
    return {"env_id": task.env_id, "env_kwargs": {}, "game": task.game, "k": cfg.k, "layer": task.layer,
            "arch": task.arch, "obs_shape": list(task.obs_shape), "num_actions": task.num_actions,
            "learner": learner.describe(),
            "encoder": minatar_encoder_description(task.obs_shape, task.num_actions, task.layer)
            if task.arch == "conv" and method == "ppmo" else None,
            "seed": seed, "config": config_to_dict(cfg), "method": method}


def run_record(task: Task, cfg: PPMOConfig, seed: int, method: str) -> dict:
    """run.json: what ``--resume`` rebuilds the run from (``from_record``)."""
    return {"game": task.game, "env_id": task.env_id, "layer": task.layer, "arch": task.arch, "method": method,
            "seed": seed, "config": config_to_dict(cfg)}


def from_record(saved: dict) -> tuple[Task, PPMOConfig, int, str]:
    """(task, config, seed, method) of a run.json."""
    return (make_task(saved["game"], saved["layer"], saved["arch"]), config_from_dict(PPMOConfig, saved["config"]),
            saved["seed"], saved["method"])


@flax.struct.dataclass
class PPORun:
    """Direct PPO's state with the epoch counter the host loop reads (``meta_epoch``)."""

    ppo: Any
    meta_epoch: jax.Array


def make_step(task: Task, cfg: PPMOConfig, method: str = "ppmo") -> tuple[Callable, Callable, Callable]:
    """(init, step, dataset_of) of PPMO on ``task`` or of direct PPO (``method="ppo"``, same
    rollout and optimiser fields of ``cfg``, the PPO actor ``ppo_actor(task)``); both with the conv
    critic. ``dataset_of(state)`` is what checkpoints store: θ, or {"actor": φ} for PPO. Cached:
    the same (game, layer, arch, cfg, method) gives the same jitted step within a process."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS} (got {method!r})")
    return _make_step(task.game, task.layer, task.arch, cfg, method)


@functools.lru_cache(maxsize=32)
def _make_step(game: str, layer: int, arch: str, cfg: PPMOConfig, method: str):
    task = make_task(game, layer, arch)
    critic = minatar_critic(task.obs_shape)
    if method == "ppmo":
        init, step = make_meta_step(cfg, task.env, task.env_params, task.learner, critic=critic,
                                    encoder=task.encoder)
        return init, step, lambda s: s.dataset
    from rlsl_jax.rl.ppo import PPOConfig, make_train_step

    pcfg = config_from_dict(PPOConfig, config_to_dict(cfg))
    ppo_init, ppo_step = make_train_step(pcfg, task.env, task.env_params, ppo_actor(task), critic=critic)

    def init(key):
        return PPORun(ppo_init(key), jnp.zeros((), jnp.int32))

    def step(state, key):
        s, m = ppo_step(state.ppo, key)
        return PPORun(s, state.meta_epoch + 1), m

    return init, jax.jit(step), lambda s: {"actor": s.ppo.actor}


def kshot_check(task: Task, every: int, target: float | None, learners: int, seed: int) -> KShotCheck:
    """Every ``every`` meta-epochs, score the dataset with ``learners`` fresh learners (sampled
    actions; the same learners each time)."""
    key = jax.random.key(seed + CHECK_SEED)

    def score(ds):
        r = evaluate(key, ds, task.env, task.env_params, kshot_learner(task, ds), learners, chunk=256)
        return r["mean"], r["std"]

    return KShotCheck(every, score, target)


def distil(task: Task, cfg: PPMOConfig, *, seed: int, meta_epochs: int, out_dir: Path | None,
           method: str = "ppmo", resume: bool = False, chunk: int = 25, checkpoint_every: int = 250,
           progress: bool = True, stop_return: float | None = None,
           check: KShotCheck | None = None) -> tuple[Any, Any, dict]:
    """PPMO (or direct PPO) on ``task`` into ``out_dir`` through ``runner.run`` -> (final state,
    what to publish, info): the dataset (the best by the k-shot check when ``check`` is given, else
    the final one), or PPO's actor parameters. log.csv has an ``env_steps`` column; the run is
    pure JAX, so a resumed run is bit-identical to an uninterrupted one."""
    if method == "ppo" and check is not None:
        raise ValueError("the periodic k-shot check scores datasets; direct PPO has none")
    init, step, dataset_of = make_step(task, cfg, method)
    per_epoch = env_steps_per_epoch(cfg) if method == "ppmo" else cfg.num_envs * cfg.rollout_steps

    def rows_of(metrics, start, wall):
        return [{**r, "env_steps": r["meta_epoch"] * per_epoch} for r in ppmo_rows(metrics, start, wall)]

    k_init, k_epochs = seed_keys(seed)
    state, info = run(init, step, epochs=meta_epochs, init_key=k_init, epoch_key=k_epochs, out_dir=out_dir,
                      resume=resume, checkpoint_every=checkpoint_every, metadata=metadata(task, cfg, seed, method),
                      dataset_of=dataset_of, log_fields=PPO_LOG_FIELDS if method == "ppo" else LOG_FIELDS,
                      rows_of=rows_of, chunk=chunk, progress=progress, stop_return=stop_return, check=check)
    if method == "ppo":
        return state, state.ppo.actor, info
    return state, (info["best"].dataset if info["best"] is not None else state.dataset), info


# ---------------------------------------------------------------------------------------------
# scores


def kshot(task: Task, ds, num_learners: int, *, seed: int, greedy: bool = False, untrained: bool = False,
          learner: Any = None) -> dict:
    """k-shot score of ``ds``: ``num_learners`` fresh learners (key ``seed + EVAL_SEED``; the same
    learners sampled and greedy), one SGD step each (``untrained``: η = 0), one full episode each.
    ``learner``: ``kshot_learner(task, ds)`` if already built (it compiles once per object).
    -> evaluate's {"mean", "std", "n", "returns", "greedy", "episodes"}."""
    if untrained:
        ds = ds.replace(inner_lr=jnp.zeros_like(jnp.asarray(ds.inner_lr)))
    ds = jax.tree.map(jnp.asarray, ds)
    return evaluate(jax.random.key(seed + EVAL_SEED), ds, task.env, task.env_params,
                    learner if learner is not None else kshot_learner(task, ds), num_learners, greedy=greedy,
                    chunk=256)


def actor_score(task: Task, actor, episodes: int, *, seed: int, greedy: bool = False) -> dict:
    """Score of a trained direct-PPO actor: ``episodes`` full episodes (key ``seed + EVAL_SEED``).
    -> {"mean", "std", "n", "returns"} over episodes."""
    r = policy_returns(jax.random.key(seed + EVAL_SEED), actor, task.env, task.env_params, ppo_actor(task),
                       episodes, greedy)
    return summarize_returns(np.asarray(r)[:, None])


def score_modes(task: Task, published, n: int, *, seed: int, method: str = "ppmo") -> dict:
    """{"sampled": {...}, "greedy": {...}} (mean, std, n, wall_s) of a dataset (``n`` fresh
    learners) or of PPO's actor (``n`` episodes)."""
    out = {}
    learner = None if method == "ppo" else kshot_learner(task, published)
    for mode, greedy in (("sampled", False), ("greedy", True)):
        t0 = time.time()
        r = (actor_score(task, published, n, seed=seed, greedy=greedy) if method == "ppo"
             else kshot(task, published, n, seed=seed, greedy=greedy, learner=learner))
        out[mode] = {"mean": r["mean"], "std": r["std"], "n": r["n"], "wall_s": round(time.time() - t0, 1)}
    return out


def summarize(task: Task, cfg: PPMOConfig, method: str, state, published, info: dict, learners: int,
              seed: int) -> dict:
    """summary.json of a run: sizes, budget (meta-epochs, env steps, wall time), the best periodic
    check (if any), HaDES's number, and the final score over ``learners`` fresh learners (PPMO) or
    episodes (PPO), sampled and greedy."""
    epochs = int(state.meta_epoch)
    per_epoch = env_steps_per_epoch(cfg) if method == "ppmo" else cfg.num_envs * cfg.rollout_steps
    out = {"game": task.game, "env_id": task.env_id, "method": method, "layer": task.layer, "arch": task.arch,
           "k": cfg.k if method == "ppmo" else None, "meta_epochs": epochs, "env_steps": epochs * per_epoch,
           "train_wall_s": round(info.get("total_wall_s", info["wall_s"]), 2),
           "hades": paper.HADES_MINATAR.get(task.game)}
    if info.get("best") is not None:
        out["best_check"] = {"meta_epoch": info["best"].meta_epoch, "kshot_mean": info["best"].mean}
    if method == "ppmo":
        out["inner_lr"] = float(np.asarray(published.inner_lr))
    if learners:
        out.update(score_modes(task, published, learners, seed=seed, method=method))
    return out


def summary_line(s: dict) -> str:
    """The one line the CLI prints last."""
    what = "PPO" if s["method"] == "ppo" else f"PPMO k={s['k']} l={s['layer']}"
    line = (f"{s['env_id']} {what} ({s['arch']}): {s['meta_epochs']} meta-epochs, {s['env_steps']} env steps in "
            f"{s['train_wall_s']:.1f}s")
    if "best_check" in s:
        line += f" (dataset of meta-epoch {s['best_check']['meta_epoch']})"
    if "sampled" in s:
        who = "episodes of the trained agent" if s["method"] == "ppo" else "fresh learners"
        line += (f"; {s['sampled']['n']} {who}: sampled {s['sampled']['mean']:.1f} ± {s['sampled']['std']:.1f}, "
                 f"greedy {s['greedy']['mean']:.1f} ± {s['greedy']['std']:.1f} (HaDES {s['hades']})")
    return line


# ---------------------------------------------------------------------------------------------
# saved datasets


def game_of_shapes(channels: int, num_actions: int) -> str:
    """The game whose frames have ``channels`` channels and ``num_actions`` actions (unique)."""
    for g in GAMES:
        t = f"{g}-MinAtar"
        if (MINATAR_CHANNELS[t], MINATAR_ACTIONS[t]) == (channels, num_actions):
            return g
    raise ValueError(f"no MinAtar game has {channels}-channel frames and {num_actions} actions")


def load_scored(path: str | Path, game: str | None = None, arch: str | None = None) -> tuple[Task, Any, dict]:
    """(task, dataset, metadata) to score a saved dataset (a run folder, checkpoint folder or
    dataset.npz): the game it records (an npz: the one its shapes fit) unless given, its rollback
    layer. ValueError (one line) if it cannot be loaded or does not fit."""
    from rlsl_jax import checkpoint

    ds, meta = checkpoint.load_dataset(path)
    if ds.x.ndim != 4:
        raise ValueError(f"{path}: x has shape {tuple(ds.x.shape)}, not [k, 10, 10, C] MinAtar frames")
    name = game or meta.get("game") or game_of_shapes(int(ds.x.shape[-1]), int(ds.y.shape[-1]))
    layer = int(meta.get("layer", meta.get("encoder_layer", 0)))
    task = make_task(name, layer, arch or meta.get("arch", "conv"))
    if tuple(ds.x.shape[1:]) != task.obs_shape or ds.y.shape[-1] != task.num_actions:
        raise ValueError(f"{path}: x {tuple(ds.x.shape)} / y {tuple(ds.y.shape)} do not fit {task.env_id} "
                         f"(x [k, {', '.join(map(str, task.obs_shape))}], y [k, {task.num_actions}])")
    expected = None if task.encoder is None else jax.eval_shape(task.encoder.init, jax.random.key(0))
    checkpoint.check_encoder(ds.encoder, expected, str(path), meta)
    return task, ds, meta


# ---------------------------------------------------------------------------------------------
# picture

PALETTE = np.array([[0.90, 0.25, 0.20], [0.25, 0.60, 0.95], [0.95, 0.80, 0.20], [0.35, 0.80, 0.35],
                    [0.80, 0.40, 0.85], [0.95, 0.55, 0.15], [0.60, 0.90, 0.90], [0.85, 0.85, 0.85]])


def frame_rgb(frame: np.ndarray) -> np.ndarray:
    """[H, W, C] (real-valued synthetic or binary real) -> [H, W, 3]: each cell in the colour of
    its largest channel (``PALETTE``), brightness that channel's value over the frame's largest
    value; cells whose channels are all <= 0 are black."""
    frame = np.asarray(frame, np.float64)
    top, idx = frame.max(-1), frame.argmax(-1)
    scale = top.max() if top.max() > 0 else 1.0
    bright = np.clip(top / scale, 0.0, 1.0)[..., None]
    return PALETTE[idx % len(PALETTE)] * bright


def dataset_picture(task: Task, ds, out_png: Path, title: str = "") -> Path:
    """The k synthetic frames of ``ds`` as a grid (``frame_rgb``), each with its label's argmax
    action (and that action's softmax probability) under it, and a legend of the channels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    x, y = np.asarray(ds.x), np.asarray(ds.y)
    k = x.shape[0]
    cols = min(8, k)
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.75 * rows + 0.6), squeeze=False)
    p = np.exp(y - y.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= k:
            ax.axis("off")
            continue
        ax.imshow(frame_rgb(x[i]), interpolation="nearest")
        a = int(y[i].argmax())
        ax.set_xlabel(f"{task.action_names[a]} {p[i, a]:.2f}", fontsize=8)
    names = CHANNEL_NAMES.get(task.game, ())
    handles = [Patch(color=PALETTE[c % len(PALETTE)], label=names[c] if c < len(names) else f"ch {c}")
               for c in range(x.shape[-1])]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False)
    fig.suptitle(title or f"{task.env_id} k={k} l={task.layer} (η = {float(np.asarray(ds.inner_lr)):.3g})",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png
