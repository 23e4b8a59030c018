"""Command-line experiments: ``python -m rlsl_jax.experiments.<name> --help``."""
