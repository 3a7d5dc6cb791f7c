"""scikit-learn compatible DINI imputer (``fit`` / ``transform`` / ``fit_transform``; usable in a
``sklearn.pipeline.Pipeline``)."""

from __future__ import annotations

import hashlib

import jax
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxcodesign.impute import dini

__all__ = ["DINIImputer"]


class DINIImputer(TransformerMixin, BaseEstimator):
  """DINI (Tuli & Jha, Sci. Rep. 2022) as a scikit-learn transformer; see :mod:`jaxcodesign.impute.dini`.

  Parameters:
    n_outputs: the last ``n_outputs`` columns are the forward surrogate's outputs (default 1).
    column_types: None (inferred: binary / ordinal / continuous) or a list of
      :data:`~jaxcodesign.impute.dini.COLUMN_TYPES` per column.
    random_state: int seed of the JAX PRNG key.
    The other parameters are the fields of :class:`~jaxcodesign.impute.dini.DINIConfig`.

  ``fit(X)`` imputes ``X`` (NaN = missing) while training the surrogates; ``transform(X)`` of the same
  ``X`` (identical values and NaN pattern) returns that imputation, so ``fit_transform(X) ==
  fit(X).transform(X)``; for other rows it runs the inversion through the fitted surrogates.
  Attributes after fit: ``n_features_in_``, ``state_`` (:class:`~jaxcodesign.impute.dini.DINIState`),
  ``uncertainty_`` (MC-dropout std of the imputed cells of the fit data, original units),
  ``column_uncertainty_`` (mean std of the imputed cells per column; NaN where nothing was missing).
  """

  def __init__(self, n_outputs=1, column_types=None, random_state=0, hidden=64, layers=2,
               dropout=0.1, rounds=12, train_steps=200, lr=3e-3, weight_decay=1e-4,
               invert_steps=20, invert_lr=2e-2, forward_weight=0.03, context_mask=0.3, impute_fraction=0.5,
               mc_samples=8, patience=3, val_fraction=0.05, init="iterative", stack=("trees",),
               blend=True, legacy=False):
    self.n_outputs = n_outputs
    self.column_types = column_types
    self.random_state = random_state
    self.hidden = hidden
    self.layers = layers
    self.dropout = dropout
    self.rounds = rounds
    self.train_steps = train_steps
    self.lr = lr
    self.weight_decay = weight_decay
    self.invert_steps = invert_steps
    self.invert_lr = invert_lr
    self.forward_weight = forward_weight
    self.context_mask = context_mask
    self.impute_fraction = impute_fraction
    self.mc_samples = mc_samples
    self.patience = patience
    self.val_fraction = val_fraction
    self.init = init
    self.stack = stack
    self.blend = blend
    self.legacy = legacy

  def _config(self) -> dini.DINIConfig:
    fields = [f.name for f in dini.dataclasses.fields(dini.DINIConfig)]
    kw = {k: getattr(self, k) for k in fields}
    kw["stack"] = tuple(kw["stack"]) if isinstance(kw["stack"], (list, tuple)) else kw["stack"]
    return dini.DINIConfig(**kw)

  @staticmethod
  def _digest(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(np.nan_to_num(x, nan=np.pi)).tobytes()
                          + np.isnan(x).tobytes() + str(x.shape).encode()).hexdigest()

  def fit(self, X, y=None):
    """Fits the surrogates on ``X [n, d]`` (NaN = missing) and imputes it. Returns self."""
    X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
    k = int(min(max(1, self.n_outputs), max(1, X.shape[1] - 1)))
    res = dini.fit_dini(jax.random.key(int(self.random_state or 0)), X, k, self._config(),
                        self.column_types)
    self.state_ = res.state
    self.uncertainty_ = res.std
    miss = np.isnan(X)
    with np.errstate(invalid="ignore"):
      self.column_uncertainty_ = np.where(miss.any(0), res.std.sum(0) / np.maximum(miss.sum(0), 1),
                                          np.nan)
    self._fit_digest = self._digest(X)
    self._fit_imputed = res.imputed
    return self

  def transform(self, X):
    """Imputes the NaN cells of ``X [m, d]``; observed cells are returned unchanged."""
    check_is_fitted(self, "state_")
    X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
    if self._digest(X) == self._fit_digest:
      return self._fit_imputed.copy()
    seed = int(self.random_state or 0) + 1
    return dini.impute_new(self.state_, X, jax.random.key(seed)).imputed

  def fit_transform(self, X, y=None, **fit_params):
    return self.fit(X, y).transform(X)

  def predict_outputs(self, X_inputs) -> np.ndarray:
    """The forward surrogate on complete input rows ``[m, d - n_outputs]`` -> outputs ``[m, K]``."""
    check_is_fitted(self, "state_")
    return dini.forward_predict(self.state_, X_inputs)

  def __sklearn_tags__(self):
    tags = super().__sklearn_tags__()
    tags.input_tags.allow_nan = True
    return tags
