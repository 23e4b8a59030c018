"""The paper's Table 1 as a study: distil N-D cart-pole at each (N, k), score the newest dataset
with every learner distribution, draw a Figure-4-style picture of each k_min dataset, and write
RESULTS.md in the paper's layout with the paper's numbers (``rlsl_jax.paper``) beside ours.

Layout of a study directory OUT: OUT/runs/<tag>/ (orbax checkpoints, log.csv, dataset.npz,
run.json) per (N, k, training distribution), ``run_tag`` naming it; OUT/results/<tag>.json (the
k-shot results of that run, re-used while the dataset, learners and seed are unchanged);
OUT/fig4_<tag>.png; OUT/RESULTS.md, rebuilt from every results file present (a hand-written
OUT/NOTES.md is appended verbatim).

``distil`` drives PPMO through the host loop (``runner.run``) with the keys of
``runner.seed_keys(seed)``, resuming from the run's newest checkpoint; ``evaluate_run`` scores a
run (``studies.kshot.run_kshot``). Functions that write the machine stamp into a file take it as
``machine``, a callable returning the stamp dict (``report.machine_info``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable

from rlsl_jax import checkpoint
from rlsl_jax.config import config_from_dict, config_to_dict
from rlsl_jax.distill.ppmo import PPMOConfig, make_meta_step
from rlsl_jax.evaluate import load_dataset_for_env
from rlsl_jax.logs import write_json
from rlsl_jax.networks.distributions import DIST_DESCRIPTIONS, describe, make_train_dist
from rlsl_jax.paper import cartpole_kmin as k_min
from rlsl_jax.paper import table1_cell
from rlsl_jax.parallel import is_main_process
from rlsl_jax.runner import PPMO_LOG_FIELDS, run, seed_keys
from rlsl_jax.studies.kshot import COLUMN_TITLES, cell, default_label, run_kshot
from rlsl_jax.tasks.cartpole import CARTPOLE_ID, make_task

DEFAULT_META_EPOCHS = "1:1000,2:3000,3:4000,4:5000,5:6000"
# log.csv columns of a run: no periodic k-shot check here, so no kshot columns.
LOG_FIELDS = tuple(f for f in PPMO_LOG_FIELDS if not f.startswith("kshot"))


class RunMismatch(ValueError):
    """The run directory holds a run with another config, seed or training distribution."""


def parse_meta_epochs(text: str, dims: list[int]) -> dict[int, int]:
    """Meta-epochs per N: one integer for every N, or N:E pairs ("1:1000,2:3000"); ValueError."""
    text = text.strip()
    try:
        if ":" not in text:
            return {d: int(text) for d in dims}
        pairs = dict((int(a), int(b)) for a, b in (s.split(":") for s in text.split(",") if s.strip()))
    except ValueError:
        raise ValueError(f"--meta-epochs {text!r}: expected an integer or N:E pairs like 1:1000,2:3000") from None
    missing = [d for d in dims if d not in pairs]
    if missing:
        raise ValueError(f"--meta-epochs {text!r} gives no count for N = {missing}")
    if any(v < 0 for v in pairs.values()):
        raise ValueError("--meta-epochs must be >= 0")
    return pairs


def parse_ks(text: str, dims: int) -> list[int]:
    """Dataset sizes for N = ``dims``: comma-separated integers or "kmin" (= N + 1); ValueError."""
    out = []
    for s in (s.strip() for s in text.split(",") if s.strip()):
        if s == "kmin":
            out.append(k_min(dims))
        else:
            try:
                out.append(int(s))
            except ValueError:
                raise ValueError(f"--ks {text!r}: expected integers or 'kmin'") from None
    if not out or min(out) < 1:
        raise ValueError(f"--ks {text!r}: need k >= 1")
    return list(dict.fromkeys(out))


def slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def run_tag(dims: int, k: int, train_dist: str) -> str:
    return f"{dims}d_k{k}" + ("" if train_dist == "ortho" else f"_train-{slug(train_dist)}")


# ---------------------------------------------------------------------------------------------
# Distil, evaluate, plot
# ---------------------------------------------------------------------------------------------

def distil(run_dir: Path, dims: int, k: int, meta_epochs: int, cfg: PPMOConfig, train_dist: str, seed: int,
           chunk: int, checkpoint_every: int, progress: bool, mesh=None) -> dict:
    """Trains (or resumes) the run in ``run_dir`` up to ``meta_epochs``; returns its run info
    (run.json). With a device ``mesh`` the population is sharded over it; only process 0 writes
    files (multi-host). :class:`RunMismatch` if ``run_dir`` holds another run."""
    task = make_task(CARTPOLE_ID, {"num_dims": dims})
    learner = make_train_dist(train_dist, 4 * dims, 2 * dims)
    info_path = run_dir / "run.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else None
    done = checkpoint.latest_step(run_dir / "checkpoints")
    if info is not None and (config_from_dict(PPMOConfig, info["config"]) != cfg or info["seed"] != seed
                             or info["train_dist"] != train_dist):
        raise RunMismatch(f"{run_dir} holds a run with another config/seed/train-dist; use another --out")
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
    init, meta_step = make_meta_step(cfg, task.env, task.env_params, learner, mesh=mesh)
    k_init, k_epochs = seed_keys(seed)
    state, rinfo = run(init, meta_step, epochs=meta_epochs, init_key=k_init, epoch_key=k_epochs, out_dir=run_dir,
                       resume=True, checkpoint_every=checkpoint_every, metadata=metadata, log_fields=LOG_FIELDS,
                       chunk=chunk, progress=progress)
    info["train_wall_s"] = round(float(info["train_wall_s"]) + rinfo["wall_s"], 2)
    info["meta_epochs"] = int(state.meta_epoch)
    if main_process:
        write_json(info_path, info)
        checkpoint.export_npz(run_dir / "checkpoints", run_dir / "dataset.npz")
    return info


def run_dataset(run_dir: Path, env, env_params):
    """(dataset, meta-epoch) of a run: its newest orbax checkpoint, or, where the checkpoints are
    not kept (they are git-ignored), its exported dataset.npz and run.json."""
    if (run_dir / "checkpoints").is_dir():
        ds, meta = load_dataset_for_env(run_dir / "checkpoints", env, env_params)
        return ds, int(meta["step"])
    ds, _ = load_dataset_for_env(run_dir / "dataset.npz", env, env_params)
    return ds, int(json.loads((run_dir / "run.json").read_text())["meta_epochs"])


def evaluate_run(run_dir: Path, result_path: Path, dims: int, k: int, dists: list[str], modes: list[str],
                 learners: int, episodes: int, seed: int, train_dist: str, mesh=None, *,
                 machine: Callable[[], dict]) -> dict:
    """k-shot results of the newest dataset of ``run_dir`` (re-used from ``result_path`` when the
    dataset's meta-epoch, learners, episodes and seed match and every distribution is there);
    new results are written to ``result_path`` with the stamp ``machine()``."""
    task = make_task(CARTPOLE_ID, {"num_dims": dims})
    ds, step = run_dataset(run_dir, task.env, task.env_params)
    if int(ds.x.shape[0]) != k:
        raise RunMismatch(f"{run_dir}: its dataset has k = {int(ds.x.shape[0])}, but this cell is k = {k}; "
                          f"choose another --out (nothing was written)")
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
    out = run_kshot(ds, task.env, task.env_params, todo, modes, learners, episodes, seed, chunk=1000, mesh=mesh)
    results = {**(old["results"] if same else {}), **out["results"]}
    run_info = json.loads((run_dir / "run.json").read_text())
    res = {"dims": dims, "k": k, "meta_epochs": step, "train_dist": train_dist, "learners": learners,
           "episodes": episodes, "seed": seed, "inner_lr": float(ds.inner_lr), "modes": modes,
           "train_wall_s": run_info.get("train_wall_s"), "eval_wall_s": round(time.time() - t, 2),
           "config": run_info.get("config"), "machine": machine(), "results": results}
    if is_main_process():
        result_path.parent.mkdir(parents=True, exist_ok=True)
        write_json(result_path, res)
    return res


def plot_kmin_dataset(out: Path, dims: int, k: int, train_dist: str) -> Path:
    """OUT/fig4_<tag>.png: the picture of the newest dataset of the run (``plot_dataset``)."""
    task = make_task(CARTPOLE_ID, {"num_dims": dims})
    tag = run_tag(dims, k, train_dist)
    ds, step = run_dataset(out / "runs" / tag, task.env, task.env_params)
    who = "" if train_dist == "ortho" else f", trained on {train_dist}"
    path = out / f"fig4_{tag}.png"
    plot_dataset(ds, dims, path, f"{dims}-D cart-pole, k={k}{who}, meta-epoch {step}, η={float(ds.inner_lr):.2f}")
    return path


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
    """The paper's Table 1 cell as "mean ± std" (``paper.table1_cell``), "—" where it has none."""
    v = table1_cell(dims, k, dist)
    return "—" if v is None else f"{v[0]:g} ± {v[1]:g}"


def results_markdown(results: list[dict], dists: list[str], modes: list[str]) -> str:
    """Table 1 layout: one block of rows per dataset (paper, ours sampled, ours greedy)."""
    head = "| dataset | source | " + " | ".join(COLUMN_TITLES.get(d, d) for d in dists) + " |"
    lines = [head, "|---|---|" + "---|" * len(dists)]
    order = sorted(results, key=lambda r: (r["dims"], r["k"], r["train_dist"] != "ortho", r["train_dist"]))
    last = None
    for r in order:
        label = default_label(r["dims"], r["k"])
        if (r["dims"], r["k"]) != last:
            lines.append(f"| **{label}** | paper | " + " | ".join(paper_cell(r["dims"], r["k"], d) for d in dists) + " |")
            last = (r["dims"], r["k"])
        trained = "" if r["train_dist"] == "ortho" else f", trained on {r['train_dist']}"
        for m in modes:
            cells = [cell(r["results"].get(d, {}).get(m)) for d in dists]
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
        for d in DIST_DESCRIPTIONS:
            paper = table1_cell(r["dims"], r["k"], d)
            if d != "ortho" and paper is not None and s.get(d):
                ok = s[d]["mean"] > paper[0]
                lines.append(f"- {label}: {COLUMN_TITLES[d]} beats the paper's {paper[0]:g}? {'yes' if ok else 'NO'} "
                             f"({s[d]['mean']:.1f})")
    return "\n".join(lines) or "- (no results yet)"


def write_results_md(out: Path, dists: list[str], modes: list[str], argv: list[str], *,
                     machine: Callable[[], dict]) -> Path:
    """Rebuilds OUT/RESULTS.md from every OUT/results/*.json (``machine()`` stamps it when there
    are none yet) and returns its path."""
    results = [json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))]
    stamp = results[-1]["machine"] if results else machine()
    dates = sorted(r["machine"]["date_utc"] for r in results) or [stamp["date_utc"]]
    dated = dates[0] if dates[0] == dates[-1] else f"{dates[0]} – {dates[-1]}"
    all_dists = [d for d in DIST_DESCRIPTIONS if any(d in r["results"] for r in results)] or dists
    figs = sorted(p.name for p in out.glob("fig4_*.png"))
    text = [
        "# Table 1: k-shot returns of distilled N-D cart-pole datasets",
        "",
        f"Generated by `python -m rlsl_jax.experiments.table1` (last invocation: `{' '.join(argv) or '(defaults)'}`).",
        f"Machine: {stamp['processor']}, {stamp['cpu_count']} CPU cores, {stamp['backend']} backend "
        f"({', '.join(stamp['devices'])}), jax {stamp['jax']}; {stamp['platform']}; "
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
