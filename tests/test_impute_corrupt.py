"""Corruption strategies: exact counts, per-column intercepts (against scipy's brentq), structure of
patches and streams, determinism given a key."""

import jax
import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import expit

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.impute import corrupt


def _table(n=400, d=8, seed=0):
  rng = np.random.default_rng(seed)
  z = rng.normal(size=(n, d))
  if d > 1:
    z[:, 1] = z[:, 0] + 0.1 * rng.normal(size=n)
  return z


@pytest.mark.parametrize("shape,p", [((400, 8), 0.1), ((37, 3), 0.25), ((5, 1), 0.4)])
def test_mcar_exact_count(shape, p):
  x = _table(*shape)
  c = corrupt.corrupt(jax.random.key(1), x, "mcar", p)
  assert c.mask.sum() == round(p * shape[0] * shape[1])
  assert np.isnan(c.x_missing).sum() == c.mask.sum()
  np.testing.assert_array_equal(c.x_missing[~c.mask], x[~c.mask])
  assert c.fraction == pytest.approx(c.mask.mean())


def test_bisection_per_column_matches_brentq():
  rng = np.random.default_rng(3)
  logits = rng.normal(size=(300, 4)) * np.array([0.5, 1.0, 3.0, 8.0]) + np.array([0., 2., -1., 5.])
  b = np.asarray(corrupt.bisect_intercepts(logits, 0.1))
  for j in range(4):
    ref = brentq(lambda t: expit(logits[:, j] + t).mean() - 0.1, -60, 60)
    assert b[j] == pytest.approx(ref, abs=1e-4)


def test_mar_keeps_half_observed_and_rate_per_column():
  x = _table(4000, 8)
  c = corrupt.corrupt(jax.random.key(2), x, "mar", 0.2)
  per_col = c.mask.mean(axis=0)
  assert (per_col == 0).sum() == 4          # d // 2 fully observed columns
  hit = per_col[per_col > 0]
  sd = np.sqrt(0.2 * 0.8 / 4000)
  assert np.all(np.abs(hit - 0.2) < 5 * sd)  # intercepts bisected per column to p
  assert c.fraction == pytest.approx(0.1, abs=0.01)   # realises about p / 2 overall


def test_mnar_self_masked_rate_and_dependence():
  x = _table(4000, 6)
  c = corrupt.corrupt(jax.random.key(4), x, "mnar", 0.1)
  sd = np.sqrt(0.1 * 0.9 / 4000)
  assert np.all(np.abs(c.mask.mean(axis=0) - 0.1) < 5 * sd)
  # self-masking: missingness depends on the cell's own value in at least most columns
  diffs = [abs(x[c.mask[:, j], j].mean() - x[~c.mask[:, j], j].mean()) for j in range(6)]
  assert np.median(diffs) > 0.2


def test_mpar_one_patch_is_a_5x5_block_and_never_exceeds_p():
  x = _table(10, 10)
  c = corrupt.corrupt(jax.random.key(5), x, "mpar", 0.25)   # floor(25 / 25) = 1 patch
  rows, cols = np.nonzero(c.mask)
  assert c.mask.sum() == 25 and np.ptp(rows) == 4 and np.ptp(cols) == 4
  for shape in [(1000, 10), (300, 7), (50, 3)]:
    c = corrupt.corrupt(jax.random.key(6), _table(*shape), "mpar", 0.1)
    assert 0 < c.fraction <= 0.1


def test_msar_streams_of_ten_rows_in_one_column():
  x = _table(100, 1)
  c = corrupt.corrupt(jax.random.key(7), x, "msar", 0.1)    # floor(10 / 10) = 1 stream
  rows = np.nonzero(c.mask[:, 0])[0]
  assert len(rows) == 10 and np.all(np.diff(rows) == 1)
  c = corrupt.corrupt(jax.random.key(7), _table(6, 3), "msar", 0.6)  # stream length min(10, n) = 6
  assert c.mask.sum(axis=0).max() == 6 and (c.mask.sum(axis=0) % 6 == 0).all()
  c = corrupt.corrupt(jax.random.key(8), _table(1000, 10), "msar", 0.1)
  assert 0.08 < c.fraction <= 0.1


@pytest.mark.parametrize("strategy", corrupt.STRATEGIES)
def test_deterministic_given_key(strategy):
  x = _table(200, 6)
  a = corrupt.corrupt(jax.random.key(11), x, strategy, 0.1).mask
  b = corrupt.corrupt(jax.random.key(11), x, strategy, 0.1).mask
  c = corrupt.corrupt(jax.random.key(12), x, strategy, 0.1).mask
  np.testing.assert_array_equal(a, b)
  assert (a != c).any()


def test_bad_arguments():
  with pytest.raises(SpaceError, match="strategy"):
    corrupt.corrupt(jax.random.key(0), _table(10, 2), "mcarr", 0.1)
  with pytest.raises(ConfigError, match="'p'"):
    corrupt.corrupt(jax.random.key(0), _table(10, 2), "mcar", 1.0)
