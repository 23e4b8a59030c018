"""CSVLog on resume: the checkpoint decides which rows stay, and no column of the earlier run is lost."""

import csv

from rlsl_jax.logs import CSVLog, read_csv


def _rows(path):
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_resume_without_a_check_keeps_the_earlier_check_columns(tmp_path):
    path = tmp_path / "log.csv"
    log = CSVLog(path, ["meta_epoch", "loss", "kshot_mean"])
    log.write([{"meta_epoch": e, "loss": 0.5 / e, **({"kshot_mean": 10.0 * e} if e % 2 == 0 else {})}
               for e in (1, 2, 3, 4)])
    resumed = CSVLog(path, ["meta_epoch", "loss"])  # a resume without --eval-every
    assert resumed.fields == ["meta_epoch", "loss", "kshot_mean"]
    last = resumed.truncate_after("meta_epoch", 3)
    assert last["meta_epoch"] == "3"
    resumed.write([{"meta_epoch": 4, "loss": 0.1}])
    cols = read_csv(path)
    assert list(cols["meta_epoch"]) == [1, 2, 3, 4]
    assert cols["kshot_mean"][1] == 20.0 and all(v != v for v in cols["kshot_mean"][[0, 2, 3]])  # NaN = empty
    assert all(len(r) == 3 for r in _rows(path))


def test_resume_with_new_columns_widens_the_header_before_appending(tmp_path):
    path = tmp_path / "log.csv"
    CSVLog(path, ["meta_epoch", "loss"]).write([{"meta_epoch": 1, "loss": 0.5}])
    log = CSVLog(path, ["meta_epoch", "loss", "kshot_mean", "kshot_std"])
    log.write([{"meta_epoch": 2, "loss": 0.25, "kshot_mean": 7.0, "kshot_std": 1.0}])
    rows = _rows(path)
    assert rows[0] == ["meta_epoch", "loss", "kshot_mean", "kshot_std"]
    assert rows[1] == ["1", "0.5", "", ""] and rows[2] == ["2", "0.25", "7", "1"]
