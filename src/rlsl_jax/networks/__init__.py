"""Networks: MLPs and CNNs as explicit (init, apply) pairs, action-distribution heads and the learner distributions Λ."""

from rlsl_jax.networks.mlp import MLPSpec, mlp_apply, mlp_init, mlp_init_many, param_count
from rlsl_jax.networks.heads import Categorical, DiagGaussian
from rlsl_jax.networks.learners import DiscreteLearner, Learner, LearnerDist, cartpole_learner
from rlsl_jax.networks.minatar import (
    MinAtarLearner, MinAtarMLPLearner, minatar_critic, minatar_encoder_description, minatar_learner, minatar_spec,
    minatar_split,
)
from rlsl_jax.networks.distributions import (
    DIST_DESCRIPTIONS, DIST_NAMES, FIXED_SHAPE_DISTS, GRID_DEPTHS, GRID_WIDTHS, MIXTURE_ALIASES, TABLE1_DISTS,
    LearnerGroup, MixtureDist, PaddedDist, RandomDepthDist, RandomWidthDist, grid_dist, grid_dists,
    learner_groups, make_learner_dist, make_mixture, make_train_dist, parse_dist_names, parse_train_dist,
)

__all__ = [
    "MLPSpec", "mlp_apply", "mlp_init", "mlp_init_many", "param_count",
    "Categorical", "DiagGaussian", "DiscreteLearner", "Learner", "LearnerDist", "make_learner_dist", "cartpole_learner",
    "DIST_DESCRIPTIONS", "DIST_NAMES", "FIXED_SHAPE_DISTS", "GRID_DEPTHS", "GRID_WIDTHS", "MIXTURE_ALIASES",
    "TABLE1_DISTS", "LearnerGroup", "MixtureDist", "PaddedDist", "RandomDepthDist", "RandomWidthDist",
    "grid_dist", "grid_dists", "learner_groups", "make_mixture", "make_train_dist", "parse_dist_names", "parse_train_dist",
    "MinAtarLearner", "MinAtarMLPLearner", "minatar_critic", "minatar_encoder_description", "minatar_learner",
    "minatar_spec", "minatar_split",
]
