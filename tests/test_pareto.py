"""Pareto mask and exact hypervolume vs brute force / Monte Carlo."""

import numpy as np
import pytest

from jaxcodesign.errors import ConfigError
from jaxcodesign.search import pareto


def _brute_mask(c):
  n = len(c)
  out = np.ones(n, bool)
  for j in range(n):
    for i in range(n):
      if np.all(c[i] <= c[j]) and np.any(c[i] < c[j]):
        out[j] = False
  return out


@pytest.mark.parametrize("m", [2, 3])
def test_pareto_mask_matches_brute_force(m):
  rng = np.random.default_rng(m)
  c = rng.integers(0, 6, size=(60, m)).astype(float)  # ties on purpose
  np.testing.assert_array_equal(pareto.pareto_mask(c), _brute_mask(c))


def test_maximise_columns_are_negated():
  c = np.array([[1.0, 5.0], [2.0, 6.0], [0.5, 1.0]])
  # minimise col 0, maximise col 1: [2, 6] is not dominated by [1, 5]
  assert pareto.pareto_mask(c, [True, False]).tolist() == [True, True, True]
  assert pareto.pareto_mask(c).tolist() == [False, False, True]
  front, idx = pareto.pareto_front(c)
  assert idx.tolist() == [2] and front.shape == (1, 2)


def test_hypervolume_2d_exact():
  front = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
  # staircase against (4, 4): 3*1 + 2*1 + 1*1 = 6
  assert pareto.hypervolume(front, [4.0, 4.0]) == pytest.approx(6.0)
  # dominated and outside points do not change it
  more = np.vstack([front, [[3.5, 3.5], [5.0, 0.0]]])
  assert pareto.hypervolume(more, [4.0, 4.0]) == pytest.approx(6.0)


@pytest.mark.parametrize("m", [3, 4])
def test_hypervolume_matches_monte_carlo(m):
  rng = np.random.default_rng(10 + m)
  pts = rng.uniform(0, 1, size=(12, m))
  ref = np.ones(m) * 1.1
  exact = pareto.hypervolume(pts, ref)
  samples = rng.uniform(0, 1.1, size=(200_000, m))
  dominated = np.zeros(len(samples), bool)
  for p in pts:
    dominated |= np.all(samples >= p, axis=1)
  mc = dominated.mean() * 1.1 ** m
  se = np.sqrt(dominated.mean() * (1 - dominated.mean()) / len(samples)) * 1.1 ** m
  assert abs(exact - mc) < 5 * se + 1e-9


def test_hypervolume_maximisation_and_errors():
  front = np.array([[1.0, 3.0], [3.0, 1.0]])
  hv_min = pareto.hypervolume(front, [4.0, 4.0])
  hv_max = pareto.hypervolume(-front, [-4.0, -4.0], minimise=[False, False])
  assert hv_min == pytest.approx(hv_max) == pytest.approx(5.0)
  with pytest.raises(ConfigError, match="reference"):
    pareto.hypervolume(front, [1.0, 2.0, 3.0])
  with pytest.raises(ConfigError, match="minimise"):
    pareto.pareto_mask(front, [True])


def test_hypervolume_of_a_quarter_circle_matches_the_analytic_area():
  # independent value: the region dominated by the unit quarter circle inside [0, 1.1]^2 is
  # 1.1^2 - pi/4 (DTLZ2's maximum hypervolume); a dense front approaches it from below.
  t = np.linspace(0, np.pi / 2, 20001)
  front = np.stack([np.cos(t), np.sin(t)], 1)
  hv = pareto.hypervolume(front, [1.1, 1.1])
  assert hv < 1.21 - np.pi / 4
  assert hv == pytest.approx(1.21 - np.pi / 4, rel=1e-4)


def test_hypervolume_of_boxes_in_4d_by_inclusion_exclusion():
  # two points: HV = vol(a) + vol(b) - vol(max(a, b)) against the reference (hand formula)
  a, b, r = np.array([1.0, 2, 3, 1]), np.array([2.0, 1, 1, 3]), np.full(4, 4.0)
  vol = lambda p: float(np.prod(r - p))
  assert pareto.hypervolume(np.stack([a, b]), r) == pytest.approx(vol(a) + vol(b) - vol(np.maximum(a, b)))


def test_feasible_mask_and_trace():
  g = np.array([[-1.0, 0.0], [0.5, -1.0], [np.nan, -1.0], [-2.0, -3.0]])
  assert pareto.feasible_mask(g).tolist() == [True, False, False, True]
  assert pareto.feasible_mask(None, 3).tolist() == [True] * 3
  f = np.array([[3.0, 1.0], [0.0, 0.0], [1.0, 3.0], [2.0, 2.0]])
  trace = pareto.hypervolume_trace(f, [4.0, 4.0], pareto.feasible_mask(g))
  # rows 1 and 2 (0-based) are infeasible and never count. By hand against (4, 4):
  # HV({[3,1]}) = 1 * 3 = 3; HV({[3,1], [2,2]}) = 3 + (3 - 2) * (4 - 2) = 5
  np.testing.assert_allclose(trace, [3.0, 3.0, 3.0, 5.0])


@pytest.mark.parametrize("m", [2, 3, 4])
def test_nondominated_boxes_partition_the_complement_and_give_exact_hvi(m):
  rng = np.random.default_rng(m)
  pts = rng.uniform(0, 1, size=(9, m))
  r = np.full(m, 1.2)
  lo, up = pareto.nondominated_boxes(pts, r, lower=0.0)
  assert np.all(up > lo)
  # the boxes and the dominated region tile [0, r]: volumes add up
  assert np.prod(up - lo, 1).sum() + pareto.hypervolume(pts, r) == pytest.approx(1.2 ** m)
  for y in rng.uniform(0, 1.2, size=(5, m)):
    hvi = np.prod(np.clip(up - np.maximum(y, lo), 0, None), 1).sum()
    ref = pareto.hypervolume(np.vstack([pts, y]), r) - pareto.hypervolume(pts, r)
    assert hvi == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("m", [3, 4])
@pytest.mark.parametrize("ties", [False, True])
def test_sweep_and_slab_boxes_are_few_and_match_the_grid(m, ties):
  # the sweep (m = 3) and slab (m >= 4) decompositions against the grid one (an independent
  # construction of the same region): same volume and hypervolume improvement everywhere, at most
  # 2 k + 1 boxes for m = 3 and (k + 1)^2 for m = 4 (the grid has (k + 1)^(m - 1))
  rng = np.random.default_rng(7 + ties + 10 * m)
  for _ in range(20 if m == 3 else 8):
    k = int(rng.integers(1, 40 if m == 3 else 20))
    if ties:  # integer coordinates: repeated values, points dominated only in some projections
      pts = rng.integers(0, 4, size=(k, m)).astype(float)
      r = np.full(m, 4.5)
    else:
      z = np.abs(rng.normal(size=(k, m)))
      pts = 1.0 - z / np.linalg.norm(z, axis=1, keepdims=True)
      r = np.full(m, 1.1)
    front = pts[pareto.pareto_mask(pts)]
    lo, up = pareto.nondominated_boxes(pts, r, lower=-1.0)
    glo, gup = pareto._boxes_grid(front, r, -1.0)
    assert lo.shape[0] <= (2 * front.shape[0] + 1 if m == 3 else (front.shape[0] + 1) ** 2)
    assert np.all(up > lo)
    assert np.prod(up - lo, 1).sum() == pytest.approx(np.prod(gup - glo, 1).sum(), rel=1e-12)
    assert np.prod(up - lo, 1).sum() + pareto.hypervolume(pts, r) == pytest.approx(
        np.prod(r + 1.0), rel=1e-12)
    for y in rng.uniform(-1.0, r[0], size=(5, m)):
      hvi = np.prod(np.clip(up - np.maximum(y, lo), 0, None), 1).sum()
      ghvi = np.prod(np.clip(gup - np.maximum(y, glo), 0, None), 1).sum()
      assert hvi == pytest.approx(ghvi, abs=1e-12)
