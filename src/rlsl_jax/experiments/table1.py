"""The paper's Table 1: distil N-D cart-pole (N = 1..5) at k = k_min and k = 512, evaluate every
learner distribution, and write RESULTS.md in the paper's layout with the paper's number and a
verdict beside every cell, plus Table 6's grid and a Figure-4-style picture of each k_min dataset.

    python -m rlsl_jax.experiments.table1 --out experiments/table1           # the whole table, ours
    python -m rlsl_jax.experiments.table1 --out D --preset paper --dims 1,2  # the paper's PPMO
--preset sets the defaults (--help shows them): ours trains for generality, paper is the paper's PPMO (Λ alone).
Per (N, k) the run lives in OUT/runs/<tag>/ (checkpoints, log.csv, dataset.npz, run.json); training resumes
from there (a larger --meta-epochs continues it, an equal one skips it). k-shot results go to OUT/results/<tag>.json
(re-used while the dataset, learners and seed are unchanged); OUT/RESULTS.md is rebuilt from every results file
(OUT/NOTES.md, hand-written, is appended). --authors DIR also scores the authors' DIR/ndcartpole_<N>d_k<N+1>.npz.

--train-dist: a fixed-shape Table 1 distribution, a comma-separated uniform mixture, NAME:WEIGHT items (a weighted
mixture) or an alias: mix4 = ortho, ortho-std1, xe, xe-std1 (all 64-64); mix5 = mix4 + random-h (zero-padded to 256).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlsl_jax import cli
from rlsl_jax.config import add_config_args, config_from_args, preset_name
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.studies import table1
from rlsl_jax.studies.kshot import parse_modes

POSITIVE = ("learners", "episodes", "chunk", "checkpoint_every", "population", "num_envs", "rollout_steps",
            "update_epochs", "minibatch_size", "check_learners")

def build_parser(preset: str = table1.DEFAULT_PRESET) -> argparse.ArgumentParser:
    pre = table1.PRESETS[preset]
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.table1", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add = p.add_argument
    add("--preset", default=table1.DEFAULT_PRESET, choices=sorted(table1.PRESETS),
        help="; ".join(f"{n}: {v.description}" for n, v in table1.PRESETS.items()) + " (default: %(default)s)")
    add("--out", type=Path, default=Path("experiments/table1"), help="output directory (default: %(default)s)")
    add("--dims", default="1,2,3,4,5", help="comma-separated N to run (default: %(default)s)")
    add("--ks", default="kmin,512", help="comma-separated k: integers or 'kmin' (= N + 1) (default: %(default)s)")
    add("--meta-epochs", default=pre.meta_epochs, help="meta-epochs: one integer for every N, or N:E pairs "
        "(default: %(default)s)")
    add("--train-dist", default=pre.train_dist, help="learner distribution PPMO trains against (see above) "
        "(default: %(default)s)")
    add("--check-every", type=int, default=pre.check_every, help="score the dataset on every fixed-shape column every "
        "C meta-epochs and keep the best (worst column / paper); 0 = off, keep the last (default: %(default)s)")
    add("--check-learners", type=int, default=pre.check_learners, help="learners per column (default: %(default)s)")
    add("--check-stop", type=float, default=pre.check_stop, help="stop a run once every checked column reaches this "
        "multiple of its target (default: %(default)s)")
    add("--calibrate-eta", action=argparse.BooleanOptionalAction, default=pre.calibrate_eta, help="after training, "
        "scale η by the factor whose check columns clear the most targets (run.json eta_scale) (default: %(default)s)")
    add("--lambda-kmin-from", type=int, default=pre.lambda_kmin_from, metavar="N", help="the k = N + 1 rows of every "
        "N >= this are trained against Λ alone, as `python -m rlsl_jax.experiments.cartpole --dims N --k N+1` does "
        f"(its preset, P = 1; a Λ check every {table1.LAMBDA_ROW_CHECK_EVERY} meta-epochs with "
        f"{table1.LAMBDA_ROW_CHECK_LEARNERS} learners, stop at 495; η as trained), whatever the flags above; "
        "0 = no such rows (default: %(default)s)")
    add("--dists", default="all", help="distributions to evaluate (comma-separated or 'all') (default: %(default)s)")
    add("--learners", type=int, default=1000, help="fresh learners per distribution (default: %(default)s)")
    add("--episodes", type=int, default=1, help="episodes per learner (default: %(default)s)")
    add("--modes", default="sampled,greedy", help="sampled (the paper's protocol) and/or greedy (default: %(default)s)")
    add("--grid-learners", type=int, default=100, help="learners per cell of Table 6's grid on each k_min dataset; "
        "0 = no grid (default: %(default)s)")
    add("--authors", type=Path, default=None, metavar="DIR", help="also score the authors' datasets in DIR")
    add("--seed", type=int, default=0, help="seed of distillation and evaluation (default: %(default)s)")
    add("--chunk", type=int, default=50, help="meta-epochs per jitted chunk (default: %(default)s)")
    add("--checkpoint-every", type=int, default=500, help="checkpoint every C meta-epochs (default: %(default)s)")
    add("--eval-only", action="store_true", help="do not train; evaluate the runs already in --out")
    add("--no-progress", action="store_true", help="no progress bar")
    add_config_args(p, PPMOConfig, skip=("k",), defaults=pre.config)
    cli.add_parallel_args(p, what="the PPMO population, its envs and the k-shot learners")
    cli.add_cache_args(p)
    return p


def validate(args):
    from rlsl_jax.networks.distributions import DIST_NAMES, parse_dist_names, parse_train_dist

    try:
        dims = [int(s) for s in args.dims.split(",") if s.strip()]
    except ValueError:
        raise cli.UsageError(f"--dims {args.dims!r}: expected comma-separated integers") from None
    if not dims or min(dims) < 1:
        raise cli.UsageError(f"--dims must all be >= 1 (got {args.dims!r})")
    try:
        meta_epochs = table1.parse_meta_epochs(args.meta_epochs, dims)
        ks = {d: table1.parse_ks(args.ks, d) for d in dims}
        dists = parse_dist_names(args.dists, DIST_NAMES)
        parse_train_dist(args.train_dist)
        modes = parse_modes(args.modes)
    except ValueError as e:
        raise cli.UsageError(str(e)) from e
    if min(meta_epochs.values()) < 0:
        raise cli.UsageError(f"--meta-epochs must be >= 0 (got {args.meta_epochs})")
    cli.check_positive(args, POSITIVE)
    cli.check_positive(args, ("check_every", "grid_learners", "lambda_kmin_from"), minimum=0)
    if args.authors is not None and not args.authors.is_dir():
        raise cli.UsageError(f"--authors {args.authors}: not a directory (the authors' ndcartpole_<N>d_k<N+1>.npz)")
    cli.check_writable(args.out)
    return dims, ks, meta_epochs, dists, modes


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(preset_name(argv, table1.PRESETS, table1.DEFAULT_PRESET)).parse_args(argv)
    dims_list, ks, meta_epochs, dists, modes = validate(args)
    cfg = config_from_args(PPMOConfig, args, k=1)
    mesh, main_process = cli.setup_parallel(args, {"--population": args.population}), cli.is_main_process()
    cli.enable_compile_cache(args)
    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.report import machine_info
    configure_cpu()
    args.out.mkdir(parents=True, exist_ok=True)
    for dims in dims_list:
        authors = args.authors / f"ndcartpole_{dims}d_k{table1.k_min(dims)}.npz" if args.authors else None
        if authors is not None and authors.exists():
            table1.evaluate_authors(authors, args.out / "results" / f"{table1.AUTHORS}_{dims}d.json", dims, dists,
                                    modes, args.learners, args.episodes, args.seed, mesh, machine=machine_info)
        for k in ks[dims]:
            row = table1.plan_row(dims, k, args.seed, config=cfg, **{f: getattr(args, f) for f in table1.ROW_FLAGS})
            tag = table1.run_tag(dims, k, row.train_dist)
            run_dir = args.out / "runs" / tag
            try:
                if not args.eval_only:
                    table1.distil(run_dir, dims, k, meta_epochs[dims], row.config, row.train_dist, args.seed,
                                  args.chunk, args.checkpoint_every, not args.no_progress, mesh, row.check,
                                  row.check_dists, row.check_value)
                elif not (run_dir / "checkpoints").is_dir() and not (run_dir / "dataset.npz").exists():
                    print(f"[{tag}] --eval-only: no run, skipped", file=sys.stderr, flush=True)
                    continue
                if row.calibrate_eta and (run_dir / "checkpoints").is_dir():
                    table1.calibrate_run(run_dir, dims, k, args.check_learners, args.seed)
                table1.evaluate_run(run_dir, args.out / "results" / f"{tag}.json", dims, k, dists, modes,
                                    args.learners, args.episodes, args.seed, row.train_dist, mesh,
                                    machine=machine_info)
            except (table1.RunMismatch, ValueError) as e:
                raise cli.UsageError(str(e)) from e
            if k == table1.k_min(dims) and args.grid_learners:
                table1.grid_of_run(run_dir, args.out / f"table6_{tag}.md", dims, args.grid_learners, args.seed, mesh)
            if k == table1.k_min(dims) and main_process:
                table1.plot_kmin_dataset(args.out, dims, k, row.train_dist)
            table1.release_compiled()
    if main_process:
        path = table1.write_results_md(args.out, dists, modes, ["python -m rlsl_jax.experiments.table1", *argv],
                                       machine=machine_info)
        print(path.read_text())


if __name__ == "__main__":
    cli.run_main(main)
