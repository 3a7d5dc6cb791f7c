"""A design space with graph views (CNNBench, FlexiBERT, ...) as a G-BREATHE problem.

:func:`jaxcodesign.search.breathe.graph.gbreathe` works on integer rows. For a table benchmark
(NAS-Bench-Graph) a row is a table entry; for one of the project's own spaces, whose points are far
too many to enumerate (CNNBench's default space holds about 10^40), a row is an entry of a growing
**pool** of legal points, deduplicated by the space's graph hash (``space.hash``; for CNNBench the
``hash_graph_simple`` of CODEBench, Tuli et al., ACM TECS 2023). Every point that enters the pool has
been forced legal by the space itself:

* fresh points come from ``space.sample`` (legal by construction);
* a **mutation** perturbs one coordinate of the parent's feature vector ``f = space.to_features(p)``
  (a 0 becomes 2, a 1 becomes -1: in a one-hot block this selects another option or drops the current
  one, in an adjacency block it flips an edge) plus uniform noise in ``[0, 1e-2)`` that breaks ties,
  and maps the result back with ``space.project`` (the nearest legal point; for CNNBench the nearest
  full DAG within the edge limit and a shape repair), the legality forcing ``x <- LF(x + dx)`` of
  BREATHE applied to a discrete step;
* a **crossover** projects the midpoint ``(f_a + f_b) / 2`` plus the same noise: each one-hot block
  then takes one of the two parents' options at random, and the adjacency the nearest full DAG to
  the parents' mean.

A change that projects back onto the parent is not a proposal (``mutate`` draws again, up to four
times, then returns None). The user's
``evaluate(point)`` runs once per point, when G-BREATHE first asks for its objectives; its values are
all minimised.

Example (CNNBench, one objective)::

  from jaxcodesign.spaces.cnnbench import CNNBenchSpace
  from jaxcodesign.problems.space_graph import SpaceGraphProblem
  from jaxcodesign.search.breathe.graph import gbreathe

  space = CNNBenchSpace(max_modules=8)
  problem = SpaceGraphProblem(space, lambda p: [my_error(p)])
  rows = gbreathe(problem, "all", budget=50, seed=0)
  points, y = problem.points_of(rows), problem.objectives(rows)
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from jaxcodesign.errors import ConfigError

__all__ = ["SpaceGraphProblem"]

_NOISE = 1e-2
_TRIES = 4


class SpaceGraphProblem:
  """G-BREATHE's problem protocol over a pool of legal points of ``space``.

  Args:
    space: a :class:`jaxcodesign.spaces.base.DesignSpace` with ``sample``, ``validate``,
      ``to_features``, ``project``, ``hash`` and ``graph`` (CNNBench, FlexiBERT 1.0/2.0, the generic
      graph space).
    evaluate: ``point -> m floats``, the objectives (all minimised) of one legal point.
    ref_point: the hypervolume reference (m floats); required when m > 1.

  Attributes:
    space; points: the pool (legal, validated points; row r is ``points[r]``).

  Raises:
    ConfigError: (from :meth:`objectives`) an evaluation that is not m finite floats, or m changing
      between points; (from :meth:`reference`) no ``ref_point`` for several objectives.
  """

  def __init__(self, space, evaluate: Callable[[dict], Sequence[float]],
               ref_point: Sequence[float] | None = None):
    for name in ("sample", "validate", "to_features", "project", "hash", "graph"):
      if not callable(getattr(space, name, None)):
        raise ConfigError(f"invalid value for field 'space': {type(space).__name__} has no "
                          f"{name}(); G-BREATHE needs sample, validate, to_features, project, hash, graph")
    self.space = space
    self._evaluate = evaluate
    self._ref = None if ref_point is None else np.asarray(ref_point, np.float64).ravel()
    self.points: list = []
    self._row_of: dict[str, int] = {}
    self._features: list[np.ndarray] = []
    self._y: dict[int, np.ndarray] = {}
    self._m: int | None = None

  # ---- pool ---------------------------------------------------------------------------------
  @property
  def size(self) -> int:
    """Points of the space (``space.size()``; may exceed any machine integer's range)."""
    return int(self.space.size())

  def add(self, point) -> int:
    """Row of ``point`` (validated; a new row if its hash is new)."""
    p = self.space.validate(point)
    h = self.space.hash(p)
    row = self._row_of.get(h)
    if row is None:
      row = len(self.points)
      self.points.append(p)
      self._features.append(np.asarray(self.space.to_features(p), np.float32))
      self._row_of[h] = row
    return row

  def points_of(self, rows) -> list:
    """The pool's points of ``rows`` (in order)."""
    return [self.points[int(r)] for r in rows]

  def random(self, rng: np.random.Generator, n: int) -> list[int]:
    """Rows of ``n`` fresh ``space.sample`` draws (duplicates possible; seeded from ``rng``)."""
    if n <= 0:
      return []
    return [self.add(p) for p in self.space.sample(int(rng.integers(2 ** 31 - 1)), int(n))]

  # ---- proposals ------------------------------------------------------------------------------
  def _project(self, f: np.ndarray, rng: np.random.Generator) -> int:
    return self.add(self.space.project(f + _NOISE * rng.random(f.shape[0])))

  def mutate(self, rng: np.random.Generator, row: int) -> int | None:
    """One coordinate of the parent's features flipped, forced legal by ``space.project``; up to 4
    draws, then None when every one landed on the parent."""
    for _ in range(_TRIES):  # a coordinate of an unused slot projects back onto the parent
      f = self._features[int(row)].astype(np.float64)
      i = int(rng.integers(f.shape[0]))
      f[i] = 2.0 if f[i] < 0.5 else -1.0
      child = self._project(f, rng)
      if child != int(row):
        return child
    return None

  def crossover(self, rng: np.random.Generator, a: int, b: int) -> int | None:
    """``space.project`` of the parents' feature midpoint (random tie-breaks); None when the child
    is a parent."""
    child = self._project(0.5 * (self._features[int(a)].astype(np.float64)
                                 + self._features[int(b)]), rng)
    return None if child in (int(a), int(b)) else child

  # ---- views and objectives -----------------------------------------------------------------
  def features(self, rows) -> np.ndarray:
    """float32[n, space.feature_dim] of rows."""
    return np.stack([self._features[int(r)] for r in rows])

  def graphs(self, rows):
    """``jraph.GraphsTuple`` of the rows' ``space.graph`` views, batched."""
    import jraph
    return jraph.batch_np([self.space.graph(self.points[int(r)]) for r in rows])

  def objectives(self, rows, objective: str = "all") -> np.ndarray:
    """float64[n, m] minimised objectives of rows; ``evaluate`` runs once per new row.

    Args:
      objective: only ``'all'`` (every value ``evaluate`` returns).
    """
    if objective != "all":
      raise ConfigError(f"invalid value for field 'objective': {objective!r}; allowed: ['all']")
    out = []
    for r in (int(r) for r in rows):
      if r not in self._y:
        try:
          y = np.asarray(self._evaluate(self.points[r]), np.float64).ravel()
        except (TypeError, ValueError) as e:
          raise ConfigError(f"evaluate(point) must return a list of floats: {e}") from None
        if self._m is None:
          self._m = int(y.shape[0])
        if y.shape[0] != self._m or y.shape[0] == 0 or not np.all(np.isfinite(y)):
          raise ConfigError(f"evaluate(point) returned {y.tolist()} for pool row {r}; expected "
                            f"{self._m} finite floats")
        self._y[r] = y
      out.append(self._y[r])
    return np.stack(out) if out else np.zeros((0, self._m or 0))

  def reference(self) -> np.ndarray:
    """The hypervolume reference point given at construction.

    Raises:
      ConfigError: none was given.
    """
    if self._ref is None:
      raise ConfigError("SpaceGraphProblem: several objectives need ref_point (m floats, minimised)")
    if self._m is not None and self._ref.shape[0] != self._m:
      raise ConfigError(f"invalid value for field 'ref_point': {self._ref.tolist()}; expected "
                        f"{self._m} floats (one per objective)")
    if not math.isfinite(float(self._ref.sum())):
      raise ConfigError(f"invalid value for field 'ref_point': {self._ref.tolist()}; must be finite")
    return self._ref
