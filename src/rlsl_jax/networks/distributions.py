"""The learner distributions of the paper's Table 1 and Table 6, and mixtures of them.

Every distribution draws many learners from ONE key. Two kinds exist:

* fixed-shape distributions (``LearnerDist``, ``RandomWidthDist``, ``PaddedDist``,
  ``MixtureDist``): ``sample(key, num)`` returns ``num`` parameter pytrees stacked on a leading
  axis and ``apply(params, x)`` runs ONE learner, so all samples share one ``vmap``. These are the
  distributions PPMO can train against (it calls only ``sample`` and ``apply``).
* variable-shape distributions (``RandomDepthDist``): architectures of different depths cannot
  share a ``vmap``. ``groups(key, num)`` samples each learner's architecture on the host (from
  the key, so deterministically), groups learners by architecture and returns one fixed-shape
  ``LearnerDist`` per group; the evaluator vmaps within each group.

Table 1's distributions (cart-pole learner α_c is obs -> 64 -> 64 -> actions, tanh):

=================  ==============================================================================
name               learners
=================  ==============================================================================
``ortho``          Λ, the paper's α_c: orthogonal (Haar) weights, gain √2, last layer 0.01, zero
                   biases
``ortho-std1``     as Λ but every gain 1 (the last layer's too) — the authors' ``Actor_Ortho1``
``xe``             Xavier/Glorot normal weights with Λ's gains (√2, last 0.01) — ``Actor_XE``
``xe-std1``        Xavier/Glorot normal, every gain 1
``random-h``       both hidden layers of one width h ~ U{32, ..., 256} per learner (the authors'
                   ``randint(32, 256)``, inclusive), Λ's init; stored padded to width 256 (below)
``random-L``       L ~ U{1, ..., 6} tanh hidden layers of width 64, Λ's init (the paper's text)
``random-L-noact`` as ``random-L`` but with NO activation between layers, as the authors' code
                   (``Actor_Variable``) did: every learner is a linear map of the observation
=================  ==============================================================================

Padding (``random-h``, ``PaddedDist``): a width-h tanh MLP equals a width-W one (W >= h) whose
extra hidden units have all-zero incoming weights, biases and outgoing weights: their
pre-activation is 0, tanh(0) = 0, and plain SGD keeps every one of those zeros exactly (the
incoming weights' and biases' gradients carry the factor w_out = 0, the outgoing weights' the
activation 0). So a padded learner trains and acts exactly as its unpadded self, and learners of
different widths share one ``vmap``. The initial weights of the true h-wide block are drawn with
exactly the distribution of the unpadded initialiser (Haar orthogonal blocks via QR of an
embedded Gaussian matrix; Xavier's std from the true fans).

CPU note (docs/design.md section 4, "Known traps"): XLA:CPU deadlocks on several batched QR decompositions of batch
>~ 100 in one computation, so every sampler with orthogonal weights maps its learners with
``lax.map`` (sequential, unbatched QRs) on the CPU backend and ``vmap`` elsewhere.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax.networks.learners import DiscreteLearner, LearnerDist, SpecDims, cartpole_learner
from rlsl_jax.networks.mlp import ACTIVATIONS, MLPSpec, Params, mlp_apply

SQRT2 = 2.0**0.5
CARTPOLE_HIDDEN = (64, 64)

DIST_DESCRIPTIONS: dict[str, str] = {
    "ortho": "Λ (paper's α_c): 64-64 tanh MLP, orthogonal weights gain √2, last layer 0.01, zero biases",
    "ortho-std1": "64-64 tanh MLP, orthogonal weights, every gain 1 (last layer included)",
    "xe": "64-64 tanh MLP, Xavier/Glorot normal weights with Λ's gains (√2, last layer 0.01)",
    "xe-std1": "64-64 tanh MLP, Xavier/Glorot normal weights, every gain 1",
    "random-h": "two tanh hidden layers of one width h ~ U{32..256} per learner, Λ's init (padded to 256)",
    "random-L": "L ~ U{1..6} tanh hidden layers of width 64 per learner, Λ's init",
    "random-L-noact": "L ~ U{1..6} hidden layers of width 64 with NO activations (the authors' code), Λ's init",
}
DIST_NAMES: tuple[str, ...] = tuple(DIST_DESCRIPTIONS)
TABLE1_DISTS: tuple[str, ...] = ("ortho", "ortho-std1", "xe", "xe-std1", "random-h", "random-L")
FIXED_SHAPE_DISTS: tuple[str, ...] = ("ortho", "ortho-std1", "xe", "xe-std1", "random-h")
MIXTURE_ALIASES: dict[str, tuple[str, ...]] = {
    "mix4": ("ortho", "ortho-std1", "xe", "xe-std1"),
    "mix5": ("ortho", "ortho-std1", "xe", "xe-std1", "random-h"),
    "mix4w": ("ortho", "ortho-std1", "xe", "xe-std1"),
}
# Weighted aliases: the component weights (an alias not listed here is uniform).
MIXTURE_WEIGHTS: dict[str, tuple[float, ...]] = {"mix4w": (4.0, 1.0, 1.0, 2.0)}
GRID_DEPTHS: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
GRID_WIDTHS: tuple[int, ...] = (32, 64, 128, 256)


# ---------------------------------------------------------------------------------------------
# Embedded (padded) weight initialisers: the true r x c block sits top-left in a padded R x C
# matrix of zeros; r, c may be traced.
# ---------------------------------------------------------------------------------------------

def _block_mask(r, c, R: int, C: int) -> jax.Array:
    return (jnp.arange(R)[:, None] < r) & (jnp.arange(C)[None, :] < c)


def embedded_orthogonal(key: jax.Array, r, c, R: int, C: int, gain: float, mode: str,
                        buckets: Sequence[int] = ()) -> jax.Array:
    """[R, C] zeros whose top-left r x c block is ``gain`` times a Haar (semi-)orthogonal matrix,
    distributed exactly as ``jax.nn.initializers.orthogonal(gain)(key, (r, c))`` (orthonormal rows
    if r <= c, orthonormal columns otherwise).

    ``mode`` picks the (static) construction:
      * "rows": needs r <= c for every sample. QR of a c x r Gaussian embedded in [C, R] (rows
        >= c zero, which keeps the Householder vectors, so Q, zero there), transposed.
      * "cols": needs c <= r for every sample. QR of an r x c Gaussian embedded in [R, C].
      * "square": any r, c. QR of blockdiag(G_m, I) for an m x m Gaussian G_m, m = max(r, c):
        Q = blockdiag(Q_m, I) with Q_m Haar on O(m); its top-left r x c block is the
        semi-orthogonal matrix wanted. Costs one max(R, C)-square QR; with ``buckets`` (sizes
        in increasing order, the last >= max(R, C)) a ``lax.switch`` does the QR at the
        smallest bucket >= m instead — for UNBATCHED use only (under ``vmap`` a switch runs
        every branch).
    In every mode Q's columns are multiplied by sign(diag(R)), which makes Q Haar.
    """
    if mode == "rows":
        g = jax.random.normal(key, (C, R), jnp.float32)
        g = jnp.where(_block_mask(c, r, C, R), g, 0.0)
        q, rr = jnp.linalg.qr(g)
        q = (q * jnp.sign(jnp.diagonal(rr))[None, :]).T
    elif mode == "cols":
        g = jax.random.normal(key, (R, C), jnp.float32)
        g = jnp.where(_block_mask(r, c, R, C), g, 0.0)
        q, rr = jnp.linalg.qr(g)
        q = q * jnp.sign(jnp.diagonal(rr))[None, :]
    elif mode == "square":
        m = jnp.maximum(r, c)

        def haar_embedded(M: int) -> jax.Array:  # [R, C]: top-left of blockdiag(Q_m, I_{M-m})
            g = jax.random.normal(key, (M, M), jnp.float32)
            g = jnp.where(_block_mask(m, m, M, M), g, jnp.eye(M, dtype=jnp.float32))
            q, rr = jnp.linalg.qr(g)
            q = (q * jnp.sign(jnp.diagonal(rr))[None, :])[:R, :C]
            return jnp.pad(q, ((0, R - q.shape[0]), (0, C - q.shape[1])))

        sizes = [b for b in buckets if b < max(R, C)] + [max(R, C)]
        if len(sizes) == 1:
            q = haar_embedded(sizes[0])
        else:
            idx = jnp.searchsorted(jnp.asarray(sizes), m)
            q = jax.lax.switch(idx, [functools.partial(haar_embedded, b) for b in sizes])
    else:
        raise ValueError(f"unknown mode {mode!r}; choose 'rows', 'cols' or 'square'")
    return jnp.where(_block_mask(r, c, R, C), gain * q, 0.0)


def embedded_xavier(key: jax.Array, r, c, R: int, C: int, gain: float) -> jax.Array:
    """[R, C] zeros whose top-left r x c block is Glorot normal with ``gain`` (std from the TRUE
    fans r, c), as ``MLPSpec(init="xavier")`` draws it."""
    std = gain * jnp.sqrt(2.0 / (r + c))
    return jnp.where(_block_mask(r, c, R, C), std * jax.random.normal(key, (R, C), jnp.float32), 0.0)


def pad_params(params: Params, widths: Sequence[int]) -> Params:
    """Zero-pads ONE MLP's hidden layers to ``widths`` (exactly equivalent for tanh/identity)."""
    dims_in = [params[0]["w"].shape[0], *widths]
    dims_out = [*widths, params[-1]["w"].shape[1]]
    out = []
    for layer, i, o in zip(params, dims_in, dims_out):
        w, b = layer["w"], layer["b"]
        out.append({"w": jnp.pad(w, ((0, i - w.shape[0]), (0, o - w.shape[1]))),
                    "b": jnp.pad(b, (0, o - b.shape[0]))})
    return out


# ---------------------------------------------------------------------------------------------
# Fixed-shape distributions
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RandomWidthDist(SpecDims, DiscreteLearner):
    """MLPs whose hidden layers all have ONE width h ~ U{min_width, ..., max_width} per learner,
    stored zero-padded to ``max_width`` so that every sample has the same pytree shape.

    Attributes:
      name: identifier (e.g. "random-h").
      spec: the padded architecture: ``spec.hidden`` = (max_width,) * depth; its activation, init
        and gains are the learners'. The activation must map 0 to 0 (tanh, identity).
      min_width: smallest width (inclusive).
    """

    name: str
    spec: MLPSpec
    min_width: int = 32

    def __post_init__(self):
        if not self.spec.hidden or len(set(self.spec.hidden)) != 1:
            raise ValueError(f"RandomWidthDist needs equal hidden widths, got {self.spec.hidden}")
        if not 1 <= self.min_width <= self.max_width:
            raise ValueError(f"need 1 <= min_width <= max_width, got {self.min_width}, {self.max_width}")
        if self.spec.activation not in ("tanh", "identity"):
            raise ValueError(f"padding is exact only for activations with f(0) = 0 (tanh, identity), "
                             f"got {self.spec.activation!r}")

    @property
    def max_width(self) -> int:
        return self.spec.hidden[0]

    def widths(self, key: jax.Array, num: int) -> jax.Array:
        """The widths [num] that ``sample(key, num)`` draws."""
        k_w, _ = jax.random.split(key)
        return jax.random.randint(k_w, (num,), self.min_width, self.max_width + 1)

    def _layer_mode(self, fixed_in: int | None, fixed_out: int | None) -> str:
        # Cheaper tall QRs where one side is a fixed dimension no larger than any width.
        if fixed_in is not None and fixed_in <= self.min_width:
            return "rows"
        if fixed_out is not None and fixed_out <= self.min_width:
            return "cols"
        return "square"

    def init_one(self, key: jax.Array, h, bucketed: bool = False) -> Params:
        """ONE learner of width ``h`` (may be traced), padded to ``max_width``. ``bucketed``: do
        each square QR at the smallest multiple of 32 >= h (only when not vmapped; see
        ``embedded_orthogonal``)."""
        spec = self.spec
        dims = (spec.in_dim, *spec.hidden, spec.out_dim)
        n = len(dims) - 1
        keys = jax.random.split(key, n)
        params = []
        for i, (k, g) in enumerate(zip(keys, spec.gains)):
            r = spec.in_dim if i == 0 else h
            c = spec.out_dim if i == n - 1 else h
            R, C = dims[i], dims[i + 1]
            if spec.init == "orthogonal":
                mode = self._layer_mode(spec.in_dim if i == 0 else None, spec.out_dim if i == n - 1 else None)
                w = embedded_orthogonal(k, r, c, R, C, g, mode,
                                        tuple(range(32, self.max_width, 32)) if bucketed else ())
            else:
                w = embedded_xavier(k, r, c, R, C, g)
            params.append({"w": w, "b": jnp.zeros((C,), jnp.float32)})
        return params

    def sample(self, key: jax.Array, num: int) -> Params:
        """``num`` learners [num, ...], each of its own width (see ``widths``), padded."""
        k_w, k_init = jax.random.split(key)
        hs = jax.random.randint(k_w, (num,), self.min_width, self.max_width + 1)
        keys = jax.random.split(k_init, num)
        if self.spec.init == "orthogonal" and jax.default_backend() == "cpu":
            # Sequential (docs/design.md section 4, "Known traps"), so each QR can be done at the learner's own size.
            return jax.lax.map(lambda kh: self.init_one(kh[0], kh[1], bucketed=True), (keys, hs))
        return jax.vmap(self.init_one)(keys, hs)

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        return mlp_apply(params, x, self.spec.activation)


@dataclasses.dataclass(frozen=True)
class PaddedDist(DiscreteLearner):
    """A fixed-architecture ``LearnerDist`` whose samples are zero-padded to wider hidden layers
    (exactly equivalent learners; lets it share a pytree shape with a ``RandomWidthDist``)."""

    base: LearnerDist
    widths: tuple[int, ...]

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.widths) != len(self.base.spec.hidden) or any(
                w < h for w, h in zip(self.widths, self.base.spec.hidden)):
            raise ValueError(f"cannot pad hidden {self.base.spec.hidden} to {self.widths}")
        if self.base.spec.activation not in ("tanh", "identity"):
            raise ValueError(f"padding is exact only for tanh/identity, got {self.base.spec.activation!r}")

    @property
    def name(self) -> str:
        return self.base.name

    def sample(self, key: jax.Array, num: int) -> Params:
        return jax.vmap(lambda p: pad_params(p, self.widths))(self.base.sample(key, num))

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        return self.base.apply(params, x)

    @property
    def obs_dim(self) -> int:
        return self.base.obs_dim

    @property
    def out_dim(self) -> int:
        return self.base.out_dim


@dataclasses.dataclass(frozen=True)
class MixtureDist(DiscreteLearner):
    """Each learner is drawn from one of ``components``, chosen at random per learner: uniformly,
    or with probabilities proportional to ``weights`` (one positive number per component).

    All components must share one pytree shape and one ``apply`` (same activation); pad them
    (``PaddedDist``) to mix in a ``RandomWidthDist``. Sampling draws ``num`` learners from every
    component and selects, per learner, the one of its chosen component.
    """

    name: str
    components: tuple
    weights: tuple | None = None

    def __post_init__(self):
        comps = tuple(self.components)
        object.__setattr__(self, "components", comps)
        if not comps:
            raise ValueError("a mixture needs at least one component")
        if self.weights is not None:
            w = tuple(float(v) for v in self.weights)
            if len(w) != len(comps) or not all(v > 0 and np.isfinite(v) for v in w):
                raise ValueError(f"mixture weights must be {len(comps)} positive numbers, got {self.weights}")
            object.__setattr__(self, "weights", w)
        for c in comps:
            if not hasattr(c, "sample"):
                raise ValueError(f"{getattr(c, 'name', c)!r} has no fixed shape (e.g. random-L) and "
                                 f"cannot be part of a mixture; fixed-shape choices: {list(FIXED_SHAPE_DISTS)}")
        acts = {_activation_of(c) for c in comps}
        if len(acts) != 1:
            raise ValueError(f"mixture components must share one activation, got {sorted(acts)}")
        key = jax.random.key(0)
        shapes = [jax.tree.map(lambda a: a.shape, jax.eval_shape(lambda k, c=c: c.sample(k, 2), key)) for c in comps]
        if any(s != shapes[0] for s in shapes):
            raise ValueError("mixture components must share one parameter shape; got "
                             + "; ".join(f"{c.name}: {s}" for c, s in zip(comps, shapes)))

    def _choose(self, key: jax.Array, num: int) -> jax.Array:
        if self.weights is None:  # uniform: randint (the stream of runs made before weights existed)
            return jax.random.randint(key, (num,), 0, len(self.components))
        return jax.random.categorical(key, jnp.log(jnp.asarray(self.weights, jnp.float32)), shape=(num,))

    def choices(self, key: jax.Array, num: int) -> jax.Array:
        """Component index [num] of each learner that ``sample(key, num)`` draws."""
        return self._choose(jax.random.split(key)[0], num)

    def sample(self, key: jax.Array, num: int) -> Params:
        k_choice, k_comp = jax.random.split(key)
        idx = self._choose(k_choice, num)
        samples = [c.sample(k, num) for c, k in zip(self.components, jax.random.split(k_comp, len(self.components)))]
        rows = jnp.arange(num)
        return jax.tree.map(lambda *xs: jnp.stack(xs)[idx, rows], *samples)

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        return self.components[0].apply(params, x)

    @property
    def obs_dim(self) -> int:
        return self.components[0].obs_dim

    @property
    def out_dim(self) -> int:
        return self.components[0].out_dim


def _activation_of(dist) -> str:
    if isinstance(dist, PaddedDist):
        return dist.base.spec.activation
    if isinstance(dist, MixtureDist):
        return _activation_of(dist.components[0])
    return dist.spec.activation


# ---------------------------------------------------------------------------------------------
# Variable-shape distributions
# ---------------------------------------------------------------------------------------------

class LearnerGroup(NamedTuple):
    """Learners of one architecture: a fixed-shape distribution, the positions [n] of its
    learners among all ``num`` sampled, and the key to draw exactly those n learners."""

    dist: Any
    indices: np.ndarray
    key: jax.Array


@dataclasses.dataclass(frozen=True)
class RandomDepthDist(DiscreteLearner):
    """MLPs with L ~ U{min_depth, ..., max_depth} hidden layers of ``width`` per learner.

    Attributes:
      name: identifier (e.g. "random-L").
      in_dim, out_dim: observation and output sizes.
      width: every hidden layer's width.
      min_depth, max_depth: range of hidden-layer counts (inclusive).
      activation: "tanh" (the paper's text) or "identity" (the authors' code: no activation).
      init, hidden_gain, out_gain: the weight initialiser (Λ's by default).
    """

    name: str
    in_dim: int
    out_dim: int
    width: int = 64
    min_depth: int = 1
    max_depth: int = 6
    activation: str = "tanh"
    init: str = "orthogonal"
    hidden_gain: float = SQRT2
    out_gain: float = 0.01

    def __post_init__(self):
        if not 0 <= self.min_depth <= self.max_depth:
            raise ValueError(f"need 0 <= min_depth <= max_depth, got {self.min_depth}, {self.max_depth}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose from {sorted(ACTIVATIONS)}")

    def spec(self, depth: int) -> MLPSpec:
        return MLPSpec(self.in_dim, (self.width,) * depth, self.out_dim, self.activation, self.init,
                       self.hidden_gain, self.out_gain)

    def depths(self, key: jax.Array, num: int) -> np.ndarray:
        """Hidden-layer count [num] of each learner (host numpy; deterministic given ``key``)."""
        k_depth, _ = jax.random.split(key)
        return np.asarray(jax.random.randint(k_depth, (num,), self.min_depth, self.max_depth + 1))

    def groups(self, key: jax.Array, num: int) -> list[LearnerGroup]:
        """One ``LearnerGroup`` per sampled depth, in increasing depth."""
        depths = self.depths(key, num)
        _, k_groups = jax.random.split(key)
        return [LearnerGroup(LearnerDist(f"{self.name}[L={d}]", self.spec(int(d))), np.flatnonzero(depths == d),
                             jax.random.fold_in(k_groups, int(d)))
                for d in np.unique(depths)]

    @property
    def obs_dim(self) -> int:
        return self.in_dim


def learner_groups(dist, key: jax.Array, num: int) -> list[LearnerGroup]:
    """The fixed-shape groups of ``num`` learners of ``dist`` (one group if ``dist`` has one shape)."""
    if hasattr(dist, "groups"):
        return dist.groups(key, num)
    return [LearnerGroup(dist, np.arange(num), key)]


# ---------------------------------------------------------------------------------------------
# Constructors by name
# ---------------------------------------------------------------------------------------------

def _fixed(name: str, obs_dim: int, num_actions: int, init: str, hidden_gain: float, out_gain: float) -> LearnerDist:
    return LearnerDist(name, MLPSpec(obs_dim, CARTPOLE_HIDDEN, num_actions, "tanh", init, hidden_gain, out_gain))


def make_learner_dist(name: str, obs_dim: int, num_actions: int):
    """A Table 1 learner distribution by name (see the module docstring); ``DIST_NAMES`` lists them."""
    if name == "ortho":
        return cartpole_learner(obs_dim, num_actions)
    if name == "ortho-std1":
        return _fixed(name, obs_dim, num_actions, "orthogonal", 1.0, 1.0)
    if name == "xe":
        return _fixed(name, obs_dim, num_actions, "xavier", SQRT2, 0.01)
    if name == "xe-std1":
        return _fixed(name, obs_dim, num_actions, "xavier", 1.0, 1.0)
    if name == "random-h":
        return RandomWidthDist(name, MLPSpec(obs_dim, (256, 256), num_actions, "tanh", "orthogonal", SQRT2, 0.01),
                               min_width=32)
    if name == "random-L":
        return RandomDepthDist(name, obs_dim, num_actions, activation="tanh")
    if name == "random-L-noact":
        return RandomDepthDist(name, obs_dim, num_actions, activation="identity")
    raise ValueError(f"unknown learner distribution {name!r}; choose from {list(DIST_NAMES)}")


def parse_dist_names(text: str, allowed: Sequence[str] = DIST_NAMES, all_names: Sequence[str] | None = None) -> list[str]:
    """Comma-separated names (or "all") -> list; ValueError naming the valid choices."""
    all_names = list(all_names if all_names is not None else allowed)
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise ValueError(f"no learner distribution given; choose from {list(allowed)} or 'all'")
    out: list[str] = []
    for n in names:
        for m in (all_names if n == "all" else [n]):
            if m not in allowed:
                raise ValueError(f"unknown learner distribution {m!r}; choose from {list(allowed)} or 'all'")
            if m not in out:
                out.append(m)
    return out


def make_mixture(names: Sequence[str], obs_dim: int, num_actions: int, name: str | None = None,
                 weights: Sequence[float] | None = None):
    """A ``MixtureDist`` of the named fixed-shape distributions (one name: that distribution),
    uniform or with probabilities proportional to ``weights`` (one per name, names distinct).

    Components are zero-padded to the widest hidden layers present (256 if "random-h" is
    included, else 64), so all share one pytree shape.
    """
    if weights is None:
        names = list(dict.fromkeys(names))
    elif len(set(names)) != len(names) or len(weights) != len(names):
        raise ValueError(f"weighted mixture: give each distribution once with one weight (got {list(names)})")
    bad = [n for n in names if n not in FIXED_SHAPE_DISTS]
    if bad:
        raise ValueError(f"{bad} cannot be trained against (no fixed shape) or are unknown; "
                         f"choose from {list(FIXED_SHAPE_DISTS)}")
    dists = [make_learner_dist(n, obs_dim, num_actions) for n in names]
    if len(dists) == 1:
        return dists[0]
    widest = max((d.spec.hidden for d in dists), key=lambda h: sum(h))
    comps = tuple(d if isinstance(d, RandomWidthDist) or d.spec.hidden == widest else PaddedDist(d, widest)
                  for d in dists)
    label = ",".join(names) if weights is None else ",".join(f"{n}:{w:g}" for n, w in zip(names, weights))
    return MixtureDist(name or f"mix({label})", comps, None if weights is None else tuple(weights))


def parse_train_dist(text: str) -> tuple[list[str], list[float] | None]:
    """A --train-dist string -> (names, weights or None): one fixed-shape name, a comma-separated
    list (uniform mixture), ``name:weight`` items (a weighted mixture, e.g. ``ortho:3,xe-std1:1``)
    or an alias in ``MIXTURE_ALIASES``. ValueError (one line naming the choices) on bad input."""
    if text in MIXTURE_ALIASES:
        w = MIXTURE_WEIGHTS.get(text)
        return list(MIXTURE_ALIASES[text]), (None if w is None else list(w))
    items = [s.strip() for s in text.split(",") if s.strip()]
    names, weights = [], []
    for it in items:
        n, _, w = it.partition(":")
        try:
            wv = float(w) if w else 1.0
        except ValueError:
            wv = float("nan")
        if n.strip() not in FIXED_SHAPE_DISTS or not wv > 0 or not np.isfinite(wv):
            raise ValueError(f"--train-dist {text!r}: {it!r} is not NAME or NAME:WEIGHT (weight > 0) with NAME one of "
                             f"{', '.join(FIXED_SHAPE_DISTS)}; or use an alias {', '.join(MIXTURE_ALIASES)}")
        names.append(n.strip())
        weights.append(wv)
    if not names:
        raise ValueError(f"empty --train-dist; choose from {list(FIXED_SHAPE_DISTS)} (comma-separated for a "
                         f"mixture, NAME:WEIGHT for a weighted one) or an alias {list(MIXTURE_ALIASES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"--train-dist {text!r}: each distribution once (weights give the proportions)")
    return names, (None if len(set(weights)) == 1 else weights)


def make_train_dist(text: str, obs_dim: int, num_actions: int):
    """The learner distribution PPMO trains against, from a CLI string (``parse_train_dist``)."""
    names, weights = parse_train_dist(text)
    return make_mixture(names, obs_dim, num_actions, name=text if text in MIXTURE_ALIASES else None, weights=weights)


def grid_dist(depth: int, width: int, obs_dim: int, num_actions: int) -> LearnerDist:
    """Table 6's learner: ``depth`` tanh hidden layers of ``width`` (0 = a linear map), Λ's init."""
    if depth < 0 or width < 1:
        raise ValueError(f"need depth >= 0 and width >= 1, got {depth}, {width}")
    return LearnerDist(f"L{depth}-h{width}" if depth else "L0",
                       MLPSpec(obs_dim, (width,) * depth, num_actions, "tanh", "orthogonal", SQRT2, 0.01))


def grid_dists(obs_dim: int, num_actions: int, depths: Sequence[int] = GRID_DEPTHS,
               widths: Sequence[int] = GRID_WIDTHS) -> dict[tuple[int, int], LearnerDist]:
    """Table 6's grid {(L, h): dist}; L = 0 has no hidden width, so it is ONE entry (0, 0)."""
    out: dict[tuple[int, int], LearnerDist] = {}
    for d in depths:
        for w in (widths if d else [0]):
            out[(d, w)] = grid_dist(d, w or 1, obs_dim, num_actions)
    return out


def describe(dist) -> str:
    """One line naming what ``dist`` contains (for logs and RESULTS.md)."""
    if isinstance(dist, MixtureDist):
        return f"uniform mixture of {[c.name for c in dist.components]}"
    return DIST_DESCRIPTIONS.get(getattr(dist, "name", ""), getattr(dist, "name", str(dist)))

