"""``PairSpace``: the joint (model, accelerator) space searched by BOSHCODE and co-design.

A :class:`~jaxcodesign.spaces.generic.ProductSpace` of two named halves: points are
``{"model": <model point>, "hw": <hardware point>}``, features are the concatenation
``[model features (d1), hw features (d2)]`` (each half already in [0, 1]), and the projection projects
each half with its own legality projection, which is exact because legality of a pair is the
conjunction of the halves' legality. Source: the (network, accelerator) pairs of CODEBench (Tuli et
al., "CODEBench: A Neural Architecture and Hardware Accelerator Co-Design Framework", ACM TECS 2023)
and TransCODE (Tuli and Jha, IEEE TCAD 2023).
"""

from __future__ import annotations

import numpy as np

from jaxcodesign.spaces.base import DesignSpace, Point
from jaxcodesign.spaces.generic import ProductSpace


class PairSpace(ProductSpace):
  """``ProductSpace({"model": model_space, "hw": hw_space})`` with the co-design conveniences.

  Differs from a plain ProductSpace only in its name, the readable hash ``"<model hash>|<hw hash>"``
  and the two-tower split of the features (:meth:`split_features` returns a tuple).
  """

  def __init__(self, model_space: DesignSpace, hw_space: DesignSpace):
    super().__init__({"model": model_space, "hw": hw_space})
    self.name = f"pair({model_space.name},{hw_space.name})"

  @property
  def model_space(self) -> DesignSpace:
    return self.spaces["model"]

  @property
  def hw_space(self) -> DesignSpace:
    return self.spaces["hw"]

  @property
  def split(self) -> int:
    """Index where the hardware features start (= model feature_dim)."""
    return self.model_space.feature_dim

  def split_features(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(model features [..., d1], hw features [..., d2]) -- the two-tower surrogate input."""
    f = np.asarray(features)
    return f[..., : self.split], f[..., self.split:]

  def hash(self, point: Point) -> str:
    p = self.validate(point)
    return f"{self.model_space.hash(p['model'])}|{self.hw_space.hash(p['hw'])}"
