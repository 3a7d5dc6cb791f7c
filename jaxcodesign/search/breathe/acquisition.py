"""BREATHE acquisitions on a multi-output surrogate: constrained EHVI and hypervolume scalarisation.

All objectives are minimised and constraints are feasible when ``g <= 0``. With independent Gaussian
predictions ``Y_i ~ N(mu_i, s_i^2)`` per objective and the non-dominated region cut into disjoint
boxes ``[l_b, u_b]`` (:func:`jaxcodesign.search.pareto.nondominated_boxes`), the expected hypervolume
improvement is exact and closed-form (Emmerich et al. 2006; Yang et al. 2019 use the same product
form per cell):

  ``EHVI = sum_b prod_i E[max(0, u_bi - max(Y_i, l_bi))]
         = sum_b prod_i s_i [psi((u_bi - mu_i) / s_i) - psi((l_bi - mu_i) / s_i)]``

with ``psi(z) = z Phi(z) + phi(z)`` (the antiderivative of the normal CDF, since
``max(0, u - max(Y, l)) = integral_l^u 1{Y < t} dt``). Output constraints multiply by the
probability of feasibility ``prod_j Phi(-mu_j / s_j)`` (Gelbart, Snoek & Adams, UAI 2014); before any
feasible point exists the acquisition is the probability of feasibility alone. GOBI minimises
``-log(EHVI * PF + 1e-30)`` (log space, as qLogNEHVI: Ament et al., NeurIPS 2023, keeps gradients
alive far from the front).

The alternative ``'hvs_ucb'`` is the hypervolume scalarisation of Golovin & Zhang (2020) on the
optimistic bound ``mu - beta s``: ``s_w(y) = min_i max(0, (r_i - y_i) / w_i)^m`` with a random
direction ``w`` on the positive unit sphere (its expectation over ``w`` is proportional to the
hypervolume), smoothed with a softplus so that it has gradients outside the reference box.

Every acquisition is a ``jax.tree_util.Partial`` over arrays of fixed (bucketed) shapes, so a new
round never recompiles the jitted optimiser.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr
from jax.scipy.stats import norm

from jaxcodesign.padding import bucket_size
from jaxcodesign.search.breathe.gp import GPState, gp_posterior
from jaxcodesign.search.pareto import nondominated_boxes

__all__ = ["ehvi", "make_acquisition", "pad_boxes"]


def _psi(z):
  return z * ndtr(z) + norm.pdf(z)


def ehvi(mu, sd, lo, up):
  """Exact EHVI of one Gaussian prediction (mu, sd float32[m]) over boxes lo, up (float32[b, m]).

  Zero-volume padding boxes (``lo == up``) contribute exactly zero."""
  sd = jnp.maximum(sd, 1e-9)
  term = sd * (_psi((up - mu) / sd) - _psi((lo - mu) / sd))
  return jnp.sum(jnp.prod(jnp.maximum(term, 0.0), axis=-1))


def pad_boxes(lo: np.ndarray, up: np.ndarray, minimum: int = 64) -> tuple[np.ndarray, np.ndarray]:
  """Pads boxes to a power-of-two count with zero-volume boxes (copies of the first upper corner)."""
  b = bucket_size(lo.shape[0], minimum)
  fill = np.repeat(up[:1], b - lo.shape[0], 0)
  return (np.concatenate([lo, fill]).astype(np.float32), np.concatenate([up, fill]).astype(np.float32))


@functools.lru_cache(maxsize=None)
def _ehvi_fn(n_obj: int):
  """One function object per objective count (a Partial's function is part of its static treedef,
  so the same object every round means no recompilation)."""
  return functools.partial(_acq_ehvi, n_obj=n_obj)


@functools.lru_cache(maxsize=None)
def _hvs_fn(n_obj: int):
  return functools.partial(_acq_hvs, n_obj=n_obj)


def _acq_ehvi(gp: GPState, lo, up, has_feasible, x, *, n_obj):
  mu, sd = gp_posterior(gp, x)
  m_o, s_o = mu[:n_obj], sd[:n_obj]
  log_pf = jnp.sum(norm.logcdf(-mu[n_obj:] / jnp.maximum(sd[n_obj:], 1e-9)))
  val = jnp.log(ehvi(m_o, s_o, lo, up) + 1e-30) + log_pf
  return -jnp.where(has_feasible, val, log_pf)


def _acq_hvs(gp: GPState, ref, w, beta, has_feasible, x, *, n_obj):
  mu, sd = gp_posterior(gp, x)
  y = mu[:n_obj] - beta * sd[:n_obj]
  m = w.shape[0]
  scale = jnp.maximum(jnp.abs(ref), 1.0)  # ref is in standardised units here
  t = jax.nn.softplus((ref - y) / w / scale * 20.0) / 20.0 * scale
  log_s = m * jnp.log(jnp.min(t) + 1e-30)
  log_pf = jnp.sum(norm.logcdf(-mu[n_obj:] / jnp.maximum(sd[n_obj:], 1e-9)))
  return -jnp.where(has_feasible, log_s + log_pf, log_pf)


def make_acquisition(kind: str, gp: GPState, n_obj: int, front: np.ndarray, ref: np.ndarray,
                     has_feasible: bool, key=None, beta: float = 1.0, min_boxes: int = 64):
  """An acquisition ``f(x: float32[D]) -> scalar`` to MINIMISE, as a ``Partial``.

  Args:
    kind: 'ehvi' (constrained log-EHVI) or 'hvs_ucb' (random hypervolume scalarisation of the
      optimistic bound, Golovin & Zhang 2020).
    gp: surrogate of ``n_obj`` objectives followed by the constraints.
    front: float[k, n_obj] objective values of the feasible points (incl. pending fantasies), in the
      SAME units as ``ref`` (the original objective units).
    ref: float[n_obj] reference point.
    has_feasible: whether any evaluated point is feasible.
    key: PRNG key for the scalarisation direction ('hvs_ucb').
    beta: UCB width ('hvs_ucb').
  """
  ref = np.asarray(ref, np.float64)
  if kind == "ehvi":
    pts = np.vstack([np.asarray(front, np.float64).reshape(-1, n_obj), ref[None]])
    span = np.max(np.abs(ref - pts.min(0))) + 1.0
    lo, up = nondominated_boxes(front, ref, lower=float(pts.min() - 100.0 * span))
    lo, up = pad_boxes(lo, up, min_boxes)
    return jax.tree_util.Partial(_ehvi_fn(n_obj), gp, jnp.asarray(lo), jnp.asarray(up),
                                 jnp.bool_(has_feasible))
  w = jnp.abs(jax.random.normal(key, (n_obj,)))
  w = w / jnp.linalg.norm(w) + 1e-6
  return jax.tree_util.Partial(_hvs_fn(n_obj), gp, jnp.asarray(ref, jnp.float32), w,
                               jnp.float32(beta), jnp.bool_(has_feasible))
