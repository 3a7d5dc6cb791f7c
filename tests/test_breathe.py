"""V-BREATHE: legality forcing, GOBI iterates, constraints, resume, recompiles, and a quality check."""

import json

import chex
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings

from jaxcodesign.errors import ConfigError
from jaxcodesign.search.breathe import (Breathe, BreatheConfig, encoding_from_bounds,
                                        encoding_from_space, legality_force, minimise)
from jaxcodesign.search.breathe import optimiser
from jaxcodesign.search.breathe.acquisition import make_acquisition
from jaxcodesign.search.breathe.gp import fit_gp, gp_predict
from jaxcodesign.search.breathe.vector import initial_design
from jaxcodesign.search import pareto
from jaxcodesign.spaces.generic import BoxSpace, CategoricalSpace, IntegerSpace, ProductSpace


def _space():
  return ProductSpace({"a": BoxSpace([0.0, -1.0], [1.0, 1.0]), "n": IntegerSpace([0, 2], [4, 3]),
                       "c": CategoricalSpace(["relu", "gelu", "silu"])})


def _is_legal(enc, f):
  """Independent legality check of a feature vector (not via legality_force)."""
  f = np.asarray(f, np.float64)
  for v, kind in enumerate(enc.kind):
    a, b = enc.offsets[v], enc.offsets[v + 1]
    seg = f[a:b]
    if np.any(seg < 0) or np.any(seg > 1):
      return False
    if kind == "integer":
      span = enc.upper[v] - enc.lower[v]
      if abs(seg[0] * span - round(seg[0] * span)) > 1e-5:
        return False
    if kind == "categorical" and not (np.sum(seg == 1.0) == 1 and np.sum(seg == 0.0) == b - a - 1):
      return False
  return True


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-3, 3, allow_nan=False, width=32), min_size=7, max_size=7))
@example([0.0, 1.2051166793193427e-43, 0.0, 0.0, 0.0, 0.0, 0.0])  # a subnormal: XLA flushes it
def test_legality_force_maps_everything_to_legal_points_and_is_idempotent(values):
  enc = encoding_from_space(_space())
  assert enc.feature_dim == 7
  arr = enc.arrays()
  f = np.asarray(legality_force(jnp.asarray(values, jnp.float32), **arr))
  assert _is_legal(enc, f)
  np.testing.assert_array_equal(np.asarray(legality_force(jnp.asarray(f), **arr)), f)
  np.testing.assert_array_equal(enc.force_numpy(values), f)  # the NumPy twin agrees
  point = enc.decode(f)  # the space's own projection accepts it
  assert _space().validate(point) == point
  np.testing.assert_allclose(enc.encode(point), f, atol=1e-6)


def test_every_gobi_iterate_is_legal():
  enc = encoding_from_space(_space())
  target = jnp.asarray([0.3, 0.8, 0.6, 0.2, 0.1, 0.9, 0.4])
  acq = jax.tree_util.Partial(lambda t, x: jnp.sum((x - t) ** 2) + jnp.sin(9 * x).sum(), target)
  x0 = np.random.default_rng(0).uniform(-0.5, 1.5, size=(4, 7)).astype(np.float32)
  res = optimiser.lf_gobi(jax.random.key(0), acq, x0, enc.arrays(), lr=0.2, max_steps=25,
                          record=True)
  its = np.asarray(res.iterates)
  assert its.shape == (25, 4, 7)  # [steps, restarts, D]
  assert all(_is_legal(enc, it) for it in its.reshape(-1, 7))
  assert all(_is_legal(enc, x) for x in np.asarray(res.x))
  # the best iterate is no worse than the (legalised) start
  starts = np.asarray(jax.vmap(lambda v: legality_force(v, **enc.arrays()))(jnp.asarray(x0)))
  assert np.all(np.asarray(res.value) <= np.asarray(jax.vmap(acq)(jnp.asarray(starts))) + 1e-6)


def test_gp_interpolates_and_knows_its_uncertainty():
  rng = np.random.default_rng(1)
  x = rng.uniform(0, 1, (20, 2))
  y = np.stack([np.sin(6 * x[:, 0]) + x[:, 1], x[:, 0] ** 2], 1)
  gp = fit_gp(x, y, steps=100)
  mu, sd = (np.asarray(a) for a in gp_predict(gp, x))
  np.testing.assert_allclose(mu, y, atol=0.05)
  far = np.asarray(gp_predict(gp, np.array([[3.0, 3.0]]))[1])
  assert np.all(far > 5 * sd.mean(0))  # far from the data the posterior reverts to the prior


def test_gp_posterior_matches_a_float64_oracle_near_a_cluster_of_points():
  """Posterior mean and std in float32 against a float64 solve with scikit-learn's Matern-5/2
  kernel at the SAME hyperparameters, on data clustered as it is late in a search (40 of 60 points
  within 0.03 of one spot): the explicit-inverse variance ``1 - k K^-1 k`` cancelled here."""
  from sklearn.gaussian_process.kernels import Matern
  from jaxcodesign.search.breathe import gp as gp_mod
  rng = np.random.default_rng(3)
  x = np.concatenate([0.5 + 0.03 * rng.standard_normal((40, 3)), rng.uniform(0, 1, (20, 3))])
  x = np.clip(x, 0, 1)
  y = (np.sin(3 * x[:, 0]) + x[:, 1] * x[:, 2] + 0.3 * x[:, 2] ** 2)[:, None]
  gp = fit_gp(x, y, steps=100, min_bucket=64)
  xt = np.clip(0.5 + 0.04 * rng.standard_normal((30, 3)), 0, 1)
  mu, sd = (np.asarray(a, np.float64)[:, 0] for a in gp_predict(gp, xt))
  ls = np.exp(np.asarray(gp.params.log_ls, np.float64)[0])
  noise = np.exp(float(gp.params.log_noise[0])) + gp_mod._NOISE_FLOOR + gp_mod._JITTER
  kern = Matern(length_scale=ls, nu=2.5)
  ys = (y[:, 0] - y[:, 0].mean()) / y[:, 0].std()
  kk = kern(x) + noise * np.eye(len(x))
  ks = kern(xt, x)
  mu_o = ks @ np.linalg.solve(kk, ys) * y[:, 0].std() + y[:, 0].mean()
  var_o = np.maximum(1.0 - np.einsum("ij,ji->i", ks, np.linalg.solve(kk, ks.T)), 0.0)
  sd_o = np.sqrt(var_o) * y[:, 0].std()
  np.testing.assert_allclose(mu, mu_o, atol=2e-3 * y.std())
  np.testing.assert_allclose(sd, sd_o, atol=0.02 * y.std())


def test_gp_resolves_evaluated_points_to_a_fraction_of_a_percent_of_the_output_spread():
  """At a training point the posterior variance is at most the noise variance (and equal to it for
  isolated points), so the noise floor sets how finely the EHVI can tell an evaluated point from
  its neighbours. Wanted: sd <= 0.3 % of the output's spread at minimal learned noise. BoTorch's
  floor of 1e-4 (standardised) gives 1 %; on Branin-Currin (f1 spread 42) that was an sd of 0.14
  where neighbouring front points differ by 0.01, and a sixth of the proposals gained nothing."""
  from jaxcodesign.search.breathe.gp import GPParams
  x = np.linspace(0, 1, 8)[:, None]
  y = 300.0 * x ** 2
  init = GPParams(jnp.full((1, 1), np.log(0.3), jnp.float32), jnp.full((1,), -14.0, jnp.float32))
  gp = fit_gp(x, y, init=init, steps=0)
  mu, sd = (np.asarray(a, np.float64)[:, 0] for a in gp_predict(gp, x))
  assert np.all(sd <= 3e-3 * y.std())
  np.testing.assert_allclose(mu, y[:, 0], atol=3e-3 * y.std())


def test_gp_falls_back_to_a_larger_jitter_when_float32_cannot_factorise():
  """256 points under the longest lengthscale the fit allows: the kernel matrix is numerically
  rank-deficient in float32, its Cholesky factor is NaN, and the fit must still return a finite
  posterior (with the fallback jitter) rather than NaN acquisitions."""
  from jaxcodesign.search.breathe import gp as gp_mod
  from jaxcodesign.search.breathe.gp import GPParams
  rng = np.random.default_rng(0)
  x = rng.uniform(0, 1, (256, 2)).astype(np.float32)
  kk = gp_mod._kmat(jnp.asarray(x), jnp.ones(256), jnp.full((2,), 4.0), jnp.float32(-14.0))
  assert not np.all(np.isfinite(np.asarray(jnp.linalg.cholesky(kk))))  # the case the guard is for
  y = np.sin(3 * x[:, :1]) + x[:, 1:]
  gp = fit_gp(x, y, init=GPParams(jnp.full((1, 2), 4.0), jnp.full((1,), -14.0)), steps=0,
              min_bucket=256)
  mu, sd = (np.asarray(a, np.float64) for a in gp_predict(gp, rng.uniform(0, 1, (5, 2))))
  assert np.all(np.isfinite(mu)) and np.all(np.isfinite(sd)) and np.all(sd < y.std())


def test_a_cold_refit_replaces_a_warm_start_stuck_in_a_worse_mode_per_output():
  """Output 0 is warm-started where its relevant input looks irrelevant (lengthscale e^4); output 1
  from its own good fit. better_fit must take the cold fit for output 0 only, by the negative
  log posterior, which is checked against the loss evaluated independently."""
  import math
  from jaxcodesign.search.breathe import gp as gp_mod
  from jaxcodesign.search.breathe.gp import GPParams, better_fit
  rng = np.random.default_rng(5)
  x = rng.uniform(0, 1, (24, 3))
  y = np.stack([np.sin(6 * x[:, 0]) + x[:, 1] ** 2, x[:, 2] + 0.2 * x[:, 0]], 1)
  cold = fit_gp(x, y, steps=200, min_bucket=32)
  stuck = GPParams(jnp.stack([jnp.full((3,), 4.0), cold.params.log_ls[1]]), cold.params.log_noise)
  warm = fit_gp(x, y, init=stuck, steps=3, min_bucket=32)
  best = better_fit(warm, cold)
  mu = math.sqrt(2.0) + 0.5 * math.log(3)
  yn = (y - y.mean(0)) / y.std(0)
  yp = np.zeros((32, 2), np.float32)
  yp[:24] = yn
  def nlp(state, j):  # the same objective, evaluated outside the fit
    return float(gp_mod._neg_log_post((state.params.log_ls[j], state.params.log_noise[j]),
                                      state.x, state.mask, jnp.asarray(yp[:, j]), mu))
  assert nlp(cold, 0) < nlp(warm, 0) - 0.1  # the warm start is stuck in the worse mode
  np.testing.assert_allclose(np.asarray(best.params.log_ls[0]), np.asarray(cold.params.log_ls[0]))
  np.testing.assert_allclose(np.asarray(best.nlp), np.minimum(np.asarray(warm.nlp),
                                                             np.asarray(cold.nlp)))
  for j, src in ((0, cold), (1, warm if float(warm.nlp[1]) <= float(cold.nlp[1]) else cold)):
    np.testing.assert_allclose(float(best.nlp[j]), nlp(src, j), atol=2e-3)
    np.testing.assert_allclose(np.asarray(best.alpha[j]), np.asarray(src.alpha[j]))
  with pytest.raises(ConfigError, match="gp_refit_every"):
    BreatheConfig(gp_refit_every=-1)


def test_acquisitions_do_not_recompile_across_rounds():
  enc = encoding_from_bounds([[0, 1]] * 3)
  impl = jax.jit(chex.assert_max_traces(optimiser._lf_gobi_impl, n=1),
                 static_argnames=optimiser._STATIC)
  rng = np.random.default_rng(2)
  x = rng.uniform(0, 1, (6, 3)).astype(np.float32)
  for r in range(3):  # three rounds: more data (same bucket), a new front, new hyperparameters
    x = np.vstack([x, rng.uniform(0, 1, (1, 3)).astype(np.float32)])
    f = np.stack([x[:, 0], 1 - np.sqrt(x[:, 0]) + x[:, 1:].sum(1)], 1)
    gp = fit_gp(x, f, min_bucket=16)
    acq = make_acquisition("ehvi", gp, 2, f[pareto.pareto_mask(f)], np.array([1.5, 3.0]), True)
    arr = enc.arrays()
    probes = jnp.asarray(rng.choice([-1.0, 1.0], (4, 5, 3)), jnp.float32)  # [K, steps, D]
    impl(acq, probes, jnp.asarray(x[:4]), jnp.asarray(arr["levels"]),
         jnp.asarray(arr["group"]), jnp.float32(0.05), jnp.float32(1e-5), n_groups=0,
         patience=5, record=False)


def test_a_run_compiles_the_gp_fit_and_the_candidates_once(monkeypatch):
  # cold (100 steps) and warm-started (10 steps) fits share one program; the candidates are drawn
  # in NumPy and forced legal by one program of a fixed batch shape
  from jaxcodesign.search.breathe import gp as gp_mod, vector
  monkeypatch.setattr(gp_mod, "_fit_jit", jax.jit(chex.assert_max_traces(
      gp_mod._fit_jit.__wrapped__, n=1)))
  monkeypatch.setattr(vector, "_force_batch_jit", jax.jit(chex.assert_max_traces(
      vector._force_batch_jit.__wrapped__, n=1), static_argnames=("n_groups",)))
  enc = encoding_from_bounds([[0, 1]] * 3)
  cfg = BreatheConfig(raw_samples=64, restarts=2, gobi_steps=3)
  drv = Breathe(enc, [1.5, 4.0], 24, 0, cfg)
  while drv.n < 24:
    for feat in drv.ask():
      drv.tell(feat, *_toy(enc.decode(feat)))
  assert drv.n == 24


def _toy(x):
  x = np.asarray(x, np.float64)
  return np.array([x[0], 1 - np.sqrt(x[0]) + 2 * x[1] + x[2]]), np.array([0.8 - x[1] - x[2]])


def test_constraints_steer_the_search_into_a_small_feasible_region():
  # feasible only when x1 + x2 >= 0.8 (18 % of the cube); after the Sobol start BREATHE's
  # proposals should be feasible far more often than random ones
  enc = encoding_from_bounds([[0, 1]] * 3)
  drv = minimise(lambda f: _toy(f), enc, [1.5, 6.0], budget=16, seed=0,
                 config=BreatheConfig(n_init=6, gobi_steps=15))
  g = np.stack(drv.g)[6:, 0]
  assert np.mean(g <= 0) >= 0.7
  feas = pareto.feasible_mask(np.stack(drv.g))
  # constraints are outputs: feasibility is decided by the measured values only
  np.testing.assert_array_equal(feas, np.stack(drv.g)[:, 0] <= 0)


def test_breathe_beats_sobol_random_at_equal_budget():
  from jaxcodesign.problems import evaluate_batch, get_problem
  p = get_problem("zdt1", dim=3)
  enc = encoding_from_bounds(p.bounds)
  ev = lambda f: (evaluate_batch(p, [f])[0][0], np.zeros(0))
  drv = minimise(ev, enc, p.ref_point, budget=20, seed=0, config=BreatheConfig(gobi_steps=15))
  hv = pareto.hypervolume(np.stack(drv.f), p.ref_point)
  rnd = [pareto.hypervolume(evaluate_batch(p, initial_design(s, enc, 20))[0], p.ref_point)
         for s in range(5)]
  assert hv > max(rnd)
  assert hv <= p.max_hv


def test_launcher_resume_after_kill_is_identical(tmp_path):
  from launch import breathe as L
  prob = tmp_path / "prob.py"
  prob.write_text("bounds = [[0, 1], [0, 1], [0, 4]]\nref_point = [1.5, 6.0]\nintegers = [2]\n"
                  "def evaluate(x):\n  return [x[0], 1 - x[0] ** 0.5 + 2 * x[1] + 0.3 * x[2]]\n"
                  "def constraints(x):\n  return [0.3 - x[1] - x[0]]\n")
  problem = L.load_problem(str(prob))
  kw = dict(budget=11, seed=3, q=2, n_init=5, plots=False)
  full = L.run(problem, output=tmp_path / "full.json", workdir=tmp_path / "w1", **kw)
  with pytest.raises(KeyboardInterrupt):
    L.run(problem, output=tmp_path / "part.json", workdir=tmp_path / "w2", stop_after=6, **kw)
  assert len(json.loads((tmp_path / "w2" / "state.json").read_text())["evaluations"]) == 6
  resumed = L.run(problem, output=tmp_path / "part.json", workdir=tmp_path / "w2", **kw)
  assert resumed["evaluations"] == full["evaluations"]
  assert len(full["evaluations"]) == 11
  for e in full["evaluations"]:
    assert float(e["x"][2]).is_integer() and 0 <= e["x"][2] <= 4
    assert e["feasible"] == (0.3 - e["x"][1] - e["x"][0] <= 0)
  on_disk = json.loads((tmp_path / "full.json").read_text())
  assert on_disk["hv_trace"] == sorted(on_disk["hv_trace"])  # monotone
  assert all(on_disk["evaluations"][p["index"]]["feasible"] for p in on_disk["pareto_set"])
  with pytest.raises(ConfigError, match="different settings"):
    L.run(problem, output=tmp_path / "x.json", workdir=tmp_path / "w2", **dict(kw, seed=4))


@pytest.mark.parametrize("q", [1, 4])
def test_launcher_never_evaluates_a_point_twice_and_stops_when_a_finite_space_is_exhausted(tmp_path, q):
  from launch import breathe as L
  prob = tmp_path / "tiny.py"
  prob.write_text("bounds = [[0, 2], [0, 2], [5, 5]]\nintegers = [0, 1]\nref_point = [5.0, 5.0]\n"
                  "def evaluate(x):\n  return [x[0], 2 - x[0] + x[1]]\n")
  res = L.run(L.load_problem(str(prob)), budget=20, seed=0, output=tmp_path / "o.json", q=q,
              plots=False)
  xs = [tuple(e["x"]) for e in res["evaluations"]]
  # the 3 x 3 grid (the third dimension is fixed), each point once, then the run stops
  assert sorted(xs) == [(a, b, 5.0) for a in (0.0, 1.0, 2.0) for b in (0.0, 1.0, 2.0)]
  assert res["space_exhausted"]
  # front (0, 2), (1, 1), (2, 0) against (5, 5): 5 * 3 + 4 * 1 + 3 * 1 = 22 (by hand)
  assert res["hypervolume"] == pytest.approx(22.0)
  enc = encoding_from_bounds([[0, 6], [0, 1]], [0])
  assert enc.num_points is None and encoding_from_bounds([[0, 6], [0, 0]], [0]).num_points == 7
  assert encoding_from_space(_space()).num_points is None  # a BoxSpace part: size() is math.inf
  assert encoding_from_space(ProductSpace({"n": IntegerSpace([0, 2], [4, 3]), "c": CategoricalSpace(
      ["relu", "gelu", "silu"])})).num_points == 5 * 2 * 3
  init = initial_design(0, enc, 12)  # 7 levels x a continuous dim: distinct rows despite rounding
  assert len({r.tobytes() for r in init}) == init.shape[0] == 12


def test_problem_file_validation(tmp_path):
  from launch import breathe as L
  cases = {
      "ref_point = [1]\ndef evaluate(x): return [0]\n": "missing field 'bounds'",
      "bounds = [[0, 1, 2]]\nref_point = [1]\ndef evaluate(x): return [0]\n": "bounds",
      "bounds = [[1, 0]]\nref_point = [1]\ndef evaluate(x): return [0]\n": "low > high",
      "bounds = [[0, 1]]\nref_point = [1]\nintegers = [3]\ndef evaluate(x): return [0]\n": "integers",
  }
  for i, (text, msg) in enumerate(cases.items()):
    f = tmp_path / f"p{i}.py"
    f.write_text(text)
    with pytest.raises(ConfigError, match=msg):
      L.load_problem(str(f))
  f = tmp_path / "nan.py"
  f.write_text("bounds = [[0, 1]]\nref_point = [1, 1]\ndef evaluate(x): return [0.0, float('nan')]\n")
  with pytest.raises(ConfigError, match="NaN"):
    L.load_problem(str(f)).evaluate(np.array([0.5]))
  f.write_text("bounds = [[0, 1]]\nref_point = [1, 1]\ndef evaluate(x): return [0.0]\n")
  with pytest.raises(ConfigError, match="returned 1 values; expected 2"):
    L.load_problem(str(f)).evaluate(np.array([0.5]))
  with pytest.raises(ConfigError, match="budget"):
    Breathe(encoding_from_bounds([[0, 1]]), [1.0], budget=0, seed=0)


def test_gbreathe_queries_unique_legal_graphs_and_beats_random_on_proteins():
  from jaxcodesign.problems.nas_bench_graph import NasBenchGraph
  from jaxcodesign.search.breathe.graph import GBreatheConfig, gbreathe
  p = NasBenchGraph("proteins")
  cfg = GBreatheConfig(n_init=8, q=8, crossovers=40, randoms=100)
  best, rnd = [], []
  for seed in range(2):
    rows = gbreathe(p, "accuracy", 32, seed, cfg)
    assert len(rows) == len(set(rows)) == 32 and all(0 <= r < p.size for r in rows)
    best.append(p.valid_perf[rows].max())
    rnd.append(np.mean([p.valid_perf[np.random.default_rng(100 * seed + s).choice(p.size, 32, False)]
                        .max() for s in range(20)]))
  assert np.mean(best) > np.mean(rnd)


def _cnnbench_params_gap(space, calls):
  """|log10(parameters) - 5|: a cheap objective whose optimum is neither the smallest nor the
  largest network (parameters counted by infer_shapes, an independent code path)."""
  def evaluate(point):
    calls.append(space.hash(point))
    return [abs(np.log10(sum(r.params for r in space.infer_shapes(point))) - 5.0)]
  return evaluate


def test_gbreathe_on_cnnbench_evaluates_unique_legal_points_once_and_beats_random():
  from jaxcodesign.problems.space_graph import SpaceGraphProblem
  from jaxcodesign.search.breathe.graph import GBreatheConfig, gbreathe
  from jaxcodesign.spaces.cnnbench import CNNBenchSpace
  space = CNNBenchSpace(max_modules=8)
  cfg = GBreatheConfig(n_init=8, q=4, crossovers=40, randoms=60)
  best, rnd = [], []
  for seed in range(2):
    calls = []
    evaluate = _cnnbench_params_gap(space, calls)
    problem = SpaceGraphProblem(space, evaluate)
    rows = gbreathe(problem, "all", 24, seed, cfg)
    points = problem.points_of(rows)
    hashes = [space.hash(p) for p in points]
    assert len(rows) == 24 and len(set(hashes)) == 24
    assert all(space.validate(p) == p for p in points)
    best.append(problem.objectives(rows).min())  # the last round's q points are evaluated here
    assert sorted(calls) == sorted(hashes)  # the user's evaluate ran exactly once per query
    rnd.append(np.mean([min(evaluate(p)[0] for p in space.sample(1000 * seed + s, 24))
                        for s in range(20)]))
  assert np.mean(best) < np.mean(rnd)


def test_space_graph_mutation_and_crossover_are_legal_and_inherit_from_parents():
  from jaxcodesign.problems.space_graph import SpaceGraphProblem
  from jaxcodesign.spaces.cnnbench import CNNBenchSpace
  space = CNNBenchSpace(max_modules=8)
  problem = SpaceGraphProblem(space, lambda p: [0.0])
  rng = np.random.default_rng(0)
  rows = problem.random(rng, 12)
  moved = 0
  for a, b in zip(rows[:-1], rows[1:]):
    m = problem.mutate(rng, a)
    if m is not None:
      moved += 1
      child = problem.points[m]
      assert space.validate(child) == child and space.hash(child) != space.hash(problem.points[a])
    c = problem.crossover(rng, a, b)
    assert problem.crossover(rng, a, a) is None  # the midpoint of a point with itself is itself
    if c is not None:
      pa, pb, pc = (problem.points[r]["modules"] for r in (a, b, c))
      assert space.validate(problem.points[c]) == problem.points[c]
      assert len(pc) in (len(pa), len(pb))  # number of stacks from one parent
      assert pc[-1]["labels"][1] in (pa[-1]["labels"][1], pb[-1]["labels"][1])  # head flatten op
  assert moved >= 8
  with pytest.raises(ConfigError, match="objective"):
    problem.objectives(rows, "accuracy")
  bad = SpaceGraphProblem(space, lambda p: [float("nan")])
  with pytest.raises(ConfigError, match="finite"):
    bad.objectives(bad.random(rng, 1))
  with pytest.raises(ConfigError, match="ref_point"):
    SpaceGraphProblem(space, lambda p: [0.0, 1.0]).reference()


def test_codesign_method_breathe_returns_legal_pairs_and_a_pareto_front(tmp_path, fixtures_dir):
  from jaxcodesign import codesign
  cfg = codesign.load_config("transcode_sst2_table")
  cfg.oracle.table_path = str(fixtures_dir / "flexibert_small" / "library.jsonl")
  cfg.budget = 7
  cfg.search.init_design = 3
  cfg.accelerator_sweep = 16
  cfg.methods = ("breathe",)
  res = codesign.run(cfg, tmp_path, progress=False)
  ents = res["evaluations"]["breathe"]
  assert len(ents) == 7 and {e["kind"] for e in ents} == {"breathe"}
  exp = codesign.build_experiment(cfg)
  hashes = {exp.pair_space.hash({"model": e["model"], "hw": e["hw"]}) for e in ents}
  assert len(hashes) == 7  # unique, legal pairs (hash validates both halves)
  costs = np.array([[e["metrics"][k] for k in codesign.PARETO_METRICS] for e in ents
                    if e["metrics"]["fits"]])
  front = res["pareto_set"]
  assert 1 <= len(front) == int(pareto.pareto_mask(costs).sum())


def test_proposal_runs_with_one_blas_thread_and_restores_it(monkeypatch):
  # jaxlib's CPU Cholesky calls scipy's OpenBLAS; its spinning idle threads nearly doubled the CPU
  # time of a BREATHE run (18.6 vs 10.7 CPU s measured). The user's own limit is restored after.
  import threadpoolctl
  from jaxcodesign.search.breathe import vector
  seen = []
  real_fit = vector.fit_gp

  def spy(*a, **k):
    seen.append({i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()
                 if i["user_api"] == "blas"})
    return real_fit(*a, **k)

  monkeypatch.setattr(vector, "fit_gp", spy)
  enc = encoding_from_bounds([[0, 1], [0, 1]])
  with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
    minimise(lambda f: (np.array([f[0], 1 - f[0] + f[1]]), np.zeros(0)), enc, [1.5, 2.5], budget=8,
             seed=0, config=BreatheConfig(n_init=6, gobi_steps=3))
    after = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()
             if i["user_api"] == "blas"}
  assert len(seen) == 2 and seen[0]
  assert all(n == 1 for d in seen for n in d.values())
  assert all(n == 2 for n in after.values())
