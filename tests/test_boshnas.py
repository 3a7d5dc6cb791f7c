"""BOSHNAS loop: resume equivalence, duplicates, candidates, convergence rule, budget, no recompiles.

Most tests use a tiny closed-form stub surrogate (ridge regression on [x, x^2] features,
epistemic std = distance to the nearest training point) so they exercise the loop logic in well
under a second per round; ``test_real_surrogate_*`` run the package's surrogate.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodesign.errors import ConfigError
from jaxcodesign.search import boshnas
from jaxcodesign.search.boshnas import BoshnasConfig, ConvergenceState, run_boshnas, update_convergence
from jaxcodesign.search.evaluators import BudgetedEvaluator, CallableEvaluator
from jaxcodesign.search.gobi import GOBIConfig
from jaxcodesign.spaces.generic import IntegerSpace


class StubState(NamedTuple):
  w: jax.Array        # float32[2d + 1]
  x: jax.Array        # float32[n, d] training inputs
  step: int


class StubPrediction(NamedTuple):
  mean: jax.Array
  epistemic_std: jax.Array
  aleatoric_std: jax.Array


PAD = 64  # fixed training-set bucket: GOBI and the acquisition never see a new shape


def _phi(x):
  return jnp.concatenate([x, x * x, jnp.ones(x.shape[:-1] + (1,))], axis=-1)


def _phi_np(x):
  return np.concatenate([x, x * x, np.ones(x.shape[:-1] + (1,))], axis=-1)


def _fit(key, x, y, config, init=None):
  del key, config
  x = np.asarray(x, np.float64)
  a = _phi_np(x)
  w = np.linalg.solve(a.T @ a + 1e-3 * np.eye(a.shape[1]), a.T @ np.asarray(y, np.float64))
  xp = np.concatenate([x, np.repeat(x[:1], PAD - len(x), 0)]).astype(np.float32)
  return StubState(jnp.asarray(w, jnp.float32), jnp.asarray(xp), 0 if init is None else init.step + 1)


def _std(state, x):
  d = jnp.sqrt(jnp.sum((x[..., None, :] - state.x) ** 2, -1) + 1e-9)
  return jnp.min(d, -1)


def _predict(state, x):
  x = np.asarray(x, np.float64)
  d = np.sqrt(((x[:, None, :] - np.asarray(state.x)[None]) ** 2).sum(-1) + 1e-9).min(-1)
  return StubPrediction(_phi_np(x) @ np.asarray(state.w), d, np.zeros(len(x)))


def _acq_impl(state, k_e, k_a, x):
  return _phi(x[None])[0] @ state.w - k_e * _std(state, x[None])[0]


def _acq(state, k_e, k_a):
  return jax.tree_util.Partial(_acq_impl, state, k_e, k_a)


STUB = type("Api", (), dict(fit_surrogate=staticmethod(_fit), predict=staticmethod(_predict),
                            acquisition_fn=staticmethod(_acq), SurrogateConfig=lambda: None))

SPACE = IntegerSpace([0, 0, 0], [7, 7, 7])
TARGET = np.array([2, 5, 3])


def score(point):
  return {"score": float(1.0 - np.sum((np.asarray(point) - TARGET) ** 2) / 147.0)}


OBJ = lambda m: m["score"]
FAST_GOBI = GOBIConfig(optimizer="adam", lr=0.1, max_steps=30)


def _cfg(**kw):
  base = dict(n_init=4, batch_size=2, gobi_restarts=3, gobi=FAST_GOBI, pool_size=32, budget=40)
  base.update(kw)
  return BoshnasConfig(**base)


def test_resume_reaches_same_dataset(tmp_path):
  key = jax.random.PRNGKey(3)
  full = run_boshnas(key, SPACE, CallableEvaluator(score), OBJ, _cfg(), workdir=tmp_path / "a",
                     max_rounds=3, surrogate_api=STUB)
  part = run_boshnas(key, SPACE, CallableEvaluator(score), OBJ, _cfg(), workdir=tmp_path / "b",
                     max_rounds=2, surrogate_api=STUB)
  assert part.rounds == 2 and len(part.points) < len(full.points)
  calls = []
  counting = CallableEvaluator(lambda p: calls.append(p) or score(p))
  resumed = run_boshnas(key, SPACE, counting, OBJ, _cfg(), workdir=tmp_path / "b", max_rounds=3,
                        surrogate_api=STUB)
  assert resumed.rounds == full.rounds == 3
  assert resumed.points == full.points
  assert resumed.metrics == full.metrics and resumed.kinds == full.kinds
  assert len(calls) == len(full.points) - len(part.points)  # only the new round was evaluated
  assert int(resumed.surrogate_state.step) == int(full.surrogate_state.step)
  np.testing.assert_array_equal(np.asarray(resumed.surrogate_state.w),
                                np.asarray(full.surrogate_state.w))


def test_loop_finds_good_design_and_respects_budget():
  ev = BudgetedEvaluator(CallableEvaluator(score), SPACE, budget=20)
  res = run_boshnas(jax.random.PRNGKey(0), SPACE, ev, OBJ, _cfg(budget=20, patience=50),
                    surrogate_api=STUB)
  assert ev.used == len(res.points) == 20
  assert res.stop_reason == "budget"
  assert len({SPACE.hash(p) for p in res.points}) == len(res.points)  # no duplicate queries
  assert res.best_performance >= 0.95  # random 20 of 512 rarely gets within distance 1 of TARGET
  assert set(res.kinds) <= {"init", "gobi", "gobi->uncertainty", "uncertainty", "diversity"}


def test_duplicate_gobi_result_falls_back_to_uncertainty():
  # an acquisition whose GOBI optimum is always the best known design -> must not re-query it
  def acq(state, k_e, k_a):
    best = jnp.asarray(SPACE.to_features(TARGET.tolist()))
    return jax.tree_util.Partial(lambda b, x: jnp.sum((x - b) ** 2), best)
  api = type("Api", (STUB,), dict(acquisition_fn=staticmethod(acq)))
  init_best = TARGET.tolist()
  ev = CallableEvaluator(score)
  cands = [init_best] + SPACE.sample(jax.random.PRNGKey(1), 30)
  res = run_boshnas(jax.random.PRNGKey(5), SPACE, ev, OBJ,
                    _cfg(alpha=0.0, beta=0.0, n_init=4, batch_size=1, budget=None), max_rounds=4,
                    surrogate_api=api)
  # without candidates: the projected optimum is TARGET, queried once, then fallbacks
  hashes = [SPACE.hash(p) for p in res.points]
  assert len(set(hashes)) == len(hashes)
  assert hashes.count(SPACE.hash(init_best)) == 1
  assert "gobi->uncertainty" in res.kinds
  # with candidates: nearest UNTRIED candidate is chosen instead, every query a candidate
  res_c = run_boshnas(jax.random.PRNGKey(5), SPACE, ev, OBJ,
                      _cfg(alpha=0.0, beta=0.0, batch_size=1, budget=None), candidates=cands,
                      max_rounds=4, surrogate_api=api)
  cand_h = {SPACE.hash(p) for p in cands}
  assert all(SPACE.hash(p) in cand_h for p in res_c.points)
  assert len({SPACE.hash(p) for p in res_c.points}) == len(res_c.points)


def test_candidates_exhaustion_stops():
  cands = SPACE.sample(jax.random.PRNGKey(2), 9)
  uniq = {SPACE.hash(p): p for p in cands}
  res = run_boshnas(jax.random.PRNGKey(0), SPACE, CallableEvaluator(score), OBJ,
                    _cfg(budget=None, patience=100), candidates=list(uniq.values()),
                    surrogate_api=STUB)
  assert len(res.points) == len(uniq) and res.stop_reason == "exhausted"


def test_convergence_rule_resets_on_improvement():
  cfg = BoshnasConfig(patience=2, stop_patience=2, tol=0.01)
  c = ConvergenceState(best=0.5)
  c = update_convergence(c, 0.505, cfg)   # within tol: not an improvement
  assert c.stall == 1 and not c.aleatoric
  c = update_convergence(c, 0.6, cfg)     # improvement resets
  assert c.stall == 0 and c.best == 0.6
  c = update_convergence(c, 0.6, cfg)
  c = update_convergence(c, 0.6, cfg)     # 2 consecutive -> aleatoric on, counter restarts
  assert c.aleatoric and c.stall == 0 and not c.converged
  c = update_convergence(c, 0.6, cfg)
  c = update_convergence(c, 0.7, cfg)     # reset again, aleatoric stays on
  assert c.stall == 0 and c.aleatoric and not c.converged
  c = update_convergence(c, 0.7, cfg)
  c = update_convergence(c, 0.7, cfg)
  assert c.converged


def test_loop_stops_when_converged():
  res = run_boshnas(jax.random.PRNGKey(1), SPACE, CallableEvaluator(score), OBJ,
                    _cfg(budget=None, patience=1, stop_patience=1, tol=1.0), max_rounds=50,
                    surrogate_api=STUB)
  assert res.stop_reason == "converged" and res.rounds == 2 and res.convergence.aleatoric


def test_config_validation():
  with pytest.raises(ConfigError, match="init_method"):
    BoshnasConfig(init_method="grid")
  with pytest.raises(ConfigError, match="alpha"):
    BoshnasConfig(alpha=0.6, beta=0.6)
  with pytest.raises(ConfigError, match="budget"):
    BoshnasConfig(n_init=10, budget=5)


@pytest.mark.parametrize("method", ["lhs", "sobol"])
def test_initial_design_methods(method):
  res = run_boshnas(jax.random.PRNGKey(4), SPACE, CallableEvaluator(score), OBJ,
                    _cfg(init_method=method, n_init=8), max_rounds=0, surrogate_api=STUB)
  assert len(res.points) == 8 and res.kinds == ["init"] * 8
  if method == "lhs":  # each coordinate's 8 bins covered exactly once
    for j in range(3):
      assert sorted(p[j] for p in res.points) == list(range(8))


# ---- the package's surrogate -------------------------------------------------------------------

def _small_surrogate():
  from jaxcodesign.surrogates import SurrogateConfig
  return SurrogateConfig(hidden=(16, 8), npn_hidden=(8, 8), n_members=2, epochs=15, min_epochs=5,
                         mc_samples=4, min_bucket=16)


@pytest.mark.slow
def test_real_surrogate_resume_and_no_recompilation(tmp_path):
  from jaxcodesign.search import gobi as gobi_mod
  from jaxcodesign.surrogates import TRACE_COUNTS
  cfg = _cfg(surrogate=_small_surrogate(), n_init=4, batch_size=2, budget=14, patience=50)
  key = jax.random.PRNGKey(11)
  run_boshnas(key, SPACE, CallableEvaluator(score), OBJ, cfg, workdir=tmp_path / "r", max_rounds=2)
  fits, preds = TRACE_COUNTS["fit"], TRACE_COUNTS["predict"]
  gobi_cache = gobi_mod._gobi_jit._cache_size()
  res = run_boshnas(key, SPACE, CallableEvaluator(score), OBJ, cfg, workdir=tmp_path / "r",
                    max_rounds=5)
  assert res.rounds == 5 and len(res.points) == 14 and res.stop_reason == "budget"
  # dataset sizes 8..12 lie in the 16-row bucket: no new traces of fit / predict / GOBI
  assert TRACE_COUNTS["fit"] == fits and TRACE_COUNTS["predict"] == preds
  assert gobi_mod._gobi_jit._cache_size() == gobi_cache
  # the restored SurrogateState was warm-started: same static config, arrays restored
  assert res.surrogate_state.config == cfg.surrogate
  # and the resumed run equals an uninterrupted one (real surrogate, warm starts through orbax)
  full = run_boshnas(key, SPACE, CallableEvaluator(score), OBJ, cfg, max_rounds=5)
  assert full.points == res.points and full.kinds == res.kinds
  np.testing.assert_array_equal(np.asarray(full.surrogate_state.y_shift),
                                np.asarray(res.surrogate_state.y_shift))


def test_boshcode_on_pair_space():
  from jaxcodesign.spaces.product import PairSpace
  pair = PairSpace(IntegerSpace([0, 0], [7, 7]), IntegerSpace([0], [7]))
  assert pair.feature_dim == 3 and pair.split == 2
  p = pair.sample(jax.random.PRNGKey(0), 1)[0]
  assert pair.project(pair.to_features(p)) == p and "|" in pair.hash(p)
  with pytest.raises(ValueError, match="model"):
    pair.hash([1, 2, 3])

  def pair_score(q):
    return score(q["model"] + q["hw"])

  res = run_boshnas(jax.random.PRNGKey(2), pair, CallableEvaluator(pair_score), OBJ,
                    _cfg(budget=16, patience=50), surrogate_api=STUB)
  assert len(res.points) == 16 and all(pair.is_valid(q) for q in res.points)
  assert res.best_performance >= 0.9


def test_constraint_violations_do_not_break_targets():
  from jaxcodesign.search.objectives import Constraint, Objective, ObjectiveTerm
  obj = Objective(terms=(ObjectiveTerm("score", 1.0),), constraints=(Constraint("score", 0.85, "min"),))
  res = run_boshnas(jax.random.PRNGKey(7), SPACE, CallableEvaluator(score), obj,
                    _cfg(budget=14, patience=50), surrogate_api=STUB)
  perf = np.asarray(res.performance)
  assert len(perf) == 14 and np.isneginf(perf).any() and np.isfinite(perf).any()
  assert res.best_performance == pytest.approx(max(score(p)["score"] for p in res.points))
