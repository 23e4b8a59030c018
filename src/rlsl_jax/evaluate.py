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
"""

from __future__ import annotations

import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax.distill.dataset import Dataset
from rlsl_jax.distill.inner import inner_step
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

