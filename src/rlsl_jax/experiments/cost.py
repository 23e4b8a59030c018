"""Figure 5 of the paper, measured on this code: the time to obtain n trained agents by direct PPO versus
distilling a dataset once and then training n fresh learners on it (one SGD step each).

    python -m rlsl_jax.experiments.cost --dims 1 --k 2 --meta-epochs 1000 --ppo-steps 500000 --out experiments/cost

Measures (wall time, compile excluded and reported separately, after ``block_until_ready``):
  * PPO: n agents trained together (seeds vmapped) for --ppo-steps env steps each, n in --ppo-agents;
    the final policies' mean return (sampled actions) is the quality they buy;
  * distillation: ONE PPMO run (P, k, --meta-epochs) on the same env;
  * training n learners on the distilled dataset: ONE SGD step each, vmapped, for n in --learners
    (sampling Λ included), and the mean return of 1000 such learners.
The break-even n solves  distil + n · t_learner = n · t_PPO,  t_PPO the per-agent PPO time at the
largest n measured (the cheapest per agent here).

Writes to --out: RESULTS.md (the generated part between markers; other text kept), cost.json, cost.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlsl_jax import cli
from rlsl_jax.logs import write_json
from rlsl_jax.report import machine_string, utc_now, write_marked_block


def ints(s: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in s.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from None
    if not out:
        raise argparse.ArgumentTypeError("empty list")
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.cost", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dims", type=int, default=1, help="N of N-D cart-pole")
    p.add_argument("--k", type=int, default=2, help="dataset size to distil")
    p.add_argument("--population", type=int, default=1, help="PPMO population P")
    p.add_argument("--meta-epochs", type=int, default=1000, help="PPMO meta-epochs for the one distillation")
    p.add_argument("--ppo-steps", type=int, default=500_000, help="env steps per PPO agent")
    p.add_argument("--ppo-agents", type=ints, default=(1, 2, 4, 8), help="numbers of PPO agents to time (vmapped)")
    p.add_argument("--learners", type=ints, default=(1, 10, 100, 1000, 10_000),
                   help="numbers of learners to time training on the dataset")
    p.add_argument("--eval-learners", type=int, default=1000, help="learners scoring the distilled dataset")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--out", type=Path, default=Path("experiments/cost"), help="output directory")
    cli.add_parallel_args(p, what="the PPMO population and its envs, the k-shot learners and the PPO agents")
    cli.add_cache_args(p)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    mesh = cli.setup_parallel(args, {"--population": max(args.population, 1)})  # multi-host: before any JAX use
    main_process = cli.is_main_process()
    cli.check_positive(args, ("dims", "k", "population", "meta_epochs", "ppo_steps", "eval_learners"))
    if min(args.ppo_agents) < 1 or min(args.learners) < 1:
        raise cli.UsageError("--ppo-agents and --learners must be >= 1")
    cli.check_writable(args.out)
    cli.enable_compile_cache(args)
    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.distill.ppmo import PPMOConfig
    from rlsl_jax.studies import cost

    configure_cpu()  # OpenBLAS to one thread: jax's CPU QR (learner sampling) is far faster so
    env, params, learner = cost.make_task(args.dims)
    args.out.mkdir(parents=True, exist_ok=True)
    ppo_rows = []  # 1. direct PPO, n agents at once
    for n in args.ppo_agents:
        ppo_rows.append(p := cost.time_ppo(env, params, n, args.ppo_steps, args.seed, mesh))
        print(f"PPO x{n}: {p['train_s']:.1f}s (+{p['compile_s']:.1f}s compile), return {p['return']:.1f}", flush=True)
    d, dataset = cost.distil_once(env, params, learner, PPMOConfig(k=args.k, population=args.population),
                                  meta_epochs=args.meta_epochs, seed=args.seed, eval_learners=args.eval_learners,
                                  mesh=mesh)  # 2. one distillation
    print(f"distil k={args.k}: {d['train_s']:.1f}s (+{d['compile_s']:.1f}s compile), {args.eval_learners}-learner "
          f"return {d['return']:.1f} ± {d['return_std']:.1f}", flush=True)
    learn = cost.time_learners(dataset, learner, args.learners, args.seed)  # 3. n learners trained on the dataset
    for n, t in learn.items():
        print(f"train {n} learners on the dataset: {1000 * t:.2f} ms", flush=True)
    result = {"dims": args.dims, "k": args.k, "population": args.population, "meta_epochs": args.meta_epochs,
              "ppo_steps": args.ppo_steps, **cost.summarize(ppo_rows, d, learn), "machine": machine_string(),
              "date": utc_now()}
    if not main_process:
        return
    write_json(args.out / "cost.json", result)
    write_marked_block(args.out / "RESULTS.md", cost.report_markdown(result), cost.BEGIN, cost.END, cost.TITLE)
    cost.report_plot(args.out / "cost.png", result)
    print(f"break-even: {result['break_even_n']:.1f} agents (compile excluded), "
          f"{result['break_even_n_with_compile']:.1f} with the distillation's compile; wrote {args.out / 'RESULTS.md'}")


if __name__ == "__main__":
    cli.run_main(main)
