"""Independent oracles for the AccelBench (SPRING) CNN model: cycles, bytes, energies and powers
worked out by hand for a single convolution, a single dense layer and a 2-layer CNN (docs/
accelbench_model.md gives the equations these numbers follow), and physical bounds on sampled pairs.

The module constants (mW, nJ) come from ``constants.py`` (the published synthesis figures), the link
rate from the config arrays; everything the model computes from them (busy cycles, accesses, bytes,
the schedule) is counted here by hand. Doubling any module's dynamic power, the MAC count, a
buffer's access energy or the traffic breaks at least one assertion.
"""

import math

import jax
import numpy as np
import pytest

from jaxcodesign.errors import ConfigError
from jaxcodesign.hardware import accelbench as A
from jaxcodesign.hardware import area_power
from jaxcodesign.hardware import cnn_workload as W
from jaxcodesign.hardware import constants as C
from jaxcodesign.spaces.accelerators import AccelBenchSpace
from jaxcodesign.spaces.cnnbench import LayerShape

RRAM = {"type": "rram", "banks": 16, "ranks": 2, "channels": 2}
SPRING = dict(Pib=2, Pif=16, Pix=8, Piy=4, Pof=8, Pkx=3, Pky=3, batch_size=1,
              activation_buffer_size=12, weight_buffer_size=24, mask_buffer_size=4, main_memory=RRAM)
# PE = 1*2*2 = 4, lanes per PE = 2*3*3 = 18, one multiplier per lane; buffers at the FinCACTI
# reference sizes (12 / 24 / 4 MB), so the sqrt(size/ref) factor of the access energy is 1.
SMALL = dict(Pib=1, Pif=1, Pix=2, Piy=2, Pof=2, Pkx=3, Pky=3, batch_size=1,
             activation_buffer_size=12, weight_buffer_size=24, mask_buffer_size=4, main_memory=RRAM)
F = 700.0  # MHz: mW * cycles / MHz = nJ
BLK = 512.0  # bits per 64-byte access


def mod(name):
  return C.ACCELBENCH_MODULES[name][0].dynamic_mw


def link(cfg):
  return float(A.cnn_config_arrays([cfg])["mm_bits_per_cycle"][0])


def mm_nj(cfg):
  return float(A.cnn_config_arrays([cfg])["mm_energy_nj"][0])


def eb(name):  # nJ per bit of a buffer at its reference size
  return C.ACCELBENCH_BUFFERS[name].energy_nj / BLK


def conv_row(cin, cout, hw_in, k):
  ho = hw_in - k + 1
  params = k * k * cin * cout
  return LayerShape(0, 1, f"conv{k}x{k}-c{cout}", "conv", cin, cout, (hw_in, hw_in), (ho, ho), k, 1, 1,
                    params, params * ho * ho)


def row(kind, c, hw, params=0, out_c=None):
  return LayerShape(0, 2, kind, kind, c, out_c or c, (hw, hw), (hw, hw), 0, 0, 1, params, 0)


def dense_row(fin, fout):
  return LayerShape(1, 1, f"dense-{fout}", "dense", fin, fout, (1, 1), (1, 1), 0, 0, 1,
                    fin * fout + fout, fin * fout)


def one(table, cfg, **kw):
  out = A.simulate_cnn_arrays(table, A.cnn_config_arrays([cfg]), **kw)
  return jax.tree_util.tree_map(lambda a: float(np.asarray(a)[0]), out)


# ---------------------------------------------------------------------------------------------------
# A single 3x3 convolution: 3 -> 4 channels, 7x7 -> 5x5, batch 1, on SMALL.

def test_single_conv_by_hand():
  r = link(SMALL)
  out = one(W.lower_layers([conv_row(3, 4, 7, 3)]), SMALL)
  # cycles: G*ceil(B/Pib)*ceil(Kg/Pof)*ceil(Cg/Pif)*ceil(OH/Pix)*ceil(OW/Piy)*ceil(R/Pkx)*ceil(S/Pky)
  comp = 1 * 1 * 2 * 3 * 3 * 3 * 1 * 1
  assert out["compute_cycles"] == comp == 54
  # bits: 108 weights and 147 inputs, 20 bits + a 1-bit mask each, before the op; 100 outputs after
  load_bits, out_bits = (108 + 147) * 21, 100 * 21
  assert out["roofline_memory_cycles"] == pytest.approx((load_bits + out_bits) / r, rel=1e-6)
  assert out["roofline_compute_cycles"] == pytest.approx(2700 / (4 * 18 * 1), rel=1e-6)  # 2,700 MACs
  load = load_bits / r
  assert out["cycles"] == pytest.approx(load + comp, rel=1e-6)  # the output streams during the op
  # energy (nJ) per component: 2,700 lane-cycles (4 x 5x5 x 3x3 outputs-taps x ceil(3/1) channels)
  e = out["energy_breakdown_nj"]
  lane = C.ACCELBENCH_LANE[(1, "relu")].dynamic_mw
  expect = {
      "mac_lanes": 2700 * lane / F,
      "im2col": 2700 * mod("im2col") * A.IM2COL_POWER_SCALE / F,
      "sparsity": 2700 * (mod("pre_sparsity") + mod("post_sparsity")) / F,
      "fifo": 2700 * 2 * 1 * mod("fifo") / F,  # 2*Pif FIFOs per busy lane
      "batch_norm": 0.0, "pooling": 0.0, "global_avg_pooling": 0.0, "upsampling": 0.0,
      "dataflow": 4 * 54 * mod("dataflow") / F,  # one per PE for the op's 54 cycles
      "dma": 4 * (load_bits + out_bits) / r * mod("dma") / F,  # one per PE while the link is busy
      # weights read once per (batch, pixel) tile: 1*3*3 = 9 times, plus the fill: 108 x 10 x 20 bits
      "weight_buffer": 108 * 10 * 20 * eb("weight"),
      # inputs read once per output-channel tile (ceil(4/2) = 2), outputs written: 147*2 + 100
      "activation_buffer": (147 * 2 + 100) * 20 * eb("activation"),
      "mask_buffer": (108 * 10 + 394) * eb("mask"),
      "main_memory": (load_bits + out_bits) / BLK * mm_nj(SMALL),
  }
  assert set(e) == set(expect) == set(A.COMPONENTS)
  for k, v in expect.items():
    assert e[k] == pytest.approx(v, rel=1e-5, abs=1e-9), k
  assert out["energy_dynamic_j"] == pytest.approx(sum(expect.values()) * 1e-9, rel=1e-5)
  assert out["main_memory_energy_j"] == pytest.approx(expect["main_memory"] * 1e-9, rel=1e-5)
  leak_mw = area_power.accelbench_leakage_mw(SMALL)
  lat = (load + comp) / 700e6
  assert out["energy_leakage_j"] == pytest.approx(leak_mw * 1e-3 * lat, rel=1e-5)
  assert out["energy_j"] == pytest.approx(sum(expect.values()) * 1e-9 + leak_mw * 1e-3 * lat, rel=1e-5)
  assert out["avg_power_w"] == pytest.approx(out["energy_j"] / lat, rel=1e-5)
  # on-chip peak: the op's modules and buffer reads over its 54 cycles + its dataflow controllers,
  # with the DMA streaming the output at the same time; the load (DMA + buffer fill) runs alone before
  fill = 108 * 20 * eb("weight") + 108 * eb("mask")
  reads = expect["weight_buffer"] + expect["activation_buffer"] + expect["mask_buffer"] - fill
  p_comp = ((expect["mac_lanes"] + expect["im2col"] + expect["sparsity"] + expect["fifo"] + reads)
            / comp * F + 4 * mod("dataflow"))
  p_dma = 4 * mod("dma")
  p_load = p_dma + fill / load * F
  peak_mw = max(p_comp + p_dma, p_load)
  assert out["peak_power_w"] == pytest.approx((peak_mw + leak_mw) * 1e-3, rel=1e-5)
  assert out["main_memory_power_w"] == pytest.approx(mm_nj(SMALL) / BLK * r * F * 1e-3, rel=1e-6)
  # stream of batches: the weights stay resident, only the 147 inputs are loaded per batch
  assert out["throughput_per_s"] == pytest.approx(700e6 / (147 * 21 / r + comp), rel=1e-5)
  assert out["utilisation"]["mac_lanes"] == pytest.approx(2700 / (4 * 18 * (load + comp)), rel=1e-5)
  assert out["utilisation"]["multipliers"] == pytest.approx(2700 / (4 * 18 * (load + comp)), rel=1e-5)


# ---------------------------------------------------------------------------------------------------
# A single dense layer 100 -> 10, a batch of 4 fixed in the table, on SPRING (Pif = 16).

def test_single_dense_by_hand():
  r = link(SPRING)
  res = A.simulate_cnn(None, [SPRING], op_table=W.lower_layers([dense_row(100, 10)], batch_size=4))[0]
  out = one(W.lower_layers([dense_row(100, 10)], batch_size=4), SPRING)
  comp = 2 * 2 * 7  # ceil(4/Pib=2) * ceil(10/Pof=8) * ceil(100/Pif=16); no pixels, no kernel
  load_bits = (1010 + 400) * 21  # 1,010 weights (with bias) + 4 x 100 inputs
  out_bits = 40 * 21  # 4 x 10 outputs
  assert out["compute_cycles"] == comp
  assert out["cycles"] == pytest.approx(load_bits / r + comp, rel=1e-6)
  assert res["cycles"] == math.ceil(load_bits / r + comp)  # whole cycles in the result dicts
  assert res["roofline_memory_cycles"] == pytest.approx((load_bits + out_bits) / r, rel=1e-6)
  assert res["roofline_compute_cycles"] == pytest.approx(4 * 1000 / (64 * 72 * 16), rel=1e-6)
  e = out["energy_breakdown_nj"]
  lane = C.ACCELBENCH_LANE[(16, "relu")].dynamic_mw
  assert e["mac_lanes"] == pytest.approx(4 * 10 * 7 * lane / F, rel=1e-5)  # 280 lane-cycles
  assert e["im2col"] == 0.0  # a dense layer needs no im2col
  assert e["fifo"] == pytest.approx(280 * 2 * 16 * mod("fifo") / F, rel=1e-5)
  # weights read once per batch tile (ceil(4/2) = 2) + the fill; inputs once per ceil(10/8) = 2
  # output-channel tiles, outputs written once
  assert e["weight_buffer"] == pytest.approx(1010 * 3 * 20 * eb("weight"), rel=1e-5)
  assert e["activation_buffer"] == pytest.approx((400 * 2 + 40) * 20 * eb("activation"), rel=1e-5)
  assert e["main_memory"] == pytest.approx((load_bits + out_bits) / BLK * mm_nj(SPRING), rel=1e-5)
  assert res["batch_size"] == 4 and res["mode"] == "inference"
  assert res["latency_per_inference_s"] == pytest.approx(res["latency_s"] / 4, rel=1e-12)
  assert res["energy_per_inference_j"] == pytest.approx(res["energy_j"] / 4, rel=1e-12)
  assert res["latency_s"] == res["cycles"] / 700e6
  # resident weights: per batch the stream loads 400 inputs, computes 28 cycles
  assert res["throughput_per_s"] == pytest.approx(4 * 700e6 / math.ceil(400 * 21 / r + comp), rel=1e-9)
  comps = res["energy_components"]
  assert sum(c["dynamic_j"] for c in comps.values()) == pytest.approx(res["energy_dynamic_j"], rel=1e-5)
  assert sum(c["leakage_j"] for c in comps.values()) == pytest.approx(res["energy_leakage_j"], rel=1e-9)
  assert res["area_mm2"] == 230.06409445958403 and res["fits_reticle"]


# ---------------------------------------------------------------------------------------------------
# A 2-layer CNN: conv 3x3 (3 -> 4, 7x7 -> 5x5) + batch-norm + ReLU, flatten, dense 100 -> 2.

def two_layer_rows():
  return [conv_row(3, 4, 7, 3), row("bn", 4, 5, params=8), row("relu", 4, 5),
          LayerShape(1, 0, "flatten", "flatten", 4, 100, (5, 5), (1, 1), 0, 0, 1, 0, 0),
          dense_row(100, 2)]


def test_two_layer_cnn_by_hand_unfolded():
  r = link(SMALL)
  res = A.simulate_cnn(None, [SMALL], op_table=W.lower_layers(two_layer_rows()), fold_batchnorm=False)[0]
  out = one(W.lower_layers(two_layer_rows()), SMALL)
  # compute: conv 54; bn 100 elements on 4 modules: 25; relu 100 on 4*18 lanes: 2; dense
  # ceil(2/2) * ceil(100/1) = 100
  assert out["compute_cycles"] == 54 + 25 + 2 + 100
  # the bn's and the dense layer's weights (8 and 202 x 21 bits, 22.5 cycles) are prefetched during
  # the conv, so the ops run back to back after the first load
  assert out["cycles"] == pytest.approx((108 + 147) * 21 / r + 54 + 25 + 2 + 100, rel=1e-6)
  bits = (108 + 8 + 202 + 147 + 2) * 21  # all weights, the input, the 2 logits
  assert res["roofline_memory_cycles"] == pytest.approx(bits / r, rel=1e-6)
  assert res["roofline_compute_cycles"] == pytest.approx((2700 + 200) / 72, rel=1e-6)
  e = out["energy_breakdown_nj"]
  lane = C.ACCELBENCH_LANE[(1, "relu")].dynamic_mw
  # lane-cycles: conv 2,700 + relu 100 elements + dense 2 x 100
  assert e["mac_lanes"] == pytest.approx((2700 + 100 + 200) * lane / F, rel=1e-5)
  assert e["batch_norm"] == pytest.approx(100 * mod("batch_norm") / F, rel=1e-5)
  assert e["main_memory"] == pytest.approx(bits / BLK * mm_nj(SMALL), rel=1e-5)


def test_two_layer_cnn_by_hand_folded():
  r = link(SMALL)
  res = A.simulate_cnn(None, [SMALL], op_table=W.lower_layers(two_layer_rows()))[0]  # inference: fold
  folded = W.fold_batchnorm(W.lower_layers(two_layer_rows()))
  assert folded.n_ops == 4 and folded.bn_folded == 1
  assert list(folded.kind[:4]) == [W.OP_CONV, W.OP_ACT, W.OP_FREE, W.OP_DENSE]
  assert folded.weight_elems[0] == 108 + 4  # the folded shift: a bias per output channel
  assert W.fold_batchnorm(folded) is folded
  out = one(folded, SMALL)
  assert out["compute_cycles"] == 54 + 2 + 100
  assert out["cycles"] == pytest.approx((112 + 147) * 21 / r + 54 + 2 + 100, rel=1e-6)
  assert res["cycles"] == math.ceil((112 + 147) * 21 / r + 156)
  assert out["energy_breakdown_nj"]["batch_norm"] == 0.0
  bits = (112 + 202 + 147 + 2) * 21
  assert res["roofline_memory_cycles"] == pytest.approx(bits / r, rel=1e-6)
  assert res["main_memory_energy_j"] == pytest.approx(bits / BLK * mm_nj(SMALL) * 1e-9, rel=1e-5)


def test_prefetch_window_limited_by_the_weight_buffer():
  """Three ops; the weight buffer holds the first two ops' weights but not all three, so the third
  op's load waits for the first op to finish (it then runs while the second op computes)."""
  rows = [conv_row(64, 64, 30, 3), dense_row(64, 64), dense_row(64, 64)]
  table = W.lower_layers(rows)
  arrays = A.cnn_config_arrays([SPRING, SPRING])
  r = float(arrays["mm_bits_per_cycle"][0])
  w0, w1 = 36864 * 20, 4160 * 20  # weight bits
  arrays["weight_buffer_size"] = np.asarray([24.0, (w0 + w1 + 1000) / A.MB_BITS], np.float32)
  out = A.simulate_cnn_arrays(table, arrays)
  c0 = 1 * 1 * 8 * 4 * 4 * 7 * 1 * 1  # 64/8 out-ch tiles, 64/16 in-ch tiles, 28/8 x 28/4 pixel tiles
  c1 = 8 * 4  # ceil(64/8) * ceil(64/16)
  l0 = (36864 + 64 * 30 * 30) * 21 / r  # the conv's weights and the network input
  l1 = 4160 * 21 / r  # each dense layer's weights (444.9 cycles; both fit in the conv's 896)
  o2 = 64 * 21 / r  # the logits stream out during the last op
  assert np.asarray(out["compute_cycles"]).tolist() == [c0 + 2 * c1] * 2
  big = l0 + max(c0, 2 * l1) + c1 + max(c1, o2)
  small = l0 + c0 + max(c1, l1) + max(c1, o2)  # load 2 starts when op 0 ends
  np.testing.assert_allclose(np.asarray(out["cycles"]), [big, small], rtol=1e-6)
  assert bool(out["weights_resident"][0]) and not bool(out["weights_resident"][1])
  # a table whose weights do not all fit also pays the loads again in a stream of batches
  assert float(out["steady_cycles"][1]) == pytest.approx(small, rel=1e-6)
  assert float(out["steady_cycles"][0]) == pytest.approx(64 * 30 * 30 * 21 / r + c0 + 2 * c1, rel=1e-6)


def test_op_larger_than_the_buffer_loads_after_its_predecessor():
  rows = [conv_row(16, 16, 30, 3), dense_row(256, 256)]
  arrays = A.cnn_config_arrays([SMALL])
  r = float(arrays["mm_bits_per_cycle"][0])
  arrays["weight_buffer_size"] = np.asarray([1000 * 20 / A.MB_BITS], np.float32)  # 1,000 weights
  out = A.simulate_cnn_arrays(W.lower_layers(rows), arrays)
  c0 = 1 * 1 * 8 * 16 * 14 * 14 * 1 * 1
  c1 = 128 * 256
  l0, l1 = (2304 + 16 * 900) * 21 / r, 65792 * 21 / r
  assert not bool(out["fits"][0])
  assert float(out["cycles"][0]) == pytest.approx(l0 + c0 + l1 + c1, rel=1e-6)


# ---------------------------------------------------------------------------------------------------
# Physical bounds on sampled pairs, options.

def test_cycles_never_below_either_roofline_on_sampled_pairs():
  from test_hardware_accelbench import resnet18_rows, small_cnn_point
  configs = AccelBenchSpace().sample(jax.random.key(11), 48)
  sp = {"activation": np.linspace(0, 0.9, 48), "weight": np.linspace(0.8, 0, 48)}
  tables = [W.lower_layers(resnet18_rows()[:24]),  # one bucket (32 ops): one compilation
            W.lower_layers(resnet18_rows()[30:], fold_bn=True, bucket=32),
            W.lower_cnn(small_cnn_point(), (1, 8, 8), 10, bucket=32)]
  for t in tables:
    out = A.simulate_cnn_arrays(t, A.cnn_config_arrays(configs), sp)
    cyc = np.asarray(out["cycles"], np.float64)
    assert np.all(cyc >= np.asarray(out["roofline_compute_cycles"]) * (1 - 1e-6))
    assert np.all(cyc >= np.asarray(out["roofline_memory_cycles"]) * (1 - 1e-6))
    assert np.all(cyc >= np.asarray(out["compute_cycles"]) * (1 - 1e-6))
    # on-chip peak power: at least the average die power, at most every module busy at once
    die_avg = (np.asarray(out["energy_j"]) - np.asarray(out["main_memory_energy_j"])) / np.asarray(out["latency_s"])
    assert np.all(np.asarray(out["peak_power_w"]) >= die_avg * (1 - 1e-4))


def test_modes_reticle_and_errors():
  t = W.lower_layers([dense_row(100, 10)])
  with pytest.raises(ConfigError, match="inference"):
    A.simulate_cnn(None, [SPRING], op_table=t, mode="training")
  res = A.simulate_cnn(None, [SPRING], op_table=t, reticle_mm2=200.0)[0]
  assert res["fits"] and not res["fits_reticle"]  # 230.06 mm^2 > 200
  assert A.simulate_cnn(None, [SPRING], op_table=t)[0]["fits_reticle"]  # <= 858 mm^2
  with pytest.raises(ConfigError, match="input_shape"):
    A.simulate_cnn({"modules": []}, [SPRING])
  assert isinstance(A.simulate_cnn(None, [SPRING], op_table=t)[0]["cycles"], int)
  with pytest.raises(ConfigError, match="missing keys"):
    A.simulate_cnn_arrays(t, {"Pib": np.ones(2)})
  with pytest.raises(ConfigError, match="configs"):
    A.cnn_config_arrays([])


def test_pure_batch_model_takes_the_batch_from_the_configs():
  """simulate_batch with its defaults (no fixed table batch): dense 100 -> 10 at batch 64 on SPRING."""
  t = W.lower_layers([dense_row(100, 10)])
  arr = A.cnn_config_arrays([dict(SPRING, batch_size=64)])
  cfg = {k: np.asarray(arr[k], np.float32) for k in A.CONFIG_KEYS}
  out = A.simulate_batch(t.arrays(), cfg, A.sparsity_arrays(None, 1))
  assert float(out["compute_cycles"][0]) == 32 * 2 * 7  # ceil(64/2) * ceil(10/8) * ceil(100/16)
  assert float(out["batch_size"][0]) == 64


def test_sub_cycle_load_delays_the_op():
  """A ReLU on 4 elements: its input load (4 x 21 bits, 0.43 cycles) precedes its one cycle of work."""
  r = link(SMALL)
  out = one(W.lower_layers([row("relu", 1, 2, out_c=1)]), SMALL)
  assert out["compute_cycles"] == 1  # ceil(4 / (4 PEs x 18 lanes))
  assert out["cycles"] == pytest.approx(4 * 21 / r + 1, rel=1e-6)
  assert out["roofline_memory_cycles"] == pytest.approx(8 * 21 / r, rel=1e-6)


def test_sparsity_forms_scale_the_contraction():
  """Single conv (Cg = 3): Cg_eff = max(1, ceil(3 (1-s_a)(1-s_w))) channels per lane pass."""
  t = W.lower_layers([conv_row(3, 4, 7, 3)])
  arr = A.cnn_config_arrays([SMALL, SMALL])
  cyc = lambda sp: np.asarray(A.simulate_cnn_arrays(t, arr, sp)["compute_cycles"]).tolist()
  per_tile = 2 * 3 * 3  # ceil(4/2) * ceil(5/2)^2
  assert cyc(None) == [3 * per_tile] * 2
  assert cyc(0.5) == [1 * per_tile] * 2  # ceil(0.75) = 1
  assert cyc((0.5, 0.0)) == [2 * per_tile] * 2  # ceil(1.5) = 2
  assert cyc({"weight": [0.0, 0.7]}) == [3 * per_tile, 1 * per_tile]  # ceil(0.9) = 1
  assert cyc({"activation": 1.0, "weight": 1.0}) == [per_tile] * 2  # never below one pass
  with pytest.raises(ConfigError, match="sparsity"):
    A.sparsity_arrays({"activation": [0.1, 0.2, 0.3]}, 2)
  with pytest.raises(ConfigError, match="sparsity"):
    A.sparsity_arrays("dense", 2)
  with pytest.raises(ConfigError, match="sparsity.weight"):
    A.sparsity_arrays({"weight": -0.1}, 2)


def test_prepared_arrays_equal_the_dicts():
  from types import SimpleNamespace
  configs = [SPRING, SMALL]
  t = W.lower_layers(two_layer_rows())
  prepared = SimpleNamespace(configs=configs, arrays=A.cnn_config_arrays(configs))
  arr = A.simulate_cnn_prepared(None, prepared, op_table=t, sparsity=0.25)
  rows = A.simulate_cnn(None, configs, op_table=t, sparsity=0.25)
  for i, r in enumerate(rows):
    for k in A.SCALAR_KEYS:
      assert arr[k][i] == r[k], k
    assert arr["mode"][i] == r["mode"] == "inference"
    for k, (dyn, leak) in arr["energy_components"].items():
      assert dyn[i] == pytest.approx(r["energy_components"][k]["dynamic_j"], rel=1e-12)
      assert leak[i] == pytest.approx(r["energy_components"][k]["leakage_j"], rel=1e-12)
  assert arr["cycles"].dtype == np.int64 and arr["fits_reticle"].dtype == bool
  assert arr["area_mm2"][0] == 230.06409445958403


def test_strided_projection_reads_only_the_inputs_it_uses():
  """1x1 conv, stride 2, 16 -> 8 channels on 8x8 -> 4x4: 16 x 16 = 256 of the 1,024 inputs are read,
  once per output-channel tile (ceil(8 / Pof=2) = 4 on SMALL), and 128 outputs written."""
  rows = [LayerShape(0, 1, "proj", "proj", 16, 8, (8, 8), (4, 4), 1, 2, 1, 128, 128 * 16)]
  out = one(W.lower_layers(rows), SMALL)
  assert out["energy_breakdown_nj"]["activation_buffer"] == pytest.approx(
      (256 * 4 + 128) * 20 * eb("activation"), rel=1e-5)


def test_elementwise_work_scales_with_the_batch():
  """ReLU and batch-norm on 16 x 8 x 8 = 1,024 elements per image, a batch of 4 fixed in the table."""
  for kind, units in (("relu", 4 * 18), ("bn", 4)):
    out = one(W.lower_layers([row(kind, 16, 8)], batch_size=4), SMALL)
    assert out["compute_cycles"] == math.ceil(4 * 1024 / units), kind


def test_defaults_of_the_helpers():
  t = W.lower_layers(two_layer_rows())
  assert A.prepare_table(None, None, None, op_table=t).bn_folded == 1  # inference folds by default
  assert A.prepare_table(None, None, None, op_table=t, fold_batchnorm=False) is t
  out = A.simulate_cnn_arrays(t, A.cnn_config_arrays([SPRING]), reticle_mm2=200.0)
  assert not bool(out["fits_reticle"][0])  # 230.06 mm^2 > 200, inside jit too
  assert A.results_to_dicts(out)[0]["mode"] == "inference"
