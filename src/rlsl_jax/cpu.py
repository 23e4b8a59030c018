"""CPU-backend workarounds (docs/design.md section 4, "Known traps"), measured on the 2-core CPU with jaxlib 0.10.2.

XLA:CPU computes QR decompositions (orthogonal initialisers) by calling LAPACK from scipy's
bundled OpenBLAS. OpenBLAS's own thread pool competes with XLA's threads: a 256 x 256 QR took
~176 ms with OpenBLAS's default threads and ~3 ms with one thread (128 x 128: 25 ms vs 1.1 ms).
``limit_blas_threads(1)`` sets that pool's size at runtime; the k-shot and Table-1 CLIs call it.
(It does NOT cure the batched-QR deadlock of docs/design.md section 4, "Known traps": that needs sequential QRs.)
"""

from __future__ import annotations

import ctypes


def _openblas_libs() -> list[str]:
    """Paths of the OpenBLAS shared libraries mapped into this process (Linux only)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if len(line.split()) >= 6}
    except OSError:
        return []
    return sorted(p for p in paths if p.startswith("/") and "openblas" in p.rsplit("/", 1)[-1].lower())


def limit_blas_threads(num: int = 1) -> list[str]:
    """Sets the thread count of every OpenBLAS loaded in this process (after jax's LAPACK is
    loaded: call it after a first QR or after ``ensure_lapack_loaded``). Returns the libraries
    changed (empty on other platforms or BLAS builds; then it is a no-op)."""
    changed = []
    for path in _openblas_libs():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for sym in ("scipy_openblas_set_num_threads", "openblas_set_num_threads",
                    "scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_"):
            fn = getattr(lib, sym, None)
            if fn is not None:
                fn(ctypes.c_int(num))
                changed.append(path)
                break
    return changed


def ensure_lapack_loaded() -> None:
    """Runs one tiny QR on the default backend so that jax's LAPACK (and its BLAS) is loaded."""
    import jax
    import jax.numpy as jnp

    if jax.default_backend() == "cpu":
        jax.block_until_ready(jnp.linalg.qr(jnp.eye(2)))


def configure_cpu(num_blas_threads: int = 1) -> list[str]:
    """On the CPU backend: load LAPACK and limit OpenBLAS to ``num_blas_threads``."""
    import jax

    if jax.default_backend() != "cpu":
        return []
    ensure_lapack_loaded()
    return limit_blas_threads(num_blas_threads)
