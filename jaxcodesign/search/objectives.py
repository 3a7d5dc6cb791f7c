"""Objective scalarisation: THE one function that turns metric dicts into a scalar performance.

Used both for surrogate targets (via :func:`loss_target`) and for reporting the best point, so the two
can never disagree (the CODEBench tool used accuracy in percent in one place and as a fraction in the
other, which flipped the order; CODEBench, Tuli et al., ACM TECS 2023, surrogate targets).

Scalarisation (higher is better), for terms ``i`` with weight ``w_i`` and reference ``r_i``:

* maximise term:  ``w_i * value / r_i``           (``r_i = 1`` for fractions such as accuracy)
* minimise term:  ``w_i * (1 - value / r_i)``      (the originals' form)

With ``Objective(clip=True)`` each normalised ratio ``value / r_i`` is clipped to ``[0, 1]`` first, so
that one runaway metric (a latency 100x the reference) cannot dominate the sum; the default is the
originals' unclipped linear form.  Hard constraints ``value <= limit`` (or ``>=`` for ``kind='min'``)
make a violating point's performance ``-inf`` (``violation='neg_inf'``, default) or subtract a fixed
``penalty`` (documented per call).

Range checks (never a silent clip): every term has a valid range, given as ``valid_range`` or, when
omitted, taken from :data:`DEFAULT_RANGES` by metric name (fractions such as ``accuracy`` in
``[0, 1]``; latencies, energies, areas, powers, cycles in ``[0, inf)``; otherwise any finite value).
A value outside its range, or NaN, raises :class:`~jaxcodesign.errors.ConfigError` naming the metric,
so accuracy passed in percent (97.0) is refused instead of being clipped to 1.0 and outranking 0.97.
``clip`` applies only to the normalised ratios of values that passed the check.

Presets (weights and references of the originals: FlexiBERT, Tuli et al., JAIR 2023; CODEBench,
ACM TECS 2023; TransCODE, IEEE TCAD 2023; EdgeTran, IEEE TMC 2024):

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

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodesign.errors import ConfigError

__all__ = [
    "ObjectiveTerm", "Constraint", "Objective", "scalarise", "loss_target", "PRESETS",
    "codebench_objective", "transcode_objective", "edgetran_objective", "get_objective",
    "DEFAULT_RANGES", "valid_range_of", "check_metrics", "term_contributions",
]

#: Valid ranges by metric name (used when a term gives no ``valid_range``). Fractions first; names
#: are matched exactly, then by the prefixes / suffixes of :func:`valid_range_of`.
DEFAULT_RANGES: dict[str, tuple[float, float]] = {
    "accuracy": (0.0, 1.0), "val_accuracy": (0.0, 1.0), "test_accuracy": (0.0, 1.0),
    "error": (0.0, 1.0), "glue": (0.0, 1.0), "fits": (0.0, 1.0), "fits_reticle": (0.0, 1.0),
}
_NONNEGATIVE_PREFIXES = ("latency", "energy", "area", "power", "peak_power", "avg_power", "cycles",
                         "main_memory", "throughput", "params", "macs")


def valid_range_of(name: str, declared: tuple[float, float] | None = None) -> tuple[float, float]:
  """The valid range of metric ``name``: ``declared`` if given, else :data:`DEFAULT_RANGES`, else
  ``[0, inf)`` for physical costs (names starting with latency/energy/area/power/cycles/...), else
  ``(-inf, inf)`` (finite values only)."""
  if declared is not None:
    lo, hi = declared
    return float(lo), float(hi)
  if name in DEFAULT_RANGES:
    return DEFAULT_RANGES[name]
  if name.endswith("accuracy") or name.endswith("_fraction") or name.startswith("utilisation"):
    return (0.0, 1.0)
  if name.startswith(_NONNEGATIVE_PREFIXES):
    return (0.0, float("inf"))
  return (-float("inf"), float("inf"))


def check_metrics(metrics: Mapping[str, object], names) -> None:
  """Raises :class:`ConfigError` if a concrete value of ``metrics[name]`` is NaN or outside
  :func:`valid_range_of` (``names``: metric names, or ``(name, declared_range)`` pairs). Traced
  values (inside ``jit``) cannot be checked and are skipped; check before tracing."""
  for item in names:
    name, declared = item if isinstance(item, tuple) else (item, None)
    if name not in metrics:
      continue
    value = metrics[name]
    if isinstance(value, jax.core.Tracer):
      continue
    v = np.asarray(value, np.float64)
    lo, hi = valid_range_of(name, declared)
    bad = np.isnan(v) | (v < lo) | (v > hi)
    if np.any(bad):
      first = v[bad].ravel()[0] if v.ndim else float(v)
      hint = ("; pass accuracy as a fraction, not in percent" if hi == 1.0 and first > 1.0 else "")
      raise ConfigError(f"invalid value for metric {name!r}: {first!r} (min {np.nanmin(v) if np.any(~np.isnan(v)) else 'nan'}, "
                        f"max {np.nanmax(v) if np.any(~np.isnan(v)) else 'nan'}); allowed: [{lo}, {hi}]{hint}")


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
      None takes :func:`valid_range_of` (the name's default range).
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
    ConfigError: a metric is missing, or a value is NaN or outside its term's valid range
      (:func:`valid_range_of`; checked when the values are concrete, i.e. outside ``jit``).
  """
  check_metrics(metrics, [(t.name, t.valid_range) for t in objective.terms])
  total = jnp.float32(0.0)
  for contribution in term_contributions(metrics, objective).values():
    total = total + contribution
  for c in objective.constraints:
    value = _get(metrics, c.name)
    violated = value > c.limit if c.kind == "max" else value < c.limit
    if objective.violation == "neg_inf":
      total = jnp.where(violated, -jnp.inf, total)
    else:
      total = total - objective.penalty * violated.astype(jnp.float32)
  return jnp.asarray(total, jnp.float32)


def term_contributions(metrics: Mapping[str, object], objective: Objective) -> dict:
  """``{term name: w_i * norm_i(value_i)}``, the summands of :func:`scalarise` (float32 arrays of
  the metrics' broadcast shape; clipped ratios when ``objective.clip``). No range check and no
  constraints: :func:`scalarise` adds both."""
  out = {}
  for term in objective.terms:
    ratio = _get(metrics, term.name) / term.reference
    if objective.clip:
      ratio = jnp.clip(ratio, 0.0, 1.0)
    out[term.name] = term.weight * ((1.0 - ratio) if term.minimise else ratio)
  return out


def loss_target(performance, max_loss=None):
  """Surrogate target ``y = (1 - P) / max_loss`` in ``[0, 1]`` (FlexiBERT, JAIR 2023, BOSHNAS targets).

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
