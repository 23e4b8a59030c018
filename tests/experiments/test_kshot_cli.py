"""The k-shot CLI (one happy path and one bad-input run as subprocesses) and its library,
``rlsl_jax.studies.kshot`` (in-process)."""

import json

import pytest

from conftest import REFDATA, run_cli
from rlsl_jax import cli
from rlsl_jax.experiments import kshot as kshot_cli
from rlsl_jax.studies.kshot import dist_table, grid_table, kshot_tables, load_cartpole, parse_dists, parse_modes

M = "rlsl_jax.experiments.kshot"
needs_refdata = pytest.mark.skipif(not (REFDATA / "ndcartpole_1d_k2.npz").exists(),
                                   reason=f"the authors' datasets are not at {REFDATA} (../shared/refdata)")


@needs_refdata
@pytest.mark.timeout(240)
def test_kshot_cli_writes_json_and_table(tmp_path):
    out, table = tmp_path / "r.json", tmp_path / "t.md"
    p = run_cli(M, "--dataset", str(REFDATA / "ndcartpole_1d_k2.npz"), "--dims", "1", "--dist", "ortho",
                "--learners", "12", "--seed", "3", "--json", str(out), "--table", str(table), timeout=240)
    assert p.returncode == 0, p.stderr
    res = json.loads(out.read_text())
    assert res["dims"] == 1 and res["k"] == 2 and res["learners"] == 12 and res["modes"] == ["sampled", "greedy"]
    assert list(res["results"]) == ["ortho"] and res["machine"]["cpu_count"] >= 1
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
    p = run_cli(M, "--dataset", str(REFDATA / "ndcartpole_2d_k3.npz"), "--dims", "3", "--json", str(out),
                timeout=120)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "2-D" in lines[0] and "[3, 8]" in lines[0] and "[k, 12]" in lines[0]
    assert not out.exists()


def test_kshot_bad_input_in_process(tmp_path):
    with pytest.raises(cli.UsageError, match="no such file"):
        kshot_cli.main(["--dataset", str(tmp_path / "missing.npz"), "--dims", "1"])
    (tmp_path / "d.npz").write_bytes(b"")
    with pytest.raises(cli.UsageError, match="bogus.*random-L-noact"):
        kshot_cli.main(["--dataset", str(tmp_path / "d.npz"), "--dist", "ortho,bogus"])
    with pytest.raises(cli.UsageError, match="--learners"):
        kshot_cli.main(["--dataset", str(tmp_path / "d.npz"), "--learners", "0"])
    with pytest.raises(cli.UsageError, match="--modes"):
        kshot_cli.main(["--dataset", str(tmp_path / "d.npz"), "--modes", "sampled,bogus"])


def test_parse_dists_and_modes():
    assert parse_dists(None) == ["ortho"] and parse_dists(None, grid=True) == []
    assert parse_dists("xe,ortho,xe") == ["xe", "ortho"] and len(parse_dists("all")) == 7
    assert parse_modes("greedy, sampled,greedy") == ["greedy", "sampled"]
    with pytest.raises(ValueError, match="--modes"):
        parse_modes("")


@needs_refdata
def test_load_cartpole_dims_from_dataset_or_error():
    ds, meta, dims, env, _ = load_cartpole(REFDATA / "ndcartpole_2d_k3.npz")
    assert dims == 2 and ds.x.shape == (3, 8) and env.num_dims == 2
    with pytest.raises(ValueError, match=r"2-D.*\[3, 8\].*\[k, 12\]"):
        load_cartpole(REFDATA / "ndcartpole_2d_k3.npz", 3)


def test_table_formatting():
    r = {"mean": 1.25, "std": 0.5}
    t = dist_table("2D 3-shot", {"ortho": {"sampled": r, "greedy": r}, "xe": {"sampled": r}}, ["sampled", "greedy"])
    assert "| 2D 3-shot | sampled | 1.2 ± 0.5 | 1.2 ± 0.5 |" in t and "| 2D 3-shot | greedy | 1.2 ± 0.5 | — |" in t
    g = grid_table({"L0": {"sampled": r}, "L1-h64": {"sampled": r}}, "sampled", [0, 1], [32, 64])
    assert "| 0 | 1.2 ± 0.5 | 1.2 ± 0.5 |" in g and "| 1 | — | 1.2 ± 0.5 |" in g
    both = kshot_tables("1D 2-shot", {"results": {"ortho": {"sampled": r}}, "grid": {"L0": {"sampled": r}}},
                        ["sampled"])
    assert both.startswith("| dataset | actions | Λ (ortho) |") and "Table 6 grid, 1D 2-shot:" in both
    assert kshot_tables("x", {"results": {}, "grid": {}}, ["sampled", "greedy"]).count("Table 6 grid") == 2
