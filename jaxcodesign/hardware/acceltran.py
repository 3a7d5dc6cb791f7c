"""The jitted, vmappable AccelTran transformer-accelerator model (the corrected analytical model).

This is the *reference* model of the package: one lowered workload (:class:`~jaxcodesign.hardware.
workload.OpTable`) against a batch of accelerator configs (the numeric arrays of
``ElectorSpace.config_arrays`` plus the main-memory arrays added by :func:`config_arrays`), with
activation / weight sparsity as inputs. Everything is jnp: :func:`simulate_one` handles one config and
is ``jax.vmap``-ed over configs (and sparsity values) by :func:`simulate_batch`, which is jitted once
per op-table bucket and config-batch size. The legacy, quirk-exact TransCODE model lives in
:mod:`jaxcodesign.hardware.legacy`; the equations and every departure from AccelTran are documented in
``docs/accelerator_model.md``.

Hardware template (AccelTran, Tuli & Jha, IEEE TCAD 2023): ``P`` PEs, each with ``L`` MAC lanes of
``M`` multipliers (1 or 16) plus pre-/post-sparsity modules and a FIFO per lane, ``S`` softmax modules,
one layer-norm module, a DMA and a dataflow controller; activation / weight / mask buffers (MB); a
main memory (RRAM / DRAM / HBM). Clock 700 MHz (:data:`constants.CLOCK_MHZ`; mac_lane and
ln_forward_16 miss timing at 700 MHz, so every latency here is optimistic by up to ~12 %).

Per-op cost (tile sizes ``tb`` (batch), ``tx`` (rows), ``ty`` (contraction and columns)):

* MatMul ``count`` x (B, R, K) x (K, C): tiles ``T = count * cdiv(B,tb) * cdiv(R,tx) * cdiv(K,ty) *
  cdiv(C,ty)`` (contraction counted once); a tile (tb*tx*ty outputs, each a ty-long partial dot
  product) takes ``c = ceil(tb*tx*ty*ceil(ty/M) / L)`` cycles on one PE; cycles
  ``ceil(ceil(T/P) * c * rho)`` with ``rho`` the effectual-MAC density (1-s_a)(1-s_w) for
  activation x weight, (1-s_a)^2 for activation x activation, (1-s_a) for the fixed DFT/DCT transform.
* Depthwise conv (B, N, Ch) kernel k: ``T = cdiv(B,tb)*cdiv(N,tx)*cdiv(Ch,ty)``,
  ``c = ceil(tb*tx*ty*ceil(k/M) / L)``.
* GeLU on the MAC lanes: one element per lane per cycle, ``c = ceil(tb*tx*ty / L)``, rho = 1-s_a.
* Softmax / LayerNorm: ``T = count*cdiv(B,tb)*cdiv(R,tx)*cdiv(C,ty)`` tiles, ``tb*(tx+ty)`` cycles per
  tile on one module (the AccelTran analytical per-tile cost), ``ceil(T / units)`` waves over
  ``P*S`` softmax or ``P`` LN modules, scaled by rho = 1-s_a.
* Memory: weights are loaded from main memory at the link rate of the memory type (bits per cycle =
  GB/s * 2^30 * 8 / 700e6, :func:`constants.gbps_to_bits_per_cycle`); each element costs
  ``20*(1-s) + 1`` bits (DynaTran's compressed data plus its 1-bit mask). A weight load may start
  when the DMA is free and the weight buffer has room: two consecutive ops' weights double-buffer when
  they fit together, else the load waits for the previous weight op to finish. Activations stay
  on chip when one op's inputs + outputs for B sequences fit the activation buffer, else they stream
  to/from main memory during the op (spill traffic on the DMA).

Schedule: a ``lax.scan`` over the op table with per-resource free times (MAC, softmax, LN, DMA) and
per-stream ready times (stream 0 = layer-level ops, 1..7 = head groups of the current layer). A head
op waits for its stream, its resource and its weights; a layer-level op waits for every stream. So
head groups run concurrently (e.g. one group's softmax under another's MatMul) and weight loads
prefetch under compute.

Energy (J): dynamic = per busy unit-cycle P_dyn / f (lanes, sparsity modules, FIFOs per lane-cycle;
dataflow + DMA per PE-cycle; softmax / LN per module-cycle) + buffer accesses (E_block * sqrt(MB) per
64-byte block) + main-memory accesses (E_mm per 64-byte block); leakage = every module and buffer
powered for the whole run (P_leak / f per cycle; no power gating, no main-memory leakage: no figure).

Fits: ``False`` when the embedding table or any op's weights exceed the weight buffer, or one batch
tile (tb sequences) of any op's activations exceeds the activation buffer (never an exception).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.hardware import area_power
from jaxcodesign.hardware import constants as C
from jaxcodesign.hardware import workload as W
from jaxcodesign.padding import bucket_size, pad_rows, round_up

#: Config-array keys the model reads (numbers per config; shape [n] each).
CONFIG_KEYS = ("tile_b", "tile_x", "tile_y", "pe", "lanes_per_pe", "mac_per_lane", "softmax_per_pe",
               "batch_size", "activation_buffer_size", "weight_buffer_size", "mask_buffer_size",
               "gelu", "mm_energy_nj", "mm_bits_per_cycle")

#: Energy components reported (each with a dynamic and a leakage part). ``stochastic_rounding`` is
#: zero in inference (the units exist only on a training accelerator).
COMPONENTS = ("mac_lanes", "sparsity", "others", "softmax", "layer_norm", "stochastic_rounding",
              "activation_buffer", "weight_buffer", "mask_buffer", "main_memory")

#: Utilisation keys: busy cycles of a module / total cycles (``mac_efficiency``: useful MACs over
#: peak MACs in the run).
UTILISATION_KEYS = ("mac", "softmax", "layer_norm", "dma", "mac_efficiency")

_BITS = float(C.BITS_PER_ELEMENT)  # 20-bit fixed point (yaml:bits.IL + bits.FL)
_MB_BITS = float(2 ** 20 * 8)  # bits per MB of buffer (MB = 2^20 bytes, as the original)
_F_HZ = C.CLOCK_MHZ * 1e6
_NJ = 1e-9


def _cdiv(a, b):
  return jnp.ceil(a / b)


def _bits(s):
  """Bits per element moved or stored in DynaTran's compressed format: 20*(1-s) data + 1 mask bit."""
  return _BITS * (1.0 - s) + 1.0


def _ipow(x, k):
  """``x ** k`` for the small integer exponents 0, 1, 2 of the op table (no transcendental pow)."""
  return jnp.where(k >= 2, x * x, jnp.where(k >= 1, x, 1.0))


def _per_op_costs(t: Mapping[str, Any], cfg: Mapping[str, Any], s_a, s_w, s_g):
  """Vectorised per-op quantities of one config: all float32[O] (``B`` the config's batch)."""
  kind = t["kind"]
  valid = t["valid"].astype(jnp.float32)
  b_cfg = jnp.where(t["batch_size"] > 0, t["batch_size"], cfg["batch_size"])
  B = jnp.where(t["batch_free"] > 0, 1.0, b_cfg)
  tb, tx, ty = cfg["tile_b"], cfg["tile_x"], cfg["tile_y"]
  P, L, M, S = cfg["pe"], cfg["lanes_per_pe"], cfg["mac_per_lane"], cfg["softmax_per_pe"]
  rows, K, cols, cnt, k = t["rows"], t["contraction"], t["cols"], t["count"], t["kernel"]
  phase = t["phase"]
  is_mm = (kind == W.OP_MATMUL) | (kind == W.OP_BMM) | (kind == W.OP_TRANSFORM)
  is_conv = kind == W.OP_CONV
  is_elem = (kind == W.OP_GELU) | (kind == W.OP_UPDATE)
  is_sm = kind == W.OP_SOFTMAX
  is_ln = kind == W.OP_LAYERNORM
  out_tiles = cnt * _cdiv(B, tb) * _cdiv(rows, tx) * _cdiv(cols, ty)
  tiles = jnp.where(is_mm, out_tiles * _cdiv(K, ty), out_tiles)
  tile_outputs = tb * tx * ty
  c_mm = jnp.ceil(tile_outputs * _cdiv(ty, M) / L)
  c_conv = jnp.ceil(tile_outputs * _cdiv(jnp.maximum(k, 1.0), M) / L)
  c_elem = jnp.ceil(tile_outputs / L)
  c_norm = tb * (tx + ty)
  c_tile = jnp.select([is_mm, is_conv, is_elem, is_sm | is_ln], [c_mm, c_conv, c_elem, c_norm], 0.0)
  units = jnp.select([is_sm, is_ln], [P * S, P], P)
  da, dw, dg = 1.0 - s_a, 1.0 - s_w, 1.0 - s_g
  rho = _ipow(da, t["sp_a"]) * _ipow(dw, t["sp_w"]) * _ipow(dg, t["sp_g"])
  busy = tiles * c_tile * rho * valid  # unit-cycles (a PE or a softmax/LN module)
  comp = jnp.ceil(jnp.ceil(tiles / units) * c_tile * rho) * valid
  # ideal (roofline) cycles: MACs / peak MAC rate, elements / lane rate, normalisation tiles / units
  macs_eff = t["macs"] * B * rho * valid
  elem_eff = cnt * rows * cols * B * rho * valid
  ideal = jnp.select([is_mm | is_conv, is_elem, is_sm | is_ln],
                     [macs_eff / (P * L * M), elem_eff / (P * L),
                      elem_eff * (tx + ty) / (tx * ty) / units], 0.0)
  # memory
  is_bwd = phase == W.PHASE_BACKWARD
  s_op = jnp.where(is_bwd, s_g, s_a)  # activation tensors of backward ops are (mostly) gradients
  d_op = 1.0 - s_op
  fwd = (phase == W.PHASE_FORWARD).astype(jnp.float32)
  w_elems = t["weight_elems"] * valid
  act_elems = (t["in_elems"] + t["out_elems"]) * valid
  w_occ = w_elems * _BITS * dw  # weight-buffer occupancy (bits; masks live in the mask buffer)
  a_occ = act_elems * B * _BITS * d_op
  a_cap = cfg["activation_buffer_size"] * _MB_BITS
  w_cap = cfg["weight_buffer_size"] * _MB_BITS
  spill = a_occ > a_cap
  # training: forward activations read back by the backward pass stay on chip only if all fit
  saved = t["saved_elems"] * B * valid
  saved_spill = jnp.sum(saved * _BITS * da) > a_cap
  w_traffic = w_elems * _bits(s_w)
  a_traffic = jnp.where(spill, act_elems * B * _bits(s_op), 0.0)
  g_traffic = t["gather_elems"] * B * jnp.where(phase == W.PHASE_UPDATE, _BITS, _bits(s_w)) * valid
  o_traffic = t["mm_elems"] * _BITS * valid  # optimiser: dense weights and moments
  s_traffic = jnp.where(saved_spill, 2.0 * saved * _bits(s_a), 0.0)  # written fwd, read bwd
  stream_traffic = a_traffic + g_traffic + o_traffic + s_traffic
  bw = cfg["mm_bits_per_cycle"]
  # weights stay resident across batches (and for the backward pass) when all of them fit at once
  resident = jnp.sum(w_occ * fwd) <= w_cap
  load = jnp.ceil(w_traffic / bw)
  load_cold = jnp.where(resident & (phase != W.PHASE_FORWARD), 0.0, load)
  load_steady = jnp.where(resident, 0.0, load)
  stream = jnp.ceil(stream_traffic / bw)
  fits_w = jnp.all(w_occ <= w_cap)
  fits_a = jnp.all(act_elems * jnp.minimum(tb, B) * _BITS * d_op <= a_cap)
  return dict(B=B, b_cfg=b_cfg, tiles=tiles, c_tile=c_tile, rho=rho, busy=busy, comp=comp,
              ideal=ideal, macs_eff=macs_eff, w_elems=w_elems, act_elems=act_elems, w_occ=w_occ,
              w_cap=w_cap, load=load_cold, load_steady=load_steady, spill=stream,
              w_traffic=w_traffic, stream_traffic=stream_traffic, d_op=d_op, resident=resident,
              fits=fits_w & fits_a, is_mac=is_mm | is_conv | is_elem, is_sm=is_sm, is_ln=is_ln,
              is_train=(phase != W.PHASE_FORWARD))


def _schedule(t, c, load, outputs: bool = True):
  """Event-driven list schedule: ``lax.scan`` over ops.

  Returns (makespan, per-op dict of compute start / end, load start / end, stream start / end);
  with ``outputs=False`` the per-op dict is None (the makespan only, a cheaper scan).
  """
  n_streams = W.MAX_STREAMS
  xs = dict(res=t["resource"], stream=t["stream"], join=t["join"] > 0, comp=c["comp"],
            load=load, spill=c["spill"], w_occ=c["w_occ"], has_w=(c["w_elems"] > 0) & (load > 0))

  def step(carry, x):
    res_free, dma_free, streams, w_end1, w_end2, w_prev, span = carry
    dep = jnp.where(x["join"], jnp.max(streams), streams[x["stream"]])
    gate = jnp.where(x["w_occ"] + w_prev <= c["w_cap"], w_end2, w_end1)
    load_start = jnp.maximum(dma_free, gate)
    load_end = jnp.where(x["has_w"], load_start + x["load"], 0.0)
    dma_after_load = jnp.where(x["has_w"], load_end, dma_free)
    r = jnp.minimum(x["res"], 2)
    has_res = x["res"] < W.RES_NONE
    start = jnp.maximum(jnp.maximum(dep, load_end), jnp.where(has_res, res_free[r], 0.0))
    has_spill = x["spill"] > 0
    spill_start = jnp.maximum(start, dma_after_load)
    spill_end = spill_start + x["spill"]
    end = jnp.maximum(start + x["comp"], jnp.where(has_spill, spill_end, 0.0))
    dma_free = jnp.where(has_spill, spill_end, dma_after_load)
    res_free = jnp.where(has_res & (jnp.arange(3) == r), end, res_free)
    streams = jnp.where(x["join"] | (jnp.arange(n_streams) == x["stream"]), end, streams)
    w_end2 = jnp.where(x["has_w"], w_end1, w_end2)
    w_end1 = jnp.where(x["has_w"], end, w_end1)
    w_prev = jnp.where(x["has_w"], x["w_occ"], w_prev)
    span = jnp.maximum(span, jnp.maximum(end, dma_free))
    out = dict(start=start, end=end, load_start=jnp.where(x["has_w"], load_start, 0.0),
               load_end=load_end, spill_start=jnp.where(has_spill, spill_start, 0.0),
               spill_end=jnp.where(has_spill, spill_end, 0.0))
    return (res_free, dma_free, streams, w_end1, w_end2, w_prev, span), (out if outputs else None)

  z = jnp.zeros((), jnp.float32)
  init = (jnp.zeros(3, jnp.float32), z, jnp.zeros(n_streams, jnp.float32), z, z, z, z)
  (_, _, _, _, _, _, span), per_op = jax.lax.scan(step, init, xs)
  return span, per_op


def _unit_powers(cfg):
  """Per-unit mW of one config: lane / softmax / LN (selected by area_power from mac_per_lane,
  non-linearity and tile_x) and the per-lane pre+post-sparsity sums (constants.py)."""
  u = area_power.acceltran_unit_power_arrays(cfg)
  lane_extra_dyn = C.ACCELTRAN_PRE_SPARSITY.dynamic_mw + C.ACCELTRAN_POST_SPARSITY.dynamic_mw
  lane_extra_leak = C.ACCELTRAN_PRE_SPARSITY.leakage_mw + C.ACCELTRAN_POST_SPARSITY.leakage_mw
  return u, lane_extra_dyn, lane_extra_leak


def simulate_one(table: Mapping[str, Any], cfg: Mapping[str, Any], s_a, s_w, s_g=0.0) -> dict:
  """Simulates one workload on ONE accelerator config (jnp; vmap it over configs / sparsities).

  Args:
    table: ``OpTable.arrays()`` (arrays ``[O]`` plus scalars ``seq_len``, ``batch_size``,
      ``training``).
    cfg: scalars for every key of :data:`CONFIG_KEYS` (see :func:`config_arrays`).
    s_a, s_w: activation / weight sparsity in [0, 1): scalars or float32[O] per op.
    s_g: gradient sparsity in [0, 1) (training tables only; DynaProp), scalar or float32[O].

  Returns:
    dict of scalars (cycles and energies of ONE cold batch: weights loaded during it):
    ``cycles``, ``steady_cycles`` (period of a steady stream of batches: resident weights not
    reloaded), ``latency_s``, ``latency_per_inference_s``, ``throughput_per_s``,
    ``energy_dynamic_j``, ``energy_leakage_j``, ``energy_j``, ``energy_per_inference_j``,
    ``main_memory_energy_j``, ``area_mm2``, ``peak_power_w`` (on-chip), ``main_memory_power_w``,
    ``avg_power_w``, ``fits`` (bool), ``roofline_compute_cycles``, ``roofline_memory_cycles``,
    ``utilisation`` (dict, :data:`UTILISATION_KEYS`), ``energy_components`` ({component:
    (dynamic_j, leakage_j)}), ``batch_size`` (sequences per batch).
  """
  cfg = {k: jnp.asarray(v, jnp.float32) for k, v in cfg.items()}
  s_a = jnp.asarray(s_a, jnp.float32)
  s_w = jnp.asarray(s_w, jnp.float32)
  s_g = jnp.asarray(s_g, jnp.float32)
  training = jnp.asarray(table.get("training", 0.0), jnp.float32) > 0
  c = _per_op_costs(table, cfg, s_a, s_w, s_g)
  cycles, per = _schedule(table, c, c["load"])
  steady, _ = _schedule(table, c, c["load_steady"], outputs=False)
  P, L = cfg["pe"], cfg["lanes_per_pe"]
  u, extra_dyn, extra_leak = _unit_powers(cfg)
  f = C.CLOCK_MHZ
  sr = C.ACCELTRAN_STOCHASTIC_ROUNDING
  # ---- per-op dynamic energy (mW * cycles; / f -> nJ) ----
  mac_busy = jnp.where(c["is_mac"], c["busy"], 0.0)  # PE-cycles on MAC-lane ops
  lane_cyc = mac_busy * L
  others_pe_dyn = C.ACCELTRAN_DATAFLOW.dynamic_mw + C.ACCELTRAN_DMA.dynamic_mw
  others_pe_leak = C.ACCELTRAN_DATAFLOW.leakage_mw + C.ACCELTRAN_DMA.leakage_mw
  blk = 8.0 * C.BLOCK_SIZE_BYTES
  bufs = C.ACCELTRAN_BUFFERS
  e_act_blk = bufs["activation"].energy_nj * jnp.sqrt(cfg["activation_buffer_size"]) * f  # mW*cyc
  e_w_blk = bufs["weight"].energy_nj * jnp.sqrt(cfg["weight_buffer_size"]) * f
  e_m_blk = bufs["mask"].energy_nj * jnp.sqrt(cfg["mask_buffer_size"]) * f
  loaded = (c["load"] > 0).astype(jnp.float32)
  w_bits = c["w_elems"] * _BITS * (1.0 - s_w)
  op = {
      "mac_lanes": u["lane_dyn"] * lane_cyc,
      "sparsity": extra_dyn * lane_cyc,
      "others": C.ACCELTRAN_FIFO.dynamic_mw * lane_cyc + others_pe_dyn * mac_busy,
      "softmax": u["softmax_dyn"] * jnp.where(c["is_sm"], c["busy"], 0.0),
      "layer_norm": u["ln_dyn"] * jnp.where(c["is_ln"], c["busy"], 0.0),
      # stochastic rounding of the gradients and weights written by backward / update ops
      "stochastic_rounding": jnp.where(training & c["is_train"], sr.dynamic_mw * lane_cyc, 0.0),
      # activations read + written once per op; weights read once per use
      "activation_buffer": e_act_blk * c["act_elems"] * c["B"] * _BITS * c["d_op"] / blk,
      "weight_buffer": e_w_blk * w_bits / blk,
      "mask_buffer": e_m_blk * (c["act_elems"] * c["B"] + c["w_elems"]) / blk,
  }
  # weight-buffer / mask-buffer writes while a load is in flight
  load_write = (e_w_blk * w_bits + e_m_blk * c["w_elems"]) / blk * loaded
  mm_bits = c["w_traffic"] * loaded + c["stream_traffic"]
  mm_op = cfg["mm_energy_nj"] * mm_bits / blk  # nJ (off chip)
  dyn = {k: jnp.sum(v) / f for k, v in op.items()}
  dyn["weight_buffer"] = dyn["weight_buffer"] + jnp.sum(e_w_blk * w_bits / blk * loaded) / f
  dyn["mask_buffer"] = dyn["mask_buffer"] + jnp.sum(e_m_blk * c["w_elems"] / blk * loaded) / f
  dyn["main_memory"] = jnp.sum(mm_op)
  nl = P * L
  leak_mw = {
      "mac_lanes": u["lane_leak"] * nl,
      "sparsity": extra_leak * nl,
      "others": C.ACCELTRAN_FIFO.leakage_mw * nl + others_pe_leak * P,
      "softmax": u["softmax_leak"] * P * cfg["softmax_per_pe"],
      "layer_norm": u["ln_leak"] * P,
      "stochastic_rounding": jnp.where(training, sr.leakage_mw * nl, 0.0),
      "activation_buffer": bufs["activation"].leakage_mw_per_mb * cfg["activation_buffer_size"],
      "weight_buffer": bufs["weight"].leakage_mw_per_mb * cfg["weight_buffer_size"],
      "mask_buffer": bufs["mask"].leakage_mw_per_mb * cfg["mask_buffer_size"],
      "main_memory": jnp.zeros((), jnp.float32),  # no published figure
  }
  comps = {k: (dyn[k] * _NJ, leak_mw[k] / f * cycles * _NJ) for k in COMPONENTS}
  e_dyn = sum(v[0] for v in comps.values())
  e_leak = sum(v[1] for v in comps.values())
  e_tot = e_dyn + e_leak
  e_mm = comps["main_memory"][0]
  latency = cycles / _F_HZ
  # ---- on-chip peak power: busy modules of the schedule at each instant + leakage ----
  # Each op dissipates its dynamic energy over its interval [start, end). Its buffer accesses are
  # spread over at least the time the buffer port needs for them (370 GB/s per buffer,
  # constants.BUFFER_BITS_PER_CYCLE, yaml:*_buffer.ddr_bandwidth): buffer power never exceeds
  # E_block x port rate. Ops on one resource never overlap and a layer-level op waits for every
  # stream, so an op runs concurrently only with head ops of other streams of its layer
  # (``table["overlap"]``); the DMA's buffer writes during weight loads (one load at a time) add at
  # most their largest power.
  op_len = jnp.maximum(per["end"] - per["start"], 1.0)
  port = C.BUFFER_BITS_PER_CYCLE / blk  # blocks per cycle of one buffer port
  buffers = ("activation_buffer", "weight_buffer", "mask_buffer")
  caps = {"activation_buffer": e_act_blk * port, "weight_buffer": e_w_blk * port,
          "mask_buffer": e_m_blk * port}
  p_op = sum(v for k, v in op.items() if k not in buffers) / op_len
  p_op = p_op + sum(jnp.minimum(op[k] / op_len, caps[k]) for k in buffers)
  p_op = jnp.where(per["end"] > per["start"], p_op, 0.0)
  ov = table["overlap"]
  idx = jnp.maximum(ov, 0)
  s_j, e_j = per["start"][idx], per["end"][idx]
  on = (ov >= 0) & (s_j <= per["start"][:, None]) & (per["start"][:, None] < e_j)
  concurrent = p_op + jnp.sum(jnp.where(on, p_op[idx], 0.0), axis=1)
  p_load = jnp.minimum(load_write / jnp.maximum(c["load"], 1.0), caps["weight_buffer"] + caps[
      "mask_buffer"])
  peak_dyn_mw = jnp.max(concurrent) + jnp.max(p_load)
  leak_total_mw = sum(leak_mw.values())
  peak_w = (leak_total_mw + peak_dyn_mw) * 1e-3
  lat_safe = jnp.maximum(latency, 1e-30)
  avg_w = e_tot / lat_safe
  mm_w = e_mm / lat_safe
  # ---- roofline bounds (cold batch) ----
  ideal = c["ideal"]
  roof_c = jnp.maximum(jnp.maximum(jnp.sum(jnp.where(c["is_mac"], ideal, 0.0)),
                                   jnp.sum(jnp.where(c["is_sm"], ideal, 0.0))),
                       jnp.sum(jnp.where(c["is_ln"], ideal, 0.0)))
  roof_m = jnp.sum(mm_bits) / cfg["mm_bits_per_cycle"]
  span_safe = jnp.maximum(cycles, 1.0)
  util = {
      "mac": jnp.sum(jnp.where(c["is_mac"], c["comp"], 0.0)) / span_safe,
      "softmax": jnp.sum(jnp.where(c["is_sm"], c["comp"], 0.0)) / span_safe,
      "layer_norm": jnp.sum(jnp.where(c["is_ln"], c["comp"], 0.0)) / span_safe,
      "dma": jnp.sum(c["load"] + c["spill"]) / span_safe,
      "mac_efficiency": jnp.sum(c["macs_eff"]) / (span_safe * P * L * cfg["mac_per_lane"]),
  }
  area = jnp.where(training, area_power.acceltran_area_mm2_arrays(cfg, training=True),
                   area_power.acceltran_area_mm2_arrays(cfg))
  b = c["b_cfg"] * jnp.ones((), jnp.float32)
  return dict(cycles=cycles, steady_cycles=steady, latency_s=latency,
              latency_per_inference_s=latency / b,
              throughput_per_s=b * _F_HZ / jnp.maximum(steady, 1.0),
              energy_dynamic_j=e_dyn, energy_leakage_j=e_leak, energy_j=e_tot,
              energy_per_inference_j=e_tot / b, main_memory_energy_j=e_mm, area_mm2=area,
              peak_power_w=peak_w, main_memory_power_w=mm_w, avg_power_w=avg_w, fits=c["fits"],
              weights_resident=c["resident"], roofline_compute_cycles=roof_c,
              roofline_memory_cycles=roof_m, utilisation=util, energy_components=comps,
              batch_size=b)


def op_costs(table: Mapping[str, Any], cfg: Mapping[str, Any], s_a=0.0, s_w=0.0, s_g=0.0) -> dict:
  """Per-op compute cycles, tiles, load / stream cycles and schedule (start, end) of ONE config.

  For tests, docs and debugging (not jitted). Arrays ``[O]``; same arguments as :func:`simulate_one`
  (per-op sparsities may have the model's ``n_ops`` entries: they are zero-padded to the bucket).
  ``cycles`` is the cold batch, ``steady_cycles`` the steady-state period.
  """
  table = table.arrays() if isinstance(table, W.OpTable) else table
  cfg = {k: jnp.asarray(v, jnp.float32) for k, v in cfg.items()}
  n_ops = int(np.shape(table["kind"])[0])
  s_a, s_w, s_g = (np.pad(np.asarray(s, np.float32), (0, n_ops - np.size(s))) if np.ndim(s) == 1
                   else np.asarray(s, np.float32) for s in (s_a, s_w, s_g))
  c = _per_op_costs(table, cfg, jnp.asarray(s_a), jnp.asarray(s_w), jnp.asarray(s_g))
  span, per = _schedule(table, c, c["load"])
  steady, _ = _schedule(table, c, c["load_steady"])
  out = {k: np.asarray(v) for k, v in c.items()}
  out.update({k: np.asarray(v) for k, v in per.items()})
  out.update(cycles=float(span), steady_cycles=float(steady))
  return out


def batched(table, cfg, s_a, s_w, s_g):
  """``jax.vmap(simulate_one)`` over configs (the function :func:`simulate_batch` jits)."""
  return jax.vmap(simulate_one, in_axes=(None, 0, 0, 0, 0))(table, cfg, s_a, s_w, s_g)


# One compilation per (op-table bucket, config-batch size); tests wrap ``batched`` in
# ``chex.assert_max_traces`` and patch this attribute to count retraces.
_simulate_batch_jit = jax.jit(batched)


def _sharded(x, mesh):
  from jax.sharding import NamedSharding, PartitionSpec
  spec = PartitionSpec("configs", *([None] * (np.ndim(x) - 1)))
  return jax.device_put(x, NamedSharding(mesh, spec))


def simulate_batch(table: W.OpTable | Mapping[str, Any], cfg: Mapping[str, Any], s_a=None, s_w=None,
                   s_g=None, shard: bool = False) -> dict:
  """Simulates one workload on a batch of configs (and sparsities): jitted once per bucket and size.

  Args:
    table: an :class:`OpTable` (or its ``arrays()``).
    cfg: :func:`config_arrays` output, float32[n] per key of :data:`CONFIG_KEYS`.
    s_a, s_w: activation / weight sparsity: None (dense, 0), a scalar, float32[n] (one per config)
      or float32[n, O] (per config and op). AccelTran's 0.5 / 0.5 (constants.SPARSITY_*) must be
      passed explicitly.
    s_g: gradient sparsity (training tables): None = ``constants.SPARSITY_GRADIENT`` (0.9, ELECTOR's
      DynaProp default) for a training table, else 0; same shapes as s_a.
    shard: place the config axis on a ``jax.sharding.Mesh`` over all local devices; the configs are
      padded (``padding.round_up`` / ``pad_rows``) to a multiple of the device count and the padding
      is dropped from the result.

  Returns:
    The :func:`simulate_one` dict with a leading ``[n]`` axis on every array.

  Raises:
    ConfigError: for sparsities outside [0, 1) or mismatched shapes.
  """
  arrays = table.arrays() if isinstance(table, W.OpTable) else table
  n_ops = int(np.shape(arrays["kind"])[0])
  n = int(np.shape(cfg["pe"])[0])
  cfg = {k: np.asarray(cfg[k], np.float32) for k in CONFIG_KEYS}
  training = float(np.asarray(arrays.get("training", 0.0))) > 0
  if s_g is None:
    s_g = C.SPARSITY_GRADIENT if training else 0.0
  sa = _sparsity_array("sparsity.activation", 0.0 if s_a is None else s_a, n, n_ops)
  sw = _sparsity_array("sparsity.weight", 0.0 if s_w is None else s_w, n, n_ops)
  sg = _sparsity_array("sparsity.gradient", s_g, n, n_ops)
  if not shard:
    return _simulate_batch_jit(arrays, cfg, sa, sw, sg)
  devices = jax.local_devices()
  size = round_up(n, len(devices))
  cfg, sa, sw, sg = pad_rows((cfg, sa, sw, sg), size)
  mesh = jax.sharding.Mesh(np.array(devices), ("configs",))
  cfg = {k: _sharded(v, mesh) for k, v in cfg.items()}
  sa, sw, sg = _sharded(sa, mesh), _sharded(sw, mesh), _sharded(sg, mesh)
  out = _simulate_batch_jit(arrays, cfg, sa, sw, sg)
  return jax.tree.map(lambda x: x[:n], out) if size != n else out


def _sparsity_array(field, s, n, n_ops):
  a = np.asarray(s, np.float32)
  if a.ndim == 0:
    a = np.full((n, n_ops), a, np.float32)
  elif a.ndim == 1 and a.shape[0] == n:
    a = np.repeat(a[:, None], n_ops, axis=1)
  elif a.ndim == 1 and a.shape[0] <= n_ops:
    a = np.tile(np.pad(a, (0, n_ops - a.shape[0]))[None], (n, 1))
  elif a.ndim == 2 and a.shape[0] == n and a.shape[1] <= n_ops:
    a = np.pad(a, ((0, 0), (0, n_ops - a.shape[1])))
  else:
    raise ConfigError(f"invalid shape for field '{field}': {a.shape}; allowed: a scalar, [{n}] per "
                      f"config, [n_ops<={n_ops}] per op or [{n}, n_ops] per config and op")
  if not (np.all(np.isfinite(a)) and np.all(a >= 0) and np.all(a < 1)):
    raise ConfigError(f"invalid value for field '{field}': {s!r}; allowed: sparsity in [0, 1)")
  return a


# ---------------------------------------------------------------------------------------------------
# Config dicts -> arrays


def _space(space=None):
  if space is not None:
    return space
  from jaxcodesign.spaces.accelerators import ElectorSpace
  return ElectorSpace()


def config_arrays(configs: Sequence[Mapping[str, Any]], space=None, channel_gbps=None) -> dict[str, np.ndarray]:
  """float32[n] arrays of :data:`CONFIG_KEYS` for a list of AccelTran (nested) config dicts.

  Validation and conversion use ``space.config_arrays`` (default ``ElectorSpace()``, the space
  TransCODE samples; errors name the field and the allowed values), which emits the memory
  organisation; ``mm_energy_nj`` (nJ per 64-byte block, constants.ACCELTRAN_MAIN_MEMORY_ENERGY) and
  ``mm_bits_per_cycle`` (channels x per-channel rate, constants.main_memory_figures, per-channel
  rates overridable with ``channel_gbps``) are looked up here from it.

  Raises:
    SpaceError: a config outside the space; ConfigError for an empty list.
  """
  if len(configs) == 0:
    raise ConfigError("configs: an empty list; give at least one accelerator config")
  base = dict(_space(space).config_arrays(list(configs)))
  base.update(C.main_memory_arrays(base["mem_index"], "acceltran", channel_gbps))
  return {k: np.asarray(base[k], np.float32) for k in CONFIG_KEYS}


def pad_configs(arrays: Mapping[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
  """Pads every config array to ``size`` by repeating the last config (``padding.pad_rows``;
  results beyond n are junk)."""
  return pad_rows(dict(arrays), size)


def config_bucket(n: int) -> int:
  """Config-batch bucket: the next power of two >= n (at least 8), so sizes share compilations."""
  return bucket_size(n, 8)
