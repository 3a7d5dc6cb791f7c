"""Tests of jaxcodesign.surrogates: NPN moments, heteroscedastic fit, buckets, acquisition, encoders.

The training program takes ~10 s to compile on a free CPU core (more under contention), so the tests
share a few fitted states (module-scoped fixtures) and reuse one compiled program per encoder.
"""

import chex
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from jaxcodesign.errors import ConfigError
from jaxcodesign.padding import bucket_size
from jaxcodesign.surrogates import (HybridConfig, SurrogateConfig, acquisition_fn, fit_hybrid,
                                    fit_surrogate, predict)
from jaxcodesign.surrogates import surrogate as surrogate_mod
from jaxcodesign.surrogates.npn import linear_moments, relu_moments, sigmoid_moments

CFG = SurrogateConfig(n_members=3, epochs=150)


# ---- NPN moment propagation against Monte Carlo ------------------------------------------------------

def _gauss(key, shape, scale=1.0):
  return jax.random.normal(key, shape) * scale


def test_npn_linear_moments_match_monte_carlo():
  k = jax.random.split(jax.random.key(0), 8)
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
  o_m, o_s, mc_m, mc_s = _mc_activation(jax.nn.relu, jax.random.key(1))
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
  o_m, o_s, mc_m, mc_s = _mc_activation(jax.nn.sigmoid, jax.random.key(2))
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
  return x, y, fit_surrogate(jax.random.key(0), x, y, CFG)


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


TINY = SurrogateConfig(hidden=(8,), npn_hidden=(8,), n_members=1, epochs=2, mc_samples=2)


def test_refit_in_same_bucket_does_not_recompile(monkeypatch):
  chex.clear_trace_counter()
  monkeypatch.setattr(surrogate_mod, "_fit_jit", jax.jit(
      chex.assert_max_traces(surrogate_mod._fit_impl, n=1), static_argnames=surrogate_mod.FIT_STATIC))
  monkeypatch.setattr(surrogate_mod, "_predict_jit",
                      jax.jit(chex.assert_max_traces(surrogate_mod._predict_impl, n=1)))
  assert bucket_size(60, 16) == bucket_size(63, 16) == 64 and bucket_size(3, 16) == 16
  x, y = _data(60)
  state = fit_surrogate(jax.random.key(0), x, y, TINY)
  x2, y2 = _data(63, seed=1)
  state2 = fit_surrogate(jax.random.key(1), x2, y2, TINY, init=state)  # same bucket: no retrace
  assert int(state2.n_train) == 63
  for s_, n in ((state2, 5), (state2, 9), (state, 7)):  # one predict bucket (16 rows)
    assert predict(s_, x2[:n]).mean.shape == (n,)
  with pytest.raises(AssertionError, match="traced"):  # a new bucket (128 rows) does retrace
    fit_surrogate(jax.random.key(2), *_data(70, seed=2), TINY)
  with pytest.raises(ConfigError, match="config"):
    fit_surrogate(jax.random.key(1), x2, y2, SurrogateConfig(n_members=2), init=state)


def test_gnn_layers_sets_the_number_of_graph_convolutions():
  g = surrogate_mod._pad_graphs(jraph.batch([_graph(np.random.default_rng(0), 4)] * 3), 3, 4)[0]
  for layers in (1, 3):
    cfg = SurrogateConfig(encoder="gnn", gnn_layers=layers, tower_width=8)
    params = surrogate_mod._init_member(jax.random.key(0), cfg, 0, g)
    for net in ("teacher", "student", "npn"):
      enc = params[net]["params"]["_Encoder_0"]["GNNEncoder_0"]
      assert sorted(enc) == [f"gcn_{i}" for i in range(layers)], (net, sorted(enc))
  with pytest.raises(ConfigError, match="gnn_layers"):
    SurrogateConfig(gnn_layers=0)


def test_predictions_are_in_target_units(fitted):
  x, y, state = fitted
  scaled = fit_surrogate(jax.random.key(0), x, 10.0 * y + 5.0, CFG)
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

  # maximise=True is the negated upper confidence bound
  up = jax.vmap(acquisition_fn(state, 0.5, 0.25, maximise=True))(jnp.asarray(xt))
  np.testing.assert_allclose(up, -(p.mean + 0.5 * p.epistemic_std + 0.25 * p.aleatoric_std),
                             rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("maximise", [True, False])
def test_gobi_search_never_worse_than_its_starts(fitted, maximise, monkeypatch):
  """Under the surrogate mean (k_e = k_a = 0) every returned design is at least as good as its start
  in the requested direction, and some start improves; a new surrogate state does not retrace."""
  from jaxcodesign.search import gobi as gobi_mod
  from jaxcodesign.search.gobi import GOBIConfig, gobi_search
  from jaxcodesign.spaces.generic import IntegerSpace
  x, y, state = fitted
  chex.clear_trace_counter()
  monkeypatch.setattr(gobi_mod, "_gobi_jit", jax.jit(chex.assert_max_traces(gobi_mod._gobi_impl, n=1),
                                                     static_argnames=("config",)))
  space = IntegerSpace([0], [20])
  init = [[2], [10], [14], [18]]
  mean = lambda st, pts: np.asarray(predict(st, space.to_features_batch(pts)).mean)
  for st in (state, fit_surrogate(jax.random.key(2), *_data(62, seed=2), CFG, init=state)):
    res = gobi_search(jax.random.key(0), space, st, init, GOBIConfig(max_steps=60), k_e=0.0,
                      k_a=0.0, maximise=maximise)
    assert len(res.points) == 4 and all(space.is_valid(p) for p in res.points)
    sign = 1.0 if maximise else -1.0
    gain = sign * (mean(st, res.points) - mean(st, init))
    assert np.all(gain >= -1e-5) and np.max(gain) > 0.05, gain
    np.testing.assert_allclose(res.value, mean(st, res.points), rtol=1e-4, atol=1e-4)
    assert np.all(np.asarray(res.gobi.steps) >= 1)
  with pytest.raises(ConfigError, match="maximise"):
    gobi_search(jax.random.key(0), space, state, init, GOBIConfig(max_steps=5))


def test_hybrid_combines_network_and_forest(fitted):
  from jaxcodesign.surrogates.hybrid import tree_prediction
  x, y, state = fitted
  cfg = HybridConfig(network=CFG, n_trees=40, tree_weight=0.25)
  hyb = fit_hybrid(jax.random.key(0), x, y, cfg)
  xt = np.linspace(0.0, 1.0, 9, dtype=np.float32)[:, None]
  p, pn = predict(hyb, xt), predict(hyb.network, xt)
  forest = hyb.trees.predict(xt)  # sklearn's own forest mean is the oracle of the tree member
  np.testing.assert_allclose(tree_prediction(hyb.trees, xt)[0], forest, rtol=1e-6)
  np.testing.assert_allclose(p.mean, 0.75 * pn.mean + 0.25 * forest, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(p.aleatoric_std, pn.aleatoric_std)
  # the mixture's epistemic spread is at least the disagreement term
  assert np.all(p.epistemic_std ** 2 >= 0.25 * 0.75 * (pn.mean - forest) ** 2 - 1e-6)
  assert np.corrcoef(p.mean, np.sin(5 * xt[:, 0]))[0, 1] > 0.9
  # GOBI differentiates the network member
  np.testing.assert_allclose(jax.vmap(acquisition_fn(hyb, 0.5, 0.5))(jnp.asarray(xt)),
                             jax.vmap(acquisition_fn(hyb.network, 0.5, 0.5))(jnp.asarray(xt)))
  with pytest.raises(ConfigError, match="tree_weight"):
    HybridConfig(tree_weight=1.5)
  with pytest.raises(ConfigError, match="trees"):
    HybridConfig(trees="xgboost")


@pytest.mark.slow
def test_two_tower_surrogate():
  rng = np.random.default_rng(0)
  a = rng.uniform(0, 1, (40, 3)).astype(np.float32)
  b = rng.uniform(0, 1, (40, 2)).astype(np.float32)
  y = a.sum(1) * (0.5 + b[:, 0])
  cfg = SurrogateConfig(encoder="two_tower", n_members=2, epochs=80)
  state = fit_surrogate(jax.random.key(0), (a, b), y, cfg)
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
  state = fit_surrogate(jax.random.key(0), jraph.batch(graphs), y, cfg)
  p = predict(state, jraph.batch(graphs))
  assert p.mean.shape == (24,)
  assert np.corrcoef(p.mean, y)[0, 1] > 0.7
  with pytest.raises(ConfigError, match="gnn"):
    acquisition_fn(state)
  with pytest.raises(ConfigError, match="GraphsTuple"):
    fit_surrogate(jax.random.key(0), np.zeros((4, 2), np.float32), np.zeros(4), cfg)


def test_bad_input_raises_config_error():
  with pytest.raises(ConfigError, match="encoder"):
    SurrogateConfig(encoder="transformer")
  with pytest.raises(ConfigError, match="dropout"):
    SurrogateConfig(dropout=1.5)
  with pytest.raises(ConfigError, match="rows"):
    fit_surrogate(jax.random.key(0), np.zeros((5, 2), np.float32), np.zeros(4), CFG)
  with pytest.raises(ConfigError, match="finite"):
    fit_surrogate(jax.random.key(0), np.zeros((5, 2), np.float32), np.array([0, 1, 2, 3,
                                                                                 np.nan]), CFG)
  with pytest.raises(ConfigError, match="two_tower"):
    fit_surrogate(jax.random.key(0), (np.zeros((5, 2)), np.zeros((5, 1))), np.zeros(5), CFG)
