"""launch.impute: completed CSV keeps header, order and observed cells' text; bad input gets one line."""

import os
import subprocess
import sys

import numpy as np
import pytest

from jaxcodesign.errors import DataError
from launch import impute as launcher

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def _run_main(run_launcher):
  return lambda *args: run_launcher(launcher, "impute", list(args))


def _write(path, text):
  path.write_text(text)
  return str(path)


def _table_text(n=40):
  rng = np.random.default_rng(0)
  a, b = rng.uniform(0, 10, n), rng.integers(1, 5, n)
  y = 3 * a - b + rng.normal(0, 0.1, n)
  lines = ["width,grade,target"]
  for i in range(n):
    cells = [f"{a[i]:.2f}", str(b[i]), f"{y[i]:.3f}"]
    if i % 5 == 0:
      cells[i % 3] = "" if i % 2 else "NaN"
    lines.append(",".join(cells))
  return "\n".join(lines) + "\n"


def test_completes_table_keeps_observed_text(tmp_path, _run_main):
  text = _table_text()
  src = _write(tmp_path / "in.csv", text)
  out, rep = tmp_path / "out.csv", tmp_path / "u.json"
  _run_main(f"--data={src}", f"--output={out}", f"--report={rep}", "--rounds=1", "--train_steps=10")
  assert (tmp_path / "in.csv").read_text() == text             # input never modified
  got = [l.split(",") for l in out.read_text().splitlines()]
  want = [l.split(",") for l in text.splitlines()]
  assert got[0] == want[0] and len(got) == len(want)
  for g, w in zip(got[1:], want[1:]):
    for gc, wc in zip(g, w):
      if wc in ("", "NaN"):
        assert np.isfinite(float(gc))
      else:
        assert gc == wc                                        # observed cells byte for byte
  vals = np.array([[float(c) for c in r] for r in got[1:]])
  assert vals[:, 0].min() >= 0 and vals[:, 0].max() <= 10      # original units, column range
  import json
  r = json.loads(rep.read_text())
  assert [c["name"] for c in r["columns"]] == ["width", "grade", "target"]
  assert sum(c["imputed"] for c in r["columns"]) == 8
  assert list(r["weights"]) == ["dini", "iterative", "trees"]
  assert abs(sum(r["weights"].values()) - 1) < 1e-9 and r["weights"]["dini"] == r["alpha"]


@pytest.mark.parametrize("text,match", [
    ("", "empty file"),
    ("a,b\n", "no data rows"),
    ("a,b\n1,x\n2,\n", "column 2: non-numeric value 'x' in data row 1"),
    ("a,b\n1,\n2,NaN\n", "column 'b' \\(2\\) is entirely missing"),
    ("a,b\n1,2\n3,4\n", "no missing cells"),
])
def test_bad_input_messages(tmp_path, text, match, _run_main):
  src = _write(tmp_path / "in.csv", text)
  with pytest.raises(DataError, match=match):
    _run_main(f"--data={src}", f"--output={tmp_path / 'out.csv'}")
  assert (tmp_path / "in.csv").read_text() == text
  assert not (tmp_path / "out.csv").exists()


def test_refuses_unwritable_output_and_the_input_itself(tmp_path, _run_main):
  src = _write(tmp_path / "in.csv", "a,b\n1,\n2,3\n")
  with pytest.raises(DataError, match="does not exist"):
    _run_main(f"--data={src}", f"--output={tmp_path / 'no' / 'out.csv'}")
  with pytest.raises(DataError, match="is the input file"):
    _run_main(f"--data={src}", f"--output={src}")
  with pytest.raises(DataError, match="is a directory"):
    _run_main(f"--data={src}", f"--output={tmp_path}")


def test_cli_prints_one_error_line(tmp_path):
  src = _write(tmp_path / "in.csv", "a,b\n1,abc\n")
  proc = subprocess.run([sys.executable, "-m", "launch.impute", f"--data={src}",
                         f"--output={tmp_path / 'o.csv'}"], cwd=ROOT, capture_output=True, text=True)
  assert proc.returncode == 2
  lines = [l for l in proc.stderr.splitlines() if l.startswith("launch.impute")]
  assert lines == ["launch.impute: error: " + f"{src}: column 2: non-numeric value 'abc' in data row 1; "
                   "allowed: numbers, or empty/NaN for a missing cell"]
