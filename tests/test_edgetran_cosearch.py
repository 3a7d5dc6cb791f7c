"""EdgeTran device-aware co-search (the 'devices' hardware half of launch.codesign) on the real
ProTran measurements: metrics equal the device surrogate's predictions with per-batch / power /
constraint arithmetic checked by hand, the measured-range guard, data files keyed by content, and a
tiny end-to-end run whose Pareto sets are per device and whose chosen pair meets the budgets."""

import json
import math

import numpy as np
import pytest

from jaxcodesign import codesign
from jaxcodesign.codesign import workdir as workdir_lib
from jaxcodesign.errors import ConfigError
from jaxcodesign.surrogates import devices as dv

CHEAP = dict(n_members=1, steps=60, n_trees=30, n_ada=30, cv_folds=0)


def tiny_edgetran(fixtures_dir, **kw):
  cfg = codesign.load_config("edgetran_digits")
  cfg.unlock()
  cfg.hw_space_kwargs.measurements = str(fixtures_dir / "protran" / "measurements.jsonl")
  cfg.hw_space_kwargs.surrogate = CHEAP
  cfg.model_space_kwargs = dict(layers=(2,), hidden=(128,), heads=(2,), ff_depths=(1,),
                                ff_widths=(256,))
  cfg.budget = 3
  cfg.search.init_design = 2
  cfg.search.surrogate_epochs = 5
  cfg.search.gobi_restarts = 2
  cfg.oracle.epochs = 1
  cfg.methods = ("codesign", "fixed_accelerator")
  for k, v in kw.items():
    *parents, leaf = k.split(".")
    target = cfg
    for part in parents:
      target = target[part]
    target[leaf] = v
  return cfg


@pytest.fixture(scope="module")
def experiment(fixtures_dir):
  cfg = tiny_edgetran(fixtures_dir)
  return cfg, codesign.build_experiment(cfg)


def test_metrics_are_the_surrogate_predictions_with_hand_arithmetic(experiment):
  cfg, exp = experiment
  hw = exp.hardware
  assert hw.devices == tuple(sorted(dv.KNOWN_DEVICES))  # every device of the rows
  model = exp.model_space.sample(__import__("jax").random.key(3), 1)[0]
  pred = dv.predict_rows(hw.surrogate, [model] * 7, list(hw.devices))
  res = exp.evaluator.hardware([model] * 7, [{"device": d} for d in hw.devices])
  for d, p, r in zip(hw.devices, pred, res):
    m = codesign.hardware_metrics(r, {"device": d})
    b = dv.KNOWN_DEVICES[d]["batch_size"]
    assert m["latency_per_inference_s"] == pytest.approx(p["latency_s_per_seq"], rel=1e-12)
    assert m["energy_per_inference_j"] == pytest.approx(p["energy_j_per_seq"], rel=1e-12)
    assert m["peak_power_w"] == pytest.approx(p["peak_power_w"], rel=1e-12)
    assert m["latency_per_inference_s_std"] == pytest.approx(p["latency_s_per_seq_std"], rel=1e-12)
    assert m["batch_size"] == b
    assert m["latency_s"] == pytest.approx(b * p["latency_s_per_seq"], rel=1e-12)
    assert m["energy_j"] == pytest.approx(b * p["energy_j_per_seq"], rel=1e-12)
    assert m["avg_power_w"] == pytest.approx(p["energy_j_per_seq"] / p["latency_s_per_seq"], rel=1e-12)
    ucb_lat = p["latency_s_per_seq"] + 1.0 * p["latency_s_per_seq_std"]
    ucb_pow = p["peak_power_w"] + 1.0 * p["peak_power_w_std"]
    lat_b, pow_b = cfg.hw_space_kwargs.latency_budget_s, cfg.hw_space_kwargs.power_budget_w
    assert (lat_b, pow_b) == (10.0, 15.0)  # the experiment's budgets
    assert m["fits"] == (ucb_lat <= lat_b and ucb_pow <= pow_b), d
    assert "area_mm2" not in m  # a device has no synthesised area: nothing is invented
  # physics of the data: the A100 (57-283 W measured peak) never meets a 15 W envelope
  assert not codesign.hardware_metrics(res[hw.devices.index("gpu_a100")], {})["fits"]
  # the nested sweep (arrays) gives the same numbers as the per-pair path
  arr = hw.simulate_prepared(model, hw.prepare([{"device": d} for d in hw.devices]))
  np.testing.assert_allclose(arr["latency_per_inference_s"],
                             [p["latency_s_per_seq"] for p in pred], rtol=1e-12)
  np.testing.assert_array_equal(arr["fits"], [r["fits"] for r in res])


def test_guards_name_the_field(fixtures_dir, tmp_path):
  with pytest.raises(ConfigError, match="outside the measured range"):
    codesign.build_experiment(tiny_edgetran(
        fixtures_dir, model_space_kwargs=dict(layers=(2,), hidden=(64,), heads=(2,), ff_depths=(1,),
                                              ff_widths=(256,), custom_values=True)))
  with pytest.raises(ConfigError, match="hw.seq_len"):
    codesign.build_experiment(tiny_edgetran(fixtures_dir, **{"hw.seq_len": 8}))
  with pytest.raises(ConfigError, match="gpu_x"):
    codesign.build_experiment(tiny_edgetran(fixtures_dir, **{"hw_space_kwargs.devices": ("gpu_x",)}))
  with pytest.raises(ConfigError, match="power_budget_w"):
    codesign.build_experiment(tiny_edgetran(fixtures_dir, **{"hw_space_kwargs.power_budget_w": 0.0}))
  with pytest.raises(ConfigError, match="launch.profile_device"):
    codesign.build_experiment(tiny_edgetran(
        fixtures_dir, **{"hw_space_kwargs.measurements": str(tmp_path / "none.jsonl")}))
  # budgets no network can meet stop before any training
  with pytest.raises(ConfigError, match="no network"):
    codesign.build_experiment(tiny_edgetran(fixtures_dir, **{"hw_space_kwargs.latency_budget_s": 1e-9}))


def test_measurement_file_keys_the_cache_by_content(fixtures_dir, tmp_path):
  src = fixtures_dir / "protran" / "measurements.jsonl"
  copy = tmp_path / "rows.jsonl"
  copy.write_bytes(src.read_bytes())
  cfg = tiny_edgetran(fixtures_dir, **{"hw_space_kwargs.measurements": str(copy)})
  salt, rec = workdir_lib.cache_salt(cfg), workdir_lib.fingerprint(cfg)
  lines = copy.read_text().splitlines()
  row = json.loads(lines[0])
  row["latency_s_per_seq"] *= 2.0
  copy.write_text("\n".join([json.dumps(row)] + lines[1:]) + "\n")
  assert workdir_lib.cache_salt(cfg) != salt  # same path, other contents: no reuse
  assert any("content of hw_space_kwargs.measurements" in d
             for d in workdir_lib.diff(rec, workdir_lib.fingerprint(cfg)))


def test_tiny_run_per_device_pareto_sets_and_budgets(fixtures_dir, tmp_path):
  cfg = tiny_edgetran(fixtures_dir)
  res = codesign.run(cfg, tmp_path, progress=False)
  assert res["pareto_metrics"] == ["error", "latency_per_inference_s", "energy_per_inference_j",
                                   "peak_power_w"]
  assert all(len(h) == cfg.budget for h in res["evaluations"].values())
  fixed = res["evaluations"]["fixed_accelerator"]
  assert {e["hw"]["device"] for e in fixed} == {"cpu_rpi"}
  per = res["pareto_per_device"]
  evaluated = {e["hw"]["device"] for hs in res["evaluations"].values() for e in hs}
  assert set(per) == evaluated
  for d, front in per.items():
    assert all(e["hw"]["device"] == d and e["metrics"]["fits"] for e in front)
  ch = res["chosen"]["metrics"]
  if ch["fits"]:
    assert ch["latency_ucb_s"] <= 10.0 and ch["peak_power_ucb_w"] <= 15.0
    assert ch["latency_ucb_s"] == pytest.approx(ch["latency_per_inference_s"]
                                                + ch["latency_per_inference_s_std"])
  assert math.isfinite(res["chosen"]["performance"])
  assert (tmp_path / res["plots"]["pareto_per_device"]).is_file()
