"""How much of a distilled MuJoCo set survives a smaller input scale before any further training?

``--obs-scale c`` feeds the learners normalised observations divided by c; ``--init-dataset`` with a
set distilled at another scale starts from ``tasks.mujoco.rescale_inputs`` of it (X / f, η f², the
log-std target / f², targets shifted to keep the bias path). This scores, with the SAME fresh
learners (one SGD step, one episode each, sampled actions), each set at its own scale and rescaled to
every c of ``--scales``, as that continued run starts (its normaliser: the stored statistics at
scale c):

    python experiments/mujoco/rescale_probe.py experiments/mujoco/table3/{walker2d,halfcheetah}_ppmo_scale1 --scales 2,4
"""

from __future__ import annotations

import argparse

from rlsl_jax.report import markdown_table
from rlsl_jax.rl.normalize import scaled_rms
from rlsl_jax.tasks import mujoco as tm


def positive_floats(text: str) -> list[float]:
    """'2,4' -> [2.0, 4.0]; argparse's error (exit 2) unless every value is a number > 0."""
    values = []
    for part in text.split(","):
        try:
            values.append(float(part))
        except ValueError:
            values.append(float("nan"))
    if not all(v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give numbers > 0 separated by commas, e.g. 2,4")
    return values


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("datasets", nargs="+", help="run folders, checkpoint folders or dataset.npz of MuJoCo PPMO runs")
    p.add_argument("--scales", type=positive_floats, default="2,4",
                   help="input scales c, comma-separated (default: %(default)s)")
    p.add_argument("--learners", type=int, default=32, help="fresh learners per cell (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="learners' and envs' seed (default: %(default)s)")
    args = p.parse_args(argv)
    if args.learners < 1:
        p.error(f"--learners must be >= 1 (got {args.learners})")
    rows = []
    for path in args.datasets:
        try:
            s = tm.load_scored(path, args.learners, args.seed)
        except (ValueError, FileNotFoundError) as e:
            p.error(str(e))
        if s.obs_rms is None:
            p.error(f"{path}: no stored normaliser (raw observations), nothing to rescale")

        def score(ds, rms):
            r = tm.kshot(ds, rms, args.learners, seed=args.seed, backend=s.backend, env=s.env,
                         brax_backend=s.brax_backend, episode_length=s.episode_length, benv=s.benv)
            return f"{r['mean']:.1f} ± {r['std']:.1f}"

        row = [path, f"{tm.stored_obs_scale(s.meta):g}", score(s.ds, s.obs_rms)]
        for c in args.scales:
            ds, running = tm.at_scale(s.ds, s.obs_rms, s.meta, c)
            row.append(score(ds, scaled_rms(running, c)))
        rows.append(row)
    print(markdown_table(["dataset", "its scale", "as stored"] + [f"rescaled to c = {c:g}" for c in args.scales], rows))


if __name__ == "__main__":
    main()
