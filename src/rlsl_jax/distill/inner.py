"""The inner update: ONE differentiable step of plain SGD on MSE(learner(X), Y)."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from rlsl_jax.distill.dataset import Dataset

ApplyFn = Callable[[Any, jax.Array], jax.Array]


def inner_loss(apply_fn: ApplyFn, params: Any, ds: Dataset) -> jax.Array:
    """mean over all k × c entries of (learner(X) − Y)²; for a Gaussian learner (``ds.log_std`` set,
    ``params["log_std"]`` its state-independent log-std) plus mean over the D action dimensions
    of (log_std − ds.log_std)²."""
    loss = jnp.mean((apply_fn(params, ds.x) - ds.y) ** 2)
    if ds.log_std is not None:
        loss = loss + jnp.mean((params["log_std"] - ds.log_std) ** 2)
    return loss


def inner_step(apply_fn: ApplyFn, params: Any, ds: Dataset) -> Any:
    """φ' = φ − η ∇_φ MSE(λ_φ(X), Y), differentiable in ``ds`` (and in ``params``).

    ``apply_fn(params, x)`` applies ONE learner to a batch; vmap this function over learners.
    """
    grads = jax.grad(inner_loss, argnums=1)(apply_fn, params, ds)
    return jax.tree.map(lambda p, g: p - ds.inner_lr * g, params, grads)
