"""Run logs on disk: a resumable CSV log (one row per (meta-)epoch), its reader, atomic JSON and
JSON-lines files. No JAX; used by the host loop (``runner``), the studies and the reports."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Iterable

import numpy as np


class CSVLog:
    """Appends rows of scalars to ``path`` (header written once; resumable).

    An existing file keeps its columns: the fields are its header followed by any new ``fields``
    (a run resumed without the periodic check keeps the ``kshot_*`` columns of its earlier
    checks; one resumed with a check gains them, empty in the earlier rows)."""

    def __init__(self, path: Path, fields: Iterable[str]):
        self.path, self.fields = Path(path), list(fields)
        if not self.path.exists():
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self.fields)
            return
        with self.path.open(newline="") as f:
            old = next(csv.reader(f), [])
        self.fields = old + [k for k in self.fields if k not in old]
        if self.fields != old:  # widen the header now, so that appended rows line up with it
            self._rewrite(lambda r: True)

    def _rewrite(self, keep) -> dict | None:
        """Rewrites the file under ``self.fields`` with the rows ``keep(row)`` accepts -> the last."""
        with self.path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        last = None
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(self.fields)
            for r in rows:
                if keep(r):
                    w.writerow([r.get(k) or "" for k in self.fields])
                    last = r
        os.replace(tmp, self.path)
        return last

    def write(self, rows: list[dict]) -> None:
        with self.path.open("a", newline="") as f:
            w = csv.writer(f)
            for r in rows:
                w.writerow([_fmt(r.get(k, "")) for k in self.fields])

    def truncate_after(self, field: str, value: float) -> dict | None:
        """Drops rows with ``field`` > value (used on resume: the checkpoint is the truth) -> the last
        row kept (None if none)."""
        if not self.path.exists():
            return None
        return self._rewrite(lambda r: float(r[field]) <= value)


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def read_csv(path: Path) -> dict[str, np.ndarray]:
    with Path(path).open() as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {k: np.array([float(r[k]) if r[k] not in ("", "nan") else np.nan for r in rows]) for k in rows[0]}




def write_json(path: Path, obj) -> None:
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=float))
    os.replace(tmp, path)


def read_jsonl(path: Path) -> list[dict]:
    """Records of a JSON-lines file ([] if it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_jsonl(path: Path, rec: dict) -> None:
    with Path(path).open("a") as f:
        f.write(json.dumps(rec) + "\n")
