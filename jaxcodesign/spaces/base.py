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
from typing import Any, Mapping, Sequence

import jax
import numpy as np

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


class DesignSpace(abc.ABC):
  """Abstract design space. Subclasses document their point format in the class docstring."""

  #: short name used by the launchers (``--space=<name>``)
  name: str = "abstract"

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
    """Legality projection: nearest valid point to a (possibly invalid) feature vector."""

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
