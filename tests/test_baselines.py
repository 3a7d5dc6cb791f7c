"""Evaluators (budget accounting, tables, jitted batches) and the baseline searches."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.search import baselines
from jaxcodesign.search.evaluators import (BudgetExhausted, BudgetedEvaluator, CallableEvaluator,
                                           Evaluator, JittedEvaluator, TableEvaluator)
from jaxcodesign.search.objectives import Objective, ObjectiveTerm
from jaxcodesign.spaces.generic import IntegerSpace

SPACE = IntegerSpace([0, 0, 0], [7, 7, 7])
TARGET = np.array([2, 5, 3])


def score(point):
  return {"score": float(1.0 - np.sum((np.asarray(point) - TARGET) ** 2) / 147.0)}


pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
OBJ = Objective(terms=(ObjectiveTerm("score", 1.0),))


def test_budgeted_evaluator_charges_unique_designs_only():
  calls = []
  ev = BudgetedEvaluator(CallableEvaluator(lambda p: calls.append(p) or score(p)), SPACE, budget=3)
  assert isinstance(ev, Evaluator)
  out = ev.evaluate([[1, 1, 1], [1, 1, 1], [2, 2, 2]])
  assert ev.used == 2 and len(calls) == 2 and out[0] == out[1]
  ev.evaluate([[2, 2, 2]])  # cached, free
  assert ev.used == 2 and ev.remaining == 1
  with pytest.raises(BudgetExhausted):
    ev.evaluate([[3, 3, 3], [4, 4, 4]])
  assert ev.used == 2  # nothing charged on refusal
  ev.evaluate([[3, 3, 3]])
  assert ev.remaining == 0 and [p for p, _ in ev.history] == [[1, 1, 1], [2, 2, 2], [3, 3, 3]]


def test_table_evaluator_unknown_point_raises():
  pts = [[0, 0, 0], [1, 2, 3]]
  table = {SPACE.hash(p): score(p) for p in pts}
  ev = TableEvaluator(table, SPACE)
  assert ev.evaluate([[1, 2, 3]]) == [score([1, 2, 3])]
  with pytest.raises(SpaceError, match="no measurement"):
    ev.evaluate([[7, 7, 7]])


def test_jitted_evaluator_pads_to_buckets():
  shapes = []

  @jax.jit
  def fn(x):
    return {"s": jnp.sum(x, axis=1)}

  def wrapped(x):
    shapes.append(x.shape)
    return fn(x)

  ev = JittedEvaluator(wrapped, SPACE, min_bucket=8)
  for n in (1, 3, 8, 5):
    out = ev.evaluate(SPACE.sample(jax.random.key(n), n))
    assert len(out) == n
  assert {s[0] for s in shapes} == {8}
  pts = [[7, 7, 7], [0, 0, 7]]
  assert [o["s"] for o in ev.evaluate(pts)] == pytest.approx([3.0, 1.0])


@pytest.mark.parametrize("search", ["random", "evolution", "gp"])
def test_baselines_respect_budget_and_candidates(search):
  cands = list({SPACE.hash(p): p for p in SPACE.sample(jax.random.key(0), 60)}.values())
  fns = {"random": baselines.random_search,
         "evolution": lambda *a, **k: baselines.regularized_evolution(*a, population_size=6,
                                                                      sample_size=3, **k),
         "gp": lambda *a, **k: baselines.gp_bo(*a, n_init=5, refit_every=4, pool_size=64, **k)}
  ev = BudgetedEvaluator(CallableEvaluator(score), SPACE, budget=15)
  hist = fns[search](jax.random.key(1), SPACE, ev, OBJ, 15, candidates=cands)
  assert len(hist) == 15 == ev.used
  cand_h = {SPACE.hash(p) for p in cands}
  hs = [SPACE.hash(e.point) for e in hist]
  assert len(set(hs)) == 15 and set(hs) <= cand_h
  for e in hist:
    assert e.performance == pytest.approx(score(e.point)["score"], rel=1e-6)
  # also without candidates (sampling / projection path)
  hist2 = fns[search](jax.random.key(2), SPACE, CallableEvaluator(score), OBJ, 12)
  assert len(hist2) == 12 == len({SPACE.hash(e.point) for e in hist2})


def test_candidates_exhausted_before_budget():
  cands = [[0, 0, 0], [1, 1, 1], [2, 2, 2]]
  for fn in (baselines.random_search, baselines.regularized_evolution, baselines.gp_bo):
    hist = fn(jax.random.key(0), SPACE, CallableEvaluator(score), OBJ, 10, candidates=cands)
    assert sorted(map(tuple, (e.point for e in hist))) == [(0, 0, 0), (1, 1, 1), (2, 2, 2)]


def test_model_based_baselines_beat_random_on_smooth_objective():
  # mean best-found over seeds, smooth quadratic: GP-BO and evolution should beat random search
  best = {k: [] for k in ("random", "evolution", "gp")}
  for s in range(3):
    k = jax.random.key(100 + s)
    best["random"].append(max(e.performance for e in baselines.random_search(
        k, SPACE, CallableEvaluator(score), OBJ, 20)))
    best["evolution"].append(max(e.performance for e in baselines.regularized_evolution(
        k, SPACE, CallableEvaluator(score), OBJ, 20, population_size=6, sample_size=3)))
    best["gp"].append(max(e.performance for e in baselines.gp_bo(
        k, SPACE, CallableEvaluator(score), OBJ, 20, n_init=6, pool_size=128, refit_every=3)))
  assert np.mean(best["gp"]) > np.mean(best["random"])
  assert np.mean(best["gp"]) >= 0.97


def test_invalid_arguments():
  with pytest.raises(ConfigError, match="budget"):
    baselines.random_search(jax.random.key(0), SPACE, CallableEvaluator(score), OBJ, 0)
  with pytest.raises(ConfigError, match="sample_size"):
    baselines.regularized_evolution(jax.random.key(0), SPACE, CallableEvaluator(score), OBJ, 5,
                                    population_size=3, sample_size=4)
  with pytest.raises(ConfigError, match="candidates"):
    baselines.random_search(jax.random.key(0), SPACE, CallableEvaluator(score), OBJ, 5,
                            candidates=[])
  with pytest.raises(ConfigError, match="budget"):
    BudgetedEvaluator(CallableEvaluator(score), SPACE, budget=-1)
