"""Objective scalarisation: THE one function that turns metric dicts into a scalar performance.

Used both for surrogate targets (via :func:`loss_target`) and for reporting the best point, so the two
can never disagree (the CODEBench tool used accuracy in percent in one place and as a fraction in the
other, which flipped the order; see ``../shared/specs/boshnas.md``, "Surrogates").

Scalarisation (higher is better), for terms ``i`` with weight ``w_i`` and reference ``r_i``:

* maximise term:  ``w_i * value / r_i``           (``r_i = 1`` for fractions such as accuracy)
* minimise term:  ``w_i * (1 - value / r_i)``      (the originals' form)

With ``Objective(clip=True)`` each normalised ratio ``value / r_i`` is clipped to ``[0, 1]`` first, so
that one runaway metric (a latency 100x the reference) cannot dominate the sum; the default is the
originals' unclipped linear form.  Hard constraints ``value <= limit`` (or ``>=`` for ``kind='min'``)
make a violating point's performance ``-inf`` (``violation='neg_inf'``, default) or subtract a fixed
``penalty`` (documented per call).  Terms may declare ``valid_range``: values outside it raise
:class:`~jaxcodesign.errors.ConfigError` (this catches accuracy passed in percent).

Presets (weights and references of the originals, ``../shared/specs/boshnas.md``, "Objective weights"):

* ``codebench``: ``0.2 acc + 0.2 (1 - latency/1 s) + 0.1 (1 - area/1000 mm^2) + 0.2 (1 - E_dyn/10 J)
  + 0.3 (1 - E_leak/10 J)``.
* ``transcode``: ``0.5 GLUE + 0.1 (1 - latency/ref) + 0.2 (1 - E_dyn/ref) + 0.1 (1 - E_leak/ref)``
  (area weight defined but unused upstream).  The spec does not fix the references: they are arguments
  of :func:`transcode_objective` (defaults 1 s, 1 J, 1 J, to be set at the scale of the data).
* ``edgetran``: ``0.5 GLUE + 0.2 (1 - latency/1000 s) + 0.2 (1 - energy/2000 J) + 0.1 (1 - peak/300 W)``.
  NOTE: with these references the hardware terms are almost constant on edge devices (latencies of
  milliseconds against 1000 s): choose references at the scale of the data instead.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import jax.numpy as jnp
import numpy as np

from jaxcodesign.errors import ConfigError

__all__ = [
    "ObjectiveTerm", "Constraint", "Objective", "scalarise", "loss_target", "PRESETS",
    "codebench_objective", "transcode_objective", "edgetran_objective", "get_objective",
]


@dataclasses.dataclass(frozen=True)
class ObjectiveTerm:
  """One weighted, reference-normalised metric.

  Attributes:
    name: metric key in the metrics mapping (e.g. ``accuracy``, ``latency_s``, ``energy_dynamic_j``).
    weight: non-negative weight.
    reference: positive normalisation value in the metric's units (``value / reference``).
    minimise: True for costs (latency, energy, area), False for rewards (accuracy).
    valid_range: optional ``(lo, hi)``; values outside raise ``ConfigError`` (e.g. ``(0, 1)`` for an
      accuracy fraction, so accuracy in percent is rejected instead of silently mis-weighted).
  """
  name: str
  weight: float
  reference: float = 1.0
  minimise: bool = False
  valid_range: tuple[float, float] | None = None

  def __post_init__(self):
    if not np.isfinite(self.weight) or self.weight < 0:
      raise ConfigError(f"ObjectiveTerm {self.name!r}: weight must be finite and >= 0, got {self.weight!r}")
    if not np.isfinite(self.reference) or self.reference <= 0:
      raise ConfigError(
          f"ObjectiveTerm {self.name!r}: reference must be finite and > 0, got {self.reference!r}")


@dataclasses.dataclass(frozen=True)
class Constraint:
  """A hard constraint ``metric <= limit`` (``kind='max'``) or ``metric >= limit`` (``kind='min'``)."""
  name: str
  limit: float
  kind: str = "max"

  def __post_init__(self):
    if self.kind not in ("max", "min"):
      raise ConfigError(f"Constraint {self.name!r}: kind must be one of ['max', 'min'], got {self.kind!r}")


@dataclasses.dataclass(frozen=True)
class Objective:
  """Weighted sum of terms with optional hard constraints.

  Attributes:
    terms: the :class:`ObjectiveTerm` s.
    constraints: hard :class:`Constraint` s.
    clip: clip each ``value / reference`` to ``[0, 1]`` before weighting (default False: originals).
    violation: ``'neg_inf'`` (violating points get ``-inf``) or ``'penalty'`` (subtract ``penalty``
      once per violated constraint).
    penalty: the penalty for ``violation='penalty'``.
  """
  terms: tuple[ObjectiveTerm, ...]
  constraints: tuple[Constraint, ...] = ()
  clip: bool = False
  violation: str = "neg_inf"
  penalty: float = 1.0

  def __post_init__(self):
    object.__setattr__(self, "terms", tuple(self.terms))
    object.__setattr__(self, "constraints", tuple(self.constraints))
    if not self.terms:
      raise ConfigError("Objective.terms: at least one ObjectiveTerm is required")
    if self.violation not in ("neg_inf", "penalty"):
      raise ConfigError(
          f"Objective.violation must be one of ['neg_inf', 'penalty'], got {self.violation!r}")

  @property
  def metric_names(self) -> tuple[str, ...]:
    return tuple(t.name for t in self.terms) + tuple(c.name for c in self.constraints)


def _get(metrics: Mapping[str, object], name: str):
  if name not in metrics:
    raise ConfigError(f"metric {name!r} required by the objective is missing; available: "
                      f"{sorted(metrics)}")
  return jnp.asarray(metrics[name], jnp.float32)


def scalarise(metrics: Mapping[str, object], objective: Objective):
  """Scalar performance (higher is better) of one or many evaluated points.

  Args:
    metrics: mapping metric name -> scalar or float[n] array (all broadcastable together), in the
      units named by the terms (s, J, mm^2, W, fractions).
    objective: the :class:`Objective`.

  Returns:
    float32 array of the broadcast shape: ``sum_i w_i * norm_i(value_i)`` (see module docstring), with
    ``-inf`` (or the penalty subtracted) where a constraint is violated.

  Raises:
    ConfigError: a metric is missing, or a value lies outside a term's ``valid_range`` (checked when
      the values are concrete, i.e. outside ``jit``).
  """
  total = jnp.float32(0.0)
  for term in objective.terms:
    value = _get(metrics, term.name)
    if term.valid_range is not None:
      try:
        v = np.asarray(value)
      except Exception:  # traced value: cannot check, skip
        v = None
      if v is not None:
        lo, hi = term.valid_range
        if np.any(v < lo) or np.any(v > hi):
          raise ConfigError(f"metric {term.name!r} must lie in [{lo}, {hi}] (got min {v.min()}, max "
                            f"{v.max()}); e.g. pass accuracy as a fraction, not in percent")
    ratio = value / term.reference
    if objective.clip:
      ratio = jnp.clip(ratio, 0.0, 1.0)
    total = total + term.weight * ((1.0 - ratio) if term.minimise else ratio)
  for c in objective.constraints:
    value = _get(metrics, c.name)
    violated = value > c.limit if c.kind == "max" else value < c.limit
    if objective.violation == "neg_inf":
      total = jnp.where(violated, -jnp.inf, total)
    else:
      total = total - objective.penalty * violated.astype(jnp.float32)
  return jnp.asarray(total, jnp.float32)


def loss_target(performance, max_loss=None):
  """Surrogate target ``y = (1 - P) / max_loss`` in ``[0, 1]`` (spec ``boshnas.md``, "Surrogates").

  Args:
    performance: float[n] scalarised performance (higher is better), finite.
    max_loss: normaliser; default ``max(1 - P)`` over the given data (the original's "max over data
      seen so far").  Must be > 0.

  Returns:
    float32[n] losses (lower is better).

  Raises:
    ConfigError: non-finite performance (e.g. ``-inf`` from a violated constraint: drop or penalise
      those points first) or a non-positive ``max_loss``.
  """
  p = np.asarray(performance, np.float32)
  if not np.all(np.isfinite(p)):
    raise ConfigError("loss_target: performance must be finite (use Objective(violation='penalty') "
                      "or drop constraint-violating points)")
  loss = 1.0 - p
  if max_loss is None:
    max_loss = float(np.max(loss)) if loss.size else 1.0
  if not max_loss > 0:
    raise ConfigError(f"loss_target: max_loss must be > 0, got {max_loss!r}")
  return (loss / max_loss).astype(np.float32)


# ---- presets ------------------------------------------------------------------------------------

def codebench_objective(accuracy_name: str = "accuracy") -> Objective:
  """CODEBench (ACM TECS 2023) weights and references; accuracy as a fraction in [0, 1]."""
  return Objective(terms=(
      ObjectiveTerm(accuracy_name, 0.2, 1.0, False, (0.0, 1.0)),
      ObjectiveTerm("latency_s", 0.2, 1.0, True),
      ObjectiveTerm("area_mm2", 0.1, 1000.0, True),
      ObjectiveTerm("energy_dynamic_j", 0.2, 10.0, True),
      ObjectiveTerm("energy_leakage_j", 0.3, 10.0, True),
  ))


def transcode_objective(latency_ref_s: float = 1.0, dynamic_energy_ref_j: float = 1.0,
                        leakage_energy_ref_j: float = 1.0, glue_name: str = "glue") -> Objective:
  """TransCODE (IEEE TCAD 2023) weights; references are arguments (the spec leaves them open).

  The GLUE score is a fraction in [0, 1] and is NOT scaled by 1.5 (a known upstream trap).
  """
  return Objective(terms=(
      ObjectiveTerm(glue_name, 0.5, 1.0, False, (0.0, 1.0)),
      ObjectiveTerm("latency_s", 0.1, latency_ref_s, True),
      ObjectiveTerm("energy_dynamic_j", 0.2, dynamic_energy_ref_j, True),
      ObjectiveTerm("energy_leakage_j", 0.1, leakage_energy_ref_j, True),
  ))


def edgetran_objective(latency_ref_s: float = 1000.0, energy_ref_j: float = 2000.0,
                       peak_power_ref_w: float = 300.0, glue_name: str = "glue") -> Objective:
  """EdgeTran weights; the defaults are the original references (1000 s, 2000 J, 300 W), which made the
  hardware terms nearly constant on edge devices: pass references at the scale of the data."""
  return Objective(terms=(
      ObjectiveTerm(glue_name, 0.5, 1.0, False, (0.0, 1.0)),
      ObjectiveTerm("latency_s", 0.2, latency_ref_s, True),
      ObjectiveTerm("energy_j", 0.2, energy_ref_j, True),
      ObjectiveTerm("peak_power_w", 0.1, peak_power_ref_w, True),
  ))


PRESETS = {
    "codebench": codebench_objective,
    "transcode": transcode_objective,
    "edgetran": edgetran_objective,
}


def get_objective(name: str, **kwargs) -> Objective:
  """A preset objective by name (``codebench``, ``transcode``, ``edgetran``); kwargs go to its builder.

  Raises:
    ConfigError: unknown name.
  """
  if name not in PRESETS:
    raise ConfigError(f"unknown objective preset {name!r}; allowed: {sorted(PRESETS)}")
  return PRESETS[name](**kwargs)
