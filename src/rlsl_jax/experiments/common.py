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


def plot_curve(log_path: Path, out_png: Path, x: str, ys: list[str], title: str) -> None:
    """Plots columns ``ys`` of a CSV log against ``x`` into ``out_png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = read_csv(log_path)
    if not data:
        return
    fig, axes = plt.subplots(1, len(ys), figsize=(4.5 * len(ys), 3.4), squeeze=False)
    for ax, y in zip(axes[0], ys):
        ax.plot(data[x], data[y], lw=1)
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


def add_parallel_args(parser) -> None:
    """--devices: shard over several local devices (see rlsl_jax.parallel)."""
    g = parser.add_argument_group("parallel execution")
    g.add_argument("--devices", type=int, default=1,
                   help="shard learners and envs over this many devices (0 = all devices)")


def setup_parallel(args):
    """Returns the device mesh for --devices (None for one device)."""
    from rlsl_jax import parallel

    if args.devices == 1:
        return None
    try:
        return parallel.make_mesh(None if args.devices == 0 else args.devices)
    except ValueError as e:
        raise UsageError(f"--devices: {e}") from e
