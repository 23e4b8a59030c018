"""The MinAtar learner family: the standard MinAtar network (Young & Tian 2019; gymnax's and
PureJaxRL's MinAtar agents) as explicit (init, apply) functions that split at every layer for
encoder rollback, its critic, and a flat MLP variant.

The conv learner is a ``networks.cnn.CNNSpec`` with one conv layer, so initialisation, the two
convolution paths (im2col on the CPU backend, ``lax.conv`` elsewhere: ``cnn.conv_impl``), the
per-layer split and the sampler are those of the Nature CNN. Three layers, observation
[10, 10, C] channels-last (gymnax's layout; C = 4, 6, 4, 7 for Breakout, SpaceInvaders, Asterix,
Freeway)::

    0  conv 16 3×3 stride 1, VALID, + ReLU  -> [16, 8, 8]   w [16, C, 3, 3]  (OIHW)
    1  flatten channel-major (1024), dense 128 + ReLU        w [1024, 128]
    2  dense out (policy logits; no activation)              w [128, out]

Initialisation: orthogonal weights with gain √2 on layers 0–1 and 0.01 on the head (1 for the
critic), conv weights orthogonalised as [out, in·kh·kw] matrices, zero biases.

Layout: the network's input is channels-last [..., H, W, C]; :func:`minatar_apply` moves the
channels first and hands over to ``cnn.cnn_apply``, so every feature map after layer 0 is
channel-first like the Nature CNN's (the encoder output at l = 1 is [..., 16, 8, 8]).

Encoder rollback (:func:`minatar_split`) at l ∈ 0..3: the encoder is layers [0, l) and is trained by
the outer loss, the learner is layers [l, 3) and is re-sampled every meta-epoch. l = 0 is full
distillation (no encoder), l = 3 plain RL (the learner has no parameters: ``sample`` returns ``[]``
and ``apply`` is the identity on the encoder's logits). The dataset X keeps the raw observation
shape [k, 10, 10, C] at every l.

Sampling many learners: on the CPU backend the orthogonal initialisers are mapped sequentially
(``lax.map``, via ``cnn.cnn_init_many`` / ``mlp.mlp_init_many``) because XLA:CPU deadlocks on
several batched QR decompositions in one computation; elsewhere they are vmapped.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import chex
import jax
import jax.numpy as jnp

from rlsl_jax.networks.cnn import CNNLearnerDist, CNNSpec, NetFns, cnn_apply, cnn_init_jit, split_at
from rlsl_jax.networks.learners import LearnerDist
from rlsl_jax.networks.mlp import MLPSpec, Params, mlp_apply

SQRT2 = 2.0**0.5
MINATAR_NUM_LAYERS = 3
"""Layers of the MinAtar conv net (conv, dense 128, head): split points l = 0..3."""
ARCHS = ("conv", "mlp")


def _hwc(obs_shape: tuple[int, ...]) -> tuple[int, int, int]:
    obs_shape = tuple(int(s) for s in obs_shape)
    if len(obs_shape) != 3 or min(obs_shape) < 1 or obs_shape[0] < 3 or obs_shape[1] < 3:
        raise ValueError(f"obs_shape must be (H, W, C) channels-last with H, W >= 3 (got {obs_shape})")
    return obs_shape  # type: ignore[return-value]


def minatar_spec(obs_shape: tuple[int, int, int], out_dim: int, out_gain: float = 0.01) -> CNNSpec:
    """The MinAtar network on observations ``obs_shape`` = (H, W, C) with ``out_dim`` outputs (the
    critic: out_dim 1, out_gain 1). The returned spec is channel-first (``in_shape`` = (C, H, W))."""
    h, w, c = _hwc(obs_shape)
    return CNNSpec(out_dim=out_dim, in_shape=(c, h, w), convs=((16, 3, 1),), dense=(128,),
                   hidden_gain=SQRT2, out_gain=out_gain)


def obs_shape_of(spec: CNNSpec) -> tuple[int, int, int]:
    """(H, W, C): the channels-last observation shape of a :func:`minatar_spec`."""
    c, h, w = spec.in_shape
    return (h, w, c)


def layer_in_shape(spec: CNNSpec, layer: int) -> tuple[int, ...]:
    """Shape of the input of ``layer`` as :func:`minatar_apply` takes it: (H, W, C) for layer 0,
    ``spec.feature_shape(layer)`` (channel-first maps, flat vectors) for the others."""
    return obs_shape_of(spec) if layer == 0 else spec.feature_shape(layer)


def minatar_apply(params: Params, x: jax.Array, spec: CNNSpec, start: int = 0, impl: str | None = None) -> jax.Array:
    """Applies layers [start, start + len(params)) of ONE MinAtar network.

    Args:
      params: ``len(params)`` layer dicts {"w", "b"} (``cnn.cnn_init(key, spec, start, stop)``).
      x: [..., H, W, C] observations (channels-last) if ``start`` = 0, else the features
        [..., *spec.feature_shape(start)] (e.g. [..., 16, 8, 8] at start 1, [..., 128] at 2).
      spec: a :func:`minatar_spec`.
      start: index of the first layer in ``params``.
      impl: "conv" or "im2col" (default ``cnn.conv_impl()``); same numbers.

    Returns:
      [..., *spec.feature_shape(start + len(params))]: logits [..., out] for the whole network.
    """
    chex.assert_shape(x, (..., *layer_in_shape(spec, start)))
    if start == 0:
        x = jnp.moveaxis(x, -1, -3)  # [..., H, W, C] -> [..., C, H, W]
    return cnn_apply(params, x, spec, start, impl)


@dataclasses.dataclass(frozen=True)
class MinAtarLearner(CNNLearnerDist):
    """The learner distribution of layers [start, 3) of the MinAtar network (the whole net with
    start = 0). Same interface as ``CNNLearnerDist``: ``sample(key, num)`` -> parameters stacked
    [num, ...] (``[]`` for start = 3), ``apply(params, x)`` ONE learner on x [..., *in_shape]."""

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """ONE learner's outputs for ``x`` [..., *in_shape] -> [..., out]."""
        return minatar_apply(params, x, self.spec, self.start)

    @property
    def in_shape(self) -> tuple[int, ...]:
        """(H, W, C) at start 0, else the encoder's feature shape."""
        return layer_in_shape(self.spec, self.start)

    @property
    def obs_shape(self) -> tuple[int, int, int]:
        return obs_shape_of(self.spec)

    def describe(self) -> dict:
        return {"name": self.name, "arch": "minatar_cnn", "start_layer": self.start,
                "obs_shape": list(self.obs_shape), "num_params": self.spec.num_params(self.start),
                **dataclasses.asdict(self.spec)}


@dataclasses.dataclass(frozen=True)
class MinAtarMLPLearner(LearnerDist):
    """The cart-pole-style Λ on flattened MinAtar observations: obs -> 64 -> 64 -> actions, tanh,
    orthogonal √2 hidden, 0.01 head, zero biases (``spec.in_dim`` = H·W·C).

    ``apply`` takes [..., H, W, C] observations or already-flat [..., H·W·C] ones."""

    obs_shape: tuple[int, ...] = ()

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """ONE learner's logits for ``x`` [..., H, W, C] (or [..., H·W·C]) -> [..., out]."""
        n = len(self.obs_shape)
        if x.ndim >= n and tuple(x.shape[x.ndim - n:]) == tuple(self.obs_shape):
            x = x.reshape(*x.shape[: x.ndim - n], self.spec.in_dim)
        chex.assert_shape(x, (..., self.spec.in_dim))
        return mlp_apply(params, x, self.spec.activation)

    def describe(self) -> dict:
        return {"name": self.name, "arch": "minatar_mlp", "obs_shape": list(self.obs_shape),
                "num_params": self.spec.num_params, **dataclasses.asdict(self.spec)}


def minatar_learner(obs_shape: tuple[int, int, int], num_actions: int,
                    arch: str = "conv") -> MinAtarLearner | MinAtarMLPLearner:
    """Λ for a MinAtar game with observations ``obs_shape`` = (H, W, C): the standard MinAtar
    conv net (``arch="conv"``) or a 64-64 tanh MLP on the flattened observation (``"mlp"``)."""
    obs_shape = _hwc(obs_shape)
    if arch == "conv":
        return MinAtarLearner("minatar_cnn", minatar_spec(obs_shape, num_actions), 0)
    if arch == "mlp":
        spec = MLPSpec(math.prod(obs_shape), (64, 64), num_actions, "tanh", "orthogonal", SQRT2, 0.01)
        return MinAtarMLPLearner("minatar_mlp", spec, obs_shape)
    raise ValueError(f"arch must be one of {ARCHS} (got {arch!r})")


def minatar_split(obs_shape: tuple[int, int, int], num_actions: int,
                  layer: int) -> tuple[MinAtarLearner, NetFns | None]:
    """Encoder rollback of the MinAtar conv net at ``layer`` l ∈ 0..3: (learner = layers [l, 3),
    encoder = layers [0, l) or None for l = 0).

    l = 0: full distillation, no encoder; l = 1: encoder = the conv layer ([..., H, W, C] ->
    [..., 16, H-2, W-2]), learner = dense 128 + head; l = 2: encoder = conv + dense 128
    (-> [..., 128]), learner = the head; l = 3: plain RL, the encoder is the whole network
    (-> logits) and the learner has no parameters. ``encoder.init(key)`` -> ξ (a list of l layer
    dicts), ``encoder.apply(ξ, x[..., H, W, C])`` -> features. The encoder's layers are those of
    the whole network initialised with the same key (``cnn.cnn_init``'s per-layer keys)."""
    return split_at(MinAtarLearner, "minatar_cnn", minatar_spec(obs_shape, num_actions), layer, minatar_apply)


def minatar_encoder_description(obs_shape: tuple[int, int, int], num_actions: int, layer: int) -> dict | None:
    """What checkpoints' metadata records about the encoder of a split at ``layer`` (None at l = 0)."""
    spec = minatar_spec(obs_shape, num_actions)
    if not 0 <= layer <= spec.num_layers:
        raise ValueError(f"layer must be in 0..{spec.num_layers} (got {layer})")
    if layer == 0:
        return None
    return {"arch": "minatar_cnn", "layer": layer, "num_params": spec.num_params(0, layer),
            "in_shape": list(obs_shape_of(spec)), "out_shape": list(spec.feature_shape(layer))}


def minatar_critic(obs_shape: tuple[int, int, int]) -> NetFns:
    """V_ψ for MinAtar: the MinAtar conv net with one output, head gain 1.
    ``init(key)`` -> ψ; ``apply(ψ, obs[..., H, W, C])`` -> V [...]."""
    spec = minatar_spec(obs_shape, 1, out_gain=1.0)

    def apply(params: Any, obs: jax.Array) -> jax.Array:
        return minatar_apply(params, obs, spec)[..., 0]

    return NetFns(lambda key: cnn_init_jit(key, spec), apply)
