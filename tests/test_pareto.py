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
