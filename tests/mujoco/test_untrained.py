"""experiments/mujoco/untrained.py scores a row's learners before their SGD step (the dataset's content
cannot matter), and table3.py adds the share of the gap to PPO they leave to the verdict."""

import json

import numpy as np
import pytest

from rlsl_jax.report import gap_closed

pytest.importorskip("envpool")

from rlsl_jax.checkpoint import write_npz  # noqa: E402
from rlsl_jax.distill.dataset import Dataset  # noqa: E402


def test_gap_closed_reads_negative_returns_and_refuses_a_reference_below_the_floor():
    assert gap_closed(-7.8, -4.4, -61.3) == pytest.approx(53.5 / 56.9)
    assert gap_closed(50.0, 100.0, 0.0) == 0.5 and gap_closed(1.0, -5.0, -5.0) is None


def _row(root, name: str, seed: int, inner_lr: float) -> None:
    rng = np.random.default_rng(seed)
    ds = Dataset(rng.normal(size=(4, 11)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32),
                 np.float32(inner_lr), log_std=np.full(3, -1.0, np.float32))
    stats = {"obs_mean": np.zeros(11, np.float32), "obs_var": np.ones(11, np.float32), "obs_count": np.float32(1e4)}
    run = root / name
    run.mkdir(parents=True)
    write_npz(ds, {"extra": stats}, run / "dataset.npz")
    (run / "run.json").write_text('{"mujoco": {"env": "hopper", "backend": "envpool", "episode_length": 40}}')
    (run / "eval_sampled").mkdir()
    (run / "eval_sampled" / "eval.json").write_text(json.dumps({"mean": 30.0, "std": 1.0}))


def test_untrained_scores_fresh_learners_whatever_the_set_and_table3_reports_the_gap(tmp_path, capsys,
                                                                                    experiment_script):
    a, b = tmp_path / "a", tmp_path / "b"
    _row(a, "hopper_ppmo", seed=0, inner_lr=0.5)
    _row(b, "hopper_ppmo", seed=1, inner_lr=50.0)  # other X, Y, log-std target and a huge η: untrained all the same
    (a / "hopper_ppo").mkdir()
    (a / "hopper_ppo" / "summary.json").write_text(json.dumps(
        {"eval": {"mean": 1000.0, "std": 1.0}, "meta_epochs": 1, "num_envs": 1, "rollout_steps": 1, "population": 1,
         "train_wall_s": 1.0}))
    untrained = experiment_script("mujoco/untrained")
    untrained.main([str(a), "--learners", "3", "--tasks", "hopper", "walker2d"])
    out = capsys.readouterr().out.strip().splitlines()
    (b / "hopper_ppmo" / "eval_sampled" / "eval.json").unlink()  # a set not yet scored: a row of dashes, no crash
    untrained.main([str(b), "--learners", "3", "--tasks", "hopper"])
    assert capsys.readouterr().out.strip().splitlines()[2].endswith("| — | — | — |")
    ra, rb = (json.loads((r / "hopper_ppmo" / "eval_untrained" / "eval.json").read_text()) for r in (a, b))
    assert ra["returns"] == rb["returns"] and ra["inner_lr"] == 0.0 and ra["n"] == 3
    share = 100 * (30.0 - ra["mean"]) / (1000.0 - ra["mean"])
    assert len(out) == 3 and out[2].startswith("| hopper |") and out[2].endswith(f"| 1000.0 | {share:.0f} % |")
    table3 = experiment_script("mujoco/table3")
    table3.main([str(a)])
    assert f"({share:.0f} % of the gap from untrained learners)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        untrained.main([str(a), "--learners", "0"])
    assert e.value.code == 2
