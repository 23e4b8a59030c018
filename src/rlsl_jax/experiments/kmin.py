"""The minimum distillation size k_min on N-D cart-pole (paper Section 4.2), with direct PPO as the ceiling.

    python -m rlsl_jax.experiments.kmin --dims 1..5 --seeds 3 --out experiments/kmin

For every N in --dims and every k in 1 .. N + 2 and 512 (or --ks), distil --seeds independent
datasets with PPMO (seeds vmapped in one jitted call, --meta-epochs meta-epochs, population P),
score each with --learners fresh Λ learners (one SGD step each, sampled actions; greedy too) and
record the cost (meta-epochs, wall time, env steps). For every N, direct PPO (--ppo-seeds agents,
--ppo-steps env steps) gives the ceiling and its cost. The paper claims k_min = ceil(c/2) + 1 = N + 1
and that k = N fails.

Writes to --out (cells are appended as they finish; --resume skips the ones already there):
  cells.jsonl     one line per (N, k): per-seed k-shot means/stds, training curve, cost, config
  ppo.jsonl       one line per N: the direct-PPO ceiling and its cost
  datasets/       N{N}_k{k}_s{i}.npz, the distilled datasets (x, y, inner_lr, dims, k)
  RESULTS.md      the generated tables between the markers below; text outside them is kept
  kmin.png        k-shot return vs k, one panel per N (error bars: std over seeds)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlsl_jax import cli
from rlsl_jax.config import add_config_args, config_from_args
from rlsl_jax.cpu import configure_cpu
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.logs import append_jsonl
from rlsl_jax.report import machine_string, utc_now, write_marked_block


def int_list(s: str) -> tuple[int, ...]:
    out: list[int] = []  # '1..5' -> (1, 2, 3, 4, 5); '1,3,512' -> (1, 3, 512); '2..4,512' works too
    try:
        for part in filter(None, (p.strip() for p in s.split(","))):
            lo, _, hi = part.partition("..")
            if hi and int(hi) < int(lo):
                raise ValueError
            out.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like '1..5' or '1,2,512', got {s!r}") from None
    if not out:
        raise argparse.ArgumentTypeError(f"empty list {s!r}")
    return tuple(out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.kmin", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dims", type=int_list, default=(1, 2, 3, 4, 5), help="cart-pole dimensions N, e.g. 1..5")
    p.add_argument("--ks", type=int_list, default=None,
                   help="dataset sizes to try for every N (default: 1 .. N+2 and 512)")
    p.add_argument("--seeds", type=int, default=3, help="independent distillations per (N, k), vmapped")
    p.add_argument("--seed", type=int, default=0, help="base random seed")
    p.add_argument("--meta-epochs", type=int_list, default=(2000,),
                   help="meta-epochs per distillation: one value for every N, or one per N in --dims")
    p.add_argument("--learners", type=int, default=1000, help="fresh learners scoring each dataset")
    p.add_argument("--ppo-steps", type=int_list, default=(500_000,),
                   help="env steps per direct-PPO agent: one value, or one per N (0 = skip the ceiling)")
    p.add_argument("--ppo-seeds", type=int, default=4, help="direct-PPO agents per N (vmapped)")
    p.add_argument("--chunk", type=int, default=100, help="meta-epochs per jitted chunk")
    p.add_argument("--out", type=Path, default=Path("experiments/kmin"), help="output directory")
    p.add_argument("--resume", action="store_true",
                   help="keep cells.jsonl/ppo.jsonl in --out and run only the missing cells")
    p.add_argument("--report-only", action="store_true", help="only regenerate RESULTS.md and kmin.png from --out")
    p.add_argument("--no-progress", action="store_true", help="no per-cell progress lines")
    add_config_args(p, PPMOConfig, skip=("k",))
    cli.add_parallel_args(p, what="the PPMO population and its envs, the k-shot learners and the PPO agents")
    cli.add_cache_args(p)
    return p


def per_dim(values: tuple[int, ...], dims: tuple[int, ...], flag: str) -> dict[int, int]:
    if len(values) not in (1, len(dims)):
        raise cli.UsageError(f"{flag} takes one value or one per N ({len(dims)} for --dims "
                             f"{','.join(map(str, dims))}); got {len(values)}")
    return dict(zip(dims, values * len(dims) if len(values) == 1 else values))


def validate(args) -> tuple[dict[int, int], dict[int, int]]:  # -> meta-epochs and PPO steps per N
    for flag, values, lo in (("dims", args.dims, 1), ("ks", args.ks or (), 1), ("meta-epochs", args.meta_epochs, 1),
                             ("ppo-steps", args.ppo_steps, 0)):
        if any(v < lo for v in values):
            raise cli.UsageError(f"--{flag} must be >= {lo} (got {','.join(map(str, values))})")
    cli.check_positive(args, ("seeds", "learners", "ppo_seeds", "chunk", "population", "num_envs", "rollout_steps",
                              "update_epochs", "minibatch_size"))
    if not args.init_inner_lr > 0:
        raise cli.UsageError(f"--init-inner-lr must be > 0 (got {args.init_inner_lr})")
    cli.check_writable(args.out)
    has_cells = (args.out / "cells.jsonl").exists() or (args.out / "ppo.jsonl").exists()
    if (args.report_only or args.resume) and not has_cells:  # --resume: a k_min study must be there
        raise cli.UsageError(f"--{'report-only' if args.report_only else 'resume'}: no cells.jsonl or ppo.jsonl in "
                             f"{args.out}" + ("" if args.report_only else "; start the study without --resume"))
    if has_cells and not (args.resume or args.report_only):
        raise cli.UsageError(f"{args.out} already holds results (cells.jsonl/ppo.jsonl); pass --resume to add the "
                             f"missing cells or choose another --out (nothing was overwritten)")
    return per_dim(args.meta_epochs, args.dims, "--meta-epochs"), per_dim(args.ppo_steps, args.dims, "--ppo-steps")


def write_report(out: Path, dims: tuple[int, ...]) -> None:
    from rlsl_jax.studies import kmin

    write_marked_block(out / "RESULTS.md", kmin.report_markdown(out, dims), kmin.BEGIN, kmin.END, kmin.TITLE)
    kmin.report_plot(out, dims)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    mesh = cli.setup_parallel(args, {"--population": max(args.population, 1), "--ppo-seeds": max(args.ppo_seeds, 1)})
    main_process = cli.is_main_process()
    meta_epochs, ppo_steps = validate(args)
    if not args.report_only:
        run_cells(args, mesh, main_process, meta_epochs, ppo_steps)
    if main_process:
        write_report(args.out, tuple(args.dims))
        print(f"wrote {args.out / 'RESULTS.md'} and {args.out / 'kmin.png'}")


def run_cells(args, mesh, main_process: bool, meta_epochs: dict, ppo_steps: dict) -> None:  # the missing cells
    try:
        base_cfg = config_from_args(PPMOConfig, args, k=1)
    except ValueError as e:
        raise cli.UsageError(str(e)) from e
    cli.enable_compile_cache(args)
    from rlsl_jax.studies import kmin

    configure_cpu()  # OpenBLAS to one thread: jax's CPU QR (learner sampling) is far faster so
    for kind, rec in kmin.run_study(
            args.out, base_cfg, dims=args.dims, ks=args.ks, seeds=args.seeds, seed=args.seed, meta_epochs=meta_epochs,
            learners=args.learners, ppo_steps=ppo_steps, ppo_seeds=args.ppo_seeds, chunk=args.chunk,
            progress=not args.no_progress and main_process, mesh=mesh, write=main_process):
        if not main_process:
            continue
        rec.update(machine=machine_string(), date=utc_now())
        append_jsonl(args.out / ("ppo.jsonl" if kind == "ppo" else "cells.jsonl"), rec)
        if kind == "ppo":
            print(f"N={rec['N']} direct PPO ({args.ppo_seeds} seeds, {rec['env_steps_per_seed']:,} steps): sampled "
                  f"{rec['sampled']['mean']:.1f} ± {rec['sampled']['std']:.1f}, greedy {rec['greedy']['mean']:.1f} "
                  f"in {rec['train_s']:.0f}s (+{rec['compile_s']:.0f}s compile)", flush=True)
            continue
        (m, s), g = kmin.seed_stats(rec["sampled_mean"]), kmin.seed_stats(rec["greedy_mean"])[0]
        print(f"N={rec['N']} k={rec['k']}: {args.seeds} seeds x {rec['meta_epochs']} meta-epochs: sampled {m:.1f} ± "
              f"{s:.1f} (per seed {rec['sampled_mean']}), greedy {g:.1f}; {rec['train_s']:.0f}s + "
              f"{rec['compile_s']:.0f}s compile", flush=True)
        write_report(args.out, tuple(args.dims))


if __name__ == "__main__":
    cli.run_main(main)
