"""Tests of the workload lowering and the jitted AccelTran reference model."""

import copy
import json
import math

import numpy as np
import pytest
import yaml

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.hardware import acceltran as A
from jaxcodesign.hardware import api
from jaxcodesign.hardware import workload as W
from jaxcodesign.spaces.accelerators import NAMED_ACCELERATORS
from jaxcodesign.spaces.flexibert import NAMED_MODELS

EDGE = NAMED_ACCELERATORS["edge"]
SERVER = NAMED_ACCELERATORS["server"]
TINY = NAMED_MODELS["bert_tiny"]

HETERO = {"l": 2, "o": [["sa_sdp_32", "sa_wma_32", "l_dft_32", "c_9_32"], ["c_5_64", "l_dct_64"]],
          "h": [128, 128], "f": [[256, 512], [256]]}


def _cfg(**over):
  c = copy.deepcopy(EDGE)
  for k, v in over.items():
    if k in ("tile_b", "tile_x", "tile_y"):
      c["tile"][k] = v
    elif k == "tile":
      c["tile"].update(tile_x=v, tile_y=v)
    elif k == "memory":
      c["main_memory"] = dict(zip(("type", "mode", "banks", "ranks", "channels"), v))
    else:
      c[k] = v
  return c


def _scalar_cfg(cfg):
  return {k: float(v[0]) for k, v in A.config_arrays([cfg]).items()}


def _op(table, name):
  return table.names.index(name)


# ---------------------------------------------------------------- workload lowering


def test_lowering_bert_tiny_shapes():
  t = W.lower_transformer(TINY)
  assert t.n_ops == 21 and t.bucket == 32
  i = _op(t, "l0.sa_sdp_64x2.qkv")
  # fused Q/K/V of both heads: (N, h) x (h, 3 * 2 * 64); weights carry no batch dimension
  assert (t.rows[i], t.contraction[i], t.cols[i]) == (128, 128, 384)
  assert t.weight_elems[i] == 128 * 384
  qk, sv = _op(t, "l0.sa_sdp_64x2.qk"), _op(t, "l0.sa_sdp_64x2.sv")
  assert (t.rows[qk], t.contraction[qk], t.cols[qk], t.count[qk]) == (128, 64, 128, 2)
  assert (t.rows[sv], t.contraction[sv], t.cols[sv], t.count[sv]) == (128, 128, 64, 2)
  assert t.weight_elems[qk] == 0 and t.weight_elems[sv] == 0
  # the output projection once per layer over the concatenated heads (not per head)
  assert sum(n.endswith("attn_out") for n in t.names) == 2
  o = _op(t, "l0.attn_out")
  assert (t.contraction[o], t.cols[o], t.weight_elems[o]) == (128, 128, 128 * 128)
  # embedding as a gather: the tables stay in main memory; N token rows per sequence are gathered,
  # the position (N x h) and type (2 x h) tables are weights
  assert t.embed_table_elems == (30522 + 128 + 2) * 128
  e = _op(t, "embed")
  assert t.gather_elems[e] == 128 * 128 and t.weight_elems[e] == (128 + 2) * 128
  assert np.all(t.kind[t.n_ops:] == W.OP_PAD) and np.all(t.valid[t.n_ops:] == 0)
  # dense MACs per sequence of BERT-Tiny (no embedding): per layer 4*N*h^2 + 2*N^2*h + 2*N*h*4h
  n, h = 128, 128
  per_layer = 4 * n * h * h + 2 * n * n * h + 2 * n * h * 4 * h
  assert t.total_macs(1) == pytest.approx(2 * per_layer)


def test_lowering_hetero_head_types():
  t = W.lower_transformer(HETERO, seq_len=64)
  n = 64
  wma = _op(t, "l0.sa_wma_32x1.wma")
  assert (t.contraction[wma], t.cols[wma], t.weight_elems[wma]) == (32, 32, 32 * 32)
  dft = _op(t, "l0.l_dft_32x1.dft")
  assert t.kind[dft] == W.OP_TRANSFORM and t.weight_elems[dft] == 0
  assert (t.rows[dft], t.contraction[dft], t.cols[dft]) == (n, n, 32)  # N x N on the d-slice
  conv = _op(t, "l0.c_9_32x1.conv")
  assert t.kind[conv] == W.OP_CONV and t.kernel[conv] == 9
  assert t.macs[conv] == n * 32 * 9 and t.weight_elems[conv] == 9 * 32  # depthwise, width d
  # 4 distinct head types -> 4 concurrent streams; layer ops on stream 0 join them
  assert sorted(set(t.stream[: t.n_ops][t.layer[: t.n_ops] == 0])) == [0, 1, 2, 3, 4]
  # FF stack 128 -> 256 -> 512 -> 128 with GeLU after all but the last
  assert [t.names[i] for i in range(t.n_ops) if t.names[i].startswith("l0.ff")] == [
      "l0.ff1", "l0.ff2", "l0.ff3"]
  assert "l0.gelu2" in t.names and "l0.gelu3" not in t.names
  ff3 = _op(t, "l0.ff3")
  assert (t.contraction[ff3], t.cols[ff3]) == (512, 128)
  assert "l0.proj" not in t.names
  # producers: every head op depends on the previous op of its stream or the last layer op
  for i in range(1, t.n_ops):
    assert 0 <= t.producer[i] < i


def test_lowering_projection_between_hidden_sizes():
  md = {"l": 2, "o": [["sa_sdp_64"] * 2, ["sa_sdp_64"] * 4], "h": [128, 256], "f": [[512], [1024]]}
  t = W.lower_transformer(md)
  p = _op(t, "l0.proj")
  assert (t.contraction[p], t.cols[p], t.weight_elems[p]) == (128, 256, 128 * 256)


def test_lowering_errors_name_the_field():
  with pytest.raises(SpaceError, match="o\\[0\\]\\[1\\]"):
    W.lower_transformer({"l": 1, "o": [["sa_sdp_64", "xx_1_64"]], "h": [128], "f": [[512]]})
  with pytest.raises(SpaceError, match="model_dict.h"):
    W.lower_transformer({"l": 2, "o": [["sa_sdp_64"]] * 2, "h": [128], "f": [[512]] * 2})
  with pytest.raises(SpaceError, match="seq_len"):
    W.lower_transformer(TINY, seq_len=0)
  with pytest.raises(SpaceError, match="bucket"):
    W.lower_transformer(TINY, bucket=8)


# ---------------------------------------------------------------- per-op cycle formulas


def test_per_op_cycles_hand_computed_edge():
  """AccelTran-Edge (tb 1, tx = ty 16, P 64, L 16, M 16, S 4, B 4), BERT-Tiny, sparsity 0.5 / 0.5."""
  t = W.lower_transformer(TINY)
  oc = A.op_costs(t.arrays(), _scalar_cfg(EDGE), 0.5, 0.5)
  qkv = _op(t, "l0.sa_sdp_64x2.qkv")
  # T = 4 * 8 * (128/16) * (384/16) = 6144 tiles; c = ceil(16*16*ceil(16/16)/16) = 16 cycles/tile;
  # ceil(6144 / 64) = 96 waves; density (1-0.5)(1-0.5): 96 * 16 * 0.25 = 384 cycles
  assert oc["tiles"][qkv] == 6144 and oc["c_tile"][qkv] == 16 and oc["comp"][qkv] == 384
  qk = _op(t, "l0.sa_sdp_64x2.qk")
  # T = 2 heads * 4 * 8 * 4 * 8 = 2048; 32 waves * 16 * (0.5 * 0.5) = 128
  assert oc["tiles"][qk] == 2048 and oc["comp"][qk] == 128
  sm = _op(t, "l0.sa_sdp_64x2.softmax")
  # T = 2 * 4 * 8 * 8 = 512; 256 units -> 2 waves * (1 * (16 + 16)) * 0.5 = 32
  assert oc["tiles"][sm] == 512 and oc["comp"][sm] == 32
  ln = _op(t, "l0.ln1")
  # T = 4 * 8 * 8 = 256 on 64 LN modules: 4 waves * 32 * 0.5 = 64
  assert oc["comp"][ln] == 64
  gelu = _op(t, "l0.gelu1")
  # T = 4 * 8 * 32 = 1024 tiles, ceil(256 / 16) = 16 cycles per tile: 16 waves * 16 * 0.5 = 128
  assert oc["comp"][gelu] == 128
  # weight load of ff1: 128 * 512 elements * (20 * 0.5 + 1) bits over one LPDDR3 channel (6.4 GB/s)
  ff1 = _op(t, "l0.ff1")
  bw = 6.4 * 2 ** 30 * 8 / 700e6
  assert oc["load"][ff1] == math.ceil(128 * 512 * 11 / bw)


def test_per_op_cycles_dense_one_multiplier_lanes():
  cfg = _scalar_cfg(_cfg(mac_per_lane=1, lanes_per_pe=8, tile=32, tile_b=4, batch_size=16))
  t = W.lower_transformer(HETERO)
  oc = A.op_costs(t.arrays(), cfg, 0.0, 0.0)
  qkv = _op(t, "l0.sa_sdp_32x1.qkv")
  # T = ceil(16/4) * ceil(128/32) * ceil(128/32) * ceil(96/32) = 4*4*4*3 = 192 tiles;
  # c = ceil(4*32*32*ceil(32/1) / 8) = 16384; ceil(192/64) = 3 waves -> 49152 cycles
  assert oc["tiles"][qkv] == 192 and oc["c_tile"][qkv] == 16384 and oc["comp"][qkv] == 49152
  conv = _op(t, "l0.c_9_32x1.conv")
  # T = 4 * 4 * 1 = 16 tiles; c = ceil(4*32*32*9 / 8) = 4608; one wave
  assert oc["tiles"][conv] == 16 and oc["comp"][conv] == 4608
  dft = _op(t, "l0.l_dft_32x1.dft")
  # (N x N) x (N x 32): T = 4 * 4 * 4 * 1 = 64 tiles, one wave of 16384
  assert oc["comp"][dft] == 16384


# ---------------------------------------------------------------- whole-model results


def test_area_of_named_accelerators(fixtures_dir):
  cfg_dir = fixtures_dir / "acceltran" / "config"
  tiny = yaml.safe_load((cfg_dir / "config_tiny.yaml").read_text())
  base = yaml.safe_load((cfg_dir / "config_base.yaml").read_text())
  res = api.simulate_transformer("bert_tiny", [tiny, base], sparsity=(0.5, 0.5))
  assert res[0]["area_mm2"] == pytest.approx(54.064, abs=5e-4)
  assert res[1]["area_mm2"] == pytest.approx(1829.70, abs=5e-3)
  for r in res:
    assert set(api.RESULT_KEYS) <= set(r)
    assert r["fits"] is True and r["batch_size"] == 4
    assert r["latency_s"] == pytest.approx(r["cycles"] / 700e6, rel=1e-6)
    assert r["energy_j"] == pytest.approx(r["energy_dynamic_j"] + r["energy_leakage_j"], rel=1e-5)
    assert r["avg_power_w"] == pytest.approx(r["energy_j"] / r["latency_s"], rel=1e-4)
    # avg power = (die + main memory) / latency; die peak >= die average
    assert r["peak_power_w"] + r["main_memory_power_w"] >= r["avg_power_w"] * (1 - 1e-5)
    assert r["main_memory_power_w"] == pytest.approx(r["main_memory_energy_j"] / r["latency_s"],
                                                     rel=1e-4)
    assert all(0.0 <= u <= 1.0 + 1e-6 for u in r["utilisation"].values())
    comp = r["energy_components"]
    assert sum(v["dynamic_j"] for v in comp.values()) == pytest.approx(r["energy_dynamic_j"], rel=1e-5)
  assert res[1]["cycles"] < res[0]["cycles"]  # Server is faster than Edge


def test_schedule_respects_dependencies_and_overlaps_streams():
  t = W.lower_transformer(HETERO)
  # fast memory (HBM2, 4 channels) so that compute, not weight loads, sets the pace
  fast = _cfg(memory=("hbm", "hb", 32, 1, 4), weight_buffer_size=128)
  oc = A.op_costs(t.arrays(), _scalar_cfg(fast), 0.5, 0.5)
  start, end = oc["start"], oc["end"]
  for i in range(1, t.n_ops):
    assert start[i] >= end[t.producer[i]] - 1e-3
    if t.join[i]:  # layer ops wait for every earlier op
      assert start[i] >= end[:i].max() - 1e-3
  # ops on one resource never overlap
  for res in (W.RES_MAC, W.RES_SM, W.RES_LN):
    idx = [i for i in range(t.n_ops) if t.resource[i] == res and oc["comp"][i] > 0]
    iv = sorted((start[i], start[i] + oc["comp"][i]) for i in idx)
    assert all(b[0] >= a[1] - 1e-3 for a, b in zip(iv, iv[1:]))
  # head streams run concurrently: the softmax of one group overlaps MAC work of another group
  sm = _op(t, "l0.sa_sdp_32x1.softmax")
  others = [i for i in range(t.n_ops) if t.layer[i] == 0 and t.stream[i] not in (0, t.stream[sm])
            and t.resource[i] == W.RES_MAC]
  assert any(start[i] < end[sm] and end[i] > start[sm] for i in others)


def test_prefetch_hides_weight_loads_with_big_buffers():
  t = W.lower_transformer(TINY)
  hbm = ("hbm", "hb", 32, 1, 4)
  big = A.op_costs(t.arrays(), _scalar_cfg(_cfg(weight_buffer_size=128, memory=hbm)), 0.5, 0.5)
  small = A.op_costs(t.arrays(), _scalar_cfg(_cfg(weight_buffer_size=8, memory=hbm)), 0.5, 0.5)
  serial = float(np.sum(big["comp"]) + np.sum(big["load"]) + np.sum(big["spill"]))
  assert big["cycles"] < serial  # loads overlap compute
  # resident weights: the steady-state period of a stream of batches skips the weight loads
  assert big["resident"] and big["steady_cycles"] < big["cycles"]
  assert big["cycles"] <= small["cycles"]


def test_more_pes_never_slower_for_compute_ops():
  t = W.lower_transformer(HETERO)
  prev = None
  for pe in (64, 128, 256, 512, 1024):
    cfg = _scalar_cfg(_cfg(pe=pe, memory=("hbm", "hb", 32, 1, 4), weight_buffer_size=128,
                           activation_buffer_size=64))
    oc = A.op_costs(t.arrays(), cfg, 0.5, 0.5)
    if prev is not None:
      assert np.all(oc["comp"] <= prev["comp"])
      assert oc["cycles"] <= prev["cycles"]
    prev = oc


def test_more_sparsity_never_more_energy_or_cycles():
  from jaxcodesign.spaces.accelerators import ElectorSpace
  import jax
  configs = ElectorSpace().sample(jax.random.PRNGKey(3), 8)
  t = W.lower_transformer(TINY)
  cfg = A.config_arrays(configs)
  prev = None
  for s in (0.0, 0.2, 0.5, 0.8):
    out = A.simulate_batch(t, cfg, s, s)
    e_dyn, cyc = np.asarray(out["energy_dynamic_j"]), np.asarray(out["cycles"])
    e_tot = np.asarray(out["energy_j"])
    if prev is not None:
      assert np.all(e_dyn <= prev[0] * (1 + 1e-5))
      assert np.all(cyc <= prev[1])
      assert np.all(e_tot <= prev[2] * (1 + 1e-5))
    prev = (e_dyn, cyc, e_tot)
  # per-op sparsity: making only the FF ops sparser lowers their cycles and nothing else
  ff = np.array([n.startswith("l") and ".ff" in n for n in t.names], np.float32)
  per_op = A.op_costs(t.arrays(), {k: float(v[0]) for k, v in cfg.items()}, 0.5, 0.5 + 0.3 * ff)
  base_op = A.op_costs(t.arrays(), {k: float(v[0]) for k, v in cfg.items()}, 0.5, 0.5)
  n = t.n_ops
  assert np.all(per_op["comp"][:n][ff > 0] < base_op["comp"][:n][ff > 0])
  np.testing.assert_array_equal(per_op["comp"][:n][ff == 0], base_op["comp"][:n][ff == 0])
  # vmap over sparsity values: per-config sparsities equal the separate runs
  svec = np.array([0.0, 0.2, 0.5, 0.8] * 2, np.float32)
  out = A.simulate_batch(t, cfg, svec, svec)
  for i, s in enumerate(svec):
    one = A.simulate_batch(t, cfg, float(s), float(s))
    assert float(out["cycles"][i]) == float(one["cycles"][i])


def test_no_recompilation_within_a_bucket(monkeypatch):
  import chex
  import jax
  other = {"l": 2, "o": [["sa_sdp_64"] * 2, ["c_9_32"] * 4], "h": [128, 128], "f": [[256], [1024]]}
  assert W.lower_transformer(other).bucket == W.lower_transformer(TINY).bucket
  # the production entry point, with its jitted kernel replaced by one that may trace only once:
  # models of one bucket, config lists of one config bucket and any sparsity share a compilation
  monkeypatch.setattr(A, "_simulate_batch_jit", jax.jit(chex.assert_max_traces(A.batched, n=1)))
  api.simulate_transformer(TINY, [EDGE, SERVER])
  api.simulate_transformer(other, [SERVER, EDGE, SERVER])
  api.simulate_transformer(TINY, [EDGE], sparsity=(0.3, 0.6))
  with pytest.raises(AssertionError):  # the counter is live: a new op-table bucket retraces
    api.simulate_transformer("bert_base", [EDGE])


def _two_layer(h, heads=2):
  """A 2-layer model of hidden h (same op-table bucket as BERT-Tiny: no recompilation)."""
  return {"l": 2, "o": [[f"sa_sdp_{h // heads}"] * heads] * 2, "h": [h, h], "f": [[4 * h]] * 2}


def test_fits_flag():
  # one op's weights (1024 x 8192 x 20 bits dense = 20 MB) exceed an 8 MB weight buffer -> False,
  # without an exception; 32 MB fits. (Outside FlexiBERT 2.0: pre-lowered, no model validation.)
  big = W.lower_transformer({"l": 1, "o": [["sa_sdp_64"] * 16], "h": [1024], "f": [[8192]]})
  res = api.simulate_transformer(None, [_cfg(weight_buffer_size=8, activation_buffer_size=8),
                                       _cfg(weight_buffer_size=32, activation_buffer_size=8)],
                                 op_table=big)
  assert res[0]["fits"] is False and res[1]["fits"] is True
  assert np.isfinite(res[0]["cycles"])
  # weight sparsity 0.5 halves the occupancy: 10 MB no longer exceeds 16 MB
  mid = api.simulate_transformer(None, [_cfg(weight_buffer_size=16, activation_buffer_size=8)],
                                 op_table=big)
  sparse = api.simulate_transformer(None, [_cfg(weight_buffer_size=16, activation_buffer_size=8)],
                                    op_table=big,
                                    sparsity=(0.0, 0.5))
  assert mid[0]["fits"] is False and sparse[0]["fits"] is True
  # activations: one batch tile of the largest op must fit the activation buffer
  wide = {"l": 2, "o": [["sa_sdp_64"] * 2] * 2, "h": [128, 128], "f": [[4096], [4096]]}
  ok = api.simulate_transformer(wide, [_cfg(activation_buffer_size=4)], seq_len=128)
  too_long = api.simulate_transformer(wide, [_cfg(activation_buffer_size=4)], seq_len=4096)
  assert ok[0]["fits"] is True and too_long[0]["fits"] is False


def test_config_and_sparsity_errors():
  with pytest.raises(SpaceError, match="pe"):
    api.simulate_transformer(TINY, [_cfg(pe=100)])
  with pytest.raises(SpaceError, match="tile"):
    api.simulate_transformer(TINY, [_cfg(tile_x=16, tile_y=32)])
  with pytest.raises(ConfigError, match="sparsity"):
    api.simulate_transformer(TINY, [EDGE], sparsity=1.0)
  with pytest.raises(ConfigError, match="mode"):
    api.simulate_transformer(TINY, [EDGE], mode="train")
  with pytest.raises(SpaceError, match="model_dict"):
    api.simulate_transformer("bert_huge", [EDGE])
  with pytest.raises(ConfigError):
    api.simulate_transformer(TINY, [])
  with pytest.raises(ConfigError):
    api.simulate_transformer(TINY, [EDGE], legacy=True, seq_len=64)


def test_config_nano_is_rejected(fixtures_dir):
  nano = yaml.safe_load((fixtures_dir / "acceltran" / "config" / "config_nano.yaml").read_text())
  with pytest.raises(SpaceError):
    api.simulate_transformer(TINY, [nano])


def test_legacy_passthrough(fixtures_dir):
  from jaxcodesign.hardware.legacy import simulate_fast
  md = json.loads((fixtures_dir / "acceltran" / "model_dicts" / "bert_tiny.json").read_text())
  res = api.simulate_transformer(md, [EDGE], legacy=True)
  assert res == [simulate_fast(md, EDGE)]
  assert res[0]["cycles"] == 167596


@pytest.mark.parametrize("md,field", [
    ({"l": 2, "o": [["sa_sdp_64"] * 3] * 2, "h": [128, 128], "f": [[512]] * 2}, "head count"),
    ({"l": 2, "o": [["sa_sdp_50"] * 2] * 2, "h": [100, 100], "f": [[512]] * 2}, "h\\[0\\]"),
    ({"l": 2, "o": [["sa_sdp_32"] * 2] * 2, "h": [128, 128], "f": [[512]] * 2}, "d_head"),
])
def test_model_dicts_validated_against_flexibert2(md, field):
  """3 heads, hidden 100 and a head dim other than hidden / heads are refused (SpaceError naming
  the field), by the reference model, the array front end and the legacy model alike."""
  with pytest.raises(SpaceError, match=field):
    api.simulate_transformer(md, [EDGE])
  with pytest.raises(SpaceError, match=field):
    api.simulate_arrays(md, api.prepare_configs([EDGE]))
  with pytest.raises(SpaceError, match=field):
    api.simulate_transformer(md, [EDGE], legacy=True)


def test_prepared_configs_and_arrays_match_dicts():
  prepared = api.prepare_configs([EDGE, SERVER, EDGE])
  assert prepared.kind == "transformer" and len(prepared) == 3
  out = api.simulate_arrays("bert_tiny", prepared, sparsity=(0.5, 0.5))
  rows = api.simulate_transformer("bert_tiny", [EDGE, SERVER, EDGE], sparsity=(0.5, 0.5))
  assert set(api.RESULT_KEYS) <= set(out) and out["cycles"].dtype == np.int64
  assert out["cycles"].tolist() == [r["cycles"] for r in rows]
  assert out["fits_reticle"].tolist() == [True, False, True]
  assert out["mode"].tolist() == ["inference"] * 3
  # the default is dense: explicit zeros give the same result, AccelTran's 0.5 / 0.5 a faster one
  dense = api.simulate_arrays("bert_tiny", prepared)
  zeros = api.simulate_arrays("bert_tiny", prepared, sparsity=(0.0, 0.0))
  assert dense["cycles"].tolist() == zeros["cycles"].tolist()
  assert np.all(out["cycles"] < dense["cycles"])
  with pytest.raises(ConfigError, match="kind"):
    api.simulate_arrays("bert_tiny", prepared, kind="cnn")
  with pytest.raises(ConfigError, match="reticle"):
    api.simulate_arrays("bert_tiny", prepared, reticle_mm2=0)
  # a larger reticle limit admits the Server
  assert api.simulate_arrays("bert_tiny", prepared, reticle_mm2=2000)["fits_reticle"].all()


def test_cnn_dispatch_through_the_same_front_end():
  import jax
  from jaxcodesign.spaces.accelerators import NAMED_ACCELBENCH
  from jaxcodesign.spaces.cnnbench import CNNBenchSpace
  point = CNNBenchSpace(input_shape=(1, 8, 8), num_classes=10).sample(jax.random.key(0), 1)[0]
  prepared = api.prepare_configs([NAMED_ACCELBENCH["spring"]])  # AccelBench inferred from 'Pib'
  assert prepared.kind == "cnn"
  out = api.simulate_arrays(point, prepared, input_shape=(1, 8, 8), num_classes=10)
  assert set(api.RESULT_KEYS) <= set(out) and bool(out["fits_reticle"][0])
  # the reticle option reaches the CNN model (SPRING is 230 mm^2)
  small = api.simulate_arrays(point, prepared, input_shape=(1, 8, 8), num_classes=10,
                              reticle_mm2=100.0)
  assert not bool(small["fits_reticle"][0])
  with pytest.raises(ConfigError, match="seq_len"):
    api.simulate_arrays(point, prepared, input_shape=(1, 8, 8), num_classes=10, seq_len=8)
  with pytest.raises(ConfigError, match="AccelBench"):
    api.simulate_transformer(TINY, prepared)
