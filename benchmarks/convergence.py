"""Time to solve N-D cart-pole with PPMO under different η (inner learning rate) settings.

    PYTHONPATH=src python benchmarks/convergence.py --dims 1 --seeds 0-4 --variants paper log3e-2 \\
        --out experiments/convergence/runs.json
    PYTHONPATH=src python benchmarks/convergence.py --dims 3 --seeds 0-2 --variants log3e-2 \\
        --eval-learners 200 --confirm-learners 1000 --out experiments/convergence/runs.json
    PYTHONPATH=src python benchmarks/convergence.py --table experiments/convergence/runs.json
    PYTHONPATH=src python benchmarks/convergence.py --mujoco --variants paper log3e-2 --budget 300 \\
        --out experiments/convergence/hopper.json                     # envpool Hopper-v4: η only

For each variant × N × seed: distil N-D cart-pole at k = N + 1 (learner Λ = ``cartpole_learner(4N,
2N)``; PPOConfig/PPMOConfig defaults = the paper's Appendix A, overridden by the variant) in jitted
chunks of ``--check-every`` meta-epochs; after each chunk score the current dataset with
``evaluate`` (``--eval-learners`` fresh learners, one SGD step each, one episode each, sampled
actions; the same learners at every check of a run) and stop at the first check whose mean is
>= ``--target`` (490) or at ``--budget`` meta-epochs / ``--budget-s`` seconds of training.

Recorded per run: meta-epochs, training wall seconds and process CPU seconds (``time.process_time``,
all threads) to the target — the chunks only: compilation (once per variant × N, reported apart)
and the periodic checks are not counted — η after every ``--eta-every`` meta-epochs (and its minimum
and the meta-epochs it spent at the paper's 1e-4 floor), every check (k-shot mean, training return, η),
and with ``--confirm-learners`` a score of the stopping dataset over that many other learners.
Seeds use the CLI's keys (``init key, epoch key = split(key(seed))``), so a run here is the run of
``python -m rlsl_jax.experiments.cartpole --seed S`` with the same settings.

A variant is a preset name (``VARIANTS``) or ``label:field=value,field=value`` with PPMOConfig
fields, e.g. ``myrun:inner_lr_param=log,inner_lr_lr=0.05,population=4``. ``--out`` merges runs into
a JSON file (a run with the same variant, N, seed and check size replaces the old one), so a study
can be run in pieces; ``--table`` prints the summary tables of such a file (markdown).

``--mujoco``: PPMO on envpool Hopper-v4 (the MuJoCo CLI's settings: k = 64, ε = 0.1, 16 envs × 128
steps, minibatch 512, no entropy bonus, observation normalisation and reward scaling), one run per
variant × seed for ``--budget`` meta-epochs, recording η and the raw training return per
meta-epoch (no k-shot checks).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import platform
import sys
import time
import typing
from pathlib import Path

# Preset variants: PPMOConfig overrides. "paper" is the paper's optimiser (η raw, clamped at 1e-4,
# Adam 2.5e-4 like X and Y), independent of PPMOConfig's current defaults.
PAPER = {"inner_lr_param": "clamp", "inner_lr_lr": 0.0, "init_inner_lr": 0.02, "min_inner_lr": 1e-4, "population": 1}
VARIANTS: dict[str, dict] = {
    "default": {},  # PPMOConfig's current defaults (X and Y at the paper's Adam 2.5e-4)
    "cli": {"lr": 5e-4},  # the cartpole CLI's defaults (rlsl_jax.tasks.cartpole.PRESETS["ours"])
    "paper": PAPER,
    # η's own Adam rate, raw η (additive steps) above the 1e-4 floor
    "clamp1e-2": {**PAPER, "inner_lr_lr": 1e-2},
    "clamp3e-2": {**PAPER, "inner_lr_lr": 3e-2},
    "clamp1e-2-floor1e-2": {**PAPER, "inner_lr_lr": 1e-2, "min_inner_lr": 1e-2},
    "clamp1e-2-floor2e-2": {**PAPER, "inner_lr_lr": 1e-2, "min_inner_lr": 2e-2},
    # Adam on log η (multiplicative steps) at its own rate, floor 1e-4 (or none / 1e-2)
    "log2.5e-4": {**PAPER, "inner_lr_param": "log"},
    "log1e-2": {**PAPER, "inner_lr_param": "log", "inner_lr_lr": 1e-2},
    "log3e-2": {**PAPER, "inner_lr_param": "log", "inner_lr_lr": 3e-2},
    "log1e-1": {**PAPER, "inner_lr_param": "log", "inner_lr_lr": 1e-1},
    "log3e-2-nofloor": {**PAPER, "inner_lr_param": "log", "inner_lr_lr": 3e-2, "min_inner_lr": 0.0},
    "log1e-2-floor1e-2": {**PAPER, "inner_lr_param": "log", "inner_lr_lr": 1e-2, "min_inner_lr": 1e-2},
    # a larger initial η
    "paper-init1": {**PAPER, "init_inner_lr": 1.0},
    "log1e-2-init1": {**PAPER, "inner_lr_param": "log", "inner_lr_lr": 1e-2, "init_inner_lr": 1.0},
    # P = 4 learners per meta-epoch at the SAME env steps per meta-epoch (P·E·T = 4·10·50 = 2000) and the
    # same 16 Adam updates per meta-epoch (4 minibatches of 4 × 125 transitions, 4 epochs)
    "paper-P4": {**PAPER, "population": 4, "rollout_steps": 50, "minibatch_size": 128},
    "clamp1e-2-P4": {**PAPER, "inner_lr_lr": 1e-2, "population": 4, "rollout_steps": 50, "minibatch_size": 128},
    "clamp1e-2-floor1e-2-P4": {**PAPER, "inner_lr_lr": 1e-2, "min_inner_lr": 1e-2, "population": 4, "rollout_steps": 50,
                               "minibatch_size": 128},
    "log1e-2-P4": {**PAPER, "inner_lr_param": "log", "inner_lr_lr": 1e-2, "population": 4, "rollout_steps": 50,
                   "minibatch_size": 128},
}


def parse_variant(spec: str) -> tuple[str, dict]:
    """(label, PPMOConfig overrides) of a preset name or ``label:field=value,...``."""
    from rlsl_jax.distill import PPMOConfig

    if ":" not in spec:
        if spec not in VARIANTS:
            raise SystemExit(f"unknown variant {spec!r}; presets: {', '.join(VARIANTS)} (or label:field=value,...)")
        return spec, dict(VARIANTS[spec])
    label, body = spec.split(":", 1)
    hints = typing.get_type_hints(PPMOConfig)
    base, kw = PAPER, {}
    for item in filter(None, body.split(",")):
        name, _, value = item.partition("=")
        if name == "base":
            base = dict(VARIANTS[value])
            continue
        if name not in hints:
            raise SystemExit(f"variant {label!r}: PPMOConfig has no field {name!r}")
        kw[name] = hints[name](value) if hints[name] is not bool else value.lower() in ("1", "true", "yes")
    return label, {**base, **kw}


def parse_ints(s: str) -> list[int]:
    out: list[int] = []
    for part in s.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b) + 1) if b else [int(a)])
    return out


def machine() -> dict:
    import os

    import jax

    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "backend": jax.default_backend(), "jax": jax.__version__,
            "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes")}


def timed_chunk(chunk, state, keys) -> tuple:
    """Runs one chunk of meta-epochs -> (state, metrics on the host, wall s, process CPU s of the chunk)."""
    import jax

    w0, c0 = time.perf_counter(), time.process_time()
    state, m = chunk(state, keys)
    jax.block_until_ready(state)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return state, jax.device_get(m), wall, cpu


# ------------------------------------------------------------------------------------------------
# cart-pole


def cartpole_runs(dims: int, seeds: list[int], label: str, overrides: dict, args) -> list[dict]:
    import jax
    import numpy as np

    from rlsl_jax.distill import PPMOConfig, epoch_keys, make_chunk, make_meta_step
    from rlsl_jax.envs import make
    from rlsl_jax.evaluate import evaluate
    from rlsl_jax.networks import cartpole_learner

    env, params = make("NDCartPole-v0", num_dims=dims)
    learner = cartpole_learner(4 * dims, 2 * dims)
    cfg = PPMOConfig(**{"k": dims + 1, **overrides})
    init, meta_step = make_meta_step(cfg, env, params, learner)
    M = args.check_every or (25 if dims == 1 else 50)
    budget = args.budget or {1: 1500, 2: 2000}.get(dims, 3000)
    chunk = make_chunk(meta_step)
    compiled, compile_s = None, 0.0
    out = []
    for seed in seeds:
        k_init, k_epochs = jax.random.split(jax.random.key(seed))  # = runner.seed_keys(seed)
        state = init(k_init)
        if compiled is None:
            t0 = time.perf_counter()
            compiled = chunk.lower(state, epoch_keys(k_epochs, 0, M)).compile()
            compile_s = time.perf_counter() - t0
        eval_key = jax.random.key(seed + 1_000_003)
        wall = cpu = eval_s = 0.0
        epoch, solved = 0, False
        eta, checks = [], []
        while epoch < budget and wall < args.budget_s and cpu < args.budget_cpu_s:
            state, m, w, c = timed_chunk(compiled, state, epoch_keys(k_epochs, epoch, M))
            wall, cpu, epoch = wall + w, cpu + c, epoch + M
            eta.extend(float(v) for v in m["inner_lr"])
            w0 = time.perf_counter()
            r = evaluate(eval_key, state.dataset, env, params, learner, num_learners=args.eval_learners)
            eval_s += time.perf_counter() - w0
            checks.append({"meta_epoch": epoch, "mean": round(r["mean"], 1), "std": round(r["std"], 1),
                           "train_return": round(float(np.nanmean(m["episode_return"])), 1),
                           "inner_lr": float(m["inner_lr"][-1]), "meta_grad_norm": float(np.mean(m["meta_grad_norm"])),
                           "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)})
            if args.verbose:
                print(f"  {label} N={dims} s{seed} {epoch:5d}: k-shot {r['mean']:6.1f}  train "
                      f"{checks[-1]['train_return']:6.1f}  η {eta[-1]:.4g}  ({wall:.1f}s)", file=sys.stderr)
            if r["mean"] >= args.target:
                solved = True
                break
        run = {"kind": "cartpole", "variant": label, "overrides": overrides, "dims": dims, "k": cfg.k, "seed": seed,
               "check_every": M, "eval_learners": args.eval_learners, "budget": budget, "target": args.target,
               "solved": solved, "meta_epochs": epoch, "train_wall_s": round(wall, 2), "train_cpu_s": round(cpu, 2),
               "compile_s": round(compile_s, 2), "eval_wall_s": round(eval_s, 2), "final_score": checks[-1]["mean"],
               "final_inner_lr": eta[-1], "min_inner_lr": min(eta),
               "meta_epochs_at_floor": int(sum(v <= 1.0001e-4 for v in eta)),
               "inner_lr_every": args.eta_every,
               "inner_lr": [float(f"{v:.4g}") for v in eta[args.eta_every - 1::args.eta_every]], "checks": checks}
        if args.confirm_learners:
            r = evaluate(jax.random.key(seed + 2_000_003), state.dataset, env, params, learner,
                         num_learners=args.confirm_learners)
            run["confirm"] = {"mean": round(r["mean"], 1), "std": round(r["std"], 1), "n": r["n"]}
        out.append(run)
        c = run.get("confirm")
        print(f"{label:>14} N={dims} seed {seed}: {'solved' if solved else 'NOT solved'} at {epoch} meta-epochs, "
              f"{wall:.1f} s wall / {cpu:.1f} s CPU (+{compile_s:.1f} s compile), score {run['final_score']:.1f}"
              + (f", {c['n']}-learner {c['mean']:.1f} ± {c['std']:.1f}" if c else "")
              + f", η {eta[-1]:.3g} (min {min(eta):.2g}, {run['meta_epochs_at_floor']} at 1e-4)", flush=True)
    return out


# ------------------------------------------------------------------------------------------------
# MuJoCo (envpool Hopper-v4): η over a fixed budget


def mujoco_runs(seeds: list[int], label: str, overrides: dict, args) -> list[dict]:
    import math

    import jax
    import numpy as np

    from rlsl_jax.distill import PPMOConfig, epoch_keys, make_chunk, make_meta_step
    from rlsl_jax.envs import make
    from rlsl_jax.envs.envpool_bridge import drain_scores
    from rlsl_jax.networks.gaussian import mujoco_learner
    from rlsl_jax.rl.normalize import NormalizedEnv

    # the MuJoCo CLI's settings (tasks.mujoco.PRESETS["ours"]), the variant's η handling
    settings = {"k": 64, "clip_eps": 0.1, "num_envs": 16, "rollout_steps": 128, "minibatch_size": 512,
                "ent_coef": 0.0, **overrides}
    cfg = PPMOConfig(**settings)
    M = args.check_every or 10
    out = []
    for seed in seeds:
        benv, _ = make("envpool/Hopper-v4", num_envs=cfg.population * cfg.num_envs, seed=seed)
        nenv = NormalizedEnv(benv, gamma=cfg.gamma, norm_obs=True, scale_reward=True)
        learner = mujoco_learner(math.prod(benv.observation_space().shape), math.prod(benv.action_space().shape))
        init, ppmo_step = make_meta_step(cfg, None, None, learner, benv=nenv)

        def step(state, key):  # raw returns from envpool's own counters (as the MuJoCo CLI)
            state, m = ppmo_step(state, key)
            pool, e = drain_scores(state.carry.env_state.env_state)
            env_state = state.carry.env_state.replace(env_state=pool)
            return state.replace(carry=state.carry.replace(env_state=env_state)), {
                "inner_lr": m["inner_lr"], "episode_return": e["score"]}

        chunk = make_chunk(jax.jit(step))
        k_init, k_epochs = jax.random.split(jax.random.key(seed))
        state = init(k_init)
        eta, ret = [], []
        wall = cpu = 0.0
        epoch = 0
        while epoch < args.budget:
            state, m, w, c = timed_chunk(chunk, state, epoch_keys(k_epochs, epoch, M))
            wall, cpu, epoch = wall + w, cpu + c, epoch + M
            eta.extend(float(v) for v in m["inner_lr"])
            ret.extend(float(v) for v in m["episode_return"])
            if args.verbose:
                print(f"  {label} hopper s{seed} {epoch:4d}: η {eta[-1]:.4g}  return {np.nanmean(ret[-M:]):.0f} "
                      f"({wall:.0f}s)", file=sys.stderr)
        floor = [i for i, v in enumerate(eta) if v <= 1.0001e-4]
        run = {"kind": "mujoco", "env": "envpool/Hopper-v4", "variant": label, "overrides": overrides, "seed": seed,
               "dims": 0, "check_every": M, "meta_epochs": epoch, "wall_s_incl_compile": round(wall, 1),
               "cpu_s_incl_compile": round(cpu, 1), "final_inner_lr": eta[-1], "min_inner_lr": min(eta),
               "meta_epochs_at_floor": len(floor), "last_floor_epoch": (floor[-1] + 1) if floor else None,
               "inner_lr_every": args.eta_every,
               "inner_lr": [float(f"{v:.4g}") for v in eta[args.eta_every - 1::args.eta_every]],
               "episode_return": [None if math.isnan(v) else round(v, 1) for v in ret]}
        out.append(run)
        tail = np.nanmean(ret[-50:]) if not all(math.isnan(v) for v in ret[-50:]) else float("nan")
        print(f"{label:>14} Hopper-v4 seed {seed}: {epoch} meta-epochs in {wall:.0f} s, η {eta[0]:.3g} -> "
              f"{eta[-1]:.3g} (min {min(eta):.2g}; {len(floor)} meta-epochs at 1e-4), raw return of the last 50 "
              f"{tail:.0f}", flush=True)
    return out


# ------------------------------------------------------------------------------------------------
# results file and tables


def merge(path: Path, runs: list[dict], meta: dict) -> None:
    data = json.loads(path.read_text()) if path.exists() else {"runs": [], "machines": []}
    key = lambda r: (r["kind"], r["variant"], r["dims"], r["seed"], r.get("check_every"))  # noqa: E731
    new = {key(r) for r in runs}
    data["runs"] = [r for r in data["runs"] if key(r) not in new] + runs
    data["machines"].append(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    runs_text = ",\n".join(json.dumps(r, separators=(",", ":")) for r in data["runs"])  # one run per line
    path.write_text('{"machines": ' + json.dumps(data["machines"]) + ',\n"runs": [\n' + runs_text + "\n]}\n")


def table(path: Path) -> str:
    import numpy as np

    runs = [r for r in json.loads(path.read_text())["runs"] if r["kind"] == "cartpole"]
    order = list(dict.fromkeys(r["variant"] for r in runs))
    lines = ["| variant | N | k | seed | solved | meta-epochs | train wall s | train CPU s | score (check) "
             "| confirm | final η | min η | meta-epochs at η = 1e-4 |", "|" + "---|" * 13]
    for v in order:
        for r in sorted((r for r in runs if r["variant"] == v), key=lambda r: (r["dims"], r["seed"])):
            c = r.get("confirm")
            conf = f"{c['mean']:.1f} ± {c['std']:.1f} ({c['n']})" if c else "–"
            lines.append(f"| {v} | {r['dims']} | {r['k']} | {r['seed']} | {'yes' if r['solved'] else '**no**'} | "
                         f"{r['meta_epochs']}{'' if r['solved'] else '+'} | {r['train_wall_s']:.1f} | "
                         f"{r['train_cpu_s']:.1f} | {r['final_score']:.1f} | "
                         f"{conf} | "
                         f"{r['final_inner_lr']:.3g} | {r['min_inner_lr']:.2g} | {r['meta_epochs_at_floor']} |")
    lines += ["", "| variant | N | seeds solved | meta-epochs (median, max) | train wall s (median, max) | "
              "train CPU s (median, max) | compile s |", "|" + "---|" * 7]
    for v in order:
        for n in sorted({r["dims"] for r in runs if r["variant"] == v}):
            rs = [r for r in runs if r["variant"] == v and r["dims"] == n]
            ep, w, c = ([r[f] for r in rs] for f in ("meta_epochs", "train_wall_s", "train_cpu_s"))
            unsolved = "" if all(r["solved"] for r in rs) else " (unsolved count as budget, ≥)"
            lines.append(f"| {v} | {n} | {sum(r['solved'] for r in rs)}/{len(rs)}{unsolved} | "
                         f"{np.median(ep):.0f}, {max(ep)} | {np.median(w):.1f}, {max(w):.1f} | "
                         f"{np.median(c):.1f}, {max(c):.1f} | {rs[0]['compile_s']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dims", default="1", help="comma-separated N (cart-pole), e.g. 1,2")
    p.add_argument("--seeds", default="0-4", help="seeds, e.g. 0-4 or 0,2,5")
    p.add_argument("--variants", nargs="+", default=["paper", "log3e-2"],
                   help=f"variants (space-separated): presets {', '.join(VARIANTS)}, or label:field=value,... "
                        "(PPMOConfig fields on top of the paper's settings; base=PRESET starts from a preset)")
    p.add_argument("--check-every", type=int, default=0, help="meta-epochs between k-shot checks (0: 25 at N=1, "
                                                                 "50 above; MuJoCo: chunk size, 10)")
    p.add_argument("--budget", type=int, default=0, help="max meta-epochs per run (0: 1500 / 2000 / 3000 for "
                                                         "N = 1 / 2 / >= 3)")
    p.add_argument("--budget-s", type=float, default=float("inf"), help="max training wall seconds per run")
    p.add_argument("--budget-cpu-s", type=float, default=float("inf"),
                   help="max training process-CPU seconds per run (steadier than wall time on a shared machine)")
    p.add_argument("--target", type=float, default=490.0, help="k-shot mean that counts as solved")
    p.add_argument("--eval-learners", type=int, default=200, help="fresh learners per periodic check")
    p.add_argument("--confirm-learners", type=int, default=0,
                   help="score the stopping dataset once more over this many other learners (0 = no)")
    p.add_argument("--eta-every", type=int, default=5,
                   help="store η after every this many meta-epochs (its minimum is stored too)")
    p.add_argument("--mujoco", action="store_true", help="envpool Hopper-v4 η trajectories instead of cart-pole")
    p.add_argument("--out", type=Path, default=None, help="JSON file to merge the runs into")
    p.add_argument("--table", type=Path, default=None, help="print the tables of a results JSON and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per check on stderr")
    args = p.parse_args(argv)
    if args.table is not None:
        print(table(args.table))
        return

    from rlsl_jax.cpu import configure_cpu

    configure_cpu(1)
    meta = {**machine(), "argv": sys.argv[1:] if argv is None else list(argv)}
    runs = []
    for spec in args.variants:
        label, overrides = parse_variant(spec)
        if args.mujoco:
            runs += mujoco_runs(parse_ints(args.seeds), label, overrides, args)
        else:
            for n in parse_ints(args.dims):
                runs += cartpole_runs(n, parse_ints(args.seeds), label, overrides, args)
        if args.out is not None:  # after each variant, so an interrupted study keeps what it measured
            merge(args.out, runs, meta)
            runs = []
    if args.out is not None and runs:
        merge(args.out, runs, meta)


if __name__ == "__main__":
    main()
