"""ProTran profiler on this machine: more MACs measured slower, energy never invented, active
learning resumes and its rows are accepted by the device surrogate."""

import json
import math

import jax
import pytest

from jaxcodesign.edgetran import profiler
from jaxcodesign.errors import ConfigError
from jaxcodesign.spaces import get_space
from jaxcodesign.surrogates import devices as dv


def _md(L, h, n, f):
  return {"l": L, "o": [[f"sa_sdp_{h // n}"] * n for _ in range(L)], "h": [h] * L, "f": [[f]] * L}


def test_more_macs_is_measured_slower_on_this_machine():
  """Three sizes whose MACs differ by >= 8x each (seq 32; 8.9e6, 8.5e7, 1.1e9 MACs): the measured
  latencies (median of 7 runs after warm-up) have the same order (Kendall tau 1); robust on a busy
  machine because the gaps are large. Two heads per layer keep the compilations small."""
  models = [_md(2, 128, 2, 256), _md(2, 256, 2, 2048), _md(4, 768, 2, 4096)]
  macs = [math.exp(dv.workload_features(m, seq_len=32)[0]) for m in models]
  assert macs[1] / macs[0] >= 8 and macs[2] / macs[1] >= 8, macs
  lat = [profiler.measure_model(m, seq_len=32, runs=7, warmup=2)["latency_s_per_seq"] for m in models]
  assert lat[0] < lat[1] < lat[2], (macs, lat)


def test_energy_is_none_without_a_sensor_and_rapl_counter_wraps(tmp_path):
  m = profiler.measure_model(_md(2, 128, 2, 256), seq_len=8, runs=2, warmup=1, meter=None)
  assert m["energy_j_per_seq"] is None and m["peak_power_w"] is None and m["energy_source"] is None
  assert len(m["latency_runs_s"]) == 2 and m["latency_s_per_seq"] > 0
  # a fake powercap tree: the counter wraps at max_energy_range_uj; top-level zones only
  z = tmp_path / "intel-rapl:0"
  z.mkdir()
  (z / "energy_uj").write_text("999000000\n")
  (z / "max_energy_range_uj").write_text("1000000000\n")
  sub = tmp_path / "intel-rapl:0:0"
  sub.mkdir()
  (sub / "energy_uj").write_text("5\n")
  meter = profiler.RaplMeter(str(tmp_path))
  (z / "energy_uj").write_text("1000000\n")  # +1 J to the wrap, +1 J after it
  assert meter.read_energy_j() == pytest.approx(2.0)
  with pytest.raises(OSError):
    profiler.RaplMeter(str(tmp_path / "none"))
  with pytest.raises(ConfigError, match="meter"):
    profiler.detect_meter("watts")


def test_active_learning_resumes_and_rows_join_the_devices(fixtures_dir, tmp_path):
  ref = dv.read_rows(fixtures_dir / "protran" / "measurements.jsonl", need_targets=True)
  ref = [r for r in ref if r["device"] in ("gpu_a100", "cpu_m1-pro")][:40]
  space = get_space("flexibert2", layers=(2,), hidden=(128, 256))
  cfg = profiler.ProfileConfig(budget=2, n_candidates=12, n_init=2, seq_len=16, runs=2, warmup=1,
                               surrogate=(("n_members", 2), ("steps", 100), ("n_trees", 20),
                                          ("n_ada", 20)))
  out = tmp_path / "me.jsonl"
  log = []
  rows = profiler.profile_device(jax.random.key(0), "this_machine", out, cfg, space=space,
                                 reference_rows=ref, log=log.append)
  assert len(rows) == 2 and all("spread over MACs" in s for s in log)
  first = out.read_text()
  cfg3 = profiler.ProfileConfig(**{**cfg.__dict__, "budget": 3})
  rows = profiler.profile_device(jax.random.key(0), "this_machine", out, cfg3, space=space,
                                 reference_rows=ref, log=log.append)
  assert out.read_text().startswith(first) and len(rows) == 3
  assert "max predicted std" in log[-1]  # the third pick came from the surrogate's uncertainty
  assert len({r["hash"] for r in rows}) == 3
  # smallest and largest MACs of the pool came first
  lines = [json.loads(l) for l in out.read_text().splitlines()]
  assert all(l["device"] == "this_machine" and l["energy_j_per_seq"] is None for l in lines)
  # the rows are accepted by the device surrogate next to the measured devices
  back = dv.read_rows(out, need_targets=True)
  sur = dv.fit_device_surrogate(jax.random.key(1), ref + back,
                                dv.DeviceSurrogateConfig(nn_weight=0.0, n_trees=20))
  pred = dv.predict_rows(sur, [back[0]["model_dict"]], ["this_machine"])[0]
  assert pred["latency_s_per_seq"] > 0 and pred["energy_j_per_seq"] is None
  with pytest.raises(ConfigError, match="already a measured device"):
    profiler.profile_device(jax.random.key(0), "gpu_a100", out, cfg, space=space, reference_rows=ref)
