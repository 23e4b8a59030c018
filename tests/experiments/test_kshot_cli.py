"""The k-shot CLI and the Table-1 driver, run as subprocesses with tiny budgets."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlsl_jax.experiments.kshot import dist_table, grid_table
from rlsl_jax.experiments.table1 import k_min, paper_cell, parse_meta_epochs

REPO = Path(__file__).resolve().parents[2]
REFDATA = REPO / ".." / "shared" / "refdata"
needs_refdata = pytest.mark.skipif(not (REFDATA / "ndcartpole_1d_k2.npz").exists(),
                                   reason=f"the authors' datasets are not at {REFDATA} (../shared/refdata)")


def run(module, *args, timeout=240):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", f"rlsl_jax.experiments.{module}", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


@needs_refdata
@pytest.mark.timeout(240)
def test_kshot_cli_writes_json_and_table(tmp_path):
    out, table = tmp_path / "r.json", tmp_path / "t.md"
    p = run("kshot", "--dataset", REFDATA / "ndcartpole_1d_k2.npz", "--dims", "1", "--dist", "ortho",
            "--learners", "12", "--seed", "3", "--json", out, "--table", table)
    assert p.returncode == 0, p.stderr
    res = json.loads(out.read_text())
    assert res["dims"] == 1 and res["k"] == 2 and res["learners"] == 12 and res["modes"] == ["sampled", "greedy"]
    assert list(res["results"]) == ["ortho"]
    for d in ("ortho",):
        for m in ("sampled", "greedy"):
            r = res["results"][d][m]
            assert r["n"] == 12 and len(r["returns"]) == 12 and abs(r["mean"] - sum(r["returns"]) / 12) < 1e-3
    assert res["results"]["ortho"]["sampled"]["mean"] >= 490
    assert "| 1D 2-shot | sampled | 500.0 ± 0.0 |" in p.stdout and "| 1D 2-shot | greedy |" in p.stdout
    assert "Λ (ortho)" in table.read_text()


@needs_refdata
def test_kshot_cli_wrong_dims_one_error_line_nothing_written(tmp_path):
    out = tmp_path / "r.json"
    p = run("kshot", "--dataset", REFDATA / "ndcartpole_2d_k3.npz", "--dims", "3", "--json", out)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "2-D" in lines[0] and "[3, 8]" in lines[0] and "[k, 12]" in lines[0]
    assert not out.exists()


def test_kshot_cli_bad_input(tmp_path):
    p = run("kshot", "--dataset", tmp_path / "missing.npz", "--dims", "1")
    assert p.returncode == 2 and "no such file" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    (tmp_path / "d.npz").write_bytes(b"")
    p = run("kshot", "--dataset", tmp_path / "d.npz", "--dist", "ortho,bogus")
    assert p.returncode == 2 and "bogus" in p.stderr and "random-L-noact" in p.stderr
    p = run("kshot", "--dataset", tmp_path / "d.npz", "--learners", "0")
    assert p.returncode == 2 and "--learners" in p.stderr


def test_table_formatting():
    r = {"mean": 1.25, "std": 0.5}
    t = dist_table("2D 3-shot", {"ortho": {"sampled": r, "greedy": r}, "xe": {"sampled": r}}, ["sampled", "greedy"])
    assert "| 2D 3-shot | sampled | 1.2 ± 0.5 | 1.2 ± 0.5 |" in t and "| 2D 3-shot | greedy | 1.2 ± 0.5 | — |" in t
    g = grid_table({"L0": {"sampled": r}, "L1-h64": {"sampled": r}}, "sampled", [0, 1], [32, 64])
    assert "| 0 | 1.2 ± 0.5 | 1.2 ± 0.5 |" in g and "| 1 | — | 1.2 ± 0.5 |" in g


def test_table1_helpers():
    assert [k_min(n) for n in range(1, 6)] == [2, 3, 4, 5, 6]
    assert paper_cell(1, 2, "xe") == "202" and paper_cell(2, 3, "ortho") == "364 ± 151"
    assert paper_cell(2, 3, "xe") == "—"
    assert parse_meta_epochs("1:10,2:20", [1, 2]) == {1: 10, 2: 20} and parse_meta_epochs("5", [3]) == {3: 5}


@pytest.mark.timeout(300)
def test_table1_tiny_run_with_mixture(tmp_path):
    out = tmp_path / "t1"
    p = run("table1", "--out", out, "--dims", "1", "--ks", "kmin", "--meta-epochs", "2", "--dists", "ortho",
            "--learners", "4", "--num-envs", "2", "--rollout-steps", "8", "--minibatch-size", "8", "--chunk", "2",
            "--train-dist", "ortho,xe-std1", "--no-progress", timeout=300)
    assert p.returncode == 0, p.stderr
    md = (out / "RESULTS.md").read_text()
    assert "| **1D 2-shot** | paper | 500 ± 0 |" in md and "ours, sampled, trained on ortho,xe-std1" in md
    assert (out / "fig4_1d_k2_train-ortho-xe-std1.png").stat().st_size > 1000
    res = json.loads((out / "results" / "1d_k2_train-ortho-xe-std1.json").read_text())
    assert res["meta_epochs"] == 2 and res["train_dist"] == "ortho,xe-std1"
    assert res["results"]["ortho"]["sampled"]["n"] == 4
    run_info = json.loads((out / "runs" / "1d_k2_train-ortho-xe-std1" / "run.json").read_text())
    assert "mixture" in run_info["train_dist_description"] and "xe-std1" in run_info["train_dist_description"]


def test_table1_bad_train_dist(tmp_path):
    p = run("table1", "--out", tmp_path / "x", "--train-dist", "ortho,random-L")
    assert p.returncode == 2 and "random-L" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
