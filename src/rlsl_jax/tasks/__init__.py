"""Task families, one module per env family: the env factory, the learner distribution Λ, preset
configs (``PRESETS``: PPMOConfig values) and ``distil(...)``, which wires a meta-step into the host
loop (``rlsl_jax.runner.run``). E.g. ``cartpole`` (N-D cart-pole and discrete gymnax envs),
``atari`` (envpool Atari with encoder rollback), ``mujoco`` (brax or envpool MuJoCo-v4, continuous
actions)."""
