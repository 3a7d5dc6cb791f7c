"""Jitted, vmappable analytical model of the AccelBench CNN accelerator (SPRING template).

Template (specs/accelerator_area_power.md, AccelBench section): ``PE = Pib*Pix*Piy`` processing
elements, each with ``Lane = Pof*Pkx*Pky`` MAC lanes of ``Pif`` multipliers (1 or 16), one im2col,
pre-sparsity and post-sparsity unit per lane, ``2*Pif`` FIFOs per lane, and per PE one dataflow
controller, DMA, batch-norm, pooling, global-average-pooling and upsampling module; activation,
weight and mask buffers; RRAM / DRAM / HBM main memory. Every equation, assumption and departure
from the original AccelBench is written down in docs/accelbench_model.md; in short:

* Compute cycles of a MAC op (conv, grouped / depthwise conv, 1x1 projection, dense): the loop nest
  ``G x B x Kg x Cg x OH x OW x R x S`` is tiled by ``Pib`` (batch), ``Pof`` (output channels of a
  group), ``Pif`` (input channels of a group, inside a lane), ``Pix`` / ``Piy`` (output pixels) and
  ``Pkx`` / ``Pky`` (kernel); groups run one after another (the lanes of a PE share their input
  tile)::

      C = G * ceil(B/Pib) * ceil(Kg/Pof) * ceil(Cg_eff/Pif) * ceil(OH/Pix) * ceil(OW/Piy)
            * ceil(R/Pkx) * ceil(S/Pky),        Cg_eff = max(1, ceil(Cg * (1-s_a) * (1-s_w)))

  (ceil per dimension = padding waste of partial tiles; zero-skipping compacts the contraction
  inside a lane by the density of non-zero (activation, weight) pairs).
* Batch-norm, pooling, GAP and upsampling: one element per module per cycle on the ``PE`` modules
  (``ceil(work*B/PE)``); activation and residual add: one element per lane per cycle
  (``ceil(work*B/(PE*Lane))``); concat / flatten / channel shuffle / dropout are free.
* Memory: 20-bit fixed point, compressed ``20*(1-s)`` bits per element plus a 1-bit mask per element;
  per op, main-memory traffic = its weights (+ masks, loaded once per run), the network input (first
  op) and output (last op), and activation spill ``2*max(0, in+out - activation buffer)`` (written and
  read back). Link rate PER MEMORY TYPE from ``constants.MAIN_MEMORY_BITS_PER_CYCLE`` (the original
  used one 479 bit/cycle link). ``M_i = traffic_i / link``.
* Overlap: double-buffered prefetch of op ``i+1``'s traffic during op ``i``:
  ``T = M_0 + sum_i stage_i``, ``stage_i = max(C_i, M_{i+1})`` when op ``i`` and ``i+1``'s weights fit
  the weight buffer together (or all weights are resident), else ``C_i + M_{i+1}``.
* ``fits`` is False when one op's (compressed) weights exceed the weight buffer: the template loads
  an op's weight tensor whole and cannot stream below op granularity. Metrics are still computed.
* Energy: dynamic = sum over modules of ``P_dyn/f * busy unit-cycles`` + buffer accesses
  (``E_ref*sqrt(size/ref)`` per 64-byte block) + main-memory accesses (per 64-byte block); leakage =
  all-on leakage of ``area_power.accelbench_leakage_mw`` over the whole run.
* ``peak_power_w`` = max over ops of (op dynamic energy / op duration ``max(C_i, M_i)``) + leakage
  power; ``avg_power_w`` = energy / latency.

All outputs are for one run of ``batch_size`` images (the config's batch, unless the op table fixes
one). Entry points: :func:`simulate_cnn` (design point + config dicts -> list of metric dicts) and
:func:`simulate_cnn_arrays` (lowered op table + ``config_arrays`` -> dict of arrays, jitted once per
bucket and vmapped over configs).
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodesign.errors import ConfigError
from jaxcodesign.hardware import area_power
from jaxcodesign.hardware import constants as C
from jaxcodesign.hardware import cnn_workload as W

#: bits of one 64-byte block (the access granularity of buffers and main memory; yaml block_size)
BLOCK_BITS = C.BLOCK_SIZE_BYTES * 8
#: bits per MB of buffer capacity (MB = 2**20 bytes, consistent with GB = 2**30 in constants.py)
MB_BITS = 8.0 * 2 ** 20

#: config_arrays keys the jitted model needs
CONFIG_KEYS = ("Pib", "Pif", "Pix", "Piy", "Pof", "Pkx", "Pky", "batch_size",
               "activation_buffer_size", "weight_buffer_size", "mask_buffer_size",
               "mm_bits_per_cycle", "mm_energy_nj")

#: keys of the utilisation dict (fractions of the run's cycles; multipliers = useful MACs)
UTILISATION_KEYS = ("mac_lanes", "multipliers", "im2col", "batch_norm", "pooling",
                    "global_avg_pooling", "upsampling", "main_memory_link")

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

RESULT_KEYS = ("cycles", "latency_s", "energy_j", "energy_dynamic_j", "energy_leakage_j", "area_mm2",
               "peak_power_w", "avg_power_w", "fits", "utilisation")


# ---------------------------------------------------------------------------------------------------
# Inputs.

def cnn_config_arrays(configs: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
  """Arrays [n] of validated AccelBench configs: ``AccelBenchSpace.config_arrays`` (which holds the
  link rate per memory type ``mm_bits_per_cycle`` and the access energy ``mm_energy_nj``).

  Raises:
    SpaceError: a config outside the AccelBench space (naming the field and the allowed values).
    ConfigError: an empty list.
  """
  from jaxcodesign.spaces.accelerators import AccelBenchSpace
  configs = list(configs)
  if not configs:
    raise ConfigError("configs: expected at least one AccelBench config")
  return AccelBenchSpace().config_arrays(configs)


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


# ---------------------------------------------------------------------------------------------------
# The per-config model (traced once per bucket, vmapped over configs).

def _cdiv(a, b):
  return jnp.ceil(a / b)


def _module(name):
  return C.ACCELBENCH_MODULES[name][0]


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
  # the network input is loaded by the first op that touches data, the output stored by the last
  first = idx == jnp.min(jnp.where(costly, idx, n))
  last = idx == jnp.max(jnp.where(costly, idx, -1))
  io_elems = jnp.where(first, in_el, 0.0) + jnp.where(last, out_el, 0.0)
  spill = 2.0 * jnp.maximum(0.0, (in_el + out_el) * bits_a - act_cap)
  mask_spill = 2.0 * jnp.maximum(0.0, (in_el + out_el) - mask_cap)
  traffic = w_bits + w_elems + io_elems * (bits_a + 1.0) + spill + mask_spill
  mem = traffic / cfg["mm_bits_per_cycle"]

  # ---- schedule: double-buffered prefetch of op i+1 during op i
  resident = jnp.sum(w_bits) <= wgt_cap
  fits = jnp.max(w_bits) <= wgt_cap
  mem_next = jnp.concatenate([mem[1:], jnp.zeros((1,), mem.dtype)])
  w_next = jnp.concatenate([w_bits[1:], jnp.zeros((1,), w_bits.dtype)])
  overlap = resident | (w_bits + w_next <= wgt_cap)
  stage = jnp.where(overlap, jnp.maximum(compute, mem_next), compute + mem_next)
  cycles = mem[0] + jnp.sum(stage)
  duration = jnp.maximum(compute, mem)  # an op's own duration, for its power draw

  # ---- dynamic energy (nJ per op): modules x busy unit-cycles x P_dyn / f
  lane_k = C.ACCELBENCH_LANE
  lane_dyn = jnp.where(pif > 1, lane_k[(16, lane_key)].dynamic_mw, lane_k[(1, lane_key)].dynamic_mw)
  lane_busy = jnp.where(is_mac, t["groups"] * batch * t["kg"] * t["oh"] * t["ow"] * t["kh"] * t["kw"]
                        * cg_tiles, 0.0)
  lane_elem = jnp.where(is_lane_elem, elem, 0.0)
  im2col_busy = jnp.where(is_conv & (t["kh"] * t["kw"] > 1), lane_busy, 0.0)
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
  e["dataflow"] = _module("dataflow").dynamic_mw * pe * jnp.where(costly, duration, 0.0)
  e["dma"] = _module("dma").dynamic_mw * pe * mem
  e = {k: v / f_mhz for k, v in e.items()}  # mW * cycles / MHz = nJ
  # buffers: weights re-read once per (batch, output-pixel) tile, inputs once per output-channel tile
  w_reuse = jnp.where(is_mac, _cdiv(batch, pib) * _cdiv(t["oh"], pix) * _cdiv(t["ow"], piy), 1.0)
  a_reuse = jnp.where(is_mac, _cdiv(t["kg"], pof), 1.0)
  w_acc = w_elems * (w_reuse + 1.0)  # reads + the fill from main memory
  a_acc = in_el * a_reuse + out_el  # reads + writes
  bufs = C.ACCELBENCH_BUFFERS

  def e_block(name, size):
    return bufs[name].energy_nj * jnp.sqrt(size / bufs[name].ref_mb)

  e["buffers"] = (e_block("weight", cfg["weight_buffer_size"]) * w_acc * bits_w
                  + e_block("activation", cfg["activation_buffer_size"]) * a_acc * bits_a
                  + e_block("mask", cfg["mask_buffer_size"]) * (w_acc + a_acc)) / BLOCK_BITS
  e["main_memory"] = cfg["mm_energy_nj"] * traffic / BLOCK_BITS
  e_op = sum(e.values())  # nJ per op, [N]

  # ---- area and leakage (jnp variants of area_power), totals
  area = area_power.accelbench_area_mm2_arrays(cfg, activations=activations)
  leak_mw = area_power.accelbench_leakage_mw_arrays(cfg, activations=activations)
  f_hz = f_mhz * 1e6
  op_power_w = jnp.where(duration > 0, e_op * 1e-9 / (jnp.maximum(duration, 1.0) / f_hz), 0.0)
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
      "main_memory_link": jnp.sum(mem) / util_den,
  }
  return {
      "cycles": cycles,
      "compute_cycles": jnp.sum(compute),
      "memory_cycles": jnp.sum(mem),
      "energy_dynamic_nj": jnp.sum(e_op),
      "energy_breakdown_nj": {k: jnp.sum(v) for k, v in e.items()},
      "peak_dynamic_power_w": jnp.max(op_power_w),
      "area_mm2": area,
      "leakage_mw": leak_mw,
      "fits": fits,
      "weights_resident": resident,
      "utilisation": util,
  }


def _compose(core: Mapping[str, Any], area_mm2, leakage_mw, xp) -> dict:
  """Final metrics (s, J, W) from the core outputs; ``xp`` is jnp (inside jit) or np (float64)."""
  cycles = core["cycles"]
  latency = cycles / (C.CLOCK_MHZ * 1e6)
  e_dyn = core["energy_dynamic_nj"] * 1e-9
  e_leak = leakage_mw * 1e-3 * latency
  energy = e_dyn + e_leak
  return {
      "cycles": cycles, "latency_s": latency, "energy_j": energy, "energy_dynamic_j": e_dyn,
      "energy_leakage_j": e_leak, "area_mm2": area_mm2,
      "peak_power_w": core["peak_dynamic_power_w"] + leakage_mw * 1e-3,
      "avg_power_w": energy / xp.maximum(latency, 1e-30),
  }


def simulate_batch(t, cfg, sp, *, activations=("relu",), table_batch=0, im2col_power_scale=IM2COL_POWER_SCALE):
  """The pure batch model (jit / grad / vmap-able; :func:`simulate_cnn_arrays` is its jitted wrapper).

  Args:
    t: op-table arrays (``CNNOpTable.arrays()``), each [N]; cfg: :data:`CONFIG_KEYS` arrays [n];
    sp: ``{"activation", "weight"}`` arrays [n] in [0, 1]; activations: static tuple of activation
    names (selects the lane variant); table_batch: static, 0 = use ``cfg["batch_size"]``;
    im2col_power_scale: static multiplier of the im2col dynamic power.

  Returns:
    dict of arrays [n] (see :func:`simulate_cnn_arrays`).
  """
  one = functools.partial(_simulate_one, activations=tuple(activations), table_batch=table_batch,
                          im2col_power_scale=im2col_power_scale)
  core = jax.vmap(one, in_axes=(None, 0, 0))(t, cfg, sp)
  out = dict(core)
  out.update(_compose(core, core["area_mm2"], core["leakage_mw"], jnp))
  return out


_simulate_jit = jax.jit(simulate_batch,
                        static_argnames=("activations", "table_batch", "im2col_power_scale"))


def compile_cache_size() -> int:
  """Number of compiled variants of the jitted batch model (one per bucket / lane type / n-configs)."""
  return _simulate_jit._cache_size()


def simulate_cnn_arrays(op_table: W.CNNOpTable, config_arrays: Mapping[str, Any],
                        sparsity: Mapping[str, Any] | None = None,
                        im2col_power_scale: float = IM2COL_POWER_SCALE) -> dict:
  """Array-level model: one op table, ``n`` configs, jitted once per (op bucket, lane type, config
  bucket), where the config axis is padded to the next power of two (at least 8).

  Args:
    op_table: from :func:`jaxcodesign.hardware.cnn_workload.lower_cnn` / ``lower_layers``.
    config_arrays: arrays [n] with (at least) keys :data:`CONFIG_KEYS`, i.e. the output of
      ``AccelBenchSpace.config_arrays`` (:func:`cnn_config_arrays`).
    sparsity: ``{"activation": float[n], "weight": float[n]}`` (see :func:`sparsity_arrays`), or None.
    im2col_power_scale: multiplies the im2col dynamic power (423.0658 mW, an unclocked HLS report);
      default :data:`IM2COL_POWER_SCALE` (area-scaled, ~8.19 mW); 1.0 = as published.

  Returns:
    dict of NumPy arrays [n]: cycles, latency_s (s), energy_j, energy_dynamic_j, energy_leakage_j (J),
    area_mm2, peak_power_w, avg_power_w (W), fits (bool), compute_cycles, memory_cycles,
    leakage_mw, weights_resident, energy_breakdown_nj (dict), utilisation (dict, fractions).

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
  n_pad = W.bucket_size(n)
  pad = lambda a: np.pad(a, (0, n_pad - n), mode="edge")
  out = _simulate_jit(op_table.arrays(), {k: pad(v) for k, v in cfg.items()},
                      {k: pad(v) for k, v in sp.items()},
                      activations=tuple(op_table.activations) or ("relu",),
                      table_batch=int(op_table.batch_size),
                      im2col_power_scale=float(im2col_power_scale))
  return jax.tree_util.tree_map(lambda a: a[:n], jax.device_get(out))


def results_to_dicts(out: Mapping[str, Any], area_mm2=None, leakage_mw=None) -> list[dict]:
  """Splits array outputs into per-config dicts with exactly :data:`RESULT_KEYS`.

  When exact (float64) ``area_mm2`` / ``leakage_mw`` per config are given, area, leakage energy,
  total energy and powers are recomposed in float64 with them (same equations as inside jit).
  """
  core = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), dict(out))  # float64 composition
  n = core["cycles"].shape[0]
  if area_mm2 is None:
    area_mm2 = core["area_mm2"]
  if leakage_mw is None:
    leakage_mw = core["leakage_mw"]
  final = _compose(core, np.asarray(area_mm2, np.float64), np.asarray(leakage_mw, np.float64), np)
  res = []
  for i in range(n):
    d = {k: float(final[k][i]) for k in RESULT_KEYS if k not in ("fits", "utilisation")}
    d["cycles"] = float(core["cycles"][i])
    d["fits"] = bool(np.asarray(out["fits"])[i])
    d["utilisation"] = {k: float(core["utilisation"][k][i]) for k in UTILISATION_KEYS}
    res.append({k: d[k] for k in RESULT_KEYS})
  return res


def simulate_cnn(point, configs: Sequence[Mapping[str, Any]], input_shape, num_classes: int,
                 sparsity=None, op_table: W.CNNOpTable | None = None,
                 im2col_power_scale: float = IM2COL_POWER_SCALE) -> list[dict]:
  """Simulates one CNNBench network on a list of AccelBench configs.

  Args:
    point: CNNBench point ``{"modules": [...]}`` (ignored when ``op_table`` is given).
    configs: AccelBench config dicts (flat form with ``main_memory{type,banks,ranks,channels}``).
    input_shape: (C, H, W) of one image; num_classes: classifier width.
    sparsity: see :func:`sparsity_arrays` (default dense).
    op_table: a pre-lowered table (skips ``lower_cnn``).
    im2col_power_scale: see :func:`simulate_cnn_arrays`.

  Returns:
    one dict per config with keys cycles, latency_s (s), energy_j, energy_dynamic_j,
    energy_leakage_j (J), area_mm2 (mm^2, exact float64 from area_power.accelbench_area_mm2),
    peak_power_w, avg_power_w (W), fits (bool), utilisation (dict module -> fraction). Totals are for
    one run of the config's ``batch_size`` images.

  Raises:
    SpaceError / ConfigError for an invalid point, config or sparsity.
  """
  configs = list(configs)
  table = op_table if op_table is not None else W.lower_cnn(point, input_shape, num_classes)
  arrays = cnn_config_arrays(configs)
  acts = tuple(table.activations) or ("relu",)
  area = [area_power.accelbench_area_mm2(c, activations=acts) for c in configs]
  leak = [area_power.accelbench_leakage_mw(c, activations=acts) for c in configs]
  out = simulate_cnn_arrays(table, arrays, sparsity_arrays(sparsity, len(configs)),
                            im2col_power_scale=im2col_power_scale)
  return results_to_dicts(out, area, leak)
