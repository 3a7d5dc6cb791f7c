"""Fit the package's surrogate on measured rows and predict other rows (JSON lines in, JSON lines out).

Usage::

  python -m launch.surrogate --space=flexibert_small --train=IN.jsonl --target=accuracy.SST-2 \
      --predict=OTHER.jsonl --output=OUT.jsonl [--surrogate=hybrid --members=8 --epochs=150 \
      --batch_size=32 --holdout=0 --trees=random_forest --n_trees=500 --tree_weight=0.5 --seed=0]

Default surrogate ``hybrid`` (:mod:`jaxcodesign.surrogates.hybrid`): the teacher / student / NPN
network ensemble (8 members, every row trained for a fixed 150 epochs, no internal holdout) averaged
with a 500-tree random forest on the same features; ``--surrogate=network`` is the network alone,
``--surrogate=forest`` the forest alone (``--tree_weight=1``). Measured on fixed 80/20 splits of the
shared FlexiBERT-small library, the hybrid's mean ranks held-out models at least as well as a random
forest on the same rows (``python -m benchmarks.surrogates``; ``docs/surrogates.md``).

Each input row holds the design point under ``model_dict`` (model spaces) or ``config`` (accelerator
spaces) and, for training rows, a number at the dotted ``--target`` key (``accuracy.SST-2`` ->
``row["accuracy"]["SST-2"]``). Training rows without the key (or with a non-numeric / non-finite value)
are skipped and counted in the log. Features are ``space.to_features_batch`` (normalised, in [0, 1]);
the surrogate is fit on the raw target (it normalises targets internally), so predictions are in the
target's units. One output line per ``--predict`` row, in order: ``{"index", "hash", "mean",
"epistemic_std", "aleatoric_std"}`` (the row's ``hash`` field if present).

Every input (both row files, every design point, the output path) is checked before training.
Errors (exit status 2, one line ``launch.surrogate: error: ...``): ConfigError for an unknown space,
rows without a design point, fewer than 2 usable training rows, bad flag values; SpaceError for
points outside the space; JSON / file errors naming the file.
"""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any

from absl import flags, logging
import jax
import numpy as np

from jaxcodesign.errors import ConfigError
from launch import _cli

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
  flags.DEFINE_enum("surrogate", "hybrid", ["hybrid", "network", "forest"],
                    "hybrid: network ensemble + random forest (mean averaged); network: the "
                    "teacher/student/NPN ensemble alone; forest: the forest alone")
  flags.DEFINE_integer("members", 8, "network ensemble members (vmapped)")
  flags.DEFINE_integer("epochs", 150, "network epochs (fixed without a holdout; maximum with one)")
  flags.DEFINE_integer("batch_size", 32, "network minibatch size")
  flags.DEFINE_float("holdout", 0.0, "fraction of rows each member holds out for early stopping "
                     "(0: train on every row for --epochs; the original used 0.2)")
  flags.DEFINE_enum("trees", "random_forest", ["random_forest", "extra_trees"], "tree ensemble")
  flags.DEFINE_integer("n_trees", 500, "trees in the forest")
  flags.DEFINE_float("tree_weight", 0.5, "weight of the forest in the hybrid mean, in [0, 1]")
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


def surrogate_config(kind: str = "hybrid", members: int = 8, epochs: int = 150,
                     batch_size: int = 32, holdout: float = 0.0, trees: str = "random_forest",
                     n_trees: int = 500, tree_weight: float = 0.5):
  """The launcher's surrogate: a :class:`~jaxcodesign.surrogates.HybridConfig` ('hybrid', 'forest')
  or a :class:`~jaxcodesign.surrogates.SurrogateConfig` ('network'). Raises ConfigError for bad
  values (naming the field)."""
  from jaxcodesign.surrogates import HybridConfig, SurrogateConfig
  if kind not in ("hybrid", "network", "forest"):
    raise ConfigError(f"invalid value for field 'surrogate': {kind!r}; allowed: "
                      "['hybrid', 'network', 'forest']")
  net = SurrogateConfig(n_members=members, epochs=epochs, batch_size=batch_size,
                        holdout_fraction=holdout)
  if kind == "network":
    return net
  return HybridConfig(network=net, trees=trees, n_trees=n_trees,
                      tree_weight=1.0 if kind == "forest" else tree_weight)


def fit_and_predict(space, train_rows, target, predict_rows, config=None, seed: int = 0,
                    xp=None):
  """Fits on ``train_rows`` and returns (list of output dicts for ``predict_rows``, skipped count).

  ``config``: a ``HybridConfig`` (default :func:`surrogate_config`) or a ``SurrogateConfig``;
  ``xp``: the predict rows' features when already computed (validated) by the caller."""
  from jaxcodesign.surrogates import HybridConfig, fit_hybrid, fit_surrogate, predict
  config = config or surrogate_config()
  x, y, _, skipped = training_data(space, train_rows, target)
  if xp is None:
    xp = space.to_features_batch([point_of(r, i) for i, r in enumerate(predict_rows)])
  key = jax.random.key(seed)
  fit = fit_hybrid if isinstance(config, HybridConfig) else fit_surrogate
  state = fit(key, x, y, config)
  pred = predict(state, np.asarray(xp, np.float32))
  out = []
  for i, r in enumerate(predict_rows):
    out.append({"index": i, "hash": r.get("hash"), "mean": float(pred.mean[i]),
                "epistemic_std": float(pred.epistemic_std[i]),
                "aleatoric_std": float(pred.aleatoric_std[i])})
  return out, skipped


def check_output(path) -> pathlib.Path:
  """The output path, checked before any training: its parent is created, it is not a directory
  and it is writable. Raises OSError / ConfigError naming the path."""
  path = pathlib.Path(path)
  if path.is_dir():
    raise ConfigError(f"invalid value for field 'output': {str(path)!r} is a directory; allowed: "
                      "a file path")
  path.parent.mkdir(parents=True, exist_ok=True)
  import os
  if path.exists() and not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
    raise PermissionError(13, "not writable", str(path))
  return path


def main(argv):
  del argv
  for f in ("train", "target", "predict", "output"):
    if not getattr(FLAGS, f):
      raise ConfigError(f"missing flag --{f}; allowed: a value (see --help)")
  from jaxcodesign.spaces import get_space
  space = get_space(FLAGS.space)
  config = surrogate_config(FLAGS.surrogate, FLAGS.members, FLAGS.epochs, FLAGS.batch_size,
                            FLAGS.holdout, FLAGS.trees, FLAGS.n_trees, FLAGS.tree_weight)
  out_path = check_output(FLAGS.output)
  train_rows, predict_rows = read_rows(FLAGS.train), read_rows(FLAGS.predict)
  training_data(space, train_rows, FLAGS.target)  # validates the training rows before fitting
  if not predict_rows:
    raise ConfigError(f"invalid value for field 'predict': {FLAGS.predict!r} has no rows; allowed: "
                      "at least one JSON line with a design point")
  xp = space.to_features_batch([point_of(r, i) for i, r in enumerate(predict_rows)])
  out, skipped = fit_and_predict(space, train_rows, FLAGS.target, predict_rows, config, FLAGS.seed,
                                 xp=xp)
  with open(out_path, "w") as f:
    for o in out:
      f.write(json.dumps(o) + "\n")
  logging.info("trained on %d rows (%d skipped: no numeric %r); predicted %d rows",
               len(train_rows) - skipped, skipped, FLAGS.target, len(predict_rows))
  print(f"trained on {len(train_rows) - skipped} rows ({skipped} skipped without {FLAGS.target!r}); "
        f"wrote {len(out)} predictions to {out_path}")


if __name__ == "__main__":
  define_flags()
  _cli.run(main, name="launch.surrogate")
