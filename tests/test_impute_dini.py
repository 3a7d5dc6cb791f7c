"""DINI: observed cells never move, determinism, no recompiles across rounds, better than the mean
fill on a table with structure, categorical columns imputed as categories, the forward surrogate
predicts outputs, and the scikit-learn estimator checks that apply."""

import jax
import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import estimator_checks as ec

from jaxcodesign.errors import ConfigError, DataError
from jaxcodesign.impute import DINIImputer, corrupt, dini

TINY = dict(hidden=16, layers=1, rounds=3, train_steps=30, invert_steps=5, mc_samples=2, patience=5)


def _table(n=120, seed=0):
  """y = sin(3 a) + b^2 + c: inputs a, b, c (c binary), output y; in non-unit scales."""
  rng = np.random.default_rng(seed)
  a, b = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
  c = rng.integers(0, 2, n).astype(float)
  y = np.sin(3 * a) + b ** 2 + c
  return np.stack([10 * a + 5, b, c, 100 * y], axis=1)


@pytest.fixture(scope="module")
def fitted():
  x = _table()
  c = corrupt.corrupt(jax.random.key(0), x, "mcar", 0.15)
  res = dini.fit_dini(jax.random.key(1), c.x_missing, 1, dini.DINIConfig(**TINY))
  return x, c, res


def test_observed_cells_unchanged_and_within_range(fitted):
  x, c, res = fitted
  np.testing.assert_array_equal(res.imputed[~c.mask], x[~c.mask])     # exact, not approx
  assert np.isfinite(res.imputed).all()
  lo, hi = np.nanmin(c.x_missing, 0), np.nanmax(c.x_missing, 0)
  assert (res.imputed >= lo - 1e-9).all() and (res.imputed <= hi + 1e-9).all()
  assert (res.std[c.mask] >= 0).all() and (res.std[~c.mask] == 0).all()
  # early stopping looked at observed validation cells only: its history has one entry per round
  assert [h["round"] for h in res.state.history][:2] == [0, 1]


def test_better_than_mean_fill(fitted):
  x, c, res = fitted
  mean = SimpleImputer().fit_transform(c.x_missing)
  span = x.max(0) - x.min(0)
  rm = lambda z: np.sqrt(np.mean(((z - x) / span)[c.mask] ** 2))
  assert rm(res.imputed) < 0.9 * rm(mean)


def test_deterministic_given_seed_and_no_recompile(fitted):
  x, c, res = fitted
  before = dini._train_round._cache_size(), dini._invert_round._cache_size()
  again = dini.fit_dini(jax.random.key(1), c.x_missing, 1, dini.DINIConfig(**TINY))
  np.testing.assert_array_equal(again.imputed, res.imputed)
  # same shapes: no new compilation across rounds or fits
  assert (dini._train_round._cache_size(), dini._invert_round._cache_size()) == before
  other = dini.fit_dini(jax.random.key(2), c.x_missing, 1, dini.DINIConfig(**TINY))
  assert not np.array_equal(other.imputed, res.imputed)


def test_categorical_column_imputed_as_a_category():
  rng = np.random.default_rng(0)
  n = 100
  cat = rng.integers(0, 3, n).astype(float) * 2 + 1     # levels 1, 3, 5
  a = cat + 0.1 * rng.normal(size=n)
  x = np.stack([a, cat, a * 2], axis=1)
  xm = x.copy()
  xm[::7, 1] = np.nan
  res = dini.fit_dini(jax.random.key(0), xm, 1, dini.DINIConfig(**TINY),
                      column_types=["continuous", "categorical", "continuous"])
  assert set(np.unique(res.imputed[:, 1])) <= {1.0, 3.0, 5.0}
  assert np.mean(res.imputed[::7, 1] == cat[::7]) > 0.6   # a predicts the category


def test_forward_surrogate_predicts_outputs(fitted):
  x, _, res = fitted
  new = _table(200, seed=5)
  pred = dini.forward_predict(res.state, new[:, :3])
  assert pred.shape == (200, 1)
  err = np.sqrt(np.mean((pred[:, 0] - new[:, 3]) ** 2))
  assert err < 0.8 * new[:, 3].std()                   # better than predicting the mean


def test_bad_input():
  with pytest.raises(DataError, match="column 2 has no observed cell"):
    dini.fit_dini(jax.random.key(0), np.array([[1.0, np.nan], [2.0, np.nan]]), 1)
  with pytest.raises(ConfigError, match="n_outputs"):
    dini.fit_dini(jax.random.key(0), np.ones((4, 3)), 3)
  with pytest.raises(ConfigError, match="dropout"):
    dini.DINIConfig(dropout=1.5).validate()


def test_pipeline_and_transform_new_rows(fitted):
  x, c, _ = fitted
  imp = DINIImputer(**TINY)
  pipe = Pipeline([("impute", DINIImputer(**TINY)), ("reg", LinearRegression())])
  pipe.fit(c.x_missing[:, :3], x[:, 3])
  manual = LinearRegression().fit(imp.fit_transform(c.x_missing[:, :3]), x[:, 3])
  np.testing.assert_allclose(pipe.named_steps["reg"].coef_, manual.coef_, rtol=1e-6)
  new = _table(30, seed=9)[:, :3]
  new[::3, 0] = np.nan
  out = imp.transform(new)
  np.testing.assert_array_equal(out[~np.isnan(new)], new[~np.isnan(new)])
  assert np.isfinite(out).all()
  assert imp.column_uncertainty_.shape == (3,)
  # every DINIConfig field is an estimator parameter with the same default
  import dataclasses
  defaults = DINIImputer().get_params()
  for f in dataclasses.fields(dini.DINIConfig):
    assert defaults[f.name] == f.default, f.name


CHECKS = [ec.check_no_attributes_set_in_init, ec.check_parameters_default_constructible,
          ec.check_get_params_invariance, ec.check_set_params, ec.check_dont_overwrite_parameters,
          ec.check_estimators_overwrite_params, ec.check_fit_check_is_fitted,
          ec.check_n_features_in, ec.check_transformer_general, ec.check_fit_idempotent,
          ec.check_estimators_pickle, ec.check_transformer_data_not_an_array,
          ec.check_fit2d_predict1d, ec.check_estimators_empty_data_messages,
          ec.check_estimators_dtypes, ec.check_transformer_n_iter if hasattr(ec, "check_transformer_n_iter") else None]


@pytest.mark.parametrize("check", [c for c in CHECKS if c is not None], ids=lambda c: c.__name__)
def test_sklearn_estimator_checks(check):
  check("DINIImputer", DINIImputer(**TINY))


def test_stacked_blend_weights_on_validation_cells():
  """The blend of (DINI, start fill, ExtraTrees fill) is chosen on the simplex grid: on a table
  whose second column is a step function of the first (trees fit it, BayesianRidge cannot) the
  trees get weight, and the stacked result beats the two-way blend without them."""
  g = dini._simplex_grid(3)
  assert g.shape == (66, 3) and np.allclose(g.sum(1), 1) and len(np.unique(g, axis=0)) == 66
  np.testing.assert_array_equal(g[0], [1, 0, 0])        # ties keep the most DINI weight
  rng = np.random.default_rng(3)
  n = 400
  a = rng.uniform(0, 1, n)
  step = np.floor(4 * a) + 0.05 * rng.normal(size=n)    # four plateaus
  x = np.stack([a, step, rng.uniform(0, 1, n), a + step], axis=1)
  c = corrupt.corrupt(jax.random.key(4), x, "mcar", 0.15)
  cfg = dict(TINY, val_fraction=0.15)
  res = dini.fit_dini(jax.random.key(5), c.x_missing, 1, dini.DINIConfig(**cfg))
  two = dini.fit_dini(jax.random.key(5), c.x_missing, 1, dini.DINIConfig(**cfg, stack=()))
  w = np.asarray(res.state.weights)
  assert w.shape == (3,) and np.isclose(w.sum(), 1) and w[2] > 0
  assert res.state.stack_models[0] is not None and len(two.state.weights) == 2
  span = x.max(0) - x.min(0)
  rm = lambda z: np.sqrt(np.mean(((z - x) / span)[c.mask] ** 2))
  assert rm(res.imputed) < rm(two.imputed)
  off = dini.fit_dini(jax.random.key(5), c.x_missing, 1, dini.DINIConfig(**cfg, blend=False))
  assert off.state.weights == (1.0, 0.0, 0.0)
  # new rows: the fitted trees fill joins the blend (observed cells exact)
  new = x[:40].copy()
  new[::4, 1] = np.nan
  out = dini.impute_new(res.state, new).imputed
  np.testing.assert_array_equal(out[~np.isnan(new)], new[~np.isnan(new)])
  assert np.sqrt(np.mean((out[::4, 1] - x[:40:4, 1]) ** 2)) < 0.5 * x[:, 1].std()
  for bad in (("iterative",), ("trees", "trees"), "trees", ("forest",)):
    with pytest.raises(ValueError, match="field .stack."):
      dini.DINIConfig(stack=bad).validate()
