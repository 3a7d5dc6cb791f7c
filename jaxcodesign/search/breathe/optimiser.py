"""GOBI with legality forcing at every step (the BREATHE inner optimiser).

:func:`jaxcodesign.search.gobi.gobi` projects onto the feature box after every step and leaves the
legality projection to the end; BREATHE needs ``x <- x + (LF(x + dx) - x)`` at EVERY step, so this
adapter runs the same second-order update (AdaHessian from :mod:`jaxcodesign.search.adahessian`:
``value_grad_and_probe_product`` for the Hutchinson diagonal and the ``adahessian`` optax
transformation) with :func:`~jaxcodesign.search.breathe.legality.legality_force` in place of the box
projection. K restarts are vmapped inside ONE jitted ``lax.scan`` of ``max_steps`` steps; a restart
whose value changed by less than ``tol`` for more than ``patience`` steps is frozen (GOBI's stopping
rule). The returned point of each restart is its best iterate (all iterates are legal, so it is too).

The Rademacher probes of the Hutchinson diagonal are drawn on the host, in NumPy, from the key
(:func:`host_rng`), and enter the jitted scan as an array ``float32[K, T, D]``: threefry inside the
scan body cost about 1.3 s of its XLA compilation on one CPU core, a tenth of a cold
100-evaluation run.
"""

from __future__ import annotations

import collections
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcodesign.search.adahessian import adahessian, value_grad_and_probe_product
from jaxcodesign.search.breathe.legality import legality_force

__all__ = ["LFResult", "lf_gobi", "host_rng", "TRACE_COUNTS"]

#: traces of the jitted optimiser (test diagnostics: no recompiles across rounds).
TRACE_COUNTS: collections.Counter = collections.Counter()


class LFResult(NamedTuple):
  x: jax.Array        # float32[K, D] best legal iterate per restart
  value: jax.Array    # float32[K] acquisition there
  iterates: jax.Array | None  # float32[T, K, D] every iterate (record=True) else None


_STATIC = ("n_groups", "patience", "record")


def host_rng(key) -> np.random.Generator:
  """A NumPy ``Generator`` seeded from a typed JAX PRNG key's data (or ``key`` itself when it is a
  Generator already): BREATHE's host-side draws (candidates, probes) stay reproducible from the
  key without compiling threefry on the device."""
  if isinstance(key, np.random.Generator):
    return key
  return np.random.default_rng(np.asarray(jax.random.key_data(key), np.uint32).ravel().tolist())


def _lf_gobi_impl(acq, probes, x0, levels, group, lr, tol, n_groups: int, patience: int,
                 record: bool):
  TRACE_COUNTS["lf_gobi"] += 1
  opt = adahessian(lr)
  lf = lambda x: legality_force(x, levels, group, n_groups)

  def run(pr, x_start):
    x = lf(x_start)

    def step(c, probe):
      # c: current legal iterate x, its predecessor's value, optimiser state, stall count, best
      x, v_prev, s, stall, bx, bv = c
      v, g, hd = value_grad_and_probe_product(acq, x, probe)
      v = jnp.where(jnp.isfinite(v), v, jnp.inf)
      better = v < bv
      bx, bv = jnp.where(better, x, bx), jnp.where(better, v, bv)
      stall = jnp.where(jnp.abs(v - v_prev) < tol, stall + 1, 0)
      g = jnp.where(jnp.isfinite(g), g, 0.0)
      hd = jnp.where(jnp.isfinite(hd), hd, 0.0)
      upd, s2 = opt.update(g, s, x, hessian_diag=hd)
      active = stall <= patience
      x2 = jnp.where(active, lf(optax.apply_updates(x, upd)), x)  # x <- x + (LF(x + dx) - x)
      return (x2, v, s2, stall, bx, bv), (x2 if record else None)

    init = (x, jnp.float32(jnp.inf), opt.init(x), jnp.int32(0), x, jnp.float32(jnp.inf))
    (xl, _, _, _, bx, bv), its = jax.lax.scan(step, init, pr)
    vl = acq(xl)  # the last iterate was not yet evaluated
    better = vl < bv
    return jnp.where(better, xl, bx), jnp.where(better, vl, bv), its

  bx, bv, its = jax.vmap(run)(probes, x0)
  if record:
    its = jnp.swapaxes(its, 0, 1)
  return bx, bv, its


_lf_gobi_jit = jax.jit(_lf_gobi_impl, static_argnames=_STATIC)


def lf_gobi(key, acq, x0, arrays: dict, lr: float = 0.05, max_steps: int = 40, tol: float = 1e-5,
            patience: int = 5, record: bool = False) -> LFResult:
  """Minimises ``acq`` from K starts with AdaHessian and legality forcing at every step.

  Args:
    key: typed PRNG key or ``numpy.random.Generator`` (the Hutchinson probes, drawn in NumPy by
      :func:`host_rng`).
    acq: ``jax.tree_util.Partial`` ``f(x: float32[D]) -> scalar`` (minimised).
    x0: float32[K, D] starting features (forced legal first).
    arrays: :meth:`VectorEncoding.arrays` (``levels``, ``group``, ``n_groups``).
    lr: AdaHessian learning rate (features in [0, 1]); max_steps, tol, patience: GOBI's rule.
    record: also return every iterate float32[max_steps, K, D] (tests).

  Returns:
    :class:`LFResult`.
  """
  if not isinstance(acq, jax.tree_util.Partial):
    acq = jax.tree_util.Partial(acq)
  x0 = jnp.asarray(x0, jnp.float32)
  probes = host_rng(key).integers(0, 2, (x0.shape[0], int(max_steps), x0.shape[1]))
  probes = jnp.asarray(2.0 * probes - 1.0, jnp.float32)  # Rademacher +-1
  bx, bv, its = _lf_gobi_jit(acq, probes, x0, jnp.asarray(arrays["levels"]),
                             jnp.asarray(arrays["group"]), jnp.float32(lr), jnp.float32(tol),
                             int(arrays["n_groups"]), int(patience), bool(record))
  return LFResult(bx, bv, its)
