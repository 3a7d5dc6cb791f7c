"""V-BREATHE: constrained multi-objective search over mixed vector spaces.

One round (Tuli, Sheu & Jha, BREATHE, arXiv:2308.08666, 2023, Algorithm 1, with the departures
listed in ``docs/breathe.md``):

1. fit one surrogate per objective and per output constraint (:mod:`.gp`, warm-started);
2. build the acquisition on the current feasible Pareto front (:mod:`.acquisition`: constrained
   log-EHVI, or UCB on a random hypervolume scalarisation);
3. screen ``raw_samples`` legal candidates (uniform, plus Gaussian perturbations of the Pareto set)
   with one vmapped call, start ``restarts`` GOBI runs from the best ones and run AdaHessian with
   legality forcing at every step (:mod:`.optimiser`);
4. take the best legal, not yet evaluated point; for a batch ``q > 1`` add its predicted objectives to
   the front as a pending point (a "Kriging believer" on the front) and repeat 2-4.

Shapes are bucketed (dataset rows, boxes, candidates) so rounds reuse compiled programs. The round's
randomness is ``fold_in(key(seed), n_evaluated)``, so a resumed run continues identically.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import ndtr
from scipy.stats import qmc

from jaxcodesign.errors import ConfigError
from jaxcodesign.padding import bucket_size
from jaxcodesign.search.breathe.acquisition import make_acquisition
from jaxcodesign.search.breathe.gp import (GPParams, better_fit, fit_gp, gp_predict,
                                           one_blas_thread)
from jaxcodesign.search.breathe.legality import VectorEncoding, legality_force
from jaxcodesign.search.breathe.optimiser import host_rng, lf_gobi
from jaxcodesign.search.pareto import feasible_mask, pareto_mask

__all__ = ["BreatheConfig", "initial_design", "propose", "Breathe"]

_ACQ = ("ehvi", "hvs_ucb")


@dataclasses.dataclass(frozen=True)
class BreatheConfig:
  """V-BREATHE settings.

  Attributes:
    acquisition: 'ehvi' (constrained log-EHVI) or 'hvs_ucb' (hypervolume-scalarised UCB).
    q: points proposed per round (batch).
    n_init: initial scrambled-Sobol points (None: ``2 (V + 1)`` as BoTorch's tutorials, at most a
      third of the budget, at least 2).
    raw_samples: screened candidates per round; restarts: GOBI starts (the best screened ones).
    gobi_steps, lr, tol, patience: AdaHessian-with-LF settings (features in [0, 1]).
    gp_steps_cold, gp_steps_warm: Adam steps of the GP hyperparameter fit (first / later rounds;
      later rounds start from the previous round's hyperparameters, so 10 steps suffice: measured
      against 100 on the four ``benchmarks.moo`` problems, 5 seeds, equal log10 HV gap at 100
      evaluations within seed noise at 0.6x the CPU time, ``docs/breathe.md``).
    gp_refit_every: every this many evaluations (0: never) the warm-started fit is compared with
      a cold fit from the prior mode (``gp_steps_cold`` steps) and, per output, the one with the
      lower negative log posterior is kept. A warm start can stay in a worse mode: DTLZ2 seed 2
      gave objective 1 lengthscales of 40-55 in four of its five relevant inputs from 30
      evaluations on, at a worse posterior than a cold fit, and the search stalled at HV 0.21 of
      0.42 (``docs/breathe.md``).
    beta: UCB width for 'hvs_ucb'.
    local_fraction: share of the screened candidates drawn around the Pareto set (sd local_sd).
  """
  acquisition: str = "ehvi"
  q: int = 1
  n_init: int | None = None
  raw_samples: int = 512
  restarts: int = 12
  gobi_steps: int = 60
  lr: float = 0.05
  tol: float = 1e-5
  patience: int = 5
  gp_steps_cold: int = 100
  gp_steps_warm: int = 10
  gp_refit_every: int = 20
  beta: float = 1.0
  local_fraction: float = 0.5
  local_sd: float = 0.05

  def __post_init__(self):
    if self.acquisition not in _ACQ:
      raise ConfigError(f"invalid value for field 'acquisition': {self.acquisition!r}; allowed: "
                        f"{list(_ACQ)}")
    if self.q < 1 or self.raw_samples < 1 or self.restarts < 1 or self.gobi_steps < 1:
      raise ConfigError("BreatheConfig: q, raw_samples, restarts and gobi_steps must be >= 1")
    if self.n_init is not None and self.n_init < 1:
      raise ConfigError(f"invalid value for field 'n_init': {self.n_init}; allowed: >= 1")
    if self.gp_refit_every < 0:
      raise ConfigError(f"invalid value for field 'gp_refit_every': {self.gp_refit_every}; "
                        "allowed: >= 0 (0 = never)")
    if not 0.0 <= self.local_fraction <= 1.0:
      raise ConfigError("BreatheConfig.local_fraction must be in [0, 1]")


def default_n_init(enc: VectorEncoding, budget: int) -> int:
  return int(max(2, min(2 * (enc.num_variables + 1), budget // 3)))


def initial_design(seed: int, enc: VectorEncoding, n: int) -> np.ndarray:
  """float32[n', D] distinct legal features: the first n distinct points of a scrambled Sobol
  sequence (seeded) forced legal, in sequence order. Forcing merges Sobol points of a space with few
  integer or categorical levels; they are skipped (up to 16 n draws), so ``n' < n`` only when the
  space holds fewer than n legal points (or they were not reached)."""
  import warnings
  with warnings.catch_warnings():  # "balance properties ... power of 2": fine for a start design
    warnings.simplefilter("ignore", UserWarning)
    sobol = qmc.Sobol(d=enc.feature_dim, scramble=True, seed=int(seed))
    out: list[np.ndarray] = []
    seen: set[bytes] = set()
    for _ in range(16):
      for v in sobol.random(n):
        f = enc.force_numpy(v).astype(np.float32)
        if f.tobytes() not in seen and len(out) < n:
          seen.add(f.tobytes())
          out.append(f)
      if len(out) >= n:
        break
  return np.stack(out)


@jax.jit
def _screen(acq, cands):
  return jax.vmap(acq)(cands)


@functools.partial(jax.jit, static_argnames=("n_groups",))
def _force_batch_jit(c, levels, group, n_groups):
  """legality_force over a batch float32[n, D]."""
  return jax.vmap(lambda v: legality_force(v, levels, group, n_groups))(c)


def _candidates(rng: np.random.Generator, enc: VectorEncoding, pareto_x: np.ndarray,
                config: BreatheConfig) -> jax.Array:
  """``config.raw_samples`` legal candidates float32[n, D]: uniform ones, and (when a Pareto set
  exists) a ``local_fraction`` share of Gaussian perturbations (sd ``local_sd`` and 4 ``local_sd``,
  alternating) of Pareto-set points. Drawn in NumPy (``rng``), then forced legal by one jitted
  program per run (the batch shape is fixed)."""
  arr = enc.arrays()
  n, d, k = int(config.raw_samples), enc.feature_dim, pareto_x.shape[0]
  c = rng.random((n, d))
  if k:
    idx = rng.integers(0, k, n)
    scale = np.where(np.arange(n) % 2 == 0, config.local_sd, 4 * config.local_sd)
    loc = pareto_x[idx] + rng.standard_normal((n, d)) * scale[:, None]
    use_local = np.arange(n) >= np.round(n * (1 - config.local_fraction))
    c = np.where(use_local[:, None], loc, c)
  return _force_batch_jit(jnp.asarray(c, jnp.float32), jnp.asarray(arr["levels"]),
                          jnp.asarray(arr["group"]), int(arr["n_groups"]))


def _is_new(f: np.ndarray, seen: np.ndarray) -> bool:
  return seen.shape[0] == 0 or float(np.min(np.max(np.abs(seen - f[None]), axis=1))) > 1e-6


def _unseen_point(rng: np.random.Generator, enc: VectorEncoding, seen: np.ndarray,
                  config: BreatheConfig, max_enumerate: int = 1 << 16) -> np.ndarray | None:
  """A legal point not in ``seen``: the first new one of up to 8 batches of uniform candidates, then
  (a finite space of at most ``max_enumerate`` points) the first new point of the enumerated grid;
  None when there is none."""
  for _ in range(8):
    cands = np.asarray(_candidates(rng, enc, seen[:0], config))
    for c in cands:
      if _is_new(c, seen):
        return c
  n = enc.num_points
  if n is None or n > max_enumerate or enc.space is not None:
    return None
  import itertools
  # a finite space: every variable takes the integers lower..upper (categorical: choice indices
  # 0..k-1; a fixed continuous one: its only value, encoded as 0 whatever is passed)
  values = [range(int(round(lo)), int(round(hi)) + 1) for lo, hi in zip(enc.lower, enc.upper)]
  for combo in itertools.product(*values):
    f = enc.encode(combo)
    if _is_new(f, seen):
      return f
  return None


@one_blas_thread
def propose(key, enc: VectorEncoding, x: np.ndarray, objectives: np.ndarray,
            constraints: np.ndarray, ref_point: Sequence[float], config: BreatheConfig,
            gp_init: GPParams | None = None, rows: int = 16) -> tuple[np.ndarray, GPParams, dict]:
  """One V-BREATHE round: ``config.q`` new legal features from the data so far.

  Args:
    key: the round's typed PRNG key, or a ``numpy.random.Generator`` (the round's draws are made
      in NumPy, :func:`~jaxcodesign.search.breathe.optimiser.host_rng`).
    enc: the space's :class:`VectorEncoding`.
    x: float32[n, D] legal features evaluated so far; objectives: float[n, m] (minimised);
      constraints: float[n, k] (feasible when all <= 0; k may be 0).
    ref_point: float[m] hypervolume reference point.
    gp_init: hyperparameters of the previous round (warm start) or None (cold start).
    rows: smallest padded dataset size (the driver passes the budget's bucket, so that one run
      compiles the surrogate and the optimiser once).

  Returns:
    (features float32[q, D], the fitted GP hyperparameters, info dict with timings).

  Runs with one BLAS thread (:func:`jaxcodesign.search.breathe.gp.one_blas_thread`).
  """
  t0 = time.process_time()
  x = np.asarray(x, np.float32)
  f = np.asarray(objectives, np.float64)
  g = np.asarray(constraints, np.float64).reshape(f.shape[0], -1)
  m = f.shape[1]
  y = np.concatenate([f, g], 1)
  warm = gp_init is not None and gp_init.log_ls.shape == (y.shape[1], x.shape[1])
  gp = fit_gp(x, y, init=gp_init if warm else None,
              steps=config.gp_steps_warm if warm else config.gp_steps_cold, min_bucket=rows)
  if warm and config.gp_refit_every and x.shape[0] % config.gp_refit_every < config.q:
    gp = better_fit(gp, fit_gp(x, y, steps=config.gp_steps_cold, min_bucket=rows))
  t_fit = time.process_time() - t0
  feas = feasible_mask(g, f.shape[0])
  front = f[feas]
  pmask = pareto_mask(front) if front.shape[0] else np.zeros(0, bool)
  pareto_x = x[feas][pmask] if front.shape[0] else np.zeros((0, x.shape[1]), np.float32)
  front = front[pmask] if front.shape[0] else np.zeros((0, m))
  arr = enc.arrays()
  rng_c, rng_g, rng_a = (np.random.default_rng(r) for r in host_rng(key).integers(0, 2 ** 63, 3))
  cands = _candidates(rng_c, enc, pareto_x, config)
  seen = x.copy()
  out = []
  for j in range(config.q):
    akey = (jax.random.key(int(rng_a.integers(0, 2 ** 31))) if config.acquisition == "hvs_ucb"
            else None)  # only the scalarisation draws a direction
    acq = make_acquisition(config.acquisition, gp, m, front, np.asarray(ref_point),
                           bool(feas.any()), key=akey, beta=config.beta, min_boxes=128)
    vals = np.asarray(_screen(acq, cands))
    vals = np.where(np.isfinite(vals), vals, np.inf)
    order = np.argsort(vals, kind="stable")
    starts = np.asarray(cands)[order[: config.restarts]]
    if starts.shape[0] < config.restarts:
      starts = np.concatenate([starts, np.repeat(starts[-1:], config.restarts - starts.shape[0], 0)])
    res = lf_gobi(rng_g, acq, starts, arr, lr=config.lr,
                  max_steps=config.gobi_steps, tol=config.tol, patience=config.patience)
    pool_x = np.concatenate([np.asarray(res.x), np.asarray(cands)[order]])
    pool_v = np.concatenate([np.asarray(res.value), vals[order]])
    pick = None
    for i in np.argsort(pool_v, kind="stable"):
      if _is_new(pool_x[i], seen):
        pick = pool_x[i]
        break
    if pick is None:  # every candidate already evaluated (small discrete space)
      pick = _unseen_point(rng_c, enc, seen, config)
    if pick is None:  # a finite space with every point evaluated or pending
      break
    out.append(pick)
    seen = np.vstack([seen, pick[None]])
    if config.q > 1:  # pending point: its predicted objectives join the front when likely feasible
      mu, sd = (np.asarray(a, np.float64) for a in gp_predict(gp, pick[None]))
      pf = np.prod(ndtr(-mu[0, m:] / np.maximum(sd[0, m:], 1e-9))) if y.shape[1] > m else 1.0
      if pf >= 0.5:
        front = np.vstack([front, mu[:, :m]])
        front = front[pareto_mask(front)]
  info = dict(fit_cpu_s=t_fit, propose_cpu_s=time.process_time() - t0, n_front=int(front.shape[0]))
  feats = np.stack(out) if out else np.zeros((0, x.shape[1]))
  return feats.astype(np.float32), gp.params, info


class Breathe:
  """Ask/tell driver of V-BREATHE over a :class:`VectorEncoding` (used by ``launch.breathe``).

  State is the evaluation history (features, objectives, constraints) plus the GP hyperparameters
  of the last round; :meth:`state_dict` / :meth:`from_state_dict` make it JSON-able for
  checkpoint/resume (a resumed driver proposes exactly what the uninterrupted one would).

  Args:
    enc: the space's encoding; ref_point: float[m]; budget: total evaluations; seed: int.
    config: :class:`BreatheConfig`.
  """

  def __init__(self, enc: VectorEncoding, ref_point: Sequence[float], budget: int, seed: int,
               config: BreatheConfig = BreatheConfig()):
    if budget < 1:
      raise ConfigError(f"invalid value for field 'budget': {budget}; allowed: >= 1")
    self.enc, self.ref = enc, np.asarray(ref_point, np.float64)
    self.budget, self.seed, self.config = int(budget), int(seed), config
    self.n_init = min(self.budget, config.n_init or default_n_init(enc, self.budget))
    self.init_x = initial_design(self.seed, enc, self.n_init)
    self.n_init = int(self.init_x.shape[0])
    self.num_points = enc.num_points  # None: infinite (a continuous variable)
    self.x: list[np.ndarray] = []
    self.f: list[np.ndarray] = []
    self.g: list[np.ndarray] = []
    self.gp_params: GPParams | None = None
    self.last_info: dict = {}

  @property
  def n(self) -> int:
    return len(self.x)

  @property
  def exhausted(self) -> bool:
    """True when every legal point of a finite space has been evaluated."""
    return self.num_points is not None and self.n >= self.num_points

  def ask(self) -> np.ndarray:
    """float32[q', D] the next features to evaluate (q' <= q, never past the budget, never an
    evaluated point while unevaluated ones exist; empty at the budget or when :attr:`exhausted`)."""
    if self.n >= self.budget or self.exhausted:
      return np.zeros((0, self.enc.feature_dim), np.float32)
    if self.n < self.n_init:
      return self.init_x[self.n: self.n_init][: self.config.q if self.n else self.n_init]
    rng = np.random.default_rng([self.seed, self.n])  # the round's stream: (seed, evaluations)
    feats, self.gp_params, self.last_info = propose(
        rng, self.enc, np.stack(self.x), np.stack(self.f), np.stack(self.g), self.ref, self.config,
        self.gp_params, rows=bucket_size(self.budget, 16))
    left = self.budget - self.n
    if self.num_points is not None:
      left = min(left, self.num_points - self.n)
    return feats[:left]

  def tell(self, features, objectives, constraints=()):
    """Records one evaluation (features float[D], objectives float[m], constraints float[k])."""
    self.x.append(np.asarray(features, np.float32))
    self.f.append(np.asarray(objectives, np.float64).reshape(-1))
    self.g.append(np.asarray(constraints, np.float64).reshape(-1))

  def state_dict(self) -> dict:
    p = None if self.gp_params is None else {
        "log_ls": np.asarray(self.gp_params.log_ls).tolist(),
        "log_noise": np.asarray(self.gp_params.log_noise).tolist()}
    return {"x": [v.tolist() for v in self.x], "f": [v.tolist() for v in self.f],
            "g": [v.tolist() for v in self.g], "gp_params": p}

  def load_state_dict(self, d: dict):
    self.x = [np.asarray(v, np.float32) for v in d["x"]]
    self.f = [np.asarray(v, np.float64) for v in d["f"]]
    self.g = [np.asarray(v, np.float64) for v in d["g"]]
    p = d.get("gp_params")
    self.gp_params = None if p is None else GPParams(jnp.asarray(p["log_ls"], jnp.float32),
                                                     jnp.asarray(p["log_noise"], jnp.float32))


def minimise(evaluate: Callable, enc: VectorEncoding, ref_point, budget: int, seed: int = 0,
             config: BreatheConfig = BreatheConfig(), callback: Callable | None = None) -> Breathe:
  """Runs V-BREATHE to ``budget`` evaluations.

  Args:
    evaluate: ``f(features float32[D]) -> (objectives float[m], constraints float[k])``.
    callback: called as ``callback(driver)`` after every evaluation.

  Returns:
    the :class:`Breathe` driver holding the history (fewer than ``budget`` evaluations only when a
    finite space was exhausted).
  """
  drv = Breathe(enc, ref_point, budget, seed, config)
  while drv.n < budget and not drv.exhausted:
    for feat in drv.ask():
      obj, con = evaluate(feat)
      drv.tell(feat, obj, con)
      if callback is not None:
        callback(drv)
  return drv
