"""Natural-parameter network (NPN) layers: moment propagation of a Gaussian through a network.

Formulas from Wang, Shi and Yeung, "Natural-Parameter Networks" (NeurIPS 2016), as used by the
original BOSHNAS aleatoric network (``../shared/specs/boshnas.md``, "Surrogates"):

* linear: ``o_m = x_m W_m + b_m``; ``o_s = x_s W_s + x_s (W_m*W_m) + (x_m*x_m) W_s + b_s``
* ReLU (``c = sqrt(8/pi)``): ``a_m = sig(c o_m/sqrt(o_s)) o_m + sqrt(o_s/(2 pi)) exp(-o_m^2/(2 o_s))``;
  ``a_s = sig(c o_m/sqrt(o_s)) (o_m^2 + o_s) + o_m sqrt(o_s/(2 pi)) exp(-o_m^2/(2 o_s)) - a_m^2``
* sigmoid (``alpha = 4 - 2 sqrt(2)``, ``beta = -ln(sqrt(2) + 1)``):
  ``a_m = sig(o_m / sqrt(1 + pi o_s / 8))``;
  ``a_s = sig(alpha (o_m + beta) / sqrt(1 + pi alpha^2 o_s / 8)) - a_m^2``

Weight and bias variances are ``softplus(raw)`` with ``raw`` initialised to -10 (spec).  All variances
are floored at ``MIN_VAR`` (1e-8) before square roots / divisions for numerical safety.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import jax.scipy.stats  # noqa: F401  (norm.cdf)

__all__ = ["MIN_VAR", "linear_moments", "relu_moments", "sigmoid_moments", "NPNDense"]

MIN_VAR = 1e-8
_C = math.sqrt(8.0 / math.pi)
_ALPHA = 4.0 - 2.0 * math.sqrt(2.0)
_BETA = -math.log(math.sqrt(2.0) + 1.0)


def linear_moments(x_m, x_s, w_m, w_s, b_m, b_s):
  """Moments of ``x W + b`` for independent Gaussian ``x`` (float[..., i]), ``W`` (float[i, o]), ``b``.

  Returns: ``(o_m, o_s)`` float[..., o].
  """
  o_m = x_m @ w_m + b_m
  o_s = x_s @ w_s + x_s @ (w_m * w_m) + (x_m * x_m) @ w_s + b_s
  return o_m, o_s


def relu_moments(o_m, o_s, exact: bool = False):
  """Moments of ``ReLU(o)`` for ``o ~ N(o_m, o_s)``.

  ``exact=False`` (spec / original): the Gaussian CDF ``Phi(t)`` approximated by ``sig(sqrt(8/pi) t)``,
  which is off in the tails (e.g. a slightly negative mean for ``o_m / sqrt(o_s) < -1.5``).
  ``exact=True``: the closed form with ``Phi`` itself (same formula otherwise).
  """
  o_s = jnp.maximum(o_s, MIN_VAR)
  sd = jnp.sqrt(o_s)
  p = jax.scipy.stats.norm.cdf(o_m / sd) if exact else jax.nn.sigmoid(_C * o_m / sd)
  g = sd / math.sqrt(2 * math.pi) * jnp.exp(-o_m * o_m / (2 * o_s))
  a_m = p * o_m + g
  a_s = p * (o_m * o_m + o_s) + o_m * g - a_m * a_m
  return a_m, jnp.maximum(a_s, MIN_VAR)


def sigmoid_moments(o_m, o_s):
  """Moments of ``sigmoid(o)`` for ``o ~ N(o_m, o_s)`` (NPN approximation)."""
  o_s = jnp.maximum(o_s, 0.0)
  a_m = jax.nn.sigmoid(o_m / jnp.sqrt(1 + math.pi * o_s / 8))
  a_s = jax.nn.sigmoid(_ALPHA * (o_m + _BETA) / jnp.sqrt(1 + math.pi * _ALPHA ** 2 * o_s / 8)) - a_m ** 2
  return a_m, jnp.maximum(a_s, MIN_VAR)


class NPNDense(nn.Module):
  """NPN linear layer: Gaussian weights with means ``W_m`` (LeCun normal init) and variances
  ``softplus(raw)`` (raw initialised to ``raw_init`` = -10, spec).  Call with ``(x_m, x_s)`` float[B, i];
  returns ``(o_m, o_s)`` float[B, features]."""
  features: int
  raw_init: float = -10.0

  @nn.compact
  def __call__(self, x_m, x_s):
    i = x_m.shape[-1]
    w_m = self.param("w_m", nn.initializers.lecun_normal(), (i, self.features))
    b_m = self.param("b_m", nn.initializers.zeros, (self.features,))
    const = lambda v: (lambda key, shape: jnp.full(shape, v, jnp.float32))
    w_raw = self.param("w_s_raw", const(self.raw_init), (i, self.features))
    b_raw = self.param("b_s_raw", const(self.raw_init), (self.features,))
    return linear_moments(x_m, x_s, w_m, jax.nn.softplus(w_raw), b_m, jax.nn.softplus(b_raw))
