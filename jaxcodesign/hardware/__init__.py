"""jaxcodesign.hardware: workload lowering and jitted, vmappable accelerator models.

The one front end is :mod:`jaxcodesign.hardware.api` (both models follow its result contract)::

  from jaxcodesign import hardware
  prepared = hardware.prepare_configs(configs)                 # validate + convert once
  out = hardware.simulate_arrays("bert_tiny", prepared)        # {key: array[n]}
  rows = hardware.simulate_transformer("bert_tiny", configs, sparsity=(0.5, 0.5))
  step = hardware.simulate_transformer("bert_tiny", configs, mode="training")

Modules: ``api`` (front end), ``acceltran`` (transformer model), ``accelbench`` (CNN model),
``workload`` / ``cnn_workload`` (lowering), ``constants`` (published figures and their sources),
``area_power`` (area and static power), ``legacy`` (the quirk-exact TransCODE simulator).
Attributes are imported lazily, so ``import jaxcodesign.hardware.constants`` stays cheap.
"""

from __future__ import annotations

import importlib

__all__ = ["prepare_configs", "simulate_arrays", "simulate_transformer", "simulate_cnn",
           "PreparedConfigs", "RESULT_KEYS", "simulate_fast", "lower_transformer", "lower_cnn"]

_FROM = {"prepare_configs": "api", "simulate_arrays": "api", "simulate_transformer": "api",
         "simulate_cnn": "api", "PreparedConfigs": "api", "RESULT_KEYS": "api",
         "simulate_fast": "legacy", "lower_transformer": "workload", "lower_cnn": "workload"}


def __getattr__(name):
  if name in _FROM:
    return getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
  return sorted(list(globals()) + __all__)
