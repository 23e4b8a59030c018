"""Task distillation: the dataset θ, the one-step inner update and PPMO."""

from rlsl_jax.distill.dataset import Dataset, init_dataset, project
from rlsl_jax.distill.inner import inner_loss, inner_step
from rlsl_jax.distill.ppmo import PPMOConfig, PPMOState, epoch_keys, make_chunk, make_meta_step, meta_policy_loss

__all__ = [
    "Dataset", "init_dataset", "project", "inner_loss", "inner_step",
    "PPMOConfig", "PPMOState", "epoch_keys", "make_chunk", "make_meta_step", "meta_policy_loss",
]
