"""The Table-1 driver: one tiny distillation through the CLI and one bad-input run as subprocesses;
its library ``rlsl_jax.studies.table1`` (parsing, run tags, RESULTS.md) in-process."""

import dataclasses
import json

import pytest

from conftest import cli_help, run_cli
from rlsl_jax.distill.ppmo import PPMOConfig
from rlsl_jax.checkpoint import load_dataset
from rlsl_jax.studies import table1
from rlsl_jax.studies.table1 import k_min, paper_cell, parse_ks, parse_meta_epochs, run_tag

M = "rlsl_jax.experiments.table1"


def test_table1_helpers():
    assert [k_min(n) for n in range(1, 6)] == [2, 3, 4, 5, 6]
    assert paper_cell(1, 2, "xe") == "202 ± 212" and paper_cell(2, 3, "ortho") == "364 ± 151"
    assert paper_cell(2, 3, "random-L-noact") == paper_cell(2, 3, "random-L") == "417 ± 160"
    assert paper_cell(2, 2, "xe") == "—" and paper_cell(6, 7, "ortho") == "—"
    assert parse_meta_epochs("1:10,2:20", [1, 2]) == {1: 10, 2: 20} and parse_meta_epochs("5", [3]) == {3: 5}
    with pytest.raises(ValueError, match="no count for N = \\[3\\]"):
        parse_meta_epochs("1:10", [1, 3])
    assert parse_ks("kmin,512,kmin", 3) == [4, 512]
    with pytest.raises(ValueError, match="--ks"):
        parse_ks("0", 1)
    assert run_tag(2, 3, "ortho") == "2d_k3" and run_tag(1, 2, "ortho,xe-std1") == "1d_k2_train-ortho-xe-std1"
    # targets: the paper's mean, Λ at k = N + 1 at least 490; the check's bars: × stop, capped at max(target, 495)
    assert table1.column_target(2, 3, "ortho") == 490 and table1.column_target(2, 512, "ortho") == 339
    assert table1.column_target(1, 2, "xe") == 202 and table1.column_target(6, 7, "xe") is None
    assert table1.check_bar(500, 1.15) == 500 and table1.check_bar(490, 1.15) == 495
    assert table1.check_bar(68.1, 1.15) == pytest.approx(78.315) and table1.check_bar(68.1, None) == 68.1


def test_plan_row_lambda_only_kmin_rows():
    """Preset ours: the k = N + 1 rows of N >= 4 are the cart-pole CLI's Λ run (P = 1, its preset,
    a Λ check every 50 with 500 learners stopping at 495, η as trained) whatever the other flags;
    every other row is trained as the flags say."""
    pre = table1.PRESETS["ours"]
    assert pre.lambda_kmin_from == 4 and table1.PRESETS["paper"].lambda_kmin_from == 0
    assert [table1.is_lambda_row(n, k, 4) for n, k in ((4, 5), (5, 6), (3, 4), (4, 512), (6, 7))] == [
        True, True, False, False, True]
    assert not table1.is_lambda_row(5, 6, 0)
    kw = dict(config=pre.config, train_dist="mix4w", check_every=250, check_learners=100, check_stop=1.15,
              calibrate_eta=True, lambda_kmin_from=4)
    lam, mix = table1.plan_row(4, 5, 0, **kw), table1.plan_row(4, 512, 0, **kw)
    assert (lam.train_dist, lam.config.k, lam.config.population, lam.calibrate_eta) == ("ortho", 5, 1, False)
    assert lam.config == dataclasses.replace(table1.CARTPOLE_PRESETS["ours"], k=5)
    assert (lam.check.every, lam.check.target, lam.check_dists, lam.check_value) == (50, 495.0, ("ortho",),
                                                                                      "lambda_mean")
    assert (mix.train_dist, mix.config.k, mix.config.population, mix.calibrate_eta) == ("mix4w", 512, 4, True)
    assert (mix.check.every, mix.check.target, mix.check_dists) == (250, 1.0, table1.CHECK_DISTS)
    assert table1.plan_row(4, 5, 0, **{**kw, "lambda_kmin_from": 0}).train_dist == "mix4w"
    assert table1.plan_row(1, 2, 0, **{**kw, "check_every": 0}).check is None


def _result(dims, k, train_dist, sampled):
    r = {d: {"sampled": {"mean": m, "std": 1.0, "n": 4}, "greedy": {"mean": m, "std": 0.0, "n": 4}} for d, m in sampled.items()}
    return {"dims": dims, "k": k, "meta_epochs": 10, "train_dist": train_dist, "learners": 4, "episodes": 1,
            "seed": 0, "inner_lr": 0.5, "modes": ["sampled", "greedy"], "train_wall_s": 1.0, "eval_wall_s": 2.0,
            "config": {"population": 1}, "results": r,
            "machine": {"processor": "cpu", "cpu_count": 2, "backend": "cpu", "devices": ["cpu:0"], "jax": "x",
                        "platform": "p", "date_utc": "2026-01-01 00:00 UTC"}}


def test_results_md_layout_and_targets(tmp_path):
    (tmp_path / "results").mkdir()
    for r in (_result(1, 2, "ortho", {"ortho": 500.0, "xe": 300.0, "random-L-noact": 499.0}),
              _result(2, 3, "mix4", {"ortho": 400.0}), _result(1, 2, table1.AUTHORS, {"ortho": 498.0})):
        (tmp_path / "results" / f"{run_tag(r['dims'], r['k'], r['train_dist'])}.json").write_text(json.dumps(r))
    (tmp_path / "NOTES.md").write_text("## Notes\n\nhand-written\n")
    path = table1.write_results_md(tmp_path, ["ortho"], ["sampled", "greedy"], ["cmd"], machine=lambda: {})
    md = path.read_text()
    assert md.startswith("# Table 1: k-shot returns of distilled N-D cart-pole datasets")
    assert "results dated 2026-01-01 00:00 UTC" in md and md.rstrip().endswith("hand-written")
    assert "| dataset | source | Λ (ortho) | Xe | Random L, no act. |" in md
    assert "| **1D 2-shot** | paper | 500 ± 0 | 202 ± 212 | 500 ± 0 |" in md
    assert "| 1D 2-shot | ours, sampled | 500.0 ± 1.0 | 300.0 ± 1.0 | 499.0 ± 1.0 |" in md
    assert "| 2D 3-shot | ours, greedy, trained on mix4 | 400.0 ± 0.0 | — | — |" in md
    assert "| 1D 2-shot | authors' dataset, our evaluator, sampled | 498.0 ± 1.0 | — | — |" in md
    # verdicts: ours − paper ± SE of the difference (std/√n: 1/√4 here, the paper's std/√1000)
    assert "| 1D 2-shot | ortho | ✓ +0.0 ± 0.5 | — | ✓ +98.0 ± 6.7 | — | — | — | ✗ -1.0 ± 0.5 | 2/2 |" in md
    assert "| 2D 3-shot | mix4 | ✗ +36.0 ± 4.8 |" in md  # above the paper's 364 but below the Λ floor 490
    assert "- trained on ortho: **2/2** measured cells" in md and "- trained on mix4: **0/1**" in md
    assert "- the whole table (one dataset per row): **2/3** cells" in md
    assert "| 1D 2-shot | ortho | 10 | last | 1 | ? | 0.5 | 1.0 | 2.0 | 4 |" in md
    assert "![table1_columns.png](table1_columns.png)" in md and (tmp_path / "table1_columns.png").stat().st_size > 5000
    stamp = {"processor": "here", "cpu_count": 1, "backend": "cpu", "devices": ["cpu:0"], "jax": "x", "platform": "p",
             "date_utc": "now"}
    empty = tmp_path / "empty"
    empty.mkdir()
    md = table1.write_results_md(empty, ["ortho"], ["sampled"], [], machine=lambda: stamp).read_text()
    assert "Machine: here, 1 CPU cores" in md and "- (no results yet)" in md and "(defaults)" in md
    assert not (empty / "table1_columns.png").exists()


def test_distil_refuses_another_run(tmp_path):
    run_dir = tmp_path / "runs" / "1d_k2"
    run_dir.mkdir(parents=True)
    cfg = PPMOConfig(k=2)
    (run_dir / "run.json").write_text(json.dumps({"config": {"k": 2}, "seed": 1, "train_dist": "ortho"}))
    with pytest.raises(table1.RunMismatch, match="another config/seed/train-dist"):
        table1.distil(run_dir, 1, 2, 5, cfg, "ortho", 0, 2, 5, False)


@pytest.mark.timeout(300)
def test_table1_tiny_run_with_mixture(tmp_path):
    out = tmp_path / "t1"
    p = run_cli(M, "--out", str(out), "--dims", "1", "--ks", "kmin", "--meta-epochs", "2", "--dists", "ortho",
                "--learners", "4", "--num-envs", "2", "--rollout-steps", "8", "--minibatch-size", "8", "--chunk", "2",
                "--train-dist", "ortho,xe-std1", "--population", "2", "--check-every", "1", "--check-learners", "3",
                "--grid-learners", "0", "--no-progress", timeout=300)
    assert p.returncode == 0, p.stderr
    md = (out / "RESULTS.md").read_text()
    assert "| **1D 2-shot** | paper | 500 ± 0 |" in md and "ours, sampled, trained on ortho,xe-std1" in md
    assert (out / "fig4_1d_k2_train-ortho-xe-std1.png").stat().st_size > 1000
    res = json.loads((out / "results" / "1d_k2_train-ortho-xe-std1.json").read_text())
    assert res["meta_epochs"] == 2 and res["train_dist"] == "ortho,xe-std1"
    assert res["results"]["ortho"]["sampled"]["n"] == 4
    # the generality check ran at meta-epochs 1 and 2 (worst column / paper in kshot_mean); the kept one is recorded
    assert res["best_check"]["meta_epoch"] in (1, 2) and res["check"]["every"] == 1
    run_dir = out / "runs" / "1d_k2_train-ortho-xe-std1"
    run_info = json.loads((run_dir / "run.json").read_text())
    assert "mixture" in run_info["train_dist_description"] and "xe-std1" in run_info["train_dist_description"]
    rows = (run_dir / "log.csv").read_text().splitlines()
    assert rows[0].split(",") == list(table1.PPMO_LOG_FIELDS) and all(r.split(",")[-2] for r in rows[1:])
    ratios = [float(r.split(",")[-2]) for r in rows[1:]]
    assert res["best_check"]["worst_ratio"] == pytest.approx(max(ratios), abs=1e-4)
    # η calibrated after training on the check's columns: every factor scored, the npz holds η × scale
    assert set(run_info["eta_calibration"]["ratios"]) == {str(float(f)) for f in table1.ETA_SCALES}
    scale, (ds, _) = run_info["eta_scale"], load_dataset(run_dir / "dataset.npz")
    trained, _ = load_dataset(run_dir / "checkpoints")
    assert float(ds.inner_lr) == pytest.approx(float(trained.inner_lr) * scale, rel=1e-6)
    assert res["inner_lr"] == pytest.approx(float(ds.inner_lr), rel=1e-6) and res["eta_scale"] == scale


def test_choose_scale_needs_more_columns_cleared():
    """η is moved only to a factor clearing strictly more bars than the trained η; ties among the
    rest go to the higher worst-column ratio."""
    ratios = {0.5: {"a": 1.2, "b": 1.1, "c": 0.2}, 1.0: {"a": 1.5, "b": 0.9, "c": 0.8},
              2.0: {"a": 1.6, "b": 1.0, "c": 0.3}}
    assert table1.choose_scale(ratios) == 2.0  # 2 cleared (worst 0.3) beats 0.5 (worst 0.2) and 1.0 (1 cleared)
    ratios[1.0]["b"] = 1.0  # now 1.0 clears as many as the best: keep the trained η
    assert table1.choose_scale(ratios) == 1.0
    assert table1.choose_scale({0.5: {"a": 0.1}, 2.0: {"a": 0.3}}) == 2.0  # without 1.0: the best


def test_table1_bad_input_and_presets(tmp_path):
    for bad, what in ((["--train-dist", "ortho,random-L"], "random-L"), (["--train-dist", "ortho:0"], "NAME:WEIGHT"),
                      (["--authors", str(tmp_path / "nope")], "not a directory")):
        p = run_cli(M, "--out", str(tmp_path / "x"), *bad, timeout=120)
        assert p.returncode == 2 and what in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not (tmp_path / "x").exists()
    ours, paper = (cli_help(M, *a).replace("\n", " ") for a in ([], ["--preset", "paper"]))
    assert "--population POPULATION" in ours
    for text, dist, pop, lr, cal, lam in ((ours, "mix4w", 4, "0.0005", True, 4),
                                          (paper, "ortho", 1, "0.00025", False, 0)):
        squeezed = " ".join(text.split())
        assert f"(run.json eta_scale) (default: {cal})" in squeezed and f"0 = no such rows (default: {lam})" in squeezed
        assert f"(default: {dist})" in squeezed and f"1 = the paper) (default: {pop})" in squeezed
        assert "Adam learning rate" in squeezed and f"(default: {lr})" in squeezed
