"""The synthetic dataset θ = (X [k, obs], Y [k, out], inner learning rate η), plus, with encoder
rollback (Algorithm 2), the encoder ξ that maps X (and real observations) to the learner's input.

η is stored raw (``Dataset.inner_lr`` is always η itself: the inner step, checkpoints and npz
files use it) and kept above a floor by projection after every outer update (``project``). How
the optimiser moves η — additively or on log η, at which Adam rate, above which floor — is PPMO's
choice (``distill.ppmo.PPMOConfig``: ``inner_lr_param``, ``inner_lr_lr``, ``min_inner_lr``); a log
parameterisation lives in the optimiser update (``distill.ppmo.inner_lr_transform``), not here.
MIN_INNER_LR (1e-4) is the floor of the paper's optimiser here and ``project``'s default.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

MIN_INNER_LR = 1e-4


@flax.struct.dataclass
class Dataset:
    """θ: ``x`` [k, *obs_shape] synthetic states, ``y`` [k, out] soft targets (raw, never
    softmaxed), ``inner_lr`` [] the one SGD step's learning rate; ``encoder`` the parameters ξ of
    the encoder layers under encoder rollback (None without one). ξ lives in θ so that the
    dataset's optimiser trains it by the outer loss and checkpoints store it with X and Y.
    ``log_std`` (continuous actions only): the target the inner step fits the Gaussian learner's
    state-independent log-std to (MSE), learned by the outer loss like X and Y."""

    x: jax.Array
    y: jax.Array
    inner_lr: jax.Array
    encoder: Any = None
    log_std: Any = None   # [act] log-std TARGET of continuous-action (Gaussian) learners; None if discrete

    @property
    def k(self) -> int:
        return self.x.shape[0]


def init_dataset(key: jax.Array, k: int, obs_shape: tuple[int, ...] | int, out_dim: int,
                 inner_lr: float = 0.02, continuous: bool = False, shared_targets: bool = False) -> Dataset:
    """X, Y ~ N(0, 1); η = ``inner_lr`` (paper: 0.02). With ``continuous`` (Gaussian learners), Y
    are action-mean targets and the log-std target [out_dim] starts at 0, the learners' own
    initial log-std, so the inner step starts with no pull on the exploration noise (a random
    N(0, 1) target would start every learner with a random per-dimension σ). ``shared_targets``:
    one N(0, 1) draw [out_dim] is every row's target (the rows differ only in X)."""
    if k < 1:
        raise ValueError(f"k must be >= 1 (got {k})")
    obs_shape = (obs_shape,) if isinstance(obs_shape, int) else tuple(obs_shape)
    kx, ky = jax.random.split(key)
    return Dataset(
        x=jax.random.normal(kx, (k, *obs_shape), jnp.float32),
        y=(jnp.broadcast_to(jax.random.normal(ky, (1, out_dim), jnp.float32), (k, out_dim)) if shared_targets
           else jax.random.normal(ky, (k, out_dim), jnp.float32)),
        inner_lr=jnp.asarray(inner_lr, jnp.float32),
        log_std=jnp.zeros((out_dim,), jnp.float32) if continuous else None,
    )


def project(ds: Dataset, min_inner_lr: float = MIN_INNER_LR) -> Dataset:
    """Keeps η >= ``min_inner_lr`` (default MIN_INNER_LR) after an outer update."""
    return ds.replace(inner_lr=jnp.maximum(ds.inner_lr, min_inner_lr))
