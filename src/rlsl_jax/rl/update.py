"""Update helpers shared by PPMO (``distill.ppmo``) and direct PPO (``rl.ppo``): the critic V_ψ,
the optimiser, minibatching, the default learner of an action space, per-seed init and the keys of
a run's epochs. One implementation of each, so the two methods differ only in what the policy
gradient updates.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from rlsl_jax.networks.gaussian import mujoco_learner
from rlsl_jax.networks.learners import cartpole_learner
from rlsl_jax.networks.mlp import MLPSpec, mlp_apply, mlp_init


def critic_spec(obs_dim: int, hidden: tuple[int, ...]) -> MLPSpec:
    """The critic V_ψ of PPMO and PPO: tanh MLP, orthogonal √2 hidden layers, head gain 1."""
    return MLPSpec(obs_dim, tuple(hidden), 1, "tanh", "orthogonal", 2.0**0.5, 1.0)


def mlp_critic(obs_shape: tuple[int, ...], hidden: tuple[int, ...]) -> tuple[Callable, Callable]:
    """THE MLP critic builder: ``(init(key) -> ψ, value(ψ, obs[..., *obs_shape]) -> V[...])``; the
    observation is flattened (image observations too)."""
    obs_shape = tuple(obs_shape)
    spec = critic_spec(math.prod(obs_shape), hidden)

    def init(key: jax.Array):
        return mlp_init(key, spec)

    def value(params, obs: jax.Array) -> jax.Array:
        return mlp_apply(params, obs.reshape(*obs.shape[: obs.ndim - len(obs_shape)], -1), "tanh")[..., 0]

    return init, value


def make_optimizer(lr: float, max_grad_norm: float, adam_eps: float,
                   anneal_updates: int = 0) -> optax.GradientTransformation:
    """clip_by_global_norm(max_grad_norm) then Adam(lr, eps); the rate is constant, or annealed
    linearly to 0 over ``anneal_updates`` optimiser updates if that is > 0."""
    if anneal_updates > 0:
        lr = optax.linear_schedule(lr, 0.0, anneal_updates)
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(lr, eps=adam_eps))


def flatten_time_env(x: jax.Array) -> jax.Array:
    """[T, E, ...] -> [E*T, ...], environment-major (env e's steps are contiguous)."""
    return x.swapaxes(0, 1).reshape(x.shape[0] * x.shape[1], *x.shape[2:])


def shuffle_minibatches(key: jax.Array, batch: Any, num_minibatches: int, minibatch_len: int) -> Any:
    """One random permutation of the N samples of every leaf [N, ...] -> [M, L, ...] (the first
    M·L permuted samples; the same permutation for every leaf)."""
    n = jax.tree.leaves(batch)[0].shape[0]
    idx = jax.random.permutation(key, n)[: num_minibatches * minibatch_len]
    return jax.tree.map(lambda x: x[idx].reshape(num_minibatches, minibatch_len, *x.shape[1:]), batch)


def default_learner(obs_dim: int, action_space) -> Any:
    """Λ for a discrete action space (``cartpole_learner``), ``mujoco_learner`` for a Box."""
    if hasattr(action_space, "n"):
        return cartpole_learner(obs_dim, int(action_space.n))
    return mujoco_learner(obs_dim, math.prod(action_space.shape))


def init_seeds(init: Callable, keys: jax.Array) -> Any:
    """``init`` for every seed key, stacked. On CPU the seeds are mapped sequentially: their
    orthogonal initialisers are QR decompositions, and several batched QRs in one XLA:CPU
    computation can deadlock (docs/design.md, "Known traps")."""
    if jax.default_backend() == "cpu":
        return jax.jit(lambda ks: jax.lax.map(init, ks))(keys)
    return jax.jit(jax.vmap(init))(keys)


def epoch_keys(seed_key: jax.Array, start: int, num: int) -> jax.Array:
    """Keys of (meta-)epochs [start, start + num): ``fold_in(seed_key, i)``, so chunking or
    resuming a run never changes its keys."""
    return jax.vmap(lambda i: jax.random.fold_in(seed_key, i))(jnp.arange(start, start + num))


def make_seed_chunk(step: Callable) -> Callable:
    """``chunk(states[S], keys[S, n]) -> (states, metrics[S, n])``: n (meta-)epochs of S independent
    seeds in ONE jitted call (vmap over seeds of a ``lax.scan`` over epochs); the host loop
    (``runner.run(num_seeds=S)``) drives it."""
    return jax.jit(jax.vmap(lambda state, keys: jax.lax.scan(step, state, keys)))
