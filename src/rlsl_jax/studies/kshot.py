"""k-shot evaluation of one N-D cart-pole dataset (the paper's Table 1 columns and Table 6's grid).

For every learner distribution, M fresh learners are sampled (one key per distribution, from the
seed and the distribution's name, so a subset of distributions reproduces a full run), trained by
ONE SGD step on the dataset and run for E episodes; the same learners act once with SAMPLED
actions (the paper's protocol) and once GREEDILY (argmax). ``run_kshot`` returns the summaries;
``dist_table`` / ``grid_table`` / ``kshot_tables`` write them as markdown in the paper's layouts.
"""

from __future__ import annotations

import sys
import time
import zlib

import jax

from rlsl_jax.checkpoint import load_dataset
from rlsl_jax.envs import make
from rlsl_jax.evaluate import MODES, check_dataset, dataset_dims, evaluate_modes, expected_shapes
from rlsl_jax.networks.distributions import (DIST_NAMES, GRID_DEPTHS, GRID_WIDTHS, grid_dists, make_learner_dist,
                                             parse_dist_names)
from rlsl_jax.tasks.cartpole import CARTPOLE_ID

COLUMN_TITLES = {"ortho": "Λ (ortho)", "ortho-std1": "Ortho std=1", "xe": "Xe", "xe-std1": "Xe std=1",
                 "random-h": "Random h", "random-L": "Random L", "random-L-noact": "Random L, no act."}


def cell(r: dict | None) -> str:
    """A table cell: "mean ± std" of a summary (one decimal), "—" when missing."""
    return "—" if r is None else f"{r['mean']:.1f} ± {r['std']:.1f}"


def parse_modes(text: str) -> list[str]:
    """Comma-separated action modes -> list without repeats; ValueError naming the choices."""
    modes = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if not modes or bad:
        raise ValueError(f"--modes {text!r}: choose one or more of {', '.join(MODES)}")
    return list(dict.fromkeys(modes))


def parse_dists(text: str | None, grid: bool = False) -> list[str]:
    """Learner distributions to evaluate: comma-separated names or "all"; None means ortho, or none
    with Table 6's ``grid``. ValueError naming the valid choices."""
    text = text if text is not None else ("" if grid else "ortho")
    try:
        return parse_dist_names(text, DIST_NAMES) if text else []
    except ValueError as e:
        raise ValueError(f"--dist: {e}") from e


def load_cartpole(path, dims: int | None = None):
    """(dataset, metadata, N, env, env_params) of a cart-pole dataset at ``path`` (our orbax run or
    step folder, our npz, an authors' npz). ``dims`` None: the N the dataset records. ValueError (one
    line naming both shapes) when N is unknown or does not fit the dataset."""
    try:
        ds, meta = load_dataset(path)
    except FileNotFoundError as e:
        raise ValueError(str(e)) from e
    recorded = dataset_dims(meta)
    dims = dims if dims is not None else recorded
    if dims is None:
        raise ValueError(f"--dims is required: {path} does not record its N (x {list(ds.x.shape)})")
    if recorded is not None and recorded != dims:
        raise ValueError(f"{path} is a {recorded}-D dataset (x {list(ds.x.shape)}, y {list(ds.y.shape)}) "
                         f"but --dims {dims} needs x [k, {4 * dims}], y [k, {2 * dims}]")
    env, env_params = make(CARTPOLE_ID, num_dims=dims)
    check_dataset(ds, env, env_params, source=str(path))
    return ds, meta, dims, env, env_params


def dist_key(seed: int, name: str) -> jax.Array:
    """A key per distribution from the seed and its name (so subsets reproduce full runs)."""
    return jax.random.fold_in(jax.random.key(seed), zlib.crc32(name.encode()) & 0x7FFFFFFF)


def default_label(dims: int, k: int) -> str:
    return f"{dims}D {k}-shot"


def run_kshot(ds, env, env_params, dists: list[str], modes: list[str], learners: int, episodes: int, seed: int,
              chunk: int, grid: bool = False, log=None, mesh=None) -> dict:
    """Evaluates ``dists`` (and Table 6's grid) on ``ds``: {"results": {dist: {mode: summary}},
    "grid": {cell: {mode: summary}}, "wall_s": {...}}. With a device ``mesh`` every call's learners
    are sharded over its devices (same numbers as one device). ``log``: progress lines (default
    stderr)."""
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
        log(f"  {name:>15s}: " + ", ".join(f"{m} {cell(r[m])}" for m in modes) + f"  ({wall:.1f} s)")
        return r, wall

    for name in dists:
        out["results"][name], out["wall_s"][name] = one(name, make_learner_dist(name, obs_dim, num_actions))
    if grid:
        out["grid"] = {}
        for dist in grid_dists(obs_dim, num_actions, GRID_DEPTHS, GRID_WIDTHS).values():
            out["grid"][dist.name], out["wall_s"][dist.name] = one(dist.name, dist)
    return out


def dist_table(label: str, results: dict[str, dict], modes: list[str]) -> str:
    """Markdown: one row per mode, one column per distribution (the paper's Table 1 layout)."""
    names = list(results)
    lines = ["| dataset | actions | " + " | ".join(COLUMN_TITLES.get(n, n) for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for m in modes:
        lines.append(f"| {label} | {m} | " + " | ".join(cell(results[n].get(m)) for n in names) + " |")
    return "\n".join(lines)


def grid_table(grid: dict[str, dict], mode: str, depths, widths) -> str:
    """Markdown: Table 6, rows L, columns h; L = 0 (a linear map) has one value for every h."""
    lines = [f"| L \\ h ({mode}) | " + " | ".join(str(w) for w in widths) + " |", "|---|" + "---|" * len(widths)]
    for d in depths:
        cells = [cell(grid.get("L0" if d == 0 else f"L{d}-h{w}", {}).get(mode)) for w in widths]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def kshot_tables(label: str, out: dict, modes: list[str]) -> str:
    """The markdown of a ``run_kshot`` result: the distribution table (if any distribution was
    evaluated), then one Table 6 grid per mode (if the grid was)."""
    tables = [dist_table(label, out["results"], modes)] if out["results"] else []
    if "grid" in out:
        tables += [f"Table 6 grid, {label}:\n\n" + grid_table(out["grid"], m, GRID_DEPTHS, GRID_WIDTHS) for m in modes]
    return "\n\n".join(tables)
