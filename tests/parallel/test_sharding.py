"""PPMO and k-shot evaluation sharded over 4 simulated CPU devices give the single-device numbers.

Each case runs in a subprocess because the device count is fixed when JAX starts
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``).
"""

import os
import subprocess
import sys
import textwrap

from conftest import REPO, run_script_json

SCRIPT = textwrap.dedent('''
    import json, os, sys
    D = int(sys.argv[1])
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={D}"
    import jax, jax.numpy as jnp, numpy as np
    from rlsl_jax.distill import PPMOConfig, epoch_keys, make_chunk, make_meta_step
    from rlsl_jax.envs import make
    from rlsl_jax.evaluate import kshot_returns
    from rlsl_jax.networks import cartpole_learner
    from rlsl_jax.parallel import make_mesh
    assert len(jax.devices()) == D
    mesh = make_mesh() if D > 1 else None
    env, params = make("NDCartPole-v0", num_dims=2)
    cfg = PPMOConfig(k=3, population=4, num_envs=2, rollout_steps=16, minibatch_size=8, update_epochs=2)
    init, step = make_meta_step(cfg, env, params, mesh=mesh)
    state, m = make_chunk(step)(init(jax.random.key(0)), epoch_keys(jax.random.key(1), 0, 3))
    sharded = D > 1 and state.carry.obs.sharding.num_devices == D
    greedy, sampled = (kshot_returns(jax.random.key(2), state.dataset, env, params, cartpole_learner(8, 4), 8, 2,
                                     500, jnp.asarray(g), mesh) for g in (True, False))
    print(json.dumps({"y": np.asarray(state.dataset.y).tolist(), "x": np.asarray(state.dataset.x).tolist(),
                      "loss": float(m["policy_loss"][-1]), "sharded": bool(sharded),
                      "greedy": np.asarray(greedy).ravel().tolist(),
                      "sampled": np.asarray(sampled).ravel().tolist()}))
''')


def _run(devices: int) -> dict:
    return run_script_json(SCRIPT, str(devices))


def test_ppmo_and_kshot_same_numbers_on_1_and_4_devices():
    import numpy as np

    one, four = _run(1), _run(4)
    assert four["sharded"]  # the env batch really is spread over 4 devices
    np.testing.assert_allclose(four["y"], one["y"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(four["x"], one["x"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(four["loss"], one["loss"], rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(four["greedy"], one["greedy"])
    # sampled actions too: with jax_threefry_partitionable (JAX's default) random bits do not depend on
    # the sharding (with it off, 1 and 4 devices draw different learners and actions: make_mesh refuses)
    np.testing.assert_array_equal(four["sampled"], one["sampled"])


def test_make_mesh_refuses_non_partitionable_threefry():
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), JAX_PLATFORMS="cpu",
               XLA_FLAGS="--xla_force_host_platform_device_count=2")
    code = ("import jax; jax.config.update('jax_threefry_partitionable', False)\n"
            "from rlsl_jax.parallel import make_mesh\nassert make_mesh(1).size == 1\n"
            "try:\n    make_mesh(2)\nexcept ValueError as e:\n    print('refused', e)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and "refused" in r.stdout, r.stderr[-1000:]
