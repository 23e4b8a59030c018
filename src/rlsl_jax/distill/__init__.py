"""Task distillation: the dataset θ, the one-step inner update and PPMO."""

from rlsl_jax.distill.dataset import MIN_INNER_LR, Dataset, init_dataset, project
from rlsl_jax.distill.inner import inner_loss, inner_step
from rlsl_jax.distill.ppmo import (INNER_LR_PARAMS, PPMOConfig, PPMOState, epoch_keys, inner_lr_transform, make_chunk,
                                   make_meta_step, meta_policy_loss)

__all__ = [
    "MIN_INNER_LR", "Dataset", "init_dataset", "project", "inner_loss", "inner_step",
    "INNER_LR_PARAMS", "PPMOConfig", "PPMOState", "epoch_keys", "inner_lr_transform", "make_chunk", "make_meta_step",
    "meta_policy_loss",
]
