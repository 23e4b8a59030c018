"""The paper's Table 1: distil N-D cart-pole (N = 1..5) at k = k_min and k = 512, evaluate every
learner distribution, and write RESULTS.md in the paper's layout with the paper's numbers beside
ours, plus a Figure-4-style picture of each k_min dataset.

    python -m rlsl_jax.experiments.table1 --out experiments/table1 --dims 1,2 --ks kmin,512
    python -m rlsl_jax.experiments.table1 --out experiments/table1 --dims 1 --train-dist mix4

Per (N, k) the run lives in OUT/runs/<tag>/ (orbax checkpoints, log.csv, dataset.npz, run.json);
training resumes from there (a larger --meta-epochs continues it, an equal one skips it). The k-shot
results go to OUT/results/<tag>.json (re-used when the dataset, learners and seed are unchanged)
and OUT/RESULTS.md is rebuilt from every results file present, so rows of separate invocations
accumulate. A hand-written OUT/NOTES.md, if present, is appended to RESULTS.md verbatim.

--train-dist picks the learner distribution PPMO trains against: one of the fixed-shape Table 1
distributions, a comma-separated list of them (a uniform per-learner mixture, the paper's
Section 4.1 suggestion), or an alias: mix4 = ortho, ortho-std1, xe, xe-std1 (all 64-64);
mix5 = mix4 + random-h (every component zero-padded to width 256, an exact equivalence).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from rlsl_jax import cli
from rlsl_jax.config import add_config_args, config_from_args
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.studies import table1
from rlsl_jax.studies.kshot import parse_modes

POSITIVE = ("learners", "episodes", "chunk", "checkpoint_every", "population", "num_envs", "rollout_steps",
            "update_epochs", "minibatch_size")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.table1", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("experiments/table1"), help="output directory")
    p.add_argument("--dims", default="1,2,3,4,5", help="comma-separated N to run")
    p.add_argument("--ks", default="kmin,512", help="comma-separated k: integers or 'kmin' (= N + 1)")
    p.add_argument("--meta-epochs", default=table1.DEFAULT_META_EPOCHS,
                   help="meta-epochs: one integer for every N, or N:E pairs, e.g. 1:1000,2:3000")
    p.add_argument("--train-dist", default="ortho",
                   help="learner distribution PPMO trains against: a fixed-shape name, a comma-separated "
                        "mixture, or mix4 / mix5")
    p.add_argument("--dists", default="all", help="distributions to evaluate (comma-separated or 'all')")
    p.add_argument("--learners", type=int, default=1000, help="fresh learners per distribution")
    p.add_argument("--episodes", type=int, default=1, help="episodes per learner")
    p.add_argument("--modes", default="sampled,greedy", help="sampled (the paper's protocol) and/or greedy")
    p.add_argument("--seed", type=int, default=0, help="seed of distillation and evaluation")
    p.add_argument("--chunk", type=int, default=50, help="meta-epochs per jitted chunk")
    p.add_argument("--checkpoint-every", type=int, default=500, help="save a checkpoint every C meta-epochs")
    p.add_argument("--eval-only", action="store_true", help="do not train; evaluate the runs already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_args(p, PPMOConfig, skip=("k",))
    cli.add_parallel_args(p, what="the PPMO population, its envs and the k-shot learners")
    cli.add_cache_args(p)
    return p


def validate(args):
    from rlsl_jax.networks.distributions import DIST_NAMES, FIXED_SHAPE_DISTS, MIXTURE_ALIASES, parse_dist_names

    try:
        dims = [int(s) for s in args.dims.split(",") if s.strip()]
    except ValueError:
        raise cli.UsageError(f"--dims {args.dims!r}: expected comma-separated integers") from None
    if not dims:
        raise cli.UsageError("--dims: no values given")
    if min(dims) < 1:
        raise cli.UsageError(f"--dims must all be >= 1 (got {args.dims})")
    try:
        meta_epochs = table1.parse_meta_epochs(args.meta_epochs, dims)
        ks = {d: table1.parse_ks(args.ks, d) for d in dims}
    except ValueError as e:
        raise cli.UsageError(str(e)) from e
    if min(meta_epochs.values()) < 0:
        raise cli.UsageError(f"--meta-epochs must be >= 0 (got {args.meta_epochs})")
    try:
        dists = parse_dist_names(args.dists, DIST_NAMES)
    except ValueError as e:
        raise cli.UsageError(f"--dists: {e}") from e
    names = MIXTURE_ALIASES.get(args.train_dist) or [s.strip() for s in args.train_dist.split(",") if s.strip()]
    bad = [n for n in names if n not in FIXED_SHAPE_DISTS]
    if not names or bad:
        raise cli.UsageError(f"--train-dist {args.train_dist!r}: choose from {', '.join(FIXED_SHAPE_DISTS)} "
                             f"(comma-separated for a mixture) or an alias {', '.join(MIXTURE_ALIASES)}")
    cli.check_positive(args, POSITIVE)
    try:
        modes = parse_modes(args.modes)
    except ValueError as e:
        raise cli.UsageError(str(e)) from e
    cli.check_writable(args.out)
    return dims, ks, meta_epochs, dists, modes


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    dims_list, ks, meta_epochs, dists, modes = validate(args)
    cfg_base = config_from_args(PPMOConfig, args, k=1)
    mesh = cli.setup_parallel(args, {"--population": args.population})
    main_process = cli.is_main_process()
    cli.enable_compile_cache(args)

    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.report import machine_info

    configure_cpu()
    args.out.mkdir(parents=True, exist_ok=True)
    for dims in dims_list:
        for k in ks[dims]:
            tag = table1.run_tag(dims, k, args.train_dist)
            run_dir = args.out / "runs" / tag
            if not args.eval_only:
                try:
                    table1.distil(run_dir, dims, k, meta_epochs[dims], dataclasses.replace(cfg_base, k=k),
                                  args.train_dist, args.seed, args.chunk, args.checkpoint_every,
                                  not args.no_progress, mesh)
                except table1.RunMismatch as e:
                    raise cli.UsageError(str(e)) from e
            elif not (run_dir / "checkpoints").is_dir() and not (run_dir / "dataset.npz").exists():
                print(f"[{tag}] --eval-only: no run, skipped", file=sys.stderr, flush=True)
                continue
            try:
                table1.evaluate_run(run_dir, args.out / "results" / f"{tag}.json", dims, k, dists, modes,
                                    args.learners, args.episodes, args.seed, args.train_dist, mesh, machine=machine_info)
            except table1.RunMismatch as e:
                raise cli.UsageError(str(e)) from e
            if k == table1.k_min(dims) and main_process:
                table1.plot_kmin_dataset(args.out, dims, k, args.train_dist)
    if main_process:
        path = table1.write_results_md(args.out, dists, modes, ["python -m rlsl_jax.experiments.table1", *argv],
                                       machine=machine_info)
        print(path.read_text())


if __name__ == "__main__":
    cli.run_main(main)
