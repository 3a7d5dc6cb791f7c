"""``PairSpace``: the joint (model, accelerator) space searched by BOSHCODE and co-design.

Points are ``{"model": <model point>, "hw": <hardware point>}``. Features are the concatenation
``[model features (d1), hw features (d2)]`` (each half already in [0, 1]); the projection projects each
half with its own space's legality projection, which is exact because legality of a pair is the
conjunction of the halves' legality. Source: CODEBench / TransCODE co-design (pairs of a network and an
accelerator), see /work/shared/specs/boshnas.md.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxcodesign.errors import SpaceError
from jaxcodesign.spaces.base import DesignSpace, Point


class PairSpace(DesignSpace):
  """Cartesian product of a model space and a hardware space (point ``{"model": m, "hw": h}``)."""

  def __init__(self, model_space: DesignSpace, hw_space: DesignSpace):
    self.model_space = model_space
    self.hw_space = hw_space
    self.name = f"pair({model_space.name},{hw_space.name})"

  def describe(self) -> dict:
    return {"name": self.name, "model": self.model_space.describe(), "hw": self.hw_space.describe(),
            "size": self.size()}

  def size(self) -> int:
    return self.model_space.size() * self.hw_space.size()

  def _split_point(self, point: Point):
    if not isinstance(point, dict) or set(point) != {"model", "hw"}:
      raise SpaceError("point", point if not isinstance(point, dict) else sorted(point),
                       allowed="a dict with exactly the keys ['hw', 'model']")
    return point["model"], point["hw"]

  def validate(self, point: Point) -> Point:
    m, h = self._split_point(point)
    return {"model": self.model_space.validate(m), "hw": self.hw_space.validate(h)}

  def sample(self, key, n: int, method: str = "uniform") -> list:
    """``n`` pairs; the halves are sampled independently (``method`` passed to both halves)."""
    if isinstance(key, (int, np.integer)):
      key = jax.random.PRNGKey(int(key))
    k1, k2 = jax.random.split(key)
    ms = self.model_space.sample(k1, n, method=method)
    hs = self.hw_space.sample(k2, n, method=method)
    return [{"model": m, "hw": h} for m, h in zip(ms, hs)]

  @property
  def feature_dim(self) -> int:
    return self.model_space.feature_dim + self.hw_space.feature_dim

  @property
  def split(self) -> int:
    """Index where the hardware features start (= model feature_dim)."""
    return self.model_space.feature_dim

  def to_features(self, point: Point) -> np.ndarray:
    m, h = self._split_point(point)
    return np.concatenate([self.model_space.to_features(m),
                           self.hw_space.to_features(h)]).astype(np.float32)

  def to_features_batch(self, points) -> np.ndarray:
    ms = [self._split_point(p)[0] for p in points]
    hs = [self._split_point(p)[1] for p in points]
    return np.concatenate([self.model_space.to_features_batch(ms),
                           self.hw_space.to_features_batch(hs)], axis=1).astype(np.float32)

  def split_features(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(model features [..., d1], hw features [..., d2]) -- the two-tower surrogate input."""
    f = np.asarray(features)
    return f[..., : self.split], f[..., self.split:]

  def feature_bounds(self):
    lm, um = self.model_space.feature_bounds()
    lh, uh = self.hw_space.feature_bounds()
    return np.concatenate([lm, lh]), np.concatenate([um, uh])

  def project(self, features: np.ndarray) -> Point:
    f = np.asarray(features, np.float32).reshape(-1)
    if f.shape[0] != self.feature_dim:
      raise SpaceError("features", f"length {f.shape[0]}", allowed=f"length {self.feature_dim}")
    return {"model": self.model_space.project(f[: self.split]),
            "hw": self.hw_space.project(f[self.split:])}

  def hash(self, point: Point) -> str:
    m, h = self._split_point(point)
    return f"{self.model_space.hash(m)}|{self.hw_space.hash(h)}"

  def describe_point(self, point: Point):
    m, h = self._split_point(point)
    return {"hash": self.hash(point), "model": dict(self.model_space.describe_point(m)),
            "hw": dict(self.hw_space.describe_point(h))}
