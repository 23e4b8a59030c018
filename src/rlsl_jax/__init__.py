"""rlsl_jax: distil an RL environment into a tiny synthetic dataset (PPMO) in JAX."""

__version__ = "0.1.0"
