"""Hybrid surrogate: the heteroscedastic network ensemble plus a random forest, combined for the mean.

Why (issue 10): on the measured FlexiBERT-small library a random forest (500 trees) on the space's
normalised features ranks held-out models better than the teacher / student / NPN ensemble trained
with the original protocol, while only the network is differentiable (GOBI) and heteroscedastic (the
NPN's aleatoric std).  Averaging the two predictions ranks at least as well as either on both
measured tasks (``python -m benchmarks.surrogates``; figures in ``docs/surrogates.md``): the members
make different errors (piecewise-constant trees vs. a smooth network).

Model, for ``x: float32[n, d]`` (features of ``space.to_features_batch``):

* network member: :func:`jaxcodesign.surrogates.fit_surrogate` (``HybridConfig.network``), giving
  ``mu_n``, ``sigma_e,n`` (student + member disagreement) and ``sigma_a`` (NPN);
* tree member: ``sklearn.ensemble.RandomForestRegressor`` (or ``ExtraTreesRegressor``) on the same
  features and raw targets, giving ``mu_t`` (mean over trees) and ``sigma_t`` (std over trees);
* mean: ``mu = (1 - w) mu_n + w mu_t`` with ``w = tree_weight`` (0.5);
* epistemic std: the spread of the two-component mixture (weights ``1 - w``, ``w``) of the members'
  epistemic distributions: ``sigma_e^2 = (1-w) sigma_e,n^2 + w sigma_t^2 + w (1-w) (mu_n - mu_t)^2``;
* aleatoric std: the NPN's ``sigma_a`` (the forest has no separate noise model).

Interval calibration (coverage of ``mu +- z sqrt(sigma_e^2 + sigma_a^2)`` on held-out rows) is measured
by ``benchmarks/surrogates.py``.  GOBI: :func:`jaxcodesign.surrogates.acquisition_fn` of a
:class:`HybridState` differentiates the network member only (a forest is piecewise constant: its
gradient is zero almost everywhere); :func:`jaxcodesign.search.gobi.gobi_search` then keeps a start
whose projected optimum scores worse.  The tree member is a NumPy/sklearn object: a
:class:`HybridState` is not a JAX pytree and is not checkpointed by orbax (BOSHNAS keeps the network
surrogate).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from jaxcodesign.errors import ConfigError
from jaxcodesign.surrogates.surrogate import (Prediction, SurrogateConfig, SurrogateState,
                                              fit_surrogate, predict as _predict_network)

__all__ = ["HybridConfig", "HybridState", "fit_hybrid", "predict_hybrid", "TREES"]

TREES = ("random_forest", "extra_trees")


@dataclasses.dataclass(frozen=True)
class HybridConfig:
  """Hybrid surrogate settings.

  Attributes:
    network: the network member's :class:`SurrogateConfig` ('mlp' or 'two_tower' encoder).
    trees: 'random_forest' (default; sklearn ``RandomForestRegressor``) or 'extra_trees'.
    n_trees: 500; min_samples_leaf: 1; max_features: 1.0 (fraction of features per split;
      sklearn's regression default).
    tree_weight: ``w`` in the combined mean, in [0, 1] (0.5; 0 = the network alone, 1 = the forest).
    n_jobs: sklearn workers (1: deterministic and polite on shared machines).
  """
  network: SurrogateConfig = SurrogateConfig()
  trees: str = "random_forest"
  n_trees: int = 500
  min_samples_leaf: int = 1
  max_features: float = 1.0
  tree_weight: float = 0.5
  n_jobs: int = 1

  def __post_init__(self):
    if self.trees not in TREES:
      raise ConfigError(f"invalid value for field 'trees': {self.trees!r}; allowed: {list(TREES)}")
    if not 0.0 <= self.tree_weight <= 1.0:
      raise ConfigError(f"invalid value for field 'tree_weight': {self.tree_weight!r}; allowed: "
                        "[0, 1]")
    if self.n_trees < 1 or self.min_samples_leaf < 1:
      raise ConfigError("invalid value for field 'n_trees' / 'min_samples_leaf'; allowed: >= 1")
    if not 0.0 < self.max_features <= 1.0:
      raise ConfigError(f"invalid value for field 'max_features': {self.max_features!r}; "
                        "allowed: (0, 1]")
    if self.network.encoder == "gnn":
      raise ConfigError("invalid value for field 'network.encoder': 'gnn'; allowed: ['mlp', "
                        "'two_tower'] (the forest needs feature vectors)")


@dataclasses.dataclass
class HybridState:
  """A fitted hybrid surrogate: ``network`` (:class:`SurrogateState`), ``trees`` (the fitted sklearn
  forest), ``config`` (:class:`HybridConfig`)."""
  network: SurrogateState
  trees: Any
  config: HybridConfig


def _tree_x(x) -> np.ndarray:
  if isinstance(x, (tuple, list)) and len(x) == 2:  # two-tower pair -> concatenated features
    return np.concatenate([np.asarray(v, np.float32) for v in x], axis=1)
  return np.asarray(x, np.float32)


def _seed(key) -> int:
  if jax.dtypes.issubdtype(getattr(key, "dtype", None), jax.dtypes.prng_key):
    key = jax.random.key_data(key)
  return int(np.asarray(key, np.uint32).reshape(-1)[-1])


def fit_hybrid(key: jax.Array, x, y, config: HybridConfig = HybridConfig(),
               init: HybridState | SurrogateState | None = None) -> HybridState:
  """Fits the network member (one jitted call) and the forest on the same rows.

  Args:
    key: PRNG key; the network uses it directly, the forest a seed derived from it.
    x: float32[n, d] features, or a pair ``(x_model, x_hw)`` for a 'two_tower' network.
    y: float[n] targets (any units, either direction).
    config: :class:`HybridConfig`.
    init: a previous state to warm-start the network from.

  Returns:
    :class:`HybridState`.

  Raises:
    ConfigError: as :func:`fit_surrogate` (shapes, finiteness, fewer than 2 rows).
  """
  from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
  if isinstance(init, HybridState):
    init = init.network
  network = fit_surrogate(key, x, y, config.network, init=init)  # validates x and y
  cls = RandomForestRegressor if config.trees == "random_forest" else ExtraTreesRegressor
  forest = cls(n_estimators=config.n_trees, min_samples_leaf=config.min_samples_leaf,
               max_features=config.max_features, random_state=_seed(key) % (2 ** 31),
               n_jobs=config.n_jobs)
  forest.fit(_tree_x(x), np.asarray(y, np.float64).reshape(-1))
  return HybridState(network=network, trees=forest, config=config)


def tree_prediction(forest, x) -> tuple[np.ndarray, np.ndarray]:
  """(mean over trees, std over trees), float64[n] each, for a fitted sklearn forest."""
  per_tree = np.stack([t.predict(x) for t in forest.estimators_])
  return per_tree.mean(0), per_tree.std(0)


def predict_hybrid(state: HybridState, x) -> Prediction:
  """Combined prediction in the target's units (see the module docstring).

  Args:
    state: from :func:`fit_hybrid`.
    x: as for :func:`fit_hybrid`.

  Returns:
    :class:`Prediction` ``(mean, epistemic_std, aleatoric_std)``, float32[n] each.
  """
  p = _predict_network(state.network, x)
  mt, st = tree_prediction(state.trees, _tree_x(x))
  w = state.config.tree_weight
  mn, en = np.asarray(p.mean, np.float64), np.asarray(p.epistemic_std, np.float64)
  mean = (1 - w) * mn + w * mt
  epi = np.sqrt((1 - w) * en ** 2 + w * st ** 2 + w * (1 - w) * (mn - mt) ** 2)
  return Prediction(np.asarray(mean, np.float32), np.asarray(epi, np.float32),
                    np.asarray(p.aleatoric_std, np.float32))
