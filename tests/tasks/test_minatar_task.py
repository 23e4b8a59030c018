"""The MinAtar task family (rlsl_jax.tasks.minatar) as a library: games and learners, the env inside
jit/scan, the k-shot learner with a frozen encoder (= PPMO's inner step), direct PPO's actor,
saved datasets and the picture's colours. A tiny PPMO run with encoder rollback that resumes
bit-exactly: tests/experiments/test_minatar_cli.py (through the CLI, sharing one compilation)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlsl_jax.distill.inner import inner_step
from rlsl_jax.distill.ppmo import adapted_params
from rlsl_jax.logs import read_csv
from rlsl_jax.tasks import minatar as T

TINY = T.PRESETS["tiny"]  # k=4, 2 envs x 16 steps, 1 epoch x 2 minibatches


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    from rlsl_jax.cpu import configure_cpu

    configure_cpu(1)


def test_games_learners_and_bad_arguments():
    shapes = {"Breakout": ((10, 10, 4), 3, ("noop", "left", "right")),
              "SpaceInvaders": ((10, 10, 6), 4, ("noop", "left", "right", "fire")),
              "Asterix": ((10, 10, 4), 5, ("noop", "left", "up", "right", "down")),
              "Freeway": ((10, 10, 7), 3, ("noop", "up", "down"))}
    assert T.GAMES == tuple(shapes)
    for game, (obs, a, names) in shapes.items():
        for layer, in_shape in enumerate([obs, (16, 8, 8), (128,), (a,)]):
            t = T.make_task(game, layer)
            assert (t.obs_shape, t.num_actions, t.action_names, t.learner.in_shape) == (obs, a, names, in_shape)
            assert (t.encoder is None) == (layer == 0)
        assert T.game_of_shapes(obs[-1], a) == game and len(T.CHANNEL_NAMES[game]) == obs[-1]
    assert [T.kmin(g) for g in T.GAMES] == [3, 3, 4, 3]
    assert T.make_task("breakout-minatar") is T.make_task("Breakout", 0, "conv")  # cached: one compile per process
    mlp = T.make_task("Freeway", arch="mlp").learner
    assert [p["w"].shape for p in mlp.sample(jax.random.key(0), 2)] == [(2, 700, 64), (2, 64, 64), (2, 64, 3)]
    for bad, msg in [(("Pong",), "unknown MinAtar game 'Pong'"), (("Breakout", 4), "layer must be in 0..3"),
                     (("Breakout", 1, "mlp"), "layer 0 only"), (("Breakout", 0, "rnn"), "arch must be")]:
        with pytest.raises(ValueError, match=msg):
            T.make_task(*bad)


def test_env_inside_jit_and_scan():
    """The task's env in one jitted lax.scan, batched over 3 envs (random actions)."""
    t = T.make_task("SpaceInvaders")

    @jax.jit
    def play(key):
        obs, state = jax.vmap(t.env.reset, in_axes=(0, None))(jax.random.split(key, 3), t.env_params)

        def body(c, k):
            obs, state = c
            a = jax.random.randint(k, (3,), 0, t.num_actions)
            obs, state, r, term, trunc, _ = jax.vmap(t.env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k, 3), state, a, t.env_params)
            return (obs, state), (obs, r, term | trunc)

        return jax.lax.scan(body, (obs, state), jax.random.split(key, 20))[1]

    obs, r, done = play(jax.random.key(1))
    assert obs.shape == (20, 3, 10, 10, 6) and obs.dtype == jnp.float32 and r.shape == done.shape == (20, 3)
    assert set(np.unique(np.asarray(obs))) <= {0.0, 1.0}


def test_kshot_learner_is_the_ppmo_inner_step_on_the_frozen_encoder():
    from rlsl_jax.distill.dataset import init_dataset

    t = T.make_task("Breakout", 2)
    ds = init_dataset(jax.random.key(0), 4, t.obs_shape, t.num_actions).replace(
        encoder=t.encoder.init(jax.random.key(5)))
    wrapped = T.kshot_learner(t, ds)
    one = jax.tree.map(lambda p: p[1], t.learner.sample(jax.random.key(1), 2))

    @jax.jit
    def both(ds, one):
        ours = inner_step(wrapped.apply, one, ds)
        ppmo = adapted_params(ds, one, t.learner.apply, t.encoder.apply)
        x = ds.x[:3]
        return ours, ppmo, wrapped.apply(ours, x), t.learner.apply(ours, t.encoder.apply(ds.encoder, x))

    ours, ppmo, y1, y2 = both(ds, one)  # ξ is a constant in `ours`, an argument in PPMO's: float tolerance
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ppmo)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-7)
    assert T.kshot_learner(T.make_task("Breakout"), ds.replace(encoder=None)) is T.make_task("Breakout").learner


def test_saved_dataset_round_trip_and_picture_colours(tmp_path):
    """dataset.npz with an encoder (l = 2): game and layer read back from the file alone; a game
    it does not fit is refused. (Training, bit-exact resume, k-shot scores and dataset.png: the CLI test.)"""
    from rlsl_jax.checkpoint import write_npz
    from rlsl_jax.distill.dataset import init_dataset

    t = T.make_task("Asterix", 2)
    ds = init_dataset(jax.random.key(0), 4, t.obs_shape, t.num_actions).replace(encoder=t.encoder.init(jax.random.key(1)))
    write_npz(ds, T.metadata(t, TINY, 3), tmp_path / "d.npz")
    task, back, _ = T.load_scored(tmp_path / "d.npz")
    assert (task.game, task.layer) == ("Asterix", 2)
    np.testing.assert_array_equal(back.encoder[1]["w"], ds.encoder[1]["w"])
    with pytest.raises(ValueError, match="do not fit"):
        T.load_scored(tmp_path / "d.npz", game="Freeway")
    frame = np.zeros((10, 10, 4))
    frame[2, 3, 1], frame[5, 5, 0], frame[5, 5, 2] = 1.0, 0.5, 0.25
    rgb = T.frame_rgb(frame)
    assert rgb.shape == (10, 10, 3) and not rgb[0, 0].any()
    np.testing.assert_allclose(rgb[2, 3], T.PALETTE[1])
    np.testing.assert_allclose(rgb[5, 5], 0.5 * T.PALETTE[0])


def test_direct_ppo_same_env_steps_and_actor_score(tmp_path):
    t = T.make_task("Breakout")
    state, actor, info = T.distil(t, TINY, method="ppo", seed=0, meta_epochs=2, out_dir=tmp_path, chunk=2,
                                  checkpoint_every=2, progress=False)
    assert int(state.meta_epoch) == 2 and actor[1]["w"].shape == (1024, 128)
    assert list(read_csv(tmp_path / "log.csv")["env_steps"]) == [32, 64]  # = PPMO's per meta-epoch
    r = T.actor_score(t, actor, 2, seed=0, greedy=True)
    assert r["n"] == 2 and np.isfinite(r["mean"])
