"""Shared pieces of the experiment CLIs: clean errors, CSV logs, learning-curve plots."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Iterable, NoReturn

import numpy as np


class UsageError(Exception):
    """Bad user input: reported as one line, exit status 2, nothing written."""


def fail(msg: str, code: int = 2) -> NoReturn:
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "rlsl_jax"
    print(f"{prog}: error: {msg}", file=sys.stderr)
    raise SystemExit(code)


def run_main(main) -> None:
    """Calls ``main()`` and turns UsageError into one error line + exit 2."""
    try:
        main()
    except UsageError as e:
        fail(str(e))


class CSVLog:
    """Appends rows of scalars to ``path`` (header written once; resumable)."""

    def __init__(self, path: Path, fields: Iterable[str]):
        self.path, self.fields = Path(path), list(fields)
        if not self.path.exists():
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self.fields)

    def write(self, rows: list[dict]) -> None:
        with self.path.open("a", newline="") as f:
            w = csv.writer(f)
            for r in rows:
                w.writerow([_fmt(r.get(k, "")) for k in self.fields])

    def truncate_after(self, field: str, value: float) -> None:
        """Drops rows with ``field`` > value (used on resume: the checkpoint is the truth)."""
        if not self.path.exists():
            return
        with self.path.open() as f:
            rows = list(csv.DictReader(f))
        with self.path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(self.fields)
            for r in rows:
                if float(r[field]) <= value:
                    w.writerow([r.get(k, "") for k in self.fields])


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def read_csv(path: Path) -> dict[str, np.ndarray]:
    with Path(path).open() as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {k: np.array([float(r[k]) if r[k] not in ("", "nan") else np.nan for r in rows]) for k in rows[0]}


def running_mean(xs: np.ndarray, ys: np.ndarray, min_points: int = 50) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Trailing mean of the finite points of ``ys`` over a window of 1/25 of them (>= 2) ->
    (x, mean, window), or None when there are fewer than ``min_points`` finite points."""
    ok = np.isfinite(ys)
    n = int(ok.sum())
    if n < min_points:
        return None
    w = max(2, n // 25)
    return xs[ok][w - 1:], np.convolve(ys[ok], np.ones(w) / w, mode="valid"), w


def plot_curve(log_path: Path, out_png: Path, x: str, ys: list[str], title: str) -> None:
    """Plots columns ``ys`` of a CSV log against ``x`` into ``out_png``; noisy per-meta-epoch
    series (50 points or more) get their trailing mean drawn over them (:func:`running_mean`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = read_csv(log_path)
    if not data:
        return
    fig, axes = plt.subplots(1, len(ys), figsize=(4.5 * len(ys), 3.4), squeeze=False)
    for ax, y in zip(axes[0], ys):
        ok = np.isfinite(data[y])
        smooth = running_mean(data[x], data[y])
        ax.plot(data[x][ok], data[y][ok], lw=0.8 if smooth else 1, alpha=0.4 if smooth else 1)
        if smooth:
            ax.plot(smooth[0], smooth[1], lw=1.8, color="C1", label=f"mean of the last {smooth[2]} points")
            ax.legend(fontsize=7)
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel(y.replace("_", " "))
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def write_json(path: Path, obj) -> None:
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=float))
    os.replace(tmp, path)


def add_parallel_args(parser, devices: bool = True, what: str = "learners and envs") -> None:
    """--devices (shard over a device mesh, see rlsl_jax.parallel) and --distributed (multi-host)
    with its optional cluster flags. ``devices=False``: only the multi-host flags."""
    g = parser.add_argument_group("parallel execution (README: Several devices and hosts)")
    if devices:
        g.add_argument("--devices", type=int, default=None,
                       help=f"shard {what} over this many devices (default 1; 0 = every device of every "
                            f"process; with --distributed the default and only choice is every device)")
    g.add_argument("--distributed", action="store_true",
                   help="multi-host run: jax.distributed.initialize() before anything else; the cluster comes "
                        "from SLURM (srun) or from the three flags below; start one process per host, all with "
                        "the same flags and a shared --out; only process 0 writes logs, progress bars and "
                        "results (orbax coordinates checkpoints)")
    g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="with --distributed, outside SLURM: address of process 0")
    g.add_argument("--num-processes", type=int, default=None, help="with --distributed, outside SLURM: process count")
    g.add_argument("--process-id", type=int, default=None, help="with --distributed, outside SLURM: this process, 0-based")


def setup_parallel(args, sizes: dict[str, int] | None = None):
    """Initialises the multi-host runtime for --distributed (if the package import has not) and
    returns the device mesh for --devices (None for one device). ``sizes`` ({"--flag": value})
    must be multiples of the device count (UsageError naming them otherwise)."""
    from rlsl_jax import parallel

    cluster = [f for f in ("coordinator", "num_processes", "process_id") if getattr(args, f, None) is not None]
    if cluster and not args.distributed:
        raise UsageError(f"--{cluster[0].replace('_', '-')} needs --distributed")
    devices = getattr(args, "devices", None)
    if devices is not None and devices < 0:
        raise UsageError(f"--devices must be >= 0 (got {devices})")
    if args.distributed:
        import jax

        kw = {k: getattr(args, f) for f, k in (("coordinator", "coordinator_address"),
                                                ("num_processes", "num_processes"), ("process_id", "process_id"))
              if getattr(args, f) is not None}
        try:
            parallel.initialize_distributed(**kw)
        except (RuntimeError, ValueError) as e:
            raise UsageError(f"--distributed: jax.distributed.initialize() failed: {e}") from e
        if devices not in (None, 0, jax.device_count()):
            raise UsageError(f"--devices {devices}: with --distributed every device of every process is used "
                             f"(0 or {jax.device_count()})")
        devices = 0
    n = 1 if devices is None else devices
    if n == 1:
        return None
    try:
        mesh = parallel.make_mesh(None if n == 0 else n)
    except ValueError as e:
        raise UsageError(f"--devices: {e}") from e
    bad = {k: v for k, v in (sizes or {}).items() if v % mesh.size}
    if bad:
        raise UsageError(", ".join(f"{k} ({v})" for k, v in bad.items())
                         + (" must be a multiple" if len(bad) == 1 else " must be multiples")
                         + f" of the device count ({mesh.size})")
    return mesh


def is_main_process() -> bool:
    """Process 0 (always true without --distributed): the one that prints and writes files."""
    from rlsl_jax.parallel import is_main_process as main

    return main()
