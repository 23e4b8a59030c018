"""Results as people read them: learning-curve plots, markdown tables, marked blocks of
RESULTS.md files, and the machine/date stamp every measured number carries."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import numpy as np

from rlsl_jax.logs import read_csv


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


def fmt(r: dict | None, digits: int = 1) -> str:
    """"mean ± std" of a result dict, or "—" when missing."""
    if r is None:
        return "—"
    return f"{r['mean']:.{digits}f} ± {r['std']:.{digits}f}"


def gap_closed(score: float, reference: float, floor: float) -> float | None:
    """(score − floor) / (reference − floor): the share of the gap from ``floor`` (e.g. untrained
    learners) to ``reference`` (e.g. direct PPO) that ``score`` closes; None where the reference is
    not above the floor. Unlike score / reference it is meaningful for negative returns."""
    return None if reference <= floor else (score - floor) / (reference - floor)


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A markdown table: one header row, then ``rows`` (cells converted with str)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write_marked_block(path: Path, block: str, begin: str, end: str, title: str) -> None:
    """Replaces the text from ``begin`` to ``end`` in ``path`` by ``block`` (which holds both markers),
    keeping everything outside them; a new file gets ``title``, an unmarked one gets the block appended."""
    path = Path(path)
    old = path.read_text() if path.exists() else f"{title}\n\n{begin}\n{end}\n"
    if begin in old and end in old:
        new = old[: old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new)


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def machine_string() -> str:
    """"<device kind or CPU, n cores (processor)>; jax <version>" of this process's first device."""
    import jax

    dev = jax.devices()[0]
    kind = dev.device_kind if dev.platform != "cpu" else f"CPU, {os.cpu_count()} cores ({platform.processor() or platform.machine()})"
    return f"{kind}; jax {jax.__version__}"


def machine_info() -> dict:
    """Platform, processor, cores, jax version, backend, devices and the UTC date, as a dict."""
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"platform": platform.platform(), "processor": cpu,
            "cpu_count": os.cpu_count(), "jax": jax.__version__, "backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()], "date_utc": utc_now()}
