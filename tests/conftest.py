"""Shared test fixtures and paths."""

import importlib.util
import json
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


def cli_help(module: str, *args: str) -> str:
    """``python -m module *args --help``'s stdout, run in this process (cheaper than a subprocess; the
    help is formatted for 80 columns, as in a subprocess whose output is piped)."""
    import importlib
    import io
    from contextlib import redirect_stdout
    from unittest import mock

    buf = io.StringIO()
    with mock.patch.dict(os.environ, {"COLUMNS": "80"}), redirect_stdout(buf), pytest.raises(SystemExit) as e:
        importlib.import_module(module).main([*args, "--help"])
    assert e.value.code == 0
    return buf.getvalue()


def run_script_json(script: str, *args: str, timeout: float = 300) -> dict:
    """Runs ``python -c script args`` (the package from src/, CPU) and returns the JSON object it
    prints on its last line; the script's own stderr in the assertion message if it fails. Used for
    cases that need a fresh JAX (e.g. a simulated device count set before JAX starts)."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=timeout,
                       env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture
def experiment_script():
    """``experiment_script("mujoco/target_probe")``: the module of experiments/<name>.py (scripts, not a package)."""
    def load(name: str):
        spec = importlib.util.spec_from_file_location(Path(name).name, REPO / "experiments" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    return load
