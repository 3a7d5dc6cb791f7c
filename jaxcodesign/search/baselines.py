"""Baseline searches under the same :class:`~jaxcodesign.search.evaluators.Evaluator` interface.

* :func:`random_search` -- uniform random untried designs.
* :func:`regularized_evolution` -- aging evolution (Real et al., "Regularized Evolution for Image
  Classifier Architecture Search", AAAI 2019): a FIFO population, tournament selection of
  ``sample_size`` members, the best is mutated, the oldest member dies.
  Mutation here is space-agnostic: in the normalised feature space one random coordinate is resampled
  uniformly in [0, 1] (the feature analogue of "resample one parameter") and small Gaussian noise
  (``sigma``) is added, then the vector is projected to the nearest legal design
  (``space.project``) or, with ``candidates``, to the nearest untried candidate.
* :func:`gp_bo` -- Gaussian-process Bayesian optimisation: scikit-learn ``GaussianProcessRegressor``
  with a Matern-5/2 kernel (times a constant, plus a white-noise term; ``normalize_y``) on the
  normalised features, expected improvement (Jones et al. 1998) with margin ``xi`` maximised over a
  candidate pool (the untried ``candidates``, or ``pool_size`` fresh samples of the space).

Every search charges queries through a :class:`BudgetedEvaluator` (duplicates free, see
evaluators.py), stops when ``budget`` unique designs have been evaluated (or the candidates are
exhausted), and returns its history: a list of ``HistoryEntry(point, metrics, performance)`` in query
order, with ``performance`` from :func:`performance_of` (higher is better).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import numpy as np

from jaxcodesign.errors import ConfigError
from jaxcodesign.search.evaluators import BudgetedEvaluator, Evaluator
from jaxcodesign.spaces.base import numpy_rng


class HistoryEntry(NamedTuple):
  point: Any
  metrics: dict
  performance: float


def performance_of(metrics: dict, objective) -> float:
  """Scalar performance (higher is better) of one metric dict.

  ``objective`` is a ``jaxcodesign.search.objectives.Objective`` (then
  ``objectives.scalarise(metrics, objective)``, THE one scalarisation) or a callable
  ``metrics -> float`` for custom / test objectives.
  """
  if callable(objective) and not hasattr(objective, "terms"):
    return float(objective(metrics))
  from jaxcodesign.search.objectives import scalarise  # lazy: parallel module
  return float(np.asarray(scalarise(metrics, objective)))


def _budgeted(evaluator: Evaluator, space, budget: int) -> BudgetedEvaluator:
  if budget is None or budget < 1:
    raise ConfigError(f"invalid value for field 'budget': {budget!r}; allowed: int >= 1")
  if isinstance(evaluator, BudgetedEvaluator):
    return evaluator  # its own budget also applies (BudgetExhausted)
  return BudgetedEvaluator(evaluator, space, budget)


class CandidatePool:
  """A finite list of allowed designs (e.g. the measured models of a table benchmark).

  Holds ``points``, ``hashes`` and ``features`` (float32[n, d], normalised). Used by every search
  that is restricted to candidates: queries are always untried candidates, and a continuous proposal
  (GOBI result, mutated features) is mapped to the nearest untried candidate in normalised feature
  space (Euclidean).
  """

  def __init__(self, space, points: Sequence[Any]):
    if len(points) == 0:
      raise ConfigError("invalid value for field 'candidates': empty list; allowed: >= 1 design")
    self.space = space
    self.points = list(points)
    self.hashes = [space.hash(p) for p in self.points]
    self.features = space.to_features_batch(self.points).astype(np.float32)
    self.index = {h: i for i, h in enumerate(self.hashes)}

  def untried(self, tried: set) -> np.ndarray:
    """int[k]: indices of candidates whose hash is not in ``tried``."""
    return np.array([i for i, h in enumerate(self.hashes) if h not in tried], dtype=np.int64)

  def nearest_untried(self, features: np.ndarray, tried: set, exclude: set = frozenset()):
    """The untried candidate nearest to ``features`` (float[d]); None when all are tried."""
    idx = self.untried(set(tried) | set(exclude))
    if idx.size == 0:
      return None
    d = np.sum((self.features[idx] - np.asarray(features, np.float32)[None, :]) ** 2, axis=1)
    return self.points[int(idx[int(np.argmin(d))])]

  def random_untried(self, rng: np.random.Generator, k: int, tried: set) -> list:
    idx = self.untried(tried)
    if idx.size == 0:
      return []
    pick = rng.choice(idx, size=min(k, idx.size), replace=False)
    return [self.points[int(i)] for i in pick]


def _random_untried(space, rng, key, k: int, tried: set, pool: CandidatePool | None,
                    max_tries: int = 20) -> list:
  """Up to ``k`` distinct untried designs: from the pool, or by sampling the space (rejection).

  Sampling stops early when a round of ``2k`` samples brings fewer than ``k / 20 + 1`` new designs
  (the space is nearly exhausted around the tried set), so small spaces do not spin.
  """
  if pool is not None:
    return pool.random_untried(rng, k, tried)
  out, seen = [], set(tried)
  for _ in range(max_tries):
    key, sub = jax.random.split(key)
    added = 0
    for p in space.sample(sub, 2 * k):
      h = space.hash(p)
      if h not in seen:
        seen.add(h)
        out.append(p)
        added += 1
        if len(out) == k:
          return out
    if added < k // 20 + 1 and out:
      break
  return out


def _begin(key, space, evaluator, budget, candidates):
  """Common start of every baseline: (budgeted evaluator, candidate pool or None, NumPy rng, empty
  history, set of already-evaluated hashes)."""
  ev = _budgeted(evaluator, space, budget)
  pool = CandidatePool(space, candidates) if candidates is not None else None
  return ev, pool, numpy_rng(key), [], set(ev.cache)


def _record(ev: BudgetedEvaluator, points: list, objective, history: list):
  metrics = ev.evaluate(points)
  for p, m in zip(points, metrics):
    history.append(HistoryEntry(p, m, performance_of(m, objective)))


def random_search(key, space, evaluator: Evaluator, objective, budget: int,
                  candidates: Sequence[Any] | None = None, batch_size: int = 1) -> list[HistoryEntry]:
  """Uniformly random untried designs until ``budget`` unique queries (or candidates) are used."""
  ev, pool, rng, history, tried = _begin(key, space, evaluator, budget, candidates)
  while len(history) < budget:
    key, sub = jax.random.split(key)
    pts = _random_untried(space, rng, sub, min(batch_size, budget - len(history)), tried, pool)
    if not pts:
      break
    _record(ev, pts, objective, history)
    tried.update(space.hash(p) for p in pts)
  return history


def _mutate(space, rng, key, parent, tried: set, pool: CandidatePool | None, sigma: float,
            max_tries: int = 10):
  f = space.to_features(parent).astype(np.float32)
  lo, hi = space.feature_bounds()
  for t in range(max_tries):
    g = f + rng.normal(0.0, sigma * (1 + t), size=f.shape).astype(np.float32)
    j = rng.integers(f.shape[0])
    g[j] = rng.uniform(lo[j], hi[j])
    g = np.clip(g, lo, hi)
    if pool is not None:
      return pool.nearest_untried(g, tried)
    child = space.project(g)
    if space.hash(child) not in tried:
      return child
  pts = _random_untried(space, rng, key, 1, tried, pool)
  return pts[0] if pts else None


def regularized_evolution(key, space, evaluator: Evaluator, objective, budget: int,
                          population_size: int = 20, sample_size: int = 5, sigma: float = 0.1,
                          candidates: Sequence[Any] | None = None) -> list[HistoryEntry]:
  """Regularised (aging) evolution, Real et al. 2019 (Algorithm 1), one child per query.

  The first ``min(population_size, budget)`` queries are random; then each cycle samples
  ``sample_size`` members uniformly (with replacement, as in the paper), mutates the best
  (see module docstring), evaluates the child and removes the oldest member.

  Raises:
    ConfigError: for ``population_size < 1`` or ``sample_size`` not in [1, population_size].
  """
  if population_size < 1 or not 1 <= sample_size <= population_size:
    raise ConfigError(f"invalid value for field 'sample_size': {sample_size}; allowed: "
                      f"1..population_size ({population_size}), population_size >= 1")
  ev, pool, rng, history, tried = _begin(key, space, evaluator, budget, candidates)
  key, sub = jax.random.split(key)
  init = _random_untried(space, rng, sub, min(population_size, budget), tried, pool)
  _record(ev, init, objective, history)
  tried.update(space.hash(p) for p in init)
  population = list(history)
  while len(history) < budget and population:
    members = [population[i] for i in rng.integers(len(population), size=sample_size)]
    parent = max(members, key=lambda e: e.performance)
    key, sub = jax.random.split(key)
    child = _mutate(space, rng, sub, parent.point, tried, pool, sigma)
    if child is None:
      break
    _record(ev, [child], objective, history)
    tried.add(space.hash(child))
    population.append(history[-1])
    if len(population) > population_size:
      population.pop(0)
  return history


def expected_improvement(mu: np.ndarray, std: np.ndarray, best: float, xi: float = 0.01) -> np.ndarray:
  """EI for maximisation (Jones et al. 1998): E[max(f - best - xi, 0)] under N(mu, std^2); [n]."""
  from scipy.stats import norm
  std = np.maximum(np.asarray(std, np.float64), 1e-12)
  z = (np.asarray(mu) - best - xi) / std
  return (np.asarray(mu) - best - xi) * norm.cdf(z) + std * norm.pdf(z)


def gp_bo(key, space, evaluator: Evaluator, objective, budget: int, n_init: int = 10,
          pool_size: int = 512, xi: float = 0.01, refit_every: int = 1,
          candidates: Sequence[Any] | None = None) -> list[HistoryEntry]:
  """GP-BO baseline (see module docstring): ``n_init`` random queries, then one EI maximiser per query.

  Kernel hyperparameters are re-optimised (L-BFGS, sklearn's default) every ``refit_every`` queries;
  in between the GP is refitted on the new data with the last hyperparameters fixed (cheaper; 1 =
  always re-optimise, the textbook form).
  """
  from sklearn.gaussian_process import GaussianProcessRegressor
  from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
  if refit_every < 1:
    raise ConfigError(f"invalid value for field 'refit_every': {refit_every}; allowed: int >= 1")
  ev, pool, rng, history, tried = _begin(key, space, evaluator, budget, candidates)
  key, sub = jax.random.split(key)
  init = _random_untried(space, rng, sub, min(max(n_init, 2), budget), tried, pool)
  _record(ev, init, objective, history)
  tried.update(space.hash(p) for p in init)
  kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * Matern(length_scale=1.0, nu=2.5,
                                                      length_scale_bounds=(1e-2, 1e2))
            + WhiteKernel(1e-3, (1e-6, 1e-1)))
  step = 0
  while len(history) < budget:
    x = space.to_features_batch([e.point for e in history]).astype(np.float64)
    y = np.array([e.performance for e in history])
    finite = np.isfinite(y)
    y = np.where(finite, y, y[finite].min() if finite.any() else 0.0)
    optimise = step % refit_every == 0
    gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True,
                                  optimizer="fmin_l_bfgs_b" if optimise else None,
                                  random_state=int(rng.integers(2**31 - 1)))
    gp.fit(x, y)
    kernel = gp.kernel_
    step += 1
    if pool is not None:
      idx = pool.untried(tried)
      if idx.size == 0:
        break
      cand = [pool.points[int(i)] for i in idx]
      xc = pool.features[idx].astype(np.float64)
    else:
      key, sub = jax.random.split(key)
      cand = _random_untried(space, rng, sub, pool_size, tried, None)
      if not cand:
        break
      xc = space.to_features_batch(cand).astype(np.float64)
    mu, std = gp.predict(xc, return_std=True)
    ei = expected_improvement(mu, std, float(y.max()), xi)
    choice = cand[int(np.argmax(ei))]
    _record(ev, [choice], objective, history)
    tried.add(space.hash(choice))
  return history


def best_so_far(history: Sequence[HistoryEntry] | Sequence[float]) -> np.ndarray:
  """float[len(history)]: running maximum of the performance (for regret / convergence curves).

  ``history`` holds :class:`HistoryEntry` s or plain performances; NaN counts as ``-inf``.
  """
  v = np.array([e.performance if isinstance(e, HistoryEntry) else e for e in history], np.float64)
  v = np.where(np.isnan(v), -np.inf, v)
  return np.maximum.accumulate(v) if v.size else v
