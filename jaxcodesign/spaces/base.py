"""The design-space protocol shared by every space in :mod:`jaxcodesign.spaces`.

A design space maps between four views of a design point:

* the *point* itself: a model dict, an accelerator config dict or a graph (plain Python data, JSON-able);
* the *original integer embedding* of the published tools (``encode`` / ``decode``), kept for
  compatibility with their datasets;
* a *feature vector* ``float32[feature_dim]`` in ``[0, 1]`` per coordinate (one-hot blocks and
  normalised ordinal values), which is what surrogates consume and what GOBI differentiates through;
* a ``jraph.GraphsTuple`` view, where the space has a graph structure.

``project(features)`` is the legality projection: it maps any vector in the feature box to the nearest
valid point (distance measured in the normalised feature space, never in raw units), and it is
idempotent on valid points: ``to_features(project(to_features(p))) == to_features(p)``.

Sampling always takes an explicit ``jax.random`` key (or anything accepted by
:func:`numpy_rng`), never global state.
"""

from __future__ import annotations

import abc
import functools
from typing import Any, Mapping, Sequence

import jax
import numpy as np

from jaxcodesign.errors import SpaceError

Point = Any  # a JSON-able design point: model dict, accelerator config, graph dict


def numpy_rng(key) -> np.random.Generator:
  """A NumPy generator derived deterministically from a JAX PRNG key (or an int seed).

  Python-side samplers (enumerations over discrete choices) use this so that every sampler is a pure
  function of its key.
  """
  if isinstance(key, (int, np.integer)):
    return np.random.default_rng(int(key))
  data = np.asarray(jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
                    else key).astype(np.uint32).ravel()
  return np.random.default_rng(data.tolist())


def check_count(n, field: str = "n", minimum: int = 0) -> int:
  """Returns ``n`` as an int if it is an integer ``>= minimum``, else raises SpaceError naming ``field``.

  Every sampler calls it (``n = 0`` gives an empty list); launchers pass ``minimum=1``.
  """
  if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
    raise SpaceError(field, n, reason="not an integer", allowed=f"an integer >= {minimum}")
  if n < minimum:
    raise SpaceError(field, int(n), allowed=f"an integer >= {minimum}")
  return int(n)


def check_features(features, dim: int) -> np.ndarray:
  """``features`` as float32[dim] if it has ``dim`` finite values, else SpaceError (field 'features').

  Every space's ``project`` calls it first (one place), so a NaN or infinite feature vector, e.g. from
  a diverged gradient step, is refused instead of being projected to an arbitrary point.
  """
  f = np.asarray(features, np.float64)
  if f.size != dim:
    raise SpaceError("features", f"shape {f.shape}", allowed=f"{dim} finite values")
  if not np.all(np.isfinite(f)):
    raise SpaceError("features", f"{int(np.sum(~np.isfinite(f)))} non-finite values",
                     allowed=f"{dim} finite values")
  return f.reshape(dim).astype(np.float32)


class DesignSpace(abc.ABC):
  """Abstract design space. Subclasses document their point format in the class docstring."""

  #: short name used by the launchers (``--space=<name>``)
  name: str = "abstract"

  def __init_subclass__(cls, **kwargs):
    """Every subclass's ``sample`` checks its count with :func:`check_count` (one place for it)."""
    super().__init_subclass__(**kwargs)
    fn = cls.__dict__.get("sample")
    if fn is not None and not getattr(fn, "_checks_count", False):

      @functools.wraps(fn)
      def sample(self, key, n, *args, **kw):
        return fn(self, key, check_count(n), *args, **kw)

      sample._checks_count = True
      cls.sample = sample
    proj = cls.__dict__.get("project")
    if proj is not None and not getattr(proj, "_checks_features", False):

      @functools.wraps(proj)
      def project(self, features, *args, **kw):
        return proj(self, check_features(features, self.feature_dim), *args, **kw)

      project._checks_features = True
      cls.project = project

  # ---- description -------------------------------------------------------------------------
  @abc.abstractmethod
  def describe(self) -> dict:
    """JSON-able description: parameters, allowed values and ``size`` (an int, or a float if huge)."""

  @abc.abstractmethod
  def size(self) -> int:
    """Exact number of valid points (a Python int; may be astronomically large)."""

  # ---- validation ----------------------------------------------------------------------------
  @abc.abstractmethod
  def validate(self, point: Point) -> Point:
    """Returns the canonical form of ``point``.

    Raises:
      jaxcodesign.errors.SpaceError (a ``ValueError``) naming the field and the allowed values.
    """

  def is_valid(self, point: Point) -> bool:
    try:
      self.validate(point)
      return True
    except ValueError:
      return False

  # ---- sampling ------------------------------------------------------------------------------
  @abc.abstractmethod
  def sample(self, key, n: int, method: str = "uniform") -> list:
    """``n`` valid points drawn from ``key``; ``method`` is 'uniform' (default) or 'lhs' where supported.

    Raises:
      ValueError: for an unknown ``method``.
    """

  # ---- encodings -----------------------------------------------------------------------------
  def encode(self, point: Point) -> np.ndarray:
    """The original integer / raw-value embedding of the published tool (int64[embedding_dim])."""
    raise NotImplementedError(f"space {self.name!r} has no original embedding")

  def decode(self, embedding: Sequence[int]) -> Point:
    """Inverse of :meth:`encode`. Raises ``SpaceError`` for an out-of-space embedding."""
    raise NotImplementedError(f"space {self.name!r} has no original embedding")

  @property
  @abc.abstractmethod
  def feature_dim(self) -> int:
    """Length of the feature vector."""

  @abc.abstractmethod
  def to_features(self, point: Point) -> np.ndarray:
    """float32[feature_dim] in [0, 1]: one-hot / normalised encoding suitable for gradient search."""

  def feature_bounds(self) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper), each float32[feature_dim]; the box GOBI clips to. Default: [0, 1]."""
    return (np.zeros(self.feature_dim, np.float32), np.ones(self.feature_dim, np.float32))

  @abc.abstractmethod
  def project(self, features: np.ndarray) -> Point:
    """Legality projection: nearest valid point to a (possibly invalid) feature vector.

    Raises:
      SpaceError: (field 'features') for a vector of the wrong length or with non-finite values.
    """

  def to_features_batch(self, points: Sequence[Point]) -> np.ndarray:
    """float32[n, feature_dim] for a list of points."""
    return np.stack([self.to_features(p) for p in points]).astype(np.float32)

  # ---- identity -----------------------------------------------------------------------------
  @abc.abstractmethod
  def hash(self, point: Point) -> str:
    """A stable string identity of the point (the original graph hash where one exists)."""

  def graph(self, point: Point):
    """``jraph.GraphsTuple`` view of one point (spaces with a graph structure only)."""
    raise NotImplementedError(f"space {self.name!r} has no graph view")

  def describe_point(self, point: Point) -> Mapping[str, Any]:
    """Short human-readable summary, used in logs and results."""
    return {"hash": self.hash(point)}
