"""RL building blocks shared by PPMO and the direct-PPO baseline: rollout, GAE, PPO losses, update helpers."""

from rlsl_jax.rl.gae import gae_advantages
from rlsl_jax.rl.ppo_loss import (
    Categorical, DiagGaussian, action_dist_of, categorical_entropy, categorical_log_prob, policy_fn_of,
    ppo_policy_loss, value_loss,
)
from rlsl_jax.rl.update import (
    critic_spec, default_learner, epoch_keys, flatten_time_env, init_seeds, make_optimizer, mlp_critic,
    shuffle_minibatches,
)
from rlsl_jax.rl.rollout import (
    RolloutCarry, Transition, categorical_act_fn, dist_act_fn, episode_stats, init_rollout_carry, rollout,
)

__all__ = [
    "gae_advantages", "categorical_log_prob", "categorical_entropy", "ppo_policy_loss", "value_loss",
    "Transition", "RolloutCarry", "rollout", "init_rollout_carry", "categorical_act_fn", "dist_act_fn", "episode_stats",
    "Categorical", "DiagGaussian", "action_dist_of", "policy_fn_of",
    "critic_spec", "default_learner", "epoch_keys", "flatten_time_env", "init_seeds", "make_optimizer",
    "mlp_critic", "shuffle_minibatches",
]
