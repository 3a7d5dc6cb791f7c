"""Generic design spaces for multi-objective search: boxes, integer grids, categoricals, products, DAGs.

All are :class:`~jaxcodesign.spaces.base.DesignSpace` subclasses with explicit-key sampling
('uniform', and 'lhs' = Latin hypercube for the vector spaces), features in [0, 1] and a legality
projection (clip / round / argmax / DAG repair) that is idempotent on valid points.

Points (all JSON-able):

* :class:`BoxSpace` ``[float] * d``; :class:`IntegerSpace` ``[int] * d``;
* :class:`CategoricalSpace` one of its ``choices``;
* :class:`ProductSpace` ``{name: sub-point}`` in the order of its ``spaces`` dict;
* :class:`TypedGraphSpace` ``{"matrix": [[0/1] * n] * n, "types": [type] * n}``: an upper-triangular
  (topologically numbered) DAG in which every vertex but the last has an out-edge and every vertex but
  the first an in-edge (the NASBench / CNNBench "full DAG" rule, ``docs/graph_hashes.md`` (FlexiBERT, JAIR 2023; CODEBench, ACM TECS 2023)
  section 3.1).

:func:`full_dag_matrices` (NASBench bit-mask enumeration) and :func:`count_full_dags`
(inclusion-exclusion) are the one place where full DAGs are enumerated and counted; CNNBench uses them.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any, Mapping, Sequence

import jax
import jraph
import numpy as np
from scipy.stats import qmc

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.spaces.base import DesignSpace, numpy_rng
from jaxcodesign.spaces.graph_hash import hex_digest, wl_hash

_METHODS = ("uniform", "lhs")


def _check_method(method: str, allowed=_METHODS) -> str:
  if method not in allowed:
    raise ValueError(f"invalid value for field 'method': {method!r}; allowed: {list(allowed)}")
  return method


def _unit_samples(key, n: int, d: int, method: str) -> np.ndarray:
  """float64[n, d] in [0, 1): i.i.d. uniform or a Latin hypercube (scipy.stats.qmc), seeded from ``key``."""
  _check_method(method)
  rng = numpy_rng(key)
  if d == 0:
    return np.zeros((n, 0))
  if method == "lhs":
    return qmc.LatinHypercube(d=d, seed=rng).random(n)
  return rng.random((n, d))


def _json_hash(obj) -> str:
  return hex_digest(json.dumps(obj, sort_keys=True, separators=(",", ":")), "md5")


# ------------------------------------------------------------------------------------------------
# Vector spaces
# ------------------------------------------------------------------------------------------------
class BoxSpace(DesignSpace):
  """Continuous box ``lower <= x <= upper`` (float64 bounds, d >= 1). Point: ``[float] * d``.

  Features: ``(x - lower) / (upper - lower)`` (0 where ``upper == lower``). Projection: clip the
  feature vector to [0, 1] and map back. ``size()`` is ``math.inf`` (an uncountable space).
  """

  name = "box"

  def __init__(self, lower: Sequence[float], upper: Sequence[float]):
    lo = np.atleast_1d(np.asarray(lower, np.float64))
    hi = np.atleast_1d(np.asarray(upper, np.float64))
    if lo.ndim != 1 or lo.shape != hi.shape or lo.size == 0:
      raise ConfigError(f"invalid bounds: lower {lo.shape} and upper {hi.shape} must be equal-length vectors")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo <= hi)):
      raise ConfigError("invalid bounds: need finite lower <= upper in every coordinate")
    self.lower, self.upper = lo, hi
    self._span = np.where(hi > lo, hi - lo, 1.0)

  def describe(self) -> dict:
    return {"name": self.name, "lower": self.lower.tolist(), "upper": self.upper.tolist(), "size": self.size()}

  def size(self):
    return math.inf

  def validate(self, point) -> list:
    x = np.asarray(point, np.float64)
    if x.shape != self.lower.shape:
      raise SpaceError("point", point, reason=f"expected {self.lower.size} values")
    bad = ~np.isfinite(x) | (x < self.lower) | (x > self.upper)
    if bad.any():
      i = int(np.argmax(bad))
      raise SpaceError(f"point[{i}]", float(x[i]), f"[{self.lower[i]}, {self.upper[i]}]")
    return [float(v) for v in x]

  def sample(self, key, n: int, method: str = "uniform") -> list:
    u = _unit_samples(key, n, self.lower.size, method)
    return [[float(v) for v in row] for row in self.lower + u * (self.upper - self.lower)]

  @property
  def feature_dim(self) -> int:
    return int(self.lower.size)

  def to_features(self, point) -> np.ndarray:
    x = np.asarray(self.validate(point))
    return ((x - self.lower) / self._span).astype(np.float32)

  def project(self, features) -> list:
    f = np.clip(np.asarray(features, np.float64).reshape(self.feature_dim), 0.0, 1.0)
    return [float(v) for v in np.clip(self.lower + f * self._span, self.lower, self.upper)]

  def hash(self, point) -> str:
    return _json_hash(self.validate(point))


class IntegerSpace(DesignSpace):
  """Integer grid ``lower <= x <= upper`` (inclusive). Point: ``[int] * d``.

  Features: ``(x - lower) / (upper - lower)``; projection: clip then round to the nearest integer.
  ``size() = prod(upper - lower + 1)``. LHS samples a Latin hypercube and floors it into the
  ``upper - lower + 1`` equal bins of each coordinate.
  """

  name = "integer"

  def __init__(self, lower: Sequence[int], upper: Sequence[int]):
    lo = np.atleast_1d(np.asarray(lower))
    hi = np.atleast_1d(np.asarray(upper))
    if lo.ndim != 1 or lo.shape != hi.shape or lo.size == 0:
      raise ConfigError(f"invalid bounds: lower {lo.shape} and upper {hi.shape} must be equal-length vectors")
    if not (np.all(lo == np.round(lo)) and np.all(hi == np.round(hi)) and np.all(lo <= hi)):
      raise ConfigError("invalid bounds: need integer lower <= upper in every coordinate")
    self.lower, self.upper = lo.astype(np.int64), hi.astype(np.int64)
    self._span = np.where(self.upper > self.lower, self.upper - self.lower, 1).astype(np.float64)

  def describe(self) -> dict:
    return {"name": self.name, "lower": self.lower.tolist(), "upper": self.upper.tolist(), "size": self.size()}

  def size(self) -> int:
    return math.prod(int(h - l + 1) for l, h in zip(self.lower, self.upper))

  def validate(self, point) -> list:
    x = np.asarray(point)
    if x.shape != self.lower.shape:
      raise SpaceError("point", point, reason=f"expected {self.lower.size} integers")
    for i, v in enumerate(x.tolist()):
      if isinstance(v, bool) or not float(v).is_integer() or not self.lower[i] <= v <= self.upper[i]:
        raise SpaceError(f"point[{i}]", v, f"integers in [{self.lower[i]}, {self.upper[i]}]")
    return [int(v) for v in x.tolist()]

  def sample(self, key, n: int, method: str = "uniform") -> list:
    u = _unit_samples(key, n, self.lower.size, method)
    x = self.lower + np.minimum(np.floor(u * (self.upper - self.lower + 1)), self.upper - self.lower)
    return [[int(v) for v in row] for row in x.astype(np.int64)]

  @property
  def feature_dim(self) -> int:
    return int(self.lower.size)

  def to_features(self, point) -> np.ndarray:
    x = np.asarray(self.validate(point), np.float64)
    return ((x - self.lower) / self._span).astype(np.float32)

  def project(self, features) -> list:
    f = np.clip(np.asarray(features, np.float64).reshape(self.feature_dim), 0.0, 1.0)
    x = np.clip(np.round(self.lower + f * self._span), self.lower, self.upper)
    return [int(v) for v in x]

  def hash(self, point) -> str:
    return _json_hash(self.validate(point))


class CategoricalSpace(DesignSpace):
  """One categorical variable. Point: one of ``choices`` (JSON-able, distinct).

  Features: one-hot float32[len(choices)]; projection: argmax (first index on ties). LHS stratifies:
  each choice appears ``n // k`` or ``n // k + 1`` times, in random order.
  """

  name = "categorical"

  def __init__(self, choices: Sequence[Any]):
    self.choices = list(choices)
    if not self.choices:
      raise ConfigError("invalid value for field 'choices': empty; allowed: a non-empty sequence")
    keys = [json.dumps(c, sort_keys=True) for c in self.choices]
    if len(set(keys)) != len(keys):
      raise ConfigError(f"invalid value for field 'choices': duplicates in {self.choices!r}")
    self._index = {k: i for i, k in enumerate(keys)}

  def describe(self) -> dict:
    return {"name": self.name, "choices": self.choices, "size": self.size()}

  def size(self) -> int:
    return len(self.choices)

  def index(self, point) -> int:
    """Index of ``point`` in ``choices``. Raises SpaceError naming the allowed choices."""
    i = self._index.get(json.dumps(point, sort_keys=True))
    if i is None:
      raise SpaceError("point", point, self.choices)
    return i

  def validate(self, point):
    return self.choices[self.index(point)]

  def sample(self, key, n: int, method: str = "uniform") -> list:
    _check_method(method)
    rng = numpy_rng(key)
    k = len(self.choices)
    if method == "lhs":
      idx = rng.permutation(np.concatenate([np.tile(np.arange(k), n // k), rng.permutation(k)[:n % k]]))
    else:
      idx = rng.integers(0, k, n)
    return [self.choices[int(i)] for i in idx]

  @property
  def feature_dim(self) -> int:
    return len(self.choices)

  def to_features(self, point) -> np.ndarray:
    f = np.zeros(self.feature_dim, np.float32)
    f[self.index(point)] = 1.0
    return f

  def project(self, features):
    return self.choices[int(np.argmax(np.asarray(features, np.float64).reshape(self.feature_dim)))]

  def hash(self, point) -> str:
    return _json_hash(self.validate(point))


class ProductSpace(DesignSpace):
  """Cartesian product of named sub-spaces. Point: ``{name: sub-point}`` (all names, dict order).

  Features: concatenation in dict order; projection projects every slice; ``size`` is the product;
  sampling splits ``key`` into one key per sub-space (each sampled with ``method``, so LHS is
  per sub-space).
  """

  name = "product"

  def __init__(self, spaces: Mapping[str, DesignSpace]):
    if not spaces:
      raise ConfigError("invalid value for field 'spaces': empty; allowed: a non-empty dict of DesignSpaces")
    for k, s in spaces.items():
      if not isinstance(s, DesignSpace):
        raise ConfigError(f"invalid value for field 'spaces.{k}': {s!r}; allowed: a DesignSpace")
    self.spaces = dict(spaces)
    dims = [s.feature_dim for s in self.spaces.values()]
    self._offsets = np.concatenate([[0], np.cumsum(dims)]).astype(int)

  def describe(self) -> dict:
    return {"name": self.name, "spaces": {k: s.describe() for k, s in self.spaces.items()},
            "size": self.size()}

  def size(self):
    return math.prod(s.size() for s in self.spaces.values())

  def validate(self, point) -> dict:
    if not isinstance(point, Mapping) or set(point) != set(self.spaces):
      raise SpaceError("point", point, list(self.spaces), reason="need exactly these keys")
    return {k: s.validate(point[k]) for k, s in self.spaces.items()}

  def sample(self, key, n: int, method: str = "uniform") -> list:
    _check_method(method)
    keys = jax.random.split(jax.random.key(int(numpy_rng(key).integers(2**31))), len(self.spaces))
    cols = {k: s.sample(kk, n, method) for (k, s), kk in zip(self.spaces.items(), keys)}
    return [{k: cols[k][i] for k in self.spaces} for i in range(n)]

  @property
  def feature_dim(self) -> int:
    return int(self._offsets[-1])

  def to_features(self, point) -> np.ndarray:
    p = self.validate(point)
    return np.concatenate([s.to_features(p[k]) for k, s in self.spaces.items()]).astype(np.float32)

  def to_features_batch(self, points) -> np.ndarray:
    """float32[n, feature_dim]: each sub-space's batched features, concatenated."""
    for p in points:
      if not isinstance(p, Mapping) or set(p) != set(self.spaces):
        raise SpaceError("point", p, list(self.spaces), reason="need exactly these keys")
    return np.concatenate([s.to_features_batch([p[k] for p in points])
                           for k, s in self.spaces.items()], axis=1).astype(np.float32)

  def split_features(self, features) -> dict:
    """``{name: features[..., slice of that sub-space]}`` (e.g. the two-tower surrogate's inputs)."""
    f = np.asarray(features)
    return {k: f[..., self._offsets[i]:self._offsets[i + 1]] for i, k in enumerate(self.spaces)}

  def describe_point(self, point):
    p = self.validate(point)
    return {"hash": self.hash(p), **{k: dict(s.describe_point(p[k])) for k, s in self.spaces.items()}}

  def feature_bounds(self):
    lo, hi = zip(*(s.feature_bounds() for s in self.spaces.values()))
    return np.concatenate(lo).astype(np.float32), np.concatenate(hi).astype(np.float32)

  def project(self, features) -> dict:
    f = np.asarray(features).reshape(self.feature_dim)
    return {k: s.project(f[self._offsets[i]:self._offsets[i + 1]])
            for i, (k, s) in enumerate(self.spaces.items())}

  def hash(self, point) -> str:
    p = self.validate(point)
    return hex_digest("|".join(f"{k}={s.hash(p[k])}" for k, s in self.spaces.items()), "md5")


# ------------------------------------------------------------------------------------------------
# Full DAGs (NASBench / CNNBench rule)
# ------------------------------------------------------------------------------------------------
def triu_index(v: int) -> tuple[np.ndarray, np.ndarray]:
  """Row-major strict upper triangle of a [v, v] matrix: (rows, cols), each int[v (v - 1) / 2]."""
  return np.triu_indices(v, k=1)


def is_full_dag(matrix) -> bool:
  """True iff ``matrix`` [V, V] is strictly upper triangular, every vertex but the last has an
  out-edge and every vertex but the first has an in-edge (``docs/graph_hashes.md`` 3.1)."""
  a = np.asarray(matrix)
  v = a.shape[0]
  if a.ndim != 2 or a.shape[1] != v or v < 2 or np.any(np.tril(a) != 0) or np.any((a != 0) & (a != 1)):
    return False
  return bool(np.all(a[:-1].sum(1) > 0) and np.all(a[:, 1:].sum(0) > 0))


@functools.lru_cache(maxsize=16)
def full_dag_matrices(v: int, max_edges: int | None = None) -> np.ndarray:
  """All full-DAG adjacency matrices on ``v`` vertices with at most ``max_edges`` edges.

  NASBench-style enumeration (``docs/graph_hashes.md`` 3.1): edge x -> y (x < y) is bit ``x + y (y - 1) / 2``
  of an integer mask; masks are scanned in increasing order and kept when every vertex but the last
  has an out-edge, every vertex but the first an in-edge, and the edge count is <= ``max_edges``.

  Returns:
    uint8[n, v, v] in mask order (read-only; cached).

  Raises:
    ConfigError: for ``v`` outside 2..7 (2^21 masks is the enumeration limit).
  """
  if not 2 <= v <= 7:
    raise ConfigError(f"invalid value for field 'module_vertices': {v}; allowed: 2..7 for enumeration")
  t = v * (v - 1) // 2
  masks = np.arange(1 << t, dtype=np.int64)
  bits = ((masks[:, None] >> np.arange(t)) & 1).astype(np.uint8)  # [2^t, t], bit b of mask
  xs, ys = zip(*[(x, y) for y in range(1, v) for x in range(y)])  # bit b = x + y(y-1)/2
  mats = np.zeros((1 << t, v, v), np.uint8)
  mats[:, np.array(xs), np.array(ys)] = bits
  keep = np.all(mats[:, :-1].sum(2) > 0, axis=1) & np.all(mats[:, :, 1:].sum(1) > 0, axis=1)
  if max_edges is not None:
    keep &= bits.sum(1) <= max_edges
  out = mats[keep]
  out.setflags(write=False)
  return out


def count_full_dags(v: int) -> int:
  """Exact number of full DAGs on ``v`` >= 2 numbered vertices (no edge limit), by inclusion-exclusion.

  Sum over A (rows 0..v-2 forced empty) and B (columns 1..v-1 forced empty) of
  ``(-1)^(|A|+|B|) 2^#{(i, j): i < j, i not in A, j not in B}``; 2^(2v-2) terms. Checked against
  :func:`full_dag_matrices` in the tests.
  """
  total = 0
  for a_mask in range(1 << (v - 1)):
    rows_free = [i for i in range(v - 1) if not a_mask >> i & 1] + [v - 1]
    for b_mask in range(1 << (v - 1)):
      cols_free = [0] + [j for j in range(1, v) if not b_mask >> (j - 1) & 1]
      pairs = sum(1 for i in rows_free for j in cols_free if i < j)
      total += (-1) ** (bin(a_mask).count("1") + bin(b_mask).count("1")) * (1 << pairs)
  return total


def repair_full_dag(scores: np.ndarray) -> np.ndarray:
  """Nearest-ish full DAG to a score matrix [V, V] (upper triangle used, values in [0, 1]).

  Threshold at 0.5, then for every vertex but the first without an in-edge add the in-edge with the
  highest score, and for every vertex but the last without an out-edge add the out-edge with the
  highest score (each is the cheapest single edge in squared distance). A full DAG is returned
  unchanged, so the repair is idempotent.

  Returns:
    uint8[V, V] full DAG.
  """
  s = np.asarray(scores, np.float64)
  v = s.shape[0]
  a = (np.triu(s, 1) > 0.5).astype(np.uint8)
  for j in range(1, v):
    if a[:j, j].sum() == 0:
      a[int(np.argmax(s[:j, j])), j] = 1
  for i in range(v - 1):
    if a[i, i + 1:].sum() == 0:
      a[i, i + 1 + int(np.argmax(s[i, i + 1:]))] = 1
  return a


class TypedGraphSpace(DesignSpace):
  """DAGs with typed nodes: ``{"matrix": [[0/1] * n] * n, "types": [type] * n}``.

  ``min_nodes <= n <= max_nodes``; the matrix is upper triangular (vertices in topological order) and
  a full DAG (see module docstring). Optional ``input_type`` / ``output_type`` pin the types of the
  first / last vertex (the other vertices take any of ``node_types``).

  Features (float32, all in [0, 1]): one-hot of n over ``min_nodes..max_nodes``, then the row-major
  strict upper triangle of the adjacency padded to ``max_nodes``, then a one-hot of the type per vertex
  slot (``max_nodes`` slots; unused slots and pinned vertices are zero). Projection: argmax for n and
  types, :func:`repair_full_dag` for the adjacency. ``size`` is exact: sum over n of
  ``count_full_dags(n) * T^(free vertices)``. Sampling ('uniform'): n uniform, edges Bernoulli(1/2)
  then repaired, types uniform (not uniform over the space; 'lhs' is not supported).
  """

  name = "typed_graph"

  def __init__(self, node_types: Sequence[str], max_nodes: int, min_nodes: int = 2,
               input_type: str | None = None, output_type: str | None = None):
    self.node_types = list(node_types)
    if not self.node_types or len(set(self.node_types)) != len(self.node_types):
      raise ConfigError(f"invalid value for field 'node_types': {node_types!r}; allowed: distinct, non-empty")
    if not 2 <= min_nodes <= max_nodes:
      raise ConfigError(f"invalid node range [{min_nodes}, {max_nodes}]; allowed: 2 <= min_nodes <= max_nodes")
    self.min_nodes, self.max_nodes = int(min_nodes), int(max_nodes)
    self.input_type, self.output_type = input_type, output_type
    self._t = len(self.node_types)
    self._n_choices = self.max_nodes - self.min_nodes + 1
    self._tri = self.max_nodes * (self.max_nodes - 1) // 2

  def _pinned(self, i: int, n: int) -> str | None:
    if i == 0 and self.input_type is not None:
      return self.input_type
    if i == n - 1 and self.output_type is not None:
      return self.output_type
    return None

  def describe(self) -> dict:
    return {"name": self.name, "node_types": self.node_types, "min_nodes": self.min_nodes,
            "max_nodes": self.max_nodes, "input_type": self.input_type, "output_type": self.output_type,
            "size": self.size()}

  def size(self) -> int:
    total = 0
    for n in range(self.min_nodes, self.max_nodes + 1):
      free = n - (self.input_type is not None) - (self.output_type is not None)
      total += count_full_dags(n) * self._t ** free
    return total

  def validate(self, point) -> dict:
    if not isinstance(point, Mapping) or "matrix" not in point or "types" not in point:
      raise SpaceError("point", point, reason="need keys 'matrix' and 'types'")
    types = list(point["types"])
    n = len(types)
    if not self.min_nodes <= n <= self.max_nodes:
      raise SpaceError("types", n, f"{self.min_nodes}..{self.max_nodes} nodes")
    a = np.asarray(point["matrix"])
    if a.shape != (n, n):
      raise SpaceError("matrix", point["matrix"], reason=f"expected a [{n}, {n}] 0/1 matrix")
    if np.any(np.tril(a) != 0):
      raise SpaceError("matrix", a.tolist(), reason="cyclic or not topologically ordered: entries on or "
                       "below the diagonal; allowed: strictly upper-triangular")
    if not is_full_dag(a):
      raise SpaceError("matrix", a.tolist(), reason="dangling vertex or non-0/1 entry: every vertex but "
                       "the last needs an out-edge, every vertex but the first an in-edge")
    for i, t in enumerate(types):
      pin = self._pinned(i, n)
      allowed = [pin] if pin is not None else self.node_types
      if t not in allowed:
        raise SpaceError(f"types[{i}]", t, allowed)
    return {"matrix": a.astype(int).tolist(), "types": types}

  def sample(self, key, n: int, method: str = "uniform") -> list:
    _check_method(method, ("uniform",))
    rng = numpy_rng(key)
    out = []
    for _ in range(n):
      k = int(rng.integers(self.min_nodes, self.max_nodes + 1))
      a = repair_full_dag(rng.random((k, k)))
      types = [self._pinned(i, k) or self.node_types[int(rng.integers(self._t))] for i in range(k)]
      out.append({"matrix": a.astype(int).tolist(), "types": types})
    return out

  @property
  def feature_dim(self) -> int:
    return self._n_choices + self._tri + self.max_nodes * self._t

  def to_features(self, point) -> np.ndarray:
    p = self.validate(point)
    n = len(p["types"])
    f = np.zeros(self.feature_dim, np.float32)
    f[n - self.min_nodes] = 1
    a = np.zeros((self.max_nodes, self.max_nodes), np.float32)
    a[:n, :n] = p["matrix"]
    f[self._n_choices:self._n_choices + self._tri] = a[triu_index(self.max_nodes)]
    base = self._n_choices + self._tri
    for i, t in enumerate(p["types"]):
      if self._pinned(i, n) is None:
        f[base + i * self._t + self.node_types.index(t)] = 1
    return f

  def project(self, features) -> dict:
    f = np.asarray(features, np.float64).reshape(self.feature_dim)
    n = self.min_nodes + int(np.argmax(f[:self._n_choices]))
    s = np.zeros((self.max_nodes, self.max_nodes))
    s[triu_index(self.max_nodes)] = f[self._n_choices:self._n_choices + self._tri]
    a = repair_full_dag(s[:n, :n])
    base = self._n_choices + self._tri
    types = [self._pinned(i, n) or self.node_types[int(np.argmax(f[base + i * self._t:base + (i + 1) * self._t]))]
             for i in range(n)]
    return {"matrix": a.astype(int).tolist(), "types": types}

  def hash(self, point) -> str:
    p = self.validate(point)
    return wl_hash(p["matrix"], p["types"], "sha256")

  def graph(self, point) -> jraph.GraphsTuple:
    """GraphsTuple: ``nodes`` float32[n, T] one-hot types (pinned types included if in node_types,
    else zero rows), ``edges`` float32[E, 1] ones, ``globals`` float32[1, 1] = n / max_nodes."""
    p = self.validate(point)
    n = len(p["types"])
    nodes = np.zeros((n, self._t), np.float32)
    for i, t in enumerate(p["types"]):
      if t in self.node_types:
        nodes[i, self.node_types.index(t)] = 1
    snd, rcv = np.nonzero(np.asarray(p["matrix"]))
    return jraph.GraphsTuple(nodes=nodes, edges=np.ones((len(snd), 1), np.float32),
                             senders=snd.astype(np.int32), receivers=rcv.astype(np.int32),
                             n_node=np.array([n], np.int32), n_edge=np.array([len(snd)], np.int32),
                             globals=np.array([[n / self.max_nodes]], np.float32))


# ------------------------------------------------------------------------------------------------
# Finite restriction of a space
# ------------------------------------------------------------------------------------------------
class FiniteSpace(DesignSpace):
  """A base space restricted to a finite list of its points (e.g. the models that were measured).

  Points, features, graph views and hashes are those of ``base``; only the points of ``candidates``
  are valid. The projection maps a feature vector to the nearest candidate (Euclidean distance in the
  base space's normalised [0, 1] features), so a GOBI optimum always lands on a candidate. Used by the
  table-oracle experiments, where only measured models can be queried.

  Raises:
    ConfigError: if ``candidates`` is empty.
  """

  def __init__(self, base: DesignSpace, candidates: Sequence[Any]):
    if not candidates:
      raise ConfigError("invalid value for field 'candidates': empty; allowed: a non-empty list")
    self.base = base
    self.name = f"finite({base.name})"
    self.candidates = [base.validate(c) for c in candidates]
    self._hashes = [base.hash(c) for c in self.candidates]
    self._index = {h: i for i, h in enumerate(self._hashes)}
    self._features = base.to_features_batch(self.candidates)
    self._indices = CategoricalSpace(list(range(len(self.candidates))))  # sampling of indices

  def describe(self) -> dict:
    return {"name": self.name, "base": self.base.name, "size": self.size()}

  def size(self) -> int:
    return len(self._index)

  def validate(self, point):
    p = self.base.validate(point)
    if self.base.hash(p) not in self._index:
      raise SpaceError("point", self.base.hash(p), reason="not one of the candidates",
                       allowed=f"{self.size()} candidate points of space {self.base.name!r}")
    return p

  def sample(self, key, n: int, method: str = "uniform") -> list:
    """``n`` candidates, uniformly with replacement ('uniform') or a stratified permutation ('lhs')."""
    return [self.candidates[i] for i in self._indices.sample(key, n, method)]

  @property
  def feature_dim(self) -> int:
    return self.base.feature_dim

  def to_features(self, point) -> np.ndarray:
    return self.base.to_features(point)

  def feature_bounds(self):
    return self.base.feature_bounds()

  def project(self, features):
    f = np.asarray(features, np.float32).reshape(1, -1)
    return self.candidates[int(np.argmin(((self._features - f) ** 2).sum(axis=1)))]

  def hash(self, point) -> str:
    return self.base.hash(point)

  def graph(self, point):
    return self.base.graph(point)
