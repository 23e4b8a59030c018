"""The k_min study (studies.kmin: k_min rule, label analysis, local policy) and its CLI
(python -m rlsl_jax.experiments.kmin: list parsing, a tiny study with resume, bad input)."""

import argparse
import json

import numpy as np
import pytest
from conftest import run_cli

from rlsl_jax.experiments import kmin as kmin_cli
from rlsl_jax.studies import kmin

M = "rlsl_jax.experiments.kmin"
TINY = ("--seeds", "2", "--meta-epochs", "4", "--learners", "4", "--num-envs", "2", "--rollout-steps", "20",
        "--minibatch-size", "20", "--update-epochs", "1", "--chunk", "2", "--no-progress")


def test_parse_int_list_and_default_ks():
    assert kmin_cli.int_list("1..5") == (1, 2, 3, 4, 5)
    assert kmin_cli.int_list("2..3,512") == (2, 3, 512)
    assert kmin_cli.int_list("1, 3") == (1, 3)
    for bad in ("", "a", "5..1", "1..x", "1..2..3"):
        with pytest.raises(argparse.ArgumentTypeError):
            kmin_cli.int_list(bad)
    assert kmin.ks_for(1, None) == (1, 2, 3, 512) and kmin.ks_for(3, None) == (1, 2, 3, 4, 5, 512)
    assert kmin.ks_for(3, (2, 7)) == (2, 7)


def test_kmin_of_uses_the_best_k():
    cells = [{"k": 1, "sampled_mean": [20, 24]}, {"k": 2, "sampled_mean": [470, 480]},
             {"k": 3, "sampled_mean": [500, 490]}, {"k": 512, "sampled_mean": [300, 320]}]
    assert kmin.kmin_of(cells) == 2           # 475 >= 0.9 * 495
    cells[1]["sampled_mean"] = [300, 340]
    assert kmin.kmin_of(cells) == 3
    assert kmin.kmin_of(cells, rule="any") == 3
    cells[0]["sampled_mean"] = [20, 480]      # one k = 1 dataset works: such a dataset exists
    assert kmin.kmin_of(cells, rule="any") == 1 and kmin.kmin_of(cells) == 3
    assert kmin.kmin_of([{"k": 1, "sampled_mean": [20, 21]}]) is None  # nothing learned


def test_label_summary_on_the_authors_datasets(refdata):
    # The authors' k = N + 1 datasets cancel the state-independent push on every axis: the per-axis
    # label differences of their examples sum to ~0 (relative offset << 1), D has full rank N.
    for n in (1, 2, 3):
        with np.load(refdata / f"ndcartpole_{n}d_k{n + 1}.npz") as z:
            s = kmin.label_summary(z["y"], n)
        assert np.asarray(s["D"]).shape == (n + 1, n)
        assert max(s["relative_offset"]) < 0.1, s
        assert len(s["singular_values"]) == n and min(s["singular_values"]) > 1.0
    # a hand-made D: one example pushing axis 0 right by 2 -> offset 2, relative offset 1
    s = kmin.label_summary(np.array([[0.0, 2.0, 1.0, 1.0]]), 2)
    assert s["D"] == [[2.0, 0.0]] and s["offset"] == [2.0, 0.0] and s["relative_offset"][0] == 1.0


def run_inproc(args, capsys):
    """Runs the CLI's main in this process; returns (exit code, stderr)."""
    with pytest.raises(SystemExit) as e:
        kmin_cli.cli.run_main(lambda: kmin_cli.main(list(args)))
    return e.value.code, capsys.readouterr().err


def test_tiny_study_resume_and_report(tmp_path, capsys):
    out = tmp_path / "kmin"
    r = run_cli(M, "--dims", "1", "--ks", "2", "--ppo-steps", "2000", "--ppo-seeds", "1", "--out", str(out),
                *TINY, timeout=240)
    assert r.returncode == 0, r.stderr
    cells = [json.loads(line) for line in (out / "cells.jsonl").read_text().splitlines()]
    assert [(c["N"], c["k"], c["seeds"]) for c in cells] == [(1, 2, 2)]
    for c in cells:
        assert len(c["sampled_mean"]) == 2 and all(1 <= v <= 500 for v in c["sampled_mean"])
        assert c["env_steps_per_seed"] == 4 * 2 * 20 and c["meta_epochs"] == 4 and c["train_s"] > 0
        assert len(c["train_curve"]) == 2 and len(c["train_curve"][0]) == 2  # 2 chunks of 2 meta-epochs x 2 seeds
    ppo = [json.loads(line) for line in (out / "ppo.jsonl").read_text().splitlines()]
    assert len(ppo) == 1 and ppo[0]["N"] == 1 and ppo[0]["env_steps_per_seed"] == 2000
    for i in range(2):
        with np.load(out / "datasets" / f"N1_k2_s{i}.npz") as z:
            assert z["x"].shape == (2, 4) and z["y"].shape == (2, 2) and float(z["inner_lr"]) > 0
    text = (out / "RESULTS.md").read_text()
    assert kmin.BEGIN in text and kmin.END in text
    assert "| 1 | 1 | – | – | – | not run |" in text and "| 1 | 512 | – | – | – | not run | | | | 500 | | |" in text
    assert "direct PPO (1 seeds, minibatch 128)" in text
    assert (out / "kmin.png").stat().st_size > 1000

    # hand-written notes outside the markers survive; --resume runs only the missing cell
    (out / "RESULTS.md").write_text("# notes kept\n\n" + text + "\ntrailing note\n")
    kmin_cli.main(["--dims", "1", "--ks", "1,2", "--ppo-steps", "0", "--resume", "--out", str(out), *TINY,
                   "--no-compile-cache"])  # (in process: main(argv))
    stdout = capsys.readouterr().out
    assert "N=1 k=1: 2 seeds x 4 meta-epochs" in stdout and "k=2" not in stdout  # k = 2 already done: skipped
    cells = [json.loads(line) for line in (out / "cells.jsonl").read_text().splitlines()]
    assert [c["k"] for c in cells] == [2, 1]
    text = (out / "RESULTS.md").read_text()
    assert text.startswith("# notes kept") and text.rstrip().endswith("trailing note")
    assert "| 1 | 1 | 2 | 4 |" in text and text.count(kmin.BEGIN) == 1

    # without --resume an existing study is refused, untouched
    before = (out / "cells.jsonl").read_text()
    code, err = run_inproc(["--dims", "1", "--out", str(out)], capsys)
    assert code == 2 and "--resume" in err and len(err.strip().splitlines()) == 1
    assert (out / "cells.jsonl").read_text() == before


@pytest.mark.parametrize("args, msg", [
    (("--dims", "0..2"), "--dims must be >= 1"),
    (("--dims", "1,2", "--meta-epochs", "10,20,30"), "--meta-epochs takes one value or one per N"),
    (("--ks", "0,1"), "--ks must be >= 1"),
    (("--seeds", "0"), "--seeds must be >= 1"),
    (("--ppo-steps", "-1"), "--ppo-steps must be >= 0"),
    (("--report-only",), "--report-only: no cells.jsonl"),
    (("--dims", "x"), "expected integers"),
])
def test_bad_input(tmp_path, capsys, args, msg):
    out = tmp_path / "kmin"
    code, err = run_inproc([*args, "--out", str(out)], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert "error:" in lines[-1] and msg in lines[-1], lines
    assert not out.exists()


def test_bad_input_subprocess(tmp_path):
    r = run_cli(M, "--dims", "2", "--meta-epochs", "1,2", "--out", str(tmp_path / "k"), timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--meta-epochs" in r.stderr
    assert not (tmp_path / "k").exists()


def test_local_policy_gain_rank_is_at_most_k(refdata):
    # One example: the logits move along ONE label vector, so the N = 2 gain matrix has rank 1.
    rng = np.random.default_rng(0)
    one = {"x": 2 * rng.normal(size=(1, 8)).astype("f4"), "y": 3 * rng.normal(size=(1, 4)).astype("f4"),
           "inner_lr": np.float32(3.0)}
    lp = kmin.local_policy(one, 2, num_learners=32)
    assert lp["rank_sv"][0] == 1.0 and lp["rank_sv"][1] < 0.01
    # The authors' 2-D k = 3 dataset: both axes controlled (rank 2), offsets cancelled (the push flips
    # within a few thousandths of the upright state).
    with np.load(refdata / "ndcartpole_2d_k3.npz") as z:
        lp = kmin.local_policy({k: z[k] for k in ("x", "y", "inner_lr")}, 2, num_learners=32)
    assert lp["rank_sv"][1] > 0.5 and max(lp["switch_dist"]) < 0.02 and min(lp["gain"]) > 5
