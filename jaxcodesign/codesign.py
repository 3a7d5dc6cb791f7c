"""End-to-end hardware-software co-design (TransCODE for transformers, CODEBench for CNNs).

One experiment = a model space x an accelerator space, an accuracy oracle (real training on real data,
or a table of measurements), an accelerator model, and one objective. :func:`run` searches the pair
space with BOSHCODE and, at the same evaluation budget, three one-sided or naive baselines, so that the
co-design gain is measured rather than claimed:

* ``codesign``: BOSHCODE over (network, accelerator) pairs;
* ``fixed_network``: accelerator search only (BOSHNAS over the accelerator space), network fixed;
* ``fixed_accelerator``: hardware-aware NAS (BOSHNAS over the model space), accelerator fixed;
* ``random_pairs``: uniformly random pairs.

Objective (one function, :func:`jaxcodesign.search.objectives.scalarise`, for targets and reports)::

  P = w_acc * accuracy + w_lat * (1 - latency_s / ref_lat) + w_e * (1 - energy_j / ref_e)
      + w_area * (1 - area_mm2 / ref_area)

with accuracy the *validation* accuracy as a fraction in [0, 1] (test accuracy is reported only), and
the references documented per experiment at the scale of that experiment's data. A pair whose
network does not fit the accelerator violates a hard constraint.

Work directory layout: ``results.json`` (every evaluated pair of every method with all metrics, the
chosen pair, the Pareto set of (error, latency, energy, area), the configuration and versions),
``checkpoints/<method>/`` (orbax; a killed run resumes), ``plots/*.png``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import platform
import time
from typing import Any, Callable, Mapping, Sequence

import ml_collections
import numpy as np

from jaxcodesign.errors import ConfigError

METHODS = ("codesign", "fixed_network", "fixed_accelerator", "random_pairs")
HW_METRICS = ("latency_s", "energy_j", "energy_dynamic_j", "energy_leakage_j", "area_mm2",
              "peak_power_w", "avg_power_w", "cycles", "fits")


def base_config() -> ml_collections.ConfigDict:
  """Defaults shared by every experiment (each ``experiments/*.py`` overrides what it needs)."""
  cfg = ml_collections.ConfigDict()
  cfg.name = "codesign"
  cfg.model_space = "flexibert2"
  cfg.model_space_kwargs = ml_collections.ConfigDict()
  cfg.hw_space = "elector"
  cfg.hw_space_kwargs = ml_collections.ConfigDict()
  cfg.budget = 24              # pair evaluations per method, initial design included
  cfg.seed = 0
  cfg.methods = METHODS
  cfg.fixed_network = ""       # '' = the first model of the initial design; or a JSON model dict
  cfg.fixed_accelerator = "edge"
  # Accuracy oracle.
  cfg.oracle = ml_collections.ConfigDict()
  cfg.oracle.kind = "training"   # 'training' | 'table'
  cfg.oracle.dataset = "digits"  # 'digits' or a path to an .npz
  cfg.oracle.table_path = ""
  cfg.oracle.task = "SST-2"
  cfg.oracle.epochs = 12
  cfg.oracle.batch_size = 64
  cfg.oracle.learning_rate = 3e-3
  cfg.oracle.patience = 4
  cfg.oracle.weight_transfer = False
  # Hardware model.
  cfg.hw = ml_collections.ConfigDict()
  cfg.hw.seq_len = 8                # tokens per sequence seen by the accelerator (digits: 8 rows)
  cfg.hw.activation_sparsity = 0.0
  cfg.hw.weight_sparsity = 0.0
  # Objective: weights and references (documented normalisers, at the scale of the data).
  cfg.objective = ml_collections.ConfigDict()
  cfg.objective.weights = ml_collections.ConfigDict(
      dict(accuracy=0.6, latency_s=0.15, energy_j=0.15, area_mm2=0.1))
  cfg.objective.references = ml_collections.ConfigDict(
      dict(latency_s=1e-4, energy_j=1e-4, area_mm2=500.0))
  # Search (BOSHCODE / BOSHNAS) settings.
  cfg.search = ml_collections.ConfigDict()
  cfg.search.init_design = 8
  cfg.search.init_method = "lhs"
  cfg.search.alpha = 0.1            # probability of max-uncertainty sampling
  cfg.search.beta = 0.1             # probability of diversity (random) sampling
  cfg.search.k_e = 0.5
  cfg.search.k_a = 0.5
  cfg.search.gobi_restarts = 8
  cfg.search.surrogate_epochs = 60
  cfg.search.n_members = 2
  return cfg


# ------------------------------------------------------------------------------------------------
# Objective
# ------------------------------------------------------------------------------------------------
def make_objective(cfg: ml_collections.ConfigDict):
  """Builds the experiment's :class:`~jaxcodesign.search.objectives.Objective` from ``cfg.objective``.

  Accuracy is maximised with reference 1.0 (a fraction); hardware terms are minimised relative to
  ``cfg.objective.references``. The hard constraint ``fits`` excludes pairs whose network does not fit.

  Raises:
    ConfigError: for a negative weight, a non-positive reference or an unknown metric name.
  """
  from jaxcodesign.search import objectives as obj_lib
  allowed = ("accuracy", "latency_s", "energy_j", "energy_dynamic_j", "energy_leakage_j",
             "area_mm2", "peak_power_w")
  terms = []
  for name, weight in cfg.objective.weights.items():
    if name not in allowed:
      raise ConfigError(f"invalid objective.weights field {name!r}; allowed: {list(allowed)}")
    if weight < 0:
      raise ConfigError(f"objective.weights.{name} must be >= 0, got {weight}")
    if weight == 0:
      continue
    if name == "accuracy":
      terms.append(obj_lib.ObjectiveTerm(name, float(weight), 1.0, minimise=False))
    else:
      ref = cfg.objective.references.get(name)
      if ref is None or ref <= 0:
        raise ConfigError(f"objective.references.{name} must be > 0 (got {ref}) when its weight is > 0")
      terms.append(obj_lib.ObjectiveTerm(name, float(weight), float(ref), minimise=True))
  if not terms:
    raise ConfigError("objective.weights: at least one weight must be > 0")
  return obj_lib.Objective(terms=tuple(terms))
