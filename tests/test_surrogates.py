"""Tests of jaxcodesign.surrogates: NPN moments, heteroscedastic fit, buckets, acquisition, encoders.

The training program takes ~10 s to compile on a free CPU core (more under contention), so the tests
share a few fitted states (module-scoped fixtures) and reuse one compiled program per encoder.
"""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from jaxcodesign.errors import ConfigError
from jaxcodesign.surrogates import (TRACE_COUNTS, SurrogateConfig, acquisition_fn,
                                    bucket_size, fit_surrogate, predict)
from jaxcodesign.surrogates.npn import linear_moments, relu_moments, sigmoid_moments

CFG = SurrogateConfig(n_members=3, epochs=150)


# ---- NPN moment propagation against Monte Carlo ------------------------------------------------------

def _gauss(key, shape, scale=1.0):
  return jax.random.normal(key, shape) * scale


def test_npn_linear_moments_match_monte_carlo():
  k = jax.random.split(jax.random.PRNGKey(0), 8)
  x_m, x_s = _gauss(k[0], (3,)), jax.random.uniform(k[1], (3,), minval=0.1, maxval=1.0)
  w_m, w_s = _gauss(k[2], (3, 4)), jax.random.uniform(k[3], (3, 4), minval=0.05, maxval=0.5)
  b_m, b_s = _gauss(k[4], (4,)), jax.random.uniform(k[5], (4,), minval=0.05, maxval=0.5)
  n = 60_000
  x = x_m + jnp.sqrt(x_s) * jax.random.normal(k[6], (n, 3))
  kw, kb = jax.random.split(k[7])
  w = w_m + jnp.sqrt(w_s) * jax.random.normal(kw, (n, 3, 4))
  b = b_m + jnp.sqrt(b_s) * jax.random.normal(kb, (n, 4))
  o = jnp.einsum("ni,nio->no", x, w) + b
  m, s = linear_moments(x_m, x_s, w_m, w_s, b_m, b_s)
  np.testing.assert_allclose(m, o.mean(0), atol=0.03 * float(jnp.sqrt(s).max()))
  np.testing.assert_allclose(s, o.var(0), rtol=0.03)


def _mc_activation(fn, key):
  k1, k2, k3 = jax.random.split(key, 3)
  o_m = _gauss(k1, (40,), 0.7)
  o_s = jax.random.uniform(k2, (40,), minval=0.2, maxval=2.0)
  z = fn(o_m + jnp.sqrt(o_s) * jax.random.normal(k3, (100_000, 40)))
  return o_m, o_s, z.mean(0), z.var(0)


def test_npn_relu_moments_match_monte_carlo():
  o_m, o_s, mc_m, mc_s = _mc_activation(jax.nn.relu, jax.random.PRNGKey(1))
  m, s = relu_moments(o_m, o_s, exact=True)
  np.testing.assert_allclose(m, mc_m, rtol=0.02, atol=0.01)
  np.testing.assert_allclose(s, mc_s, rtol=0.03, atol=0.01)
  m, s = relu_moments(o_m, o_s)  # the spec's sigmoid approximation of Phi: looser
  np.testing.assert_allclose(m, mc_m, atol=0.06)
  np.testing.assert_allclose(s, mc_s, atol=0.12)
  # deterministic limit: ReLU itself
  m, s = relu_moments(jnp.array([-1.0, 2.0]), jnp.zeros(2))
  np.testing.assert_allclose(m, [0.0, 2.0], atol=1e-4)


def test_npn_sigmoid_moments_match_monte_carlo():
  o_m, o_s, mc_m, mc_s = _mc_activation(jax.nn.sigmoid, jax.random.PRNGKey(2))
  m, s = sigmoid_moments(o_m, o_s)
  np.testing.assert_allclose(m, mc_m, atol=0.01)
  np.testing.assert_allclose(s, mc_s, atol=0.03)  # the NPN variance approximation is crude
  assert np.all(np.asarray(s) > 0)


# ---- fitted 1-D heteroscedastic surrogate -----------------------------------------------------------

def _data(n, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.uniform(0.0, 1.0, (n, 1)).astype(np.float32)
  noise = 0.02 + 0.4 * x[:, 0]  # heteroscedastic: noise grows with x
  y = np.sin(5 * x[:, 0]) + noise * rng.standard_normal(n)
  return x, y.astype(np.float32)


@pytest.fixture(scope="module")
def fitted():
  x, y = _data(60)
  return x, y, fit_surrogate(jax.random.PRNGKey(0), x, y, CFG)


def test_surrogate_fits_heteroscedastic_function(fitted):
  x, y, state = fitted
  assert state.params["teacher"]["params"]["Dense_0"]["kernel"].shape[0] == CFG.n_members
  xt = np.array([[0.05], [0.15], [0.5], [0.85], [0.95], [2.5]], np.float32)
  p = predict(state, xt)
  assert all(a.shape == (6,) for a in p)
  assert np.all(np.isfinite(np.stack(p))) and np.all(np.asarray(p.epistemic_std) >= 0)
  # mean close to the truth inside the data
  assert np.max(np.abs(p.mean[:5] - np.sin(5 * xt[:5, 0]))) < 0.35
  # aleatoric std larger where the noise is larger (x ~ 0.9: 0.38 vs x ~ 0.1: 0.06)
  assert p.aleatoric_std[3:5].mean() > 2 * p.aleatoric_std[0:2].mean()
  # epistemic std larger far from the data
  assert p.epistemic_std[5] > 2 * p.epistemic_std[:5].max()
  assert np.all(np.asarray(state.epochs) >= CFG.min_epochs)


def test_refit_in_same_bucket_does_not_recompile(fitted):
  x, y, state = fitted
  assert bucket_size(60) == bucket_size(63) == 64 and bucket_size(3) == 16
  n_fit = TRACE_COUNTS["fit"]
  x2, y2 = _data(63, seed=1)
  state2 = fit_surrogate(jax.random.PRNGKey(1), x2, y2, CFG, init=state)
  assert TRACE_COUNTS["fit"] == n_fit
  assert int(state2.n_train) == 63
  n_pred = TRACE_COUNTS["predict"]
  predict(state2, x2[:5])
  predict(state2, x2[:9])
  predict(state, x2[:7])
  assert TRACE_COUNTS["predict"] <= n_pred + 1
  with pytest.raises(ConfigError, match="config"):
    fit_surrogate(jax.random.PRNGKey(1), x2, y2, SurrogateConfig(n_members=2), init=state)


def test_predictions_are_in_target_units(fitted):
  x, y, state = fitted
  scaled = fit_surrogate(jax.random.PRNGKey(0), x, 10.0 * y + 5.0, CFG)
  xt = np.linspace(0, 1.5, 7, dtype=np.float32)[:, None]
  p, q = predict(state, xt), predict(scaled, xt)
  np.testing.assert_allclose(q.mean, 10 * p.mean + 5, rtol=0.02, atol=0.1)
  np.testing.assert_allclose(q.epistemic_std, 10 * p.epistemic_std, rtol=0.05, atol=0.05)
  np.testing.assert_allclose(q.aleatoric_std, 10 * p.aleatoric_std, rtol=0.05, atol=0.05)


def test_acquisition_matches_predict_and_drives_gobi(fitted):
  x, y, state = fitted
  acq = acquisition_fn(state, k_e=0.5, k_a=0.25)
  assert isinstance(acq, jax.tree_util.Partial)
  xt = np.array([[0.1], [0.6]], np.float32)
  p = predict(state, xt)
  want = p.mean - 0.5 * p.epistemic_std - 0.25 * p.aleatoric_std
  got = jax.vmap(acq)(jnp.asarray(xt))
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
  g = jax.grad(acq)(jnp.asarray(xt[0]))
  assert np.all(np.isfinite(g)) and float(jnp.abs(g).sum()) > 0

  from jaxcodesign.search.gobi import GOBIConfig, gobi_search
  from jaxcodesign.spaces.generic import IntegerSpace
  space = IntegerSpace([0], [20])
  init = [[2], [10], [18]]
  out = gobi_search(jax.random.PRNGKey(0), space, state, init, GOBIConfig(max_steps=50),
                    k_e=0.0, k_a=0.0)
  assert len(out) == 3 and all(space.is_valid(p) for p in out)
  # no worse than its start on the surrogate mean (GOBI returns the best iterate)
  mean = lambda pts: np.asarray(predict(state, space.to_features_batch(pts)).mean)
  assert np.all(mean(out) <= mean(init) + 0.05)
  # a new surrogate state (next round) reuses GOBI's compiled program
  from jaxcodesign.search import gobi as gobi_mod
  n_compiled = gobi_mod._gobi_jit._cache_size()
  x2, y2 = _data(62, seed=2)
  state2 = fit_surrogate(jax.random.PRNGKey(2), x2, y2, CFG, init=state)
  out2 = gobi_search(jax.random.PRNGKey(1), space, state2, init, GOBIConfig(max_steps=50),
                     k_e=0.0, k_a=0.0)
  assert all(space.is_valid(p) for p in out2)
  assert gobi_mod._gobi_jit._cache_size() == n_compiled


@pytest.mark.slow
def test_two_tower_surrogate():
  rng = np.random.default_rng(0)
  a = rng.uniform(0, 1, (40, 3)).astype(np.float32)
  b = rng.uniform(0, 1, (40, 2)).astype(np.float32)
  y = a.sum(1) * (0.5 + b[:, 0])
  cfg = SurrogateConfig(encoder="two_tower", n_members=2, epochs=80)
  state = fit_surrogate(jax.random.PRNGKey(0), (a, b), y, cfg)
  assert state.split == 3
  p = predict(state, (a, b))
  assert np.corrcoef(p.mean, y)[0, 1] > 0.9
  acq = acquisition_fn(state, 0.5, 0.5)
  want = p.mean[:4] - 0.5 * p.epistemic_std[:4] - 0.5 * p.aleatoric_std[:4]
  got = jax.vmap(acq)(jnp.concatenate([a[:4], b[:4]], 1))
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
  with pytest.raises(ConfigError, match="two_tower"):
    predict(state, np.concatenate([a, b], 1))


def _graph(rng, n_nodes):
  return jraph.GraphsTuple(nodes=rng.uniform(0, 1, (n_nodes, 4)).astype(np.float32), edges=None,
                           senders=np.arange(n_nodes - 1), receivers=np.arange(1, n_nodes),
                           n_node=np.array([n_nodes]), n_edge=np.array([n_nodes - 1]), globals=None)


@pytest.mark.slow
def test_gnn_surrogate():
  rng = np.random.default_rng(0)
  graphs = [_graph(rng, 3 + i % 4) for i in range(24)]
  y = np.array([3 * g.nodes[:, 0].mean() for g in graphs], np.float32)
  cfg = SurrogateConfig(encoder="gnn", n_members=2, epochs=80)
  state = fit_surrogate(jax.random.PRNGKey(0), jraph.batch(graphs), y, cfg)
  p = predict(state, jraph.batch(graphs))
  assert p.mean.shape == (24,)
  assert np.corrcoef(p.mean, y)[0, 1] > 0.7
  with pytest.raises(ConfigError, match="gnn"):
    acquisition_fn(state)
  with pytest.raises(ConfigError, match="GraphsTuple"):
    fit_surrogate(jax.random.PRNGKey(0), np.zeros((4, 2), np.float32), np.zeros(4), cfg)


def test_bad_input_raises_config_error():
  with pytest.raises(ConfigError, match="encoder"):
    SurrogateConfig(encoder="transformer")
  with pytest.raises(ConfigError, match="dropout"):
    SurrogateConfig(dropout=1.5)
  with pytest.raises(ConfigError, match="rows"):
    fit_surrogate(jax.random.PRNGKey(0), np.zeros((5, 2), np.float32), np.zeros(4), CFG)
  with pytest.raises(ConfigError, match="finite"):
    fit_surrogate(jax.random.PRNGKey(0), np.zeros((5, 2), np.float32), np.array([0, 1, 2, 3,
                                                                                 np.nan]), CFG)
  with pytest.raises(ConfigError, match="two_tower"):
    fit_surrogate(jax.random.PRNGKey(0), (np.zeros((5, 2)), np.zeros((5, 1))), np.zeros(5), CFG)
