"""Jitted, vmappable analytical model of the AccelBench CNN accelerator (SPRING template).

Template (AccelBench, Tuli et al., "CODEBench", ACM TECS 2023; module table summarised in
docs/accelbench_model.md): ``PE = Pib*Pix*Piy`` processing elements, each with ``Lane = Pof*Pkx*Pky``
MAC lanes of ``Pif`` multipliers (1 or 16), one im2col, pre-sparsity and post-sparsity unit per lane,
``2*Pif`` FIFOs per lane, and per PE one dataflow controller, DMA, batch-norm, pooling,
global-average-pooling and upsampling module; activation, weight and mask buffers; RRAM / DRAM / HBM
main memory. Every equation, assumption and departure from the original AccelBench is written down in
docs/accelbench_model.md; in short:

* Compute cycles of a MAC op (conv, grouped / depthwise conv, 1x1 projection, dense): the loop nest
  ``G x B x Kg x Cg x OH x OW x R x S`` is tiled by ``Pib`` (batch), ``Pof`` (output channels of a
  group), ``Pif`` (input channels of a group, inside a lane), ``Pix`` / ``Piy`` (output pixels) and
  ``Pkx`` / ``Pky`` (kernel); groups run one after another (the lanes of a PE share their input
  tile)::

      C = G * ceil(B/Pib) * ceil(Kg/Pof) * ceil(Cg_eff/Pif) * ceil(OH/Pix) * ceil(OW/Piy)
            * ceil(R/Pkx) * ceil(S/Pky),        Cg_eff = max(1, ceil(Cg * (1-s_a) * (1-s_w)))

* Batch-norm, pooling, GAP and upsampling: one element per module per cycle on the ``PE`` modules
  (``ceil(work*B/PE)``); activation and residual add: one element per lane per cycle
  (``ceil(work*B/(PE*Lane))``); concat / flatten / channel shuffle / dropout are free. At inference
  batch-norm is folded into the preceding convolution by default
  (:func:`jaxcodesign.hardware.cnn_workload.fold_batchnorm`).
* Memory: 20-bit fixed point, compressed ``20*(1-s)`` bits per element plus a 1-bit mask per element.
  Main-memory transfers of op ``i``: a LOAD (its weights + masks, and the network input for the first
  op) before the op starts, and a STREAM during the op (activation spill ``2*max(0, in+out - act
  buffer)``, written and read back, and the network output for the last op). Link rate
  ``mm_bits_per_cycle`` from the config arrays.
* Schedule (a ``lax.scan`` over ops; compute is serial in op order, the DMA serves transfers in op
  order): the weights of op ``j`` are prefetched AS FAR AHEAD AS THE WEIGHT BUFFER ALLOWS: the load
  starts when the DMA is free and every op whose weights must leave the buffer to make room (the ops
  before the longest window ``i..j`` whose weights fit together) has finished. An op starts when its
  predecessor has finished and its load is done; its stream runs on the DMA from its start.
* ``fits`` is False when one op's (compressed) weights exceed the weight buffer (it then loads after
  its predecessor, serially). ``fits_reticle``: area <= ``reticle_mm2`` (858 mm^2, one exposure field).
* Energy: dynamic = sum over modules of ``P_dyn/f * busy unit-cycles`` + buffer accesses
  (``E_ref*sqrt(size/ref)`` per 64-byte block) + main-memory accesses (per 64-byte block); leakage =
  all-on leakage of ``area_power.accelbench_leakage_mw`` over the whole run.
* ``peak_power_w`` (ON-CHIP): the maximum over the schedule of the power of what is busy at the same
  time: the running op's modules and buffer reads (its compute-side energy over its compute cycles),
  plus the DMA and buffer fills of a transfer that overlaps it (the largest such transfer power),
  plus all-on leakage. ``main_memory_power_w``: the off-chip memory while the link transfers at full
  rate. ``avg_power_w`` = energy (die + main memory) / latency.
* Roofline: ``roofline_compute_cycles`` = effectual MACs / (PE*Lane*Pif), ``roofline_memory_cycles``
  = bits moved over the link / link rate; ``cycles`` is never below either.

All outputs are for one run of ``batch_size`` images (the config's batch, unless the op table fixes
one). Entry points: :func:`simulate_cnn` (design point + config dicts -> list of result dicts with the
hardware result contract of :mod:`jaxcodesign.hardware.api`) and :func:`simulate_cnn_arrays` (lowered
op table + ``config_arrays`` -> dict of arrays, jitted once per bucket and vmapped over configs).
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodesign import padding
from jaxcodesign.errors import ConfigError
from jaxcodesign.hardware import area_power
from jaxcodesign.hardware import constants as C
from jaxcodesign.hardware import cnn_workload as W

#: bits of one 64-byte block (the access granularity of buffers and main memory; yaml block_size)
BLOCK_BITS = C.BLOCK_SIZE_BYTES * 8
#: bits per MB of buffer capacity (MB = 2**20 bytes, consistent with GB = 2**30 in constants.py)
MB_BITS = 8.0 * 2 ** 20

#: Reticle limit (mm^2): the largest die one lithography exposure field prints, 26 mm x 33 mm
#: (the standard field of 193 nm immersion and EUV scanners). Larger designs need stitching or chiplets.
RETICLE_MM2 = 858.0

#: Modes of :func:`simulate_cnn` (CNN training is not modelled).
MODES = ("inference",)

#: config_arrays keys the jitted model needs
CONFIG_KEYS = ("Pib", "Pif", "Pix", "Piy", "Pof", "Pkx", "Pky", "batch_size",
               "activation_buffer_size", "weight_buffer_size", "mask_buffer_size",
               "mm_bits_per_cycle", "mm_energy_nj")

#: keys of the utilisation dict (fractions of the run's cycles; multipliers = useful MACs)
UTILISATION_KEYS = ("mac_lanes", "multipliers", "im2col", "batch_norm", "pooling",
                    "global_avg_pooling", "upsampling", "main_memory_link")

#: energy components (each with a dynamic and a leakage part in ``energy_components``)
COMPONENTS = ("mac_lanes", "im2col", "sparsity", "fifo", "batch_norm", "pooling",
              "global_avg_pooling", "upsampling", "dataflow", "dma", "activation_buffer",
              "weight_buffer", "mask_buffer", "main_memory")

#: area_power.accelbench_module_power names making up each component (for the leakage split)
_LEAK_PARTS = {"mac_lanes": ("mac_lanes",), "im2col": ("im2col",),
               "sparsity": ("pre_sparsity", "post_sparsity"), "fifo": ("fifo",),
               "batch_norm": ("batch_norm",), "pooling": ("pooling",),
               "global_avg_pooling": ("global_avg_pooling",), "upsampling": ("upsampling",),
               "dataflow": ("dataflow",), "dma": ("dma",),
               "activation_buffer": ("activation_buffer",), "weight_buffer": ("weight_buffer",),
               "mask_buffer": ("mask_buffer",), "main_memory": ()}

#: Default im2col dynamic-power multiplier. The published 423.0658 mW (synth:im2col_cpu) comes from a
#: report with NO clock defined ("There is no defined clock in the design", 12,760 sequential cells
#: toggling at the tool's default rate), so it is not a 700 MHz figure; the original charged it per
#: cycle and got 97.8% of its dynamic energy from im2col. We rescale it to the power density
#: (mW/um^2) of the batch-norm module (synth:forward, clocked at 700 MHz, nearly the same area:
#: 14,654 vs 14,307 um^2): 8.3914/14654.49 * 14307.18 = 8.19 mW, i.e. a factor of 0.01936.
#: ``im2col_power_scale=1.0`` restores the published figure (docs/accelbench_model.md).
IM2COL_POWER_SCALE = (C.ACCELBENCH_MODULES["batch_norm"][0].dynamic_mw
                      / C.ACCELBENCH_MODULES["batch_norm"][0].area_um2
                      * C.ACCELBENCH_MODULES["im2col"][0].area_um2
                      / C.ACCELBENCH_MODULES["im2col"][0].dynamic_mw)

#: keys of every result dict of :func:`simulate_cnn` (the hardware result contract)
RESULT_KEYS = ("cycles", "latency_s", "latency_per_inference_s", "throughput_per_s", "energy_j",
               "energy_per_inference_j", "energy_dynamic_j", "energy_leakage_j",
               "main_memory_energy_j", "area_mm2", "peak_power_w", "main_memory_power_w",
               "avg_power_w", "fits", "fits_reticle", "roofline_compute_cycles",
               "roofline_memory_cycles", "utilisation", "energy_components", "batch_size", "mode")

#: the scalar keys of :data:`RESULT_KEYS` (what :func:`simulate_cnn_arrays` returns as arrays [n])
SCALAR_KEYS = tuple(k for k in RESULT_KEYS if k not in ("utilisation", "energy_components", "mode"))


# ---------------------------------------------------------------------------------------------------
# Inputs.

def cnn_config_arrays(configs: Sequence[Mapping[str, Any]], channel_gbps=None,
                      bandwidth: str = "organisation") -> dict[str, np.ndarray]:
  """Arrays [n] of validated AccelBench configs: ``AccelBenchSpace.config_arrays`` (which emits the
  memory organisation index ``mem_index``) plus the main-memory figures looked up from it
  (:func:`jaxcodesign.hardware.constants.main_memory_arrays` with the AccelBench energy table):
  ``mm_energy_nj`` (nJ per 64-byte access) and ``mm_bits_per_cycle`` (link rate).

  Args:
    configs: AccelBench config dicts.
    channel_gbps: per-channel rates (GB/s per memory type) overriding the constants table.
    bandwidth: ``"organisation"`` (channels x per-channel rate, default) or ``"type"`` (one rate per
      memory type, the model before issue 9).

  Raises:
    SpaceError: a config outside the AccelBench space (naming the field and the allowed values).
    ConfigError: an empty list, or a bad ``channel_gbps`` / ``bandwidth``.
  """
  from jaxcodesign.spaces.accelerators import AccelBenchSpace
  configs = list(configs)
  if not configs:
    raise ConfigError("configs: expected at least one AccelBench config")
  out = dict(AccelBenchSpace().config_arrays(configs))
  out.update(C.main_memory_arrays(out["mem_index"], "accelbench", channel_gbps, bandwidth=bandwidth))
  return out


def sparsity_arrays(sparsity, n: int) -> dict[str, np.ndarray]:
  """``{"activation": float32[n], "weight": float32[n]}`` in [0, 1] from ``sparsity``.

  ``sparsity``: None (dense: 0, 0), a number (both), a pair (activation, weight), or a dict with keys
  ``activation`` / ``weight`` holding numbers or length-``n`` sequences. Raises ConfigError otherwise.
  """
  if sparsity is None:
    act, wgt = 0.0, 0.0
  elif isinstance(sparsity, Mapping):
    unknown = set(sparsity) - {"activation", "weight"}
    if unknown:
      raise ConfigError(f"sparsity: unknown keys {sorted(unknown)}; allowed: ['activation', 'weight']")
    act, wgt = sparsity.get("activation", 0.0), sparsity.get("weight", 0.0)
  elif isinstance(sparsity, (int, float, np.integer, np.floating)):
    act = wgt = float(sparsity)
  elif isinstance(sparsity, (tuple, list)) and len(sparsity) == 2:
    act, wgt = sparsity
  else:
    raise ConfigError(f"sparsity: {sparsity!r}; allowed: None, a number, (activation, weight) or "
                      "{'activation': ..., 'weight': ...}")
  out = {}
  for name, v in (("activation", act), ("weight", wgt)):
    a = np.broadcast_to(np.asarray(v, np.float32), (n,)) if np.ndim(v) == 0 else np.asarray(v, np.float32)
    if a.shape != (n,):
      raise ConfigError(f"sparsity.{name}: shape {a.shape}; expected a number or length {n}")
    if not np.all((a >= 0) & (a <= 1)):
      raise ConfigError(f"sparsity.{name}: {v!r}; allowed: values in [0, 1]")
    out[name] = np.array(a, np.float32)
  return out


def check_mode(mode: str) -> str:
  """Returns ``mode`` if it is one of :data:`MODES`; raises ConfigError naming the allowed modes."""
  if mode not in MODES:
    raise ConfigError(f"mode: {mode!r}; allowed: {list(MODES)} (the AccelBench CNN model has no "
                      "training mode)")
  return mode


# ---------------------------------------------------------------------------------------------------
# The per-config model (traced once per bucket, vmapped over configs).

def _cdiv(a, b):
  return jnp.ceil(a / b)


def _module(name):
  return C.ACCELBENCH_MODULES[name][0]


def _schedule(comp, load, stream, gate):
  """Serial compute, in-order DMA, weight prefetch gated by buffer room (see the module docstring).

  Args:
    comp, load, stream: float32[N] cycles of each op's compute, load (before it) and stream (during
      it); gate: int32[N], the op whose end frees room for op j's weights (-1: room from the start).

  Returns:
    (span, start, end, load_start, load_end, stream_start, stream_end), the intervals [N] each;
    a transfer of zero length sits at the DMA's free time (so every list is ordered and disjoint).
  """
  n = comp.shape[0]

  def step(carry, x):
    dma_free, prev_end, ends = carry
    c, l, s, g, j = x
    room = jnp.where(g >= 0, ends[jnp.maximum(g, 0)], 0.0)
    has_l = l > 0
    l_start = jnp.where(has_l, jnp.maximum(dma_free, room), dma_free)
    l_end = l_start + l
    dma_free = l_end
    start = jnp.maximum(prev_end, jnp.where(has_l, l_end, 0.0))
    has_s = s > 0
    s_start = jnp.where(has_s, jnp.maximum(start, dma_free), dma_free)
    s_end = s_start + s
    dma_free = s_end
    end = jnp.maximum(start + c, jnp.where(has_s, s_end, 0.0))
    ends = ends.at[j].set(end)
    return (dma_free, end, ends), (start, end, l_start, l_end, s_start, s_end)

  z = jnp.zeros((), jnp.float32)
  init = (z, z, jnp.zeros((n,), jnp.float32))
  (dma_free, last_end, _), ivals = jax.lax.scan(step, init, (comp, load, stream, gate, jnp.arange(n)))
  return (jnp.maximum(last_end, dma_free),) + ivals


def _busy_before(t, starts, ends):
  """Busy time before each ``t`` [N] of an ordered list of disjoint intervals (starts/ends [M])."""
  cum = jnp.concatenate([jnp.zeros((1,), ends.dtype), jnp.cumsum(ends - starts)])
  idx = jnp.searchsorted(ends, t, side="right")  # intervals wholly before t
  m = ends.shape[0]
  k = jnp.minimum(idx, m - 1)
  partial = jnp.where(idx < m, jnp.clip(t - starts[k], 0.0, ends[k] - starts[k]), 0.0)
  return cum[idx] + partial


def _simulate_one(t, cfg, sp, *, activations: tuple, table_batch: int, im2col_power_scale: float):
  """Metrics of one config (scalars in ``cfg``/``sp``) on op table arrays ``t`` ([N] each)."""
  f_mhz = C.CLOCK_MHZ
  lane_key = area_power.accelbench_activation_key(activations)
  kind = t["kind"]
  real = kind != W.OP_PAD
  is_conv = kind == W.OP_CONV
  is_mac = is_conv | (kind == W.OP_DENSE)
  is_lane_elem = (kind == W.OP_ACT) | (kind == W.OP_ADD)
  is_pe_elem = ((kind == W.OP_BN) | (kind == W.OP_POOL) | (kind == W.OP_GAP)
                | (kind == W.OP_UPSAMPLE))
  costly = real & (kind != W.OP_FREE)

  pib, pif, pix, piy = cfg["Pib"], cfg["Pif"], cfg["Pix"], cfg["Piy"]
  pof, pkx, pky = cfg["Pof"], cfg["Pkx"], cfg["Pky"]
  batch = cfg["batch_size"] if table_batch <= 0 else jnp.float32(table_batch)
  pe = pib * pix * piy
  lanes = pof * pkx * pky
  s_a, s_w = sp["activation"], sp["weight"]
  density = (1.0 - s_a) * (1.0 - s_w)

  # ---- compute cycles
  cg_eff = jnp.maximum(1.0, jnp.ceil(t["cg"] * density))
  cg_tiles = _cdiv(cg_eff, pif)
  mac_cycles = (t["groups"] * _cdiv(batch, pib) * _cdiv(t["kg"], pof) * cg_tiles
                * _cdiv(t["oh"], pix) * _cdiv(t["ow"], piy) * _cdiv(t["kh"], pkx) * _cdiv(t["kw"], pky))
  elem = t["elem_ops"] * batch
  compute = jnp.where(is_mac, mac_cycles,
                      jnp.where(is_pe_elem, _cdiv(elem, pe),
                                jnp.where(is_lane_elem, _cdiv(elem, pe * lanes), 0.0)))
  compute = jnp.where(costly, compute, 0.0)

  # ---- storage and main-memory traffic (bits)
  bits_w = C.BITS_PER_ELEMENT * (1.0 - s_w)
  bits_a = C.BITS_PER_ELEMENT * (1.0 - s_a)
  w_elems = jnp.where(costly, t["weight_elems"], 0.0)
  in_el = jnp.where(costly, t["in_elems"] * batch, 0.0)
  out_el = jnp.where(costly, t["out_elems"] * batch, 0.0)
  w_bits = w_elems * bits_w
  act_cap = cfg["activation_buffer_size"] * MB_BITS
  wgt_cap = cfg["weight_buffer_size"] * MB_BITS
  mask_cap = cfg["mask_buffer_size"] * MB_BITS
  n = kind.shape[0]
  idx = jnp.arange(n)
  # the network input is loaded for the first op that touches data, the output stored by the last
  first = idx == jnp.min(jnp.where(costly, idx, n))
  last = idx == jnp.max(jnp.where(costly, idx, -1))
  in_io = jnp.where(first, in_el, 0.0) * (bits_a + 1.0)
  out_io = jnp.where(last, out_el, 0.0) * (bits_a + 1.0)
  spill = 2.0 * jnp.maximum(0.0, (in_el + out_el) * bits_a - act_cap)
  mask_spill = 2.0 * jnp.maximum(0.0, (in_el + out_el) - mask_cap)
  link = cfg["mm_bits_per_cycle"]
  load_w_bits = w_bits + w_elems  # compressed weights + their masks
  load_bits = load_w_bits + in_io
  stream_bits = spill + mask_spill + out_io
  traffic = load_bits + stream_bits
  load, stream = load_bits / link, stream_bits / link

  # ---- schedule: prefetch as far ahead as the weight buffer allows
  fits = jnp.max(w_bits) <= wgt_cap
  resident = jnp.sum(w_bits) <= wgt_cap
  prefix = jnp.concatenate([jnp.zeros((1,), w_bits.dtype), jnp.cumsum(w_bits)])
  # first op i of the longest window i..j whose weights fit together (i <= j: an op too large for
  # the buffer waits for the buffer to empty); op i-1's end makes the room
  first_in = jnp.minimum(jnp.searchsorted(prefix, prefix[1:] - wgt_cap, side="left"), idx)
  gate = (first_in - 1).astype(jnp.int32)
  span, start, end, l_start, l_end, s_start, s_end = _schedule(compute, load, stream, gate)
  cycles = span
  # steady state of a stream of batches: resident weights are not reloaded, so the DMA only loads
  # the input (before the first op) and serves each op's own stream during it: the same schedule
  # then reduces to input load + sum_j max(C_j, S_j); weights that do not all fit reload every batch
  steady_cycles = jnp.where(resident, jnp.sum(in_io) / link + jnp.sum(jnp.maximum(compute, stream)),
                            cycles)

  # ---- dynamic energy (nJ per op): modules x busy unit-cycles x P_dyn / f
  lane_k = C.ACCELBENCH_LANE
  lane_dyn = jnp.where(pif > 1, lane_k[(16, lane_key)].dynamic_mw, lane_k[(1, lane_key)].dynamic_mw)
  lane_busy = jnp.where(is_mac, t["groups"] * batch * t["kg"] * t["oh"] * t["ow"] * t["kh"] * t["kw"]
                        * cg_tiles, 0.0)
  lane_elem = jnp.where(is_lane_elem, elem, 0.0)
  im2col_busy = jnp.where(is_conv & (t["kh"] * t["kw"] > 1), lane_busy, 0.0)
  op_cycles = jnp.where(costly, end - start, 0.0)
  e = {}
  e["mac_lanes"] = lane_dyn * (lane_busy + lane_elem)
  e["im2col"] = _module("im2col").dynamic_mw * im2col_power_scale * im2col_busy
  e["sparsity"] = (_module("pre_sparsity").dynamic_mw + _module("post_sparsity").dynamic_mw) * lane_busy
  e["fifo"] = _module("fifo").dynamic_mw * lane_busy * pif * 2.0
  e["batch_norm"] = _module("batch_norm").dynamic_mw * jnp.where(kind == W.OP_BN, elem, 0.0)
  e["pooling"] = _module("pooling").dynamic_mw * jnp.where(kind == W.OP_POOL, elem, 0.0)
  e["global_avg_pooling"] = (_module("global_avg_pooling").dynamic_mw
                             * jnp.where(kind == W.OP_GAP, elem, 0.0))
  e["upsampling"] = _module("upsampling").dynamic_mw * jnp.where(kind == W.OP_UPSAMPLE, elem, 0.0)
  e["dataflow"] = _module("dataflow").dynamic_mw * pe * op_cycles
  e["dma"] = _module("dma").dynamic_mw * pe * (load + stream)
  e = {k: v / f_mhz for k, v in e.items()}  # mW * cycles / MHz = nJ
  # buffers: weights re-read once per (batch, output-pixel) tile, inputs once per output-channel tile
  w_reuse = jnp.where(is_mac, _cdiv(batch, pib) * _cdiv(t["oh"], pix) * _cdiv(t["ow"], piy), 1.0)
  a_reuse = jnp.where(is_mac, _cdiv(t["kg"], pof), 1.0)
  # inputs a MAC op actually reads: at most one per (output pixel, input channel, tap) -- a strided
  # 1x1 convolution skips 3 of 4 inputs -- and at most the whole input
  used_in = jnp.where(is_mac, jnp.minimum(in_el, t["groups"] * t["cg"] * t["oh"] * t["ow"] * t["kh"]
                                          * t["kw"] * batch), in_el)
  a_acc = used_in * a_reuse + out_el  # reads + writes
  bufs = C.ACCELBENCH_BUFFERS

  def e_block(name, size):  # nJ per bit
    return bufs[name].energy_nj * jnp.sqrt(size / bufs[name].ref_mb) / BLOCK_BITS

  eb_w = e_block("weight", cfg["weight_buffer_size"])
  eb_a = e_block("activation", cfg["activation_buffer_size"])
  eb_m = e_block("mask", cfg["mask_buffer_size"])
  fill = {"weight_buffer": eb_w * w_elems * bits_w, "mask_buffer": eb_m * w_elems}  # load side
  e["weight_buffer"] = eb_w * w_elems * w_reuse * bits_w + fill["weight_buffer"]
  e["activation_buffer"] = eb_a * a_acc * bits_a
  e["mask_buffer"] = eb_m * (w_elems * w_reuse + a_acc) + fill["mask_buffer"]
  e["main_memory"] = cfg["mm_energy_nj"] * traffic / BLOCK_BITS
  e_op = sum(e.values())  # nJ per op, [N]

  # ---- on-chip peak power over the schedule (mW)
  dma_mw = _module("dma").dynamic_mw * pe
  safe = lambda x: jnp.maximum(x, 1e-30)
  comp_nj = e_op - e["dataflow"] - e["dma"] - e["main_memory"] - fill["weight_buffer"] - fill["mask_buffer"]
  p_comp = jnp.where(compute > 0, comp_nj / safe(compute) * f_mhz
                     + _module("dataflow").dynamic_mw * pe, 0.0)
  p_load = jnp.where(load > 0, dma_mw + (fill["weight_buffer"] + fill["mask_buffer"])
                     / safe(load) * f_mhz, 0.0)
  p_load_max, p_stream_max = jnp.max(p_load), jnp.where(jnp.any(stream > 0), dma_mw, 0.0)
  c_end = start + compute
  ov_load = (_busy_before(c_end, l_start, l_end) - _busy_before(start, l_start, l_end)) > 0
  ov_stream = (_busy_before(c_end, s_start, s_end) - _busy_before(start, s_start, s_end)) > 0
  p_during = p_comp + jnp.maximum(jnp.where(ov_load, p_load_max, 0.0),
                                  jnp.where(ov_stream, p_stream_max, 0.0))
  peak_dyn_mw = jnp.maximum(jnp.max(p_during), jnp.maximum(p_load_max, p_stream_max))
  mm_mw = jnp.where(jnp.sum(traffic) > 0, cfg["mm_energy_nj"] * link / BLOCK_BITS * f_mhz, 0.0)

  # ---- area and leakage (jnp variants of area_power), totals
  area = area_power.accelbench_area_mm2_arrays(cfg, activations=activations)
  leak_mw = area_power.accelbench_leakage_mw_arrays(cfg, activations=activations)
  util_den = jnp.maximum(cycles, 1.0)
  macs_done = jnp.where(is_mac, lane_busy / cg_tiles * cg_eff, 0.0)
  util = {
      "mac_lanes": jnp.sum(lane_busy + lane_elem) / (pe * lanes * util_den),
      "multipliers": jnp.sum(macs_done) / (pe * lanes * pif * util_den),
      "im2col": jnp.sum(im2col_busy) / (pe * lanes * util_den),
      "batch_norm": jnp.sum(jnp.where(kind == W.OP_BN, elem, 0.0)) / (pe * util_den),
      "pooling": jnp.sum(jnp.where(kind == W.OP_POOL, elem, 0.0)) / (pe * util_den),
      "global_avg_pooling": jnp.sum(jnp.where(kind == W.OP_GAP, elem, 0.0)) / (pe * util_den),
      "upsampling": jnp.sum(jnp.where(kind == W.OP_UPSAMPLE, elem, 0.0)) / (pe * util_den),
      "main_memory_link": jnp.sum(load + stream) / util_den,
  }
  effectual_macs = jnp.sum(jnp.where(is_mac, t["macs"], 0.0)) * batch * density
  return {
      "cycles": cycles,
      "steady_cycles": steady_cycles,
      "compute_cycles": jnp.sum(compute),
      "memory_cycles": jnp.sum(load + stream),
      "roofline_compute_cycles": effectual_macs / (pe * lanes * pif),
      "roofline_memory_cycles": jnp.sum(traffic) / link,
      "energy_dynamic_nj": jnp.sum(e_op),
      "energy_breakdown_nj": {k: jnp.sum(v) for k, v in e.items()},
      "peak_dynamic_power_w": peak_dyn_mw * 1e-3,
      "main_memory_power_w": mm_mw * 1e-3,
      "area_mm2": area,
      "leakage_mw": leak_mw,
      "fits": fits,
      "weights_resident": resident,
      "batch_size": batch * jnp.ones((), jnp.float32),
      "utilisation": util,
  }


def _compose(core: Mapping[str, Any], area_mm2, leakage_mw, xp, reticle_mm2: float = RETICLE_MM2) -> dict:
  """Final metrics (s, J, W) from the core outputs; ``xp`` is jnp (inside jit) or np (float64)."""
  f_hz = C.CLOCK_MHZ * 1e6
  cycles = core["cycles"]
  batch = core["batch_size"]
  latency = cycles / f_hz
  e_dyn = core["energy_dynamic_nj"] * 1e-9
  e_leak = leakage_mw * 1e-3 * latency
  energy = e_dyn + e_leak
  return {
      "cycles": cycles, "latency_s": latency, "latency_per_inference_s": latency / batch,
      "throughput_per_s": batch * f_hz / xp.maximum(core["steady_cycles"], 1e-30),
      "energy_j": energy, "energy_per_inference_j": energy / batch,
      "energy_dynamic_j": e_dyn, "energy_leakage_j": e_leak,
      "main_memory_energy_j": core["energy_breakdown_nj"]["main_memory"] * 1e-9,
      "area_mm2": area_mm2,
      "peak_power_w": core["peak_dynamic_power_w"] + leakage_mw * 1e-3,
      "main_memory_power_w": core["main_memory_power_w"],
      "avg_power_w": energy / xp.maximum(latency, 1e-30),
      "fits": core["fits"], "fits_reticle": area_mm2 <= reticle_mm2,
      "roofline_compute_cycles": core["roofline_compute_cycles"],
      "roofline_memory_cycles": core["roofline_memory_cycles"], "batch_size": batch,
  }


def simulate_batch(t, cfg, sp, *, activations=("relu",), table_batch=0,
                   im2col_power_scale=IM2COL_POWER_SCALE, reticle_mm2=RETICLE_MM2):
  """The pure batch model (jit / grad / vmap-able; :func:`simulate_cnn_arrays` is its jitted wrapper).

  Args:
    t: op-table arrays (``CNNOpTable.arrays()``), each [N]; cfg: :data:`CONFIG_KEYS` arrays [n];
    sp: ``{"activation", "weight"}`` arrays [n] in [0, 1]; activations: static tuple of activation
    names (selects the lane variant); table_batch: static, 0 = use ``cfg["batch_size"]``;
    im2col_power_scale: static multiplier of the im2col dynamic power; reticle_mm2: area limit of
    ``fits_reticle`` (mm^2; traced, so changing it does not recompile).

  Returns:
    dict of arrays [n] (see :func:`simulate_cnn_arrays`).
  """
  one = functools.partial(_simulate_one, activations=tuple(activations), table_batch=table_batch,
                          im2col_power_scale=im2col_power_scale)
  core = jax.vmap(one, in_axes=(None, 0, 0))(t, cfg, sp)
  out = dict(core)
  out.update(_compose(core, core["area_mm2"], core["leakage_mw"], jnp, reticle_mm2))
  return out


_simulate_jit = jax.jit(simulate_batch, static_argnames=("activations", "table_batch",
                                                         "im2col_power_scale"))


def simulate_cnn_arrays(op_table: W.CNNOpTable, config_arrays: Mapping[str, Any],
                        sparsity: Mapping[str, Any] | None = None,
                        im2col_power_scale: float = IM2COL_POWER_SCALE,
                        reticle_mm2: float = RETICLE_MM2) -> dict:
  """Array-level model: one op table, ``n`` configs, jitted once per (op bucket, lane type, config
  bucket), where the config axis is padded to the next power of two (at least 8,
  :func:`jaxcodesign.padding.bucket_size`).

  Args:
    op_table: from :func:`jaxcodesign.hardware.cnn_workload.lower_cnn` / ``lower_layers`` (used as
      given: fold batch-norm there, or with ``cnn_workload.fold_batchnorm``).
    config_arrays: arrays [n] with (at least) keys :data:`CONFIG_KEYS`, i.e. the output of
      ``AccelBenchSpace.config_arrays`` (:func:`cnn_config_arrays`).
    sparsity: ``{"activation": float[n], "weight": float[n]}`` (see :func:`sparsity_arrays`), or None.
    im2col_power_scale: multiplies the im2col dynamic power (423.0658 mW, an unclocked HLS report);
      default :data:`IM2COL_POWER_SCALE` (area-scaled, ~8.19 mW); 1.0 = as published.
    reticle_mm2: area limit of ``fits_reticle`` (mm^2, default :data:`RETICLE_MM2`).

  Returns:
    dict of NumPy arrays [n]: the :data:`SCALAR_KEYS` (cycles as float, latency_s (s), throughput_per_s
    (images/s), energies (J), area_mm2, powers (W), fits / fits_reticle (bool), roofline bounds
    (cycles)), plus steady_cycles, compute_cycles, memory_cycles, leakage_mw, weights_resident,
    energy_breakdown_nj (dict, nJ) and utilisation (dict, fractions).

  Raises:
    ConfigError: missing config keys or mismatched lengths.
  """
  missing = [k for k in CONFIG_KEYS if k not in config_arrays]
  if missing:
    raise ConfigError(f"config_arrays: missing keys {missing}; required: {list(CONFIG_KEYS)}")
  cfg = {k: np.asarray(config_arrays[k], np.float32) for k in CONFIG_KEYS}
  n = cfg["Pib"].shape[0] if cfg["Pib"].ndim == 1 else None
  if n is None or any(v.shape != (n,) for v in cfg.values()):
    raise ConfigError("config_arrays: every key must be a 1-D array of the same length")
  sp = sparsity_arrays(sparsity, n)
  # pad the config axis to a power of two (repeating the last config) so that varying numbers of
  # configs share compilations; results are sliced back to n (NumPy on both sides: no eager jnp ops).
  n_pad = padding.bucket_size(n, W.MIN_BUCKET)
  out = _simulate_jit(op_table.arrays(), padding.pad_rows(cfg, n_pad), padding.pad_rows(sp, n_pad),
                      activations=tuple(op_table.activations) or ("relu",),
                      table_batch=int(op_table.batch_size),
                      im2col_power_scale=float(im2col_power_scale), reticle_mm2=float(reticle_mm2))
  return jax.tree_util.tree_map(lambda a: np.asarray(a)[:n], jax.device_get(out))


def results_to_dicts(out: Mapping[str, Any], area_mm2=None, leakage_mw=None, *,
                     leakage_parts_mw: Sequence[Mapping[str, float]] | None = None,
                     reticle_mm2: float = RETICLE_MM2, mode: str = "inference") -> list[dict]:
  """Splits array outputs into per-config dicts with exactly :data:`RESULT_KEYS`.

  When exact (float64) ``area_mm2`` / ``leakage_mw`` per config are given, area, leakage energy,
  total energy and powers are recomposed in float64 with them (same equations as inside jit);
  ``leakage_parts_mw`` (one ``{module: mW}`` per config, ``area_power.accelbench_module_power``)
  splits the leakage energy over :data:`COMPONENTS` (else it is attributed pro rata to nothing: 0).
  ``cycles`` is the int ceiling of the schedule's span.
  """
  core = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), dict(out))  # float64 composition
  # whole cycles (the ceiling of the schedule's span): latency and leakage follow the int cycles
  core["cycles"], core["steady_cycles"] = np.ceil(core["cycles"]), np.ceil(core["steady_cycles"])
  n = core["cycles"].shape[0]
  area_mm2 = core["area_mm2"] if area_mm2 is None else np.asarray(area_mm2, np.float64)
  leakage_mw = core["leakage_mw"] if leakage_mw is None else np.asarray(leakage_mw, np.float64)
  final = _compose(core, area_mm2, leakage_mw, np, reticle_mm2)
  res = []
  for i in range(n):
    d = {k: float(final[k][i]) for k in SCALAR_KEYS}
    d["cycles"] = int(core["cycles"][i])
    d["batch_size"] = int(round(core["batch_size"][i]))
    d["fits"] = bool(np.asarray(out["fits"])[i])
    d["fits_reticle"] = bool(final["fits_reticle"][i])
    d["utilisation"] = {k: float(core["utilisation"][k][i]) for k in UTILISATION_KEYS}
    comps = {}
    for k in COMPONENTS:
      leak = 0.0
      if leakage_parts_mw is not None:
        leak = sum(leakage_parts_mw[i][p] for p in _LEAK_PARTS[k]) * 1e-3 * d["latency_s"]
      comps[k] = {"dynamic_j": float(core["energy_breakdown_nj"][k][i]) * 1e-9, "leakage_j": leak}
    d["energy_components"] = comps
    d["mode"] = mode
    res.append({k: d[k] for k in RESULT_KEYS})
  return res


def prepare_table(point, input_shape, num_classes, *, mode: str = "inference",
                  fold_batchnorm: bool | None = None,
                  op_table: W.CNNOpTable | None = None) -> W.CNNOpTable:
  """The op table to simulate: ``op_table`` or ``lower_cnn(point, ...)``, with batch-norm folded into
  the preceding convolution when ``fold_batchnorm`` (default: True for ``mode='inference'``).

  Raises:
    ConfigError: an unknown mode, or missing ``input_shape`` / ``num_classes`` without a table.
    SpaceError: an invalid point (from ``lower_cnn``).
  """
  check_mode(mode)
  fold = (mode == "inference") if fold_batchnorm is None else bool(fold_batchnorm)
  if op_table is None:
    if input_shape is None or num_classes is None:
      raise ConfigError("input_shape / num_classes: required to lower a CNNBench point (or pass "
                        "op_table=)")
    op_table = W.lower_cnn(point, input_shape, num_classes)
  return W.fold_batchnorm(op_table) if fold else op_table


def simulate_cnn(point, configs: Sequence[Mapping[str, Any]], input_shape=None,
                 num_classes: int | None = None, *, mode: str = "inference", sparsity=None,
                 op_table: W.CNNOpTable | None = None, fold_batchnorm: bool | None = None,
                 reticle_mm2: float = RETICLE_MM2,
                 im2col_power_scale: float = IM2COL_POWER_SCALE) -> list[dict]:
  """Simulates one CNNBench network on a list of AccelBench configs.

  Args:
    point: CNNBench point ``{"modules": [...]}`` (ignored when ``op_table`` is given).
    configs: AccelBench config dicts (flat form with ``main_memory{type,banks,ranks,channels}``).
    input_shape: (C, H, W) of one image; num_classes: classifier width (both unused with op_table).
    mode: ``'inference'`` (the only mode of this model; anything else raises ConfigError).
    sparsity: see :func:`sparsity_arrays` (default None = dense).
    op_table: a pre-lowered table (skips ``lower_cnn``).
    fold_batchnorm: fold every batch-norm into the convolution before it (scale into the weights,
      shift into a bias); default True at inference, as every inference deployment does.
    reticle_mm2: the area limit of ``fits_reticle`` (mm^2, default 858).
    im2col_power_scale: see :func:`simulate_cnn_arrays`.

  Returns:
    one dict per config with exactly :data:`RESULT_KEYS`: cycles (int), latency_s,
    latency_per_inference_s (s), throughput_per_s (images/s, steady state of a stream of batches),
    energy_j (die + main memory), energy_per_inference_j, energy_dynamic_j, energy_leakage_j,
    main_memory_energy_j (J), area_mm2 (mm^2, exact float64 from area_power.accelbench_area_mm2),
    peak_power_w (on-chip), main_memory_power_w (off-chip), avg_power_w (W), fits, fits_reticle
    (bool), roofline_compute_cycles, roofline_memory_cycles (cycles), utilisation (module ->
    fraction), energy_components ({component: {"dynamic_j", "leakage_j"}}), batch_size, mode. Totals
    are for one run of the config's ``batch_size`` images.

  Raises:
    SpaceError: an invalid point or config. ConfigError: a bad option (mode, sparsity, empty list).
  """
  configs = list(configs)
  table = prepare_table(point, input_shape, num_classes, mode=mode, fold_batchnorm=fold_batchnorm,
                        op_table=op_table)
  sp = sparsity_arrays(sparsity, max(1, len(configs)))
  arrays = cnn_config_arrays(configs)
  acts = tuple(table.activations) or ("relu",)
  area = [area_power.accelbench_area_mm2(c, activations=acts) for c in configs]
  leak = [area_power.accelbench_leakage_mw(c, activations=acts) for c in configs]
  parts = [{k: v["leakage_mw"] for k, v in area_power.accelbench_module_power(c, acts).items()}
           for c in configs]
  out = simulate_cnn_arrays(table, arrays, sp, im2col_power_scale=im2col_power_scale,
                            reticle_mm2=reticle_mm2)
  return results_to_dicts(out, area, leak, leakage_parts_mw=parts, reticle_mm2=reticle_mm2,
                          mode=mode)


def simulate_cnn_prepared(point, prepared, *, mode: str = "inference", sparsity=None,
                          input_shape=None, num_classes: int | None = None,
                          op_table: W.CNNOpTable | None = None, fold_batchnorm: bool | None = None,
                          reticle_mm2: float = RETICLE_MM2,
                          im2col_power_scale: float = IM2COL_POWER_SCALE) -> dict:
  """Array form of :func:`simulate_cnn` for configs validated once (``api.prepare_configs``): what
  ``api.simulate_arrays(point, prepared, kind='cnn', ...)`` calls.

  Args:
    point, input_shape, num_classes, op_table, fold_batchnorm, mode, sparsity, reticle_mm2,
    im2col_power_scale: as :func:`simulate_cnn`.
    prepared: an object with ``configs`` (validated AccelBench dicts) and ``arrays``
      (:func:`cnn_config_arrays` of them).

  Returns:
    ``{key: np.ndarray[n]}`` for the scalar :data:`RESULT_KEYS` (``cycles`` / ``batch_size`` int64,
    ``fits`` / ``fits_reticle`` bool, ``mode`` an object array of str, area and leakage in exact
    float64), ``utilisation`` ({module: [n]}) and ``energy_components`` ({component: (dynamic_j[n],
    leakage_j[n])}); the same numbers as :func:`simulate_cnn`'s dicts.

  Raises:
    SpaceError / ConfigError as :func:`simulate_cnn`.
  """
  table = prepare_table(point, input_shape, num_classes, mode=mode, fold_batchnorm=fold_batchnorm,
                        op_table=op_table)
  configs = list(prepared.configs)
  n = len(configs)
  acts = tuple(table.activations) or ("relu",)
  out = simulate_cnn_arrays(table, prepared.arrays, sparsity_arrays(sparsity, n),
                            im2col_power_scale=im2col_power_scale, reticle_mm2=reticle_mm2)
  area = np.asarray([area_power.accelbench_area_mm2(c, activations=acts) for c in configs], np.float64)
  parts = [area_power.accelbench_module_power(c, acts) for c in configs]
  leak = np.asarray([area_power.accelbench_leakage_mw(c, activations=acts) for c in configs], np.float64)
  core = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), dict(out))
  core["cycles"], core["steady_cycles"] = np.ceil(core["cycles"]), np.ceil(core["steady_cycles"])
  final = _compose(core, area, leak, np, reticle_mm2)
  res = {k: np.asarray(final[k], np.float64) for k in SCALAR_KEYS}
  res["cycles"] = core["cycles"].astype(np.int64)
  res["batch_size"] = np.rint(core["batch_size"]).astype(np.int64)
  res["fits"] = np.asarray(out["fits"], bool)
  res["fits_reticle"] = np.asarray(final["fits_reticle"], bool)
  res["mode"] = np.full(n, mode, dtype=object)
  res["utilisation"] = {k: core["utilisation"][k] for k in UTILISATION_KEYS}
  lat = res["latency_s"]
  res["energy_components"] = {
      k: (core["energy_breakdown_nj"][k] * 1e-9,
          np.asarray([sum(p[m]["leakage_mw"] for m in _LEAK_PARTS[k]) for p in parts], np.float64)
          * 1e-3 * lat) for k in COMPONENTS}
  return res
