"""Fit the package's surrogate on measured rows and predict other rows (JSON lines in, JSON lines out).

Usage::

  python -m launch.surrogate --space=flexibert_small --train=IN.jsonl --target=accuracy.SST-2 \
      --predict=OTHER.jsonl --output=OUT.jsonl [--members=4 --epochs=200 --seed=0]

Each input row holds the design point under ``model_dict`` (model spaces) or ``config`` (accelerator
spaces) and, for training rows, a number at the dotted ``--target`` key (``accuracy.SST-2`` ->
``row["accuracy"]["SST-2"]``). Training rows without the key (or with a non-numeric / non-finite value)
are skipped and counted in the log. Features are ``space.to_features_batch`` (normalised, in [0, 1]);
the surrogate is :func:`jaxcodesign.surrogates.fit_surrogate` on the raw target (it normalises targets
internally), so predictions are in the target's units. One output line per ``--predict`` row, in
order: ``{"index", "hash", "mean", "epistemic_std", "aleatoric_std"}`` (the row's ``hash`` field if
present).

Raises (exit with a message): ConfigError for an unknown space, rows without a design point, fewer
than 2 usable training rows; SpaceError for points outside the space.
"""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any

from absl import app, flags, logging
import jax
import numpy as np

from jaxcodesign.errors import ConfigError

FLAGS = flags.FLAGS
def define_flags():
  """Defines the launcher's absl flags (only when run as a program, or by a test that drives
  ``main``: importing this module never clashes with other launchers' flags). Idempotent."""
  if "predict" in FLAGS:
    return
  flags.DEFINE_string("space", "flexibert_small", "design space name (jaxcodesign.spaces.get_space)")
  flags.DEFINE_string("train", None, "training rows (JSON lines)")
  flags.DEFINE_string("target", None, "dotted key of the numeric target, e.g. accuracy.SST-2")
  flags.DEFINE_string("predict", None, "rows to predict (JSON lines)")
  flags.DEFINE_string("output", None, "output JSON lines")
  flags.DEFINE_integer("members", 4, "ensemble members (vmapped)")
  flags.DEFINE_integer("epochs", 200, "maximum epochs (early stopping on a held-out split)")
  flags.DEFINE_integer("seed", 0, "PRNG seed")


def get_dotted(row: dict, key: str) -> Any:
  """``row[a][b]...`` for ``key = 'a.b...'``; None when any part is missing.

  A full key that exists literally (e.g. a top-level ``"accuracy.SST-2"``) wins; otherwise the key is
  split at the first dot whose prefix exists, so task names containing dots are not broken apart.
  """
  cur: Any = row
  rest = key
  while rest:
    if isinstance(cur, dict) and rest in cur:
      return cur[rest]
    parts = rest.split(".")
    for i in range(1, len(parts)):
      head = ".".join(parts[:i])
      if isinstance(cur, dict) and head in cur:
        cur, rest = cur[head], ".".join(parts[i:])
        break
    else:
      return None
  return cur


def read_rows(path) -> list[dict]:
  """Rows of a JSON-lines file (blank lines skipped)."""
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def point_of(row: dict, index: int):
  """The design point of a row: ``model_dict`` or ``config``. Raises ConfigError when neither."""
  for k in ("model_dict", "config"):
    if k in row:
      return row[k]
  raise ConfigError(f"row {index} has no design point; allowed keys: ['model_dict', 'config']")


def training_data(space, rows: list[dict], target: str):
  """(x float32[n, d], y float32[n], kept row indices, skipped count) for rows with a finite target."""
  xs, ys, kept = [], [], []
  for i, r in enumerate(rows):
    v = get_dotted(r, target)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
      continue
    xs.append(point_of(r, i))
    ys.append(float(v))
    kept.append(i)
  if len(kept) < 2:
    raise ConfigError(f"invalid value for field 'target': {target!r} is present in {len(kept)} "
                      "training rows; at least 2 are needed")
  x = space.to_features_batch(xs).astype(np.float32)
  return x, np.asarray(ys, np.float32), kept, len(rows) - len(kept)


def fit_and_predict(space, train_rows, target, predict_rows, config=None, seed: int = 0):
  """Fits on ``train_rows`` and returns (list of output dicts for ``predict_rows``, skipped count)."""
  from jaxcodesign.surrogates import SurrogateConfig, fit_surrogate, predict
  config = config or SurrogateConfig()
  x, y, _, skipped = training_data(space, train_rows, target)
  state = fit_surrogate(jax.random.PRNGKey(seed), x, y, config)
  xp = space.to_features_batch([point_of(r, i) for i, r in enumerate(predict_rows)])
  pred = predict(state, xp.astype(np.float32))
  out = []
  for i, r in enumerate(predict_rows):
    out.append({"index": i, "hash": r.get("hash"), "mean": float(pred.mean[i]),
                "epistemic_std": float(pred.epistemic_std[i]),
                "aleatoric_std": float(pred.aleatoric_std[i])})
  return out, skipped


def main(argv):
  del argv
  for f in ("train", "target", "predict", "output"):
    if not getattr(FLAGS, f):
      raise app.UsageError(f"--{f} is required")
  from jaxcodesign.spaces import get_space
  from jaxcodesign.surrogates import SurrogateConfig
  space = get_space(FLAGS.space)
  train_rows, predict_rows = read_rows(FLAGS.train), read_rows(FLAGS.predict)
  config = SurrogateConfig(n_members=FLAGS.members, epochs=FLAGS.epochs, seed=FLAGS.seed)
  out, skipped = fit_and_predict(space, train_rows, FLAGS.target, predict_rows, config, FLAGS.seed)
  logging.info("trained on %d rows (%d skipped: no numeric %r); predicted %d rows",
               len(train_rows) - skipped, skipped, FLAGS.target, len(predict_rows))
  print(f"trained on {len(train_rows) - skipped} rows ({skipped} skipped without {FLAGS.target!r}); "
        f"wrote {len(out)} predictions to {FLAGS.output}")
  path = pathlib.Path(FLAGS.output)
  path.parent.mkdir(parents=True, exist_ok=True)
  with open(path, "w") as f:
    for o in out:
      f.write(json.dumps(o) + "\n")


if __name__ == "__main__":
  define_flags()
  app.run(main)
