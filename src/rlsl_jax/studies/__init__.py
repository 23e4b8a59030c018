"""Studies: library functions that RUN an experiment and RETURN its results as dicts (and write
their own result files and markdown), one module per study: ``kshot`` (k-shot evaluation of a
dataset over the Table-1 learner distributions and Table 6's grid), ``table1`` (the paper's
Table 1: distil N-D cart-pole at each (N, k), evaluate, RESULTS.md), ``kmin``, ``cost``, ``ppo``.
No argparse and no printing except progress; the command lines in ``rlsl_jax.experiments`` call
them."""
