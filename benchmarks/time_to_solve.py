"""Time to solve N-D cart-pole, the paper's optimiser against the cartpole CLI's defaults, in ONE run;
and what the persistent compilation cache saves a repeated command.

    python benchmarks/time_to_solve.py --dims 1 --seeds 0-4
    python benchmarks/time_to_solve.py --dims 1,2,3 --seeds 0-2 --out experiments/convergence/time_to_solve.json

Part 1, per N and seed, for the paper's optimiser ("paper": η raw, Adam 2.5e-4 like X and Y,
clamped at 1e-4) and for the cartpole CLI's defaults ("cli": X and Y at Adam 5e-4, η at its own
rate 1e-2 above a floor of 1e-2; "default" = PPMOConfig's, the same with X and Y at 2.5e-4):
meta-epochs, training wall seconds and process CPU seconds until a k-shot check over fresh learners
reaches 490 (the machinery, keys and checks of benchmarks/convergence.py: a run here is the run of
``python -m rlsl_jax.experiments.cartpole --dims N --k N+1 --seed S`` with those settings).

Part 2: the cartpole CLI's start-up + compilation time (process wall time minus its training
time), first call against a fresh cache directory and second call of the same command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convergence  # noqa: E402  (the study's machinery: keys, checks, table)

REPO = Path(__file__).resolve().parents[1]


def cli_compile_times(calls: int = 2) -> list[dict]:
    """Start-up + compile seconds of ``calls`` identical cartpole CLI runs sharing a fresh cache."""
    out = []
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as runs:
        env = dict(os.environ, RLSL_JAX_CACHE=cache, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"),
                   PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
        for i in range(calls):
            run_dir = Path(runs) / f"r{i}"
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "rlsl_jax.experiments.cartpole", "--dims", "1", "--k", "2",
                            "--meta-epochs", "50", "--eval-every", "0", "--eval-learners", "0", "--no-progress",
                            "--out", str(run_dir)], check=True, env=env, capture_output=True)
            total = time.perf_counter() - t0
            train = json.loads((run_dir / "summary.json").read_text())["train_wall_s"]
            out.append({"call": i + 1, "process_s": round(total, 2), "train_s": train,
                        "startup_and_compile_s": round(total - train, 2)})
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dims", default="1", help="comma-separated N (default: %(default)s)")
    p.add_argument("--seeds", default="0-4", help="seeds, e.g. 0-4 (default: %(default)s)")
    p.add_argument("--variants", nargs="+", default=["paper", "cli"],
                   help="optimiser variants of benchmarks/convergence.py (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None, help="also merge the runs into this JSON file")
    p.add_argument("--no-cache-check", action="store_true", help="skip part 2")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.out or Path(tmp) / "runs.json"
        convergence.main(["--dims", args.dims, "--seeds", args.seeds, "--variants", *args.variants,
                          "--out", str(path)])
        print("\n## Time to solve (k-shot check >= 490)\n")
        print(convergence.table(path))
    if not args.no_cache_check:
        print("\n## Persistent compilation cache: the same cartpole command twice\n")
        print("| call | process s | training s | start-up + compile s |\n|---|---|---|---|")
        for r in cli_compile_times():
            print(f"| {r['call']} | {r['process_s']} | {r['train_s']} | {r['startup_and_compile_s']} |")


if __name__ == "__main__":
    main()
