"""Pareto dominance and exact hypervolume.

Conventions: ``costs`` is ``float[n, m]`` (``n`` points, ``m`` objectives). ``minimise`` is a bool
mask of length ``m`` (default: all True); maximised columns are negated internally, so every function
works in a pure minimisation frame. A point ``a`` dominates ``b`` when ``a <= b`` in every objective and
``a < b`` in at least one (Deb, "Multi-objective optimization using evolutionary algorithms", 2001).

Hypervolume (the Lebesgue measure of the region dominated by the front and bounded by the reference
point; Zitzler & Thiele 1998) is exact: a sort-and-sweep for ``m == 2`` and the Hypervolume by Slicing
Objectives (HSO) recursion (While et al., IEEE TEVC 2006) for ``m >= 3``, whose cost grows quickly
with the front size -- fine for the fronts of a few hundred points that the searches here produce.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jaxcodesign.errors import ConfigError


def _as_min_frame(costs, minimise) -> np.ndarray:
  """float64[n, m] costs with maximised columns negated. Raises ConfigError on bad shapes."""
  c = np.asarray(costs, dtype=np.float64)
  if c.ndim != 2:
    raise ConfigError(f"invalid value for field 'costs': shape {c.shape}; allowed: a 2-D array [n, m]")
  if not np.all(np.isfinite(c)):
    raise ConfigError("invalid value for field 'costs': contains NaN/inf; allowed: finite values")
  if minimise is None:
    return c
  mask = np.asarray(minimise, dtype=bool).reshape(-1)
  if mask.shape[0] != c.shape[1]:
    raise ConfigError(f"invalid value for field 'minimise': length {mask.shape[0]}; "
                      f"allowed: one bool per objective ({c.shape[1]})")
  return np.where(mask[None, :], c, -c)


def pareto_mask(costs, minimise: Sequence[bool] | None = None) -> np.ndarray:
  """bool[n]: True for the non-dominated rows of ``costs`` (float[n, m]).

  Duplicated non-dominated rows are all kept (none strictly dominates the other). O(n^2 m).

  Raises:
    ConfigError: for a non-2-D / non-finite ``costs`` or a ``minimise`` of the wrong length.
  """
  c = _as_min_frame(costs, minimise)
  n = c.shape[0]
  if n == 0:
    return np.zeros(0, bool)
  le = np.all(c[:, None, :] <= c[None, :, :], axis=-1)  # le[i, j]: i <= j everywhere
  lt = np.any(c[:, None, :] < c[None, :, :], axis=-1)
  dominated = np.any(le & lt, axis=0)  # j dominated by some i
  return ~dominated


def pareto_front(costs, minimise: Sequence[bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
  """(front float[k, m] in the original units/signs, indices int[k]) of the non-dominated rows."""
  c = np.asarray(costs, dtype=np.float64)
  idx = np.flatnonzero(pareto_mask(c, minimise))
  return c[idx], idx


def _hv2d(p: np.ndarray, ref: np.ndarray) -> float:
  """Exact 2-D hypervolume of minimisation points ``p`` (all strictly better than ``ref``)."""
  p = p[np.lexsort((p[:, 1], p[:, 0]))]
  hv, best_y = 0.0, ref[1]
  for x, y in p:
    if y < best_y:
      hv += (ref[0] - x) * (best_y - y)
      best_y = y
  return hv


def _hso(p: np.ndarray, ref: np.ndarray) -> float:
  """HSO recursion: slice along the last objective, recurse on the first m-1 objectives."""
  m = p.shape[1]
  if p.shape[0] == 0:
    return 0.0
  if m == 1:
    return float(ref[0] - p[:, 0].min())
  if m == 2:
    return _hv2d(p, ref)
  order = np.argsort(p[:, -1], kind="stable")
  p = p[order]
  hv = 0.0
  for i in range(p.shape[0]):
    upper = p[i + 1, -1] if i + 1 < p.shape[0] else ref[-1]
    depth = upper - p[i, -1]
    if depth <= 0:
      continue
    sub = p[: i + 1, :-1]
    sub = sub[pareto_mask(sub)]
    hv += depth * _hso(sub, ref[:-1])
  return hv


def hypervolume(front, reference, minimise: Sequence[bool] | None = None) -> float:
  """Exact hypervolume dominated by ``front`` (float[k, m]) and bounded by ``reference`` (float[m]).

  Units: the product of the objectives' units. Points that do not strictly dominate the reference in
  every objective contribute nothing. ``front`` need not be non-dominated (it is filtered first).

  Raises:
    ConfigError: for shape mismatches or non-finite values.
  """
  p = _as_min_frame(front, minimise)
  r = _as_min_frame(np.asarray(reference, np.float64).reshape(1, -1), minimise)[0]
  if r.shape[0] != p.shape[1] and p.shape[0] > 0:
    raise ConfigError(f"invalid value for field 'reference': length {r.shape[0]}; "
                      f"allowed: one value per objective ({p.shape[1]})")
  if p.shape[0] == 0:
    return 0.0
  p = p[np.all(p < r[None, :], axis=1)]
  if p.shape[0] == 0:
    return 0.0
  p = np.unique(p[pareto_mask(p)], axis=0)
  return float(_hso(p, r))
