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
import json
import math
import sys
import time
from pathlib import Path

from rlsl_jax.config import add_config_args, config_from_args, config_to_dict
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.experiments.common import (UsageError, add_parallel_args, is_main_process, run_main, setup_parallel,
                                         write_json)
from rlsl_jax.experiments.kshot import COLUMN_TITLES, default_label, fmt, machine_info, run_kshot

CARTPOLE_ID = "NDCartPole-v0"

# Paper Table 1 (mean, std or None where the paper's std is not known to us). The Λ column is
# DESIGN.md section 4; the out-of-distribution cells known are 1-D 2-shot and 3-D 4-shot.
PAPER: dict[tuple[int, int], dict[str, tuple[float, float | None]]] = {
    (1, 2): {"ortho": (500, 0), "ortho-std1": (269, None), "xe": (202, None), "xe-std1": (278, None)},
    (1, 512): {"ortho": (500, 0)},
    (2, 3): {"ortho": (364, 151)},
    (2, 512): {"ortho": (339, 144)},
    (3, 4): {"ortho": (261, 118), "ortho-std1": (12.4, None), "xe": (41.7, None), "xe-std1": (43.3, None)},
    (3, 512): {"ortho": (245, 114)},
    (4, 5): {"ortho": (128, 40.8)},
    (4, 512): {"ortho": (129, 41.5)},
    (5, 6): {"ortho": (88.4, 29.5)},
    (5, 512): {"ortho": (85.4, 28.1)},
}
DEFAULT_META_EPOCHS = "1:1000,2:3000,3:4000,4:5000,5:6000"


def k_min(dims: int) -> int:
    """Eq. 3: ceil(c / 2) + 1 for c = 2N actions."""
    return math.ceil(2 * dims / 2) + 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlsl_jax.experiments.table1", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("experiments/table1"), help="output directory")
    p.add_argument("--dims", default="1,2,3,4,5", help="comma-separated N to run")
    p.add_argument("--ks", default="kmin,512", help="comma-separated k: integers or 'kmin' (= N + 1)")
    p.add_argument("--meta-epochs", default=DEFAULT_META_EPOCHS,
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
    add_parallel_args(p, what="the PPMO population, its envs and the k-shot learners")
    return p


def parse_int_list(text: str, flag: str) -> list[int]:
    try:
        vals = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"{flag} {text!r}: expected comma-separated integers") from None
    if not vals:
        raise UsageError(f"{flag}: no values given")
    return vals


def parse_meta_epochs(text: str, dims: list[int]) -> dict[int, int]:
    text = text.strip()
    try:
        if ":" not in text:
            return {d: int(text) for d in dims}
        pairs = dict((int(a), int(b)) for a, b in (s.split(":") for s in text.split(",") if s.strip()))
    except ValueError:
        raise UsageError(f"--meta-epochs {text!r}: expected an integer or N:E pairs like 1:1000,2:3000") from None
    missing = [d for d in dims if d not in pairs]
    if missing:
        raise UsageError(f"--meta-epochs {text!r} gives no count for N = {missing}")
    if any(v < 0 for v in pairs.values()):
        raise UsageError("--meta-epochs must be >= 0")
    return pairs


def parse_ks(text: str, dims: int) -> list[int]:
    out = []
    for s in (s.strip() for s in text.split(",") if s.strip()):
        if s == "kmin":
            out.append(k_min(dims))
        else:
            try:
                out.append(int(s))
            except ValueError:
                raise UsageError(f"--ks {text!r}: expected integers or 'kmin'") from None
    if not out or min(out) < 1:
        raise UsageError(f"--ks {text!r}: need k >= 1")
    return list(dict.fromkeys(out))


def slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def run_tag(dims: int, k: int, train_dist: str) -> str:
    return f"{dims}d_k{k}" + ("" if train_dist == "ortho" else f"_train-{slug(train_dist)}")


def validate(args):
    from rlsl_jax.networks.distributions import DIST_NAMES, FIXED_SHAPE_DISTS, MIXTURE_ALIASES, parse_dist_names

    dims = parse_int_list(args.dims, "--dims")
    if min(dims) < 1:
        raise UsageError(f"--dims must all be >= 1 (got {args.dims})")
    meta_epochs = parse_meta_epochs(args.meta_epochs, dims)
    ks = {d: parse_ks(args.ks, d) for d in dims}
    try:
        dists = parse_dist_names(args.dists, DIST_NAMES)
    except ValueError as e:
        raise UsageError(f"--dists: {e}") from e
    names = MIXTURE_ALIASES.get(args.train_dist) or [s.strip() for s in args.train_dist.split(",") if s.strip()]
    bad = [n for n in names if n not in FIXED_SHAPE_DISTS]
    if not names or bad:
        raise UsageError(f"--train-dist {args.train_dist!r}: choose from {', '.join(FIXED_SHAPE_DISTS)} "
                         f"(comma-separated for a mixture) or an alias {', '.join(MIXTURE_ALIASES)}")
    for name in ("learners", "episodes", "chunk", "checkpoint_every", "population", "num_envs", "rollout_steps",
                 "update_epochs", "minibatch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    from rlsl_jax.experiments.kshot import parse_modes

    modes = parse_modes(args.modes)
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} is a file")
    return dims, ks, meta_epochs, dists, modes


# ---------------------------------------------------------------------------------------------
# Distil, evaluate, plot
# ---------------------------------------------------------------------------------------------

def distil(run_dir: Path, dims: int, k: int, meta_epochs: int, cfg: PPMOConfig, train_dist: str, seed: int,
           chunk: int, checkpoint_every: int, progress: bool, mesh=None) -> dict:
    """Trains (or resumes) the run in ``run_dir`` up to ``meta_epochs``; returns its run info. With a
    device ``mesh`` the population is sharded over it; only process 0 writes files (multi-host)."""
    from rlsl_jax import checkpoint
    from rlsl_jax.distill import make_meta_step, runner
    from rlsl_jax.envs import make
    from rlsl_jax.networks.distributions import describe, make_train_dist

    env, env_params = make(CARTPOLE_ID, num_dims=dims)
    learner = make_train_dist(train_dist, 4 * dims, 2 * dims)
    info_path = run_dir / "run.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else None
    done = checkpoint.latest_step(run_dir / "checkpoints")
    if info is not None and (info["config"] != config_to_dict(cfg) or info["seed"] != seed
                             or info["train_dist"] != train_dist):
        raise UsageError(f"{run_dir} holds a run with another config/seed/train-dist; use another --out")
    if done is not None and done >= meta_epochs:
        print(f"[{run_dir.name}] already trained to meta-epoch {done}", file=sys.stderr, flush=True)
        return info
    run_dir.mkdir(parents=True, exist_ok=True)
    info = {"env_id": CARTPOLE_ID, "env_kwargs": {"num_dims": dims}, "k": k, "seed": seed, "train_dist": train_dist,
            "train_dist_description": describe(learner), "config": config_to_dict(cfg),
            "train_wall_s": (info or {}).get("train_wall_s", 0.0)}
    main_process = is_main_process()
    if main_process:
        write_json(info_path, info)
    metadata = {"env_id": CARTPOLE_ID, "env_kwargs": {"num_dims": dims}, "k": k, "obs_shape": [4 * dims],
                "num_actions": 2 * dims, "learner": {"name": getattr(learner, "name", train_dist),
                                                     "description": describe(learner)},
                "seed": seed, "config": config_to_dict(cfg), "method": "ppmo"}
    print(f"[{run_dir.name}] distilling N={dims} k={k} against {train_dist} to meta-epoch {meta_epochs} "
          f"(from {done or 0})", file=sys.stderr, flush=True)
    init, meta_step = make_meta_step(cfg, env, env_params, learner, mesh=mesh)
    state, rinfo = runner.run(init, meta_step, out_dir=run_dir, meta_epochs=meta_epochs, seed=seed,
                              metadata=metadata, resume=True, chunk=chunk, checkpoint_every=checkpoint_every,
                              progress=progress)
    info["train_wall_s"] = round(float(info["train_wall_s"]) + rinfo["wall_s"], 2)
    info["meta_epochs"] = int(state.meta_epoch)
    if main_process:
        write_json(info_path, info)
        checkpoint.export_npz(run_dir / "checkpoints", run_dir / "dataset.npz")
    return info


def run_dataset(run_dir: Path, env, env_params):
    """(dataset, meta-epoch) of a run: its newest orbax checkpoint, or, where the checkpoints are
    not kept (they are git-ignored), its exported dataset.npz and run.json."""
    from rlsl_jax.evaluate import load_dataset_for_env

    if (run_dir / "checkpoints").is_dir():
        ds, meta = load_dataset_for_env(run_dir / "checkpoints", env, env_params)
        return ds, int(meta["step"])
    ds, _ = load_dataset_for_env(run_dir / "dataset.npz", env, env_params)
    return ds, int(json.loads((run_dir / "run.json").read_text())["meta_epochs"])


def evaluate_run(run_dir: Path, result_path: Path, dims: int, k: int, dists: list[str], modes: list[str],
                 learners: int, episodes: int, seed: int, train_dist: str, mesh=None) -> dict:
    """k-shot results of the newest dataset of ``run_dir`` (re-used from ``result_path`` when the
    dataset's meta-epoch, learners, episodes and seed match and every distribution is there)."""
    from rlsl_jax.envs import make

    env, env_params = make(CARTPOLE_ID, num_dims=dims)
    ds, step = run_dataset(run_dir, env, env_params)
    old = json.loads(result_path.read_text()) if result_path.exists() else None
    same = old is not None and all(old.get(a) == b for a, b in (("meta_epochs", step), ("learners", learners),
                                                                 ("episodes", episodes), ("seed", seed)))
    todo = [d for d in dists if not (same and all(m in old["results"].get(d, {}) for m in modes))]
    if not todo:
        print(f"[{run_dir.name}] k-shot results up to date", file=sys.stderr, flush=True)
        return old
    print(f"[{run_dir.name}] k-shot evaluation at meta-epoch {step}: {learners} learners × {len(todo)} "
          f"distributions", file=sys.stderr, flush=True)
    t = time.time()
    out = run_kshot(ds, env, env_params, todo, modes, learners, episodes, seed, chunk=1000, mesh=mesh)
    results = {**(old["results"] if same else {}), **out["results"]}
    run_info = json.loads((run_dir / "run.json").read_text())
    res = {"dims": dims, "k": k, "meta_epochs": step, "train_dist": train_dist, "learners": learners,
           "episodes": episodes, "seed": seed, "inner_lr": float(ds.inner_lr), "modes": modes,
           "train_wall_s": run_info.get("train_wall_s"), "eval_wall_s": round(time.time() - t, 2),
           "config": run_info.get("config"), "machine": machine_info(), "results": results}
    if is_main_process():
        result_path.parent.mkdir(parents=True, exist_ok=True)
        write_json(result_path, res)
    return res


def plot_dataset(ds, dims: int, path: Path, title: str) -> None:
    """Figure-4-style picture of a cart-pole dataset: per synthetic state, the pole angle of every
    axis (x[:, 4i + 2], radians) and the softmaxed labels softmax(y) (the action probabilities
    the targets encode; training never softmaxes them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x, y = np.asarray(ds.x, np.float64), np.asarray(ds.y, np.float64)
    k = x.shape[0]
    theta = x[:, 2::4]  # [k, N]
    p = np.exp(y - y.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    fig, axes = plt.subplots(1, 2, figsize=(3.0 + 1.1 * max(dims, 2) * 2, 1.2 + 0.45 * k + 1.2),
                             gridspec_kw={"width_ratios": [max(dims, 1), 2 * dims]})
    lim = max(np.abs(theta).max(), 1e-6)
    im = axes[0].imshow(theta, cmap="coolwarm", vmin=-lim, vmax=lim, aspect="auto")
    axes[0].set_xticks(range(dims), [f"θ{i + 1}" for i in range(dims)])
    axes[0].set_yticks(range(k), [f"x{j + 1}" for j in range(k)])
    axes[0].set_title("pole angle entries")
    for (j, i), v in np.ndenumerate(theta):
        axes[0].text(i, j, f"{v:.2f}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=axes[0], fraction=0.08)
    im2 = axes[1].imshow(p, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    axes[1].set_xticks(range(2 * dims), [f"{'-+'[a % 2]}{a // 2 + 1}" for a in range(2 * dims)])
    axes[1].set_yticks(range(k), [f"y{j + 1}" for j in range(k)])
    axes[1].set_title("softmax(labels): push axis ±")
    for (j, a), v in np.ndenumerate(p):
        axes[1].text(a, j, f"{v:.2f}", ha="center", va="center", fontsize=8, color="w" if v < 0.6 else "k")
    fig.colorbar(im2, ax=axes[1], fraction=0.08)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# RESULTS.md
# ---------------------------------------------------------------------------------------------

def paper_cell(dims: int, k: int, dist: str) -> str:
    v = PAPER.get((dims, k), {}).get(dist)
    if v is None:
        return "—"
    mean, std = v
    return f"{mean:g}" + (f" ± {std:g}" if std is not None else "")


def results_markdown(results: list[dict], dists: list[str], modes: list[str]) -> str:
    """Table 1 layout: one block of rows per dataset (paper, ours sampled, ours greedy)."""
    cols = [d for d in dists]
    head = "| dataset | source | " + " | ".join(COLUMN_TITLES.get(d, d) for d in cols) + " |"
    lines = [head, "|---|---|" + "---|" * len(cols)]
    order = sorted(results, key=lambda r: (r["dims"], r["k"], r["train_dist"] != "ortho", r["train_dist"]))
    last = None
    for r in order:
        label = default_label(r["dims"], r["k"])
        if (r["dims"], r["k"]) != last:
            lines.append(f"| **{label}** | paper | " + " | ".join(paper_cell(r["dims"], r["k"], d) for d in cols) + " |")
            last = (r["dims"], r["k"])
        trained = "" if r["train_dist"] == "ortho" else f", trained on {r['train_dist']}"
        for m in modes:
            cells = [fmt(r["results"].get(d, {}).get(m)) for d in cols]
            lines.append(f"| {label} | ours, {m}{trained} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def runs_markdown(results: list[dict]) -> str:
    lines = ["| dataset | trained against | meta-epochs | P | inner lr | distil s | k-shot eval s | learners |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: (r["dims"], r["k"], r["train_dist"])):
        cfg = r.get("config") or {}
        lines.append(f"| {default_label(r['dims'], r['k'])} | {r['train_dist']} | {r['meta_epochs']} | "
                     f"{cfg.get('population', '?')} | {r['inner_lr']:.3g} | {r.get('train_wall_s')} | "
                     f"{r.get('eval_wall_s')} | {r['learners']} |")
    return "\n".join(lines)


def targets_markdown(results: list[dict]) -> str:
    """Checks the issue's targets: Λ >= 490 at k = N + 1; beat the paper on every known
    out-of-distribution cell (sampled actions, the paper's protocol)."""
    lines = []
    for r in sorted(results, key=lambda r: (r["dims"], r["k"], r["train_dist"])):
        label = default_label(r["dims"], r["k"]) + ("" if r["train_dist"] == "ortho" else f" (trained on {r['train_dist']})")
        s = {d: v.get("sampled") for d, v in r["results"].items()}
        if r["k"] == k_min(r["dims"]) and s.get("ortho"):
            ok = s["ortho"]["mean"] >= 490
            lines.append(f"- {label}: Λ ≥ 490? {'yes' if ok else 'NO'} ({s['ortho']['mean']:.1f})")
        for d, (pm, _) in PAPER.get((r["dims"], r["k"]), {}).items():
            if d != "ortho" and s.get(d):
                ok = s[d]["mean"] > pm
                lines.append(f"- {label}: {COLUMN_TITLES[d]} beats the paper's {pm:g}? {'yes' if ok else 'NO'} "
                             f"({s[d]['mean']:.1f})")
    return "\n".join(lines) or "- (no results yet)"


def write_results_md(out: Path, dists: list[str], modes: list[str], argv: list[str]) -> Path:
    results = [json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))]
    machine = results[-1]["machine"] if results else machine_info()
    dates = sorted(r["machine"]["date_utc"] for r in results) or [machine["date_utc"]]
    dated = dates[0] if dates[0] == dates[-1] else f"{dates[0]} – {dates[-1]}"
    from rlsl_jax.networks.distributions import DIST_DESCRIPTIONS

    all_dists = [d for d in DIST_DESCRIPTIONS if any(d in r["results"] for r in results)] or dists
    figs = sorted(p.name for p in out.glob("fig4_*.png"))
    text = [
        "# Table 1: k-shot returns of distilled N-D cart-pole datasets",
        "",
        f"Generated by `python -m rlsl_jax.experiments.table1` (last invocation: `{' '.join(argv) or '(defaults)'}`).",
        f"Machine: {machine['processor']}, {machine['cpu_count']} CPU cores, {machine['backend']} backend "
        f"({', '.join(machine['devices'])}), jax {machine['jax']}; {machine['platform']}; "
        f"results dated {dated} (each results/*.json records its own machine and date).",
        "",
        "Each cell: mean ± std over fresh learners (each trained by ONE SGD step on the dataset, then one "
        "episode, capped at 500). 'sampled' = actions sampled from softmax(logits), the paper's protocol; "
        "'greedy' = argmax actions, same learners. 'paper' = the paper's Table 1 (— where we do not know "
        "the paper's number). Learner distributions:",
        "",
        *[f"- **{COLUMN_TITLES.get(d, d)}** (`{d}`): {DIST_DESCRIPTIONS[d]}" for d in all_dists],
        "",
        results_markdown(results, all_dists, modes),
        "",
        "## Targets",
        "",
        targets_markdown(results),
        "",
        "## Runs",
        "",
        runs_markdown(results),
        "",
    ]
    if figs:
        text += ["## Datasets at k_min (Figure 4 style)", "",
                 "Pole-angle entries θ of each synthetic state (radians) and the softmaxed labels "
                 "(action probabilities the targets encode; actions: −i / +i push axis i left / right).", ""]
        text += [f"![{f}]({f})" for f in figs] + [""]
    notes = out / "NOTES.md"
    if notes.exists():
        text += [notes.read_text().rstrip(), ""]
    path = out / "RESULTS.md"
    path.write_text("\n".join(text))
    return path


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    dims_list, ks, meta_epochs, dists, modes = validate(args)
    cfg_base = config_from_args(PPMOConfig, args, k=1)
    mesh = setup_parallel(args, {"--population": args.population})
    main_process = is_main_process()

    from rlsl_jax.cpu import configure_cpu
    from rlsl_jax.envs import make

    configure_cpu()
    args.out.mkdir(parents=True, exist_ok=True)
    for dims in dims_list:
        for k in ks[dims]:
            cfg = dataclasses.replace(cfg_base, k=k)
            tag = run_tag(dims, k, args.train_dist)
            run_dir = args.out / "runs" / tag
            if not args.eval_only:
                distil(run_dir, dims, k, meta_epochs[dims], cfg, args.train_dist, args.seed, args.chunk,
                       args.checkpoint_every, not args.no_progress, mesh)
            elif not (run_dir / "checkpoints").is_dir() and not (run_dir / "dataset.npz").exists():
                print(f"[{tag}] --eval-only: no run, skipped", file=sys.stderr, flush=True)
                continue
            evaluate_run(run_dir, args.out / "results" / f"{tag}.json", dims, k, dists, modes, args.learners,
                         args.episodes, args.seed, args.train_dist, mesh)
            if k == k_min(dims) and main_process:
                env, env_params = make(CARTPOLE_ID, num_dims=dims)
                ds, step = run_dataset(run_dir, env, env_params)
                who = "" if args.train_dist == "ortho" else f", trained on {args.train_dist}"
                plot_dataset(ds, dims, args.out / f"fig4_{tag}.png",
                             f"{dims}-D cart-pole, k={k}{who}, meta-epoch {step}, η={float(ds.inner_lr):.2f}")
    if main_process:
        path = write_results_md(args.out, dists, modes, ["python -m rlsl_jax.experiments.table1", *argv])
        print(path.read_text())


if __name__ == "__main__":
    run_main(main)
