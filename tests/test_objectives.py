"""Tests of jaxcodesign.search.objectives (scalarisation, constraints, presets, loss targets)."""

import numpy as np
import pytest

from jaxcodesign.errors import ConfigError
from jaxcodesign.search.objectives import (Constraint, Objective, ObjectiveTerm, codebench_objective,
                                           edgetran_objective, get_objective, loss_target, scalarise,
                                           transcode_objective)


def _metrics(rng, n=16):
  return {"accuracy": rng.uniform(0.5, 0.95, n), "latency_s": rng.uniform(0.01, 2.0, n),
          "area_mm2": rng.uniform(10, 2000, n), "energy_dynamic_j": rng.uniform(0.1, 20, n),
          "energy_leakage_j": rng.uniform(0.1, 20, n)}


def test_codebench_matches_formula():
  m = _metrics(np.random.default_rng(0))
  p = np.asarray(scalarise(m, codebench_objective()))
  want = (0.2 * m["accuracy"] + 0.2 * (1 - m["latency_s"] / 1.0) + 0.1 * (1 - m["area_mm2"] / 1000)
          + 0.2 * (1 - m["energy_dynamic_j"] / 10) + 0.3 * (1 - m["energy_leakage_j"] / 10))
  np.testing.assert_allclose(p, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("clip", [False, True])
def test_monotone_in_each_term(clip):
  obj = codebench_objective()
  obj = Objective(obj.terms, clip=clip)
  m = {k: np.asarray(v[:1]) for k, v in _metrics(np.random.default_rng(1)).items()}
  m["latency_s"] = np.asarray([0.3])  # inside [0, ref] so that clipping keeps the slope
  m["area_mm2"] = np.asarray([300.0])
  m["energy_dynamic_j"] = np.asarray([3.0])
  m["energy_leakage_j"] = np.asarray([3.0])
  base = float(scalarise(m, obj)[0])
  for term in obj.terms:
    up = dict(m)
    up[term.name] = m[term.name] * 1.1
    p = float(scalarise(up, obj)[0])
    if term.minimise:
      assert p < base, term.name
    else:
      assert p > base, term.name


def test_reference_normalisation_is_scale_free():
  t1 = Objective((ObjectiveTerm("acc", 0.5), ObjectiveTerm("lat", 0.5, reference=2.0, minimise=True)))
  t2 = Objective((ObjectiveTerm("acc", 0.5), ObjectiveTerm("lat", 0.5, reference=2000.0,
                                                           minimise=True)))
  lat = np.array([0.5, 1.0, 3.0])
  acc = np.array([0.7, 0.8, 0.9])
  np.testing.assert_allclose(scalarise({"acc": acc, "lat": lat}, t1),
                             scalarise({"acc": acc, "lat": lat * 1000}, t2), rtol=1e-6)
  np.testing.assert_allclose(scalarise({"acc": acc, "lat": lat}, t1),
                             0.5 * acc + 0.5 * (1 - lat / 2.0), rtol=1e-6)


def test_clip_bounds_each_term():
  obj = Objective((ObjectiveTerm("lat", 1.0, reference=1.0, minimise=True),), clip=True)
  p = np.asarray(scalarise({"lat": np.array([0.0, 0.5, 5.0, 100.0])}, obj))
  np.testing.assert_allclose(p, [1.0, 0.5, 0.0, 0.0])


def test_constraints_neg_inf_and_penalty():
  terms = (ObjectiveTerm("acc", 1.0),)
  m = {"acc": np.array([0.9, 0.8]), "area_mm2": np.array([50.0, 500.0])}
  p = np.asarray(scalarise(m, Objective(terms, (Constraint("area_mm2", 100.0),))))
  assert p[0] == pytest.approx(0.9) and p[1] == -np.inf
  p = np.asarray(scalarise(m, Objective(terms, (Constraint("area_mm2", 100.0),), violation="penalty",
                                        penalty=2.0)))
  np.testing.assert_allclose(p, [0.9, 0.8 - 2.0], rtol=1e-6)
  p = np.asarray(scalarise(m, Objective(terms, (Constraint("acc", 0.85, kind="min"),))))
  assert np.isfinite(p[0]) and p[1] == -np.inf


def test_errors_name_the_field():
  with pytest.raises(ConfigError, match="latency_s"):
    scalarise({"accuracy": 0.9}, codebench_objective())
  m = {k: v[:2] for k, v in _metrics(np.random.default_rng(2)).items()}
  m["accuracy"] = np.array([85.0, 90.0])  # percent instead of a fraction: the original's trap
  with pytest.raises(ConfigError, match="accuracy"):
    scalarise(m, codebench_objective())
  with pytest.raises(ConfigError, match="reference"):
    ObjectiveTerm("x", 1.0, reference=0.0)
  with pytest.raises(ConfigError, match="kind"):
    Constraint("x", 1.0, kind="below")
  with pytest.raises(ConfigError, match="codebench"):
    get_objective("nope")


def test_presets():
  tc = transcode_objective(latency_ref_s=0.01, dynamic_energy_ref_j=0.1, leakage_energy_ref_j=0.05)
  assert [t.weight for t in tc.terms] == [0.5, 0.1, 0.2, 0.1]
  assert tc.terms[1].reference == 0.01
  et = edgetran_objective()
  assert [t.reference for t in et.terms] == [1.0, 1000.0, 2000.0, 300.0]
  # the original EdgeTran references make hardware terms nearly constant at edge-device scales
  m = {"glue": np.array([0.8, 0.8]), "latency_s": np.array([0.01, 0.5]), "energy_j": np.array(
      [0.1, 5.0]), "peak_power_w": np.array([2.0, 10.0])}
  p = np.asarray(scalarise(m, et))
  assert abs(p[0] - p[1]) < 0.01
  p2 = np.asarray(scalarise(m, edgetran_objective(1.0, 10.0, 20.0)))
  assert p2[0] - p2[1] > 0.1
  assert get_objective("codebench") == codebench_objective()


def test_loss_target():
  p = np.array([0.2, 0.5, 0.9])
  y = loss_target(p)
  assert y.max() == pytest.approx(1.0) and np.all(y >= 0)
  assert np.all(np.argsort(y) == np.argsort(-p))
  np.testing.assert_allclose(loss_target(p, max_loss=2.0), (1 - p) / 2.0, rtol=1e-6)
  with pytest.raises(ConfigError):
    loss_target(np.array([0.1, -np.inf]))


def test_percent_accuracy_raises_even_with_clipping():
  # 97.0 (percent) must never be clipped to 1.0 and beat 0.97: the range check comes first
  obj = Objective((ObjectiveTerm("accuracy", 1.0),), clip=True)   # no valid_range given
  assert float(scalarise({"accuracy": 0.97}, obj)) == pytest.approx(0.97)
  with pytest.raises(ConfigError, match="accuracy.*97"):
    scalarise({"accuracy": 97.0}, obj)
  with pytest.raises(ConfigError, match="accuracy"):
    scalarise({"accuracy": np.array([0.5, np.nan])}, obj)


def test_default_ranges_of_physical_metrics():
  from jaxcodesign.search.objectives import valid_range_of
  assert valid_range_of("accuracy") == (0.0, 1.0)
  assert valid_range_of("latency_per_inference_s") == (0.0, np.inf)
  assert valid_range_of("energy_dynamic_j") == (0.0, np.inf)
  assert valid_range_of("score") == (-np.inf, np.inf)
  assert valid_range_of("accuracy", (0.0, 100.0)) == (0.0, 100.0)   # declared range wins
  obj = Objective((ObjectiveTerm("latency_s", 1.0, reference=2.0, minimise=True),))
  with pytest.raises(ConfigError, match="latency_s"):
    scalarise({"latency_s": np.array([1.0, -1e-3])}, obj)


def test_scalarise_under_jit_matches_eager():
  import jax
  obj = Objective((ObjectiveTerm("accuracy", 0.6), ObjectiveTerm("lat", 0.4, 2.0, True)), clip=True)
  m = {"accuracy": np.array([0.9, 0.5], np.float32), "lat": np.array([1.0, 3.0], np.float32)}
  eager = np.asarray(scalarise(m, obj))
  np.testing.assert_allclose(eager, [0.6 * 0.9 + 0.4 * 0.5, 0.6 * 0.5 + 0.0], rtol=1e-6)
  np.testing.assert_allclose(np.asarray(jax.jit(lambda d: scalarise(d, obj))(m)), eager, rtol=1e-6)
