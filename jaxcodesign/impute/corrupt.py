"""Missingness patterns for imputation benchmarks, drawn from an explicit JAX PRNG key.

Five strategies (``STRATEGIES``), each returning a boolean mask ``[n, d]`` (True = missing) and the
realised missing fraction:

* ``mcar``: missing completely at random: exactly ``round(p * n * d)`` cells, drawn without
  replacement. Realises ``p`` up to rounding.
* ``mar``: missing at random, logistic model (Muzellec et al. 2020, "Missing data imputation using
  optimal transport", ICML, ``produce_NA``/``MAR_mask``; also used by the DINI paper, Tuli & Jha,
  Sci. Rep. 2022): a random half of the columns (``max(1, d // 2)``) stays fully observed; each other
  column ``j`` is missing with probability ``sigmoid(x_obs @ w_j + b_j)`` where ``x_obs`` are the
  standardised observed columns, ``w_j`` random normal weights scaled to unit logit std, and the
  intercept ``b_j`` bisected PER COLUMN so that the mean probability of column ``j`` is ``p``.
  Realises about ``p * (d - d_obs) / d`` overall, i.e. about ``p / 2`` (Bernoulli draws).
* ``mnar``: missing not at random, self-masked logistic (Muzellec et al. 2020, ``MNAR_self_mask``):
  column ``j`` is missing with probability ``sigmoid(w_j * x_j + b_j)`` of its own standardised
  value, ``w_j`` random normal, ``b_j`` bisected per column to a mean probability of ``p``.
  Realises about ``p`` (Bernoulli draws).
* ``mpar``: missing patches at random (DINI paper): ``floor(p * n * d / (h * w))`` patches of
  ``h x w = min(5, n) x min(5, d)`` cells with uniform random top-left corners. Patches may overlap,
  so it realises at most ``p`` (typically 0.08-0.09 at p = 0.1 on 1,000 x 10 tables; less on narrow
  tables where patches overlap more).
* ``msar``: missing streams at random (DINI paper): ``floor(p * n * d / L)`` streams of
  ``L = min(10, n)`` consecutive rows in one uniformly drawn column. Streams may overlap, so it
  realises at most ``p`` (about 0.095 at p = 0.1 on 1,000-row tables).

All draws use ``jax.random`` and are deterministic given the key.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodesign.errors import ConfigError, DataError, check_in

STRATEGIES = ("mcar", "mar", "mnar", "mpar", "msar")

__all__ = ["STRATEGIES", "Corruption", "corrupt", "mcar_mask", "mar_mask", "mnar_mask",
           "mpar_mask", "msar_mask", "bisect_intercepts"]


class Corruption(NamedTuple):
  """Result of :func:`corrupt`.

  Attributes:
    x_missing: float64 ``[n, d]``, the data with NaN at the missing cells.
    mask: bool ``[n, d]``, True where a cell was removed.
    fraction: realised fraction of missing cells, ``mask.mean()``.
    strategy: the strategy name.
    p: the requested probability.
  """
  x_missing: np.ndarray
  mask: np.ndarray
  fraction: float
  strategy: str
  p: float


def _check(x, p: float) -> np.ndarray:
  x = np.asarray(x, dtype=np.float64)
  if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
    raise DataError(f"invalid value for field 'x': shape {x.shape}; allowed: a 2-D array [n >= 1, d >= 1]")
  if not np.all(np.isfinite(x)):
    raise DataError("invalid value for field 'x': it has NaN or inf cells; allowed: a complete table")
  if not 0.0 <= float(p) < 1.0:
    raise ConfigError(f"invalid value for field 'p': {p!r}; allowed: 0 <= p < 1")
  return x


def _standardise(x: np.ndarray) -> np.ndarray:
  sd = x.std(axis=0)
  return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def bisect_intercepts(logits, p: float, iters: int = 60) -> np.ndarray:
  """Per-column intercepts ``b[j]`` with ``mean_i sigmoid(logits[i, j] + b[j]) = p``, by bisection.

  Args:
    logits: float ``[n, k]`` (one column per masked column).
    p: target mean probability in (0, 1).
    iters: bisection steps on ``[-50, 50]`` (60 halvings: resolution below 1e-16).

  Returns:
    float64 ``[k]`` intercepts: one bisection per column (vectorised), NOT one over the whole matrix,
    which was the original DINI code's trap.
  """
  logits = np.asarray(logits, np.float64)
  lo = np.full(logits.shape[1], -50.0)
  hi = np.full(logits.shape[1], 50.0)
  for _ in range(iters):
    mid = 0.5 * (lo + hi)
    too_high = (1.0 / (1.0 + np.exp(-(logits + mid)))).mean(axis=0) > p
    lo, hi = np.where(too_high, lo, mid), np.where(too_high, mid, hi)
  return 0.5 * (lo + hi)


def mcar_mask(key: jax.Array, shape: tuple[int, int], p: float) -> np.ndarray:
  """Exactly ``round(p * n * d)`` missing cells, uniformly without replacement. bool ``[n, d]``."""
  n, d = shape
  count = int(round(p * n * d))
  idx = jax.random.choice(key, n * d, shape=(count,), replace=False)
  mask = np.zeros(n * d, dtype=bool)
  mask[np.asarray(idx)] = True
  return mask.reshape(n, d)


def mar_mask(key: jax.Array, x: np.ndarray, p: float) -> np.ndarray:
  """Logistic MAR mask (see module docstring). bool ``[n, d]``; the observed half has no missing."""
  n, d = x.shape
  k_cols, k_w, k_u = jax.random.split(key, 3)
  d_obs = max(1, d // 2)
  if d == 1:
    return mcar_mask(k_u, (n, d), p)  # nothing to condition on: one column is MCAR
  perm = np.asarray(jax.random.permutation(k_cols, d))
  obs_cols, na_cols = np.sort(perm[:d_obs]), np.sort(perm[d_obs:])
  xs = _standardise(x)[:, obs_cols]
  w = np.asarray(jax.random.normal(k_w, (d_obs, len(na_cols))), np.float64)
  logits = xs @ w
  sd = logits.std(axis=0)
  logits = logits / np.where(sd > 0, sd, 1.0)
  b = bisect_intercepts(logits, p)
  prob = 1.0 / (1.0 + np.exp(-(logits + b)))
  draw = np.asarray(jax.random.uniform(k_u, prob.shape, jnp.float32)) < prob
  mask = np.zeros((n, d), dtype=bool)
  mask[:, na_cols] = draw
  return mask


def mnar_mask(key: jax.Array, x: np.ndarray, p: float) -> np.ndarray:
  """Self-masked logistic MNAR mask (see module docstring). bool ``[n, d]``."""
  n, d = x.shape
  k_w, k_u = jax.random.split(key)
  w = np.asarray(jax.random.normal(k_w, (d,)), np.float64)
  logits = _standardise(x) * w
  b = bisect_intercepts(logits, p)
  prob = 1.0 / (1.0 + np.exp(-(logits + b)))
  return np.asarray(jax.random.uniform(k_u, prob.shape, jnp.float32)) < prob


def mpar_mask(key: jax.Array, shape: tuple[int, int], p: float, patch: int = 5) -> np.ndarray:
  """``floor(p n d / (h w))`` random ``h x w`` patches, ``h = min(patch, n)``, ``w = min(patch, d)``."""
  n, d = shape
  h, w = min(patch, n), min(patch, d)
  count = int(p * n * d // (h * w))
  k_r, k_c = jax.random.split(key)
  rows = np.asarray(jax.random.randint(k_r, (count,), 0, n - h + 1))
  cols = np.asarray(jax.random.randint(k_c, (count,), 0, d - w + 1))
  mask = np.zeros((n, d), dtype=bool)
  for r, c in zip(rows, cols):
    mask[r:r + h, c:c + w] = True
  return mask


def msar_mask(key: jax.Array, shape: tuple[int, int], p: float, stream: int = 10) -> np.ndarray:
  """``floor(p n d / L)`` streams of ``L = min(stream, n)`` consecutive rows in one random column."""
  n, d = shape
  length = min(stream, n)
  count = int(p * n * d // length)
  k_r, k_c = jax.random.split(key)
  rows = np.asarray(jax.random.randint(k_r, (count,), 0, n - length + 1))
  cols = np.asarray(jax.random.randint(k_c, (count,), 0, d))
  mask = np.zeros((n, d), dtype=bool)
  for r, c in zip(rows, cols):
    mask[r:r + length, c] = True
  return mask


def corrupt(key: jax.Array, x, strategy: str = "mcar", p: float = 0.1) -> Corruption:
  """Removes cells of a complete table ``x`` with one of :data:`STRATEGIES`.

  Args:
    key: a JAX PRNG key (``jax.random.key(seed)``); the mask is a deterministic function of it.
    x: complete numeric table ``[n, d]`` (any units; MAR/MNAR standardise internally).
    strategy: one of ``mcar, mar, mnar, mpar, msar``.
    p: requested missing probability, ``0 <= p < 1``.

  Returns:
    :class:`Corruption` with the NaN-filled table, the mask and the realised fraction.

  Raises:
    SpaceError: unknown strategy. ConfigError: p outside [0, 1). DataError: x not a complete 2-D table.
  """
  check_in("strategy", strategy, STRATEGIES)
  x = _check(x, p)
  if strategy == "mcar":
    mask = mcar_mask(key, x.shape, p)
  elif strategy == "mar":
    mask = mar_mask(key, x, p)
  elif strategy == "mnar":
    mask = mnar_mask(key, x, p)
  elif strategy == "mpar":
    mask = mpar_mask(key, x.shape, p)
  else:
    mask = msar_mask(key, x.shape, p)
  xm = x.copy()
  xm[mask] = np.nan
  return Corruption(xm, mask, float(mask.mean()), strategy, float(p))
