"""Direct PPO: the paper's "RL" baseline, built from the same pieces as PPMO.

One PPO *epoch* (the unit this module counts in) is exactly the data side of one PPMO meta-epoch
with P = 1: roll out the CURRENT policy in E environments for T steps (env state carries over),
GAE (γ, λ) with truncations bootstrapped from the true last state, then ``update_epochs`` ×
shuffled minibatches of the PPO clipped loss (log-softmax ratio, differentiable entropy bonus) on
the actor and the critic loss on the critic, each with its own Adam(2.5e-4, eps 1e-5) behind a
global grad-norm clip of 0.5, no annealing. The differences from PPMO: what the policy gradient
updates (the learner's own parameters φ here, the dataset θ through the one-step inner update
there) and, by default, value clipping in the critic loss (``PPOConfig.clip_value``, PureJaxRL's;
without it 1-D cart-pole agents collapse and recover much more, experiments/ppo/RESULTS.md).
The actor is the learner architecture Λ (``networks.learners.cartpole_learner``: tanh 64-64,
orthogonal √2, head 0.01) and the critic is PPMO's (same MLP, head gain 1).

Rollout, GAE and both losses are ``rlsl_jax.rl.rollout`` / ``.gae`` / ``.ppo_loss``, shared with
``distill.ppmo``; the critic, optimiser and minibatching helpers are ``rlsl_jax.rl.update``, shared
with PPMO too.

Everything is a pure function of (state, key), so seeds vmap::

    init, step = make_train_step(cfg, env, env_params)
    states = jax.vmap(init)(jax.random.split(key, S))
    chunk = make_seed_chunk(step)            # jit(vmap(scan(step)))
    states, metrics = chunk(states, keys)    # keys [S, n] -> metrics [S, n]
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp
import optax

from rlsl_jax.config import field
from rlsl_jax.envs.batched import VmapEnv
from rlsl_jax.networks.learners import Learner
from rlsl_jax.rl.config import RolloutPPOConfig
from rlsl_jax.rl.gae import gae_advantages
from rlsl_jax.rl.ppo_loss import action_dist_of, clipped_value_loss, policy_fn_of, ppo_policy_loss, value_loss
from rlsl_jax.rl.rollout import RolloutCarry, dist_act_fn, episode_stats, init_rollout_carry, rollout
from rlsl_jax.rl.update import (  # noqa: F401  (epoch_keys, init_seeds, make_seed_chunk: re-exported)
    default_learner, epoch_keys, flatten_time_env, init_seeds, make_optimizer, make_seed_chunk, mlp_critic,
    shuffle_minibatches,
)


@dataclasses.dataclass(frozen=True)
class PPOConfig(RolloutPPOConfig):
    """Hyper-parameters of direct PPO; defaults are PPMO's (the paper's Appendix A, cart-pole): per epoch
    10 envs x 200 steps, 4 PPO epochs x 4 minibatches of 500, Adam 2.5e-4, no annealing.

    Structural options (not hyper-parameters): ``clip_value`` (default ON: PureJaxRL/CleanRL value
    clipping; measured on 1-D cart-pole it is what makes PPO stable, experiments/ppo/RESULTS.md;
    ``--no-clip-value`` gives PPMO's plain critic loss, Eq. 2), ``combined_loss`` (one optimiser and
    one grad-norm clip, PureJaxRL) and ``bootstrap_truncation``."""

    lr: float = field(2.5e-4, "Adam learning rate of the actor (the learner's parameters)")
    anneal_steps: int = field(0, "if > 0, anneal both learning rates linearly to 0 over this many env steps "
                                 "(PureJaxRL/CleanRL style); 0 = constant rates (PPMO's setting, the paper)")

    clip_value: bool = field(True, "PureJaxRL/CleanRL value clipping: the critic loss is the max of the plain and "
                                   "the clipped (±clip_eps around the rollout's value) squared error; "
                                   "--no-clip-value = PPMO's plain critic loss (Eq. 2)")
    combined_loss: bool = field(False, "ONE Adam (rate lr) and ONE grad-norm clip over actor and critic on "
                                       "policy loss + vf_coef * value loss (PureJaxRL/CleanRL); default: two "
                                       "optimisers, each clipped (PPMO's structure)")
    vf_coef: float = field(0.5, "value-loss weight in the combined loss (used only with --combined-loss)")
    bootstrap_truncation: bool = field(True, "bootstrap time-limit truncations from the true last state; "
                                             "--no-bootstrap-truncation treats them as terminal (PureJaxRL)")

    def __post_init__(self):
        super().__post_init__()
        if self.anneal_steps < 0:
            raise ValueError(f"anneal_steps must be >= 0 (got {self.anneal_steps})")

    @property
    def transitions_per_epoch(self) -> int:
        return self.transitions_per_rollout

    def epochs_for(self, total_steps: int) -> int:
        """PPO epochs needed for at least ``total_steps`` environment steps."""
        return max(1, math.ceil(total_steps / self.transitions_per_epoch))


@flax.struct.dataclass
class PPOState:
    actor: Any
    critic: Any
    actor_opt: Any
    critic_opt: Any
    carry: RolloutCarry   # E environments
    epoch: jax.Array      # int32 [] PPO epochs done


def make_train_step(
    cfg: PPOConfig,
    env,
    env_params,
    learner: Learner | None = None,
    *,
    benv=None,
    critic: tuple[Callable, Callable] | None = None,
) -> tuple[Callable[[jax.Array], PPOState], Callable[[PPOState, jax.Array], tuple[PPOState, dict]]]:
    """Builds ``(init, step)`` for a gymnax-style ``env`` (or a batched ``benv`` of exactly E envs,
    e.g. ``make("brax/hopper", num_envs=E)``; ``env``/``env_params`` may then be None).

    Discrete action spaces get a categorical policy (default learner Λ); continuous (Box) ones a
    diagonal Gaussian (default ``networks.gaussian.mujoco_learner``: the same MLP giving action
    means, plus a state-independent log-std); the learner's ``action_dist`` decides.

    ``init(key) -> PPOState`` draws the actor from ``learner`` (default Λ, the cart-pole learner
    α_c), the critic and E env states; ``step(state, key) -> (state, metrics)`` is jitted and does
    one PPO epoch (E·T transitions, ``update_epochs`` × M minibatch updates); metrics are scalars.
    Both are vmappable over seeds. ``critic``: ``(init(key) -> ψ, apply(ψ, obs[..., *obs_shape]) ->
    V[...])`` instead of the MLP critic (e.g. ``networks.minatar.minatar_critic``).
    """
    spaces = benv if benv is not None else env
    obs_shape = tuple(spaces.observation_space(env_params).shape)
    obs_dim = math.prod(obs_shape)
    learner = learner or default_learner(obs_dim, spaces.action_space(env_params))
    adist, policy_fn = action_dist_of(learner), policy_fn_of(learner)
    critic_init, critic_value = critic if critic is not None else mlp_critic(obs_shape, cfg.critic_hidden)
    E, T, M, L = cfg.num_envs, cfg.rollout_steps, cfg.num_minibatches, cfg.minibatch_len
    if benv is None:
        benv = VmapEnv(env, env_params, E)
    elif benv.num_envs != E:
        raise ValueError(f"benv has {benv.num_envs} envs; PPO needs num_envs = {E}")
    anneal = cfg.epochs_for(cfg.anneal_steps) * cfg.update_epochs * M if cfg.anneal_steps else 0
    actor_tx = make_optimizer(cfg.lr, cfg.max_grad_norm, cfg.adam_eps, anneal)
    critic_tx = make_optimizer(cfg.critic_lr, cfg.max_grad_norm, cfg.adam_eps, anneal)

    def flat_obs(obs):  # [..., *obs_shape] -> [..., obs_dim]
        return obs.reshape(*obs.shape[: obs.ndim - len(obs_shape)], obs_dim)

    def init(key: jax.Array) -> PPOState:
        k_actor, k_critic, k_env = jax.random.split(key, 3)
        actor = learner.init_params(k_actor)
        critic = critic_init(k_critic)
        if cfg.combined_loss:  # actor_opt is the one optimiser of (actor, critic)
            opts = (actor_tx.init((actor, critic)), ())
        else:
            opts = (actor_tx.init(actor), critic_tx.init(critic))
        return PPOState(actor, critic, *opts,
                        init_rollout_carry(k_env, benv), jnp.zeros((), jnp.int32))

    def actor_loss(actor, mb):
        obs, act, old_lp, adv = mb[:4]
        dp = policy_fn(actor, flat_obs(obs))
        return ppo_policy_loss(adist.log_prob(dp, act), old_lp, adv, adist.entropy(dp),
                               cfg.clip_eps, cfg.ent_coef, cfg.normalize_advantages)

    def critic_loss(critic, mb):
        obs, ret, old_value = mb[0], mb[4], mb[5]
        if cfg.clip_value:
            return clipped_value_loss(critic_value(critic, obs), old_value, ret, cfg.clip_eps)
        return value_loss(critic_value(critic, obs), ret)

    def combined_loss(nets, mb):
        a_loss, aux = actor_loss(nets[0], mb)
        v_loss = critic_loss(nets[1], mb)
        return a_loss + cfg.vf_coef * v_loss, (aux, v_loss)

    def update(c, mb):
        actor, critic, a_opt, c_opt = c
        if cfg.combined_loss:  # one optimiser, one grad-norm clip over both networks' gradients
            (_, (aux, v_loss)), (g_a, g_c) = jax.value_and_grad(combined_loss, has_aux=True)((actor, critic), mb)
            upd, a_opt = actor_tx.update((g_a, g_c), a_opt, (actor, critic))
            actor, critic = optax.apply_updates((actor, critic), upd)
        else:
            (_, aux), g_a = jax.value_and_grad(actor_loss, has_aux=True)(actor, mb)
            v_loss, g_c = jax.value_and_grad(critic_loss)(critic, mb)
            upd, a_opt = actor_tx.update(g_a, a_opt, actor)
            actor = optax.apply_updates(actor, upd)
            upd, c_opt = critic_tx.update(g_c, c_opt, critic)
            critic = optax.apply_updates(critic, upd)
        return (actor, critic, a_opt, c_opt), {**aux, "value_loss": v_loss, "grad_norm": optax.tree.norm(g_a)}

    def step(state: PPOState, key: jax.Array) -> tuple[PPOState, dict]:
        k_roll, k_upd = jax.random.split(key)
        act_fn = dist_act_fn(adist, lambda o: policy_fn(state.actor, flat_obs(o)))
        carry, traj = rollout(k_roll, state.carry, act_fn, lambda o: critic_value(state.critic, o), benv, T)
        gae = jax.vmap(gae_advantages, in_axes=(1, 1, 1, 1, 1, None, None), out_axes=1)
        no_bootstrap = traj.terminated if cfg.bootstrap_truncation else traj.done
        adv, ret = gae(traj.reward, traj.value, traj.next_value, no_bootstrap, traj.done, cfg.gamma, cfg.gae_lambda)
        batch = jax.tree.map(flatten_time_env, (traj.obs, traj.action, traj.log_prob, adv, ret, traj.value))

        def epoch(c, k):
            return jax.lax.scan(update, c, shuffle_minibatches(k, batch, M, L))

        c0 = (state.actor, state.critic, state.actor_opt, state.critic_opt)
        (actor, critic, a_opt, c_opt), aux = jax.lax.scan(epoch, c0, jax.random.split(k_upd, cfg.update_epochs))
        metrics = {**jax.tree.map(jnp.mean, aux), **episode_stats(traj), "last_return": carry.last_return.mean()}
        return PPOState(actor, critic, a_opt, c_opt, carry, state.epoch + 1), metrics

    return init, jax.jit(step)
