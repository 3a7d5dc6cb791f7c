"""Impute the missing cells of a CSV table with DINI (Tuli & Jha, Sci. Rep. 2022).

Usage::

  python -m launch.impute --data=IN.csv --output=OUT.csv [--outputs=1] [--seed=0] [--report=U.json] \
      [--rounds=12 --train_steps=200]

``IN.csv`` has a header row; missing cells are empty or ``NaN`` (also ``NA``, ``null``, ``?``). Every
column must be numeric and have at least one observed cell, and at least one cell must be missing.
``OUT.csv`` gets the same header and column order; observed cells are copied verbatim (their text
is unchanged), imputed cells are written in the column's original units (normalisation is internal).
``--outputs=K`` names the last K columns as the outputs ``y`` of the forward surrogate ``x -> y``
(default 1: the last column, as in the DINI tables where the target is last).

Uncertainty: a per-column summary (number imputed, mean and max MC-dropout std in original units)
is printed on stderr; ``--report`` also writes it as JSON ``{"columns": [{"name", "imputed",
"mean_std", "max_std"}], "alpha", "weights", "rounds", "history"}`` (``alpha``: the DINI result's
weight in the final blend; ``weights``: every component's, e.g. ``{"dini": 0.6, "iterative": 0.2,
"trees": 0.2}``). The input file is never modified (``--output`` equal
to ``--data`` is refused).

Errors (one line ``launch.impute: error: ...``, exit 2): missing/unreadable input, empty file,
non-numeric cell (names column and row), a column entirely missing, no missing cell, ``--outputs``
out of range, output not writable.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys

from absl import flags
import numpy as np

from launch import _cli

FLAGS = flags.FLAGS
NAME = "launch.impute"


def define_flags():
  """Defines the launcher's flags (idempotent; only when run as a program or by tests)."""
  if "outputs" in FLAGS:
    return
  flags.DEFINE_string("data", None, "input CSV with a header row; missing cells empty or NaN")
  flags.DEFINE_string("output", None, "completed CSV (same header, observed cells unchanged)")
  flags.DEFINE_integer("outputs", 1, "the last K columns are the forward surrogate's outputs")
  flags.DEFINE_integer("seed", 0, "PRNG seed")
  flags.DEFINE_string("report", None, "optional JSON file for the per-column uncertainty report")
  flags.DEFINE_integer("rounds", 12, "maximum interleaved train/inversion rounds (DINIConfig.rounds)")
  flags.DEFINE_integer("train_steps", 200, "surrogate training steps per round (DINIConfig.train_steps)")


def _check_writable(path: str, field: str) -> pathlib.Path:
  from jaxcodesign.errors import DataError
  p = pathlib.Path(path)
  if p.is_dir():
    raise DataError(f"--{field}={path}: is a directory; allowed: a file path")
  parent = p.parent if str(p.parent) else pathlib.Path(".")
  if not parent.is_dir():
    raise DataError(f"--{field}={path}: directory {parent} does not exist")
  if (p.exists() and not os.access(p, os.W_OK)) or not os.access(parent, os.W_OK):
    raise DataError(f"--{field}={path}: not writable")
  return p


def main(argv):
  del argv
  from jaxcodesign.errors import ConfigError, DataError
  if not FLAGS.data:
    raise ConfigError("missing flag --data (the input CSV)")
  if not FLAGS.output:
    raise ConfigError("missing flag --output (the completed CSV)")
  src = pathlib.Path(FLAGS.data)
  if not src.is_file():
    raise DataError(f"--data={FLAGS.data}: no such file")
  out = _check_writable(FLAGS.output, "output")
  if out.exists() and out.resolve() == src.resolve():
    raise DataError(f"--output={FLAGS.output}: is the input file; the input is never modified")
  if FLAGS.report:
    rep = _check_writable(FLAGS.report, "report")
    if rep.exists() and rep.resolve() in (src.resolve(), out.resolve()):
      raise DataError(f"--report={FLAGS.report}: must differ from --data and --output")

  from jaxcodesign.impute import data as tables
  table = tables.read_csv(src, header=True)
  x = table.values
  n, d = x.shape
  miss = np.isnan(x)
  names = table.header
  empty = np.nonzero(miss.all(axis=0))[0]
  if len(empty):
    j = int(empty[0])
    raise DataError(f"{src}: column {names[j]!r} ({j + 1}) is entirely missing; allowed: columns with "
                    "at least one observed value")
  if not miss.any():
    raise DataError(f"{src}: no missing cells (empty or NaN); nothing to impute")
  if d < 2:
    raise DataError(f"{src}: {d} column; allowed: at least 2 columns (inputs and outputs)")
  if not 1 <= FLAGS.outputs <= d - 1:
    raise ConfigError(f"invalid value for flag --outputs: {FLAGS.outputs}; allowed: 1..{d - 1}")

  import jax
  from jaxcodesign.impute import dini
  cfg = dini.DINIConfig(rounds=FLAGS.rounds, train_steps=FLAGS.train_steps)
  res = dini.fit_dini(jax.random.key(FLAGS.seed), x, FLAGS.outputs, cfg)
  completed = np.where(miss, res.imputed, x)
  tables.write_csv(out, table, completed)

  cols = []
  for j in range(d):
    k = int(miss[:, j].sum())
    s = res.std[miss[:, j], j]
    cols.append({"name": names[j], "imputed": k, "mean_std": float(s.mean()) if k else 0.0,
                 "max_std": float(s.max()) if k else 0.0})
  parts = ("dini", cfg.init) + tuple(cfg.stack)
  weights = {p: float(w) for p, w in zip(parts, res.state.weights)}
  shown = ", ".join(f"{p} {w:g}" for p, w in weights.items())
  print(f"{NAME}: imputed {int(miss.sum())} of {n * d} cells ({n} rows x {d} columns); "
        f"rounds {len(res.state.history) - 1}, blend weights {shown}; wrote {out}",
        file=sys.stderr)
  for c in cols:
    if c["imputed"]:
      print(f"  {c['name']}: {c['imputed']} imputed, MC-dropout std mean {c['mean_std']:.4g} "
            f"max {c['max_std']:.4g}", file=sys.stderr)
  if FLAGS.report:
    pathlib.Path(FLAGS.report).write_text(json.dumps(
        {"columns": cols, "alpha": res.state.alpha, "weights": weights,
         "rounds": len(res.state.history) - 1,
         "history": res.state.history}, indent=1))
  return 0


if __name__ == "__main__":
  define_flags()
  _cli.run(main, name=NAME)
