"""BOSHNAS / BOSHCODE: the uncertainty-driven active-learning search loop.

Algorithm (BOSHNAS of FlexiBERT, Tuli et al., JAIR 2023; BOSHCODE of CODEBench, ACM TECS 2023 and
TransCODE, IEEE TCAD 2023; summarised in ``docs/codesign.md``):

1. Initial design: ``n_init`` designs by ``init_method`` ('uniform' / 'lhs' via ``space.sample``, or
   'sobol': a scrambled Sobol sequence in the feature box, projected with ``space.project``);
   with ``candidates`` the sequence is mapped to the nearest untried candidates instead.
2. Each round: fit the surrogate (``jaxcodesign.surrogates.fit_surrogate``, warm-started from the
   previous round) on ``x = space features`` and ``y = objectives.loss_target(P)`` where
   ``P = objectives.scalarise(metrics, objective)`` (THE one scalarisation, also used for reporting);
   non-finite ``P`` (violated hard constraints) is replaced by the worst finite ``P`` for the target
   only. Then choose ``batch_size`` queries; for each slot draw ``u ~ U(0, 1)``:

   * ``u <= 1 - alpha - beta``: exploit -- GOBI (``jaxcodesign.search.gobi.gobi``) minimises
     ``z = mean - k_e sigma_e - k_a' sigma_a`` from the ``gobi_restarts`` best known designs;
     restart optima are taken in order of ``z`` and legalised with ``space.project`` (or, with
     ``candidates``, mapped to the nearest untried candidate in normalised feature space).
     If every optimum is an already known (or already chosen) design, the slot falls back to
     max-uncertainty sampling (``kind`` 'gobi->uncertainty').
   * next ``alpha``: max-uncertainty -- the untried design of largest epistemic std among a pool
     (all untried ``candidates``, or ``pool_size`` fresh samples of the space).
   * last ``beta``: diversity -- a uniformly random untried design.

   ``k_a' = 0`` until the aleatoric term is switched on (see 3.).
3. Convergence (ours; the originals used float equality on a counter that CODEBench never reset):
   ``stall`` counts CONSECUTIVE rounds whose best performance did not improve by more than ``tol``
   and is reset to 0 on improvement. When ``stall`` reaches ``patience`` the aleatoric term is
   switched on (permanently, ``k_a' = k_a``) and ``stall`` restarts from 0; the search has converged
   when, with the aleatoric term on, ``stall`` reaches ``stop_patience``. It also stops when the query
   ``budget`` (unique designs, duplicates free: see evaluators.py) or the candidates are exhausted,
   or after ``max_rounds`` rounds.
4. With ``workdir`` every round (and the initial design, step 0) is checkpointed with orbax
   (:mod:`jaxcodesign.search.checkpoint`: dataset, surrogate parameters and optimiser states, PRNG
   key, counters; the last ``keep_checkpoints`` steps kept). Calling :func:`run_boshnas` again with the
   same ``workdir`` resumes from the latest step and, for the same seed and config, reproduces the
   uninterrupted run exactly (the per-round keys are split from the checkpointed key).

BOSHCODE is the same loop on a :class:`jaxcodesign.spaces.product.PairSpace` (features are the
concatenation ``[model, hw]``; set ``two_tower=True`` to give the surrogate the pair
``(x_model, x_hw)`` when the surrogate config selects the two-tower network).
"""

from __future__ import annotations

import dataclasses
import json
import types
from typing import Any, Sequence

import jax
import numpy as np

from jaxcodesign.errors import ConfigError
from jaxcodesign.search.baselines import (CandidatePool, HistoryEntry, _random_untried,
                                          performance_of)
from jaxcodesign.search.evaluators import BudgetedEvaluator, Evaluator
from jaxcodesign.spaces.base import numpy_rng

_INIT_METHODS = ("uniform", "lhs", "sobol")


@dataclasses.dataclass(frozen=True)
class BoshnasConfig:
  """Settings of the loop (defaults: FlexiBERT's published values, JAIR 2023, unless noted).

  Attributes:
    n_init: initial designs (FlexiBERT 10, CODEBench 5, EdgeTran 16).
    init_method: 'uniform', 'lhs' or 'sobol'.
    batch_size: queries per round (original 1).
    alpha: probability of max-uncertainty sampling (0.1). beta: of diversity sampling (0.1).
    k_e, k_a: acquisition weights of the epistemic / aleatoric std (0.5, 0.5).
    patience: consecutive non-improving rounds before the aleatoric term is switched on (5).
    stop_patience: further consecutive non-improving rounds (aleatoric on) before stopping (5).
    tol: minimum improvement of the best performance that counts (ours; original: float equality).
    budget: maximum unique evaluations including the initial design (None: unlimited).
    max_rounds: maximum rounds after the initial design.
    pool_size: sampled pool for uncertainty / diversity sampling without ``candidates``.
    gobi_restarts: GOBI restarts K (FlexiBERT: 10), always exactly K (the best known designs, cycled if
      fewer are known) so GOBI compiles once.
    surrogate: a ``jaxcodesign.surrogates.SurrogateConfig`` (None: its defaults).
    gobi: a ``jaxcodesign.search.gobi.GOBIConfig`` (None: its defaults).
    two_tower: pass ``(x_model, x_hw)`` to the surrogate (PairSpace only).
    keep_checkpoints: orbax steps kept.
  """
  n_init: int = 10
  init_method: str = "uniform"
  batch_size: int = 1
  alpha: float = 0.1
  beta: float = 0.1
  k_e: float = 0.5
  k_a: float = 0.5
  patience: int = 5
  stop_patience: int = 5
  tol: float = 1e-6
  budget: int | None = None
  max_rounds: int = 100
  pool_size: int = 256
  gobi_restarts: int = 10
  surrogate: Any = None
  gobi: Any = None
  two_tower: bool = False
  keep_checkpoints: int = 3

  def __post_init__(self):
    if self.init_method not in _INIT_METHODS:
      raise ConfigError(f"invalid value for field 'init_method': {self.init_method!r}; "
                        f"allowed: {list(_INIT_METHODS)}")
    if not (0 <= self.alpha and 0 <= self.beta and self.alpha + self.beta <= 1):
      raise ConfigError(f"invalid values for fields 'alpha', 'beta': {self.alpha}, {self.beta}; "
                        "allowed: alpha, beta >= 0 with alpha + beta <= 1")
    for f in ("n_init", "batch_size", "patience", "stop_patience", "pool_size", "gobi_restarts",
              "keep_checkpoints"):
      if getattr(self, f) < 1:
        raise ConfigError(f"invalid value for field {f!r}: {getattr(self, f)}; allowed: int >= 1")
    if self.budget is not None and self.budget < self.n_init:
      raise ConfigError(f"invalid value for field 'budget': {self.budget}; allowed: >= n_init "
                        f"({self.n_init}) or None")


@dataclasses.dataclass
class ConvergenceState:
  """Counters of the convergence rule (see module docstring, 3.)."""
  best: float = -np.inf
  stall: int = 0
  aleatoric: bool = False
  converged: bool = False


def update_convergence(c: ConvergenceState, new_best: float, config: BoshnasConfig
                       ) -> ConvergenceState:
  """Pure update of the convergence counters after one round with best performance ``new_best``."""
  c = dataclasses.replace(c)
  if new_best > c.best + config.tol:
    c.best, c.stall = float(new_best), 0
    return c
  c.best = max(c.best, float(new_best))
  c.stall += 1
  if not c.aleatoric and c.stall >= config.patience:
    c.aleatoric, c.stall = True, 0
  elif c.aleatoric and c.stall >= config.stop_patience:
    c.converged = True
  return c


@dataclasses.dataclass
class BoshnasResult:
  """Outcome of :func:`run_boshnas`.

  Attributes: ``points``, ``metrics``, ``performance`` (float per query, query order), ``kinds``
  (how each was chosen: 'init', 'gobi', 'gobi->uncertainty', 'uncertainty', 'diversity'),
  ``rounds`` completed, ``convergence`` (:class:`ConvergenceState`), ``stop_reason``
  ('converged', 'budget', 'exhausted', 'max_rounds'), ``surrogate_state`` (last fit).
  """
  points: list
  metrics: list
  performance: list
  kinds: list
  rounds: int
  convergence: ConvergenceState
  stop_reason: str
  surrogate_state: Any = None

  @property
  def history(self) -> list[HistoryEntry]:
    return [HistoryEntry(p, m, f) for p, m, f in zip(self.points, self.metrics, self.performance)]

  @property
  def best_index(self) -> int:
    return int(np.argmax(self.performance))

  @property
  def best_point(self):
    return self.points[self.best_index]

  @property
  def best_performance(self) -> float:
    return float(self.performance[self.best_index])


def _default_surrogate_api():
  import jaxcodesign.surrogates as s
  return types.SimpleNamespace(fit_surrogate=s.fit_surrogate, predict=s.predict,
                               acquisition_fn=s.acquisition_fn, SurrogateConfig=s.SurrogateConfig)


def _jsonable(x):
  return json.loads(json.dumps(x))


class _Loop:
  """Internal: one run's mutable state and the per-round steps."""

  def __init__(self, space, evaluator, objective, config, candidates, surrogate_api, workdir):
    self.space, self.objective, self.config = space, objective, config
    self.api = surrogate_api or _default_surrogate_api()
    self.sconfig = config.surrogate if config.surrogate is not None else self.api.SurrogateConfig()
    self.pool = CandidatePool(space, candidates) if candidates is not None else None
    self.ev = evaluator if isinstance(evaluator, BudgetedEvaluator) else \
        BudgetedEvaluator(evaluator, space, config.budget)
    self.points, self.metrics, self.perf, self.kinds = [], [], [], []
    self.hashes: set = set()
    self.conv = ConvergenceState()
    self.state = None
    self.round = 0
    self.stop_reason = None
    self.ckpt = None
    if workdir is not None:
      from jaxcodesign.search.checkpoint import LoopCheckpointer
      self.ckpt = LoopCheckpointer(workdir, keep=config.keep_checkpoints)

  # -- data ------------------------------------------------------------------------------------
  def add(self, points, kinds):
    points = [_jsonable(p) for p in points]
    metrics = self.ev.evaluate(points)
    for p, m, k in zip(points, metrics, kinds):
      self.points.append(p)
      self.metrics.append(_jsonable(m))
      self.perf.append(performance_of(m, self.objective))
      self.kinds.append(k)
      self.hashes.add(self.space.hash(p))

  def remaining(self) -> float:
    return self.ev.remaining

  def xy(self):
    x = self.space.to_features_batch(self.points).astype(np.float32)
    p = np.asarray(self.perf, np.float64)
    finite = np.isfinite(p)
    if not finite.any():
      raise ConfigError("every evaluated design violates the objective's constraints; "
                        "no finite performance to learn from")
    p = np.where(finite, p, p[finite].min())
    from jaxcodesign.search.objectives import loss_target
    return x, loss_target(p)

  def surrogate_input(self, x):
    if self.config.two_tower:
      split = getattr(self.space, "split", None)
      if split is None:
        raise ConfigError("invalid value for field 'two_tower': True needs a PairSpace")
      return (x[:, :split], x[:, split:])
    return x

  # -- checkpointing -----------------------------------------------------------------------------
  def meta(self) -> dict:
    return {"round": self.round, "points": self.points, "metrics": self.metrics,
            "performance": [float(v) for v in self.perf], "kinds": self.kinds,
            "conv": dataclasses.asdict(self.conv), "stop_reason": self.stop_reason}

  def save(self, key):
    if self.ckpt is not None:
      self.ckpt.save(self.round, key, self.state, self.meta())

  def _set_meta(self, meta):
    self.round = int(meta["round"])
    self.points, self.metrics, self.kinds = meta["points"], meta["metrics"], meta["kinds"]
    self.perf = [float(v) for v in meta["performance"]]

  def abstract_state(self, meta, key):
    """The surrogate state's structure (ShapeDtypeStructs) for an orbax restore: ``eval_shape`` of
    the fit on the checkpointed dataset (parameter shapes depend on the config and the feature
    width only), so no tree structure is ever pickled."""
    self._set_meta(meta)
    x, y = self.xy()
    xin = self.surrogate_input(x)
    return jax.eval_shape(lambda k: self.api.fit_surrogate(k, xin, y, self.sconfig), key)

  def restore(self):
    if self.ckpt is None or self.ckpt.latest_step() is None:
      return None
    key, state, meta = self.ckpt.restore(self.abstract_state)
    self.state = state
    self._set_meta(meta)
    self.conv = ConvergenceState(**meta["conv"])
    self.stop_reason = meta.get("stop_reason")
    self.hashes = {self.space.hash(p) for p in self.points}
    for p, m in zip(self.points, self.metrics):  # already paid for: not charged again
      self.ev.cache.setdefault(self.space.hash(p), dict(m))
    return key

  # -- choosing queries --------------------------------------------------------------------------
  def initial(self, key, rng) -> list:
    c, n = self.config, min(self.config.n_init, int(min(self.remaining(), 1 << 30)))
    if c.init_method == "sobol" or self.pool is not None and c.init_method == "lhs":
      from scipy.stats import qmc
      seed = int(rng.integers(2**31 - 1))
      d = self.space.feature_dim
      f = (qmc.Sobol(d, scramble=True, seed=seed).random(n) if c.init_method == "sobol"
           else qmc.LatinHypercube(d, seed=seed).random(n))
      lo, hi = self.space.feature_bounds()
      f = lo + f * (hi - lo)
      out, seen = [], set(self.hashes)
      for row in f:
        p = (self.pool.nearest_untried(row, seen) if self.pool is not None
             else self.space.project(row.astype(np.float32)))
        if p is not None and self.space.hash(p) not in seen:
          seen.add(self.space.hash(p))
          out.append(p)
      if len(out) < n:
        out += _random_untried(self.space, rng, key, n - len(out), seen, self.pool)
      return out
    if self.pool is not None:
      return self.pool.random_untried(rng, n, self.hashes)
    pts, seen = [], set(self.hashes)
    for p in self.space.sample(key, n, method=c.init_method):
      if self.space.hash(p) not in seen:
        seen.add(self.space.hash(p))
        pts.append(p)
    if len(pts) < n:
      pts += _random_untried(self.space, rng, jax.random.fold_in(key, 1), n - len(pts), seen, None)
    return pts

  def pool_points(self, key, rng, exclude: set) -> list:
    if self.pool is not None:
      idx = self.pool.untried(exclude)
      return [self.pool.points[int(i)] for i in idx]
    return _random_untried(self.space, rng, key, self.config.pool_size, exclude, None)

  def most_uncertain(self, key, rng, exclude: set):
    cand = self.pool_points(key, rng, exclude)
    if not cand:
      return None
    x = (self.pool.features[self.pool.untried(exclude)] if self.pool is not None
         else self.space.to_features_batch(cand))
    pred = self.api.predict(self.state, self.surrogate_input(np.asarray(x, np.float32)))
    return cand[int(np.argmax(np.asarray(pred.epistemic_std)))]

  def gobi_proposals(self, key) -> list:
    from jaxcodesign.search.gobi import GOBIConfig, gobi
    c = self.config
    order = np.argsort(-np.nan_to_num(np.asarray(self.perf), neginf=-1e30), kind="stable")
    starts = [self.points[int(order[i % len(order)])] for i in range(c.gobi_restarts)]
    x0 = self.space.to_features_batch(starts).astype(np.float32)
    k_a = c.k_a if self.conv.aleatoric else 0.0
    acq = self.api.acquisition_fn(self.state, c.k_e, k_a)
    lo, hi = self.space.feature_bounds()
    res = gobi(key, acq, x0, lo, hi, c.gobi if c.gobi is not None else GOBIConfig())
    xs, vs = np.asarray(res.x), np.asarray(res.value)
    return [xs[i] for i in np.argsort(vs, kind="stable")]

  def choose(self, key, rng) -> tuple[list, list]:
    c = self.config
    n = int(min(c.batch_size, self.remaining()))
    chosen, kinds, taken = [], [], set(self.hashes)
    proposals = None
    for slot in range(n):
      key, k_gobi, k_pool = jax.random.split(key, 3)
      u = rng.uniform()
      p, kind = None, None
      if u <= 1 - c.alpha - c.beta:
        if proposals is None:
          proposals = self.gobi_proposals(k_gobi)
        for f in proposals:
          q = (self.pool.nearest_untried(f, taken) if self.pool is not None
               else self.space.project(f))
          if q is not None and self.space.hash(q) not in taken:
            p, kind = q, "gobi"
            break
        if p is None:
          p, kind = self.most_uncertain(k_pool, rng, taken), "gobi->uncertainty"
      elif u <= 1 - c.beta:
        p, kind = self.most_uncertain(k_pool, rng, taken), "uncertainty"
      else:
        pts = _random_untried(self.space, rng, k_pool, 1, taken, self.pool)
        p, kind = (pts[0] if pts else None), "diversity"
      if p is None:
        break
      taken.add(self.space.hash(p))
      chosen.append(p)
      kinds.append(kind)
    return chosen, kinds


def run_boshnas(key, space, evaluator: Evaluator, objective, config: BoshnasConfig = BoshnasConfig(),
                workdir=None, candidates: Sequence[Any] | None = None, max_rounds: int | None = None,
                surrogate_api=None) -> BoshnasResult:
  """Runs (or resumes) BOSHNAS / BOSHCODE; see the module docstring for the algorithm.

  Args:
    key: JAX PRNG key (the only source of randomness; same key + config -> same run).
    space: a ``DesignSpace`` (a ``PairSpace`` for BOSHCODE).
    evaluator: an ``Evaluator``; wrapped in a ``BudgetedEvaluator`` with ``config.budget`` unless it
      already is one.
    objective: ``objectives.Objective`` (or a callable metrics -> performance, higher better).
    config: :class:`BoshnasConfig`.
    workdir: directory for orbax checkpoints; an existing run there is resumed.
    candidates: optional finite list of allowed designs (queries are restricted to it).
    max_rounds: stop after this many completed rounds in total (overrides ``config.max_rounds``;
      used to interrupt a run that is resumed later).
    surrogate_api: namespace with ``fit_surrogate, predict, acquisition_fn, SurrogateConfig``
      (default: :mod:`jaxcodesign.surrogates`); for tests and alternative surrogates.

  Returns:
    :class:`BoshnasResult`.

  Raises:
    ConfigError: invalid config / empty candidates / no finite performance.
  """
  loop = _Loop(space, evaluator, objective, config, candidates, surrogate_api, workdir)
  limit = config.max_rounds if max_rounds is None else max_rounds
  restored = loop.restore()
  if restored is not None:
    key = restored
  else:
    key, k_init = jax.random.split(key)
    rng = numpy_rng(k_init)
    init = loop.initial(k_init, rng)
    if not init:
      raise ConfigError("initial design is empty (no untried candidates or budget 0)")
    loop.add(init, ["init"] * len(init))
    loop.conv = ConvergenceState(best=float(np.max(loop.perf)))
    loop.save(key)
  while loop.stop_reason is None and loop.round < limit:
    if loop.remaining() <= 0:
      loop.stop_reason = "budget"
      break
    key, k_fit, k_choose = jax.random.split(key, 3)
    x, y = loop.xy()
    loop.state = loop.api.fit_surrogate(k_fit, loop.surrogate_input(x), y, loop.sconfig,
                                        init=loop.state)
    pts, kinds = loop.choose(k_choose, numpy_rng(k_choose))
    if not pts:
      loop.stop_reason = "exhausted"
      break
    loop.add(pts, kinds)
    loop.round += 1
    loop.conv = update_convergence(loop.conv, float(np.max(loop.perf)), config)
    if loop.conv.converged:
      loop.stop_reason = "converged"
    elif loop.remaining() <= 0:
      loop.stop_reason = "budget"
    loop.save(key)
  reason = loop.stop_reason or "max_rounds"
  if loop.ckpt is not None:
    loop.ckpt.close()
  return BoshnasResult(loop.points, loop.metrics, loop.perf, loop.kinds, loop.round, loop.conv,
                       reason, loop.state)
