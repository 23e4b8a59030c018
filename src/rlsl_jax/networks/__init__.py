"""Networks: MLPs as explicit (init, apply) pairs and the learner distributions Λ."""

from rlsl_jax.networks.mlp import MLPSpec, mlp_apply, mlp_init, mlp_init_many, param_count
from rlsl_jax.networks.learners import LearnerDist, make_learner_dist, cartpole_learner

__all__ = [
    "MLPSpec", "mlp_apply", "mlp_init", "mlp_init_many", "param_count",
    "LearnerDist", "make_learner_dist", "cartpole_learner",
]
