"""Legality forcing (LF) for mixed vector spaces: continuous, integer and categorical dimensions.

BREATHE (Tuli, Sheu & Jha, "BREATHE: second-order gradients and heteroscedastic emulation based
design space exploration", arXiv:2308.08666, 2023) applies legality forcing after EVERY gradient step
of GOBI: ``x <- x + (LF(x + dx) - x)``, i.e. ``x <- LF(x + dx)``, so that no iterate ever leaves the
set of legal inputs. In the normalised feature space ``[0, 1]^D`` used here:

* continuous dimension: clip to [0, 1];
* integer dimension with ``L`` levels (``L = high - low + 1``): clip, then round to the nearest of
  the ``L`` grid points ``j / (L - 1)``;
* a fixed dimension (continuous or integer with ``low == high``): 0 (its only legal feature, so
  that two features decoding to the same point are equal);
* categorical variable with ``k`` choices (a one-hot block of ``k`` features): the one-hot vector of
  the largest feature (first index on ties).

LF is idempotent on legal points and maps every point to a legal one (tested with hypothesis).
:class:`VectorEncoding` also decodes features to the user's values (bounds, integer values, choice
indices) and encodes them back.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodesign.errors import ConfigError

__all__ = ["VectorEncoding", "legality_force", "encoding_from_bounds", "encoding_from_space"]


@dataclasses.dataclass(frozen=True)
class VectorEncoding:
  """Feature layout of a mixed vector space (all arrays are static NumPy).

  Attributes:
    lower, upper: float64[V] per-variable bounds (categorical: 0 and k - 1).
    kind: per variable 'continuous' | 'integer' | 'categorical'.
    offsets: int[V + 1] feature offsets (a categorical variable takes k features, others 1).
    space: optional :class:`jaxcodesign.spaces.base.DesignSpace` whose ``project`` decodes features.
  """
  lower: np.ndarray
  upper: np.ndarray
  kind: tuple[str, ...]
  offsets: np.ndarray
  space: object = None

  @property
  def num_variables(self) -> int:
    return len(self.kind)

  @property
  def feature_dim(self) -> int:
    return int(self.offsets[-1])

  @property
  def num_points(self) -> int | None:
    """Legal points of the space when it is finite (every variable integer, categorical or a
    continuous one with ``low == high``), else None (for an encoding of a design space: that
    space's ``size()``)."""
    if self.space is not None:
      size = self.space.size()  # an int, or math.inf for a space with a continuous part
      return int(size) if math.isfinite(size) else None
    n = 1
    for v, k in enumerate(self.kind):
      span = float(self.upper[v] - self.lower[v])
      if k == "continuous":
        if span > 0:
          return None
      else:
        n *= int(round(span)) + 1
    return n

  def arrays(self) -> dict:
    """Static feature-level arrays for :func:`legality_force`: ``levels`` float32[D] (integer
    levels - 1, -1 for a fixed dimension, 0 for other features), ``group`` int32[D] (categorical
    group id or -1),
    ``n_groups``."""
    d = self.feature_dim
    levels = np.zeros(d, np.float32)
    group = -np.ones(d, np.int32)
    g = 0
    for v, k in enumerate(self.kind):
      a, b = self.offsets[v], self.offsets[v + 1]
      if k in ("integer", "continuous") and self.upper[v] == self.lower[v]:
        levels[a] = -1.0
      elif k == "integer":
        levels[a] = float(self.upper[v] - self.lower[v])
      elif k == "categorical":
        group[a:b] = g
        g += 1
    return dict(levels=levels, group=group, n_groups=g)

  def force_numpy(self, f) -> np.ndarray:
    """:func:`legality_force` in NumPy float32 (same result; no JAX dispatch), float32[D]."""
    a = self.arrays()
    x = np.asarray(f, np.float32).reshape(self.feature_dim)
    # XLA on CPU flushes float32 subnormals to zero (inputs and results): so does the twin
    x = np.where(np.abs(x) < np.finfo(np.float32).tiny, np.float32(0.0), x)
    out = np.clip(x, 0.0, 1.0)
    lv = a["levels"]
    safe = np.maximum(lv, 1.0).astype(np.float32)
    out = np.where(lv > 0, np.round(out * safe) / safe, out)
    out = np.where(lv < 0, 0.0, out).astype(np.float32)
    if a["n_groups"]:
      d = self.feature_dim
      score = x - np.float32(1e-6) * np.arange(d, dtype=np.float32) / np.float32(d)
      for gid in range(a["n_groups"]):
        sel = np.flatnonzero(a["group"] == gid)
        out[sel] = (score[sel] >= score[sel].max()).astype(np.float32)
    return out

  def decode(self, f) -> list:
    """User-space values of one feature vector (float[D]) after LF: floats for continuous, ints for
    integer and categorical (choice index) variables; or ``space.project(f)`` when a space is set."""
    f = self.force_numpy(f).astype(np.float64)
    if self.space is not None:
      return self.space.project(f)
    out = []
    for v, k in enumerate(self.kind):
      a, b = self.offsets[v], self.offsets[v + 1]
      lo, hi = self.lower[v], self.upper[v]
      if k == "continuous":
        out.append(float(np.clip(lo + f[a] * (hi - lo), lo, hi)))
      elif k == "integer":
        out.append(int(round(lo + f[a] * (hi - lo))))
      else:
        out.append(int(np.argmax(f[a:b])))
    return out

  def encode(self, values) -> np.ndarray:
    """float32[D] features of user-space values (inverse of :meth:`decode` on legal points)."""
    if self.space is not None:
      return np.asarray(self.space.to_features(values), np.float32)
    vals = list(values)
    if len(vals) != self.num_variables:
      raise ConfigError(f"encode: {len(vals)} values; allowed: {self.num_variables}")
    f = np.zeros(self.feature_dim, np.float32)
    for v, k in enumerate(self.kind):
      a, b = self.offsets[v], self.offsets[v + 1]
      span = self.upper[v] - self.lower[v]
      if k == "categorical":
        f[a + int(vals[v])] = 1.0
      else:
        f[a] = 0.0 if span == 0 else (float(vals[v]) - self.lower[v]) / span
    return f


def encoding_from_bounds(bounds: Sequence[Sequence[float]], integers: Sequence[int] = ()
                         ) -> VectorEncoding:
  """Encoding of a box ``bounds`` (float[d, 2]) whose dimensions ``integers`` are integer-valued.

  An integer dimension takes the integers in ``[ceil(low), floor(high)]``.

  Raises:
    ConfigError: malformed bounds, ``low > high``, an integer index out of range, or an integer
      dimension with no integer inside its bounds.
  """
  b = np.asarray(bounds, np.float64)
  if b.ndim != 2 or b.shape[1] != 2 or b.shape[0] < 1:
    raise ConfigError(f"invalid value for field 'bounds': shape {b.shape}; allowed: a list of "
                      "[low, high] pairs, one per dimension")
  if not np.all(np.isfinite(b)) or np.any(b[:, 0] > b[:, 1]):
    raise ConfigError("invalid value for field 'bounds': need finite low <= high in every dimension")
  lo, hi = b[:, 0].copy(), b[:, 1].copy()
  kind = ["continuous"] * b.shape[0]
  for i in integers:
    if isinstance(i, bool) or int(i) != i or not 0 <= int(i) < b.shape[0]:
      raise ConfigError(f"invalid value for field 'integers': {i!r}; allowed: dimension indices "
                        f"0..{b.shape[0] - 1}")
    i = int(i)
    lo[i], hi[i] = np.ceil(lo[i]), np.floor(hi[i])
    if lo[i] > hi[i]:
      raise ConfigError(f"invalid value for field 'bounds[{i}]': {b[i].tolist()} holds no integer "
                        "but the dimension is listed in 'integers'")
    kind[i] = "integer"
  return VectorEncoding(lo, hi, tuple(kind), np.arange(b.shape[0] + 1))


def encoding_from_space(space) -> VectorEncoding:
  """Encoding of a generic vector space (:mod:`jaxcodesign.spaces.generic`): ``BoxSpace``,
  ``IntegerSpace``, ``CategoricalSpace`` or a ``ProductSpace`` of them. Decoding uses
  ``space.project`` (same feature layout).

  Raises:
    ConfigError: a space kind without a vector encoding (graphs: use G-BREATHE).
  """
  from jaxcodesign.spaces import generic as g
  lower, upper, kind, widths = [], [], [], []

  def add(s):
    if isinstance(s, g.ProductSpace):
      for sub in s.spaces.values():
        add(sub)
    elif isinstance(s, g.BoxSpace):
      lower.extend(s.lower), upper.extend(s.upper), kind.extend(["continuous"] * s.lower.size)
      widths.extend([1] * s.lower.size)
    elif isinstance(s, g.IntegerSpace):
      lower.extend(s.lower), upper.extend(s.upper), kind.extend(["integer"] * s.lower.size)
      widths.extend([1] * s.lower.size)
    elif isinstance(s, g.CategoricalSpace):
      lower.append(0), upper.append(len(s.choices) - 1), kind.append("categorical")
      widths.append(len(s.choices))
    else:
      raise ConfigError(f"V-BREATHE: space {getattr(s, 'name', type(s).__name__)!r} has no vector "
                        "encoding; allowed: box, integer, categorical and products of them")

  add(space)
  return VectorEncoding(np.asarray(lower, np.float64), np.asarray(upper, np.float64), tuple(kind),
                        np.concatenate([[0], np.cumsum(widths)]).astype(int), space)


def legality_force(x, levels, group, n_groups: int):
  """LF(x): the legal feature vector nearest to ``x`` (float32[D]) in each variable (see module).

  Args:
    x: float32[D] features; levels: float32[D] integer levels - 1 (0: not integer, -1: fixed);
    group: int32[D] categorical group id (-1: not categorical); n_groups: number of groups.

  Returns:
    float32[D] legal features (JAX; jit/vmap/grad-safe: the gradient of LF is not used).
  """
  levels = jnp.asarray(levels)
  group = jnp.asarray(group)
  f = jnp.clip(x, 0.0, 1.0)
  safe = jnp.maximum(levels, 1.0)
  f = jnp.where(levels > 0, jnp.round(f * safe) / safe, f)
  f = jnp.where(levels < 0, 0.0, f)
  if n_groups:
    d = x.shape[-1]
    is_cat = group >= 0
    gid = jnp.where(is_cat, group, n_groups)
    # first index wins ties: subtract a tiny index-proportional amount before the max
    score = x - 1e-6 * jnp.arange(d, dtype=x.dtype) / d
    gmax = jax.ops.segment_max(score, gid, num_segments=n_groups + 1)
    onehot = (score >= gmax[gid]).astype(x.dtype)
    f = jnp.where(is_cat, onehot, f)
  return f
