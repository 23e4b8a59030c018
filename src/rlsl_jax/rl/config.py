"""Hyper-parameters shared by direct PPO and PPMO (the paper's Appendix A, cart-pole) and the
minibatch arithmetic both use. Each method's config inherits these fields and adds its own."""

from __future__ import annotations

import dataclasses

from rlsl_jax.config import field


@dataclasses.dataclass(frozen=True)
class RolloutPPOConfig:
    """Rollout size, GAE, PPO loss and optimiser settings common to PPO and PPMO."""

    num_envs: int = field(10, "parallel environments per learner (E)")
    rollout_steps: int = field(200, "environment steps per rollout (T); E*T transitions per learner")
    update_epochs: int = field(4, "PPO epochs over each rollout")
    minibatch_size: int = field(512, "target transitions per learner per minibatch; the rollout is split "
                                     "into round(E*T / minibatch_size) equal minibatches")
    gamma: float = field(0.99, "discount factor")
    gae_lambda: float = field(0.95, "GAE lambda")
    clip_eps: float = field(0.2, "PPO ratio clipping epsilon")
    ent_coef: float = field(0.01, "entropy bonus weight")
    lr: float = field(2.5e-4, "Adam learning rate of what the policy gradient updates")
    critic_lr: float = field(2.5e-4, "Adam learning rate of the critic")
    adam_eps: float = field(1e-5, "Adam epsilon")
    max_grad_norm: float = field(0.5, "global gradient-norm clip (policy side and critic, each)")
    normalize_advantages: bool = field(True, "normalise advantages per learner and minibatch")
    critic_hidden: tuple[int, ...] = field((64, 64), "critic MLP hidden widths")

    def __post_init__(self):
        for name in ("num_envs", "rollout_steps", "update_epochs", "minibatch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 (got {getattr(self, name)})")

    @property
    def transitions_per_rollout(self) -> int:
        """E*T transitions per learner per rollout."""
        return self.num_envs * self.rollout_steps

    @property
    def num_minibatches(self) -> int:
        return max(1, round(self.transitions_per_rollout / self.minibatch_size))

    @property
    def minibatch_len(self) -> int:
        """Transitions per learner in one minibatch (a remainder, if any, is left out that epoch)."""
        return self.transitions_per_rollout // self.num_minibatches
