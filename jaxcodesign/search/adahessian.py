"""AdaHessian as an optax transformation, plus the Hutchinson diagonal helper.

Algorithm (``../shared/specs/boshnas.md``, "Acquisition and GOBI"; Yao et al., AdaHessian, AAAI 2021):
Rademacher ``v``; Hutchinson diagonal ``D = v * (H v)``; ``m = b1 m + (1 - b1) g``;
``u = b2 u + (1 - b2) D^2``; step ``= -lr * (m / (1 - b1^t)) / ((sqrt(u) / sqrt(1 - b2^t))^k + eps)``
with ``b1 = 0.9, b2 = 0.999, k = 1, eps = 1e-4``.  The spec writes ``D = |H v|``; since only ``D^2``
enters and ``v`` is +-1, ``(v * Hv)^2 == |Hv|^2``, so both forms give the same update.

Interface: the optax update needs the Hutchinson diagonal, which needs the loss function and a PRNG key.
We keep the transformation pure and pass the diagonal as an extra argument:
``optax.GradientTransformationExtraArgs.update(grads, state, params, *, hessian_diag)``.  Compute it
with :func:`hutchinson_diag` (one ``jvp`` of ``grad``, forward-over-reverse).  For a separable
quadratic ``f = 0.5 x^T A x`` with diagonal ``A`` the estimate is exact: ``D = diag(A)``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["ScaleByAdaHessianState", "scale_by_adahessian", "adahessian", "hutchinson_diag",
           "value_grad_and_hessian_diag", "value_grad_and_probe_product", "legacy_cosine_schedule"]


class ScaleByAdaHessianState(NamedTuple):
  count: jax.Array  # int32[]
  mu: optax.Updates  # first moment of the gradient
  nu: optax.Updates  # second moment of the Hutchinson diagonal


def scale_by_adahessian(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-4,
                        hessian_power: float = 1.0) -> optax.GradientTransformationExtraArgs:
  """AdaHessian preconditioning (without the learning rate; see :func:`adahessian`).

  ``update(grads, state, params=None, *, hessian_diag)``: ``hessian_diag`` is a pytree like ``grads``
  (from :func:`hutchinson_diag`). Returns ``(m_hat / ((sqrt(u_hat))^k + eps), state)``.

  Raises:
    ValueError: when ``hessian_diag`` is not passed.
  """

  def init_fn(params):
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return ScaleByAdaHessianState(jnp.zeros([], jnp.int32), zeros,
                                  jax.tree_util.tree_map(jnp.zeros_like, params))

  def update_fn(updates, state, params=None, *, hessian_diag=None, **unused):
    del params, unused
    if hessian_diag is None:
      raise ValueError("scale_by_adahessian.update needs the keyword argument hessian_diag "
                       "(see jaxcodesign.search.adahessian.hutchinson_diag)")
    count = state.count + 1
    t = count.astype(jnp.float32)
    mu = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, updates)
    nu = jax.tree_util.tree_map(lambda u, d: b2 * u + (1 - b2) * d * d, state.nu, hessian_diag)
    bc1 = 1 - b1 ** t
    bc2 = 1 - b2 ** t

    def step(m, u):
      denom = (jnp.sqrt(u) / jnp.sqrt(bc2)) ** hessian_power + eps
      return (m / bc1) / denom

    new_updates = jax.tree_util.tree_map(step, mu, nu)
    return new_updates, ScaleByAdaHessianState(count, mu, nu)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def adahessian(learning_rate: float | optax.Schedule = 0.15, b1: float = 0.9, b2: float = 0.999,
               eps: float = 1e-4, hessian_power: float = 1.0) -> optax.GradientTransformationExtraArgs:
  """AdaHessian with a learning rate (float or optax schedule); descends (``updates = -lr * ...``).

  Use: ``D = hutchinson_diag(f, x, key)``, ``g = grad(f)(x)``,
  ``u, s = opt.update(g, s, x, hessian_diag=D)``, ``x = optax.apply_updates(x, u)``.
  """
  return optax.chain(scale_by_adahessian(b1, b2, eps, hessian_power),
                     optax.scale_by_learning_rate(learning_rate))


def hutchinson_diag(fn: Callable, params, key: jax.Array, n_samples: int = 1):
  """Hutchinson estimate of ``diag(H)`` of scalar ``fn`` at ``params``: mean over ``n_samples`` of
  ``v * (H v)``, ``v`` Rademacher, ``H v`` by ``jax.jvp`` of ``jax.grad(fn)``.

  Returns:
    a pytree like ``params``.
  """
  return value_grad_and_hessian_diag(fn, params, key, n_samples)[2]


def value_grad_and_probe_product(fn: Callable, params, v):
  """``(fn(params), grad, v * (H v))`` for ONE given probe ``v`` (a pytree like ``params``; a
  Rademacher ``v`` makes ``v * (H v)`` Hutchinson's unbiased estimate of ``diag(H)``), from one
  forward/backward pass and its ``jax.jvp``."""
  (val, g), (_, hv) = jax.jvp(jax.value_and_grad(fn), (params,), (v,))
  return val, g, jax.tree_util.tree_map(lambda a, b: a * b, v, hv)


def value_grad_and_hessian_diag(fn: Callable, params, key: jax.Array, n_samples: int = 1):
  """``(fn(params), grad, hutchinson diag)`` sharing one forward/backward pass per probe vector."""
  leaves, treedef = jax.tree_util.tree_flatten(params)

  def one(k):
    keys = jax.random.split(k, len(leaves))
    vs = [jax.random.rademacher(kk, l.shape, dtype=l.dtype) for kk, l in zip(keys, leaves)]
    return value_grad_and_probe_product(fn, params, jax.tree_util.tree_unflatten(treedef, vs))

  vals, gs, ds = jax.vmap(one)(jax.random.split(key, n_samples))
  mean0 = lambda t: jax.tree_util.tree_map(lambda a: a.mean(0), t)
  return vals[0], jax.tree_util.tree_map(lambda a: a[0], gs), mean0(ds)


def legacy_cosine_schedule(init_value: float, t_max: int = 2) -> optax.Schedule:
  """PyTorch ``CosineAnnealingLR(T_max=t_max)`` stepped every iteration, as in the original GOBI:
  ``lr_t = init * (1 + cos(pi t / t_max)) / 2`` (periodic: 0.5, 0.25, 0, 0.25, ... for init 0.5,
  t_max 2; a quirk kept only for legacy comparisons)."""
  return lambda count: init_value * 0.5 * (1.0 + jnp.cos(jnp.pi * count / t_max))
