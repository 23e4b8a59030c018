"""Can ONE SGD step on k synthetic frames make FRESH MinAtar learners follow the ball? A supervised
probe of full distillation (l = 0) on Breakout, without RL: X, Y, η are fitted by Adam so that
fresh learners, each trained by one step on (X, Y), imitate a scripted policy (move the paddle
towards the ball's column; noop when under it) on frames of random play; accuracy is measured on
held-out frames with learners never seen in training.

    python experiments/minatar/one_step_probe.py --arch conv --steps 300
    python experiments/minatar/one_step_probe.py --arch mlp --steps 300

Also prints how much the one-step policy of a saved dataset varies across frames vs across
learners (``--dataset D``): a policy that barely depends on the frame is a state-independent one.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rlsl_jax.distill.dataset import init_dataset
from rlsl_jax.distill.inner import inner_step
from rlsl_jax.tasks import minatar as T


def random_play_frames(task, key, episodes: int = 64, steps: int = 40) -> jax.Array:
    env, p = task.env, task.env_params

    def roll(k):
        obs, s = env.reset(k, p)

        def body(c, kk):
            obs, s = c
            a = jax.random.randint(kk, (), 0, task.num_actions)
            nxt, s, *_ = env.step(kk, s, a, p)
            return (nxt, s), obs

        return jax.lax.scan(body, (obs, s), jax.random.split(k, steps))[1]

    return jax.jit(jax.vmap(roll))(jax.random.split(key, episodes)).reshape(-1, *task.obs_shape)


def follow_the_ball(f: jax.Array) -> jax.Array:
    """Breakout labels: 1 (left) / 2 (right) towards the ball's column, 0 (noop) under it."""
    cols = jnp.arange(10)
    pad = (f[..., 0].sum(-2) * cols).sum(-1) / jnp.maximum(f[..., 0].sum((-1, -2)), 1)
    ball = (f[..., 1].sum(-2) * cols).sum(-1) / jnp.maximum(f[..., 1].sum((-1, -2)), 1)
    return jnp.where(ball < pad - 0.5, 1, jnp.where(ball > pad + 0.5, 2, 0))


def one_step_logits(learner, ds, key, x, n):
    phi1 = jax.vmap(lambda q: inner_step(learner.apply, q, ds))(learner.sample(key, n))
    return jax.vmap(lambda q: learner.apply(q, x))(phi1)  # [n, N, A]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="conv", choices=("conv", "mlp"))
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--learners", type=int, default=8, help="fresh learners per Adam step")
    p.add_argument("--head-gain", type=float, default=None,
                   help="conv learner: orthogonal gain of the output layer (default: the learner's, 0.01)")
    p.add_argument("--dataset", default=None, help="instead: how state-dependent a saved dataset's policy is")
    args = p.parse_args(argv)
    if args.dataset:
        task, ds, _ = T.load_scored(args.dataset)
        frames = random_play_frames(task, jax.random.key(0), 8, 50)
        pr = jax.nn.softmax(one_step_logits(T.kshot_learner(task, ds), jax.tree.map(jnp.asarray, ds),
                                            jax.random.key(1), frames, 8))
        print(f"{args.dataset}: action probabilities {np.round(np.asarray(pr.mean((0, 1))), 3)}; std across frames "
              f"{float(pr.std(1).mean()):.3f}, across learners {float(pr.std(0).mean()):.3f}")
        return
    task = T.make_task("Breakout", 0, args.arch)
    if args.head_gain is not None:  # the same network with another head initialisation
        from rlsl_jax.networks.minatar import MinAtarLearner, minatar_spec

        spec = minatar_spec(task.obs_shape, task.num_actions, out_gain=args.head_gain)
        task = task._replace(learner=MinAtarLearner("minatar_cnn", spec, 0))
    frames = random_play_frames(task, jax.random.key(0))
    labels = follow_the_ball(frames)
    tr, te, ltr, lte = frames[:2000], frames[2000:], labels[:2000], labels[2000:]
    print(f"{args.arch} (head gain {args.head_gain or 'default'}): {len(frames)} frames, label shares {np.bincount(np.asarray(labels), minlength=3) / len(labels)}")
    ds = init_dataset(jax.random.key(1), args.k, task.obs_shape, task.num_actions)
    tx = optax.adam(args.lr)
    opt = tx.init(ds)

    def loss(ds, key, x, y):
        lg = one_step_logits(task.learner, ds, key, x, args.learners)
        return optax.softmax_cross_entropy_with_integer_labels(lg, y[None]).mean(), (lg.argmax(-1) == y[None]).mean()

    @jax.jit
    def step(ds, opt, key):
        k1, k2 = jax.random.split(key)
        idx = jax.random.choice(k2, len(tr), (256,))
        (_, acc), g = jax.value_and_grad(loss, has_aux=True)(ds, k1, tr[idx], ltr[idx])
        u, opt = tx.update(g, opt, ds)
        ds = optax.apply_updates(ds, u)
        return ds.replace(inner_lr=jnp.maximum(ds.inner_lr, 1e-4)), opt, acc

    test = jax.jit(lambda ds: loss(ds, jax.random.key(7), te, lte))
    for i in range(args.steps):
        ds, opt, acc = step(ds, opt, jax.random.key(100 + i))
        if (i + 1) % max(1, args.steps // 6) == 0 or i == args.steps - 1:
            _, tacc = test(ds)
            print(f"step {i + 1}: train batch accuracy {float(acc):.3f}, held-out frames with fresh learners "
                  f"{float(tacc):.3f} (majority class {float(jnp.bincount(lte, length=3).max() / len(lte)):.3f}), "
                  f"η {float(ds.inner_lr):.3f}", flush=True)


if __name__ == "__main__":
    main()
