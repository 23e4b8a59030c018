"""The Atari task family (envpool): PPMO with encoder rollback (Algorithm 2) and k-shot scores.

Learner α_a: the Nature CNN (3 conv + dense 512 + head), split at layer l ∈ 0..5
(``networks.cnn.nature_cnn_split``): layers < l are the encoder, trained with θ by the outer loss
and never re-sampled (stored in the dataset); layers >= l are the learner, re-sampled every
meta-epoch and trained by the one-step inner update on encoder(X). l = 0 is full distillation;
l = 5 leaves the learner empty, so the meta-step is exactly the PPO update of the whole network
(plain RL, the paper's baseline; same rollout, GAE, losses and optimiser as PPMO). X keeps the
observation shape [k, 4, 84, 84] at every l. The critic is a separate Nature CNN (head gain 1).
k defaults to Table 5's k_min (``paper.KMIN_TABLE5``; Eq. 3 for other games).

Environment (envpool, see envs/envpool_bridge.py): 84×84 gray, 4-frame stack, frame skip 4, up to
30 no-ops at reset, 27000-step cap. Presets: ``PRESETS`` (PPMOConfig values) with the training
env's options ``ENV_OPTIONS``:

* ``cleanrl`` (the default): CleanRL's Atari PPO batch, 8 envs × 128 steps, 4 epochs × 4
  minibatches of 256, with the paper's ε = 0.1; sign-clipped rewards, a lost life ends the
  training episode;
* ``paper``: the paper's Appendix A, 10 envs × 200 steps, minibatches of 512, ε = 0.1; raw
  rewards, full-game episodes.

Every reported score (log.csv's episode_return, the progress bar, k-shot scores) is the raw return
of a full game. k-shot scores (``kshot``): fresh learners trained by one SGD step each, one full
game per learner (no life loss, raw rewards, sampled actions), through ``evaluate.evaluate_batched``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rlsl_jax import paper
from rlsl_jax.config import config_from_dict, config_to_dict
from rlsl_jax.distill.ppmo import PPMOConfig, make_meta_step
from rlsl_jax.envs import make
from rlsl_jax.envs.envpool_bridge import EVAL_KWARGS, atari_ids, drain_scores
from rlsl_jax.evaluate import evaluate_batched
from rlsl_jax.logs import write_json
from rlsl_jax.networks.cnn import ATARI_OBS_SHAPE, encoder_description, nature_cnn_critic, nature_cnn_split
from rlsl_jax.runner import PPMO_LOG_FIELDS, run, seed_keys

NUM_LAYERS = 5
DEFAULT_PRESET = "cleanrl"
PRESETS = {
    "cleanrl": PPMOConfig(num_envs=8, rollout_steps=128, minibatch_size=256, clip_eps=0.1),
    "paper": PPMOConfig(num_envs=10, rollout_steps=200, minibatch_size=512, clip_eps=0.1),
}
ENV_OPTIONS = {"cleanrl": {"episodic_life": True, "reward_clip": True},
               "paper": {"episodic_life": False, "reward_clip": False}}
SKIP_FIELDS = ("critic_hidden",)  # the Atari critic is a Nature CNN
# log.csv columns: no periodic k-shot check here, so those of runs made before the check existed
LOG_FIELDS = tuple(f for f in PPMO_LOG_FIELDS if not f.startswith("kshot"))
EVAL_SEED = 1_000_003  # k-shot learners and emulators: seed + EVAL_SEED


class Task(NamedTuple):
    game: str            # "Pong"
    task: str            # envpool id, "Pong-v5"
    layer: int           # encoder rollback layer l
    env_kwargs: dict     # envpool options of the training env
    num_actions: int
    learner: Any         # networks.cnn.CNNLearnerDist of layers [l, 5)
    encoder: Any         # NetFns of layers [0, l), None for l = 0


def resolve_game(game: str) -> tuple[str, str]:
    """'Pong', 'Pong-v5' or 'envpool/Pong-v5' -> ('Pong', 'Pong-v5'); ValueError listing the ids."""
    ids = atari_ids()
    if not ids:
        raise ValueError("envpool is not installed: pip install 'rlsl-jax[atari]' (envpool>=1.2.5)")
    name = game.removeprefix("envpool/")
    task = name if name.endswith("-v5") else f"{name}-v5"
    if task not in ids:
        raise ValueError(f"unknown game {game!r}; valid envpool Atari ids: {', '.join(ids)}")
    return task.removesuffix("-v5"), task


def train_env_kwargs(preset: str = DEFAULT_PRESET, life_loss: bool | None = None,
                     reward_clip: bool | None = None) -> dict:
    """envpool options of the training env: the preset's, either switch overridden if given."""
    kw = dict(ENV_OPTIONS[preset])
    if life_loss is not None:
        kw["episodic_life"] = life_loss
    if reward_clip is not None:
        kw["reward_clip"] = reward_clip
    return kw


def default_k(game: str, num_actions: int) -> int:
    """Table 5's k_min for its four games, else Eq. 3's ceil(c / 2) + 1."""
    return paper.KMIN_TABLE5.get(game) or paper.kmin_for(num_actions)


def make_task(game: str, layer: int = 0, env_kwargs: dict | None = None) -> Task:
    """The game (resolved as ``resolve_game``), its action count and the α_a split at ``layer``."""
    name, task = resolve_game(game)
    if not 0 <= layer <= NUM_LAYERS:
        raise ValueError(f"layer must be in 0..{NUM_LAYERS} (got {layer})")
    probe, _ = make(f"envpool/{task}", num_envs=1)
    num_actions = int(probe.action_space().n)
    learner, enc = nature_cnn_split(num_actions, layer)
    return Task(name, task, layer, dict(env_kwargs if env_kwargs is not None else ENV_OPTIONS[DEFAULT_PRESET]),
                num_actions, learner, enc)


def stored_layer(meta: dict) -> int:
    """Rollback layer a dataset was distilled at (0 for the authors' npz and other encoder-less files)."""
    if "layer" in meta:
        return int(meta["layer"])
    if "encoder_layer" in meta:
        return int(meta["encoder_layer"])
    enc = meta.get("encoder")
    return int(enc["layer"]) if isinstance(enc, dict) and "layer" in enc else 0


def check_dataset(task: Task, ds, meta: dict, source: str) -> None:
    """ValueError unless ``ds`` fits the game (x [k, 4, 84, 84], y [k, actions]) and its encoder the
    split at ``task.layer``."""
    from rlsl_jax import checkpoint

    if tuple(ds.x.shape[1:]) != ATARI_OBS_SHAPE or ds.y.shape[1] != task.num_actions:
        raise ValueError(f"dataset x {tuple(ds.x.shape)} / y {tuple(ds.y.shape)} do not fit {task.task} "
                         f"(x [k, 4, 84, 84], y [k, {task.num_actions}])")
    expected = None if task.encoder is None else jax.eval_shape(task.encoder.init, jax.random.key(0))
    checkpoint.check_encoder(ds.encoder, expected, source, meta)


def load_scored(path: str | Path, game: str | None = None, layer: int | None = None) -> tuple[Task, Any, dict]:
    """(task, dataset, metadata) to score a saved dataset (run folder, checkpoint folder or npz; ours
    or the authors'): the game and layer it records unless given (the authors' files record none:
    layer 0). ValueError (one line) if it cannot be loaded or does not fit."""
    from rlsl_jax import checkpoint

    ds, meta = checkpoint.load_dataset(path)
    if (game or meta.get("game")) is None:
        raise ValueError(f"{path} does not record its game; pass --game")
    task = make_task(game or meta["game"], stored_layer(meta) if layer is None else layer)
    if game and meta.get("game") and task.game != meta["game"]:
        raise ValueError(f"the dataset was distilled on {meta['game']}, not {game}")
    check_dataset(task, ds, meta, str(path))
    return task, ds, meta


def make_atari_meta_step(cfg: PPMOConfig, task: str, layer: int, seed: int, env_kwargs: dict, mesh=None):
    """(init, meta_step, learner, encoder, benv) for PPMO on envpool ``task`` at rollback ``layer``.

    ``meta_step`` is PPMO's, followed by draining the bridge's full-game score counters into the
    metrics: ``episode_return`` is the mean raw score of the games that ended in that meta-epoch
    (nan if none), ``episodes`` their number, ``last_return`` the mean of each env's last score;
    ``train_episode_return`` is the rollout's own (training-reward, training-episode) mean."""
    benv, _ = make(f"envpool/{task}", num_envs=cfg.population * cfg.num_envs, seed=seed, mesh=mesh, **env_kwargs)
    learner, enc = nature_cnn_split(int(benv.action_space().n), layer)
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


def metadata(task: Task, cfg: PPMOConfig, seed: int) -> dict:
    """What checkpoints and dataset.npz record about the run (``load_dataset`` reads it back)."""
    return {"env_id": f"envpool/{task.task}", "env_kwargs": task.env_kwargs, "game": task.game, "k": cfg.k,
            "layer": task.layer, "obs_shape": list(ATARI_OBS_SHAPE), "num_actions": task.num_actions,
            "learner": task.learner.describe(), "encoder": encoder_description(task.num_actions, task.layer),
            "seed": seed, "config": config_to_dict(cfg), "method": "ppo" if task.layer == NUM_LAYERS else "ppmo"}


def run_record(task: Task, cfg: PPMOConfig, seed: int) -> dict:
    """run.json: what ``--resume`` rebuilds the run from (``from_record``)."""
    return {"game": task.game, "task": task.task, "layer": task.layer, "env_kwargs": task.env_kwargs, "seed": seed,
            "config": config_to_dict(cfg)}


def from_record(saved: dict) -> tuple[Task, PPMOConfig, int]:
    """(task, config, seed) of a run.json."""
    task = make_task(saved["game"], saved["layer"], saved["env_kwargs"])
    return task, config_from_dict(PPMOConfig, saved["config"]), saved["seed"]


def distil(task: Task, cfg: PPMOConfig, *, seed: int, meta_epochs: int, out_dir: Path, resume: bool = False,
           chunk: int = 10, checkpoint_every: int = 100, progress: bool = True, mesh=None) -> tuple[Any, dict]:
    """PPMO on ``task`` into ``out_dir`` through ``runner.run`` -> (final state, info). On resume
    the emulators restart (their state cannot be checkpointed), so an Atari resume is not bit-exact.
    info adds ``epoch_s_after_compile`` (wall time per meta-epoch after the first chunk) when known."""
    init, meta_step, *_ = make_atari_meta_step(cfg, task.task, task.layer, seed, task.env_kwargs, mesh)
    ticks: list[tuple[float, int]] = []
    k_init, k_epochs = seed_keys(seed)
    state, info = run(init, meta_step, epochs=meta_epochs, init_key=k_init, epoch_key=k_epochs, out_dir=out_dir,
                      resume=resume, checkpoint_every=checkpoint_every, metadata=metadata(task, cfg, seed),
                      after_restore=lambda restored, fresh: restored.replace(carry=fresh.carry),
                      log_fields=LOG_FIELDS, chunk=chunk, progress=progress,
                      on_chunk=lambda s, m, epoch: ticks.append((time.time(), epoch)))
    if len(ticks) >= 2 and ticks[-1][1] > ticks[0][1]:
        info["epoch_s_after_compile"] = (ticks[-1][0] - ticks[0][0]) / (ticks[-1][1] - ticks[0][1])
    return state, info


def kshot(task: Task, ds, num_learners: int, *, seed: int, untrained: bool = False, max_steps: int = 0,
          progress: bool = True, source: str | None = None) -> dict:
    """k-shot score of ``ds``: ``num_learners`` fresh learners of the split at ``task.layer``, one SGD
    step each (``untrained``: lr 0, the untrained baseline), one full game each in a pool of
    ``num_learners`` envpool envs (``EVAL_KWARGS``: no life loss, raw rewards; seeded
    ``seed + EVAL_SEED``), sampled actions. -> {"mean", "std", "n", "scores" (raw full-game
    returns; partial where ``max_steps`` cut a game), "steps", "truncated", "untrained", "wall_s"}, and
    with a ``source`` (where ``ds`` came from) the dataset's description: "dataset", "game", "task",
    "layer", "k", "inner_lr", "seed"."""
    t0 = time.time()
    benv, _ = make(f"envpool/{task.task}", num_envs=num_learners, seed=seed + EVAL_SEED, **EVAL_KWARGS)
    info = {"dataset": source, "game": task.game, "task": task.task, "layer": task.layer, "k": int(ds.x.shape[0]),
            "inner_lr": float(ds.inner_lr), "seed": seed}
    if untrained:
        ds = ds.replace(inner_lr=jnp.zeros_like(ds.inner_lr))
    r = evaluate_batched(jax.random.key(seed + EVAL_SEED), ds, benv, task.learner, num_learners, max_steps=max_steps,
                         encoder_apply=None if task.encoder is None else task.encoder.apply, progress=progress,
                         desc=f"{task.task} eval")
    out = {"mean": r["mean"], "std": r["std"], "n": r["n"], "scores": r["returns"], "steps": r["steps"],
           "truncated": r["truncated"], "untrained": bool(untrained), "wall_s": round(time.time() - t0, 1)}
    return out if source is None else {**out, **info}


def eval_line(r: dict) -> str:
    """The line the CLI prints for a ``kshot`` result (with the dataset's task, layer and k added)."""
    trunc = f", {r['truncated']} games cut at {r['steps']} steps (partial scores)" if r["truncated"] else ""
    return (f"{r['task']} k={r['k']} l={r['layer']}{' UNTRAINED' if r['untrained'] else ''}: {r['n']} fresh learners, "
            f"score {r['mean']:.1f} ± {r['std']:.1f} (one full game each, raw score, sampled actions; "
            f"{r['steps']} steps in {r['wall_s']:.0f}s{trunc})")


def publish(task: Task, cfg: PPMOConfig, seed: int, state, info: dict, out: Path, final_eval_learners: int = 0,
            progress: bool = True) -> dict:
    """Writes ``out``/dataset.npz and summary.json (with a final k-shot score over
    ``final_eval_learners`` fresh learners if > 0) and returns the summary. Process 0 only."""
    from rlsl_jax.checkpoint import write_npz

    dataset = jax.device_get(state.dataset)  # from memory: in a multi-process run only process 0 is here
    write_npz(dataset, metadata(task, cfg, seed), Path(out) / "dataset.npz")
    summary = summarize(task, cfg, state, info)
    if final_eval_learners:
        r = kshot(task, dataset, final_eval_learners, seed=seed, progress=progress)
        summary["eval"] = {k: r[k] for k in ("mean", "std", "n", "steps", "truncated")}
    write_json(Path(out) / "summary.json", summary)
    return summary


def summarize(task: Task, cfg: PPMOConfig, state, info: dict) -> dict:
    """summary.json of a run (``publish`` adds the k-shot "eval" entry when it scores one)."""
    out = {"game": task.game, "task": task.task, "layer": task.layer, "k": cfg.k, "population": cfg.population,
           "num_envs": cfg.num_envs, "rollout_steps": cfg.rollout_steps, "meta_epochs": int(state.meta_epoch),
           "train_wall_s": round(info.get("total_wall_s", info["wall_s"]), 2), "backend": jax.default_backend(),
           "device": str(jax.devices()[0])}
    if "epoch_s_after_compile" in info:
        out["epoch_s_after_compile"] = info["epoch_s_after_compile"]
    return out


def summary_line(s: dict) -> str:
    """The one line the CLI prints after training."""
    line = f"{s['task']} l={s['layer']} k={s['k']}: {s['meta_epochs']} meta-epochs in {s['train_wall_s']:.1f}s"
    if "epoch_s_after_compile" in s:
        line += f" ({s['epoch_s_after_compile']:.2f} s/meta-epoch after compile)"
    if "eval" in s:
        line += f"; {s['eval']['n']} fresh learners: score {s['eval']['mean']:.1f} ± {s['eval']['std']:.1f}"
    return line
