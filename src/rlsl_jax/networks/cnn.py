"""The Nature CNN (Mnih et al. 2015), the paper's Atari learner α_a, as explicit (init, apply)
functions over a list of layer dicts — like ``networks.mlp`` — so it can be split at any layer
for encoder rollback (Algorithm 2).

Five layers, input [4, 84, 84] (NCHW: 4 stacked 84×84 grayscale frames)::

    0  conv 32 8×8 stride 4  + ReLU   -> [32, 20, 20]     w [32, 4, 8, 8]   (OIHW)
    1  conv 64 4×4 stride 2  + ReLU   -> [64, 9, 9]       w [64, 32, 4, 4]
    2  conv 64 3×3 stride 1  + ReLU   -> [64, 7, 7]       w [64, 64, 3, 3]
    3  flatten channel-major (3136), dense 512 + ReLU     w [3136, 512]
    4  dense out (policy logits; no activation)           w [512, out]

Initialisation (the authors'): orthogonal weights with gain √2 on layers 0–3 and 0.01 on the
head, conv weights orthogonalised as [out, in·kh·kw] matrices (PyTorch's ``orthogonal_``
convention), zero biases. Inputs of dtype uint8 (real frames) are scaled to [0, 1] inside the
network; float inputs (the distilled X ≈ N(0, 1)) are used as they are.

``cnn_init(key, spec, start, stop)`` builds layers [start, stop) and ``cnn_apply(params, x,
spec, start)`` applies them, so ``cnn_apply(enc + rest, x) == cnn_apply(rest, cnn_apply(enc, x),
start=l)`` for ``enc = layers[:l]``: :func:`nature_cnn_split` returns the learner distribution of
layers [l, 5) and the encoder (init, apply) of layers [0, l).

Convolutions are ``lax.conv_general_dilated`` on accelerators and im2col matmuls on the CPU backend
(:func:`conv_impl`: XLA:CPU's convolutions inside loops are 10-40x slower); same numbers.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from rlsl_jax.networks.learners import DiscreteLearner

Params = list  # list[dict[str, jax.Array]], one dict {"w", "b"} per layer
SQRT2 = 2.0**0.5
ATARI_OBS_SHAPE = (4, 84, 84)


@dataclasses.dataclass(frozen=True)
class CNNSpec:
    """Static description of a Nature-style CNN.

    Attributes:
      out_dim: outputs of the head (actions, or 1 for a critic).
      in_shape: input [C, H, W].
      convs: (out_channels, kernel, stride) per conv layer (VALID padding).
      dense: widths of the hidden dense layers after the flatten.
      hidden_gain: orthogonal gain of every layer but the head.
      out_gain: orthogonal gain of the head.
    """

    out_dim: int
    in_shape: tuple[int, int, int] = ATARI_OBS_SHAPE
    convs: tuple[tuple[int, int, int], ...] = ((32, 8, 4), (64, 4, 2), (64, 3, 1))
    dense: tuple[int, ...] = (512,)
    hidden_gain: float = SQRT2
    out_gain: float = 0.01

    def __post_init__(self):
        object.__setattr__(self, "in_shape", tuple(int(s) for s in self.in_shape))
        object.__setattr__(self, "convs", tuple(tuple(int(v) for v in c) for c in self.convs))
        object.__setattr__(self, "dense", tuple(int(d) for d in self.dense))
        if self.out_dim < 1:
            raise ValueError(f"out_dim must be >= 1 (got {self.out_dim})")

    @property
    def num_layers(self) -> int:
        return len(self.convs) + len(self.dense) + 1

    @property
    def num_convs(self) -> int:
        return len(self.convs)

    def feature_shape(self, layer: int) -> tuple[int, ...]:
        """Shape of the input of layer ``layer`` (``num_layers``: the network's output)."""
        if not 0 <= layer <= self.num_layers:
            raise ValueError(f"layer must be in 0..{self.num_layers} (got {layer})")
        c, h, w = self.in_shape
        for i, (oc, k, s) in enumerate(self.convs):
            if i == layer:
                return (c, h, w)
            c, h, w = oc, (h - k) // s + 1, (w - k) // s + 1
        if layer == self.num_convs:
            return (c, h, w)
        widths = (*self.dense, self.out_dim)
        return (widths[layer - self.num_convs - 1],)

    def weight_shape(self, layer: int) -> tuple[int, ...]:
        """conv layers: [out, in, kh, kw] (OIHW); dense layers: [in, out]."""
        if layer < self.num_convs:
            oc, k, _ = self.convs[layer]
            return (oc, self.feature_shape(layer)[0], k, k)
        return (math.prod(self.feature_shape(layer)), self.feature_shape(layer + 1)[0])

    def gain(self, layer: int) -> float:
        return self.out_gain if layer == self.num_layers - 1 else self.hidden_gain

    def num_params(self, start: int = 0, stop: int | None = None) -> int:
        stop = self.num_layers if stop is None else stop
        return sum(math.prod(self.weight_shape(i)) + self.weight_shape(i)[0 if i < self.num_convs else 1]
                   for i in range(start, stop))


def nature_cnn_spec(out_dim: int, out_gain: float = 0.01) -> CNNSpec:
    """α_a: the Nature CNN on [4, 84, 84] with ``out_dim`` outputs (critic: out_dim 1, gain 1)."""
    return CNNSpec(out_dim=out_dim, out_gain=out_gain)


def _layer_init(key: jax.Array, spec: CNNSpec, layer: int) -> dict[str, jax.Array]:
    shape = spec.weight_shape(layer)
    ortho = jax.nn.initializers.orthogonal(scale=spec.gain(layer))
    if layer < spec.num_convs:
        # PyTorch's orthogonal_ on an [out, in, kh, kw] weight: orthogonalise [out, in*kh*kw].
        w = ortho(key, (shape[0], math.prod(shape[1:])), jnp.float32).reshape(shape)
        return {"w": w, "b": jnp.zeros((shape[0],), jnp.float32)}
    return {"w": ortho(key, shape, jnp.float32), "b": jnp.zeros((shape[1],), jnp.float32)}


def cnn_init(key: jax.Array, spec: CNNSpec, start: int = 0, stop: int | None = None) -> Params:
    """Initialises layers [start, stop) of ONE network. Layer i always uses the i-th of
    ``split(key, num_layers)``, so the layers of a split network are those of the whole one."""
    stop = spec.num_layers if stop is None else stop
    if not 0 <= start <= stop <= spec.num_layers:
        raise ValueError(f"need 0 <= start <= stop <= {spec.num_layers} (got {start}, {stop})")
    keys = jax.random.split(key, spec.num_layers)
    return [_layer_init(keys[i], spec, i) for i in range(start, stop)]


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def cnn_init_jit(key: jax.Array, spec: CNNSpec, start: int = 0, stop: int | None = None) -> Params:
    """:func:`cnn_init` compiled once per (spec, start, stop): eager initialisation dispatches and
    compiles every small op of the orthogonal initialisers separately (seconds on a CPU)."""
    return cnn_init(key, spec, start, stop)


def scale_frames(x: jax.Array) -> jax.Array:
    """uint8 frames -> float32 in [0, 1]; float inputs (distilled X, features) pass unchanged."""
    return x.astype(jnp.float32) / 255.0 if x.dtype == jnp.uint8 else x


def conv_impl() -> str:
    """How :func:`cnn_apply` computes convolutions by default: "im2col" on the CPU backend, "conv"
    (``lax.conv_general_dilated``, cuDNN on a GPU) elsewhere.

    XLA:CPU runs convolutions inside loop bodies (``lax.scan``: every rollout step, minibatch and
    evaluation chunk) on a slow path, jax-ml/jax#12868: measured here (2 cores, jaxlib 0.10.2) on
    the Nature CNN at batch 256, four forward passes in a scan take 4.4 s (0.56 s unrolled) and four
    gradients 17.9 s (1.3 s unrolled); channels-last only fixes the forward pass. The im2col form
    (strided slices + one matmul per layer, channels-last inside) takes 0.25 s and 0.39 s, and its
    gradients are slices, pads and matmuls. ``benchmarks/atari_epoch.py`` shows the effect on a
    whole meta-epoch."""
    return "im2col" if jax.default_backend() == "cpu" else "conv"


def conv_im2col(h: jax.Array, w: jax.Array, stride: int) -> jax.Array:
    """VALID convolution of channels-last ``h`` [N, H, W, C] with an OIHW weight ``w`` [O, C, kh, kw]
    as patches @ weights -> [N, H', W', O]; equals ``lax.conv_general_dilated`` to float rounding."""
    o, c, kh, kw = w.shape
    n, hh, ww, _ = h.shape
    ho, wo = (hh - kh) // stride + 1, (ww - kw) // stride + 1
    cols = [jax.lax.slice(h, (0, i, j, 0), (n, i + stride * (ho - 1) + 1, j + stride * (wo - 1) + 1, c),
                          (1, stride, stride, 1)) for i in range(kh) for j in range(kw)]
    patches = jnp.stack(cols, axis=-1).reshape(n, ho, wo, c * kh * kw)  # (c, kh, kw) order, as w's
    return patches @ w.reshape(o, c * kh * kw).T


def cnn_apply(params: Params, x: jax.Array, spec: CNNSpec, start: int = 0, impl: str | None = None) -> jax.Array:
    """Applies layers [start, start + len(params)) of ONE network to ``x`` [..., *feature_shape(start)]
    and returns [..., *feature_shape(start + len(params))]. ReLU follows every layer but the head.
    Feature maps in and out are channel-first ([C, H, W]); ``impl`` ("conv" or "im2col", default
    :func:`conv_impl`) only changes how the convolutions are computed, not the numbers."""
    impl = impl or conv_impl()
    if impl not in ("conv", "im2col"):
        raise ValueError(f"impl must be 'conv' or 'im2col' (got {impl!r})")
    stop = start + len(params)
    in_shape = spec.feature_shape(start)
    lead = x.shape[: x.ndim - len(in_shape)]
    if tuple(x.shape[len(lead):]) != in_shape:
        raise ValueError(f"layer {start} expects inputs [..., {', '.join(map(str, in_shape))}], got {x.shape}")
    h = scale_frames(x).reshape(-1, *in_shape)
    last = impl == "im2col" and start < spec.num_convs  # h is channels-last [N, H, W, C]
    if last:
        h = h.transpose(0, 2, 3, 1)
    for i, layer in zip(range(start, stop), params):
        if i < spec.num_convs:
            s = spec.convs[i][2]
            if impl == "im2col":
                h = conv_im2col(h, layer["w"], s) + layer["b"]
            else:
                h = jax.lax.conv_general_dilated(h, layer["w"], (s, s), "VALID",
                                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
                h = h + layer["b"][None, :, None, None]
        else:
            if last:  # back to channel-first before the channel-major flatten
                h, last = h.transpose(0, 3, 1, 2), False
            h = h.reshape(h.shape[0], -1) @ layer["w"] + layer["b"]
        if i < spec.num_layers - 1:
            h = jax.nn.relu(h)
    if last:
        h = h.transpose(0, 3, 1, 2)
    return h.reshape(*lead, *spec.feature_shape(stop))


def cnn_init_many(key: jax.Array, spec: CNNSpec, num: int, start: int = 0, stop: int | None = None) -> Params:
    """``num`` independent networks' layers [start, stop), stacked on a leading axis. On the CPU
    backend the initialisers are mapped sequentially (``lax.map``): XLA:CPU deadlocks on several
    batched QR decompositions in one computation (docs/design.md section 4, "Known traps", ``mlp_init_many``)."""
    keys = jax.random.split(key, num)
    init = lambda k: cnn_init(k, spec, start, stop)  # noqa: E731
    if jax.default_backend() == "cpu":
        return jax.lax.map(init, keys)
    return jax.vmap(init)(keys)


@dataclasses.dataclass(frozen=True)
class CNNLearnerDist(DiscreteLearner):
    """The learner distribution of layers [start, num_layers) of ``spec`` (α_a with start = 0).

    Same interface as ``networks.learners.LearnerDist`` (``sample``/``apply``), so PPMO and the
    evaluators take it as they are. With ``start = num_layers`` (l = 5, plain RL) the learner has
    no parameters: ``sample`` returns ``[]`` and ``apply`` is the identity on the encoder output.
    """

    name: str
    spec: CNNSpec
    start: int = 0

    def __post_init__(self):
        if not 0 <= self.start <= self.spec.num_layers:
            raise ValueError(f"start must be in 0..{self.spec.num_layers} (got {self.start})")

    def sample(self, key: jax.Array, num: int) -> Params:
        """``num`` learners' parameters stacked on a leading axis [num, ...]."""
        if self.start == self.spec.num_layers:
            return []
        return cnn_init_many(key, self.spec, num, self.start)

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """ONE learner's outputs for ``x`` [..., *in_shape] -> [..., out]."""
        return cnn_apply(params, x, self.spec, self.start)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.spec.feature_shape(self.start)

    @property
    def out_dim(self) -> int:
        return self.spec.out_dim

    def describe(self) -> dict:
        return {"name": self.name, "arch": "nature_cnn", "start_layer": self.start,
                "num_params": self.spec.num_params(self.start), **dataclasses.asdict(self.spec)}


class NetFns(NamedTuple):
    """A network as an (init, apply) pair: ``init(key) -> params``, ``apply(params, x) -> y``."""

    init: Callable[[jax.Array], Any]
    apply: Callable[[Any, jax.Array], jax.Array]


def nature_cnn_split(num_actions: int, layer: int) -> tuple[CNNLearnerDist, NetFns | None]:
    """Encoder rollback of α_a at ``layer`` l ∈ 0..5: (learner = layers [l, 5), encoder = layers
    [0, l) or None for l = 0). l = 0 is full distillation, l = 5 plain RL (the encoder is the
    whole policy network)."""
    return split_at(CNNLearnerDist, "nature_cnn", nature_cnn_spec(num_actions), layer, cnn_apply)


def split_at(learner_cls: type, name: str, spec: CNNSpec, layer: int, apply_fn: Callable) -> tuple[Any, NetFns | None]:
    """Encoder rollback of the net ``spec`` at ``layer`` l -> (learner, encoder): the learner is
    ``learner_cls(n, spec, l)`` named n = ``name`` at l = 0, else "name[l:]"; the encoder is layers [0, l)
    as ``NetFns`` (forward pass ``apply_fn(params, x, spec, 0)``), None at l = 0.
    ValueError unless 0 <= l <= spec.num_layers."""
    if not 0 <= layer <= spec.num_layers:
        raise ValueError(f"layer must be in 0..{spec.num_layers} (got {layer})")
    learner = learner_cls(name if layer == 0 else f"{name}[{layer}:]", spec, layer)
    if layer == 0:
        return learner, None
    return learner, NetFns(lambda key: cnn_init_jit(key, spec, 0, layer), lambda p, x: apply_fn(p, x, spec, 0))


def encoder_description(num_actions: int, layer: int) -> dict | None:
    """What checkpoints' metadata records about the encoder of a split at ``layer``."""
    if layer == 0:
        return None
    spec = nature_cnn_spec(num_actions)
    return {"arch": "nature_cnn", "layer": layer, "num_params": spec.num_params(0, layer),
            "out_shape": list(spec.feature_shape(layer))}


def nature_cnn_critic() -> NetFns:
    """V_ψ for Atari: the Nature CNN with one output, head gain 1. ``apply(params, obs[..., 4, 84, 84])
    -> [...]``."""
    spec = nature_cnn_spec(1, out_gain=1.0)
    return NetFns(lambda key: cnn_init_jit(key, spec), lambda p, x: cnn_apply(p, x, spec)[..., 0])
