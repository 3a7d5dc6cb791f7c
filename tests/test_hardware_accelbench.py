"""Tests of the CNN workload lowering and the AccelBench (SPRING) accelerator model."""

import math

import chex
import jax
import numpy as np
import pytest

from jaxcodesign import padding
from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.hardware import accelbench as A
from jaxcodesign.hardware import cnn_workload as W
from jaxcodesign.hardware import constants as C
from jaxcodesign.spaces.accelerators import AccelBenchSpace
from jaxcodesign.spaces.cnnbench import (CNNBenchSpace, LayerShape, SMALL_BASE_OPS, SMALL_DENSE_OPS,
                                         infer_shapes)

RRAM = {"type": "rram", "banks": 16, "ranks": 2, "channels": 2}
SPRING = dict(Pib=2, Pif=16, Pix=8, Piy=4, Pof=8, Pkx=3, Pky=3, batch_size=1,
              activation_buffer_size=12, weight_buffer_size=24, mask_buffer_size=4, main_memory=RRAM)
SMALL = dict(Pib=1, Pif=1, Pix=2, Piy=2, Pof=2, Pkx=3, Pky=3, batch_size=1,
             activation_buffer_size=12, weight_buffer_size=24, mask_buffer_size=4, main_memory=RRAM)


def conv_row(cin, cout, hw_in, k, stride=1, pad=0, groups=1, kind="conv"):
  ho = (hw_in + 2 * pad - k) // stride + 1
  params = k * k * (cin // groups) * cout
  return LayerShape(0, 1, f"conv{k}x{k}-c{cout}", kind, cin, cout, (hw_in, hw_in), (ho, ho), k,
                    stride, groups, params, params * ho * ho)


def dense_row(fin, fout):
  return LayerShape(1, 2, f"dense-{fout}", "dense", fin, fout, (1, 1), (1, 1), 0, 0, 1,
                    fin * fout + fout, fin * fout)


def simple_rows(kind, c, hw, **kw):
  return LayerShape(0, 1, kind, kind, c, c, (hw, hw), kw.get("out", (hw, hw)), kw.get("k", 0),
                    kw.get("s", 0), 1, kw.get("params", 0), kw.get("macs", 0))


def resnet18_rows():
  """ResNet-18 (224x224, 1000 classes) as LayerShape rows: conv/bn/relu/maxpool/add/gap/dense."""
  rows = [conv_row(3, 64, 224, 7, 2, 3), simple_rows("bn", 64, 112, params=128),
          simple_rows("relu", 64, 112),
          LayerShape(0, 1, "maxpool", "maxpool", 64, 64, (112, 112), (56, 56), 3, 2, 1, 0, 0)]
  c, hw = 64, 56
  for cout, stride in ((64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)):
    ho = hw // stride
    rows += [conv_row(c, cout, hw, 3, stride, 1), simple_rows("bn", cout, ho, params=2 * cout),
             simple_rows("relu", cout, ho), conv_row(cout, cout, ho, 3, 1, 1),
             simple_rows("bn", cout, ho, params=2 * cout)]
    if stride != 1 or c != cout:
      rows += [conv_row(c, cout, hw, 1, stride, 0, kind="proj"),
               simple_rows("bn", cout, ho, params=2 * cout)]
    rows += [simple_rows("add", cout, ho, macs=cout * ho * ho), simple_rows("relu", cout, ho)]
    c, hw = cout, ho
  rows += [LayerShape(1, 1, "gap", "gap", 512, 512, (7, 7), (1, 1), 0, 0, 1, 0, 512 * 49),
           dense_row(512, 1000)]
  return rows


def small_cnn_point():
  """A ResNet-ish CNNBench point for 8x8 inputs: conv modules with a skip edge, GAP head."""
  conv = {"matrix": [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
          "labels": ["input", "conv3x3-c16-p1-bn-relu", "conv3x3-c16-p1-bn-relu", "output"]}
  pool = {"matrix": [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
          "labels": ["input", "conv1x1-c32-bn-relu", "maxpool3x3-s2-p1", "output"]}
  head = {"matrix": [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1],
                     [0, 0, 0, 0, 0]],
          "labels": ["input", "global-avg-pool", "dense-32-relu", "dense_classes", "output"]}
  return {"modules": [conv, pool, head]}


def link(cfg):
  """Link rate (bits/cycle) of a config's main memory, as the model reads it (constants table)."""
  return float(A.cnn_config_arrays([cfg])["mm_bits_per_cycle"][0])


def run(rows, configs, sparsity=None, **kw):
  table = W.lower_layers(rows, **kw)
  return table, A.simulate_cnn_arrays(table, A.cnn_config_arrays(configs), sparsity)


# ---------------------------------------------------------------------------------------------------
# Lowering.

def test_lowering_dimensions_and_padding():
  rows = [conv_row(8, 16, 10, 3, groups=4, kind="gconv"), simple_rows("bn", 16, 8, params=32),
          simple_rows("relu", 16, 8),
          LayerShape(0, 2, "maxpool", "maxpool", 16, 16, (8, 8), (4, 4), 3, 2, 1, 0, 0),
          LayerShape(0, 3, "concat", "concat", 16, 16, (4, 4), (4, 4), 0, 0, 1, 0, 0),
          LayerShape(1, 1, "gap", "gap", 16, 16, (4, 4), (1, 1), 0, 0, 1, 0, 256),
          dense_row(16, 10)]
  t = W.lower_layers(rows)
  assert t.bucket == 8 and t.n_ops == 7 and t.kind[7] == W.OP_PAD
  assert list(t.kind[:7]) == [W.OP_CONV, W.OP_BN, W.OP_ACT, W.OP_POOL, W.OP_FREE, W.OP_GAP, W.OP_DENSE]
  assert (t.groups[0], t.kg[0], t.cg[0], t.oh[0], t.kh[0]) == (4, 4, 2, 8, 3)
  assert t.macs[0] == rows[0].macs and t.macs[6] == 160
  assert t.elem_ops[3] == 16 * 16 * 9 and t.elem_ops[5] == 256
  assert t.activations == ("relu",) and t.lane_activation == "relu"
  assert W.lower_layers(rows, bucket=32).bucket == 32
  assert W.bucket_size(9) == 16 and W.bucket_size(1) == W.MIN_BUCKET


def test_lower_cnn_matches_infer_shapes():
  point = small_cnn_point()
  CNNBenchSpace(base_ops=SMALL_BASE_OPS, dense_ops=SMALL_DENSE_OPS, module_vertices=4,
                modules_per_stack=1,
                input_shape=(1, 8, 8)).validate(point)
  rows = infer_shapes(point, (1, 8, 8), 10)
  t = W.lower_cnn(point, (1, 8, 8), 10)
  assert t.n_ops == len(rows)
  mac_rows = [r.macs for r in rows if r.kind in ("conv", "dwconv", "gconv", "proj", "dense")]
  assert float(t.macs.sum()) == pytest.approx(sum(mac_rows))
  assert float(t.weight_elems.sum()) == sum(r.params for r in rows)


def test_lowering_errors():
  with pytest.raises(SpaceError, match="kind"):
    W.lower_layers([simple_rows("softmax", 4, 4)])
  with pytest.raises(SpaceError, match="groups"):
    W.lower_layers([conv_row(6, 16, 8, 3, groups=4)])
  with pytest.raises(SpaceError):
    W.lower_layers([])
  with pytest.raises(SpaceError, match="bucket"):
    W.lower_layers([simple_rows("relu", 4, 4)] * 9, bucket=8)


def test_resnet18_lowering_macs():
  t = W.lower_layers(resnet18_rows())
  # ResNet-18 at 224x224: 1.814 G multiply-accumulates (convolutions + FC), 11.69 M parameters.
  assert float(t.macs.sum()) == pytest.approx(1.8141e9, rel=1e-3)
  assert float(t.weight_elems.sum()) == pytest.approx(11.69e6, rel=2e-3)


# ---------------------------------------------------------------------------------------------------
# Model: hand-computed cases.

def test_single_conv_cycles_by_hand():
  rows = [conv_row(3, 4, 7, 3)]  # 3 -> 4 channels, 7x7 -> 5x5, kernel 3, batch 1
  _, out = run(rows, [SMALL, dict(SMALL, Pif=16)])
  # G * ceil(B/Pib) * ceil(Kg/Pof) * ceil(Cg/Pif) * ceil(OH/Pix) * ceil(OW/Piy) * ceil(R/Pkx) * ...
  assert np.asarray(out["compute_cycles"]).tolist() == [1 * 1 * 2 * 3 * 3 * 3 * 1 * 1, 2 * 1 * 3 * 3]
  # traffic: weights 108 x (20 + 1 mask) bits + input 147 and output 100 elements x 21 bits
  traffic = 108 * 21 + (147 + 100) * 21
  mem = traffic / link(SMALL)
  np.testing.assert_allclose(np.asarray(out["memory_cycles"]), [mem, mem], rtol=1e-6)
  # the load (weights + input) precedes the op; the output (100 x 21 bits, 10.7 cycles) streams out
  # during it, shorter than the compute: cycles = load + compute
  load = (108 + 147) * 21 / link(SMALL)
  np.testing.assert_allclose(np.asarray(out["cycles"]), [54 + load, 18 + load], rtol=1e-6)
  # activation sparsity 0.5 compacts the contraction: Cg_eff = ceil(3 * 0.5) = 2 -> 36 cycles
  _, out = run(rows, [SMALL], {"activation": 0.5, "weight": 0.0})
  assert float(out["compute_cycles"][0]) == 2 * 2 * 3 * 3
  # a batch fixed in the table overrides the config's batch: 4 images, Pib = 1 -> 4x the cycles
  table = W.lower_layers(rows, batch_size=4)
  out = A.simulate_cnn_arrays(table, A.cnn_config_arrays([SMALL]))
  assert float(out["compute_cycles"][0]) == 4 * 54
  # depthwise: groups run serially, one channel per group
  _, out = run([conv_row(4, 4, 7, 3, groups=4, kind="dwconv")], [SMALL])
  assert float(out["compute_cycles"][0]) == 4 * 1 * 1 * 1 * 3 * 3


def test_two_op_prefetch_schedule():
  rows = [conv_row(3, 4, 7, 3), conv_row(4, 4, 5, 3)]
  _, out = run(rows, [SMALL])
  r = link(SMALL)
  m0 = (108 * 21 + 147 * 21) / r  # first op: its weights + the network input, before it
  l1 = 144 * 21 / r  # second op's weights: prefetched during the first op (both fit the buffer)
  o1 = 4 * 9 * 21 / r  # the network output, streamed during the second op
  c0, c1 = 54.0, 2 * 4 * 2 * 2
  assert float(out["cycles"][0]) == pytest.approx(m0 + max(c0, l1) + max(c1, o1), rel=1e-6)


def test_elementwise_ops_cycles():
  rows = [simple_rows("bn", 16, 8, params=32), simple_rows("relu", 16, 8),
          LayerShape(0, 1, "maxpool", "maxpool", 16, 16, (8, 8), (4, 4), 3, 2, 1, 0, 0),
          LayerShape(0, 1, "up", "upsample", 16, 16, (4, 4), (8, 8), 0, 0, 1, 0, 0),
          LayerShape(0, 1, "shuffle", "channel_shuffle", 16, 16, (8, 8), (8, 8), 0, 0, 4, 0, 0)]
  pe, lanes = 4, 18
  for r, expect in zip(rows, [math.ceil(1024 / pe), math.ceil(1024 / (pe * lanes)),
                              math.ceil(256 * 9 / pe), math.ceil(1024 / pe), 0]):
    _, out = run([r], [SMALL])
    assert float(out["compute_cycles"][0]) == expect, r.kind


# ---------------------------------------------------------------------------------------------------
# Area, leakage, properties.

def test_spring_area_and_leakage_through_model():
  res = A.simulate_cnn(None, [SPRING], (3, 224, 224), 1000, op_table=W.lower_layers(resnet18_rows()))
  r = res[0]
  assert tuple(r) == A.RESULT_KEYS and set(r["utilisation"]) == set(A.UTILISATION_KEYS)
  assert r["area_mm2"] == 230.06409445958403
  assert r["energy_leakage_j"] / r["latency_s"] * 1e3 == pytest.approx(15332.401, rel=1e-7)
  assert r["energy_j"] == pytest.approx(r["energy_dynamic_j"] + r["energy_leakage_j"], rel=1e-12)
  assert r["fits"] and r["peak_power_w"] >= r["avg_power_w"] > 0
  # all-on leakage over the run: over the original's 3,608,637 cycles this is its E_leak 0.07904 J
  assert r["energy_leakage_j"] / r["cycles"] * 3608637 == pytest.approx(0.07904, abs=5e-6)
  # the jitted array path (float32) agrees
  out = A.simulate_cnn_arrays(W.lower_layers(resnet18_rows()), A.cnn_config_arrays([SPRING]))
  assert float(out["area_mm2"][0]) == pytest.approx(230.06409445958403, rel=1e-6)
  assert float(out["leakage_mw"][0]) == pytest.approx(15332.401, rel=1e-6)


def test_more_pes_never_slower_on_compute_bound_conv():
  rows = [conv_row(64, 64, 34, 3)]  # 5.3 M MACs on 37 k weights: compute bound
  base = AccelBenchSpace().sample(jax.random.key(0), 12)
  configs = []
  for c in base:
    configs.append(dict(c, Pix=1, Piy=1, Pib=1))
    configs.append(dict(c, Pix=4, Piy=2, Pib=1))
    configs.append(dict(c, Pix=8, Piy=8, Pib=4))
  _, out = run(rows, configs)
  cyc = np.asarray(out["cycles"]).reshape(-1, 3)
  assert np.all(np.diff(cyc, axis=1) <= 0)
  assert np.all(cyc[:, 0] > cyc[:, 2])


def test_more_sparsity_never_more_energy():
  rows = resnet18_rows()[:12]
  configs = AccelBenchSpace().sample(jax.random.key(1), 4)
  levels = [0.0, 0.2, 0.5, 0.8, 0.95]
  for field in ("activation", "weight"):
    energies, cycles = [], []
    for s in levels:
      _, out = run(rows, configs, {field: s})
      energies.append(np.asarray(out["energy_j"]))
      cycles.append(np.asarray(out["cycles"]))
    assert np.all(np.diff(np.stack(energies), axis=0) <= 1e-12), field
    assert np.all(np.diff(np.stack(cycles), axis=0) <= 1e-3), field
    assert np.all(energies[-1] < energies[0])


def test_vmapped_batch_equals_single_calls():
  table = W.lower_cnn(small_cnn_point(), (1, 8, 8), 10)
  configs = AccelBenchSpace().sample(jax.random.key(2), 5)
  sp = {"activation": [0.0, 0.3, 0.5, 0.1, 0.9], "weight": [0.5, 0.0, 0.2, 0.7, 0.1]}
  batch = A.simulate_cnn_arrays(table, A.cnn_config_arrays(configs), sp)
  for i, c in enumerate(configs):
    one = A.simulate_cnn_arrays(table, A.cnn_config_arrays([c]),
                                {k: [v[i]] for k, v in sp.items()})
    for k in ("cycles", "energy_j", "energy_dynamic_j", "peak_power_w", "area_mm2"):
      np.testing.assert_allclose(np.asarray(batch[k][i]), np.asarray(one[k][0]), rtol=1e-6, err_msg=k)
    assert bool(batch["fits"][i]) == bool(one["fits"][0])


def test_padding_changes_nothing():
  rows = resnet18_rows()[:10]
  configs = AccelBenchSpace().sample(jax.random.key(3), 3)
  _, a = run(rows, configs)
  _, b = run(rows, configs, bucket=64)
  for k in ("cycles", "energy_j", "peak_power_w"):  # float32 sums over 16 vs 64 rows: ~1e-6
    np.testing.assert_allclose(np.asarray(a[k]), np.asarray(b[k]), rtol=1e-5, err_msg=k)


def test_no_recompilation_within_a_bucket():
  configs = A.cnn_config_arrays(AccelBenchSpace().sample(jax.random.key(4), 7))
  t1 = W.lower_layers(resnet18_rows()[:20], bucket=32)
  t2 = W.lower_layers(resnet18_rows()[5:31])  # a different network of the same bucket (32)
  assert t2.bucket == 32
  # one trace for the bucket, whatever the network, sparsity or config count within the bucket
  traced = chex.assert_max_traces(A.simulate_batch, n=1)
  jitted = jax.jit(traced, static_argnames=("activations", "table_batch", "im2col_power_scale"))
  pad = lambda d: padding.pad_rows({k: np.asarray(v, np.float32) for k, v in d.items()}, 8)
  sp = lambda a, w: pad(A.sparsity_arrays({"activation": a, "weight": w}, 7))
  cfg = pad({k: configs[k] for k in A.CONFIG_KEYS})
  for t, s in ((t1, sp(0.0, 0.0)), (t2, sp(0.3, 0.1)), (t1, sp(0.5, 0.5))):
    out = jitted(t.arrays(), cfg, s, activations=("relu",), table_batch=0)
    assert np.all(np.isfinite(np.asarray(out["cycles"])))
  chex.clear_trace_counter()


def test_fits_flag_when_one_layer_exceeds_the_weight_buffer():
  rows = [dense_row(4096, 4096)]  # 16.8 M weights x 20 bits = 40 MB > 24 MB
  cfg = dict(SPRING, weight_buffer_size=24)
  _, out = run(rows, [cfg, dict(cfg, weight_buffer_size=1)])
  assert not bool(out["fits"][0]) and not bool(out["fits"][1])
  assert np.all(np.isfinite(np.asarray(out["cycles"])))
  _, out = run(rows, [cfg], {"weight": 0.5})  # compressed: 20 MB fits
  assert bool(out["fits"][0])
  _, out = run(resnet18_rows()[:8], [dict(cfg, weight_buffer_size=1)])
  assert bool(out["fits"][0])


def test_activation_spill_costs_traffic():
  rows = [conv_row(64, 64, 226, 3)]  # in + out ~ 6.5 M elements x 20 bits = 15.5 MB
  _, big = run(rows, [dict(SPRING, activation_buffer_size=24)])
  _, small = run(rows, [dict(SPRING, activation_buffer_size=1)])
  assert float(small["memory_cycles"][0]) > float(big["memory_cycles"][0])
  assert float(small["energy_j"][0]) > float(big["energy_j"][0])


def test_link_per_memory_type():
  rows = [dense_row(2048, 2048)]  # memory bound
  cfgs = [dict(SPRING, main_memory=m) for m in (
      RRAM, {"type": "dram", "banks": 16, "ranks": 2, "channels": 2},
      {"type": "hbm", "banks": 32, "ranks": 1, "channels": 4})]
  _, out = run(rows, cfgs)
  mem = np.asarray(out["memory_cycles"])
  links = [link(c) for c in cfgs]
  np.testing.assert_allclose(mem * np.asarray(links), mem[0] * links[0], rtol=1e-5)


def test_resnetish_cnnbench_point_metrics():
  configs = AccelBenchSpace().sample(jax.random.key(5), 4) + [SPRING]
  res = A.simulate_cnn(small_cnn_point(), configs, (1, 8, 8), 10, sparsity=0.25)
  for r in res:
    for k in ("cycles", "latency_s", "energy_j", "energy_dynamic_j", "energy_leakage_j",
              "area_mm2", "peak_power_w", "avg_power_w"):
      assert math.isfinite(r[k]) and r[k] > 0, k
    assert all(0.0 <= u <= 1.0 + 1e-6 for u in r["utilisation"].values())
    assert r["peak_power_w"] >= r["avg_power_w"] * (1 - 1e-6) or r["cycles"] < 50
  assert res[-1]["area_mm2"] == 230.06409445958403


def test_input_errors():
  with pytest.raises(SpaceError):
    A.simulate_cnn(small_cnn_point(), [dict(SPRING, Pix=9)], (1, 8, 8), 10)
  with pytest.raises(ConfigError, match="sparsity"):
    A.simulate_cnn(small_cnn_point(), [SPRING], (1, 8, 8), 10, sparsity={"activation": 1.5})
  with pytest.raises(ConfigError, match="sparsity"):
    A.simulate_cnn(small_cnn_point(), [SPRING], (1, 8, 8), 10, sparsity={"act": 0.5})
  with pytest.raises(ConfigError):
    A.simulate_cnn_arrays(W.lower_layers([dense_row(4, 4)]), {"Pib": np.ones(2)})
  with pytest.raises(ConfigError):
    A.simulate_cnn(small_cnn_point(), [], (1, 8, 8), 10)
