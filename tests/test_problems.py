"""Shipped multi-objective problems vs BoTorch's published reference points and maximum hypervolumes.

The constants come from BoTorch's ``botorch/test_functions/multi_objective.py``; here each maximum
hypervolume is checked against an INDEPENDENT value: the hypervolume of a dense sample of the
analytic Pareto front (ZDT, DTLZ2, C2-DTLZ2), or of a dense grid of the function itself (BraninCurrin,
VehicleSafety), computed with moocore.
"""

import math

import jax
import jax.numpy as jnp
import moocore
import numpy as np
import pytest

from jaxcodesign.errors import ConfigError
from jaxcodesign.problems import PROBLEMS, evaluate_batch, get_problem


def _hv(f, ref):
  f = np.asarray(f, np.float64)
  f = f[np.all(f < ref, 1)]
  return moocore.hypervolume(f, ref=ref)


def _front_x(dim, t, rest=0.0):
  x = np.full((len(t), dim), rest)
  x[:, 0] = t
  return x


@pytest.mark.parametrize("name,expected", [("zdt1", 120 + 2 / 3), ("zdt2", 120 + 1 / 3),
                                           ("zdt3", 128.77811613069076)])
def test_zdt_max_hv_from_the_analytic_front(name, expected):
  p = get_problem(name)
  assert p.max_hv == pytest.approx(expected) and p.ref_point.tolist() == [11.0, 11.0]
  # the Pareto set of ZDT is x_1.. = 0 (g = 1); evaluate our JAX function on a dense sweep of x_0
  f, _ = evaluate_batch(p, _front_x(p.dim, np.linspace(0, 1, 20001)))
  assert _hv(f, p.ref_point) == pytest.approx(expected, rel=2e-4)


def test_dtlz2_max_hv_is_the_cube_minus_the_ball():
  p = get_problem("dtlz2")
  assert p.max_hv == pytest.approx(1.1 ** 2 - math.pi / 4)
  f, _ = evaluate_batch(p, _front_x(p.dim, np.linspace(0, 1, 20001), rest=0.5))
  np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, rtol=1e-5)  # the unit circle
  assert _hv(f, p.ref_point) == pytest.approx(p.max_hv, rel=2e-4)


def test_c2dtlz2_feasible_front_hv():
  p = get_problem("c2dtlz2")
  f, g = evaluate_batch(p, _front_x(p.dim, np.linspace(0, 1, 40001), rest=0.5))
  assert g.shape == (40001, 1)
  feas = g[:, 0] <= 0
  assert 0 < feas.mean() < 1  # the constraint cuts the circle into feasible arcs
  assert _hv(f[feas], p.ref_point) == pytest.approx(0.3996406303723544, rel=2e-3)


def test_branin_currin_values_and_grid_hv():
  p = get_problem("branin_currin")
  # Branin's three global minima 0.397887 (at (-pi, 12.275), (pi, 2.275), (9.42478, 2.475) in the
  # original box [-5, 10] x [0, 15]); our inputs are rescaled to [0, 1]^2
  opt = np.array([[-math.pi, 12.275], [math.pi, 2.275], [9.42478, 2.475]])
  x = np.stack([(opt[:, 0] + 5) / 15, opt[:, 1] / 15], 1)
  f, _ = evaluate_batch(p, x)
  np.testing.assert_allclose(f[:, 0], 0.397887, atol=2e-4)
  # Currin at (0.5, 0.5), by hand: (1 - e^-1) * (2300/8 + 1900/4 + 1046 + 60) / (100/8 + 125 + 2 + 20)
  currin = (1 - math.exp(-1)) * (287.5 + 475 + 1046 + 60) / (12.5 + 125 + 2 + 20)
  assert float(evaluate_batch(p, [[0.5, 0.5]])[0][0, 1]) == pytest.approx(currin, rel=1e-5)
  g = np.linspace(1e-4, 1, 400)
  xx = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
  f, _ = evaluate_batch(p, xx)
  # BoTorch's value is "approximated using NSGA-II". A grid's points are feasible designs, so their
  # hypervolume can only under-estimate the front's: at most max_hv, and a 400 x 400 grid is within
  # 2 % of it (58.74 of 59.36 on a quiet machine).
  hv = _hv(f, p.ref_point)
  assert 0.98 * p.max_hv <= hv <= p.max_hv * (1 + 1e-6)


def test_vehicle_safety_values_and_grid_hv():
  p = get_problem("vehicle_safety")
  f, _ = evaluate_batch(p, [[1.0] * 5])
  # f1 at x = 1: the intercept plus the sum of the linear coefficients (by hand)
  assert f[0, 0] == pytest.approx(1640.2823 + 2.3573285 + 2.3220035 + 4.5688768 + 7.7213633
                                  + 4.4559504, rel=1e-6)
  g = np.linspace(1, 3, 13)
  xx = np.stack(np.meshgrid(*[g] * 5), -1).reshape(-1, 5)
  f, _ = evaluate_batch(p, xx)
  # BoTorch's maximum comes from Tanabe & Ishibuchi's approximate front; a 13^5 grid is within 2 %
  hv = _hv(f, p.ref_point)
  assert hv <= p.max_hv * 1.001
  assert hv == pytest.approx(p.max_hv, rel=2e-2)


def test_disc_brake_constraint_signs():
  p = get_problem("disc_brake")
  assert p.num_constraints == 4 and p.max_hv is None
  # x2 - x1 - 20 <= 0 is BoTorch's first slack negated: at x1 = 55, x2 = 110 the slack is 35 > 0
  _, g = evaluate_batch(p, [[55.0, 110.0, 2000.0, 15.0]])
  assert g[0, 0] == pytest.approx(-(110 - 55 - 20.0))


def test_every_problem_is_jittable_and_unknown_names_fail():
  for name in PROBLEMS:
    p = get_problem(name)
    x = jnp.asarray(p.bounds.mean(1), jnp.float32)
    assert jax.jit(p.evaluate)(x).shape == (p.num_objectives,)
  with pytest.raises(ConfigError, match="zdt1"):
    get_problem("zdt9")


@pytest.mark.parametrize("dataset", ["cora", "proteins"])
def test_nas_bench_graph_canonical_decode_round_trips_through_the_package_hash(dataset):
  from nas_bench_graph import Arch, light_read
  from jaxcodesign.problems.nas_bench_graph import NasBenchGraph
  p = NasBenchGraph(dataset)
  table = light_read(dataset)
  assert p.size == len(table) == (2021 if dataset == "proteins" else 26206)
  for i in range(0, p.size, max(1, p.size // 300)):
    arch = Arch(list(p.links[p.link_idx[i]]), [p.ops[o] for o in p.op_idx[i]])
    assert arch.valid_hash() == p.keys[i]          # the package's canonicaliser, not ours
    assert table[int(p.keys[i])]["valid_perf"] == p.valid_perf[i]
  # skip ops merge graphs: one gcn and three skips is the same network whatever the links
  skip, gcn = p.ops.index("skip"), p.ops.index("gcn")
  same = {p.canonical(link, ops) for link, ops in
          [(0, [skip, skip, skip, gcn]), (8, [gcn, skip, skip, skip]), (5, [skip, skip, gcn, skip])]}
  assert len(same) == 1 and None not in same
  rng = np.random.default_rng(0)
  kids = [p.mutate(rng, 3) for _ in range(30)] + [p.crossover(rng, 3, 7) for _ in range(30)]
  assert all(k is None or 0 <= k < p.size for k in kids)
  g = p.graphs([0, 1])
  assert g.n_node.tolist() == [6, 6] and g.nodes.shape == (12, len(p.ops) + 2)
  ref = p.reference()
  assert ref[0] == pytest.approx(1 - np.median(p.valid_perf)) and ref[1] == np.median(p.latency)
