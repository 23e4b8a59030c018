"""k-shot evaluation: train many fresh learners on θ with ONE SGD step each, run them, score them.

The protocol of the paper's Table 1 (and of the authors' evaluator): sample M learners from a
distribution, train each by ONE step of plain SGD on MSE(learner(X), Y) with the dataset's own
learning rate, run each for E episodes with actions SAMPLED from softmax(logits) (greedy argmax is
an option), each episode to termination or the env's step cap (500 for cart-pole), and report the
mean ± std over learners of their (episode-averaged) returns.

All learners of one architecture are sampled, trained and run in ONE vmapped, jitted call
(``kshot_returns``; chunks of ``chunk`` learners bound the memory). Distributions whose learners
have different shapes (``random-L``) are split into fixed-shape groups first (``learner_groups``)
and each group is vmapped on its own. Episodes run in a ``lax.while_loop`` that stops as soon as
every episode of the batch has ended, so a batch of short episodes costs only as many steps as its
longest episode; the env's ``step_env`` is used (no auto-reset: the episode ends at termination).

Batched envs (envpool Atari and MuJoCo-v4, brax, any ``envs.batched`` env; ``evaluate_batched``):
env i runs learner i, all learners step together in a jitted ``lax.scan`` of ``chunk_steps``
steps, and the host stops as soon as every episode has ended (or after ``max_steps``). The same
loop serves discrete learners (Atari's Nature CNN, with an encoder-rollback encoder) and Gaussian
ones (MuJoCo, with the dataset's frozen observation normaliser); returns are the env's raw rewards
summed until the episode's first termination or truncation.
"""

from __future__ import annotations

import functools
import os
import time
import weakref
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax.distill.dataset import Dataset
from rlsl_jax.distill.inner import inner_step
from rlsl_jax.distill.ppmo import adapted_params, policy_apply
from rlsl_jax.rl.normalize import NormalizedEnv, RunningMeanStd
from rlsl_jax.rl.ppo_loss import action_dist_of, policy_fn_of
from rlsl_jax.parallel import constrain_batch, constrain_replicated
from rlsl_jax.networks.distributions import RandomWidthDist, learner_groups

MODES = ("sampled", "greedy")


def episode_return(key: jax.Array, env, env_params, policy, max_steps: int, greedy) -> jax.Array:
    """Return of ONE episode of ``policy(obs) -> logits``: actions sampled from softmax(logits),
    or argmax if ``greedy`` (a Python or traced bool). The episode ends at the env's termination
    or after ``max_steps`` steps; the reward of the terminating step counts (gymnasium's)."""
    k_reset, k_run = jax.random.split(key)
    obs, state = env.reset(k_reset, env_params)

    def cond(c):
        t, _, _, alive, _ = c
        return alive & (t < max_steps)

    def body(c):
        t, obs, state, _, ret = c
        k_act, k_env = jax.random.split(jax.random.fold_in(k_run, t))
        logits = policy(obs)
        action = jax.lax.cond(jnp.asarray(greedy), lambda: jnp.argmax(logits, -1),
                              lambda: jax.random.categorical(k_act, logits))
        obs, state, reward, done, _ = env.step_env(k_env, state, action, env_params)
        return t + 1, obs, state, ~jnp.asarray(done, bool), ret + reward.astype(jnp.float32)

    init = (jnp.zeros((), jnp.int32), obs, state, jnp.array(True), jnp.zeros((), jnp.float32))
    return jax.lax.while_loop(cond, body, init)[4]


@functools.partial(jax.jit, static_argnames=("env", "learner", "num_learners", "episodes", "max_steps", "mesh"))
def kshot_returns(key: jax.Array, ds: Dataset, env, env_params, learner, num_learners: int,
                  episodes: int = 1, max_steps: int = 500, greedy=False, mesh=None) -> jax.Array:
    """Samples ``num_learners`` learners from the FIXED-shape distribution ``learner``, trains
    each by one SGD step on ``ds`` and returns their episode returns [num_learners, episodes].

    ``greedy`` is traced (one compilation serves both modes); the same ``key`` gives the same
    learners in both modes. With a device ``mesh`` (``parallel.make_mesh``) the learners are
    sharded over its devices (``num_learners`` must be a multiple of their number)."""
    k_init, k_eval = jax.random.split(key)
    phi = constrain_batch(learner.sample(k_init, num_learners), mesh)
    phi1 = jax.vmap(lambda p: inner_step(learner.apply, p, ds))(phi)

    def one(k, p):
        keys = jax.random.split(k, episodes)
        return jax.vmap(lambda kk: episode_return(kk, env, env_params, lambda o: learner.apply(p, o),
                                                  max_steps, greedy))(keys)

    # replicated result: every process (multi-host) can read all returns
    return constrain_replicated(jax.vmap(one)(jax.random.split(k_eval, num_learners), phi1), mesh)


def policy_returns(key: jax.Array, actor: Any, env, env_params, learner, episodes: int,
                   greedy: bool = False) -> jax.Array:
    """Returns [episodes] of ONE trained actor (direct PPO's; sampled or greedy actions), each
    episode run to termination or the env's step cap."""
    max_steps = max_steps_of(env_params)
    obs_dim = learner.obs_dim
    policy = lambda o: learner.apply(actor, o.reshape(obs_dim))  # noqa: E731
    return jax.vmap(lambda k: episode_return(k, env, env_params, policy, max_steps, greedy))(
        jax.random.split(key, episodes))


def max_steps_of(env_params, default: int = 500) -> int:
    return int(getattr(env_params, "max_steps_in_episode", default))


def sample_returns(key: jax.Array, ds: Dataset, env, env_params, dist, num_learners: int, episodes: int = 1,
                   greedy: bool = False, chunk: int = 1000, mesh=None) -> tuple[np.ndarray, dict]:
    """Returns [num_learners, episodes] of ``num_learners`` learners of ANY distribution (fixed
    shape or grouped, see ``learner_groups``), in chunks of at most ``chunk`` learners per call,
    and per-learner architecture info ({"depth": [n]} or {"width": [n]} where it varies).

    Deterministic given ``key``; the learners do not depend on ``greedy``. With a device ``mesh``
    each call's learners are sharded over its devices (a chunk is padded up to a multiple of the
    device count and the padding dropped)."""
    if num_learners < 1 or episodes < 1 or chunk < 1:
        raise ValueError(f"need num_learners, episodes, chunk >= 1 (got {num_learners}, {episodes}, {chunk})")
    max_steps = max_steps_of(env_params)
    ds = jax.tree.map(jnp.asarray, ds)
    out = np.zeros((num_learners, episodes), np.float32)
    info: dict[str, np.ndarray] = {}
    groups = learner_groups(dist, key, num_learners)
    if len(groups) > 1 or hasattr(dist, "groups"):
        depths = np.zeros(num_learners, np.int64)
        for g in groups:
            depths[g.indices] = len(g.dist.spec.hidden)
        info["depth"] = depths
    widths = []
    for g in groups:
        n = len(g.indices)
        parts = []
        for i, start in enumerate(range(0, n, chunk)):
            m = min(chunk, n - start)
            m_pad = m if mesh is None else -(-m // mesh.size) * mesh.size
            k = jax.random.fold_in(g.key, i)
            parts.append(np.asarray(kshot_returns(k, ds, env, env_params, g.dist, m_pad, episodes, max_steps,
                                                  jnp.asarray(bool(greedy)), mesh))[:m])
            if isinstance(g.dist, RandomWidthDist):
                widths.append(np.asarray(g.dist.widths(jax.random.split(k)[0], m)))
        out[g.indices] = np.concatenate(parts, 0)
    if widths:
        info["width"] = np.concatenate(widths)
    return out, info


def summarize(returns: np.ndarray) -> dict[str, Any]:
    """mean ± std (population std, as numpy's default) over learners of per-learner mean returns."""
    per_learner = np.asarray(returns, np.float64).reshape(len(returns), -1).mean(1)
    return {"mean": float(per_learner.mean()), "std": float(per_learner.std()), "n": int(len(per_learner)),
            "returns": per_learner.tolist()}


def evaluate(key: jax.Array, ds: Dataset, env, env_params, learner, num_learners: int = 1000,
             episodes: int = 1, greedy: bool = False, chunk: int = 1000, mesh=None) -> dict[str, Any]:
    """k-shot score of ``ds`` over ``num_learners`` fresh learners of ``learner`` (any
    distribution): {"mean", "std", "n", "returns" (per learner), "greedy", "episodes"} plus
    per-learner "depth"/"width" lists where the architecture varies."""
    returns, info = sample_returns(key, ds, env, env_params, learner, num_learners, episodes, greedy, chunk, mesh)
    return {**summarize(returns), "greedy": bool(greedy), "episodes": int(episodes),
            **{k: v.tolist() for k, v in info.items()}}


def evaluate_modes(key: jax.Array, ds: Dataset, env, env_params, learner, num_learners: int = 1000,
                   episodes: int = 1, modes: tuple[str, ...] = MODES, chunk: int = 1000, mesh=None) -> dict[str, dict]:
    """``evaluate`` in each of ``modes`` ("sampled", "greedy") on the SAME learners."""
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ValueError(f"unknown mode(s) {bad}; choose from {list(MODES)}")
    return {m: evaluate(key, ds, env, env_params, learner, num_learners, episodes, m == "greedy", chunk, mesh)
            for m in modes}


# ---------------------------------------------------------------------------------------------
# Batched envs: one env per learner (envpool, brax)
# ---------------------------------------------------------------------------------------------

_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # benv -> {what: jitted function}


def _compiled(benv, what: tuple, build: Callable) -> Callable:
    """``jax.jit(build(env))`` for ``benv``, compiled once per env and ``what``. The cache and the
    function hold the env only weakly (``env`` is a proxy), so a finished env (e.g. an envpool pool
    and its emulator threads) is freed together with its compiled functions."""
    try:
        fns = _COMPILED.setdefault(benv, {})
    except TypeError:  # an env that takes no weak references: compiled for this call only
        return jax.jit(build(benv))
    if what not in fns:
        fns[what] = jax.jit(build(weakref.proxy(benv)))
    return fns[what]


def _env(benv, obs_rms: RunningMeanStd | None):
    """``benv``, or ``benv`` with observations normalised by the frozen statistics ``obs_rms``."""
    if obs_rms is None:
        return benv
    return NormalizedEnv(benv, norm_obs=True, scale_reward=False, update=False, obs_rms=obs_rms)


def _reset(benv, key: jax.Array, obs_rms: RunningMeanStd | None):
    """The first observations and state of ``benv`` (normalised by ``obs_rms`` if given), compiled
    when the env allows it (brax, gymnax); envpool's reset is a host call."""
    try:
        return _compiled(benv, ("reset",), lambda env: lambda k, rms: _env(env, rms).reset(k))(key, obs_rms)
    except TypeError as e:
        if "host call" not in str(e):
            raise
        return _env(benv, obs_rms).reset(key)


@functools.partial(jax.jit, static_argnames=("learner", "encoder_apply", "num"))
def trained_learners(key: jax.Array, ds: Dataset, learner, encoder_apply, num: int):
    """``num`` fresh learners of ``learner`` (from ``key``) after their one SGD step on ``ds``."""
    phi = learner.sample(key, num)
    return jax.vmap(lambda p: adapted_params(ds, p, learner.apply, encoder_apply),
                    axis_size=num)(phi)  # axis_size: a learner may have no parameters (Atari l = 5)


def _episode_loop(env, learner, encoder_apply, greedy: bool, normalise: bool) -> Callable:
    """``play(phi1, ds, carry, keys) -> carry``: len(keys) steps of the batched episode loop, env i
    running learner i; an env's return stops counting at its episode's first termination or
    truncation. Learners and dataset are arguments (not baked-in constants), so one compilation
    serves every dataset of a shape."""
    # the frozen statistics travel in the state (from the reset), so the wrapper needs none here
    env = NormalizedEnv(env, norm_obs=True, scale_reward=False, update=False) if normalise else env
    adist = action_dist_of(learner)
    policy = policy_apply(policy_fn_of(learner), encoder_apply)

    def play(phi1, ds: Dataset, carry, keys):
        def body(c, k):
            obs, st, alive, ret = c
            dp = jax.vmap(lambda p, o: policy(ds, p, o))(phi1, obs)
            action = adist.mode(dp) if greedy else adist.sample(k, dp)[0]
            res = env.step(k, st, action)
            ret = ret + jnp.where(alive, res.reward.astype(jnp.float32), 0.0)
            return (res.obs, res.state, alive & ~(res.terminated | res.truncated), ret), None

        return jax.lax.scan(body, carry, keys)[0]

    return play


def evaluate_batched(key: jax.Array, ds: Dataset, benv, learner, num_learners: int, *, max_steps: int = 0,
                     greedy: bool = False, encoder_apply: Callable | None = None,
                     obs_rms: RunningMeanStd | None = None, chunk_steps: int = 200, progress: bool = False,
                     desc: str = "eval", actor: Any = None) -> dict[str, Any]:
    """k-shot score of ``ds`` on a batched env of ``num_learners`` envs (env i runs learner i).

    Samples ``num_learners`` learners from ``learner`` (categorical or Gaussian head), trains each by
    ONE SGD step on ``ds`` (on ``encoder_apply(ds.encoder, X)`` with an encoder-rollback encoder) and
    plays one episode per learner, actions sampled (``greedy``: the distribution's mode), observations
    normalised by ``obs_rms`` frozen (None: raw). ``actor``: instead, every env runs these ONE
    trained learner parameters (direct PPO's actor; ``ds`` may then be None). Steps run in jitted chunks of ``chunk_steps``
    until every episode has ended or ``max_steps`` (0: no limit but the env's own) steps were played;
    an episode still running then counts its partial return.

    Returns {"mean", "std", "n", "returns" (raw return per learner), "greedy", "steps" (played),
    "truncated" (episodes cut by ``max_steps``), "wall_s"}. Keys: learners from ``split(key, 3)[0]``,
    chunk c's step keys ``split(fold_in(split(key, 3)[1], first step of c), n)``, reset
    ``split(key, 3)[2]``."""
    if benv.num_envs != num_learners:
        raise ValueError(f"benv has {benv.num_envs} envs; need one per learner ({num_learners})")
    if num_learners < 1 or chunk_steps < 1 or max_steps < 0:
        raise ValueError(f"need num_learners, chunk_steps >= 1, max_steps >= 0 (got {num_learners}, "
                         f"{chunk_steps}, {max_steps})")
    from tqdm.auto import tqdm

    t0 = time.time()
    ds = jax.tree.map(jnp.asarray, ds)
    k_init, k_play, k_reset = jax.random.split(key, 3)
    if actor is None:
        phi1 = trained_learners(k_init, ds, learner, encoder_apply, num_learners)
    else:
        phi1 = jax.tree.map(lambda a: jnp.broadcast_to(jnp.asarray(a), (num_learners, *jnp.shape(a))), actor)
    obs, st = _reset(benv, k_reset, obs_rms)
    what = ("play", learner, encoder_apply, bool(greedy), obs_rms is not None)
    play = _compiled(benv, what, lambda env: _episode_loop(env, *what[1:]))
    carry = (obs, st, jnp.ones((num_learners,), bool), jnp.zeros((num_learners,), jnp.float32))
    steps = 0
    bar = tqdm(disable=not progress, unit="step", desc=desc, dynamic_ncols=True)
    while bool(np.asarray(carry[2]).any()) and (max_steps == 0 or steps < max_steps):
        n = chunk_steps if max_steps == 0 else min(chunk_steps, max_steps - steps)
        carry = play(phi1, ds, carry, jax.random.split(jax.random.fold_in(k_play, steps), n))
        steps += n
        bar.update(n)
        bar.set_postfix(playing=int(np.asarray(carry[2]).sum()))
    bar.close()
    returns = np.asarray(carry[3])
    return {**summarize(returns), "greedy": bool(greedy), "steps": steps,
            "truncated": int(np.asarray(carry[2]).sum()), "wall_s": round(time.time() - t0, 1)}


# ---------------------------------------------------------------------------------------------
# Datasets for an env: one loader for our orbax checkpoints, our npz export and the authors' npz
# ---------------------------------------------------------------------------------------------

def expected_shapes(env, env_params) -> tuple[tuple[int, ...], int]:
    """(observation shape, number of actions) a dataset for ``env`` must have."""
    obs_shape = tuple(int(d) for d in env.observation_space(env_params).shape)
    space = env.action_space(env_params)
    if not hasattr(space, "n"):
        raise ValueError(f"{env.name} has a continuous action space; k-shot evaluation here is for discrete actions")
    return obs_shape, int(space.n)


def env_label(env) -> str:
    dims = getattr(env, "num_dims", None)
    return f"{getattr(env, 'name', type(env).__name__)}" + (f" with N={dims} ({dims}-D)" if dims else "")


def check_dataset(ds: Dataset, env, env_params, source: str = "dataset") -> None:
    """ValueError naming both shapes unless ``ds`` fits ``env`` (x [k, *obs], y [k, actions])."""
    obs_shape, num_actions = expected_shapes(env, env_params)
    x, y = np.shape(ds.x), np.shape(ds.y)
    ok = (len(x) == 1 + len(obs_shape) and tuple(x[1:]) == obs_shape and len(y) == 2 and y[1] == num_actions
          and x[0] == y[0] and np.ndim(ds.inner_lr) == 0)
    if not ok:
        want_x = "[k, " + ", ".join(map(str, obs_shape)) + "]"
        raise ValueError(f"{source} has x {list(x)}, y {list(y)}, inner_lr shape {list(np.shape(ds.inner_lr))}, "
                         f"but {env_label(env)} needs x {want_x}, y [k, {num_actions}], a scalar inner_lr")


def load_dataset_for_env(path: str | os.PathLike, env, env_params, step: int | None = None) -> tuple[Dataset, dict]:
    """Loads a dataset from any of the three sources — an orbax run directory (or one step folder
    of it), an npz of ours (``checkpoint.export_npz``) or one of the paper authors' npz files
    (shared/refdata) — and checks it fits ``env`` (ValueError naming both shapes otherwise).

    Returns (Dataset, metadata); metadata["dims"] is the dataset's N where it says so (the
    authors' npz ``dims``, our checkpoints' ``env_kwargs.num_dims``)."""
    from rlsl_jax.checkpoint import load_dataset

    ds, meta = load_dataset(path, step)
    dims = dataset_dims(meta)
    if dims is not None:
        meta["dims"] = dims
    env_dims = getattr(env, "num_dims", None)
    if dims is not None and env_dims is not None and dims != env_dims:
        raise ValueError(f"{path} is a {dims}-D cart-pole dataset (x {list(np.shape(ds.x))}, y "
                         f"{list(np.shape(ds.y))}) but the env is {env_dims}-D (x [k, {4 * env_dims}], "
                         f"y [k, {2 * env_dims}])")
    check_dataset(ds, env, env_params, source=str(path))
    return ds, meta


def dataset_dims(meta: dict) -> int | None:
    """N of an N-D cart-pole dataset from its metadata, if recorded."""
    kw = meta.get("env_kwargs") or {}
    dims = kw.get("num_dims", meta.get("dims"))
    if dims is None and meta.get("env_id") == "NDCartPole-v0":
        dims = 1
    return None if dims is None else int(dims)

