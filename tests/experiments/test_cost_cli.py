"""The cost study (studies.cost: break-even arithmetic, report and plot from a result) and its CLI
(python -m rlsl_jax.experiments.cost: bad input)."""

import math

import pytest
from conftest import run_cli

from rlsl_jax.experiments import cost as cost_cli
from rlsl_jax.report import write_marked_block
from rlsl_jax.studies import cost


def test_break_even():
    # distil 30 s once; PPO 10 s per agent; 1 ms per learner: 30 / (10 - 0.001) ~ 3.0003 agents
    assert cost.break_even(30.0, 10.0, 0.001) == pytest.approx(3.0003, rel=1e-4)
    assert cost.break_even(30.0, 0.001, 0.001) == math.inf


def test_summarize_uses_the_last_ppo_row_and_the_largest_learner_count():
    ppo = [{"n": 1, "per_agent_s": 8.0}, {"n": 4, "per_agent_s": 6.0}]
    distil = {"train_s": 30.0, "compile_s": 10.0}
    s = cost.summarize(ppo, distil, {1: 0.0001, 1000: 0.01})
    assert s["per_agent_ppo_s"] == 6.0 and s["per_learner_s"] == pytest.approx(1e-5)
    assert s["learners"] == {"1": 0.0001, "1000": 0.01}
    assert s["break_even_n"] == cost.break_even(30.0, 6.0, 1e-5)
    assert s["break_even_n_with_compile"] == cost.break_even(40.0, 6.0, 1e-5)


def test_report_and_plot_keep_notes(tmp_path):
    r = {"dims": 1, "k": 2, "population": 1, "meta_epochs": 100, "ppo_steps": 500_000,
         "ppo": [{"n": 1, "train_s": 8.0, "compile_s": 7.0, "return": 450.0, "return_std": 0.0, "per_agent_s": 8.0},
                 {"n": 4, "train_s": 24.0, "compile_s": 7.5, "return": 460.0, "return_std": 20.0, "per_agent_s": 6.0}],
         "distil": {"train_s": 30.0, "compile_s": 10.0, "env_steps": 200_000, "return": 499.0, "return_std": 3.0,
                    "learners": 1000},
         "learners": {"1": 0.0001, "1000": 0.01}, "per_agent_ppo_s": 6.0, "per_learner_s": 1e-5,
         "break_even_n": cost.break_even(30.0, 6.0, 1e-5), "break_even_n_with_compile": cost.break_even(40.0, 6.0, 1e-5),
         "machine": "CPU, 2 cores; jax x", "date": "2026-11-24 20:00 UTC"}
    (tmp_path / "RESULTS.md").write_text("# mine\n\nnotes before\n")
    for _ in range(2):  # idempotent: the block is replaced, not appended twice
        write_marked_block(tmp_path / "RESULTS.md", cost.report_markdown(r), cost.BEGIN, cost.END, cost.TITLE)
    text = (tmp_path / "RESULTS.md").read_text()
    assert text.startswith("# mine\n\nnotes before") and text.count(cost.BEGIN) == 1
    assert "**n ≈ 5.0** agents" in text and "(6.7 counting the distillation's compile)" in text
    assert "| direct PPO, 500,000 steps each (vmapped) | 4 | 24.0 | 7.5 | 6.00 s | 460.0 ± 20.0" in text
    cost.report_plot(tmp_path / "cost.png", r)
    assert (tmp_path / "cost.png").stat().st_size > 1000


@pytest.mark.parametrize("args, msg", [
    (("--k", "0"), "--k must be >= 1"),
    (("--ppo-agents", "0,2"), "--ppo-agents and --learners must be >= 1"),
    (("--meta-epochs", "0"), "--meta-epochs must be >= 1"),
])
def test_bad_input(tmp_path, capsys, args, msg):
    out = tmp_path / "cost"
    with pytest.raises(SystemExit) as e:
        cost_cli.cli.run_main(lambda: cost_cli.main([*args, "--out", str(out)]))
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and msg in err[0]
    assert not out.exists()


def test_bad_input_subprocess(tmp_path):
    r = run_cli("rlsl_jax.experiments.cost", "--ppo-steps", "0", "--out", str(tmp_path / "c"), timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--ppo-steps must be >= 1" in r.stderr
    assert not (tmp_path / "c").exists()
