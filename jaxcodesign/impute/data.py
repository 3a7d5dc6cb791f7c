"""Tables for imputation: CSV reading/writing with missing cells, and the six DINI fixture tables.

``read_csv`` / ``write_csv`` keep the header, the column order and the observed cells' text exactly
(the completed file rewrites only the missing cells). ``load_fixture`` gives the benchmark protocol of
issue 12: all data columns, first 1,000 rows, min-max normalised.
"""

from __future__ import annotations

import csv
import io
import math
import pathlib
from typing import NamedTuple

import numpy as np

from jaxcodesign import paths
from jaxcodesign.errors import DataError, check_in

#: The six DINI tables (Tuli & Jha, Sci. Rep. 2022) in ``../shared/fixtures/dini``.
TABLES = ("energy", "yacht", "breast", "diabetes", "diamonds_1000", "flights_1000")
#: Output columns (the last K) of each table for the forward/reverse split.
TABLE_OUTPUTS = {"energy": 2, "yacht": 1, "breast": 1, "diabetes": 1, "diamonds_1000": 1,
                 "flights_1000": 1}

MISSING_TOKENS = ("", "nan", "na", "n/a", "null", "none", "?")
__all__ = ["TABLES", "TABLE_OUTPUTS", "Table", "read_csv", "write_csv", "load_fixture",
           "minmax_normalise"]


class Table(NamedTuple):
  """A numeric table read from CSV.

  Attributes:
    header: column names (``None`` when the file has no header row).
    values: float64 ``[n, d]`` with NaN at the missing cells.
    text: the original cell strings ``[n][d]`` (observed cells are written back verbatim).
  """
  header: list[str] | None
  values: np.ndarray
  text: list[list[str]]


def _parse_rows(rows: list[list[str]], name: str) -> tuple[np.ndarray, list[list[str]]]:
  d = len(rows[0])
  vals = np.full((len(rows), d), np.nan)
  for i, row in enumerate(rows):
    if len(row) != d:
      raise DataError(f"{name}: row {i + 1} has {len(row)} cells; allowed: {d} (as the header)")
    for j, cell in enumerate(row):
      s = cell.strip()
      if s.lower() in MISSING_TOKENS:
        continue
      try:
        v = float(s)
      except ValueError:
        raise DataError(f"{name}: column {j + 1}: non-numeric value {cell!r} in data row {i + 1}; "
                        f"allowed: numbers, or empty/NaN for a missing cell") from None
      if not math.isfinite(v):
        raise DataError(f"{name}: column {j + 1}: value {cell!r} in data row {i + 1} is infinite; "
                        "allowed: finite numbers, or empty/NaN for a missing cell")
      vals[i, j] = v
  return vals, rows


def read_csv(path, header: bool = True) -> Table:
  """Reads a numeric CSV whose missing cells are empty or ``NaN`` (also NA, null, ?).

  Args:
    path: the file. header: whether the first row names the columns.

  Raises:
    DataError: empty file, ragged rows, a non-numeric or infinite cell (names column and row).
    OSError: the file cannot be read.
  """
  name = str(path)
  with open(path, newline="") as f:
    rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
  if not rows:
    raise DataError(f"{name}: empty file; allowed: a CSV with a header row and at least 1 data row")
  head = None
  if header:
    head, rows = rows[0], rows[1:]
    if not rows:
      raise DataError(f"{name}: no data rows after the header; allowed: at least 1 data row")
    if len(head) != len(rows[0]):
      raise DataError(f"{name}: header has {len(head)} columns but row 1 has {len(rows[0])}")
  vals, text = _parse_rows(rows, name)
  return Table(head, vals, text)


def format_value(v: float) -> str:
  """Shortest round-trip text of a float (``repr``), integers without a trailing ``.0``."""
  if float(v).is_integer() and abs(v) < 1e15:
    return str(int(v))
  return repr(float(v))


def write_csv(path, table: Table, completed: np.ndarray) -> None:
  """Writes ``completed`` with the header and the observed cells' original text.

  Only cells that are NaN in ``table.values`` take their text from ``completed``; every observed cell
  is written exactly as it was read.
  """
  buf = io.StringIO()
  w = csv.writer(buf, lineterminator="\n")
  if table.header is not None:
    w.writerow(table.header)
  miss = np.isnan(table.values)
  for i, row in enumerate(table.text):
    w.writerow([format_value(completed[i, j]) if miss[i, j] else row[j] for j in range(len(row))])
  pathlib.Path(path).write_text(buf.getvalue())


def minmax_normalise(x: np.ndarray) -> np.ndarray:
  """``(x - min) / (max - min)`` per column over the non-NaN cells (constant columns -> 0)."""
  lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
  span = np.where(hi > lo, hi - lo, 1.0)
  return (x - lo) / span


def load_fixture(name: str, rows: int = 1000, normalise: bool = True) -> tuple[np.ndarray, list[str]]:
  """One DINI table under the issue-12 protocol.

  All data columns (the diamonds file's unnamed first column is a row index, dropped; yacht's file
  has no header row, its first row is data), the first ``rows`` rows, min-max normalised to [0, 1].

  Returns:
    ``(x float64 [n, d], column names)``.

  Raises:
    SpaceError: unknown table. FileNotFoundError: fixtures missing.
  """
  check_in("table", name, TABLES)
  path = paths.fixture("dini", f"{name}.csv")
  has_header = name != "yacht"
  t = read_csv(path, header=has_header)
  x, cols = t.values, (t.header or [f"c{j}" for j in range(t.values.shape[1])])
  if has_header and cols[0].strip() == "":
    x, cols = x[:, 1:], cols[1:]
  x = x[:rows]
  if np.isnan(x).any():
    raise DataError(f"{path}: has missing cells; the fixture tables are complete")
  return (minmax_normalise(x) if normalise else x), list(cols)
