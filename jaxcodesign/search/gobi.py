"""GOBI: gradient-based optimisation of a surrogate's acquisition over the input features.

Algorithm (``../shared/specs/boshnas.md``, "Acquisition and GOBI"): K restarts from known designs,
minimise ``z(x) = mu(x) - k_e sigma_e(x) - k_a sigma_a(x)`` with AdaHessian (lr 0.5 in the original;
else SGD / Adam), surrogate weights frozen; after every step project onto the box (the feature bounds,
optionally intersected with a trust region around the start: multiplicative ``[x0 (1 - r), x0 (1 + r)]``
or additive ``[x0 - r, x0 + r]``); stop when ``|z_t - z_{t-1}| < tol`` for more than ``patience``
consecutive steps, or after ``max_steps``.

Ours: the K restarts are ``vmap``-ed inside one jitted ``lax.while_loop`` (so all restarts run until the
last one has converged; converged ones are frozen); the box projection is
``optax.projections.projection_box``; the returned point is the best (lowest ``z``) iterate of each
restart; the legality projection to a valid design (``space.project``) happens after GOBI returns, in
:func:`gobi_search`.  The original's cosine schedule quirk is available as ``schedule='legacy_cosine'``.

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

__all__ = ["GOBIConfig", "GOBIResult", "gobi", "gobi_search", "adahessian"]

_OPTIMIZERS = ("adahessian", "adam", "sgd")
_SCHEDULES = ("constant", "legacy_cosine")
_TRUST = (None, "multiplicative", "additive")


@dataclasses.dataclass(frozen=True)
class GOBIConfig:
  """GOBI settings (defaults: spec values, except ``lr`` for AdaHessian on normalised features).

  Attributes:
    optimizer: 'adahessian' (spec), 'adam' or 'sgd'.
    lr: learning rate (spec: 0.5 AdaHessian, 10 SGD on raw encodings; our features are in [0, 1]).
    schedule: 'constant' or 'legacy_cosine' (the original's CosineAnnealingLR(T_max=2) quirk).
    max_steps: 200 (spec). tol: 1e-5 (spec). patience: 5 (spec: stop after > 5 stalled steps).
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
    if self.trust_region not in _TRUST:
      raise ConfigError(f"GOBIConfig.trust_region: {self.trust_region!r}; allowed: {list(_TRUST)}")
    if self.max_steps < 1 or self.patience < 0 or self.hessian_samples < 1:
      raise ConfigError("GOBIConfig: max_steps >= 1, patience >= 0 and hessian_samples >= 1 required")
    if not self.lr > 0 or not self.tol >= 0 or not self.trust_radius >= 0:
      raise ConfigError("GOBIConfig: lr > 0, tol >= 0 and trust_radius >= 0 required")


class GOBIResult(NamedTuple):
  x: jax.Array      # float32[K, d] best iterate of each restart (inside the box)
  value: jax.Array  # float32[K]    acquisition at x
  steps: jax.Array  # int32[K]      optimisation steps taken


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
    stall = jnp.where(jnp.abs(v - c["v"]) < config.tol, c["stall"] + 1, 0)
    better = v < c["best_v"]
    return dict(x=x, v=v, opt=opt_state, stall=stall, step=c["step"] + 1, key=key,
                best_x=jnp.where(better, x, c["best_x"]), best_v=jnp.where(better, v, c["best_v"]))

  init = dict(x=x0, v=v0, opt=opt.init(x0), stall=jnp.int32(0), step=jnp.int32(0), key=key,
              best_x=x0, best_v=v0)
  out = jax.lax.while_loop(cond, body, init)
  return out["best_x"], out["best_v"], out["step"]


@functools.partial(jax.jit, static_argnames=("config",))
def _gobi_jit(acq, key, x0, lower, upper, config):
  keys = jax.random.split(key, x0.shape[0])
  return jax.vmap(_run_one, in_axes=(None, 0, 0, None, None, None))(acq, keys, x0, lower, upper,
                                                                     config)


def gobi(key: jax.Array, acq: Callable, x0, lower, upper, config: GOBIConfig = GOBIConfig()
         ) -> GOBIResult:
  """Minimises ``acq`` from K starting points in one jitted, vmapped call.

  Args:
    key: PRNG key (Hutchinson probes).
    acq: differentiable ``f(x: float32[d]) -> scalar`` to MINIMISE; preferably a
      ``jax.tree_util.Partial`` (e.g. from ``jaxcodesign.surrogates.acquisition_fn``).
    x0: float32[K, d] starting points (known designs' features).
    lower, upper: float32[d] (or scalars) box bounds; starts are first projected into the box.
    config: :class:`GOBIConfig`.

  Returns:
    :class:`GOBIResult` ``(x float32[K, d], value float32[K], steps int32[K])``; every ``x`` lies in
    the box (and in the trust region when one is set).

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
  x, v, s = _gobi_jit(acq, key, x0, lower, upper, config)
  return GOBIResult(x, v, s)


def gobi_search(key: jax.Array, space, state_or_acq: Any, init_points: Sequence, config:
                GOBIConfig = GOBIConfig(), k_e: float = 0.5, k_a: float = 0.5,
                bounds: str = "space") -> list:
  """GOBI over a design space: features -> :func:`gobi` -> ``space.project`` -> legal designs.

  Args:
    key: PRNG key.
    space: a :class:`jaxcodesign.spaces.base.DesignSpace` (for a ``PairSpace`` the features are the
      concatenation, matching a two-tower surrogate).
    state_or_acq: a ``SurrogateState`` (the acquisition is ``acquisition_fn(state, k_e, k_a)``) or an
      acquisition callable ``f(x[d]) -> scalar`` to minimise.
    init_points: K valid design points to start from.
    config: :class:`GOBIConfig`.
    k_e, k_a: acquisition weights (used only with a ``SurrogateState``).
    bounds: 'space' (``space.feature_bounds()``) or 'data' (per-dimension min/max of the starting
      features, the original's clipping).

  Returns:
    list of K valid points (``space.project`` of each restart's optimum; may contain duplicates).

  Raises:
    ConfigError: empty ``init_points`` or unknown ``bounds``.
  """
  from jaxcodesign.surrogates import SurrogateState, acquisition_fn  # avoid import cycle
  if len(init_points) == 0:
    raise ConfigError("gobi_search: init_points must contain at least one design")
  if bounds not in ("space", "data"):
    raise ConfigError(f"gobi_search: bounds {bounds!r}; allowed: ['space', 'data']")
  acq = acquisition_fn(state_or_acq, k_e, k_a) if isinstance(state_or_acq, SurrogateState) \
      else state_or_acq
  x0 = np.asarray(space.to_features_batch(list(init_points)), np.float32)
  if bounds == "space":
    lower, upper = space.feature_bounds()
  else:
    lower, upper = x0.min(0), x0.max(0)
  res = gobi(key, acq, x0, lower, upper, config)
  xs = np.asarray(res.x)
  return [space.project(xs[i]) for i in range(xs.shape[0])]
