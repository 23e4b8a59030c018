"""PPMO (Proximal Policy Meta-Optimisation, Algorithm 1) as ONE jitted meta-step.

One meta-epoch:
  1. sample P learner initialisations φ_1..φ_P ~ Λ (P = 1 is the paper);
  2. φ'_p = inner_step(φ_p, θ); roll out π_{φ'_p} in E environments each for T steps (one batch
     of B = P·E environments whose state carries over between meta-epochs);
  3. GAE (γ, λ) with truncations bootstrapped from the true last state;
  4. ``update_epochs`` × shuffled minibatches: EACH minibatch recomputes φ'_p(θ) from the SAME
     φ_p with the CURRENT θ, takes the PPO clipped loss (log-softmax ratio, differentiable
     entropy bonus) averaged over learners and updates θ by Adam through the inner step; the
     critic ψ is updated on the same minibatch by its own Adam (no value clipping). Each
     optimiser clips its own gradient to global norm ``max_grad_norm``. η moves at its own Adam
     rate above a floor (``PPMOConfig.inner_lr_lr``, ``min_inner_lr``; ``inner_lr_transform``).

Encoder rollback (Algorithm 2): with an ``encoder`` (init, apply), its parameters ξ live in the
dataset (``Dataset.encoder``), are initialised once and trained by the dataset's optimiser through
the outer loss (never re-sampled); the learner then acts on ``encoder.apply(ξ, obs)`` and the inner
step fits ``learner(encoder.apply(ξ, X))`` to Y. A learner with no parameters (``sample`` returns
``[]``) makes the meta-step plain PPO on the encoder (the paper's l = 5).
Any batched env (``benv``, e.g. ``envs.envpool_bridge.EnvpoolEnv``) and critic (init, apply) can
replace the default ``VmapEnv`` and MLP critic.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from rlsl_jax.config import field
from rlsl_jax.distill.dataset import MIN_INNER_LR, Dataset, init_dataset, project
from rlsl_jax.distill.inner import inner_step
from rlsl_jax.envs.batched import VmapEnv
from rlsl_jax.networks.learners import Learner
from rlsl_jax.parallel import batch_sharding, check_divisible, constrain_batch, replicated
from rlsl_jax.rl.config import RolloutPPOConfig
from rlsl_jax.rl.gae import gae_advantages
from rlsl_jax.rl.ppo_loss import action_dist_of, policy_fn_of, ppo_policy_loss, value_loss
from rlsl_jax.rl.rollout import RolloutCarry, dist_act_fn, episode_stats, init_rollout_carry, rollout
from rlsl_jax.rl.update import default_learner, mlp_critic, shuffle_minibatches
from rlsl_jax.rl.update import epoch_keys  # noqa: F401  (re-exported: distill.epoch_keys)
from rlsl_jax.rl.update import make_optimizer as update_optimizer


INNER_LR_PARAMS = ("clamp", "log")
INIT_TARGETS = ("independent", "shared")


@dataclasses.dataclass(frozen=True)
class PPMOConfig(RolloutPPOConfig):
    """Hyper-parameters of PPMO; defaults are the paper's Appendix A (cart-pole) except how η (the
    inner learning rate) is optimised. The rollout, GAE, PPO and optimiser fields are shared with
    direct PPO (``rl.config.RolloutPPOConfig``).

    η: by default Adam moves η at its own rate ``inner_lr_lr`` = 1e-2 (X and Y at ``lr``) above a
    floor ``min_inner_lr`` = 1e-2; the paper's optimiser (η at ``lr`` like X and Y, floor 1e-4) is
    ``inner_lr_lr=0, min_inner_lr=1e-4`` (flags ``--inner-lr-lr 0 --min-inner-lr 1e-4``). On N-D
    cart-pole at k = N + 1 (N = 1–3, P = 1) the default solved 12 of 13 seeds (paper: 8 of 13) in
    about half the meta-epochs (experiments/convergence/RESULTS.md). ``lr`` defaults to the
    paper's 2.5e-4; the task presets may move X and Y faster (``tasks.cartpole.PRESETS["ours"]``:
    5e-4)."""

    k: int = field(2, "number of synthetic states in the distilled dataset")
    population: int = field(1, "learner initialisations sampled per meta-epoch (P; 1 = the paper)")
    lr: float = field(2.5e-4, "Adam learning rate of the dataset (X, Y; η too if --inner-lr-lr is 0)")
    init_inner_lr: float = field(0.02, "initial inner SGD learning rate η")
    inner_lr_param: str = field(
        "clamp", "how the optimiser moves η: 'clamp' = Adam steps added to η, then η clamped at --min-inner-lr "
                 "(the paper's kind); 'log' = Adam on log η (multiplicative steps, η > 0 without a floor); the "
                 "dataset always stores η itself", choices=INNER_LR_PARAMS)
    inner_lr_lr: float = field(1e-2, "Adam learning rate of η (of log η under --inner-lr-param log); 0 = --lr "
                                     "(the paper)")
    min_inner_lr: float = field(1e-2, "floor η is clamped to after every outer update (the paper's optimiser here: "
                                      f"{MIN_INNER_LR:g}); 0 = none, allowed with --inner-lr-param log only")
    init_targets: str = field(
        "independent", "how the k targets Y start: 'independent' = one N(0, 1) draw per row (the paper); 'shared' = "
                       "one N(0, 1) draw for every row (the one-step learner starts state-blind)", choices=INIT_TARGETS)

    def __post_init__(self):
        super().__post_init__()
        for name in ("k", "population"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 (got {getattr(self, name)})")
        if not self.init_inner_lr > 0:
            raise ValueError(f"init_inner_lr must be > 0 (got {self.init_inner_lr})")
        if self.inner_lr_param not in INNER_LR_PARAMS:
            raise ValueError(f"inner_lr_param must be one of {INNER_LR_PARAMS} (got {self.inner_lr_param!r})")
        if self.min_inner_lr < 0 or (self.inner_lr_param == "clamp" and not self.min_inner_lr > 0):
            raise ValueError(f"min_inner_lr must be > 0 with inner_lr_param 'clamp' and >= 0 with 'log' "
                             f"(got {self.min_inner_lr})")
        if self.init_targets not in INIT_TARGETS:
            raise ValueError(f"init_targets must be one of {INIT_TARGETS} (got {self.init_targets!r})")
        if self.inner_lr_lr < 0:
            raise ValueError(f"inner_lr_lr must be >= 0 (got {self.inner_lr_lr})")
        if self.inner_lr_lr > 0 and not self.lr > 0:
            raise ValueError(f"inner_lr_lr > 0 needs lr > 0 (η's rate is a multiple of lr's Adam step; got lr {self.lr})")

    @property
    def eta_lr(self) -> float:
        """The Adam rate η (or log η) actually gets."""
        return self.inner_lr_lr if self.inner_lr_lr > 0 else self.lr

    @property
    def transitions_per_learner(self) -> int:
        return self.transitions_per_rollout


@flax.struct.dataclass
class PPMOState:
    dataset: Dataset
    critic: Any
    dataset_opt: Any
    critic_opt: Any
    carry: RolloutCarry       # B = P·E environments
    meta_epoch: jax.Array     # int32 []


def make_optimizer(lr: float, cfg: PPMOConfig) -> optax.GradientTransformation:
    """The dataset's optimiser: clip_by_global_norm then Adam(``lr``), no annealing (direct PPO's
    optimiser), with η handled as ``cfg`` says (``inner_lr_transform``). With the paper's settings
    (``inner_lr_param="clamp"``, η at the same rate) it IS direct PPO's optimiser."""
    tx = update_optimizer(lr, cfg.max_grad_norm, cfg.adam_eps)
    if cfg.inner_lr_param == "clamp" and cfg.eta_lr == lr:
        return tx
    return inner_lr_transform(tx, cfg.inner_lr_param, cfg.eta_lr / lr)


def inner_lr_transform(inner: optax.GradientTransformation, param: str,
                       rate_scale: float = 1.0) -> optax.GradientTransformation:
    """Wraps the dataset optimiser ``inner`` (clip, then Adam) so that it moves η as ``param`` says
    while the dataset, the checkpoints and npz files keep η itself (``Dataset.inner_lr``).

    * ``"log"``: ``inner`` optimises ρ = log η. η's gradient g enters as dL/dρ = η·g (before the
      global-norm clip, so the clip sees the gradient of (X, Y, ρ)), and ``inner``'s step Δρ for
      that leaf becomes Δη = η·(exp(Δρ) − 1), i.e. η ← η·exp(Δρ): multiplicative, always > 0.
    * ``"clamp"``: η's step is ``inner``'s step on raw η (then ``project`` clamps η).

    η's step (Δρ or Δη) is multiplied by ``rate_scale``: for Adam, whose step is lr times an
    element-wise direction, that is Adam with rate ``rate_scale``·lr on η and its own moments —
    a separate η rate without a second optimiser, so the optimiser state (clip, Adam moments over
    the whole Dataset) has the same layout for every setting and old checkpoints restore.
    """
    if param not in INNER_LR_PARAMS:
        raise ValueError(f"param must be one of {INNER_LR_PARAMS} (got {param!r})")
    log = param == "log"

    def update(grads: Dataset, state, params: Dataset | None = None):
        if params is None:
            raise ValueError("inner_lr_transform needs the current dataset (params) in update")
        eta = params.inner_lr
        if log:
            grads = grads.replace(inner_lr=grads.inner_lr * eta)
        updates, state = inner.update(grads, state, params)
        step = updates.inner_lr * rate_scale
        return updates.replace(inner_lr=eta * jnp.expm1(step) if log else step), state

    return optax.GradientTransformation(inner.init, update)


def policy_apply(learner_apply: Callable, encoder_apply: Callable | None = None) -> Callable:
    """``f(ds, φ, x)``: the learner on the dataset's encoder features, ``learner_apply(φ,
    encoder_apply(ds.encoder, x))``, or ``learner_apply(φ, x)`` without an encoder."""
    if encoder_apply is None:
        return lambda ds, p, x: learner_apply(p, x)
    return lambda ds, p, x: learner_apply(p, encoder_apply(ds.encoder, x))


def adapted_params(ds: Dataset, phi: Any, learner_apply: Callable, encoder_apply: Callable | None = None) -> Any:
    """φ'(θ): ONE learner's one-step inner update on (encoder(X), Y), differentiable in ``ds``."""
    f = policy_apply(learner_apply, encoder_apply)
    return inner_step(lambda p, x: f(ds, p, x), phi, ds)


def meta_policy_loss(ds: Dataset, learner: Learner, phi: Any, obs: jax.Array, actions: jax.Array,
                     old_log_prob: jax.Array, advantages: jax.Array, cfg: PPMOConfig,
                     encoder_apply: Callable | None = None) -> tuple[jax.Array, dict]:
    """The outer loss of P learners on a minibatch, as a function of the dataset θ.

    Each learner's φ'_p(θ) is recomputed from its initialisation ``phi[p]`` by the inner step, then
    the PPO clipped loss (minus the entropy bonus) is taken on its own samples; the result is
    the mean over learners. Shapes: phi stacked [P, ...]; obs [P, L, obs]; actions, old_log_prob,
    advantages [P, L] (actions [P, L, D] for a Gaussian learner). Returns (loss, mean aux metrics). With ``encoder_apply`` the learners act on
    ``encoder_apply(ds.encoder, ·)`` (encoder rollback; the encoder gets the outer gradient).
    """
    policy = policy_apply(policy_fn_of(learner), encoder_apply)
    adist = action_dist_of(learner)

    def one(phi_p, obs_p, act_p, old_p, adv_p):
        dp = policy(ds, adapted_params(ds, phi_p, learner.apply, encoder_apply), obs_p)
        return ppo_policy_loss(adist.log_prob(dp, act_p), old_p, adv_p, adist.entropy(dp),
                               cfg.clip_eps, cfg.ent_coef, cfg.normalize_advantages)

    losses, aux = jax.vmap(one)(phi, obs, actions, old_log_prob, advantages)
    return losses.mean(), jax.tree.map(jnp.mean, aux)


def make_meta_step(
    cfg: PPMOConfig,
    env,
    env_params,
    learner: Learner | None = None,
    *,
    benv=None,
    critic: tuple[Callable, Callable] | None = None,
    encoder: tuple[Callable, Callable] | None = None,
    mesh: Mesh | None = None,
) -> tuple[Callable[[jax.Array], PPMOState], Callable[[PPMOState, jax.Array], tuple[PPMOState, dict]]]:
    """Builds ``(init, meta_step)`` for a gymnax-style ``env``: discrete actions (categorical
    learner, Λ by default) or continuous ones (a Box action space: Gaussian learner,
    ``networks.gaussian.mujoco_learner`` by default; the dataset then carries a log-std target).

    ``init(key) -> PPMOState``; ``meta_step(state, key) -> (state, metrics)`` is jitted and does
    one whole meta-epoch; its metrics are scalars. Run chunks of meta-steps with ``make_chunk``.

    Optional (keyword) parts, for image envs and encoder rollback:
      benv: a batched env of exactly P·E envs (``num_envs``, ``reset``, ``step`` -> StepResult,
        ``observation_space()``, ``action_space()``), used instead of ``VmapEnv(env, env_params,
        P·E)``; ``env`` and ``env_params`` may then be None. Its ``reset`` runs in ``init``.
      critic: ``(init(key) -> ψ, apply(ψ, obs[..., *obs_shape]) -> V[...])`` instead of the MLP critic.
      encoder: ``(init(key) -> ξ, apply(ξ, x[N, *obs_shape]) -> features[N, ...])``; ξ is stored in
        ``state.dataset.encoder`` and ``learner`` acts on the features.
      mesh: a 1-D device mesh (``parallel.make_mesh``): learners, env states and rollouts are
        sharded over its devices along the population/env axis, θ, the critic and optimiser
        states are replicated, and the meta-gradient (a mean over all learners) is all-reduced
        by XLA. Same numbers as one device, to float tolerance. P must be a multiple of the
        number of devices.
    """
    spaces = benv if benv is not None else env
    obs_shape = tuple(spaces.observation_space(env_params).shape)
    space = spaces.action_space(env_params)
    num_actions = int(space.n) if hasattr(space, "n") else math.prod(space.shape)  # logits or action means
    learner = learner or default_learner(math.prod(obs_shape), space)
    adist = action_dist_of(learner)
    P, E, T = cfg.population, cfg.num_envs, cfg.rollout_steps
    N, M, L = cfg.transitions_per_learner, cfg.num_minibatches, cfg.minibatch_len
    check_divisible(P, mesh, "population")
    if benv is None:
        benv = VmapEnv(env, env_params, P * E)
    elif benv.num_envs != P * E:
        raise ValueError(f"benv has {benv.num_envs} envs; PPMO needs population * num_envs = {P * E}")
    ds_tx = make_optimizer(cfg.lr, cfg)
    critic_tx = update_optimizer(cfg.critic_lr, cfg.max_grad_norm, cfg.adam_eps)
    floor = cfg.min_inner_lr  # under "log" η = η·exp(Δρ) > 0 needs no floor; 0 = none
    enc_init, enc_apply = encoder if encoder is not None else (None, None)
    policy = policy_apply(policy_fn_of(learner), enc_apply)

    critic_init, critic_value = critic if critic is not None else mlp_critic(obs_shape, cfg.critic_hidden)

    def init(key: jax.Array) -> PPMOState:
        k_ds, k_critic, k_env = jax.random.split(key, 3)
        if enc_init is not None:  # a key of its own: fold_in(k_ds, 1) would be split(k_ds)[1], which draws Y
            k_ds, k_enc = jax.random.split(k_ds)
        ds = init_dataset(k_ds, cfg.k, obs_shape, num_actions, cfg.init_inner_lr, continuous=adist.continuous,
                          shared_targets=cfg.init_targets == "shared")
        if enc_init is not None:
            ds = ds.replace(encoder=enc_init(k_enc))
        critic = critic_init(k_critic)
        state = PPMOState(ds, critic, ds_tx.init(ds), critic_tx.init(critic),
                          init_rollout_carry(k_env, benv), jnp.zeros((), jnp.int32))
        if mesh is not None:  # per-env leaves [P·E, ...] sharded over devices, everything else replicated
            # (e.g. an observation normaliser's statistics in the env state are shared by all envs)
            def place(x):
                per_env = jnp.ndim(x) > 0 and jnp.shape(x)[0] == P * E
                sharding = batch_sharding(mesh) if per_env else replicated(mesh)
                if isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer) and not x.is_fully_addressable:
                    return x  # already global, e.g. envpool's per-device pools (envpool_bridge.DevicePools)
                return jax.device_put(x, sharding)

            carry = jax.tree.map(place, state.carry)
            state = jax.device_put(state.replace(carry=None), replicated(mesh)).replace(carry=carry)
        return state

    def per_learner(x):  # [T, P*E, ...] -> [P, E*T, ...]
        return x.reshape(T, P, E, *x.shape[2:]).swapaxes(0, 1).reshape(P, N, *x.shape[2:])

    def meta_step(state: PPMOState, key: jax.Array) -> tuple[PPMOState, dict]:
        k_init, k_roll, k_upd = jax.random.split(key, 3)
        phi = constrain_batch(learner.sample(k_init, P), mesh)            # [P, ...]
        adapt = jax.vmap(lambda p, ds: adapted_params(ds, p, learner.apply, enc_apply), in_axes=(0, None),
                         axis_size=P)  # axis_size: a learner may have no parameters (l = 5)
        phi1 = adapt(phi, state.dataset)

        def dist_fn(obs):  # [P*E, *obs] -> logits [P*E, A] (or means, log-stds [P*E, D])
            o = obs.reshape(P, E, *obs.shape[1:])
            out = jax.vmap(lambda p, x: policy(state.dataset, p, x))(phi1, o)
            return jax.tree.map(lambda a: a.reshape(P * E, num_actions), out)

        carry, traj = rollout(k_roll, state.carry, dist_act_fn(adist, dist_fn),
                              lambda o: critic_value(state.critic, o), benv, T)
        gae = jax.vmap(gae_advantages, in_axes=(1, 1, 1, 1, 1, None, None), out_axes=1)
        adv, ret = gae(traj.reward, traj.value, traj.next_value, traj.terminated, traj.done,
                       cfg.gamma, cfg.gae_lambda)
        batch = constrain_batch(jax.tree.map(per_learner, (traj.obs, traj.action, traj.log_prob, adv, ret)), mesh)

        def policy_loss(ds, mb):
            obs, act, old_lp, a, _ = mb
            return meta_policy_loss(ds, learner, phi, obs, act, old_lp, a, cfg, enc_apply)

        def critic_loss(critic, mb):
            obs, _, _, _, ret_mb = mb
            return value_loss(critic_value(critic, obs), ret_mb)

        def update(c, mb):
            ds, critic, ds_opt, c_opt = c
            (_, aux), g_ds = jax.value_and_grad(policy_loss, has_aux=True)(ds, mb)
            v_loss, g_c = jax.value_and_grad(critic_loss)(critic, mb)
            upd, ds_opt = ds_tx.update(g_ds, ds_opt, ds)
            ds = optax.apply_updates(ds, upd)
            ds = project(ds, floor) if floor > 0 else ds
            upd, c_opt = critic_tx.update(g_c, c_opt, critic)
            critic = optax.apply_updates(critic, upd)
            aux = {**aux, "value_loss": v_loss, "meta_grad_norm": optax.tree.norm(g_ds)}
            return (ds, critic, ds_opt, c_opt), aux

        def epoch(c, k):  # each learner's samples shuffled on their own: [P, N] -> [M, P, L]
            shuffle = jax.vmap(lambda kk, b: shuffle_minibatches(kk, b, M, L))
            mbs = shuffle(jax.random.split(k, P), batch)
            return jax.lax.scan(update, c, jax.tree.map(lambda x: x.swapaxes(0, 1), mbs))

        c0 = (state.dataset, state.critic, state.dataset_opt, state.critic_opt)
        (ds, critic, ds_opt, c_opt), aux = jax.lax.scan(epoch, c0, jax.random.split(k_upd, cfg.update_epochs))
        metrics = {
            **jax.tree.map(jnp.mean, aux),
            **episode_stats(traj),
            "last_return": carry.last_return.mean(),
            "inner_lr": ds.inner_lr,
        }
        return PPMOState(ds, critic, ds_opt, c_opt, carry, state.meta_epoch + 1), metrics

    return init, jax.jit(meta_step)


@functools.lru_cache(maxsize=32)
def make_chunk(meta_step: Callable) -> Callable:
    """``chunk(state, keys[n]) -> (state, metrics[n])``: n meta-epochs in ONE jitted ``lax.scan``,
    so the host is touched once per chunk (logging, progress, checkpoints). Cached per
    ``meta_step``, so repeated runs in one process reuse the compiled chunk."""
    return jax.jit(lambda state, keys: jax.lax.scan(meta_step, state, keys))
