"""k-shot evaluation of a distilled N-D cart-pole dataset (the paper's Table 1 and Table 6).

    python -m rlsl_jax.experiments.kshot --dataset ../shared/refdata/ndcartpole_2d_k3.npz --dims 2 --dist all
    python -m rlsl_jax.experiments.kshot --dataset runs/cartpole1d/checkpoints --grid --json grid.json

--dataset takes any of: one of our orbax run directories (newest step) or one step folder of it,
an npz of ours (dataset.npz of a run), or one of the paper authors' npz files (shared/refdata).
For every learner distribution, M fresh learners are sampled, trained by ONE SGD step on the
dataset and run for E episodes; the same learners act once with SAMPLED actions (the paper's
protocol) and once GREEDILY (argmax); both are reported side by side as mean ± std over learners.

Distributions (--dist, comma-separated or "all"):
  ortho           Λ, the paper's α_c: 64-64 tanh, orthogonal gain √2, last layer 0.01
  ortho-std1      64-64 tanh, orthogonal, every gain 1
  xe              64-64 tanh, Xavier normal with Λ's gains
  xe-std1         64-64 tanh, Xavier normal, every gain 1
  random-h        two tanh hidden layers of one width h ~ U{32..256}, Λ's init
  random-L        L ~ U{1..6} tanh hidden layers of width 64, Λ's init
  random-L-noact  as random-L without activations (what the authors' code ran)
--grid: Table 6, Λ's init on L ∈ {0..5} tanh hidden layers × h ∈ {32, 64, 128, 256}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlsl_jax import cli
from rlsl_jax.cpu import configure_cpu
from rlsl_jax.logs import write_json
from rlsl_jax.report import machine_info


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.kshot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", type=Path, required=True,
                   help="orbax run dir / step folder, our npz, or an authors' npz (shared/refdata)")
    p.add_argument("--dims", type=int, default=None,
                   help="N of the N-D cart-pole (default: what the dataset records; required if it records none)")
    p.add_argument("--dist", default=None,
                   help="learner distributions, comma-separated, or 'all' (default: ortho; with --grid: none)")
    p.add_argument("--grid", action="store_true", help="also evaluate Table 6's grid (L 0..5 × h 32..256)")
    p.add_argument("--learners", type=int, default=1000, help="fresh learners per distribution (M)")
    p.add_argument("--episodes", type=int, default=1, help="episodes per learner (E); a learner scores their mean")
    p.add_argument("--modes", default="sampled,greedy",
                   help="comma-separated: sampled (the paper's protocol), greedy (argmax actions)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed = same learners and episodes)")
    p.add_argument("--chunk", type=int, default=1000, help="learners per jitted call (bounds memory)")
    p.add_argument("--label", default=None, help="row label in the table (default e.g. '2D 3-shot')")
    p.add_argument("--json", type=Path, default=None, help="write mean, std, n and every return per distribution")
    p.add_argument("--table", type=Path, default=None, help="write the table(s) as markdown")
    cli.add_parallel_args(p, what="the learners of each jitted call")
    cli.add_cache_args(p)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if not args.dataset.exists():
        raise cli.UsageError(f"--dataset {args.dataset}: no such file or directory")
    cli.check_positive(args, ("dims", "learners", "episodes", "chunk"))
    for flag, path in (("--json", args.json), ("--table", args.table)):  # refused now, not after the evaluation
        cli.check_writable(path, flag, is_file=True)
    from rlsl_jax.studies import kshot

    try:
        dists, modes = kshot.parse_dists(args.dist, args.grid), kshot.parse_modes(args.modes)
        mesh = cli.setup_parallel(args)
        ds, meta, dims, env, env_params = kshot.load_cartpole(args.dataset, args.dims)
    except ValueError as e:
        raise cli.UsageError(str(e)) from e
    cli.enable_compile_cache(args)
    configure_cpu()
    main_process = cli.is_main_process()
    k, label = int(ds.x.shape[0]), args.label or kshot.default_label(dims, int(ds.x.shape[0]))
    if main_process:
        print(f"{args.dataset}: {meta.get('source')} dataset, N={dims}, k={k}, inner_lr={float(ds.inner_lr):.4g}; "
              f"{args.learners} learners × {args.episodes} episode(s), seed {args.seed}", file=sys.stderr, flush=True)
    out = kshot.run_kshot(ds, env, env_params, dists, modes, args.learners, args.episodes, args.seed, args.chunk,
                          args.grid, log=None if main_process else (lambda s: None), mesh=mesh)
    if not main_process:  # multi-host: every process holds the same (replicated) results; process 0 writes
        return
    text = kshot.kshot_tables(label, out, modes)
    print(text)
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(f"k-shot evaluation of `{args.dataset}` ({label}, {args.learners} learners × "
                              f"{args.episodes} episode(s), seed {args.seed}; mean ± std over learners)\n\n{text}\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, {
            "dataset": str(args.dataset), "dataset_meta": {a: b for a, b in meta.items() if a != "extra"},
            "dims": dims, "k": k, "inner_lr": float(ds.inner_lr), "label": label, "learners": args.learners,
            "episodes": args.episodes, "seed": args.seed, "modes": modes, "machine": machine_info(), **out})


if __name__ == "__main__":
    cli.run_main(main)
