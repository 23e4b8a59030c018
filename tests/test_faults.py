"""Faults and bad input at the command line (README: Guarantees).

* SIGKILL: a tiny 1-D cart-pole distillation is killed at random moments after its first
  checkpoint, resumed with --resume until done, and its dataset.npz and log.csv equal an
  uninterrupted run's bit for bit. All runs share one fresh JAX persistent compilation cache:
  the uninterrupted run compiles (and fills it), the killed and resumed ones load from it, so the
  equality also shows that the cache does not change numbers.
* Damaged checkpoints: --resume past a damaged newest step falls back to the step before (one
  stderr line naming it) and ends with the uninterrupted run's dataset; with every step damaged
  it prints one error line, exits 2 and changes nothing.
* A run whose dataset turns NaN/inf stops with one error line and exit status 1; its newest
  checkpoint is finite and its log.csv holds the rows up to the failure.
* Bad input to every CLI: exit status 2, exactly one stderr line, no traceback, nothing written
  or overwritten (the tree under the test's directory hashed before and after). In-process
  ``main(argv)`` calls where a subprocess would only add start-up time; one real subprocess per CLI.

Set RLSL_FAULT_SEED to replay the random kill points of a failed run (the seed is in the message).
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import importlib.util
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from conftest import REPO
from rlsl_jax import cli

CARTPOLE = "rlsl_jax.experiments.cartpole"
TINY = ["--dims", "1", "--k", "2", "--num-envs", "2", "--rollout-steps", "16", "--minibatch-size", "8",
        "--update-epochs", "1", "--chunk", "1", "--checkpoint-every", "1", "--eval-every", "0", "--eval-learners", "0",
        "--no-progress"]
N = 10  # meta-epochs of the reference run (and of every run compared with it)
M = 7  # meta-epochs of the finished run whose checkpoints get damaged (it keeps steps 5, 6, 7)
NONFINITE_LR = "1e38"  # Adam steps of 1e38 on X, Y: the learner's forward pass overflows in meta-epoch 2
UNPRIVILEGED = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]  # root, but mode bits apply
SEED = int(os.environ.get("RLSL_FAULT_SEED") or random.SystemRandom().randrange(2**31))
HEAVY = ("test_sigkill", "test_damaged", "test_every_step_damaged", "test_nonfinite")


# --- helpers -----------------------------------------------------------------------------------

def tree_hash(d: Path) -> str:
    """Names and contents of everything under ``d``."""
    h = hashlib.sha256()
    for p in sorted(Path(d).rglob("*")):
        h.update(str(p.relative_to(d)).encode() + b"\0")
        if p.is_file() and not p.is_symlink():
            h.update(p.read_bytes())
    return h.hexdigest()


def newest_step(ckpt: Path) -> int | None:
    """The newest complete step folder (orbax renames a finished step's tmp folder to its number)."""
    try:
        steps = [int(p.name) for p in ckpt.iterdir() if p.name.isdigit()]
    except FileNotFoundError:
        return None
    return max(steps, default=None)


def same_arrays(a: Path, b: Path) -> None:
    with np.load(a) as za, np.load(b) as zb:
        assert sorted(za.files) == sorted(zb.files)
        for name in za.files:
            x, y = za[name], zb[name]
            assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), (
                f"{name}: {a} holds {x!r}, {b} holds {y!r}")


def same_log(path: Path, ref: Path, what: str = "") -> None:
    """``path`` holds the rows 1..N of ``ref`` (wall time aside)."""
    rows, want = log_rows(path), log_rows(ref)
    assert [r["meta_epoch"] for r in want] == [str(i) for i in range(1, N + 1)], f"{ref}: {want}"
    diff = [(i, a, b) for i, (a, b) in enumerate(zip(rows, want)) if a != b]
    assert len(rows) == len(want) and not diff, (
        f"{what}\n{path}: {len(rows)} rows, {ref}: {len(want)}; first difference: {diff[:1]}\n"
        f"{path.read_text()}")


def log_rows(path: Path) -> list[dict]:
    """log.csv rows without the wall-clock column."""
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in csv.DictReader(f)]


def stderr_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def truncate_files(step_dir: Path) -> None:
    for p in sorted(step_dir.rglob("*")):
        if p.is_file():
            with open(p, "r+b") as f:
                f.truncate(p.stat().st_size // 2)


def overwrite_files(step_dir: Path) -> None:
    rng = np.random.default_rng(SEED)
    for p in sorted(step_dir.rglob("*")):
        if p.is_file():
            p.write_bytes(b"\xff\xfegarbage" + rng.bytes(max(p.stat().st_size, 8)))


class Job:
    """``python -m module args`` started now (the package from src/, CPU, the test's compilation
    cache), waited for later; stdout/stderr go to files (no pipe to fill)."""

    def __init__(self, module: str, args: list[str], env: dict, cwd: Path, prefix: list[str] = ()):
        self.args = [*prefix, sys.executable, "-m", module, *map(str, args)]
        self._out, self._err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        self.p = subprocess.Popen(self.args, stdout=self._out, stderr=self._err, env=env, cwd=cwd)
        self.rc = self.stdout = self.stderr = None
        self._lock = threading.Lock()

    def wait(self, timeout: float = 300) -> "Job":
        with self._lock:
            if self.rc is None:
                try:
                    rc = self.p.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.close()
                    raise
                self._out.seek(0)
                self._err.seek(0)
                self.stdout, self.stderr = self._out.read().decode(), self._err.read().decode()
                self.rc = rc
        return self

    def kill(self) -> None:
        self.p.send_signal(signal.SIGKILL)

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


class Later:
    """A subprocess run by a thread: once ``after`` (a Later) has ended with exit status 0 and one of
    the background ``slots`` is free, ``make()`` prepares and starts it; the slot is held until it
    ends. ``wait()`` returns the ended Job (or raises what ``make`` raised)."""

    def __init__(self, make: Callable[[], Job], slots: threading.Semaphore, after: "Later | None" = None):
        self._make, self._slots, self._after = make, slots, after
        self._job: Job | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            if self._after is not None and self._after.wait().rc != 0:
                return
            with self._slots:
                self._job = self._make()
                self._job.wait(timeout=600)
        except BaseException as e:  # re-raised in the test that waits for this job
            self._error = e

    def wait(self, timeout: float = 900) -> Job:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "timed out"
        if self._error is not None:
            raise self._error
        assert self._job is not None, "the run this one continues failed (see the test that checks it)"
        return self._job


class Runs:
    """The subprocesses of this module. Those that need no test in between run in the background,
    two at a time, while the main thread runs the in-process cases and kills runs: the reference
    run (it fills the compilation cache), the non-finite run, the finished run to damage and the
    two resumes of damaged copies of it, and the one-per-CLI subprocess cases of bad input."""

    def __init__(self, root: Path, selected: set[str]):
        self.root, self.selected = root, selected
        self.env = dict(os.environ, PYTHONPATH=str(REPO / "src"), JAX_PLATFORMS="cpu",
                        RLSL_JAX_CACHE=str(root / "jax_cache"))
        self.slots = threading.Semaphore(2)
        self.jobs: dict[str, Later] = {}
        self.all: list[Job] = []
        self.closed = False
        self.hash_before: dict[str, str] = {}
        self.cases: dict[str, tuple] = {}  # subprocess case id -> (directory, paths, hash before, skip, Later)

    def wanted(self, *prefixes: str) -> bool:
        """Whether a selected test of this module starts with one of ``prefixes``."""
        return any(name.startswith(prefixes) for name in self.selected)

    def start(self, module: str, args: list[str], cwd: Path | None = None, prefix: list[str] = ()) -> Job:
        assert not self.closed
        job = Job(module, args, self.env, cwd or self.root, prefix)
        self.all.append(job)
        return job

    def cartpole(self, out: Path, meta_epochs: int, *extra: str) -> Job:
        return self.start(CARTPOLE, [*TINY, "--meta-epochs", str(meta_epochs), "--out", str(out), *extra])

    def named(self, name: str) -> Later:
        if name not in self.jobs:
            root, slots = self.root, self.slots
            self.jobs[name] = {
                "ref": lambda: Later(lambda: self.cartpole(root / "ref", N), threading.Semaphore()),  # no queue
                "nonfinite": lambda: Later(lambda: self.cartpole(root / "nonfinite", 6, "--lr", NONFINITE_LR), slots),
                "finished": lambda: Later(lambda: self.cartpole(root / "finished", M), slots, self.named("ref")),
                "damaged": lambda: Later(self._resume_damaged, slots, self.named("finished")),
                "all_damaged": lambda: Later(self._resume_all_damaged, slots, self.named("finished")),
            }[name]()
        return self.jobs[name]

    def _copy_finished(self, name: str) -> Path:
        out = self.root / name
        shutil.copytree(self.root / "finished", out)
        steps = sorted(int(p.name) for p in (out / "checkpoints").iterdir() if p.name.isdigit())
        assert steps == [M - 2, M - 1, M], steps
        return out

    def _resume_damaged(self) -> Job:
        out = self._copy_finished("damaged")
        truncate_files(out / "checkpoints" / str(M))
        return self.cartpole(out, N, "--resume")

    def _resume_all_damaged(self) -> Job:
        out = self._copy_finished("all_damaged")
        truncate_files(out / "checkpoints" / str(M))
        overwrite_files(out / "checkpoints" / str(M - 1))
        shutil.rmtree(out / "checkpoints" / str(M - 2) / "metadata")
        self.hash_before["all_damaged"] = tree_hash(out)
        return self.cartpole(out, N, "--resume")

    def submit_case(self, name: str, case: str, extra: list[str]) -> None:
        """Prepares a bad-input case in its own directory and runs it in the background."""
        module = f"rlsl_jax.experiments.{name}"
        d = self.root / "cases" / f"{name}-{case}"
        d.mkdir(parents=True)
        paths = make_inputs(d)
        skip, prefix = None, []
        if importlib.util.find_spec(module) is None:
            skip = f"{module} does not exist yet"
        elif "{ro}" in "".join(extra):
            skip, prefix = read_only(paths["ro"], subprocess_=True)
        argv = [a.format(**paths) for a in (*BASE[name], *extra)]
        later = None if skip else Later(lambda: self.start(module, argv, cwd=d, prefix=prefix), self.slots)
        self.cases[f"{name}-{case}"] = (d, paths, tree_hash(d), skip, later)

    def ref(self) -> Path:
        job = self.named("ref").wait()
        assert job.rc == 0 and (self.root / "ref" / "dataset.npz").is_file(), job.stderr
        return self.root / "ref"

    def close(self) -> None:
        self.closed = True
        for job in self.all:
            job.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request):
    selected = {getattr(item, "name", "") for item in request.session.items
                if getattr(item, "module", None) is not None and item.module.__name__ == __name__}
    r = Runs(tmp_path_factory.mktemp("faults"), selected)
    if r.wanted(*HEAVY):  # first: the kill test waits for it
        r.named("ref")
    for prefix, name in (("test_nonfinite", "nonfinite"), ("test_damaged", "damaged"),
                         ("test_every_step_damaged", "all_damaged")):
        if r.wanted(prefix):
            r.named(name)
    for name, case, extra, _, subprocess_, *_ in CASES:
        if subprocess_ and r.wanted(f"test_bad_input_one_line_exit_2_nothing_written[{name}-{case}]"):
            r.submit_case(name, case, extra)
    yield r
    r.close()


@pytest.fixture(scope="module", autouse=True)
def _start_runs_early(runs):
    yield


# --- bad input ---------------------------------------------------------------------------------

LEARN = ["--num-envs", "2", "--rollout-steps", "16", "--minibatch-size", "8", "--update-epochs", "1"]
BASE = {  # tiny budgets: a case that wrongly passes validation ends soon (and fails the test)
    "cartpole": [*TINY, "--meta-epochs", "1", "--out", "{out}"],
    "kshot": ["--learners", "2", "--chunk", "2", "--modes", "sampled"],
    "table1": ["--preset", "paper", "--out", "{out}", "--dims", "1", "--ks", "2", "--meta-epochs", "1", "--learners",
               "2", "--dists", "ortho", "--modes", "sampled", "--no-progress", *LEARN],
    "ppo": ["--out", "{out}", "--total-steps", "64", "--eval-episodes", "1", "--select-episodes", "0", "--no-progress",
            *LEARN],
    "kmin": ["--out", "{out}", "--dims", "1", "--ks", "1", "--seeds", "1", "--meta-epochs", "1", "--learners", "2",
             "--ppo-steps", "0", "--no-progress", *LEARN],
    "cost": ["--out", "{out}", "--meta-epochs", "1", "--ppo-steps", "64", "--ppo-agents", "1", "--learners", "1",
             "--eval-learners", "2"],
    "atari": ["--out", "{out}", "--game", "Pong", "--k", "2", "--meta-epochs", "1", "--eval-learners", "1",
              "--no-progress", *LEARN],
    "mujoco": ["--out", "{out}", "--env", "hopper", "--meta-epochs", "1", "--eval-learners", "1", "--no-progress",
               "--brax-backend", "spring", *LEARN],
    "minatar": ["--out", "{out}", "--game", "Breakout", "--meta-epochs", "1", "--eval-learners", "1", "--no-progress",
                *LEARN],
}

# (cli, case id, extra flags, a piece of the one error line, run as a subprocess). Placeholders:
# {out} absent; {file} an existing file; {notrun} a directory holding one unrelated file; {ro} a
# read-only directory; {garbage} bytes named .npz; {nan} an npz whose x is all NaN; {noy} an npz
# without y; {cp2d} a 2-D cart-pole npz; {atari} x [k, 4, 84, 84]; {mujoco} x [k, 11] with
# log_std and observation statistics; {minatar} x [k, 10, 10, 4].
CASES = [
    ("cartpole", "unknown-env", ["--env", "NoSuchEnv-v9"], "unknown env 'NoSuchEnv-v9'", False),
    ("cartpole", "k0", ["--k", "0"], "--k must be >= 1", False),
    ("cartpole", "negative-budget", ["--meta-epochs", "-5"], "--meta-epochs must be >= 0", False),
    ("cartpole", "resume-not-a-run", ["--resume", "--out", "{notrun}"], "no run in", False),
    ("cartpole", "resume-bad-run-json", ["--resume", "--out", "{badrun}"], "not a readable run description", False),
    ("cartpole", "out-is-file", ["--out", "{file}"], "is a file", False),
    ("cartpole", "out-under-file", ["--out", "{file}/run"], "is a file", False),
    ("cartpole", "out-read-only", ["--out", "{ro}/run"], "not writable", True),
    ("kshot", "garbage-npz", ["--dataset", "{garbage}"], "is not an npz dataset", False),
    ("kshot", "nan-npz", ["--dataset", "{nan}"], "non-finite", True),
    ("kshot", "npz-without-y", ["--dataset", "{noy}"], "lacks y", False),
    ("kshot", "dir-not-a-run", ["--dataset", "{notrun}"], "neither a run directory", False),
    ("kshot", "missing", ["--dataset", "{out}"], "no such file", False),
    ("kshot", "wrong-dims", ["--dataset", "{cp2d}", "--dims", "1"], "is a 2-D dataset", False),
    ("kshot", "atari-dataset", ["--dataset", "{atari}", "--dims", "1"], "needs x [k, 4]", False),
    ("kshot", "mujoco-dataset", ["--dataset", "{mujoco}", "--dims", "1"], "needs x [k, 4]", False),
    ("kshot", "negative-learners", ["--dataset", "{cp2d}", "--learners", "-1"], "--learners must be >= 1", False),
    ("kshot", "json-is-dir", ["--dataset", "{cp2d}", "--json", "{notrun}"], "is a directory, not a file", False),
    ("kshot", "json-under-file", ["--dataset", "{cp2d}", "--json", "{file}/r.json"], "is a file", False),
    ("kshot", "table-read-only", ["--dataset", "{cp2d}", "--table", "{ro}/t.md"], "not writable", False),
    ("kshot", "recorded-k-mismatch", ["--dataset", "{k5}"], "records k = 5 but x holds [3, 4]", False),
    ("table1", "dims0", ["--dims", "0"], "--dims must all be >= 1", False),
    ("table1", "k0", ["--ks", "0"], ">= 1", False),
    ("table1", "unknown-train-dist", ["--train-dist", "nosuch"], "--train-dist 'nosuch'", False),
    ("table1", "negative-budget", ["--meta-epochs", "-5"], "--meta-epochs must be >= 0", False),
    ("table1", "out-is-file", ["--out", "{file}"], "is a file", True),
    ("table1", "out-under-file", ["--out", "{file}/t1"], "is a file", False),
    ("table1", "out-read-only", ["--out", "{ro}/t1"], "not writable", False),
    ("table1", "eval-only-wrong-k", ["--eval-only", "--out", "{t1k}"], "k", False),
    ("ppo", "unknown-env", ["--env", "NoSuchEnv-v9"], "NoSuchEnv-v9", True),
    ("ppo", "seeds0", ["--seeds", "0"], "--seeds must be >= 1", False),
    ("ppo", "negative-budget", ["--total-steps", "-1"], "--total-steps must be >= 1", False),
    ("ppo", "out-is-file", ["--out", "{file}"], "{file}", False),
    ("ppo", "out-not-empty", ["--out", "{notrun}"], "nothing was overwritten", False),
    ("ppo", "out-under-file", ["--out", "{file}/ppo"], "is a file", False),
    ("ppo", "out-read-only", ["--out", "{ro}/ppo"], "not writable", False),
    ("kmin", "dims0", ["--dims", "0"], "--dims must be >= 1", False),
    ("kmin", "k0", ["--ks", "0"], "--ks must be >= 1", False),
    ("kmin", "negative-budget", ["--meta-epochs", "-5"], "--meta-epochs must be >= 1", False),
    ("kmin", "negative-ppo-steps", ["--ppo-steps", "-1"], "--ppo-steps must be >= 0", False),
    ("kmin", "resume-not-a-run", ["--resume", "--out", "{notrun}"], "--resume: no cells.jsonl", True),
    ("kmin", "out-is-file", ["--out", "{file}"], "is a file", False),
    ("kmin", "out-under-file", ["--out", "{file}/kmin"], "is a file", False),
    ("kmin", "out-read-only", ["--out", "{ro}/kmin"], "not writable", False),
    ("cost", "dims0", ["--dims", "0"], "--dims must be >= 1", False),
    ("cost", "k0", ["--k", "0"], "--k must be >= 1", True),
    ("cost", "negative-budget", ["--meta-epochs", "-1"], "--meta-epochs must be >= 1", False),
    ("cost", "negative-ppo-steps", ["--ppo-steps", "-5"], "--ppo-steps must be >= 1", False),
    ("cost", "out-is-file", ["--out", "{file}"], "is a file", False),
    ("cost", "out-under-file", ["--out", "{file}/cost"], "is a file", False),
    ("cost", "out-read-only", ["--out", "{ro}/cost"], "not writable", False),
    ("atari", "unknown-game", ["--game", "NoSuchGame"], "unknown game 'NoSuchGame'", False),
    ("atari", "k0", ["--k", "0"], "--k must be >= 1", False),
    ("atari", "negative-budget", ["--meta-epochs", "-1"], "--meta-epochs must be >= 0", False),
    ("atari", "resume-not-a-run", ["--resume", "--out", "{notrun}"], "no run in", False),
    ("atari", "out-is-file", ["--out", "{file}"], "is a file", False),
    ("atari", "out-under-file", ["--out", "{file}/pong"], "is a file", False),
    ("atari", "out-read-only", ["--out", "{ro}/pong"], "not writable", False),
    ("atari", "eval-garbage-npz", ["--eval", "{garbage}"], "is not an npz dataset", True),
    ("atari", "eval-nan-npz", ["--eval", "{nan}"], "non-finite", False),
    ("atari", "eval-dir-not-a-run", ["--eval", "{notrun}"], "neither a run directory", False),
    ("atari", "eval-mujoco-dataset", ["--eval", "{mujoco}"], "do not fit", False),
    ("atari", "eval-minatar-dataset", ["--eval", "{minatar}", "--game", "Breakout"], "do not fit", False),
    ("mujoco", "unknown-env", ["--env", "nosuchenv"], "nosuchenv", False),
    ("mujoco", "k0", ["--k", "0"], "--k must be >= 1", False),
    ("mujoco", "negative-budget", ["--meta-epochs", "-1"], "--meta-epochs must be >= 0", False),
    ("mujoco", "resume-not-a-run", ["--resume", "--out", "{notrun}"], "no run in", False),
    ("mujoco", "out-is-file", ["--out", "{file}"], "is a file", False),
    ("mujoco", "out-under-file", ["--out", "{file}/hopper"], "is a file", False),
    ("mujoco", "out-read-only", ["--out", "{ro}/hopper"], "not writable", False),
    ("mujoco", "eval-garbage-npz", ["--eval", "{garbage}"], "is not an npz dataset", False),
    ("mujoco", "eval-nan-npz", ["--eval", "{nan}"], "non-finite", False),
    ("mujoco", "eval-atari-dataset", ["--eval", "{atari}"], "log-std", True),
    ("mujoco", "eval-cartpole-dataset", ["--eval", "{cp2d}"], "log-std", False),
    ("minatar", "unknown-game", ["--game", "NoSuchGame"], "NoSuchGame", False),
    ("minatar", "k0", ["--k", "0"], "--k must be >= 1", False),
    ("minatar", "negative-budget", ["--meta-epochs", "-1"], "--meta-epochs must be >= 0", False),
    ("minatar", "resume-not-a-run", ["--resume", "--out", "{notrun}"], "no run in", False),
    ("minatar", "out-is-file", ["--out", "{file}"], "is a file", False),
    ("minatar", "out-under-file", ["--out", "{file}/breakout"], "is a file", False),
    ("minatar", "out-read-only", ["--out", "{ro}/breakout"], "not writable", False),
    ("minatar", "eval-garbage-npz", ["--eval", "{garbage}"], "is not an npz dataset", False),
    ("minatar", "eval-nan-npz", ["--eval", "{nan}"], "non-finite", False),
    ("minatar", "eval-atari-dataset", ["--eval", "{atari}"], "MinAtar", True),
    ("minatar", "eval-cartpole-dataset", ["--eval", "{cp2d}"], "MinAtar", False),
    ("minatar", "eval-wrong-game", ["--eval", "{minatar}", "--game", "SpaceInvaders"], "do not fit", False),
]


def make_inputs(root: Path) -> dict[str, str]:
    """The files and directories the bad-input cases point at (numpy only)."""
    d = root / "in"
    d.mkdir()
    rng = np.random.default_rng(0)
    f32 = np.float32
    (d / "file.txt").write_text("not a directory\n")
    (d / "notrun").mkdir()
    (d / "notrun" / "notes.txt").write_text("someone's notes, not a run\n")
    (d / "badrun").mkdir()
    (d / "badrun" / "run.json").write_text("{ truncated")
    (d / "ro").mkdir()
    (d / "garbage.npz").write_bytes(b"garbage, not a zip archive " + rng.bytes(256))
    np.savez(d / "nan.npz", x=np.full((2, 4), np.nan, f32), y=np.zeros((2, 2), f32), inner_lr=f32(0.02),
             k=np.int64(2), dims=np.int64(1))
    np.savez(d / "noy.npz", x=np.zeros((2, 4), f32), inner_lr=f32(0.02))
    np.savez(d / "k5.npz", x=np.zeros((3, 4), f32), y=np.zeros((3, 2), f32), inner_lr=f32(0.02), k=np.int64(5),
             dims=np.int64(1))
    run = d / "t1k" / "runs" / "1d_k2"  # table1's cell N=1 k=2 holding a k=3 dataset
    run.mkdir(parents=True)
    np.savez(run / "dataset.npz", x=np.zeros((3, 4), f32), y=np.zeros((3, 2), f32), inner_lr=f32(0.02),
             k=np.int64(3), dims=np.int64(1))
    (run / "run.json").write_text('{"meta_epochs": 5}')
    np.savez(d / "cp2d.npz", x=rng.normal(size=(3, 8)).astype(f32), y=rng.normal(size=(3, 4)).astype(f32),
             inner_lr=f32(0.02), k=np.int64(3), dims=np.int64(2))
    np.savez(d / "atari.npz", x=rng.random((2, 4, 84, 84), f32), y=rng.normal(size=(2, 6)).astype(f32),
             inner_lr=f32(0.02), k=np.int64(2))
    np.savez(d / "mujoco.npz", x=rng.normal(size=(4, 11)).astype(f32), y=rng.normal(size=(4, 3)).astype(f32),
             inner_lr=f32(0.02), log_std=np.zeros(3, f32), obs_mean=np.zeros(11, f32), obs_var=np.ones(11, f32),
             obs_count=f32(100.0), k=np.int64(4))
    np.savez(d / "minatar.npz", x=rng.random((2, 10, 10, 4), f32), y=rng.normal(size=(2, 3)).astype(f32),
             inner_lr=f32(0.02), k=np.int64(2))
    names = {"file": "file.txt", "notrun": "notrun", "badrun": "badrun", "ro": "ro", "t1k": "t1k"}
    paths = {k: str(d / v) for k, v in names.items()}
    paths.update({k: str(d / f"{k}.npz") for k in ("garbage", "nan", "noy", "k5", "cp2d", "atari", "mujoco",
                                                   "minatar")})
    paths["out"] = str(root / "out")
    return paths


def can_drop_dac_override() -> bool:
    try:
        return subprocess.run([*UNPRIVILEGED, "true"], capture_output=True, timeout=30).returncode == 0
    except OSError:  # no setpriv
        return False


def read_only(ro: str, subprocess_: bool) -> tuple[str | None, list[str]]:
    """Makes ``ro`` read-only; returns (why the case is skipped or None, command prefix). Root
    (CI containers) writes through mode bits: a subprocess case then runs without CAP_DAC_OVERRIDE
    (setpriv), an in-process case is skipped."""
    os.chmod(ro, 0o555)
    probe = Path(ro) / "probe"
    try:
        probe.write_text("x")
    except PermissionError:
        return None, []
    probe.unlink()
    if not subprocess_:
        return ("as root a read-only directory is writable (the subprocess case of cartpole runs under "
                "setpriv without CAP_DAC_OVERRIDE)"), []
    if not can_drop_dac_override():
        return "as root a read-only directory is writable, and setpriv cannot drop CAP_DAC_OVERRIDE", []
    return None, UNPRIVILEGED


def cli_module(name: str) -> str:
    module = f"rlsl_jax.experiments.{name}"
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} does not exist yet")
    return module


def check_one_error_line(rc: int, out: str, err: str, expect: str, what: str) -> None:
    assert rc == 2, f"{what}: exit status {rc}, expected 2; stderr:\n{err}"
    assert out.strip() == "", f"{what}: printed on stdout:\n{out}"  # e.g. no score table
    assert "Traceback" not in err, f"{what}: traceback:\n{err}"
    lines = stderr_lines(err)
    assert len(lines) == 1, f"{what}: {len(lines)} stderr lines, expected 1:\n{err}"
    assert "error: " in lines[0] and expect in lines[0], f"{what}: expected {expect!r} in {lines[0]!r}"


@pytest.mark.parametrize("name, case, extra, expect, subprocess_",
                         [pytest.param(*c[:5], id=f"{c[0]}-{c[1]}", marks=c[5:]) for c in CASES])
def test_bad_input_one_line_exit_2_nothing_written(name, case, extra, expect, subprocess_, tmp_path, monkeypatch,
                                                   capsys, runs):
    what = f"{name} {' '.join(extra)}"
    if subprocess_:  # prepared and started in the background at the start of the module
        d, paths, before, skip, later = runs.cases[f"{name}-{case}"]
        if skip:
            pytest.skip(skip)
        job = later.wait()
        rc, out, err = job.rc, job.stdout, job.stderr
    else:
        module = cli_module(name)
        d, paths = tmp_path, make_inputs(tmp_path)
        if "{ro}" in "".join(extra):
            skip, _ = read_only(paths["ro"], subprocess_=False)
            if skip:
                pytest.skip(skip)
        argv = [a.format(**paths) for a in (*BASE[name], *extra)]
        before = tree_hash(d)
        monkeypatch.chdir(d)  # relative default outputs would land in the hashed tree
        mod = importlib.import_module(module)
        capsys.readouterr()
        with pytest.raises(SystemExit) as e:
            cli.run_main(lambda: mod.main(argv))
        rc, (out, err) = e.value.code, capsys.readouterr()
    os.chmod(paths["ro"], 0o755)
    check_one_error_line(rc, out, err, expect.format(**paths), what)
    assert tree_hash(d) == before, f"{what}: files were written or changed"


# --- SIGKILL and resume ------------------------------------------------------------------------

def test_sigkill_at_random_points_then_resume_equals_an_uninterrupted_run(runs):
    ref = runs.ref()
    out = runs.root / "killed"
    ckpt = out / "checkpoints"
    rng = random.Random(SEED)
    kills, history = 0, []
    job = runs.cartpole(out, N)
    for attempt in range(8):
        start = newest_step(ckpt) or 0
        if kills < 2 and start + 2 <= N - 2:
            # wait for a step >= start + 2 (so the pace of this process is known), then kill after a
            # random part of one step's time: in a meta-epoch, a log write or a checkpoint save
            target = rng.randint(start + 2, min(start + 4, N - 2) if kills == 0 else N - 2)
            deadline, first, step = time.time() + 240, None, start
            while step < target and job.p.poll() is None and time.time() < deadline:
                time.sleep(0.005)
                step = newest_step(ckpt) or 0
                if first is None and step > start:
                    first = (step, time.time())  # the first step this process saved
            pace = (time.time() - first[1]) / (step - first[0]) if first and step > first[0] else 0.3
            delay = rng.uniform(0.0, pace)
            time.sleep(delay)
            alive = job.p.poll() is None
            if alive:
                job.kill()
            job.wait()
            at = newest_step(ckpt)
            tmp = sorted(p.name for p in ckpt.iterdir() if not p.name.isdigit()) if ckpt.is_dir() else []
            history.append(f"run {attempt}: waited for step {target}, +{delay:.2f}s (a step takes {pace:.2f}s), "
                           f"{'killed' if alive else 'had ended'} (rc {job.rc}) at newest step {at}, other entries {tmp}")
            assert job.rc in (0, -signal.SIGKILL), f"seed {SEED}: {history}\n{job.stderr}"
            kills += job.rc == -signal.SIGKILL
        else:
            job.wait()
            history.append(f"run {attempt}: ran to the end (rc {job.rc})")
            assert job.rc == 0, f"seed {SEED}: {history}\n{job.stderr}"
        if attempt:  # a resumed run: restored from a complete step, never from a damaged one
            assert "Traceback" not in job.stderr and "damaged" not in job.stderr, f"seed {SEED}: {history}\n{job.stderr}"
        if job.rc == 0:
            break
        job = runs.cartpole(out, N, "--resume")
    print(f"seed {SEED}:", *history, sep="\n  ")
    assert job.rc == 0 and kills >= 2, f"seed {SEED}: {history}"
    same_arrays(ref / "dataset.npz", out / "dataset.npz")
    same_log(out / "log.csv", ref / "log.csv", f"seed {SEED}: {history}")


# --- damaged checkpoints -----------------------------------------------------------------------

def test_damaged_newest_step_resume_falls_back_and_finishes_like_an_uninterrupted_run(runs):
    job = runs.named("damaged").wait()  # the finished M-epoch run, step M truncated, --resume to N
    ref, out = runs.ref(), runs.root / "damaged"
    assert job.rc == 0, job.stderr
    lines = stderr_lines(job.stderr)
    notes = [line for line in lines if line.startswith("checkpoint:")]
    assert len(notes) == 1, job.stderr
    assert f"step {M} in {(out / 'checkpoints').absolute()} is damaged (" in notes[0], notes[0]
    assert notes[0].endswith(f"resumed from step {M - 1}"), notes[0]
    assert [line for line in lines if line not in notes and not line.startswith("resumed ")] == [], job.stderr
    same_arrays(ref / "dataset.npz", out / "dataset.npz")
    same_log(out / "log.csv", ref / "log.csv")
    assert newest_step(out / "checkpoints") == N


def test_every_step_damaged_resume_one_line_exit_2_nothing_changed(runs):
    job = runs.named("all_damaged").wait()  # steps M, M-1, M-2: truncated, overwritten, metadata gone
    out = runs.root / "all_damaged"
    assert job.rc == 2, job.stderr
    assert "Traceback" not in job.stderr and job.stdout == "", job.stderr
    errors = stderr_lines(job.stderr)
    assert len(errors) == 1, job.stderr  # exactly one line: the notice of a resume comes only after it worked
    assert "error: no readable checkpoint in" in errors[0] and f"tried steps {M}, {M - 1}, {M - 2}" in errors[0], errors
    assert tree_hash(out) == runs.hash_before["all_damaged"]


# --- non-finite run ----------------------------------------------------------------------------

def test_nonfinite_run_stops_with_one_line_and_a_finite_checkpoint(runs):
    job = runs.named("nonfinite").wait()
    out = runs.root / "nonfinite"
    assert job.rc == 1, job.stderr
    lines = stderr_lines(job.stderr)
    assert len(lines) == 1 and "Traceback" not in job.stderr, job.stderr
    m = re.search(r"meta-epoch (\d+)\.\.(\d+): the dataset became non-finite .*the newest checkpoint \(step (\d+)\) "
                  r"is the last finite state", lines[0])
    assert m, lines[0]
    first, last, step = map(int, m.groups())
    assert step == first - 1 >= 1 and newest_step(out / "checkpoints") == step
    from rlsl_jax import checkpoint

    ds, meta = checkpoint.load_dataset(out)  # finite, else DatasetError
    assert meta["step"] == step and meta["skipped_steps"] == []
    assert all(np.isfinite(np.asarray(a)).all() for a in (ds.x, ds.y, ds.inner_lr))
    rows = log_rows(out / "log.csv")
    assert [int(r["meta_epoch"]) for r in rows] == list(range(1, last + 1))
    assert not np.isfinite(float(rows[-1]["inner_lr"])) or not np.isfinite(float(rows[-1]["meta_grad_norm"]))
    assert not (out / "dataset.npz").exists() and not (out / "summary.json").exists()
