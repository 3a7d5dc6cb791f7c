"""Tests of AdaHessian (jaxcodesign.search.adahessian) and GOBI (jaxcodesign.search.gobi)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxcodesign.errors import ConfigError
from jaxcodesign.search.adahessian import (adahessian, hutchinson_diag, legacy_cosine_schedule,
                                           value_grad_and_hessian_diag)
from jaxcodesign.search.gobi import GOBIConfig, gobi, gobi_search

A = jnp.array([1.0, 4.0, 0.25, 9.0])


def _quad(x):
  return 0.5 * jnp.sum(A * x * x)


def test_hutchinson_exact_on_diagonal_quadratic():
  x = jnp.array([1.0, -2.0, 0.5, 3.0])
  d = hutchinson_diag(_quad, x, jax.random.key(3))
  np.testing.assert_allclose(d, A, rtol=1e-6)
  v, g, d2 = value_grad_and_hessian_diag(_quad, x, jax.random.key(4), n_samples=3)
  np.testing.assert_allclose(v, _quad(x), rtol=1e-6)
  np.testing.assert_allclose(g, A * x, rtol=1e-6)
  np.testing.assert_allclose(d2, A, rtol=1e-6)


def test_adahessian_matches_hand_derived_steps():
  lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-4
  opt = adahessian(lr, b1, b2, eps, 1.0)
  x = jnp.array([1.0, -2.0, 0.5, 3.0])
  state = opt.init(x)
  xr = np.asarray(x, np.float64)
  m = np.zeros(4)
  u = np.zeros(4)
  a = np.asarray(A, np.float64)
  for t in range(1, 4):
    d = hutchinson_diag(_quad, x, jax.random.key(t))
    upd, state = opt.update(jax.grad(_quad)(x), state, x, hessian_diag=d)
    x = optax.apply_updates(x, upd)
    g = a * xr
    m = b1 * m + (1 - b1) * g
    u = b2 * u + (1 - b2) * a * a
    xr = xr - lr * (m / (1 - b1 ** t)) / (np.sqrt(u) / np.sqrt(1 - b2 ** t) + eps)
    np.testing.assert_allclose(np.asarray(x), xr, rtol=1e-5, atol=1e-6)
  # step 1 in closed form: x1 = x0 - lr * a x0 / (a + eps) (Newton-like, scale-free)
  x0 = np.array([1.0, -2.0, 0.5, 3.0])
  s = adahessian(lr).init(jnp.asarray(x0))
  upd, _ = adahessian(lr).update(jnp.asarray(a * x0, jnp.float32), s, None,
                                 hessian_diag=jnp.asarray(a, jnp.float32))
  np.testing.assert_allclose(np.asarray(upd), -lr * a * x0 / (a + eps), rtol=1e-5)
  with pytest.raises(ValueError, match="hessian_diag"):
    adahessian(lr).update(jnp.zeros(4), s, None)


def test_legacy_cosine_schedule_cycles():
  sched = legacy_cosine_schedule(0.5, 2)
  np.testing.assert_allclose([float(sched(t)) for t in range(5)], [0.5, 0.25, 0.0, 0.25, 0.5],
                             atol=1e-6)


@pytest.mark.parametrize("optimizer,lr", [("adahessian", 0.1), ("adam", 0.05), ("sgd", 0.1)])
def test_gobi_shifted_quadratic(optimizer, lr):
  c = jnp.array([0.3, 0.7, 0.55])
  acq = lambda x: jnp.sum((x - c) ** 2 * jnp.array([1.0, 3.0, 0.5]))
  x0 = jax.random.uniform(jax.random.key(0), (6, 3))
  cfg = GOBIConfig(optimizer=optimizer, lr=lr, max_steps=400, tol=1e-7, patience=5, stop="legacy")
  res = gobi(jax.random.key(1), acq, x0, 0.0, 1.0, cfg)
  assert res.x.shape == (6, 3) and res.value.shape == (6,) and res.steps.shape == (6,)
  np.testing.assert_allclose(res.x, np.broadcast_to(c, (6, 3)), atol=2e-2)
  assert np.all(np.asarray(res.steps) <= 400) and np.all(np.asarray(res.steps) > 0)
  np.testing.assert_allclose(res.value, jax.vmap(acq)(res.x), rtol=1e-5, atol=1e-7)


def test_gobi_stays_in_box_and_hits_the_boundary():
  acq = lambda x: jnp.sum((x - jnp.array([2.0, -1.0])) ** 2)  # minimum outside [0, 1]^2
  x0 = jnp.array([[0.5, 0.5], [0.1, 0.9], [0.9, 0.1]])
  res = gobi(jax.random.key(0), acq, x0, jnp.zeros(2), jnp.ones(2),
             GOBIConfig(optimizer="adam", lr=0.1))
  x = np.asarray(res.x)
  assert np.all(x >= 0.0) and np.all(x <= 1.0)
  np.testing.assert_allclose(x, np.broadcast_to([1.0, 0.0], x.shape), atol=1e-3)


def test_gobi_rosenbrock():
  acq = lambda z: (1 - z[0]) ** 2 + 5.0 * (z[1] - z[0] ** 2) ** 2
  x0 = jnp.array([[-1.0, 1.0], [0.0, 0.0], [1.4, 1.4]])
  cfg = GOBIConfig(optimizer="adam", lr=0.02, max_steps=3000, tol=1e-10, patience=20, stop="legacy")
  res = gobi(jax.random.key(0), acq, x0, -1.5, 1.5, cfg)
  np.testing.assert_allclose(res.x, np.ones((3, 2)), atol=5e-2)


def test_gobi_trust_region_and_patience():
  acq = lambda x: jnp.sum(x)  # pushes every coordinate down
  x0 = jnp.array([[0.8, 0.4], [0.5, 1.0]])
  res = gobi(jax.random.key(0), acq, x0, 0.0, 1.0,
             GOBIConfig(optimizer="adam", lr=0.05, trust_region="multiplicative", trust_radius=0.25))
  np.testing.assert_allclose(res.x, 0.75 * np.asarray(x0), atol=1e-4)
  res = gobi(jax.random.key(0), acq, x0, 0.0, 1.0,
             GOBIConfig(optimizer="adam", lr=0.05, trust_region="additive", trust_radius=0.1))
  np.testing.assert_allclose(res.x, np.asarray(x0) - 0.1, atol=1e-4)
  # a constant acquisition converges after patience + 1 stalled steps (both stopping rules)
  for stop in ("improvement", "relative", "legacy"):
    res = gobi(jax.random.key(0), lambda x: jnp.float32(1.0) + 0.0 * jnp.sum(x), x0, 0.0, 1.0,
               GOBIConfig(optimizer="adam", patience=5, stop=stop))
    np.testing.assert_array_equal(res.steps, [6, 6])
    assert np.all(np.asarray(res.converged))


def test_relative_stopping_rule_stops_early_and_never_ends_worse():
  """The relative rule stops before max_steps at a value within 1 % of the optimum's gain (the
  maximum is inside the box, 0.8), and no restart ends worse than its start (both directions)."""
  c = jnp.array([0.3, 0.7, 0.55, 0.1])
  acq = lambda x: 0.8 - 0.05 * jnp.sum((x - c) ** 2 * jnp.array([1.0, 3.0, 0.5, 2.0]))  # maximise
  x0 = jax.random.uniform(jax.random.key(0), (8, 4))
  rel = gobi(jax.random.key(1), acq, x0, 0.0, 1.0, GOBIConfig(max_steps=300, stop="relative"),
             maximise=True)
  assert np.all(np.asarray(rel.converged)) and np.all(np.asarray(rel.steps) < 300)
  assert np.all(np.asarray(rel.value) >= np.asarray(rel.start_value))
  gain_rel = np.asarray(rel.value - rel.start_value)
  gain_opt = 0.8 - np.asarray(rel.start_value)
  assert np.all(gain_rel >= 0.99 * gain_opt - 1e-6), (gain_rel, gain_opt)
  np.testing.assert_allclose(rel.value, jax.vmap(acq)(rel.x), rtol=1e-6)
  down = gobi(jax.random.key(1), lambda x: -acq(x), x0, 0.0, 1.0,
              GOBIConfig(max_steps=300, stop="relative"))
  np.testing.assert_allclose(down.value, -np.asarray(rel.value), rtol=1e-4, atol=1e-5)


def test_improvement_stopping_rule_default():
  """The default rule (a step's gain in the best value and its change of value both <= ftol x the
  gain since the start, for more than ``patience`` steps) stops before max_steps on the
  quadratic, within 1 % of the optimum's gain, never worse than the start; with ftol = 0 only
  exact stalls count."""
  assert GOBIConfig().stop == "improvement" and GOBIConfig().ftol == 3e-3
  c = jnp.array([0.3, 0.7, 0.55, 0.1])
  acq = lambda x: 0.8 - 0.05 * jnp.sum((x - c) ** 2 * jnp.array([1.0, 3.0, 0.5, 2.0]))
  x0 = jax.random.uniform(jax.random.key(0), (8, 4))
  res = gobi(jax.random.key(1), acq, x0, 0.0, 1.0, GOBIConfig(max_steps=300), maximise=True)
  steps = np.asarray(res.steps)
  assert np.all(np.asarray(res.converged)) and np.all(steps < 300)
  gain, gain_opt = np.asarray(res.value - res.start_value), 0.8 - np.asarray(res.start_value)
  assert np.all(gain >= 0) and np.all(gain >= 0.99 * gain_opt - 1e-6), (gain, gain_opt)
  strict = gobi(jax.random.key(1), acq, x0, 0.0, 1.0, GOBIConfig(max_steps=300, ftol=0.0),
                maximise=True)
  assert np.all(np.asarray(strict.steps) >= steps)
  with pytest.raises(ConfigError, match="ftol"):
    GOBIConfig(ftol=-1.0)


def test_gobi_bad_input():
  with pytest.raises(ConfigError, match="optimizer"):
    GOBIConfig(optimizer="lbfgs")
  with pytest.raises(ConfigError, match="trust_region"):
    GOBIConfig(trust_region="ball")
  with pytest.raises(ConfigError, match="stop"):
    GOBIConfig(stop="never")
  with pytest.raises(ConfigError, match="x0"):
    gobi(jax.random.key(0), jnp.sum, jnp.zeros(3), 0.0, 1.0)
  with pytest.raises(ConfigError, match="lower"):
    gobi(jax.random.key(0), jnp.sum, jnp.zeros((1, 2)), 1.0, 0.0)


def test_gobi_search_returns_legal_designs():
  from jaxcodesign.spaces.generic import IntegerSpace
  space = IntegerSpace([0, 0, 0], [7, 3, 12])
  target = jnp.array([0.43, 0.9, 0.12])
  acq = lambda x: jnp.sum((x - target) ** 2)
  init = space.sample(jax.random.key(0), 5)
  # the projection is checked against the exact optimum, so GOBI must converge to ~1e-3 in x
  # (target 0.12 of 12 steps lies 0.0033 from a rounding boundary): the original's absolute rule;
  # the default relative-improvement rule stops within 0.3 % of the gain in value, not in x
  out = gobi_search(jax.random.key(1), space, acq, init,
                    GOBIConfig(optimizer="adam", lr=0.05, stop="legacy"), maximise=False).points
  assert len(out) == 5
  assert all(space.is_valid(p) for p in out)
  best = space.project(np.asarray(target))
  assert all(p == best for p in out)
  res = gobi_search(jax.random.key(1), space, acq, init, GOBIConfig(), bounds="data",
                    maximise=False)
  assert all(space.is_valid(p) for p in res.points)
  assert np.all(res.value <= res.start_value)
  with pytest.raises(ConfigError):
    gobi_search(jax.random.key(1), space, acq, [], GOBIConfig(), maximise=False)
  with pytest.raises(ConfigError, match="maximise"):
    gobi_search(jax.random.key(1), space, acq, init, GOBIConfig())
