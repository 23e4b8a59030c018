"""Networks: MLPs as explicit (init, apply) pairs and the learner distributions Λ."""

from rlsl_jax.networks.mlp import MLPSpec, mlp_apply, mlp_init, mlp_init_many, param_count
from rlsl_jax.networks.learners import LearnerDist, make_learner_dist, cartpole_learner
from rlsl_jax.networks.distributions import (
    DIST_DESCRIPTIONS, DIST_NAMES, FIXED_SHAPE_DISTS, GRID_DEPTHS, GRID_WIDTHS, MIXTURE_ALIASES, TABLE1_DISTS,
    LearnerGroup, MixtureDist, PaddedDist, RandomDepthDist, RandomWidthDist, grid_dist, grid_dists,
    learner_groups, make_mixture, make_train_dist, parse_dist_names,
)

__all__ = [
    "MLPSpec", "mlp_apply", "mlp_init", "mlp_init_many", "param_count",
    "LearnerDist", "make_learner_dist", "cartpole_learner",
    "DIST_DESCRIPTIONS", "DIST_NAMES", "FIXED_SHAPE_DISTS", "GRID_DEPTHS", "GRID_WIDTHS", "MIXTURE_ALIASES",
    "TABLE1_DISTS", "LearnerGroup", "MixtureDist", "PaddedDist", "RandomDepthDist", "RandomWidthDist",
    "grid_dist", "grid_dists", "learner_groups", "make_mixture", "make_train_dist", "parse_dist_names",
]
