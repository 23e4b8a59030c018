"""experiments/mujoco/rescale_probe.py: scores a set as stored and rescaled; bad --scales is an argparse error."""

import numpy as np
import pytest

pytest.importorskip("envpool")

from rlsl_jax.checkpoint import write_npz  # noqa: E402
from rlsl_jax.distill.dataset import Dataset  # noqa: E402


def test_rescale_probe_prints_one_row_per_set(tmp_path, capsys, experiment_script):
    rng = np.random.default_rng(0)
    ds = Dataset(rng.normal(size=(4, 11)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32),
                 np.float32(0.5), log_std=np.full(3, -0.5, np.float32))
    stats = {"obs_mean": np.zeros(11, np.float32), "obs_var": np.ones(11, np.float32), "obs_count": np.float32(1e4)}
    src = write_npz(ds, {"extra": stats}, tmp_path / "hopper.npz")
    (tmp_path / "run.json").write_text('{"mujoco": {"env": "hopper", "backend": "envpool", "episode_length": 50}}')
    probe = experiment_script("mujoco/rescale_probe")
    probe.main([str(src), "--scales", "2,4", "--learners", "2"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "| dataset | its scale | as stored | rescaled to c = 2 | rescaled to c = 4 |"
    cells = lines[2].split(" | ")
    assert len(lines) == 3 and cells[1] == "1" and all("±" in c for c in cells[2:])
    with pytest.raises(SystemExit) as e:
        probe.main([str(src), "--scales", "0"])
    assert e.value.code == 2
