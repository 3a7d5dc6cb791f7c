"""Hardware constants and area / leakage of AccelTran and AccelBench (specs/accelerator_area_power.md)."""

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.hardware import area_power as ap
from jaxcodesign.hardware import constants as C
from jaxcodesign.spaces.accelerators import AccelBenchSpace, AccelTranSpace, ElectorSpace

SPRING = {"Pib": 2, "Pif": 16, "Pix": 8, "Piy": 4, "Pof": 8, "Pkx": 3, "Pky": 3, "batch_size": 1,
          "activation_buffer_size": 12, "weight_buffer_size": 24, "mask_buffer_size": 4,
          "main_memory": {"type": "rram", "banks": 16, "ranks": 2, "channels": 2}}


def _yaml(fixtures_dir, *parts):
  return yaml.safe_load(fixtures_dir.joinpath(*parts).read_text())


@pytest.fixture(scope="module")
def consts(fixtures_dir):
  return _yaml(fixtures_dir, "acceltran", "constants", "constants.yaml")


def test_acceltran_constants_match_yaml(consts):
  assert C.CLOCK_MHZ == consts["clock_frequency"]
  assert (C.BITS_IL, C.BITS_FL) == (consts["bits"]["IL"], consts["bits"]["FL"])
  assert C.SPARSITY_ACTIVATION == consts["sparsity"]["activation"]
  assert C.SPARSITY_WEIGHT == consts["sparsity"]["weight"]
  assert C.SPARSITY_GRADIENT == consts["sparsity"]["gradient"]
  assert C.OVERLAP_FACTOR == consts["overlap_factor"]

  def same(k, y):
    assert (k.area_um2, k.dynamic_mw, k.leakage_mw) == (y["area"], y["dynamic"], y["leakage"])

  for (m, nl), k in C.ACCELTRAN_LANE.items():
    same(k, consts["lane"][f"mac_per_lane_{m}"][nl])
  for t in (8, 16, 32):
    same(C.ACCELTRAN_SOFTMAX[t], consts["softmax"][f"tile_{t}"])
    same(C.ACCELTRAN_LAYER_NORM[t], consts["layer_norm"][f"tile_{t}"])
  for name, k in [("stochastic_rounding", C.ACCELTRAN_STOCHASTIC_ROUNDING),
                  ("dataflow", C.ACCELTRAN_DATAFLOW), ("dma", C.ACCELTRAN_DMA),
                  ("fifo", C.ACCELTRAN_FIFO), ("pre_sparsity", C.ACCELTRAN_PRE_SPARSITY),
                  ("post_sparsity", C.ACCELTRAN_POST_SPARSITY)]:
    same(k, consts[name])
  for b, k in C.ACCELTRAN_BUFFERS.items():
    y = consts[f"{b}_buffer"]
    assert (k.area_um2_per_mb, k.energy_nj, k.leakage_mw_per_mb, k.ddr_bandwidth_gbps,
            k.legacy_bandwidth) == (y["area"], y["energy"], y["leakage"], y["ddr_bandwidth"],
                                    y["bandwidth"])
    assert C.BLOCK_SIZE_BYTES == y["block_size"]
  assert C.ACCELTRAN_MAIN_MEMORY_ENERGY == consts["main_memory"]["energy"]
  assert C.MAIN_MEMORY_MODE_GBPS == consts["main_memory"]["ddr_bandwidth"]
  for mode in ("lb", "hb"):
    assert C.LEGACY_BANDWIDTH_BITS_PER_CYCLE[mode] == consts["main_memory"]["bandwidth"][mode]


def test_bandwidth_conversion():
  # Correct link rates (spec): GB = 2**30 bytes, 8 bits per byte.
  assert round(C.gbps_to_bits_per_cycle(25.6), 1) == 314.1
  assert round(C.gbps_to_bits_per_cycle(256), 1) == 3141.5
  assert round(C.gbps_to_bits_per_cycle(370), 1) == 4540.4
  assert round(C.BUFFER_BITS_PER_CYCLE, 1) == 4540.4
  assert C.MAIN_MEMORY_BITS_PER_CYCLE["dram"] < C.MAIN_MEMORY_BITS_PER_CYCLE["hbm"]
  # 1e9-byte GB would not give the spec's figures.
  assert round(25.6e9 * 8 / 700e6, 1) != 314.1
  # The legacy constants are the 20-bits-per-byte formula, 2.5x the correct ones.
  for key, gbps in (("lb", 25.6), ("hb", 256.0), ("buffer", 370.0)):
    legacy = C.LEGACY_BANDWIDTH_BITS_PER_CYCLE[key]
    assert math.isclose(C.legacy_gbps_to_bits_per_cycle(gbps), legacy, rel_tol=1e-6)
    assert math.isclose(legacy / C.gbps_to_bits_per_cycle(gbps), 2.5, rel_tol=1e-6)


def test_acceltran_area_named_configs(fixtures_dir):
  tiny = _yaml(fixtures_dir, "acceltran", "config", "config_tiny.yaml")
  base = _yaml(fixtures_dir, "acceltran", "config", "config_base.yaml")
  assert ap.acceltran_area_mm2(tiny) == 54.06426665203198  # bit-exact legacy summation order
  assert round(ap.acceltran_area_mm2(base), 2) == 1829.70
  # Closed form agrees to ~1e-14 (spec section 3).
  p, l, s = 64, 16, 4
  closed = (p * (l * (9418.667591 + 6216.896914 + 1181.201447 + 484.379110) + s * 87573.326116
                 + 75946.982008 + 144.636242 + 81104.126482)
            + 4 * 303305.83 + 8 * 294100.83 + 1 * 302565.0) / 1e6
  assert math.isclose(ap.acceltran_area_mm2(tiny), closed, rel_tol=1e-13)
  # Training adds one stochastic-rounding unit per lane.
  extra = ap.acceltran_area_mm2(tiny, training=True) - ap.acceltran_area_mm2(tiny)
  assert math.isclose(extra, p * l * C.ACCELTRAN_STOCHASTIC_ROUNDING.area_um2 / 1e6, rel_tol=1e-9)


def test_acceltran_power_breakdown(fixtures_dir):
  tiny = _yaml(fixtures_dir, "acceltran", "config", "config_tiny.yaml")
  mods = ap.acceltran_module_power(tiny)
  assert mods["mac_lanes"]["count"] == 64 * 16
  assert mods["softmax"]["count"] == 64 * 4
  assert math.isclose(mods["mac_lanes"]["dynamic_mw"], 1024 * 5.1955)
  assert math.isclose(mods["weight_buffer"]["leakage_mw"], 8 * 210.40467)
  total = sum(v["leakage_mw"] for v in mods.values())
  assert math.isclose(ap.acceltran_leakage_mw(tiny), total)
  # Buffer leakage dominates a small chip's static power: sanity of magnitudes.
  buffers = 4 * 247.918667 + 8 * 210.40467 + 1 * 238.196
  assert math.isclose(total - buffers, sum(v["leakage_mw"] for k, v in mods.items()
                                           if not k.endswith("_buffer")))


def test_acceltran_missing_constants_raise(fixtures_dir):
  tiny = _yaml(fixtures_dir, "acceltran", "config", "config_tiny.yaml")
  bad = dict(tiny, tile={"tile_b": 1, "tile_x": 12, "tile_y": 12})
  with pytest.raises(SpaceError, match="tile.tile_x"):
    ap.acceltran_area_mm2(bad)
  with pytest.raises(SpaceError, match="pe"):
    ap.acceltran_area_mm2({k: v for k, v in tiny.items() if k != "pe"})
  with pytest.raises(SpaceError, match="mac_per_lane"):
    ap.acceltran_leakage_mw(dict(tiny, mac_per_lane=4))


def test_acceltran_array_versions_match_scalar():
  for space in (ElectorSpace(), AccelTranSpace()):
    pts = space.sample(jax.random.key(3), 16)
    arrays = space.config_arrays(pts)
    area = jax.jit(ap.acceltran_area_mm2_arrays)(arrays)
    leak = jax.jit(ap.acceltran_leakage_mw_arrays)(arrays)
    np.testing.assert_allclose(area, [ap.acceltran_area_mm2(p) for p in pts], rtol=1e-6)
    np.testing.assert_allclose(leak, [ap.acceltran_leakage_mw(p) for p in pts], rtol=1e-6)
    dyn = ap.acceltran_peak_dynamic_mw_arrays(arrays)
    ref = [sum(v["dynamic_mw"] for v in ap.acceltran_module_power(p).values()) for p in pts]
    np.testing.assert_allclose(dyn, ref, rtol=1e-6)
    # vmap over single configs gives the same numbers.
    single = jax.vmap(ap.acceltran_area_mm2_arrays)({k: jnp.asarray(v) for k, v in arrays.items()})
    np.testing.assert_allclose(single, area, rtol=1e-6)
    unit = ap.acceltran_unit_power_arrays(arrays)
    for i, p in enumerate(pts):
      assert math.isclose(float(unit["lane_dyn"][i]),
                          C.ACCELTRAN_LANE[(p["mac_per_lane"], p["non_linearity"])].dynamic_mw,
                          rel_tol=1e-6)
      assert math.isclose(float(unit["softmax_leak"][i]),
                          C.ACCELTRAN_SOFTMAX[p["tile"]["tile_x"]].leakage_mw, rel_tol=1e-6)


def _spec_table(fixtures_dir):
  text = (fixtures_dir.parent / "specs" / "accelerator_area_power.md").read_text()
  rows = {}
  for line in text.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 5 and re.match(r"^[\d.]", cells[1]):
      rows[cells[0]] = [float(re.match(r"[\d.]+", c).group()) for c in cells[1:4]]
  return rows


def test_accelbench_constants_match_spec(fixtures_dir):
  rows = _spec_table(fixtures_dir)
  names = {"dataflow": "dataflow", "DMA": "dma", "FIFO": "fifo", "batch-norm": "batch_norm",
           "im2col": "im2col", "pooling": "pooling", "global average pooling": "global_avg_pooling",
           "upsampling": "upsampling", "pre-sparsity": "pre_sparsity",
           "post-sparsity": "post_sparsity"}
  for spec_name, key in names.items():
    k, _ = C.ACCELBENCH_MODULES[key]
    assert [k.area_um2, k.dynamic_mw, k.leakage_mw] == rows[spec_name], spec_name
  text = (fixtures_dir.parent / "specs" / "accelerator_area_power.md").read_text()
  for (pif, act), k in C.ACCELBENCH_LANE.items():
    assert f"{k.area_um2:.6f}" in text and str(k.leakage_mw) in text, (pif, act)
  for v in C.ACCELBENCH_MAIN_MEMORY_ENERGY.values():
    assert str(v) in text


def test_accelbench_spring_point():
  assert ap.accelbench_area_mm2(SPRING) == pytest.approx(230.06409445958403, rel=1e-12)
  assert ap.accelbench_leakage_mw(SPRING) == pytest.approx(15332.401, abs=1e-3)
  # Using both activations selects the larger lane and grows the area.
  assert ap.accelbench_area_mm2(SPRING, ("relu", "silu")) > ap.accelbench_area_mm2(SPRING)
  mods = ap.accelbench_module_power(SPRING)
  assert mods["fifo"]["count"] == 64 * 72 * 16 * 2
  assert math.isclose(sum(v["leakage_mw"] for v in mods.values()),
                      ap.accelbench_leakage_mw(SPRING), rel_tol=1e-12)
  assert math.isclose(sum(v["area_um2"] for v in mods.values()) / 1e6,
                      ap.accelbench_area_mm2(SPRING), rel_tol=1e-12)
  with pytest.raises(ConfigError, match="gelu"):
    ap.accelbench_area_mm2(SPRING, ("gelu",))


def test_accelbench_arrays_match_scalar():
  space = AccelBenchSpace()
  pts = space.sample(jax.random.key(5), 16) + [space.validate(SPRING)]
  arrays = space.config_arrays(pts)
  area = jax.jit(ap.accelbench_area_mm2_arrays)(arrays)
  leak = jax.jit(ap.accelbench_leakage_mw_arrays)(arrays)
  np.testing.assert_allclose(area, [ap.accelbench_area_mm2(p) for p in pts], rtol=1e-6)
  np.testing.assert_allclose(leak, [ap.accelbench_leakage_mw(p) for p in pts], rtol=1e-6)
  dyn = ap.accelbench_peak_dynamic_mw_arrays(arrays, ("silu",))
  ref = [sum(v["dynamic_mw"] for v in ap.accelbench_module_power(p, ("silu",)).values()) for p in pts]
  np.testing.assert_allclose(dyn, ref, rtol=1e-6)


def test_peak_tops():
  assert round(C.peak_tops(64, 16, 16), 1) == 22.9
  assert round(C.peak_tops(512, 32, 16)) == 367
