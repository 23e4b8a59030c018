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

import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

from rlsl_jax import checkpoint
from rlsl_jax.config import config_from_dict, config_to_dict
from rlsl_jax.distill.ppmo import PPMOConfig, make_meta_step
from rlsl_jax.evaluate import evaluate, load_dataset_for_env
from rlsl_jax.logs import write_json
from rlsl_jax.networks.distributions import DIST_DESCRIPTIONS, describe, make_learner_dist, make_train_dist
from rlsl_jax.paper import cartpole_kmin as k_min
from rlsl_jax.paper import table1_cell
from rlsl_jax.parallel import is_main_process
from rlsl_jax.runner import PPMO_LOG_FIELDS, KShotCheck, run, seed_keys
from rlsl_jax.studies.kshot import COLUMN_TITLES, cell, default_label, dist_key, kshot_tables, run_kshot
from rlsl_jax.tasks.cartpole import CARTPOLE_ID, DEFAULT_TARGET, kshot_check, make_task
from rlsl_jax.tasks.cartpole import DEFAULT_PRESET as CARTPOLE_DEFAULT_PRESET
from rlsl_jax.tasks.cartpole import PRESETS as CARTPOLE_PRESETS

DEFAULT_META_EPOCHS = "1:1000,2:3000,3:4000,4:5000,5:6000"
# log.csv columns of a run without the periodic generality check (with it: PPMO_LOG_FIELDS).
LOG_FIELDS = tuple(f for f in PPMO_LOG_FIELDS if not f.startswith("kshot"))
# The Λ column at k = N + 1 must reach at least this (sampled actions), whatever the paper's number.
LAMBDA_FLOOR = 490.0
# Distributions the periodic generality check scores (fixed-shape ones: one vmap each).
CHECK_DISTS = ("ortho", "ortho-std1", "xe", "xe-std1", "random-h")
# Factors of the trained η that ``calibrate_inner_lr`` tries (1 = η as trained).
ETA_SCALES = (0.25, 0.35, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0)
AUTHORS = "authors"  # train_dist label of the paper authors' own datasets re-scored by our evaluator
# A Λ-only row (``Preset.lambda_kmin_from``) is the cart-pole CLI's run, ``python -m
# rlsl_jax.experiments.cartpole --dims N --k N+1``: that CLI's preset and its default Λ check
# (every 50 meta-epochs, 500 fresh Λ learners, stop once their mean reaches DEFAULT_TARGET = 495).
LAMBDA_ROW_CHECK_EVERY, LAMBDA_ROW_CHECK_LEARNERS = 50, 500


@dataclasses.dataclass(frozen=True)
class Preset:
    """What the Table 1 CLI defaults to: the PPMO config, the learner distribution it trains
    against, meta-epochs per N, and the generality check (every, learners, stop ratio; every 0 = off)."""

    config: PPMOConfig
    train_dist: str
    meta_epochs: str
    check_every: int
    check_learners: int = 100
    check_stop: float | None = None
    description: str = ""
    calibrate_eta: bool = False
    lambda_kmin_from: int = 0  # k_min rows of N >= this are Λ-only rows (``plan_row``); 0 = none


PRESETS = {
    "ours": Preset(dataclasses.replace(CARTPOLE_PRESETS["ours"], population=4), "mix4w",
                   "1:1500,2:3000,3:5000,4:6000,5:6000", 250, 100, 1.15,
                   "trained for generality: P = 4 learners per meta-epoch from mix4w (a weighted mixture, Λ 4 : "
                   "Ortho std=1 1 : Xe 1 : Xe std=1 2), X/Y Adam 5e-4, η at its own rate; the dataset kept is the best "
                   "of a periodic check of every fixed-shape column, its η then calibrated on the same check; "
                   "the k = N + 1 rows of N >= 4 against Λ alone (the cart-pole CLI's run), which keeps their Λ "
                   "column >= 490", calibrate_eta=True, lambda_kmin_from=4),
    "paper": Preset(CARTPOLE_PRESETS["paper"], "ortho", DEFAULT_META_EPOCHS, 0, 100, None,
                    "the paper's PPMO (P = 1 Λ learner, Adam 2.5e-4 for X, Y and η, η floor 1e-4), last dataset kept"),
}
DEFAULT_PRESET = "ours"


@dataclasses.dataclass(frozen=True)
class Row:
    """How one (N, k) row of the table is trained (``plan_row``): against which learner
    distribution, with which PPMO config and periodic check (None: the last dataset is kept;
    ``check_dists``: the columns it scores), and whether η is calibrated afterwards."""

    train_dist: str
    config: PPMOConfig
    check: KShotCheck | None
    check_dists: tuple[str, ...]
    check_value: str  # run.json best_check's name for the check's value
    calibrate_eta: bool


def is_lambda_row(dims: int, k: int, lambda_kmin_from: int) -> bool:
    """Whether (N, k) is a Λ-only row: k = N + 1 and N >= ``lambda_kmin_from`` (0: never)."""
    return bool(lambda_kmin_from) and dims >= lambda_kmin_from and k == k_min(dims)


ROW_FLAGS = ("train_dist", "check_every", "check_learners", "check_stop", "calibrate_eta", "lambda_kmin_from")


def plan_row(dims: int, k: int, seed: int, *, config: PPMOConfig, train_dist: str, check_every: int,
             check_learners: int, check_stop: float | None, calibrate_eta: bool, lambda_kmin_from: int = 0) -> Row:
    """The row of (N, k): the given settings (``config`` with this k, ``generality_check`` when
    ``check_every``), or, for a Λ-only row (``is_lambda_row``), the cart-pole CLI's run at k = N + 1
    whatever the other settings: its preset (P = 1 Λ learner), its Λ check (``tasks.cartpole.kshot_check``:
    every ``LAMBDA_ROW_CHECK_EVERY`` meta-epochs, ``LAMBDA_ROW_CHECK_LEARNERS`` learners, stop at
    ``DEFAULT_TARGET``), η as trained. At N >= 4 the generality-trained k_min datasets leave Λ below
    ``LAMBDA_FLOOR`` (experiments/table1/NOTES.md); the Λ-only ones keep it there and still clear most columns."""
    if is_lambda_row(dims, k, lambda_kmin_from):
        task = make_task(CARTPOLE_ID, {"num_dims": dims})
        check = kshot_check(task, LAMBDA_ROW_CHECK_EVERY, DEFAULT_TARGET, LAMBDA_ROW_CHECK_LEARNERS, seed)
        return Row("ortho", dataclasses.replace(CARTPOLE_PRESETS[CARTPOLE_DEFAULT_PRESET], k=k), check, ("ortho",),
                   "lambda_mean", False)
    check = generality_check(dims, k, check_every, check_learners, seed, check_stop) if check_every else None
    return Row(train_dist, dataclasses.replace(config, k=k), check, CHECK_DISTS, "worst_ratio", calibrate_eta)


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


def column_target(dims: int, k: int, dist: str) -> float | None:
    """What a column must reach: the paper's mean (``paper.table1_cell``), and for Λ at k = N + 1
    at least ``LAMBDA_FLOOR``; None where the paper has no number."""
    p = table1_cell(dims, k, dist)
    target = None if p is None else float(p[0])
    if dist == "ortho" and k == k_min(dims):
        target = max(target or 0.0, LAMBDA_FLOOR)
    return target


def check_bar(target: float, stop: float | None) -> float:
    """The bar a column's check score is measured against: its target, or with ``stop`` the
    target × stop, but never above max(target, 495) (a return cannot exceed 500)."""
    return target if stop is None else min(stop * target, max(target, 495.0))


def check_columns(dims: int, k: int, stop: float | None, dists: tuple[str, ...] = CHECK_DISTS) -> list[tuple]:
    """(name, learner distribution, bar) of every column the generality check scores (those with
    a paper number; bar = ``check_bar`` of its ``column_target``). ValueError if there is none."""
    cols = [(d, make_learner_dist(d, 4 * dims, 2 * dims), column_target(dims, k, d)) for d in dists]
    cols = [(d, learner, check_bar(t, stop)) for d, learner, t in cols if t]
    if not cols:
        raise ValueError(f"no paper numbers for N={dims}, k={k}: nothing to check against")
    return cols


def column_ratios(ds, dims: int, cols: list[tuple], learners: int, seed: int) -> dict[str, float]:
    """Each column's check score: mean return of ``learners`` fresh check learners (sampled
    actions; the same learners for every dataset, not those of the final evaluation) / its bar."""
    task = make_task(CARTPOLE_ID, {"num_dims": dims})
    return {d: evaluate(dist_key(seed + 3_000_017, d), ds, task.env, task.env_params, learner, learners)["mean"] / bar
            for d, learner, bar in cols}


def generality_check(dims: int, k: int, every: int, learners: int, seed: int, stop: float | None = None,
                     dists: tuple[str, ...] = CHECK_DISTS) -> KShotCheck:
    """Every ``every`` meta-epochs, score the dataset on ``check_columns`` (``column_ratios``).
    The check's value (log.csv kshot_mean) is the WORST column's mean / bar; the best dataset by
    it is kept, and the run stops once it reaches 1, i.e. every column clears its bar (``stop``
    None: never stops)."""
    cols = check_columns(dims, k, stop, dists)
    return KShotCheck(every, lambda ds: (min(column_ratios(ds, dims, cols, learners, seed).values()), 0.0),
                      None if stop is None else 1.0)


def choose_scale(ratios: dict[float, dict[str, float]]) -> float:
    """The η factor whose columns clear the most bars (ratio ≥ 1), ties broken by the higher
    worst ratio; 1.0 (η as trained) unless another factor clears strictly more columns."""
    def cleared(s):
        return sum(r >= 1.0 for r in ratios[s].values())

    best = max(ratios, key=lambda s: (cleared(s), min(ratios[s].values())))
    return best if 1.0 not in ratios or cleared(best) > cleared(1.0) else 1.0


def calibrate_inner_lr(ds, dims: int, k: int, learners: int, seed: int,
                       scales: tuple[float, ...] = ETA_SCALES) -> tuple[float, dict[float, dict[str, float]]]:
    """One scalar chosen after training: the dataset's inner rate η × s for each s of ``scales``
    is scored on the generality check's columns and learners (``column_ratios``, the bars being
    the targets themselves, ``column_target``), and ``choose_scale`` picks s. The learned η is
    one rate for every learner distribution, and the distributions want different ones (Λ a
    large η, Xe std=1 a small one at N ≥ 4): this moves the dataset along that trade-off to
    where most columns clear their bars.
    Returns (s, {s: {column: ratio}})."""
    cols = check_columns(dims, k, None)
    ratios = {float(s): column_ratios(ds.replace(inner_lr=ds.inner_lr * s), dims, cols, learners, seed)
              for s in scales}
    return choose_scale(ratios), ratios


def calibrate_run(run_dir: Path, dims: int, k: int, learners: int, seed: int) -> float:
    """``calibrate_inner_lr`` on the run's trained dataset, once per trained state: run.json
    records ``eta_scale`` and every factor's column ratios, dataset.npz gets η × scale (the
    checkpoints keep the trained η; ``run_dataset`` applies the scale). Returns the scale."""
    info = json.loads((run_dir / "run.json").read_text())
    if "eta_scale" in info:
        return float(info["eta_scale"])
    if not (run_dir / "checkpoints").is_dir():
        raise ValueError(f"{run_dir}: no checkpoints to calibrate η from (its dataset.npz may already be calibrated)")
    task = make_task(CARTPOLE_ID, {"num_dims": dims})
    ds, meta = load_dataset_for_env(run_dir / "checkpoints", task.env, task.env_params)
    print(f"[{run_dir.name}] calibrating η ({float(ds.inner_lr):.3g}) over × {', '.join(map(str, ETA_SCALES))}",
          file=sys.stderr, flush=True)
    scale, ratios = calibrate_inner_lr(ds, dims, k, learners, seed)
    info["eta_scale"] = scale
    info["eta_calibration"] = {"learners": learners, "ratios": {
        str(s): {d: round(r, 4) for d, r in cols.items()} for s, cols in ratios.items()}}
    print(f"[{run_dir.name}] η × {scale:g} (columns clearing their bars: "
          f"{sum(r >= 1 for r in ratios[scale].values())}/{len(ratios[scale])})", file=sys.stderr, flush=True)
    if is_main_process():
        write_json(run_dir / "run.json", info)
        if scale != 1.0:  # dataset.npz already holds the trained η (``distil`` exported it)
            checkpoint.write_npz(ds.replace(inner_lr=ds.inner_lr * scale), meta, run_dir / "dataset.npz")
    return scale


def slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def run_tag(dims: int, k: int, train_dist: str) -> str:
    return f"{dims}d_k{k}" + ("" if train_dist == "ortho" else f"_train-{slug(train_dist)}")


# ---------------------------------------------------------------------------------------------
# Distil, evaluate, plot
# ---------------------------------------------------------------------------------------------

def distil(run_dir: Path, dims: int, k: int, meta_epochs: int, cfg: PPMOConfig, train_dist: str, seed: int,
           chunk: int, checkpoint_every: int, progress: bool, mesh=None, check: KShotCheck | None = None,
           check_dists: tuple[str, ...] = CHECK_DISTS, check_value: str = "worst_ratio") -> dict:
    """Trains (or resumes) the run in ``run_dir`` up to ``meta_epochs``; returns its run info
    (run.json). With a device ``mesh`` the population is sharded over it (not when the mesh does
    not divide it, e.g. a Λ-only row's P = 1: then it runs unsharded); only process 0 writes
    files (multi-host). :class:`RunMismatch` if ``run_dir`` holds another run. With a ``check``
    (``generality_check``: the worst column's ratio; or a Λ check: Λ's mean return; ``plan_row``;
    run.json records ``check_dists`` and the kept value as best_check[``check_value``]) the dataset
    kept is the best one it saw, and a run it stopped counts as finished."""
    task = make_task(CARTPOLE_ID, {"num_dims": dims})
    learner = make_train_dist(train_dist, 4 * dims, 2 * dims)
    info_path = run_dir / "run.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else None
    done = checkpoint.latest_step(run_dir / "checkpoints")
    if info is not None and (config_from_dict(PPMOConfig, info["config"]) != cfg or info["seed"] != seed
                             or info["train_dist"] != train_dist):
        raise RunMismatch(f"{run_dir} holds a run with another config/seed/train-dist; use another --out")
    if done is not None and (done >= meta_epochs or (info or {}).get("stopped_at_check")):
        print(f"[{run_dir.name}] already trained to meta-epoch {done}"
              + (" (stopped by the generality check)" if done < meta_epochs else ""), file=sys.stderr, flush=True)
        return info
    run_dir.mkdir(parents=True, exist_ok=True)
    info = {"env_id": CARTPOLE_ID, "env_kwargs": {"num_dims": dims}, "k": k, "seed": seed, "train_dist": train_dist,
            "train_dist_description": describe(learner), "config": config_to_dict(cfg),
            "train_wall_s": (info or {}).get("train_wall_s", 0.0),
            "check": None if check is None else {"every": check.every, "stops_when_bars_cleared": check.target is not None,
                                                 "dists": list(check_dists)}}
    main_process = is_main_process()
    if main_process:
        write_json(info_path, info)
    metadata = {"env_id": CARTPOLE_ID, "env_kwargs": {"num_dims": dims}, "k": k, "obs_shape": [4 * dims],
                "num_actions": 2 * dims, "learner": {"name": getattr(learner, "name", train_dist),
                                                     "description": describe(learner)},
                "seed": seed, "config": config_to_dict(cfg), "method": "ppmo"}
    print(f"[{run_dir.name}] distilling N={dims} k={k} against {train_dist} to meta-epoch {meta_epochs} "
          f"(from {done or 0})", file=sys.stderr, flush=True)
    if mesh is not None and cfg.population % mesh.size:
        mesh = None
    init, meta_step = make_meta_step(cfg, task.env, task.env_params, learner, mesh=mesh)
    k_init, k_epochs = seed_keys(seed)
    state, rinfo = run(init, meta_step, epochs=meta_epochs, init_key=k_init, epoch_key=k_epochs, out_dir=run_dir,
                       resume=True, checkpoint_every=checkpoint_every, metadata=metadata, chunk=chunk,
                       log_fields=LOG_FIELDS if check is None else PPMO_LOG_FIELDS, progress=progress, check=check)
    info["train_wall_s"] = round(float(info["train_wall_s"]) + rinfo["wall_s"], 2)
    info["meta_epochs"] = int(state.meta_epoch)
    info["stopped_at_check"] = bool(check is not None and rinfo["stopped_early"])
    if rinfo["best"] is not None:
        info["best_check"] = {"meta_epoch": rinfo["best"].meta_epoch, check_value: round(rinfo["best"].mean, 4)}
    if main_process:
        write_json(info_path, info)
        checkpoint.export_npz(run_dir / "checkpoints", run_dir / "dataset.npz")
    return info


def run_dataset(run_dir: Path, env, env_params):
    """(dataset, meta-epoch) of a run: its newest orbax checkpoint, or, where the checkpoints are
    not kept (they are git-ignored), its exported dataset.npz and run.json. The meta-epoch is the
    run's length (the dataset kept may be an earlier one: run.json's best_check says which). A
    calibrated run's η (run.json ``eta_scale``, ``calibrate_run``) is η × scale either way."""
    if (run_dir / "checkpoints").is_dir():
        ds, meta = load_dataset_for_env(run_dir / "checkpoints", env, env_params)
        info = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
        return ds.replace(inner_lr=ds.inner_lr * float(info.get("eta_scale", 1.0))), int(meta["step"])
    ds, _ = load_dataset_for_env(run_dir / "dataset.npz", env, env_params)
    return ds, int(json.loads((run_dir / "run.json").read_text())["meta_epochs"])


def evaluate_run(run_dir: Path, result_path: Path, dims: int, k: int, dists: list[str], modes: list[str],
                 learners: int, episodes: int, seed: int, train_dist: str, mesh=None, *,
                 machine: Callable[[], dict]) -> dict:
    """k-shot results of the dataset of ``run_dir`` (``run_dataset``; see ``evaluate_dataset``)."""
    task = make_task(CARTPOLE_ID, {"num_dims": dims})
    ds, step = run_dataset(run_dir, task.env, task.env_params)
    run_info = json.loads((run_dir / "run.json").read_text())
    extra = {"train_wall_s": run_info.get("train_wall_s"), "config": run_info.get("config"),
             "best_check": run_info.get("best_check"), "check": run_info.get("check"),
             "eta_scale": run_info.get("eta_scale")}
    return evaluate_dataset(ds, step, run_dir.name, result_path, dims, k, dists, modes, learners, episodes, seed,
                            train_dist, extra, mesh, machine=machine)


def evaluate_authors(path: Path, result_path: Path, dims: int, dists: list[str], modes: list[str], learners: int,
                     episodes: int, seed: int, mesh=None, *, machine: Callable[[], dict]) -> dict:
    """k-shot results of the paper authors' own dataset at ``path`` (their npz, k = N + 1) with
    our evaluator, so the paper's cells can be told apart from our datasets' differences."""
    task = make_task(CARTPOLE_ID, {"num_dims": dims})
    ds, _ = load_dataset_for_env(path, task.env, task.env_params)
    extra = {"source": str(path), "config": None}
    return evaluate_dataset(ds, 0, f"{AUTHORS} {dims}d", result_path, dims, int(ds.x.shape[0]), dists, modes,
                            learners, episodes, seed, AUTHORS, extra, mesh, machine=machine)


def evaluate_dataset(ds, step: int, name: str, result_path: Path, dims: int, k: int, dists: list[str],
                     modes: list[str], learners: int, episodes: int, seed: int, train_dist: str, extra: dict,
                     mesh=None, *, machine: Callable[[], dict]) -> dict:
    """k-shot results of ``ds`` (re-used from ``result_path`` when the dataset's meta-epoch and η,
    learners, episodes and seed match and every distribution is there); new results are written
    to ``result_path`` with the stamp ``machine()`` and the fields of ``extra``."""
    task = make_task(CARTPOLE_ID, {"num_dims": dims})
    if int(ds.x.shape[0]) != k:
        raise RunMismatch(f"{name}: its dataset has k = {int(ds.x.shape[0])}, but this cell is k = {k}; "
                          f"choose another --out (nothing was written)")
    old = json.loads(result_path.read_text()) if result_path.exists() else None
    same = old is not None and all(old.get(a) == b for a, b in (("meta_epochs", step), ("learners", learners),
                                                                 ("episodes", episodes), ("seed", seed),
                                                                 ("inner_lr", float(ds.inner_lr))))
    todo = [d for d in dists if not (same and all(m in old["results"].get(d, {}) for m in modes))]
    if not todo:
        print(f"[{name}] k-shot results up to date", file=sys.stderr, flush=True)
        return old
    print(f"[{name}] k-shot evaluation at meta-epoch {step}: {learners} learners × {len(todo)} "
          f"distributions", file=sys.stderr, flush=True)
    t = time.time()
    out = run_kshot(ds, task.env, task.env_params, todo, modes, learners, episodes, seed, chunk=1000, mesh=mesh)
    results = {**(old["results"] if same else {}), **out["results"]}
    res = {"dims": dims, "k": k, "meta_epochs": step, "train_dist": train_dist, "learners": learners,
           "episodes": episodes, "seed": seed, "inner_lr": float(ds.inner_lr), "modes": modes,
           "eval_wall_s": round(time.time() - t, 2), **extra, "machine": machine(), "results": results}
    if is_main_process():
        result_path.parent.mkdir(parents=True, exist_ok=True)
        write_json(result_path, res)
    return res


def grid_of_run(run_dir: Path, out_path: Path, dims: int, learners: int, seed: int, mesh=None) -> Path | None:
    """Table 6's grid (Λ's init on L 0..5 tanh hidden layers × h 32..256) on the run's dataset,
    ``learners`` per cell, as markdown at ``out_path`` (kept while the run's meta-epoch is unchanged)."""
    task = make_task(CARTPOLE_ID, {"num_dims": dims})
    ds, step = run_dataset(run_dir, task.env, task.env_params)
    info = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    best, scale = info.get("best_check"), info.get("eta_scale", 1.0)
    kept = (f"dataset of meta-epoch {best['meta_epoch']} of {step}" if best else f"meta-epoch {step}") + (
        f", η × {scale:g} (calibrated)" if scale != 1.0 else "")
    head = (f"Table 6 grid on `{run_dir.name}` ({kept}), {learners} fresh learners per cell, "
            f"seed {seed}; mean ± std over learners")
    if out_path.exists() and out_path.read_text().startswith(head):
        return out_path
    print(f"[{run_dir.name}] Table 6 grid: {learners} learners × 21 cells", file=sys.stderr, flush=True)
    out = run_kshot(ds, task.env, task.env_params, [], ["sampled", "greedy"], learners, 1, seed, chunk=1000,
                    grid=True, mesh=mesh)
    if is_main_process():
        out_path.write_text(head + "\n\n" + kshot_tables(default_label(dims, int(ds.x.shape[0])), out,
                                                         ["sampled", "greedy"]) + "\n")
    return out_path


def release_compiled() -> None:
    """Drops every compiled JAX program of this process (``jax.clear_caches``). A whole-table run
    compiles a few hundred programs (a meta-step per run; learners of each distribution, depth
    group and grid cell per dataset); kept alive, their code mappings reached the kernel's limit
    (vm.max_map_count, 65530 here) and XLA:CPU failed with "LLVM compilation error: Cannot allocate
    memory" at N = 2. Call it between cells; the persistent compilation cache makes recompiling cheap."""
    import jax

    jax.clear_caches()


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
    order = sorted(results, key=lambda r: (r["dims"], r["k"], r["train_dist"] != AUTHORS, r["train_dist"] != "ortho",
                                           r["train_dist"]))
    last = None
    for r in order:
        label = default_label(r["dims"], r["k"])
        if (r["dims"], r["k"]) != last:
            lines.append(f"| **{label}** | paper | " + " | ".join(paper_cell(r["dims"], r["k"], d) for d in dists) + " |")
            last = (r["dims"], r["k"])
        trained = ("" if r["train_dist"] == "ortho" else ", authors' dataset" if r["train_dist"] == AUTHORS
                   else f", trained on {r['train_dist']}")
        who = "authors' dataset, our evaluator" if r["train_dist"] == AUTHORS else None
        for m in modes:
            cells = [cell(r["results"].get(d, {}).get(m)) for d in dists]
            lines.append(f"| {label} | {who + ', ' + m if who else f'ours, {m}{trained}'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def runs_markdown(results: list[dict]) -> str:
    lines = ["| dataset | trained against | meta-epochs | dataset kept (check: worst column / its bar) | P | X, Y lr "
             "| inner lr | distil s | k-shot eval s | learners |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: (r["dims"], r["k"], r["train_dist"])):
        if r["train_dist"] == AUTHORS:
            continue
        cfg, best = r.get("config") or {}, r.get("best_check")
        kept = ("last" if not best else f"{best['meta_epoch']} ({best['worst_ratio']:.2f})" if "worst_ratio" in best
                else f"{best['meta_epoch']} (Λ check: {best['lambda_mean']:.1f})")
        lines.append(f"| {default_label(r['dims'], r['k'])} | {r['train_dist']} | {r['meta_epochs']} | {kept} | "
                     f"{cfg.get('population', '?')} | {cfg.get('lr', '?')} | {r['inner_lr']:.3g}"
                     + (f" (= trained × {r['eta_scale']:g})" if r.get("eta_scale") not in (None, 1.0) else "") + " | "
                     f"{r.get('train_wall_s')} | {r.get('eval_wall_s')} | {r['learners']} |")
    return "\n".join(lines)


def verdict(ours: dict | None, dims: int, k: int, dist: str) -> tuple[str, bool | None]:
    """(cell text, passed) of one column: ours − the paper's mean ± the standard error of that
    difference (both over their learners; the paper's n = 1000), ✓ when ours ≥ the paper's mean
    (and, for Λ at k = N + 1, ≥ ``LAMBDA_FLOOR``); ("—", None) where either number is missing."""
    p = table1_cell(dims, k, dist)
    if ours is None or p is None:
        return "—", None
    diff = ours["mean"] - p[0]
    se = math.sqrt(ours["std"] ** 2 / max(ours["n"], 1) + p[1] ** 2 / 1000)
    ok = ours["mean"] >= (column_target(dims, k, dist) or p[0])
    return f"{'✓' if ok else '✗'} {diff:+.1f} ± {se:.1f}", ok


def verdicts_markdown(results: list[dict], mode: str = "sampled") -> str:
    """Per dataset and training distribution: every column's verdict (``verdict``) and the count
    of cells at or above the paper. Random L is judged twice: with tanh (the paper's text) and
    without activations (what the paper's number came from)."""
    cols = ["ortho", "ortho-std1", "xe", "xe-std1", "random-h", "random-L", "random-L-noact"]
    lines = ["| dataset | trained on | " + " | ".join(COLUMN_TITLES[c] for c in cols) + " | ≥ paper (6 columns) |",
             "|---|---|" + "---|" * (len(cols) + 1)]
    totals: dict[str, list[int]] = {}
    for r in sorted(results, key=lambda r: (r["dims"], r["k"], r["train_dist"])):
        if r["train_dist"] == AUTHORS:
            continue
        cells = [verdict(r["results"].get(c, {}).get(mode), r["dims"], r["k"], c) for c in cols]
        passed = [ok for (_, ok), c in zip(cells, cols) if c != "random-L-noact" and ok is not None]
        t = totals.setdefault(r["train_dist"], [0, 0])
        t[0], t[1] = t[0] + sum(passed), t[1] + len(passed)
        lines.append(f"| {default_label(r['dims'], r['k'])} | {r['train_dist']} | " + " | ".join(c for c, _ in cells)
                     + f" | {sum(passed)}/{len(passed)} |")
    if not totals:
        return "- (no results yet)"
    lines += ["", *[f"- trained on {d}: **{a}/{b}** measured cells at or above the paper's mean ({mode} actions; "
                    f"Random L with tanh)" for d, (a, b) in totals.items()]]
    rows = [(r["dims"], r["k"]) for r in results if r["train_dist"] != AUTHORS]
    if len(totals) > 1 and len(rows) == len(set(rows)):  # one dataset per (N, k): the table's own total
        lines.append(f"- the whole table (one dataset per row): **{sum(a for a, _ in totals.values())}/"
                     f"{sum(b for _, b in totals.values())}** cells at or above the paper's mean")
    return "\n".join(lines)


def plot_columns(results: list[dict], path: Path, mode: str = "sampled") -> Path | None:
    """OUT/table1_columns.png: one panel per learner distribution, the datasets along x, bars of
    the paper's mean and of each training distribution's (authors' datasets included) with
    standard-error whiskers. None (nothing drawn) when there are no results."""
    if not results:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = ["ortho", "ortho-std1", "xe", "xe-std1", "random-h", "random-L", "random-L-noact"]
    cells = sorted({(r["dims"], r["k"]) for r in results})
    sources = sorted({r["train_dist"] for r in results}, key=lambda t: (t != AUTHORS, t))
    by = {(r["dims"], r["k"], r["train_dist"]): r for r in results}
    fig, axes = plt.subplots(2, 4, figsize=(18, 7.5))
    x, w = np.arange(len(cells)), 0.8 / (1 + len(sources))
    for ax, c in zip(axes.flat, cols):
        paper = [table1_cell(d, k, c) for d, k in cells]
        ax.bar(x, [p[0] if p else np.nan for p in paper], w, color="0.6", label="paper")
        for i, src in enumerate(sources, 1):
            vals = [by.get((d, k, src), {}).get("results", {}).get(c, {}).get(mode) for d, k in cells]
            ax.bar(x + i * w, [v["mean"] if v else np.nan for v in vals], w,
                   yerr=[v["std"] / math.sqrt(v["n"]) if v else 0 for v in vals], capsize=2,
                   label="authors' dataset, our evaluator" if src == AUTHORS else f"ours ({src})")
        ax.set_xticks(x + 0.4 - w / 2, [f"{d}D k{k}" for d, k in cells], rotation=60, fontsize=8)
        ax.set_title(COLUMN_TITLES[c], fontsize=10)
        ax.set_ylim(0, 510)
    axes.flat[-1].axis("off")
    axes.flat[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Table 1 by column: mean return over fresh learners ({mode} actions), ± standard error", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_results_md(out: Path, dists: list[str], modes: list[str], argv: list[str], *,
                     machine: Callable[[], dict]) -> Path:
    """Rebuilds OUT/RESULTS.md from every OUT/results/*.json (``machine()`` stamps it when there
    are none yet) and returns its path."""
    results = [json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))]
    stamp = results[-1]["machine"] if results else machine()
    dates = sorted(r["machine"]["date_utc"] for r in results) or [stamp["date_utc"]]
    dated = dates[0] if dates[0] == dates[-1] else f"{dates[0]} – {dates[-1]}"
    all_dists = [d for d in DIST_DESCRIPTIONS if any(d in r["results"] for r in results)] or dists
    columns_png = plot_columns(results, out / "table1_columns.png")
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
        "## Verdicts: ours − paper per cell",
        "",
        "Sampled actions (the paper's protocol). Each cell: ✓ if our mean ≥ the paper's (Λ at k = N + 1: "
        f"and ≥ {LAMBDA_FLOOR:g}), then ours − paper ± the standard error of that difference "
        "(std/√n of both; the paper's n = 1000).",
        "",
        verdicts_markdown(results),
        *(["", f"![{columns_png.name}]({columns_png.name})"] if columns_png else []),
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
    grids = sorted(p.name for p in out.glob("table6_*.md"))
    if grids:
        text += ["## Table 6 grids (each k_min dataset; Λ's init on L tanh hidden layers × width h)", "",
                 *[f"- [{g}]({g})" for g in grids], ""]
    notes = out / "NOTES.md"
    if notes.exists():
        text += [notes.read_text().rstrip(), ""]
    path = out / "RESULTS.md"
    path.write_text("\n".join(text))
    return path
