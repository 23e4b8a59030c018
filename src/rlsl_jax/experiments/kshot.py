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
import datetime
import platform
import sys
import time
import zlib
from pathlib import Path

from rlsl_jax.experiments.common import (UsageError, add_parallel_args, is_main_process, run_main, setup_parallel,
                                         write_json)

CARTPOLE_ID = "NDCartPole-v0"
COLUMN_TITLES = {"ortho": "Λ (ortho)", "ortho-std1": "Ortho std=1", "xe": "Xe", "xe-std1": "Xe std=1",
                 "random-h": "Random h", "random-L": "Random L", "random-L-noact": "Random L, no act."}


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
    add_parallel_args(p, what="the learners of each jitted call")
    return p


def parse_modes(text: str) -> list[str]:
    from rlsl_jax.evaluate import MODES

    modes = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if not modes or bad:
        raise UsageError(f"--modes {text!r}: choose one or more of {', '.join(MODES)}")
    return list(dict.fromkeys(modes))


def validate(args) -> tuple[list[str], list[str]]:
    from rlsl_jax.networks.distributions import DIST_NAMES, parse_dist_names

    if not args.dataset.exists():
        raise UsageError(f"--dataset {args.dataset}: no such file or directory")
    if args.dims is not None and args.dims < 1:
        raise UsageError(f"--dims must be >= 1 (got {args.dims})")
    for name in ("learners", "episodes", "chunk"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be >= 1 (got {getattr(args, name)})")
    dist_text = args.dist if args.dist is not None else ("" if args.grid else "ortho")
    try:
        dists = parse_dist_names(dist_text, DIST_NAMES) if dist_text else []
    except ValueError as e:
        raise UsageError(f"--dist: {e}") from e
    return dists, parse_modes(args.modes)


def dist_key(seed: int, name: str):
    """A key per distribution from the seed and its name (so subsets reproduce full runs)."""
    import jax

    return jax.random.fold_in(jax.random.key(seed), zlib.crc32(name.encode()) & 0x7FFFFFFF)


def fmt(r: dict | None, digits: int = 1) -> str:
    if r is None:
        return "—"
    return f"{r['mean']:.{digits}f} ± {r['std']:.{digits}f}"


def dist_table(label: str, results: dict[str, dict], modes: list[str]) -> str:
    """Markdown: one row per mode, one column per distribution (the paper's Table 1 layout)."""
    names = list(results)
    lines = ["| dataset | actions | " + " | ".join(COLUMN_TITLES.get(n, n) for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for m in modes:
        lines.append(f"| {label} | {m} | " + " | ".join(fmt(results[n].get(m)) for n in names) + " |")
    return "\n".join(lines)


def grid_table(grid: dict[str, dict], mode: str, depths, widths) -> str:
    """Markdown: Table 6, rows L, columns h; L = 0 (a linear map) has one value for every h."""
    lines = [f"| L \\ h ({mode}) | " + " | ".join(str(w) for w in widths) + " |", "|---|" + "---|" * len(widths)]
    for d in depths:
        cells = [fmt(grid.get("L0" if d == 0 else f"L{d}-h{w}", {}).get(mode)) for w in widths]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def default_label(dims: int, k: int) -> str:
    return f"{dims}D {k}-shot"


def run_kshot(ds, env, env_params, dists: list[str], modes: list[str], learners: int, episodes: int, seed: int,
              chunk: int, grid: bool = False, log=None, mesh=None) -> dict:
    """Evaluates ``dists`` (and Table 6's grid) on ``ds``: {"results": {dist: {mode: summary}},
    "grid": {cell: {mode: summary}}, "wall_s": {...}}. With a device ``mesh`` every call's learners
    are sharded over its devices (same numbers as one device)."""
    from rlsl_jax.evaluate import evaluate_modes, expected_shapes
    from rlsl_jax.networks.distributions import GRID_DEPTHS, GRID_WIDTHS, grid_dists, make_learner_dist

    obs_shape, num_actions = expected_shapes(env, env_params)
    obs_dim = 1
    for d in obs_shape:
        obs_dim *= d
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    out: dict = {"results": {}, "wall_s": {}}

    def one(name, dist):
        t = time.time()
        r = evaluate_modes(dist_key(seed, name), ds, env, env_params, dist, learners, episodes, tuple(modes), chunk,
                           mesh)
        wall = time.time() - t
        log(f"  {name:>15s}: " + ", ".join(f"{m} {fmt(r[m])}" for m in modes) + f"  ({wall:.1f} s)")
        return r, wall

    for name in dists:
        out["results"][name], out["wall_s"][name] = one(name, make_learner_dist(name, obs_dim, num_actions))
    if grid:
        out["grid"] = {}
        for (d, w), dist in grid_dists(obs_dim, num_actions, GRID_DEPTHS, GRID_WIDTHS).items():
            out["grid"][dist.name], out["wall_s"][dist.name] = one(dist.name, dist)
    return out


def machine_info() -> dict:
    import os

    import jax

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"platform": platform.platform(), "processor": cpu,
            "cpu_count": os.cpu_count(), "jax": jax.__version__, "backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()],
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    dists, modes = validate(args)
    mesh = setup_parallel(args)
    main_process = is_main_process()

    import numpy as np

    from rlsl_jax.checkpoint import load_dataset
    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.envs import make
    from rlsl_jax.evaluate import check_dataset, dataset_dims
    from rlsl_jax.networks.distributions import GRID_DEPTHS, GRID_WIDTHS

    try:
        ds, meta = load_dataset(args.dataset)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from e
    recorded = dataset_dims(meta)
    dims = args.dims if args.dims is not None else recorded
    if dims is None:
        raise UsageError(f"--dims is required: {args.dataset} does not record its N (x {list(np.shape(ds.x))})")
    env, env_params = make(CARTPOLE_ID, num_dims=dims)
    if recorded is not None and recorded != dims:
        raise UsageError(f"{args.dataset} is a {recorded}-D dataset (x {list(np.shape(ds.x))}, y {list(np.shape(ds.y))}) "
                         f"but --dims {dims} needs x [k, {4 * dims}], y [k, {2 * dims}]")
    try:
        check_dataset(ds, env, env_params, source=str(args.dataset))
    except ValueError as e:
        raise UsageError(str(e)) from e

    configure_cpu()
    k = int(np.shape(ds.x)[0])
    label = args.label or default_label(dims, k)
    if main_process:
        print(f"{args.dataset}: {meta.get('source')} dataset, N={dims}, k={k}, inner_lr={float(ds.inner_lr):.4g}; "
              f"{args.learners} learners × {args.episodes} episode(s), seed {args.seed}", file=sys.stderr, flush=True)
    out = run_kshot(ds, env, env_params, dists, modes, args.learners, args.episodes, args.seed, args.chunk, args.grid,
                    log=None if main_process else (lambda s: None), mesh=mesh)
    if not main_process:  # multi-host: every process holds the same (replicated) results; process 0 writes
        return

    tables = []
    if dists:
        tables.append(dist_table(label, out["results"], modes))
    if args.grid:
        tables += [f"Table 6 grid, {label}:\n\n" + grid_table(out["grid"], m, GRID_DEPTHS, GRID_WIDTHS) for m in modes]
    text = "\n\n".join(tables)
    print(text)
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(f"k-shot evaluation of `{args.dataset}` ({label}, {args.learners} learners × "
                              f"{args.episodes} episode(s), seed {args.seed}; mean ± std over learners)\n\n{text}\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta_out = {k_: v for k_, v in meta.items() if k_ != "extra"}
        write_json(args.json, {
            "dataset": str(args.dataset), "dataset_meta": meta_out, "dims": dims, "k": k,
            "inner_lr": float(ds.inner_lr), "label": label, "learners": args.learners, "episodes": args.episodes,
            "seed": args.seed, "modes": modes, "machine": machine_info(), **out,
        })


if __name__ == "__main__":
    run_main(main)
