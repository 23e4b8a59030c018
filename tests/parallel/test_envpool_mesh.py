"""envpool on a multi-device mesh (one pool per device, ``envpool_bridge.DevicePools``): the same
numbers as ONE pool on one device through ``.xla()``, outputs really sharded.

Subprocesses, because the simulated CPU device count is fixed when JAX starts.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import REPO, run_script_json

pytest.importorskip("envpool")

SCRIPT = textwrap.dedent('''
    import json, os, sys
    D = int(sys.argv[1])
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={D}"
    import jax, jax.numpy as jnp, numpy as np
    from rlsl_jax.distill import PPMOConfig, epoch_keys, make_chunk, make_meta_step
    from rlsl_jax.envs import make
    from rlsl_jax.parallel import make_mesh
    from rlsl_jax.rl.rollout import init_rollout_carry
    assert len(jax.devices()) == D
    mesh = make_mesh() if D > 1 else None
    out = {}
    # PPMO on Pong, 2 learners x 2 envs; small MLPs on subsampled frames (a parameter-free "encoder")
    from rlsl_jax.networks import cartpole_learner
    from rlsl_jax.networks.mlp import mlp_apply, mlp_init
    from rlsl_jax.rl.update import critic_spec
    feat = lambda x: x[..., ::12, ::12].reshape(*x.shape[:-3], 196).astype(jnp.float32) / 255.0
    critic = (lambda k: mlp_init(k, critic_spec(196, (16,))), lambda p, o: mlp_apply(p, feat(o), "tanh")[..., 0])
    benv, _ = make("envpool/Pong-v5", num_envs=4, seed=3, mesh=mesh)
    cfg = PPMOConfig(k=2, population=2, num_envs=2, rollout_steps=6, minibatch_size=6, update_epochs=1)
    init, step = make_meta_step(cfg, None, None, cartpole_learner(196, 6, (16,)), benv=benv, critic=critic,
                                encoder=(lambda k: {}, lambda e, x: feat(x)), mesh=mesh)
    state, m = make_chunk(step)(init(jax.random.key(0)), epoch_keys(jax.random.key(1), 0, 2))
    out["pong_y"] = np.asarray(state.dataset.y).tolist()
    out["pong_obs_mean"] = float(np.asarray(state.carry.obs, np.float32).mean())
    out["pong_devices"] = len(state.carry.obs.sharding.device_set)
    # MuJoCo: a jitted scan of fixed actions through the bridge (float64 handled on the host)
    menv, _ = make("envpool/Hopper-v4", num_envs=4, seed=5, max_episode_steps=5, mesh=mesh)
    carry = init_rollout_carry(jax.random.key(0), menv)
    acts = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (12, 4, 3)), jnp.float32)

    def body(s, a):
        r = menv.step(None, s, a)
        return r.state, (r.obs, r.reward, r.terminated, r.truncated)

    _, (o, r, te, tr) = jax.jit(lambda s, a: jax.lax.scan(body, s, a))(carry.env_state, acts)
    out["hopper"] = [np.asarray(x, np.float32).tolist() for x in (o, r, te, tr)]
    out["hopper_devices"] = len(o.sharding.device_set)
    print(json.dumps(out))
''')


def _run(devices: int) -> dict:
    return run_script_json(SCRIPT, str(devices))


def test_envpool_pools_sharded_over_2_devices_match_one_device():
    one, two = _run(1), _run(2)
    assert two["pong_devices"] == 2 and two["hopper_devices"] == 2  # outputs spread over both devices
    assert one["pong_devices"] == 1
    np.testing.assert_allclose(two["pong_y"], one["pong_y"], rtol=1e-5, atol=1e-6)
    assert two["pong_obs_mean"] == one["pong_obs_mean"]
    for a, b in zip(two["hopper"], one["hopper"]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert sum(map(sum, one["hopper"][3])) > 0  # the 5-step cap truncated episodes inside the scan


def test_envpool_mesh_rejects_indivisible_pool():
    code = textwrap.dedent('''
        import os
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
        from rlsl_jax.envs import make
        from rlsl_jax.parallel import make_mesh
        try:
            make("envpool/Pong-v5", num_envs=3, mesh=make_mesh())
        except ValueError as e:
            print("ERR", e)
    ''')
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert "ERR num_envs (3) must be a multiple of the number of devices (2)" in r.stdout, r.stderr[-2000:]
