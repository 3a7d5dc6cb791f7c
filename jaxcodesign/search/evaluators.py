"""Evaluators: the one interface through which searches obtain metrics for design points.

An :class:`Evaluator` has a ``name`` and ``evaluate(points: list) -> list[dict]`` returning one metric
dict per point, in order (e.g. ``{"accuracy": 0.81}`` or the hardware metrics of
``jaxcodesign.hardware.api``). Searches (BOSHNAS, baselines, co-design) only see this interface, so a
training oracle, a simulator and a table of real measurements are interchangeable.

Budget accounting (:class:`BudgetedEvaluator`): a *query* is one evaluation of a design not seen
before, identified by ``space.hash(point)``. A duplicate of an already evaluated design is answered
from the cache and is NOT charged, because re-measuring a deterministic oracle gives no information;
searches report the number of charged queries on their x-axes.

The :class:`Evaluator` protocol and :class:`TableEvaluator` live in the neutral module
:mod:`jaxcodesign.evaluation` (re-exported here).
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Mapping

import numpy as np

from jaxcodesign.errors import ConfigError
from jaxcodesign.evaluation import Evaluator, TableEvaluator  # noqa: F401  (re-export)
from jaxcodesign.padding import bucket_size, pad_rows

__all__ = ["Evaluator", "TableEvaluator", "BudgetExhausted", "CallableEvaluator", "JittedEvaluator",
           "BudgetedEvaluator"]


class BudgetExhausted(RuntimeError):
  """Raised by :class:`BudgetedEvaluator` when a batch would exceed the query budget."""


class CallableEvaluator:
  """Wraps ``fn(point) -> dict`` (called once per point, in order)."""

  def __init__(self, fn: Callable[[Any], Mapping[str, Any]], name: str = "callable"):
    self.fn = fn
    self.name = name

  def evaluate(self, points: list) -> list[dict]:
    return [dict(self.fn(p)) for p in points]


class JittedEvaluator:
  """Evaluates a whole batch at once through ``fn(features float32[n, d]) -> dict[str, array[n]]``.

  ``fn`` is typically a jitted/vmapped JAX function; the batch is padded to the next power of two
  (minimum ``min_bucket``, :func:`jaxcodesign.padding.bucket_size`) with copies of the last row so repeated calls with varying batch sizes
  reuse a few compiled shapes. Outputs are cut back to ``n`` and converted to Python floats.
  """

  def __init__(self, fn: Callable[[np.ndarray], Mapping[str, Any]], space, name: str = "jitted",
               min_bucket: int = 8):
    self.fn = fn
    self.space = space
    self.name = name
    self.min_bucket = int(min_bucket)

  def evaluate(self, points: list) -> list[dict]:
    if not points:
      return []
    x = self.space.to_features_batch(points)
    n = x.shape[0]
    xp = pad_rows(np.asarray(x), bucket_size(n, self.min_bucket), mode="edge")
    out = {k: np.asarray(v)[:n] for k, v in dict(self.fn(xp)).items()}
    return [{k: float(v[i]) for k, v in out.items()} for i in range(n)]


class BudgetedEvaluator:
  """Budget accounting and de-duplication around another evaluator.

  Unique designs (by ``space.hash``) are charged once; duplicates (within a batch or of earlier
  batches) are answered from the cache for free. ``budget=None`` means unlimited.
  Attributes: ``used`` (charged queries), ``history`` (list of (point, metrics) in charge order).

  Raises:
    BudgetExhausted: when a batch contains more new designs than ``remaining``; nothing is charged then.
  """

  def __init__(self, inner: Evaluator, space, budget: int | None = None):
    if budget is not None and budget < 0:
      raise ConfigError(f"invalid value for field 'budget': {budget}; allowed: int >= 0 or None")
    self.inner = inner
    self.space = space
    self.budget = budget
    self.name = f"budgeted({getattr(inner, 'name', 'evaluator')})"
    self.cache: dict[str, dict] = {}
    self.history: list[tuple[Any, dict]] = []

  @property
  def used(self) -> int:
    return len(self.cache)

  @property
  def remaining(self) -> float:
    return float("inf") if self.budget is None else self.budget - self.used

  def is_known(self, point) -> bool:
    return self.space.hash(point) in self.cache

  def evaluate(self, points: list) -> list[dict]:
    hashes = [self.space.hash(p) for p in points]
    new, new_hashes = [], []
    for p, h in zip(points, hashes):
      if h not in self.cache and h not in new_hashes:
        new.append(p)
        new_hashes.append(h)
    if len(new) > self.remaining:
      raise BudgetExhausted(f"batch needs {len(new)} new evaluations, {self.remaining} left "
                            f"of budget {self.budget}")
    if new:
      results = self.inner.evaluate(new)
      if len(results) != len(new):
        raise ConfigError(f"evaluator {self.inner.name!r} returned {len(results)} results "
                          f"for {len(new)} points")
      for p, h, r in zip(new, new_hashes, results):
        self.cache[h] = dict(r)
        self.history.append((p, dict(r)))
    return [copy.deepcopy(self.cache[h]) for h in hashes]
