"""Design spaces. ``get_space(name)`` returns a space by its launcher name.

Names: flexibert2, flexibert1, flexibert_small, cnnbench, elector, acceltran, accelbench.
"""

from __future__ import annotations

import importlib

from jaxcodesign.spaces.base import DesignSpace

_REGISTRY = {
    "flexibert2": ("jaxcodesign.spaces.flexibert", "FlexiBERT2Space"),
    "flexibert1": ("jaxcodesign.spaces.flexibert", "FlexiBERT1Space"),
    "flexibert_small": ("jaxcodesign.spaces.flexibert", "FlexiBERTSmallSpace"),
    "cnnbench": ("jaxcodesign.spaces.cnnbench", "CNNBenchSpace"),
    "elector": ("jaxcodesign.spaces.accelerators", "ElectorSpace"),
    "acceltran": ("jaxcodesign.spaces.accelerators", "AccelTranSpace"),
    "accelbench": ("jaxcodesign.spaces.accelerators", "AccelBenchSpace"),
}

SPACE_NAMES = tuple(_REGISTRY)


def get_space(name: str, **kwargs) -> DesignSpace:
  """Instantiates the space registered as ``name``.

  Raises:
    ValueError: for an unknown name (the message lists the allowed names).
  """
  if name not in _REGISTRY:
    raise ValueError(f"invalid value for field 'space': {name!r}; allowed: {list(_REGISTRY)}")
  module, cls = _REGISTRY[name]
  return getattr(importlib.import_module(module), cls)(**kwargs)
