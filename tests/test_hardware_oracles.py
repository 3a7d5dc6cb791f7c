"""Independent oracles for the AccelTran reference model: hand-computed cycles, bytes and energies.

Every expected number below is derived by hand in the comments from the documented equations
(docs/accelerator_model.md) and the published constants (constants.py), not read back from the
model: doubling the MAC-lane dynamic energy, the reported cycles or the traffic breaks a test.
Config: AccelTran-Edge (tile 1 x 16 x 16, P 64, L 16, M 16, S 4, batch 4, dram 32-2-1: one LPDDR3
x32 channel, 6.4 GB/s = 6.4 * 2^33 / 700e6 = 78.5365 bits/cycle), dense unless stated.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from jaxcodesign.hardware import acceltran as A
from jaxcodesign.hardware import api
from jaxcodesign.hardware import constants as C
from jaxcodesign.hardware import workload as W
from jaxcodesign.paths import PROJECT_ROOT
from jaxcodesign.spaces.accelerators import NAMED_ACCELERATORS, ElectorSpace
from jaxcodesign.spaces.flexibert import NAMED_MODELS

EDGE = NAMED_ACCELERATORS["edge"]
F = 700.0  # MHz: mW / MHz = nJ per cycle
BW = 6.4 * 2 ** 33 / 700e6  # bits per cycle of one LPDDR3 channel
E_MM = 13.43777522  # nJ per 64-byte block, dram_32_2_1 (yaml:main_memory.energy)
LANE_DYN = 5.1955  # mW, 16-multiplier GeLU lane
LEAK_MW = None  # computed below from the module table (not from the model)


def _edge_arrays():
  return A.config_arrays([EDGE])


def _single(table, name):
  """The table's arrays with every op but ``name`` padded out (valid 0): a one-op workload."""
  arr = {k: (np.array(v) if np.ndim(v) else v) for k, v in table.arrays().items()}
  keep = np.zeros(table.bucket, bool)
  keep[table.names.index(name)] = True
  arr["valid"] = np.where(keep, arr["valid"], 0).astype(np.int32)
  arr["kind"] = np.where(keep, arr["kind"], W.OP_PAD).astype(np.int32)
  arr["resource"] = np.where(keep, arr["resource"], W.RES_NONE).astype(np.int32)
  return arr


def _run(arrays, s_a=0.0, s_w=0.0):
  out = A.simulate_batch(arrays, _edge_arrays(), s_a, s_w)
  return {k: (np.asarray(v)[0] if not isinstance(v, dict) else v) for k, v in out.items()}


def _edge_leakage_mw():
  # P*L lanes x (lane + pre + post + fifo) + P*S softmax(16) + P x (LN(16) + dataflow + DMA)
  # + buffers mW/MB x MB (act 4, weight 8, mask 1): the published module table
  P, L, S = 64, 16, 4
  lane = 0.3189685 + 0.1507329 + 0.0324301 + 0.0140774
  pe = 2.5753 + 2.7312 + 0.0063819
  return P * L * lane + P * S * 2.6696 + P * pe + 247.918667 * 4 + 210.40467 * 8 + 238.196 * 1


def test_single_matmul_cycles_bytes_energy():
  t = W.lower_transformer(NAMED_MODELS["bert_tiny"])
  r = _run(_single(t, "l0.ff1"))
  # ff1: (B 4, R 128, K 128) x (128, C 512): tiles 4 * 8 * 8 * 32 = 8192, 16 cycles per tile
  # (16*16*ceil(16/16)/16), ceil(8192 / 64 PEs) = 128 waves -> 2048 compute cycles
  # weights 128 * 512 elements x 21 bits (20 data + 1 mask, dense) = 1,376,256 bits over 78.5365
  # bits/cycle = 17,524 cycles (ceil), loaded before the op starts -> 19,572 cycles
  assert r["cycles"] == 17524 + 2048
  assert r["roofline_compute_cycles"] == pytest.approx(4 * 128 * 128 * 512 / (64 * 16 * 16))
  assert r["roofline_memory_cycles"] == pytest.approx(1376256 / BW, rel=1e-6)
  comp = r["energy_components"]
  # MAC lanes: 8192 tiles x 16 cycles = 131,072 PE-cycles x 16 lanes x 5.1955 mW / 700 MHz
  assert float(comp["mac_lanes"][0][0]) == pytest.approx(131072 * 16 * LANE_DYN / F * 1e-9, rel=1e-5)
  # main memory: 1,376,256 bits = 2,688 blocks of 64 bytes x 13.4378 nJ
  assert float(comp["main_memory"][0][0]) == pytest.approx(2688 * E_MM * 1e-9, rel=1e-5)
  assert r["main_memory_energy_j"] == pytest.approx(2688 * E_MM * 1e-9, rel=1e-5)
  # weight buffer: written on load and read once, 2 x 65,536 x 20 bits = 5,120 blocks x
  # 0.0856588 nJ x sqrt(8 MB)
  assert float(comp["weight_buffer"][0][0]) == pytest.approx(
      5120 * 0.0856588 * math.sqrt(8) * 1e-9, rel=1e-5)
  # leakage: every module and buffer powered for the 19,572 cycles
  assert r["energy_leakage_j"] == pytest.approx(_edge_leakage_mw() / F * 19572 * 1e-9, rel=1e-5)
  assert r["latency_s"] == pytest.approx(19572 / 700e6, rel=1e-6)
  # on-chip peak power: leakage + the op's dynamic power while it computes (2,048 cycles, every PE
  # busy): 1,024 lanes x (lane 5.1955 + pre 0.2852968 + post 0.2613971 + FIFO 0.0563909 mW) + 64 PEs
  # x (dataflow 11.3711 + DMA 0.0335287 mW); buffers over the op: activations 12,800 blocks x
  # 0.079275099 x sqrt(4) nJ, weights read 2,560 x 0.0856588 x sqrt(8), masks 768 x 0.08200675;
  # plus the buffer writes of the weight load (2,560 weight + 128 mask blocks over 17,524 cycles)
  mac_mw = 1024 * (5.1955 + 0.2852968 + 0.2613971 + 0.0563909) + 64 * (11.3711 + 0.0335287)
  buf_nj = 12800 * 0.079275099 * 2 + 2560 * 0.0856588 * math.sqrt(8) + 768 * 0.08200675
  load_nj = 2560 * 0.0856588 * math.sqrt(8) + 128 * 0.08200675
  peak_mw = _edge_leakage_mw() + mac_mw + buf_nj / 2048 * F + load_nj / 17524 * F
  assert r["peak_power_w"] == pytest.approx(peak_mw / 1e3, rel=1e-4)
  # main memory (off chip) is reported apart: its energy over the batch's latency
  assert r["main_memory_power_w"] == pytest.approx(2688 * E_MM * 1e-9 / (19572 / 700e6), rel=1e-5)
  # activation / weight sparsity 0.5 each: density 0.25 -> 512 compute cycles, weights at 11 bits
  half = _run(_single(t, "l0.ff1"), 0.5, 0.5)
  assert half["cycles"] == math.ceil(65536 * 11 / BW) + 512


def test_single_softmax_and_layernorm():
  t = W.lower_transformer(NAMED_MODELS["bert_tiny"])
  sm = _run(_single(t, "l0.sa_sdp_64x2.softmax"))
  # 2 heads x (4, 128, 128): tiles 2 * 4 * 8 * 8 = 512 of tb (tx + ty) = 32 cycles on P * S = 256
  # softmax modules: 2 waves -> 64 cycles; no weights, activations stay on chip
  assert sm["cycles"] == 64
  assert sm["roofline_compute_cycles"] == pytest.approx(64.0)  # a full-wave op meets its bound
  assert sm["roofline_memory_cycles"] == 0
  # 512 tiles x 32 module-cycles x 34.6343 mW (softmax tile 16) / 700 MHz
  assert float(sm["energy_components"]["softmax"][0][0]) == pytest.approx(
      512 * 32 * 34.6343 / F * 1e-9, rel=1e-5)
  assert float(sm["energy_components"]["mac_lanes"][0][0]) == 0
  ln = _run(_single(t, "l0.ln1"))
  # (4, 128, 128): 256 tiles x 32 cycles over 64 LN modules: 4 waves -> 128 cycles
  assert ln["cycles"] == 128
  assert float(ln["energy_components"]["layer_norm"][0][0]) == pytest.approx(
      256 * 32 * 43.8378 / F * 1e-9, rel=1e-5)
  # activation buffer: (in + out) 2 * 4 * 128 * 128 elements x 20 bits = 5,120 blocks x
  # 0.079275099 nJ x sqrt(4 MB)
  assert float(ln["energy_components"]["activation_buffer"][0][0]) == pytest.approx(
      5120 * 0.079275099 * 2 * 1e-9, rel=1e-5)


ONE_LAYER = {"l": 1, "o": [["sa_sdp_16", "sa_sdp_16"]], "h": [32], "f": [[64]]}


def test_one_layer_model_schedule_bytes_energy():
  """A 1-layer model (h 32, two 16-dim SDP heads, FF 64, N = 16) worked through by hand."""
  t = W.lower_transformer(ONE_LAYER, seq_len=16)  # 1 layer: outside FlexiBERT 2.0, pre-lowered
  r = api.simulate_transformer(None, [EDGE], op_table=t)[0]
  # compute cycles per op (16 cycles per MatMul tile, <= 64 tiles: one wave each):
  # qkv 16, qk 16, softmax 32 (8 tiles x 32 on 256 modules), sv 16, attn_out 16, ln1 32,
  # ff1 16, gelu1 16 (ceil(256 / 16) per tile), ff2 16, ln2 32
  # weight loads (21 bits per element, ceil(bits / 78.5365)): pos+type 18*32 -> 155,
  # qkv 32*96 -> 822, attn_out 32*32 -> 274, ff1 32*64 -> 548, ff2 64*32 -> 548;
  # embedding gather 4 * 16 * 32 rows x 21 bits -> 548.
  # cold schedule (loads double-buffered behind the previous weight op):
  #   embed: load 0-155, gather 155-703; qkv: load 703-1525, 1525-1541; qk 1541-1557;
  #   softmax 1557-1589; sv 1589-1605; attn_out: load 1525-1799, 1799-1815; ln1 1815-1847;
  #   ff1: load 1799-2347, 2347-2363; gelu1 2363-2379; ff2: load 2347-2895, 2895-2911;
  #   ln2 2911-2943.
  assert r["cycles"] == 2943
  # steady state (all weights resident): gather 548 + the serial compute chain 208 = 756
  assert r["weights_resident"] and r["steady_cycles"] == 548 + 208
  assert r["throughput_per_s"] == pytest.approx(4 * 700e6 / 756, rel=1e-6)
  assert r["latency_per_inference_s"] == pytest.approx(2943 / 700e6 / 4, rel=1e-6)
  # bytes moved: weights (576 + 3072 + 1024 + 2048 + 2048) + gathered rows 2048, x 21 bits
  bits = (576 + 3072 + 1024 + 2048 + 2048 + 2048) * 21
  assert r["main_memory_energy_j"] == pytest.approx(bits / 512 * E_MM * 1e-9, rel=1e-5)
  assert r["roofline_memory_cycles"] == pytest.approx(bits / BW, rel=1e-5)
  # MAC-lane energy: PE-cycles qkv 48x16, qk 8x16, sv 8x16, attn_out 16x16, ff1 32x16, gelu 16x16,
  # ff2 32x16 = 2,560, x 16 lanes x 5.1955 mW / 700 MHz
  assert r["energy_components"]["mac_lanes"]["dynamic_j"] == pytest.approx(
      2560 * 16 * LANE_DYN / F * 1e-9, rel=1e-5)
  # MACs per sequence: qkv 16*32*96 + qk 2*16*16*16 + sv 2*16*16*16 + out 16*32*32 + ff 2*16*32*64
  macs = 16 * 32 * 96 + 2 * 2 * 16 ** 3 + 16 * 32 * 32 + 2 * 16 * 32 * 64
  assert t.total_macs(1) == macs
  assert r["roofline_compute_cycles"] >= 4 * macs / (64 * 16 * 16)
  assert r["energy_j"] == pytest.approx(r["energy_dynamic_j"] + r["energy_leakage_j"], rel=1e-6)
  assert r["energy_leakage_j"] == pytest.approx(_edge_leakage_mw() / F * 2943 * 1e-9, rel=1e-5)


def test_training_step_hand_counted_macs_and_cost():
  """BERT-Tiny training (TransCODE): every MatMul / activation-product has a forward, an
  activation-gradient and a weight-gradient product of equal MACs, so a step has 3x the forward
  MACs. Forward per layer (N = h = 128): Q/K/V 3 N h^2 + out N h^2 + QK^T and SV 2 N^2 h +
  FF 2 * 4 N h^2 = 29,360,128; two layers 58,720,256; a step 176,160,768 per sequence."""
  md = NAMED_MODELS["bert_tiny"]
  fwd = W.lower_transformer(md)
  step = W.lower_transformer(md, mode="training")
  n, h = 128, 128
  per_layer = 3 * n * h * h + n * h * h + 2 * n * n * h + 8 * n * h * h
  assert per_layer == 29_360_128
  assert fwd.total_macs(1) == 2 * per_layer
  assert step.total_macs(1) == 3 * 2 * per_layer == 176_160_768
  names = step.names
  dw = sum(step.macs[i] for i in range(step.n_ops) if names[i].endswith(".dw"))
  assert dw == 2 * (4 * n * h * h + 8 * n * h * h)  # weight gradients of the learnable MatMuls
  # the optimiser touches every weight (non-embedding + position/type) once, 11 element ops each
  u = names.index("update")
  w_total = float(np.sum(fwd.weight_elems[: fwd.n_ops]))
  assert step.mm_elems[u] == 6 * w_total
  # the step costs more than twice the forward pass on both named accelerators, and the training
  # die carries one stochastic-rounding unit per MAC lane (79.043665 um^2 each)
  for name, cfg in NAMED_ACCELERATORS.items():
    inf = api.simulate_transformer(md, [cfg], sparsity=(0.5, 0.5))[0]
    tr = api.simulate_transformer(md, [cfg], sparsity=(0.5, 0.5), mode="training")[0]
    assert tr["cycles"] > 2 * inf["cycles"], name
    lanes = cfg["pe"] * cfg["lanes_per_pe"]
    assert tr["area_mm2"] - inf["area_mm2"] == pytest.approx(lanes * 79.043665e-6, rel=1e-3)
    assert tr["energy_components"]["stochastic_rounding"]["dynamic_j"] > 0
    assert inf["energy_components"]["stochastic_rounding"]["dynamic_j"] == 0
  # dense gradients: 3x the MAC work, so a compute-bound training step costs >= ~3x the forward
  tiny_lanes = dict(EDGE, pe=64, lanes_per_pe=8, mac_per_lane=1,
                    main_memory={"type": "rram", "banks": 1, "ranks": 2, "channels": 32})
  a = api.simulate_transformer(md, [tiny_lanes])[0]
  b = api.simulate_transformer(md, [tiny_lanes], mode="training", gradient_sparsity=0.0)[0]
  assert a["roofline_compute_cycles"] > a["roofline_memory_cycles"]  # compute-bound
  assert b["cycles"] > 2.9 * a["cycles"]
  # ELECTOR's default gradient sparsity 0.9: dX = dY W^T skips the pruned gradients (10 % of the
  # forward's MACs) but the weight gradients dW = X^T dY contract over the token axis and run
  # dense, so a compute-bound step is 1 + 0.1 + 1 = 2.1x the forward's MAC work (plus the
  # element-wise backward ops and the optimiser) and its cycles stay above twice the forward's
  c = api.simulate_transformer(md, [tiny_lanes], mode="training")[0]
  ratio = c["roofline_compute_cycles"] / a["roofline_compute_cycles"]
  assert 2.1 <= ratio < 2.2
  assert c["cycles"] > 2 * a["cycles"]
  dws = [i for i in range(step.n_ops) if names[i].endswith((".dw", ".db"))]
  dxs = [i for i in range(step.n_ops) if names[i].endswith((".dx", ".da"))]
  assert all(step.sp_a[i] == step.sp_w[i] == step.sp_g[i] == 0 for i in dws)
  assert all(step.sp_g[i] == 1 for i in dxs)


def test_physical_bounds_on_sampled_pairs():
  """Held-back sampled pairs: cycles never below either roofline bound; memory options of one type
  with different organisations give different cycles; on-chip peak power within what 14 nm
  silicon can dissipate (<= 1 W/mm^2, the upper end of air/liquid-cooled server dies, ~0.5-1)."""
  import jax
  space = ElectorSpace()
  configs = space.sample(jax.random.key(11), 64)
  prepared = api.prepare_configs(configs)
  cycles = {}
  for mode in ("inference", "training"):
    out = api.simulate_arrays("bert_tiny", prepared, mode=mode, sparsity=(0.5, 0.5))
    cycles[mode] = out["cycles"]
    assert out["cycles"].dtype == np.int64
    assert np.all(out["cycles"] >= np.floor(out["roofline_compute_cycles"]))
    assert np.all(out["cycles"] >= np.floor(out["roofline_memory_cycles"]))
    density = out["peak_power_w"] / out["area_mm2"]
    assert np.all(density <= 1.0) and np.all(density > 0)
    assert np.all(out["peak_power_w"] * out["latency_s"] >= out["energy_j"] - out[
        "main_memory_energy_j"] - 1e-12)  # die energy <= die peak power x time
  assert np.all(cycles["training"] > 2 * cycles["inference"])
  dense_inf = api.simulate_arrays("bert_tiny", prepared)["cycles"]
  dense_tr = api.simulate_arrays("bert_tiny", prepared, mode="training")["cycles"]
  assert np.all(dense_tr > 2 * dense_inf)  # default sparsity (dense forward, s_g 0.9)
  # same type, different organisation: rram 32-2-1 (1 channel) vs 1-2-32 (32 channels)
  base = dict(EDGE)
  one = dict(base, main_memory={"type": "rram", "banks": 32, "ranks": 2, "channels": 1})
  many = dict(base, main_memory={"type": "rram", "banks": 1, "ranks": 2, "channels": 32})
  r1, r32 = api.simulate_transformer("bert_tiny", [one, many])
  assert r32["cycles"] < r1["cycles"]
  assert r1["roofline_memory_cycles"] == pytest.approx(32 * r32["roofline_memory_cycles"], rel=1e-5)


def test_sharding_compares_two_real_layouts():
  """Four forced host devices in a subprocess: the config axis split over 4 devices (and a count
  that is not a multiple of 4, padded) gives the same results as one device."""
  code = """
import json, jax, numpy as np
from jaxcodesign.hardware import acceltran as A, workload as W
from jaxcodesign.spaces.accelerators import ElectorSpace
from jaxcodesign.spaces.flexibert import NAMED_MODELS
assert len(jax.local_devices()) == 4, jax.local_devices()
t = W.lower_transformer(NAMED_MODELS["bert_tiny"])
cfg = A.config_arrays(ElectorSpace().sample(jax.random.key(3), 6))
one = A.simulate_batch(t, cfg, 0.5, 0.5)
four = A.simulate_batch(t, cfg, 0.5, 0.5, shard=True)
print(json.dumps({"n": int(np.shape(four["cycles"])[0]),
                  "devices": len(four["cycles"].sharding.device_set) if hasattr(four["cycles"], "sharding") else 0,
                  "cycles_equal": bool(np.array_equal(np.asarray(one["cycles"]), np.asarray(four["cycles"]))),
                  "energy_close": bool(np.allclose(np.asarray(one["energy_j"]), np.asarray(four["energy_j"]), rtol=1e-6))}))
"""
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=4")
  proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True,
                        text=True, timeout=240)
  assert proc.returncode == 0, proc.stderr[-2000:]
  res = json.loads(proc.stdout.strip().splitlines()[-1])
  assert res["n"] == 6 and res["devices"] == 4
  assert res["cycles_equal"] and res["energy_close"]
