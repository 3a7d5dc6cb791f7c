"""Design-space command line: sample, describe, encode and decode points of any registered space.

Usage::

  python -m launch.spaces --space=flexibert2 --describe
  python -m launch.spaces --space=flexibert2 --sample=5 --seed=0 [--method=uniform|lhs|exact]
  python -m launch.spaces --space=flexibert2 --encode=IN.jsonl   # lines with model_dict / config / graph
  python -m launch.spaces --space=flexibert2 --decode=IN.jsonl   # lines with embedding
  python -m launch.spaces --space=flexibert2 --restrict='{"layers": [2], "hidden": [16, 32]}' --sample=3

Every output is one JSON object per line on stdout. The logic lives in the functions below
(``describe_lines``, ``sample_lines``, ``encode_lines``, ``decode_lines``), written against the
:class:`jaxcodesign.spaces.base.DesignSpace` protocol only, so it works for every space of
:func:`jaxcodesign.spaces.get_space`. The point key is ``model_dict`` for model spaces, ``config`` for
accelerator spaces and ``graph`` for cnnbench (or a space's own ``point_key`` attribute).
"""

from __future__ import annotations

import json
import sys
from typing import Iterable, Iterator

import jax
import numpy as np
from absl import flags

from jaxcodesign.errors import ConfigError
from jaxcodesign.spaces.base import check_count
from launch import _cli
from jaxcodesign.spaces import SPACE_NAMES, get_space

_POINT_KEYS = {"flexibert2": "model_dict", "flexibert1": "model_dict", "flexibert_small": "model_dict",
               "cnnbench": "graph", "elector": "config", "acceltran": "config", "accelbench": "config"}


def point_key(space) -> str:
  """JSON key under which points of ``space`` are read and written."""
  return getattr(space, "point_key", None) or _POINT_KEYS.get(space.name, "point")


def _jsonable(x):
  if isinstance(x, dict):
    return {str(k): _jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_jsonable(v) for v in x]
  if isinstance(x, np.ndarray):
    return _jsonable(x.tolist())
  if isinstance(x, np.integer):
    return int(x)
  if isinstance(x, np.floating):
    return float(x)
  if isinstance(x, np.bool_):
    return bool(x)
  return x


def describe_lines(space) -> list[dict]:
  """One dict: the space's ``describe()`` (parameters, allowed values, size)."""
  return [_jsonable(space.describe())]


def sample_lines(space, n: int, seed: int, method: str = "uniform") -> list[dict]:
  """``n`` points drawn with ``jax.random.key(seed)``, each as ``{point_key: point}``."""
  pts = space.sample(jax.random.key(seed), n, method)
  return [{point_key(space): _jsonable(p)} for p in pts]


def _read_jsonl(lines: Iterable[str]) -> Iterator[tuple[int, dict]]:
  for i, line in enumerate(lines, 1):
    line = line.strip()
    if not line:
      continue
    try:
      obj = json.loads(line)
    except json.JSONDecodeError as err:
      raise ConfigError(f"invalid value for field 'line {i}': not JSON ({err})") from err
    yield i, obj


def _embedding_or_none(space, p):
  try:
    return _jsonable(np.asarray(space.encode(p)))
  except NotImplementedError:
    return None


def encode_lines(space, lines: Iterable[str]) -> list[dict]:
  """For each input line holding the space's point key (``model_dict`` / ``config`` / ``graph``):
  ``{"embedding": [...] or null, "features": [...], "hash": str}``.

  Raises:
    ConfigError: for a line without the point key; SpaceError for an invalid point.
  """
  key = point_key(space)
  out = []
  for i, obj in _read_jsonl(lines):
    if not isinstance(obj, dict) or key not in obj:
      raise ConfigError(f"invalid value for field 'line {i}': missing key {key!r}; allowed: objects with {key!r}")
    p = obj[key]
    out.append({"embedding": _embedding_or_none(space, p),
                "features": [float(x) for x in np.asarray(space.to_features(p), np.float32)],
                "hash": space.hash(p)})
  return out


def decode_lines(space, lines: Iterable[str]) -> list[dict]:
  """For each input line holding ``embedding``: ``{point_key: decoded point}``.

  Raises:
    ConfigError: for a line without ``embedding``; SpaceError for an out-of-space embedding.
  """
  key = point_key(space)
  out = []
  for i, obj in _read_jsonl(lines):
    if not isinstance(obj, dict) or "embedding" not in obj:
      raise ConfigError(f"invalid value for field 'line {i}': missing key 'embedding'")
    out.append({key: _jsonable(space.decode(obj["embedding"]))})
  return out


FLAGS = flags.FLAGS
def define_flags():
  """Defines the launcher's absl flags (only when run as a program: importing this module for its
  functions never clashes with other launchers' flags in one process). Idempotent."""
  if "describe" in FLAGS:
    return
  flags.DEFINE_enum("space", "flexibert2", list(SPACE_NAMES), "Design space name.")
  flags.DEFINE_string("restrict", None, "JSON object of constructor keyword arguments (restrictions).")
  flags.DEFINE_integer("sample", None, "Print this many sampled points.")
  flags.DEFINE_integer("seed", 0, "PRNG seed for --sample.")
  flags.DEFINE_string("method", "uniform", "Sampling method (uniform, lhs, or space-specific e.g. exact).")
  flags.DEFINE_bool("describe", False, "Print parameters, allowed values and size.")
  flags.DEFINE_string("encode", None, "JSONL file of points to encode ('-' for stdin).")
  flags.DEFINE_string("decode", None, "JSONL file of embeddings to decode ('-' for stdin).")


def _open(path):
  return sys.stdin if path == "-" else open(path, encoding="utf-8")


def run(space_name: str, restrict: str | None = None, sample: int | None = None, seed: int = 0,
        method: str = "uniform", describe: bool = False, encode: str | None = None,
        decode: str | None = None) -> list[dict]:
  """The launcher's work as a function: returns the output objects (one per line)."""
  try:
    kwargs = json.loads(restrict) if restrict else {}
  except json.JSONDecodeError as err:
    raise ConfigError(f"invalid value for field 'restrict': not JSON ({err.msg}); allowed: a JSON "
                      "object such as '{\"layers\": [2]}'") from err
  if not isinstance(kwargs, dict):
    raise ConfigError(f"invalid value for field 'restrict': {restrict!r}; allowed: a JSON object")
  space = get_space(space_name, **kwargs)
  chosen = [describe, sample is not None, encode is not None, decode is not None]
  if sum(chosen) != 1:
    raise ConfigError("invalid flags: give exactly one of --describe, --sample, --encode, --decode")
  if describe:
    return describe_lines(space)
  if sample is not None:
    check_count(sample, "sample", minimum=1)
    return sample_lines(space, sample, seed, method)
  path = encode if encode is not None else decode
  with _open(path) as fh:
    return encode_lines(space, fh) if encode is not None else decode_lines(space, fh)


def main(argv):
  del argv
  out = run(FLAGS.space, FLAGS.restrict, FLAGS.sample, FLAGS.seed, FLAGS.method, FLAGS.describe,
            FLAGS.encode, FLAGS.decode)
  for obj in out:
    print(json.dumps(obj))
  return 0


if __name__ == "__main__":
  define_flags()
  _cli.run(main, name="launch.spaces")
