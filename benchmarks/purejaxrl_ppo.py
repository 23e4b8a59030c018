"""PureJaxRL's CartPole PPO, unmodified, on this machine, scored like our PPO.

Runs ``purejaxrl/ppo.py`` of PureJaxRL (https://github.com/luchris429/purejaxrl, Apache-2.0,
Chris Lu et al.; measured at commit 146b485) with the config of its ``__main__`` (gymnax
CartPole-v1, 4 envs x 128 steps, 4 epochs x 4 minibatches, Adam 2.5e-4 annealed to 0, clip 0.2,
entropy 0.01, value coefficient 0.5, grad clip 0.5, 500k steps), several seeds vmapped as its
README does (``jax.jit(jax.vmap(make_train(config)))``), then reports

* PureJaxRL's own training metric: ``returned_episode_returns`` (return of the last finished
  episode of each env, logged every step) averaged over envs and the steps of an update, at the last
  update and over the last 10 updates;
* OUR evaluator on each seed's final actor (``rlsl_jax.evaluate.policy_returns``: fresh episodes of
  CartPole-v1, sampled and greedy actions), the metric ``experiments/ppo`` reports.

PureJaxRL's source is NOT copied into this repository: pass a checkout with ``--purejaxrl-src``
(``git clone https://github.com/luchris429/purejaxrl``). Two shims make it run with the versions
installed here, both outside its code:
* ``distrax`` (fails to import with current jax, docs/design.md section 4, "Known traps") is replaced in ``sys.modules``
  by a few lines of jax: ``Categorical(logits).sample(seed) / .log_prob(a) / .entropy()``;
* gymnax >= 1.0 ``step`` returns (obs, state, reward, terminated, truncated, info); PureJaxRL
  expects the old 5-tuple, so ``gymnax.make`` is wrapped to return ``done = terminated | truncated``
  (old gymnax's CartPole counted the 500-step limit as ``done`` too).
``TOTAL_TIMESTEPS`` is passed as the int 500000 (its ``5e5`` float makes a float scan length,
which current jax rejects). Example::

    python benchmarks/purejaxrl_ppo.py --purejaxrl-src ../purejaxrl --seeds 16 --json pjr.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import types

import jax
import jax.numpy as jnp
import numpy as np

CONFIG = {  # PureJaxRL purejaxrl/ppo.py __main__, DEBUG off
    "LR": 2.5e-4, "NUM_ENVS": 4, "NUM_STEPS": 128, "TOTAL_TIMESTEPS": 500_000, "UPDATE_EPOCHS": 4,
    "NUM_MINIBATCHES": 4, "GAMMA": 0.99, "GAE_LAMBDA": 0.95, "CLIP_EPS": 0.2, "ENT_COEF": 0.01,
    "VF_COEF": 0.5, "MAX_GRAD_NORM": 0.5, "ACTIVATION": "tanh", "ENV_NAME": "CartPole-v1",
    "ANNEAL_LR": True, "DEBUG": False,
}


class Categorical:
    """The part of ``distrax.Categorical`` PureJaxRL's ppo.py uses."""

    def __init__(self, logits):
        self.logits = logits

    def sample(self, seed):
        return jax.random.categorical(seed, self.logits, axis=-1)

    def log_prob(self, value):
        logp = jax.nn.log_softmax(self.logits, axis=-1)
        return jnp.take_along_axis(logp, value[..., None].astype(jnp.int32), axis=-1)[..., 0]

    def entropy(self):
        logp = jax.nn.log_softmax(self.logits, axis=-1)
        return -jnp.sum(jnp.exp(logp) * logp, axis=-1)


class _FiveTupleEnv:
    """gymnax >= 1.0 env seen through the pre-1.0 API: step -> (obs, state, reward, done, info)."""

    def __init__(self, env):
        self._env = env

    def __getattr__(self, name):
        return getattr(self._env, name)

    def step(self, key, state, action, params=None):
        obs, state, reward, terminated, truncated, info = self._env.step(key, state, action, params)
        return obs, state, reward, jnp.logical_or(terminated, truncated), info


def import_purejaxrl(src: str):
    """``purejaxrl.ppo`` from the checkout ``src``, with the two shims installed."""
    import gymnax

    if not os.path.isfile(os.path.join(src, "purejaxrl", "ppo.py")):
        raise SystemExit(f"error: {src}/purejaxrl/ppo.py not found; pass a checkout of "
                         f"https://github.com/luchris429/purejaxrl with --purejaxrl-src")
    sys.modules["distrax"] = types.SimpleNamespace(Categorical=Categorical)
    if not getattr(gymnax.make, "_five_tuple", False):
        make = gymnax.make

        def make_five_tuple(*a, **k):
            env, params = make(*a, **k)
            return _FiveTupleEnv(env), params

        make_five_tuple._five_tuple = True
        gymnax.make = make_five_tuple
    sys.path.insert(0, os.path.abspath(src))
    import purejaxrl.ppo

    return purejaxrl.ppo


def actor_layers(flax_params) -> list:
    """PureJaxRL's ActorCritic params -> our MLP layers of the actor (Dense_0..2; 3..5 are the critic)."""
    p = flax_params["params"]
    return [{"w": p[f"Dense_{i}"]["kernel"], "b": p[f"Dense_{i}"]["bias"]} for i in range(3)]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--purejaxrl-src", default=os.environ.get("PUREJAXRL_SRC", "../purejaxrl"),
                    help="checkout of github.com/luchris429/purejaxrl (default $PUREJAXRL_SRC or ../purejaxrl)")
    ap.add_argument("--seeds", type=int, default=16, help="independent agents, vmapped")
    ap.add_argument("--seed", type=int, default=30, help="base seed (PureJaxRL's __main__ uses 30)")
    ap.add_argument("--total-steps", type=int, default=500_000, help="TOTAL_TIMESTEPS")
    ap.add_argument("--eval-episodes", type=int, default=100, help="fresh episodes per final actor")
    ap.add_argument("--json", default=None, help="write the summary here")
    args = ap.parse_args(argv)

    from rlsl_jax.envs import make
    from rlsl_jax.networks import cartpole_learner
    from rlsl_jax.evaluate import policy_returns

    pjr = import_purejaxrl(args.purejaxrl_src)
    config = dict(CONFIG, TOTAL_TIMESTEPS=args.total_steps)
    keys = jax.random.split(jax.random.PRNGKey(args.seed), args.seeds)
    t0 = time.time()
    train = jax.jit(jax.vmap(pjr.make_train(config))).lower(keys).compile()
    compile_s = time.time() - t0
    t0 = time.time()
    out = jax.block_until_ready(train(keys))
    run_s = time.time() - t0

    ret = np.asarray(out["metrics"]["returned_episode_returns"])  # [S, updates, steps, envs]
    per_update = ret.mean(axis=(2, 3))                              # PureJaxRL's plotted curve
    env, params = make("CartPole-v1")
    learner = cartpole_learner(4, 2)
    actors = actor_layers(out["runner_state"][0].params)
    summary = {"seeds": args.seeds, "seed": args.seed, "config": config, "updates": int(per_update.shape[1]),
               "env_steps_per_seed": int(per_update.shape[1]) * config["NUM_ENVS"] * config["NUM_STEPS"],
               "compile_s": round(compile_s, 2), "run_s": round(run_s, 2), "backend": jax.default_backend(),
               "train_return_last_update": float(per_update[:, -1].mean()),
               "train_return_last10": float(per_update[:, -10:].mean()),
               "train_return_last_update_per_seed": [round(float(x), 1) for x in per_update[:, -1]]}
    k_eval = jax.random.key(args.seed + 1)
    for mode, greedy in (("sampled", False), ("greedy", True)):
        score = jax.jit(jax.vmap(lambda k, a: policy_returns(k, a, env, params, learner, args.eval_episodes,
                                                             greedy)))
        per_seed = np.asarray(score(jax.random.split(k_eval, args.seeds), actors)).mean(1)
        summary[mode] = {"mean": float(per_seed.mean()), "std": float(per_seed.std()),
                         "median": float(np.median(per_seed)), "ge475": int((per_seed >= 475).sum()),
                         "per_seed": [round(float(r), 1) for r in per_seed], "episodes": args.eval_episodes}
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
