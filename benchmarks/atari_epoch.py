"""Where an Atari meta-epoch's time goes: envpool stepping alone, then whole PPMO meta-epochs at
each encoder-rollback layer (l = 5 is the PPO epoch on the same batch), and training one fresh
learner on the distilled set (the paper's 0.18 s anchor).

Paper (A100): Centipede 3.73 s per distillation epoch vs 3.25 s per RL epoch (ratio 1.15); the
Atari issue's target is <= 0.5 s per meta-epoch on an H100 at the same batch. The batch and the
training env's options are the atari CLI's preset (``--preset``, ``rlsl_jax.tasks.atari.PRESETS``):
cleanrl (the default: 8 envs x 128 steps, 4 epochs x 4 minibatches of 256, clipped rewards,
life-loss episodes) or paper (Appendix A: 10 envs x 200 steps, 4 epochs x 4 minibatches of 500,
raw rewards, full games); P = 1, k = Table 5's.

Each row is the best of ``--repeats`` timed calls of ``--epochs`` meta-epochs in ONE jitted
``lax.scan`` (compiled and run once before timing); ``env`` is the same number of envpool steps
with random actions and nothing else, i.e. the floor that faster networks cannot go below.
Prints a markdown table (and writes it to ``--out`` if given).

    python benchmarks/atari_epoch.py --game Centipede --layers 0,4,5
    python benchmarks/atari_epoch.py --game Centipede --layers 0,4,5 --preset paper
    python benchmarks/atari_epoch.py --game Pong --envs 2 --rollout-steps 16 --layers 0,5   # CPU-sized
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import jax

from scaling import best_of  # benchmarks/scaling.py: best wall time of repeated calls


def _ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",") if v.strip()]


def time_env(task: str, num_envs: int, steps: int, epochs: int, repeats: int, env_kwargs: dict) -> float:
    """Seconds per ``steps`` steps of ``num_envs`` envpool envs (random actions, one jitted scan)."""
    from rlsl_jax.envs import make

    benv, _ = make(f"envpool/{task}", num_envs=num_envs, **env_kwargs)
    n = int(benv.action_space().n)
    _, st = benv.reset()

    @jax.jit
    def run(st, key):
        def body(c, k):
            r = benv.step(k, c, jax.random.randint(k, (num_envs,), 0, n))
            return r.state, r.obs[:, -1, 0, 0]
        return jax.lax.scan(body, st, jax.random.split(key, steps * epochs))

    st, _ = jax.block_until_ready(run(st, jax.random.key(0)))
    return best_of(lambda: run(st, jax.random.key(1)), repeats) / epochs


def time_meta_epoch(cfg, task: str, layer: int, epochs: int, repeats: int, env_kwargs: dict) -> tuple[float, float]:
    """(seconds per meta-epoch, seconds to compile + run the first chunk) at rollback ``layer``."""
    from rlsl_jax.distill.ppmo import epoch_keys, make_chunk
    from rlsl_jax.tasks.atari import make_atari_meta_step

    init, meta_step, _, _, _ = make_atari_meta_step(cfg, task, layer, 0, env_kwargs)
    chunk = make_chunk(meta_step)
    state = init(jax.random.key(0))
    t0 = time.perf_counter()
    state, _ = jax.block_until_ready(chunk(state, epoch_keys(jax.random.key(1), 0, epochs)))
    first = time.perf_counter() - t0
    keys = epoch_keys(jax.random.key(1), epochs, epochs)
    return best_of(lambda: chunk(state, keys), repeats) / epochs, first


def time_one_learner(num_actions: int, k: int, repeats: int) -> float:
    """Seconds to sample ONE fresh Nature CNN and train it by one SGD step on a k-example dataset."""
    from rlsl_jax.distill.dataset import init_dataset
    from rlsl_jax.distill.ppmo import adapted_params
    from rlsl_jax.networks.cnn import ATARI_OBS_SHAPE, nature_cnn_split

    learner, _ = nature_cnn_split(num_actions, 0)
    ds = init_dataset(jax.random.key(0), k, ATARI_OBS_SHAPE, num_actions, 0.02)
    f = jax.jit(lambda key, ds: adapted_params(ds, jax.tree.map(lambda a: a[0], learner.sample(key, 1)),
                                               learner.apply, None))
    jax.block_until_ready(f(jax.random.key(0), ds))
    return best_of(lambda: f(jax.random.key(1), ds), repeats)


def main() -> None:
    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.paper import KMIN_TABLE5
    from rlsl_jax.tasks.atari import DEFAULT_PRESET, ENV_OPTIONS, PRESETS, resolve_game

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default="Centipede", help="Atari game (envpool id without -v5)")
    p.add_argument("--layers", type=_ints, default=[0, 4, 5], help="rollback layers to time (5 = PPO)")
    p.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET,
                   help="the atari CLI's preset: batch, ε and training-env options (default: %(default)s)")
    p.add_argument("--envs", type=int, default=None, help="envs per learner E (default: the preset's)")
    p.add_argument("--rollout-steps", type=int, default=None, help="steps per rollout T (default: the preset's)")
    p.add_argument("--minibatch-size", type=int, default=None, help="minibatch size (default: the preset's)")
    p.add_argument("--update-epochs", type=int, default=None, help="PPO epochs per meta-epoch (default: the preset's)")
    p.add_argument("--population", type=int, default=1, help="learners per meta-epoch P")
    p.add_argument("--epochs", type=int, default=5, help="meta-epochs per timed call")
    p.add_argument("--repeats", type=int, default=3, help="timed calls (best is kept)")
    p.add_argument("--impl", choices=("conv", "im2col"), default=None,
                   help="how the CNN computes convolutions (default: networks.cnn.conv_impl(), im2col on CPU)")
    p.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = p.parse_args()
    configure_cpu(1)
    from rlsl_jax.networks import cnn

    if args.impl is not None:  # cnn_apply looks conv_impl up when it is traced
        cnn.conv_impl = lambda: args.impl
    game, task = resolve_game(args.game)
    k = KMIN_TABLE5.get(game, 4)
    base = PRESETS[args.preset]
    sizes = {name: getattr(args, arg) if getattr(args, arg) is not None else getattr(base, name)
             for name, arg in (("num_envs", "envs"), ("rollout_steps", "rollout_steps"),
                               ("minibatch_size", "minibatch_size"), ("update_epochs", "update_epochs"))}
    sizes["minibatch_size"] = min(sizes["minibatch_size"], sizes["num_envs"] * sizes["rollout_steps"])
    cfg = dataclasses.replace(base, k=k, population=args.population, **sizes)
    env_kwargs = ENV_OPTIONS[args.preset]
    dev = jax.devices()[0]
    lines = [f"{task}, backend {jax.default_backend()} ({dev.device_kind}), jax {jax.__version__}; "
             f"P={cfg.population} E={cfg.num_envs} T={cfg.rollout_steps} "
             f"({cfg.population * cfg.transitions_per_learner} transitions), "
             f"{cfg.update_epochs} epochs x {cfg.num_minibatches} minibatches of {cfg.minibatch_len}, k={k}, "
             f"preset {args.preset} {env_kwargs}; convolutions: {cnn.conv_impl()}",
             "", "| what | s / meta-epoch | vs PPO (l = 5) | compile + first chunk s |", "|---|---|---|---|"]
    print("\n".join(lines), flush=True)

    def row(s: str) -> None:
        lines.append(s)
        print(s, flush=True)

    env_s = time_env(task, cfg.population * cfg.num_envs, cfg.rollout_steps, args.epochs, args.repeats, env_kwargs)
    row(f"| envpool steps only ({cfg.population * cfg.num_envs} envs x {cfg.rollout_steps}) | {env_s:.3f} | | |")
    times = {}
    for layer in sorted(args.layers, reverse=True):  # PPO first, so the ratio column can be filled
        times[layer], first = time_meta_epoch(cfg, task, layer, args.epochs, args.repeats, env_kwargs)
        what = "PPO (l = 5)" if layer == 5 else ("PPMO full distillation (l = 0)" if layer == 0 else f"PPMO l = {layer}")
        ratio = f"{times[layer] / times[5]:.2f}" if 5 in times else ""
        row(f"| {what} | **{times[layer]:.3f}** | {ratio} | {first:.1f} |")
    from rlsl_jax.envs import make

    probe, _ = make(f"envpool/{task}", num_envs=1)
    one = time_one_learner(int(probe.action_space().n), k, args.repeats)
    row(f"| train one fresh learner on the k = {k} set (sample + one SGD step) | {one:.4f} | | |")
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
