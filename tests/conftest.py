"""Shared test fixtures and paths."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFDATA = REPO.parent / "shared" / "refdata"


@pytest.fixture(scope="session")
def refdata() -> Path:
    if not REFDATA.is_dir():
        pytest.skip(f"reference datasets not found at {REFDATA} (shared/ must sit beside the repo)")
    return REFDATA


def run_cli(module: str, *args: str, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Runs ``python -m module args`` in a subprocess (the package from src/ first on the path)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("JAX_PLATFORMS", "cpu")
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd or REPO)
