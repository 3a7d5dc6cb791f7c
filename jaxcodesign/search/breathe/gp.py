"""Exact multi-output Gaussian-process surrogate in JAX (one independent GP per output, vmapped).

BREATHE's default surrogate for vector spaces. Why a GP and not the teacher/student/NPN ensemble of
:mod:`jaxcodesign.surrogates`: at the 20-100 evaluations of a multi-objective benchmark an exact GP is
both more accurate and ~50x cheaper to refit per round on two CPU cores (``benchmarks/moo.py``
``--surrogate=npn`` measures the ensemble alternative, used through :mod:`.npn_adapter`).

Model (the "vanilla BO" recipe of Hvarfner, Hellsten & Nardi, ICML 2024, BoTorch's default since
v0.12): inputs in [0, 1]^D; each output standardised; Matern-5/2 ARD kernel with unit signal
variance; log-normal prior on the lengthscales ``log l ~ N(sqrt(2) + log(D) / 2, sqrt(3))``; Gaussian
noise variance with a log-normal prior ``log s2 ~ N(-9, 2)`` plus a floor of 1e-6 (standardised
units). BoTorch's floor is 1e-4 (``MIN_INFERRED_NOISE_LEVEL``), but its qLogNEHVI measures a
candidate's improvement against posterior samples of the evaluated front, which are correlated with
the candidate, so the noise at the floor largely cancels. Our EHVI measures it against the OBSERVED
front, and a floor of 1e-4 leaves a posterior sd of 1 % of the output's spread at every evaluated
point: on Branin-Currin (f1 spread 42) that is 0.14 in f1 where neighbouring front points differ by
0.01, so the EHVI kept predicting improvements next to the front's end and 16 of 94 proposals of a
run gained no hypervolume. With 1e-6: log10 HV gap at 100 evaluations (``benchmarks.moo``, 5 seeds)
BraninCurrin -0.22 -> -0.38, ZDT1 -1.32 -> -1.86, DTLZ2 -1.73 -> -1.75, VehicleSafety 0.16 -> 0.09,
same CPU time (``docs/breathe.md``). A floor of 1e-5 lay in between and lost one DTLZ2 seed.
If the float32 Cholesky factor of the final kernel matrix is not finite, it is recomputed with
``_FALLBACK_JITTER`` (1e-4, the old floor) on the diagonal. Hyperparameters are MAP estimates by Adam on the negative log posterior
(Rasmussen & Williams 2006, eq. 2.30), warm-started from the previous round.

Padding: the data live in fixed ``[N, D]`` buffers with a row mask. Masked rows get an identity
kernel block and zero targets, so they add nothing to the likelihood (log det 0, quadratic form 0)
and the posterior ignores them; ``N`` is a power of two (:func:`jaxcodesign.padding.bucket_size`), so
a growing dataset recompiles only when it crosses a bucket.

Precision: everything is float32 (JAX's default). The posterior variance is computed as
``1 - |L^-1 k_*|^2`` with the inverse Cholesky factor ``L^-1`` (a sum of squares), never as
``1 - k_*^T K^-1 k_*`` with an explicit ``K^-1``: near a cluster of evaluated points the kernel matrix
has a condition number of 1e5-1e7, and the explicit form then cancels catastrophically in float32.
Measured on VehicleSafety (seed 0, 45-95 evaluations): the explicit form returned posterior standard
deviations of 0.4-0.8 (objective units) at points whose mean was right to 0.001, so the EHVI
predicted improvements of 3-9 where the realised improvement was 0, and the search stalled.
"""

from __future__ import annotations

import collections
import functools
import math
from typing import NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcodesign.errors import ConfigError
from jaxcodesign.padding import bucket_size

__all__ = ["GPParams", "GPState", "better_fit", "fit_gp", "gp_posterior", "gp_predict",
           "TRACE_COUNTS"]

#: traces of the jitted fit (test diagnostics: no recompiles within a bucket).
TRACE_COUNTS: collections.Counter = collections.Counter()

_NOISE_FLOOR = 1e-6
_FALLBACK_JITTER = 1e-4
_JITTER = 1e-6


class GPParams(NamedTuple):
  log_ls: jax.Array     # float32[M, D] log lengthscales
  log_noise: jax.Array  # float32[M]    log noise variance (standardised units^2)


@flax.struct.dataclass
class GPState:
  """Fitted posterior of M independent GPs (a pytree: passes into jitted acquisitions).

  Attributes:
    x: float32[N, D] padded inputs; mask: float32[N] (1 = data row).
    linv: float32[M, N, N] inverse lower Cholesky factors ``L^-1`` of the masked kernel matrices
      (``K = L L^T``; matrix products keep the differentiated acquisition cheap to compile, and the
      variance ``1 - |L^-1 k|^2`` is a sum of squares, stable in float32).
    alpha: float32[M, N] ``K^-1 y`` (standardised).
    params: :class:`GPParams`.
    y_mean, y_std: float32[M] output standardisation.
    nlp: float32[M] negative log posterior of the fitted hyperparameters, per data row, from the
      factorisation the posterior uses (fallback jitter included).
  """
  x: jax.Array
  mask: jax.Array
  linv: jax.Array
  alpha: jax.Array
  params: GPParams
  y_mean: jax.Array
  y_std: jax.Array
  nlp: jax.Array


def _matern52(a, b, log_ls):
  """float32[n, k] Matern-5/2 kernel (unit variance) between a[n, D] and b[k, D]."""
  ls = jnp.exp(log_ls)
  d2 = jnp.sum(((a[:, None, :] - b[None, :, :]) / ls) ** 2, -1)
  r = jnp.sqrt(d2 + 1e-12)
  s5 = math.sqrt(5.0) * r
  return (1.0 + s5 + 5.0 / 3.0 * d2) * jnp.exp(-s5)


def _kmat(x, mask, log_ls, log_noise):
  k = _matern52(x, x, log_ls)
  mm = mask[:, None] * mask[None, :]
  noise = jnp.exp(log_noise) + _NOISE_FLOOR + _JITTER
  return k * mm + jnp.diag(mask * noise + (1.0 - mask))


def _neg_log_post_factored(p, chol, alpha, mask, y, prior_mu):
  """:func:`_neg_log_post` from the kernel matrix's Cholesky factor and ``alpha = K^-1 y``."""
  log_ls, log_noise = p
  nll = 0.5 * jnp.dot(y, alpha) + jnp.sum(jnp.log(jnp.diag(chol)))
  prior_ls = 0.5 * jnp.sum(((log_ls - prior_mu) / math.sqrt(3.0)) ** 2)
  prior_noise = 0.5 * ((log_noise + 9.0) / 2.0) ** 2
  return (nll + prior_ls + prior_noise) / jnp.maximum(jnp.sum(mask), 1.0)


def _neg_log_post(p, x, mask, y, prior_mu):
  """Negative log marginal likelihood + log priors of ONE output (standardised y), per data row."""
  chol = jnp.linalg.cholesky(_kmat(x, mask, p[0], p[1]))
  alpha = jax.scipy.linalg.cho_solve((chol, True), y)
  return _neg_log_post_factored(p, chol, alpha, mask, y, prior_mu)


@jax.jit
def _fit_jit(x, mask, y, init: GPParams, steps, lr):
  """The vmapped fit; ``steps`` (int32) is traced, so the cold and the warm-started fits of a
  run share one compiled program (0.6 s of XLA compilation each on one core)."""
  TRACE_COUNTS["fit"] += 1
  d = x.shape[1]
  prior_mu = math.sqrt(2.0) + 0.5 * math.log(d)
  opt = optax.adam(lr)

  def one(y1, p0):
    loss = lambda p: _neg_log_post(p, x, mask, y1, prior_mu)

    def step(_, carry):
      p, s = carry
      g = jax.grad(loss)(p)
      g = jax.tree_util.tree_map(lambda a: jnp.where(jnp.isfinite(a), a, 0.0), g)
      u, s = opt.update(g, s, p)
      p = optax.apply_updates(p, u)
      p = (jnp.clip(p[0], -4.0, 4.0), jnp.clip(p[1], -14.0, 0.0))
      return p, s

    p, _ = jax.lax.fori_loop(0, steps, step, (p0, opt.init(p0)))
    kk = _kmat(x, mask, p[0], p[1])
    # float32 may fail to factorise a nearly singular matrix (clustered points): then refactorise
    # with the fallback jitter. The second factorisation depends on the first (not a select of
    # two independent ones: XLA's CPU runtime deadlocked on that with one intra-op thread).
    bad = jnp.logical_not(jnp.all(jnp.isfinite(jnp.linalg.cholesky(kk))))
    chol = jnp.linalg.cholesky(kk + jnp.where(bad, _FALLBACK_JITTER, 0.0) * jnp.diag(mask))
    alpha = jax.scipy.linalg.cho_solve((chol, True), y1)
    linv = jax.scipy.linalg.solve_triangular(chol, jnp.eye(x.shape[0], dtype=x.dtype), lower=True)
    return p, linv, alpha, _neg_log_post_factored(p, chol, alpha, mask, y1, prior_mu)

  (log_ls, log_noise), linv, alpha, nlp = jax.vmap(one)(y, (init.log_ls, init.log_noise))
  return GPParams(log_ls, log_noise), linv, alpha, nlp


def one_blas_thread(fn):
  """Decorator: ``fn`` runs with one thread for the BLAS/LAPACK libraries loaded in this process.

  jaxlib's CPU Cholesky and triangular solves call scipy's LAPACK (OpenBLAS). The GP fit issues
  thousands of small (<= 256 x 256) factorisations per round, and between them OpenBLAS's idle
  worker threads spin: measured on 2 cores, ``launch.breathe --problem=branin_currin --budget=50``
  cold took 18.6 CPU s with the default threads and 10.7 CPU s with one, with identical
  evaluations. BREATHE's proposal steps are decorated; user objective functions are not. The
  caller's limits are restored on return. ``threadpoolctl`` only limits libraries already loaded,
  hence the scipy.linalg import.
  """

  @functools.wraps(fn)
  def wrapped(*args, **kwargs):
    import scipy.linalg  # noqa: F401  (loads the OpenBLAS that jaxlib's LAPACK kernels call)
    import threadpoolctl
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
      return fn(*args, **kwargs)

  return wrapped


def default_params(m: int, d: int) -> GPParams:
  """Prior-mode hyperparameters float32[m, d] / float32[m] (the cold start)."""
  mu = math.sqrt(2.0) + 0.5 * math.log(d)
  return GPParams(jnp.full((m, d), mu, jnp.float32), jnp.full((m,), -9.0, jnp.float32))


def fit_gp(x, y, init: GPParams | None = None, steps: int = 60, lr: float = 0.1,
           min_bucket: int = 16) -> GPState:
  """Fits M independent GPs to ``y`` (float[n, M]) at ``x`` (float[n, D], features in [0, 1]).

  Args:
    x: float[n, D] inputs (normalised features); y: float[n, M] outputs (any units; standardised
      per column here; NaN not allowed).
    init: hyperparameters to warm-start from (default: the prior mode).
    steps: Adam steps on the log posterior; lr: Adam learning rate.
    min_bucket: smallest padded row count.

  Returns:
    :class:`GPState`.

  Raises:
    ConfigError: shapes or non-finite data.
  """
  x = np.asarray(x, np.float32)
  y = np.asarray(y, np.float64)
  if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 1:
    raise ConfigError(f"fit_gp: need x[n, D] and y[n, M] with n >= 1, got {x.shape} and {y.shape}")
  if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
    raise ConfigError("fit_gp: x and y must be finite")
  n, d = x.shape
  m = y.shape[1]
  mean = y.mean(0)
  std = y.std(0)
  std = np.where(std > 1e-12, std, 1.0)
  yn = ((y - mean) / std).astype(np.float32)
  size = bucket_size(n, min_bucket)
  xp = np.zeros((size, d), np.float32)
  xp[:n] = x
  mask = np.zeros(size, np.float32)
  mask[:n] = 1.0
  yp = np.zeros((m, size), np.float32)
  yp[:, :n] = yn.T
  init = default_params(m, d) if init is None else init
  params, linv, alpha, nlp = _fit_jit(jnp.asarray(xp), jnp.asarray(mask), jnp.asarray(yp), init,
                                      jnp.int32(steps), jnp.float32(lr))
  return GPState(jnp.asarray(xp), jnp.asarray(mask), linv, alpha, params,
                 jnp.asarray(mean, jnp.float32), jnp.asarray(std, jnp.float32), nlp)


def better_fit(a: GPState, b: GPState) -> GPState:
  """Per output, the fit of ``a`` or ``b`` (same data, two starts) with the lower negative log
  posterior ``nlp``; used to let a cold refit replace a warm-started fit stuck in a worse mode."""
  na, nb = jnp.asarray(a.nlp), jnp.asarray(b.nlp)
  pick = (nb < na) | (~jnp.isfinite(na) & jnp.isfinite(nb))  # [M]
  sel = lambda u, v: jnp.where(pick.reshape((-1,) + (1,) * (u.ndim - 1)), v, u)
  return a.replace(linv=sel(a.linv, b.linv), alpha=sel(a.alpha, b.alpha), nlp=sel(a.nlp, b.nlp),
                   params=GPParams(sel(a.params.log_ls, b.params.log_ls),
                                   sel(a.params.log_noise, b.params.log_noise)))


def gp_posterior(state: GPState, x):
  """(mean float32[M], std float32[M]) at one input ``x`` (float32[D]), in the outputs' units.

  Differentiable in ``x`` (used inside jitted acquisitions; vmap for batches)."""

  def one(log_ls, linv, alpha):
    ks = _matern52(x[None], state.x, log_ls)[0] * state.mask
    mu = jnp.dot(ks, alpha)
    v = linv @ ks
    var = jnp.maximum(1.0 - jnp.dot(v, v), 1e-10)
    return mu, jnp.sqrt(var)

  mu, sd = jax.vmap(one)(state.params.log_ls, state.linv, state.alpha)
  return mu * state.y_std + state.y_mean, sd * state.y_std


@jax.jit
def gp_predict(state: GPState, x):
  """(mean float32[n, M], std float32[n, M]) at ``x`` (float32[n, D])."""
  return jax.vmap(lambda xi: gp_posterior(state, xi))(jnp.asarray(x, jnp.float32))
