"""Multi-layer perceptrons as explicit (init, apply) functions over parameter pytrees.

A parameter pytree is a list of layers, each ``{"w": [in, out], "b": [out]}``. Keeping the
parameters explicit (rather than inside a ``flax.linen.Module``) makes the one-step inner
update a plain ``jax.tree.map(lambda p, g: p - lr * g, params, grads)`` and lets many learners
be stacked along a leading axis and ``vmap``-ed.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import jax
import jax.numpy as jnp

Params = list  # list[dict[str, jax.Array]]

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "identity": lambda x: x,
}


@dataclasses.dataclass(frozen=True)
class MLPSpec:
    """Static description of an MLP and of how its weights are initialised.

    Attributes:
      in_dim: input features.
      hidden: widths of the hidden layers (empty tuple = a linear map).
      out_dim: outputs (policy logits or action means).
      activation: name in ``ACTIVATIONS`` applied after every hidden layer.
      init: "orthogonal" (Haar, times gain) or "xavier" (Glorot normal, times gain).
      hidden_gain: gain of every hidden layer's weights.
      out_gain: gain of the output layer's weights.
    """

    in_dim: int
    hidden: tuple[int, ...]
    out_dim: int
    activation: str = "tanh"
    init: str = "orthogonal"
    hidden_gain: float = 2.0**0.5
    out_gain: float = 0.01

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose from {sorted(ACTIVATIONS)}")
        if self.init not in ("orthogonal", "xavier"):
            raise ValueError(f"unknown init {self.init!r}; choose 'orthogonal' or 'xavier'")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))

    @property
    def shapes(self) -> list[tuple[int, int]]:
        dims = (self.in_dim, *self.hidden, self.out_dim)
        return list(zip(dims[:-1], dims[1:]))

    @property
    def gains(self) -> list[float]:
        return [self.hidden_gain] * len(self.hidden) + [self.out_gain]

    @property
    def num_params(self) -> int:
        return sum(i * o + o for i, o in self.shapes)


def _weight_init(init: str, gain: float):
    if init == "orthogonal":
        return jax.nn.initializers.orthogonal(scale=gain)
    # Glorot/Xavier normal with the given gain: std = gain * sqrt(2 / (fan_in + fan_out)).
    return jax.nn.initializers.variance_scaling(gain**2, "fan_avg", "normal")


def mlp_init(key: jax.Array, spec: MLPSpec) -> Params:
    """Initialises ONE MLP; biases are zero."""
    keys = jax.random.split(key, len(spec.shapes))
    return [
        {"w": _weight_init(spec.init, g)(k, shape, jnp.float32), "b": jnp.zeros((shape[1],), jnp.float32)}
        for k, shape, g in zip(keys, spec.shapes, spec.gains)
    ]


def mlp_apply(params: Params, x: jax.Array, activation: str = "tanh") -> jax.Array:
    """Applies one MLP to ``x`` of shape [..., in_dim]; returns [..., out_dim]."""
    act = ACTIVATIONS[activation]
    for layer in params[:-1]:
        x = act(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def mlp_init_many(key: jax.Array, spec: MLPSpec, num: int) -> Params:
    """Initialises ``num`` independent MLPs stacked on a leading axis (one key in, many out).

    On the CPU backend, orthogonal initialisers are mapped sequentially (``lax.map``) instead of
    ``vmap``-ed: XLA:CPU (jaxlib 0.10.x) deadlocks on several batched QR decompositions of batch
    >~ 100 inside one computation (docs/design.md section 4, "Known traps"); sequential QRs of 64x64 cost ~0.2 ms
    each. On accelerators the batched version is used.
    """
    keys = jax.random.split(key, num)
    init = lambda k: mlp_init(k, spec)  # noqa: E731
    if spec.init == "orthogonal" and jax.default_backend() == "cpu":
        return jax.lax.map(init, keys)
    return jax.vmap(init)(keys)


def param_count(params: Sequence[dict]) -> int:
    return sum(int(x.size) for x in jax.tree.leaves(params))
