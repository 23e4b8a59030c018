"""experiments/mujoco/learner_average.py: the block-diagonal MLP is exactly the mean of its M learners."""

import jax
import jax.numpy as jnp
import numpy as np

from rlsl_jax.distill import Dataset
from rlsl_jax.evaluate import trained_learners
from rlsl_jax.networks.gaussian import mujoco_learner


def test_averaged_mlp_gives_the_mean_action_of_its_learners(experiment_script):
    kx, ky, kl, ko = jax.random.split(jax.random.key(5), 4)
    ds = Dataset(jax.random.normal(kx, (8, 5)), jax.random.normal(ky, (8, 3)), jnp.float32(2.0),
                 log_std=jnp.full((3,), -0.5))
    base, m = mujoco_learner(5, 3), 3
    phi = trained_learners(kl, ds, base, None, m)
    obs = jax.random.normal(ko, (4, 5))
    each = jax.vmap(lambda p: base.apply(p, obs))(phi)                     # [m, 4, 3]
    avg = experiment_script("mujoco/learner_average").averaged(phi, m)
    wide = mujoco_learner(5, 3, hidden=(64 * m, 64 * m))
    np.testing.assert_allclose(wide.apply(avg, obs), each.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(avg["log_std"], phi["log_std"].mean(0), rtol=1e-6)
    assert not np.allclose(each[0], each[1])                                # the learners differ
