"""What every command line shares: clean one-line errors, output-directory checks, the parallel
flags, presets of frozen configs, and JAX's persistent compilation cache.

The CLIs (``rlsl_jax.experiments.*``) parse flags and call the library; everything they have in
common lives here, so none of them imports another.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn


class UsageError(Exception):
    """Bad user input: reported as one line, exit status 2, nothing written."""


def fail(msg: str, code: int = 2) -> NoReturn:
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "rlsl_jax"
    print(f"{prog}: error: {msg}", file=sys.stderr)
    raise SystemExit(code)


def run_main(main) -> None:
    """Calls ``main()``: bad input (UsageError) and unusable checkpoints or datasets
    (``checkpoint.CheckpointError``) become one error line + exit 2; a run whose state turned
    non-finite (``runner.NonFiniteError``) one error line + exit 1."""
    try:
        main()
    except UsageError as e:
        fail(str(e))
    except Exception as e:  # those classes exist only if their modules were imported (no JAX at start-up)
        ckpt, runner = sys.modules.get("rlsl_jax.checkpoint"), sys.modules.get("rlsl_jax.runner")
        if ckpt is not None and isinstance(e, ckpt.CheckpointError):
            fail(str(e))
        if runner is not None and isinstance(e, runner.NonFiniteError):
            fail(str(e), code=1)
        raise

def check_out_dir(out: Path, resume: bool, marker: str = "run.json") -> None:
    """A new run needs an empty (or absent) --out that it may create; --resume needs a run there
    (``marker`` present). Nothing is ever overwritten."""
    out = Path(out)
    if resume:
        if not (out / marker).exists():
            raise UsageError(f"--resume: no run in {out} ({marker} missing); start one without --resume")
        check_writable(out)
        return
    check_writable(out)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} already holds files; pass --resume to continue that run or choose "
                         f"another --out (nothing was overwritten)")


def check_writable(path: Path, flag: str = "--out", is_file: bool = False) -> None:
    """UsageError (one line, before anything is written) unless ``path`` is, or can be created as, a
    directory (``is_file``: a file) this process may write: an existing path of the other kind, a
    file on the way to it, or a directory without write permission (``os.access``: root may write
    anywhere) is refused. None (an optional output not asked for) passes."""
    if path is None:
        return
    path = Path(path)
    if path.exists() and path.is_dir() == is_file:
        kind = "a directory, not a file" if is_file else "a file, not a directory"
        raise UsageError(f"{flag} {path} is {kind}; choose another {flag}")
    near = path.absolute()
    while not near.exists() and near != near.parent:
        near = near.parent
    if not near.is_dir() and near != path.absolute():
        raise UsageError(f"{flag} {path}: {near} is a file, not a directory; choose another {flag}")
    if not os.access(near, os.W_OK | (0 if near.is_file() else os.X_OK)):
        raise UsageError(f"{flag} {path}: {near} is not writable; choose another {flag} (nothing was written)")


def add_run_args(parser, *, meta_epochs: int | None, out: str, checkpoint_every: int = 500, chunk: int = 50,
                 eval_learners: int = 1000, check_learners: int = 200, eval_every: int = 0,
                 meta_epochs_help: str = "", target_help: str = "") -> None:
    """The flags of every distillation run: budget, seed, output, resume, chunking, checkpoints,
    early stopping (training return or periodic k-shot check), final evaluation, progress bar."""
    g = parser.add_argument_group("run")
    g.add_argument("--meta-epochs", type=int, default=meta_epochs,
                   help=f"total meta-epochs to run (default: {meta_epochs_help or '%(default)s'})")
    g.add_argument("--seed", type=int, default=0, help="random seed; same seed = same run (default: %(default)s)")
    g.add_argument("--out", type=Path, default=Path(out), help="output directory (default: %(default)s)")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its newest intact "
                   "checkpoint, with its saved config")
    g.add_argument("--chunk", type=int, default=chunk, help="meta-epochs per jitted chunk; the host logs once per "
                   "chunk (default: %(default)s)")
    g.add_argument("--checkpoint-every", type=int, default=checkpoint_every,
                   help="save a checkpoint every C meta-epochs (default: %(default)s)")
    g.add_argument("--stop-return", type=float, default=None, help="stop after a chunk whose mean training return "
                   "reaches this (a noisy proxy: prefer --eval-every/--target)")
    add_check_args(g, eval_every=eval_every, check_learners=check_learners, target_help=target_help)
    g.add_argument("--eval-learners", type=int, default=eval_learners,
                   help="fresh learners of the final k-shot summary, 0 = skip (default: %(default)s)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_check_args(group, *, eval_every: int = 0, check_learners: int = 200, target_help: str = "") -> None:
    """The periodic k-shot check's flags (``runner.KShotCheck``): --eval-every, --target, --eval-check-learners."""
    group.add_argument("--eval-every", type=int, default=eval_every, help="every M meta-epochs score the dataset "
                       "with --eval-check-learners fresh learners (log.csv: kshot_mean); the best dataset is kept; "
                       "0 = off (default: %(default)s)")
    group.add_argument("--target", type=float, default=None, help="with --eval-every: stop once that score reaches "
                       f"R (default: {target_help or 'none'})")
    group.add_argument("--eval-check-learners", type=int, default=check_learners,
                       help="fresh learners of each periodic check (default: %(default)s)")


def check_run_args(args) -> None:
    """One-line errors for the flags of ``add_run_args``."""
    check_positive(args, ("chunk", "checkpoint_every", "eval_check_learners"))
    check_positive(args, ("meta_epochs", "eval_learners", "eval_every"), minimum=0)
    if args.target is not None and not args.eval_every:
        raise UsageError("--target needs --eval-every M (how often to score the dataset)")


def read_run(out: Path) -> dict:
    """The run.json of a run directory (written at its start: env, seed, config)."""
    import json

    try:
        return json.loads((Path(out) / "run.json").read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"--resume: {Path(out) / 'run.json'} is not a readable run description ({e})") from e


def check_positive(args, names: tuple[str, ...], minimum: int = 1) -> None:
    """UsageError naming the first flag in ``names`` whose value is below ``minimum``."""
    for name in names:
        v = getattr(args, name, None)
        if v is not None and v < minimum:
            raise UsageError(f"--{name.replace('_', '-')} must be >= {minimum} (got {v})")


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rlsl_jax" / "jax_compilation_cache"


def add_cache_args(parser) -> None:
    parser.add_argument("--no-compile-cache", action="store_true",
                        help=f"do not use JAX's persistent compilation cache (default: on, in "
                             f"$RLSL_JAX_CACHE or {default_cache_dir()}; a repeated command then compiles "
                             f"in seconds)")


def enable_compile_cache(args=None) -> Path | None:
    """Turns on JAX's persistent compilation cache (unless --no-compile-cache or
    RLSL_JAX_CACHE=off): compiled programs are written to a user cache directory and reused by
    the next run of the same command. Returns the directory (None when off)."""
    env = os.environ.get("RLSL_JAX_CACHE")
    if (args is not None and getattr(args, "no_compile_cache", False)) or env == "off":
        return None
    path = Path(env) if env else default_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # an unwritable home: run without the cache rather than fail
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


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
