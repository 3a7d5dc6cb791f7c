"""GOBI: gradient-based optimisation of a surrogate's acquisition over the input features.

Algorithm (``../shared/specs/boshnas.md``, "Acquisition and GOBI"): K restarts from known designs,
minimise ``z(x) = mu(x) - k_e sigma_e(x) - k_a sigma_a(x)`` with AdaHessian (lr 0.5 in the original;
else SGD / Adam), surrogate weights frozen; after every step project onto the box (the feature bounds,
optionally intersected with a trust region around the start: multiplicative ``[x0 (1 - r), x0 (1 + r)]``
or additive ``[x0 - r, x0 + r]``); the original stops when ``|z_t - z_{t-1}| < tol`` for more than
``patience`` consecutive steps, or after ``max_steps``.

Ours: the K restarts are ``vmap``-ed inside one jitted ``lax.while_loop`` (so all restarts run until the
last one has converged; converged ones are frozen); the box projection is
``optax.projections.projection_box``; the returned point is the best (lowest ``z``) iterate of each
restart, so a restart never ends worse than its (box-projected) start; the legality projection to a
valid design (``space.project``) happens after GOBI returns, in :func:`gobi_search`, which keeps the
start where the projected design scores worse.  The original's cosine schedule quirk is available as
``schedule='legacy_cosine'``.

Stopping rule.  ``stop='improvement'`` (default): a step counts as stalled when both the gain in
the best value and the change of the current value are at most ``ftol`` (3e-3) times the gain since
the start, ``v0 - best`` (scale-free: a fraction of the acquisition's own progress, in whatever units
the surrogate predicts); GOBI stops after more than ``patience`` (5) stalled steps in a row.  The
second condition keeps an optimiser that is turning around (Adam's overshoot) from counting as
stalled.  Measured on real surrogates (the network fit on every measured FlexiBERT-small row, 10
restarts from the 10 best measured models, two probe keys; ``python -m benchmarks.surrogates --tables=
--gobi``): met by 19/20 (SST-2) and 20/20 (QNLI) restarts after 81-86 steps on average, keeping 87-91 %
of the acquisition gain of running all 200 steps (79-83 % of that of 400 steps: the acquisition keeps
creeping up by tiny amounts towards the box's faces, where the surrogate extrapolates).  The other
rules, kept for comparison: ``stop='legacy'``, the original ``|z_t - z_{t-1}| < tol`` (1e-5, target
units) for more than ``patience`` steps (met by 9/10 restarts on SST-2 but 3/10 on QNLI: an absolute
threshold is not scale-free); ``stop='relative'``, the projected-gradient step in the normalised
feature box, ``pg(x) = ||P_box(x - grad z(x)) - x||_inf``, at most ``gtol`` (1e-2) times its value at
the start (exact on quadratics, but met by 0 of 10 restarts within 200 steps on the real surrogates:
AdaHessian's Hutchinson noise keeps the gradient from shrinking 100-fold).
``GOBIResult.steps`` and ``GOBIResult.converged`` report steps used and whether the rule was met.

Direction.  :func:`gobi` minimises ``acq`` unless ``maximise=True``; :func:`gobi_search` has no
default: ``maximise=True`` for a surrogate of a quantity to maximise (accuracy, performance),
``maximise=False`` for a loss.  With a surrogate state the acquisition is then
``mu + k_e sigma_e + k_a sigma_a`` (maximised, optimism under uncertainty) or
``mu - k_e sigma_e - k_a sigma_a`` (minimised).

The acquisition is passed as a ``jax.tree_util.Partial`` (what
:func:`jaxcodesign.surrogates.acquisition_fn` returns) so that a new surrogate state does NOT
recompile GOBI; any other callable is wrapped (and then recompiles per distinct callable).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from optax import projections

from jaxcodesign.errors import ConfigError
from jaxcodesign.search.adahessian import (adahessian, legacy_cosine_schedule,
                                           value_grad_and_hessian_diag)

__all__ = ["GOBIConfig", "GOBIResult", "GOBISearchResult", "gobi", "gobi_search", "adahessian"]

_OPTIMIZERS = ("adahessian", "adam", "sgd")
_SCHEDULES = ("constant", "legacy_cosine")
_TRUST = (None, "multiplicative", "additive")
_STOPS = ("improvement", "relative", "legacy")


@dataclasses.dataclass(frozen=True)
class GOBIConfig:
  """GOBI settings (defaults: spec values, except ``lr`` for AdaHessian on normalised features).

  Attributes:
    optimizer: 'adahessian' (spec), 'adam' or 'sgd'.
    lr: learning rate (spec: 0.5 AdaHessian, 10 SGD on raw encodings; our features are in [0, 1]).
    schedule: 'constant' or 'legacy_cosine' (the original's CosineAnnealingLR(T_max=2) quirk).
    max_steps: 200 (spec). patience: 5 (spec: stop after > 5 stalled steps).
    stop: 'improvement' (default: a step's gain in the best value and its change of value both
      <= ``ftol`` times the gain since the start), 'legacy' (the original ``|z_t - z_{t-1}| < tol``) or 'relative' (projected
      gradient); see the module docstring for the measurements behind the default.
    gtol: 1e-2: the 'relative' rule's threshold (projected gradient relative to the start's).
    ftol: 3e-3: the 'improvement' rule's threshold (a step's gain in the best value and its
      change of value, relative to the gain since the start).
    tol: 1e-5 (spec): the 'legacy' rule's absolute threshold (target units).
    trust_region: None, 'multiplicative' or 'additive'; trust_radius: 0.25 (spec's +-25%).
    hessian_samples: Rademacher probes per Hutchinson estimate (spec: 1).
    b1, b2, eps, hessian_power: AdaHessian constants (spec: 0.9, 0.999, 1e-4, 1).
  """
  optimizer: str = "adahessian"
  lr: float = 0.05
  schedule: str = "constant"
  max_steps: int = 200
  tol: float = 1e-5
  patience: int = 5
  stop: str = "improvement"
  gtol: float = 1e-2
  ftol: float = 3e-3
  trust_region: str | None = None
  trust_radius: float = 0.25
  hessian_samples: int = 1
  b1: float = 0.9
  b2: float = 0.999
  eps: float = 1e-4
  hessian_power: float = 1.0

  def __post_init__(self):
    if self.optimizer not in _OPTIMIZERS:
      raise ConfigError(f"GOBIConfig.optimizer: {self.optimizer!r}; allowed: {list(_OPTIMIZERS)}")
    if self.schedule not in _SCHEDULES:
      raise ConfigError(f"GOBIConfig.schedule: {self.schedule!r}; allowed: {list(_SCHEDULES)}")
    if self.stop not in _STOPS:
      raise ConfigError(f"GOBIConfig.stop: {self.stop!r}; allowed: {list(_STOPS)}")
    if not self.gtol >= 0:
      raise ConfigError(f"GOBIConfig.gtol must be >= 0, got {self.gtol!r}")
    if not self.ftol >= 0:
      raise ConfigError(f"GOBIConfig.ftol must be >= 0, got {self.ftol!r}")
    if self.trust_region not in _TRUST:
      raise ConfigError(f"GOBIConfig.trust_region: {self.trust_region!r}; allowed: {list(_TRUST)}")
    if self.max_steps < 1 or self.patience < 0 or self.hessian_samples < 1:
      raise ConfigError("GOBIConfig: max_steps >= 1, patience >= 0 and hessian_samples >= 1 required")
    if not self.lr > 0 or not self.tol >= 0 or not self.trust_radius >= 0:
      raise ConfigError("GOBIConfig: lr > 0, tol >= 0 and trust_radius >= 0 required")


class GOBIResult(NamedTuple):
  """Per restart: ``x`` float32[K, d] best iterate (inside the box); ``value`` float32[K] the
  objective at ``x`` in the caller's direction (the acquisition itself, also when maximising);
  ``start_value`` float32[K] the objective at the box-projected start; ``steps`` int32[K] steps
  taken; ``converged`` bool[K] whether the stopping rule was met before ``max_steps``."""
  x: jax.Array
  value: jax.Array
  steps: jax.Array
  converged: jax.Array
  start_value: jax.Array


def _make_optimizer(config: GOBIConfig):
  lr = legacy_cosine_schedule(config.lr) if config.schedule == "legacy_cosine" else config.lr
  if config.optimizer == "adahessian":
    return adahessian(lr, config.b1, config.b2, config.eps, config.hessian_power)
  if config.optimizer == "adam":
    return optax.adam(lr)
  return optax.sgd(lr)


def _box(x0, lower, upper, config: GOBIConfig):
  if config.trust_region == "multiplicative":
    a, b = x0 * (1 - config.trust_radius), x0 * (1 + config.trust_radius)
    lo, hi = jnp.minimum(a, b), jnp.maximum(a, b)
  elif config.trust_region == "additive":
    lo, hi = x0 - config.trust_radius, x0 + config.trust_radius
  else:
    return lower, upper
  lo, hi = jnp.maximum(lo, lower), jnp.minimum(hi, upper)
  return lo, jnp.maximum(hi, lo)


def _run_one(acq, key, x0, lower, upper, config: GOBIConfig):
  opt = _make_optimizer(config)
  lo, hi = _box(x0, lower, upper, config)
  x0 = projections.projection_box(x0, lo, hi)
  f = lambda x: acq(x)
  v0 = f(x0)

  def cond(c):
    return jnp.logical_and(c["step"] < config.max_steps, c["stall"] <= config.patience)

  def pgrad(x, g):  # projected-gradient step in the normalised feature box (0 at a KKT point)
    return jnp.max(jnp.abs(projections.projection_box(x - g, lo, hi) - x))

  pg0 = pgrad(x0, jax.grad(f)(x0))

  def stalled(c, x, v, g):
    if config.stop == "legacy":
      return jnp.abs(v - c["v"]) < config.tol
    if config.stop == "improvement":  # the best value's gain this step vs its gain since the start
      best = jnp.minimum(v, c["best_v"])
      scale = config.ftol * (v0 - best) + 1e-12 * (1 + jnp.abs(v0))
      return jnp.logical_and(c["best_v"] - best <= scale, jnp.abs(v - c["v"]) <= scale)
    return pgrad(c["x"], g) <= config.gtol * pg0 + 1e-12

  def body(c):
    key, sub = jax.random.split(c["key"])
    if config.optimizer == "adahessian":
      _, g, d = value_grad_and_hessian_diag(f, c["x"], sub, config.hessian_samples)
      upd, opt_state = opt.update(g, c["opt"], c["x"], hessian_diag=d)
    else:
      g = jax.grad(f)(c["x"])
      upd, opt_state = opt.update(g, c["opt"], c["x"])
    x = projections.projection_box(optax.apply_updates(c["x"], upd), lo, hi)
    v = f(x)
    stall = jnp.where(stalled(c, x, v, g), c["stall"] + 1, 0)
    better = v < c["best_v"]
    return dict(x=x, v=v, opt=opt_state, stall=stall, step=c["step"] + 1, key=key,
                best_x=jnp.where(better, x, c["best_x"]), best_v=jnp.where(better, v, c["best_v"]))

  init = dict(x=x0, v=v0, opt=opt.init(x0), stall=jnp.int32(0), step=jnp.int32(0), key=key,
              best_x=x0, best_v=v0)
  out = jax.lax.while_loop(cond, body, init)
  return out["best_x"], out["best_v"], out["step"], out["stall"] > config.patience, v0


def _negated(acq, x):
  return -acq(x)


def _gobi_impl(acq, key, x0, lower, upper, config):
  """The vmapped restarts (jitted as :data:`_gobi_jit`; tests wrap it in ``chex.assert_max_traces``)."""
  keys = jax.random.split(key, x0.shape[0])
  return jax.vmap(_run_one, in_axes=(None, 0, 0, None, None, None))(acq, keys, x0, lower, upper,
                                                                     config)


_gobi_jit = jax.jit(_gobi_impl, static_argnames=("config",))


def gobi(key: jax.Array, acq: Callable, x0, lower, upper, config: GOBIConfig = GOBIConfig(), *,
         maximise: bool = False) -> GOBIResult:
  """Minimises (default) or maximises ``acq`` from K starting points in one jitted, vmapped call.

  Args:
    key: PRNG key (Hutchinson probes); a typed ``jax.random.key`` or a legacy uint32 key.
    acq: differentiable ``f(x: float32[d]) -> scalar``; preferably a ``jax.tree_util.Partial``
      (e.g. from ``jaxcodesign.surrogates.acquisition_fn``, which is to be minimised).
    x0: float32[K, d] starting points (known designs' features).
    lower, upper: float32[d] (or scalars) box bounds; starts are first projected into the box.
    config: :class:`GOBIConfig`.
    maximise: False (default): minimise ``acq``, the convention of
      :func:`jaxcodesign.surrogates.acquisition_fn`; True: maximise it.

  Returns:
    :class:`GOBIResult`; every ``x`` lies in the box (and in the trust region when one is set) and
    ``value`` is never worse than ``start_value`` in the chosen direction.

  Raises:
    ConfigError: ``x0`` not 2-D, bounds of the wrong length, or ``lower > upper``.
  """
  x0 = jnp.asarray(x0, jnp.float32)
  if x0.ndim != 2:
    raise ConfigError(f"gobi: x0 must be float32[K, d], got shape {x0.shape}")
  d = x0.shape[1]
  lower = jnp.broadcast_to(jnp.asarray(lower, jnp.float32), (d,))
  upper = jnp.broadcast_to(jnp.asarray(upper, jnp.float32), (d,))
  if bool(jnp.any(lower > upper)):
    raise ConfigError("gobi: lower must be <= upper in every dimension")
  if not isinstance(acq, jax.tree_util.Partial):
    acq = jax.tree_util.Partial(acq)
  if maximise:  # a module-level wrapper: same pytree structure, so no recompilation per state
    acq = jax.tree_util.Partial(_negated, acq)
  x, v, s, conv, v0 = _gobi_jit(acq, key, x0, lower, upper, config)
  sign = -1.0 if maximise else 1.0
  return GOBIResult(x, sign * v, s, conv, sign * v0)


@jax.jit
def _batch_value(acq, x):
  return jax.vmap(acq)(x)


class GOBISearchResult(NamedTuple):
  """:func:`gobi_search`'s result: ``points`` (K legal designs, possibly with duplicates), ``value``
  float[K] the objective (acquisition) at each returned design, ``start_value`` float[K] at each
  start, ``kept_start`` bool[K] (the projected optimum scored worse than the start, so the start
  was returned), and ``gobi`` the raw :class:`GOBIResult` (steps used, convergence)."""
  points: list
  value: np.ndarray
  start_value: np.ndarray
  kept_start: np.ndarray
  gobi: GOBIResult


def gobi_search(key: jax.Array, space, state_or_acq: Any, init_points: Sequence,
                config: GOBIConfig = GOBIConfig(), k_e: float = 0.5, k_a: float = 0.5,
                bounds: str = "space", *, maximise: bool | None = None) -> GOBISearchResult:
  """GOBI over a design space: features -> :func:`gobi` -> ``space.project`` -> legal designs.

  Args:
    key: PRNG key.
    space: a :class:`jaxcodesign.spaces.base.DesignSpace` (for a ``PairSpace`` the features are the
      concatenation, matching a two-tower surrogate).
    state_or_acq: a surrogate state (``SurrogateState`` or ``HybridState``: its differentiable
      network member; the acquisition is ``acquisition_fn(state, k_e, k_a, maximise=maximise)``) or
      a callable ``f(x[d]) -> scalar`` optimised in the direction ``maximise``.
    init_points: K valid design points to start from.
    config: :class:`GOBIConfig`.
    k_e, k_a: acquisition weights (used only with a surrogate state).
    bounds: 'space' (``space.feature_bounds()``) or 'data' (per-dimension min/max of the starting
      features, the original's clipping).
    maximise: REQUIRED. True when the surrogate's target (or ``f``) is to be maximised (accuracy,
      performance), False when it is a loss.

  Returns:
    :class:`GOBISearchResult`: each restart's design is ``space.project`` of its optimum, or its
    start when the projected design scores worse under the acquisition, so no returned design is
    worse than its start under the surrogate.

  Raises:
    ConfigError: ``maximise`` not given, empty ``init_points`` or unknown ``bounds``.
  """
  from jaxcodesign.surrogates import acquisition_fn, is_surrogate_state  # avoid import cycle
  if maximise is None:
    raise ConfigError("gobi_search: field 'maximise' is required; allowed: True (maximise the "
                      "target, e.g. accuracy) or False (minimise it, e.g. a loss)")
  if len(init_points) == 0:
    raise ConfigError("gobi_search: init_points must contain at least one design")
  if bounds not in ("space", "data"):
    raise ConfigError(f"gobi_search: bounds {bounds!r}; allowed: ['space', 'data']")
  if is_surrogate_state(state_or_acq):
    # acquisition_fn returns a function to MINIMISE in both directions (negated UCB when maximising)
    acq, minimised = acquisition_fn(state_or_acq, k_e, k_a, maximise=bool(maximise)), True
  else:
    acq, minimised = state_or_acq, not maximise
  x0 = np.asarray(space.to_features_batch(list(init_points)), np.float32)
  if bounds == "space":
    lower, upper = space.feature_bounds()
  else:
    lower, upper = x0.min(0), x0.max(0)
  res = gobi(key, acq, x0, lower, upper, config, maximise=not minimised)
  xs = np.asarray(res.x)
  projected = [space.project(xs[i]) for i in range(xs.shape[0])]
  if not isinstance(acq, jax.tree_util.Partial):
    acq = jax.tree_util.Partial(acq)
  xp = jnp.asarray(space.to_features_batch(projected), jnp.float32)
  v_both = np.asarray(_batch_value(acq, jnp.concatenate([xp, jnp.asarray(x0)])), np.float64)
  v_proj, v_start = v_both[:len(projected)], v_both[len(projected):]
  worse = v_proj > v_start if minimised else v_proj < v_start
  points = [init_points[i] if worse[i] else projected[i] for i in range(len(projected))]
  value = np.where(worse, v_start, v_proj)
  sign = -1.0 if (minimised and maximise) else 1.0  # report the target direction's acquisition
  return GOBISearchResult(points, sign * value, sign * v_start, worse, res)
