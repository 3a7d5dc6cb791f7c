"""Design spaces. ``get_space(name)`` returns a space by its launcher name.

Names: flexibert2, flexibert1, flexibert_small, cnnbench, elector, acceltran, accelbench.
"""

from __future__ import annotations

import importlib
import inspect

from jaxcodesign.errors import ConfigError
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

__all__ = ["get_space", "SPACE_NAMES", "DesignSpace"]


def get_space(name: str, **kwargs) -> DesignSpace:
  """Instantiates the space registered as ``name``.

  Raises:
    ConfigError: (a ``ValueError``) for an unknown name or an unknown keyword (restriction); the
      message lists the allowed names / keywords. Restrictions can only shrink a space (see each
      space's constructor).
  """
  if name not in _REGISTRY:
    raise ConfigError(f"invalid value for field 'space': {name!r}; allowed: {list(_REGISTRY)}")
  module, cls_name = _REGISTRY[name]
  cls = getattr(importlib.import_module(module), cls_name)
  params = [p for p in inspect.signature(cls).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
  if not any(p.kind == p.VAR_KEYWORD for p in inspect.signature(cls).parameters.values()):
    unknown = sorted(set(kwargs) - {p.name for p in params})
    if unknown:
      raise ConfigError(f"invalid restriction for space {name!r}: unknown field(s) {unknown}; "
                        f"allowed: {sorted(p.name for p in params)}")
  return cls(**kwargs)
