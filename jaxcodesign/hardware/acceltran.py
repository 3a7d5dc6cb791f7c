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

#: Config-array keys the model reads (numbers per config; shape [n] each).
CONFIG_KEYS = ("tile_b", "tile_x", "tile_y", "pe", "lanes_per_pe", "mac_per_lane", "softmax_per_pe",
               "batch_size", "activation_buffer_size", "weight_buffer_size", "mask_buffer_size",
               "gelu", "mm_energy_nj", "mm_bits_per_cycle")

#: Energy components reported (each with a dynamic and a leakage part).
COMPONENTS = ("mac_lanes", "sparsity", "others", "softmax", "layer_norm", "activation_buffer",
              "weight_buffer", "mask_buffer", "main_memory")

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


def _per_op_costs(t: Mapping[str, Any], cfg: Mapping[str, Any], s_a, s_w):
  """Vectorised per-op quantities of one config: all float32[O]."""
  kind = t["kind"]
  valid = t["valid"].astype(jnp.float32)
  B = jnp.where(t["batch_size"] > 0, t["batch_size"], cfg["batch_size"])
  tb, tx, ty = cfg["tile_b"], cfg["tile_x"], cfg["tile_y"]
  P, L, M, S = cfg["pe"], cfg["lanes_per_pe"], cfg["mac_per_lane"], cfg["softmax_per_pe"]
  rows, K, cols, cnt, k = t["rows"], t["contraction"], t["cols"], t["count"], t["kernel"]
  is_mm = (kind == W.OP_MATMUL) | (kind == W.OP_BMM) | (kind == W.OP_TRANSFORM)
  is_conv = kind == W.OP_CONV
  is_gelu = kind == W.OP_GELU
  is_sm = kind == W.OP_SOFTMAX
  is_ln = kind == W.OP_LAYERNORM
  out_tiles = cnt * _cdiv(B, tb) * _cdiv(rows, tx) * _cdiv(cols, ty)
  tiles = jnp.where(is_mm, out_tiles * _cdiv(K, ty), out_tiles)
  tile_outputs = tb * tx * ty
  c_mm = jnp.ceil(tile_outputs * _cdiv(ty, M) / L)
  c_conv = jnp.ceil(tile_outputs * _cdiv(jnp.maximum(k, 1.0), M) / L)
  c_gelu = jnp.ceil(tile_outputs / L)
  c_norm = tb * (tx + ty)
  c_tile = jnp.select([is_mm, is_conv, is_gelu, is_sm | is_ln], [c_mm, c_conv, c_gelu, c_norm], 0.0)
  units = jnp.select([is_sm, is_ln], [P * S, P], P)
  da, dw = 1.0 - s_a, 1.0 - s_w
  rho = jnp.select([kind == W.OP_MATMUL, kind == W.OP_BMM, is_conv],
                   [da * dw, da * da, da * dw], da)
  busy = tiles * c_tile * rho * valid  # unit-cycles (a PE or a softmax/LN module)
  comp = jnp.ceil(jnp.ceil(tiles / units) * c_tile * rho) * valid
  # memory
  w_elems = t["weight_elems"] * valid
  act_elems = (t["in_elems"] + t["out_elems"]) * valid
  w_occ = w_elems * _BITS * dw  # weight-buffer occupancy (bits; masks live in the mask buffer)
  a_occ = act_elems * B * _BITS * da
  a_cap = cfg["activation_buffer_size"] * _MB_BITS
  w_cap = cfg["weight_buffer_size"] * _MB_BITS
  spill = a_occ > a_cap
  w_traffic = w_elems * _bits(s_w)
  a_traffic = jnp.where(spill, act_elems * B * _bits(s_a), 0.0)
  bw = cfg["mm_bits_per_cycle"]
  load = jnp.ceil(w_traffic / bw)
  spill_cyc = jnp.ceil(a_traffic / bw)
  fits_w = jnp.all(w_occ <= w_cap)
  fits_a = jnp.all(act_elems * jnp.minimum(tb, B) * _BITS * da <= a_cap)
  return dict(B=B, tiles=tiles, c_tile=c_tile, rho=rho, busy=busy, comp=comp, w_elems=w_elems,
              act_elems=act_elems, w_occ=w_occ, w_cap=w_cap, load=load, spill=spill_cyc,
              w_traffic=w_traffic, a_traffic=a_traffic, fits=fits_w & fits_a,
              is_mac=is_mm | is_conv | is_gelu, is_sm=is_sm, is_ln=is_ln)


def _schedule(t, c):
  """Event-driven schedule: ``lax.scan`` over ops; returns (makespan, per-op start, end) cycles."""
  n_streams = W.MAX_STREAMS
  xs = dict(res=t["resource"], stream=t["stream"], join=t["join"] > 0, comp=c["comp"],
            load=c["load"], spill=c["spill"], w_occ=c["w_occ"], has_w=c["w_elems"] > 0)

  def step(carry, x):
    res_free, dma_free, streams, w_end1, w_end2, w_prev, span = carry
    dep = jnp.where(x["join"], jnp.max(streams), streams[x["stream"]])
    gate = jnp.where(x["w_occ"] + w_prev <= c["w_cap"], w_end2, w_end1)
    load_end = jnp.where(x["has_w"], jnp.maximum(dma_free, gate) + x["load"], 0.0)
    dma_after_load = jnp.where(x["has_w"], load_end, dma_free)
    r = jnp.minimum(x["res"], 2)
    has_res = x["res"] < W.RES_NONE
    start = jnp.maximum(jnp.maximum(dep, load_end), jnp.where(has_res, res_free[r], 0.0))
    has_spill = x["spill"] > 0
    spill_end = jnp.maximum(start, dma_after_load) + x["spill"]
    end = jnp.maximum(start + x["comp"], jnp.where(has_spill, spill_end, 0.0))
    dma_free = jnp.where(has_spill, spill_end, dma_after_load)
    res_free = jnp.where(has_res & (jnp.arange(3) == r), end, res_free)
    streams = jnp.where(x["join"] | (jnp.arange(n_streams) == x["stream"]), end, streams)
    w_end2 = jnp.where(x["has_w"], w_end1, w_end2)
    w_end1 = jnp.where(x["has_w"], end, w_end1)
    w_prev = jnp.where(x["has_w"], x["w_occ"], w_prev)
    span = jnp.maximum(span, jnp.maximum(end, dma_free))
    return (res_free, dma_free, streams, w_end1, w_end2, w_prev, span), (start, end)

  z = jnp.zeros((), jnp.float32)
  init = (jnp.zeros(3, jnp.float32), z, jnp.zeros(n_streams, jnp.float32), z, z, z, z)
  (_, _, _, _, _, _, span), (start, end) = jax.lax.scan(step, init, xs)
  return span, start, end


def _unit_powers(cfg):
  """Per-unit mW of one config: lane / softmax / LN (selected by area_power from mac_per_lane,
  non-linearity and tile_x) and the per-lane pre+post-sparsity sums (constants.py)."""
  u = area_power.acceltran_unit_power_arrays(cfg)
  lane_extra_dyn = C.ACCELTRAN_PRE_SPARSITY.dynamic_mw + C.ACCELTRAN_POST_SPARSITY.dynamic_mw
  lane_extra_leak = C.ACCELTRAN_PRE_SPARSITY.leakage_mw + C.ACCELTRAN_POST_SPARSITY.leakage_mw
  return u, lane_extra_dyn, lane_extra_leak


def simulate_one(table: Mapping[str, Any], cfg: Mapping[str, Any], s_a, s_w) -> dict:
  """Simulates one workload on ONE accelerator config (jnp; vmap it over configs / sparsities).

  Args:
    table: ``OpTable.arrays()`` (arrays ``[O]`` plus scalars ``seq_len``, ``batch_size``).
    cfg: scalars for every key of :data:`CONFIG_KEYS` (see :func:`config_arrays`).
    s_a, s_w: activation / weight sparsity in [0, 1): scalars or float32[O] per op.

  Returns:
    dict of scalars: ``cycles``, ``latency_s``, ``energy_dynamic_j``, ``energy_leakage_j``,
    ``energy_j``, ``area_mm2``, ``peak_power_w``, ``avg_power_w``, ``fits`` (bool), ``utilisation``
    (dict, :data:`UTILISATION_KEYS`), ``energy_components`` ({component: (dynamic_j, leakage_j)}),
    ``batch_size`` (sequences simulated).
  """
  cfg = {k: jnp.asarray(v, jnp.float32) for k, v in cfg.items()}
  s_a = jnp.asarray(s_a, jnp.float32)
  s_w = jnp.asarray(s_w, jnp.float32)
  c = _per_op_costs(table, cfg, s_a, s_w)
  span, _, _ = _schedule(table, c)
  cycles = span
  P, L = cfg["pe"], cfg["lanes_per_pe"]
  u, extra_dyn, extra_leak = _unit_powers(cfg)
  f = C.CLOCK_MHZ
  pe_busy_mac = jnp.sum(jnp.where(c["is_mac"], c["busy"], 0.0))  # PE-cycles on MAC ops
  sm_busy = jnp.sum(jnp.where(c["is_sm"], c["busy"], 0.0))
  ln_busy = jnp.sum(jnp.where(c["is_ln"], c["busy"], 0.0))
  lane_cyc = pe_busy_mac * L
  others_pe_dyn = C.ACCELTRAN_DATAFLOW.dynamic_mw + C.ACCELTRAN_DMA.dynamic_mw
  others_pe_leak = C.ACCELTRAN_DATAFLOW.leakage_mw + C.ACCELTRAN_DMA.leakage_mw
  dyn = {
      "mac_lanes": u["lane_dyn"] / f * lane_cyc,
      "sparsity": extra_dyn / f * lane_cyc,
      "others": (C.ACCELTRAN_FIFO.dynamic_mw * lane_cyc + others_pe_dyn * pe_busy_mac) / f,
      "softmax": u["softmax_dyn"] / f * sm_busy,
      "layer_norm": u["ln_dyn"] / f * ln_busy,
  }
  # buffer accesses: activations read + written once per op, weights written on load and read once
  blk = 8.0 * C.BLOCK_SIZE_BYTES
  bits_a, bits_w = _BITS * (1.0 - s_a), _BITS * (1.0 - s_w)
  act_bits = jnp.sum(c["act_elems"] * c["B"] * bits_a)
  w_bits = jnp.sum(2.0 * c["w_elems"] * bits_w)
  mask_bits = jnp.sum(c["act_elems"] * c["B"] + 2.0 * c["w_elems"])
  bufs = C.ACCELTRAN_BUFFERS
  dyn["activation_buffer"] = bufs["activation"].energy_nj * jnp.sqrt(
      cfg["activation_buffer_size"]) * act_bits / blk
  dyn["weight_buffer"] = bufs["weight"].energy_nj * jnp.sqrt(cfg["weight_buffer_size"]) * w_bits / blk
  dyn["mask_buffer"] = bufs["mask"].energy_nj * jnp.sqrt(cfg["mask_buffer_size"]) * mask_bits / blk
  mm_bits = jnp.sum(c["w_traffic"] + c["a_traffic"])
  dyn["main_memory"] = cfg["mm_energy_nj"] * mm_bits / blk
  nl = P * L
  leak_mw = {
      "mac_lanes": u["lane_leak"] * nl,
      "sparsity": extra_leak * nl,
      "others": C.ACCELTRAN_FIFO.leakage_mw * nl + others_pe_leak * P,
      "softmax": u["softmax_leak"] * P * cfg["softmax_per_pe"],
      "layer_norm": u["ln_leak"] * P,
      "activation_buffer": bufs["activation"].leakage_mw_per_mb * cfg["activation_buffer_size"],
      "weight_buffer": bufs["weight"].leakage_mw_per_mb * cfg["weight_buffer_size"],
      "mask_buffer": bufs["mask"].leakage_mw_per_mb * cfg["mask_buffer_size"],
      "main_memory": jnp.zeros((), jnp.float32),
  }
  comps = {k: (dyn[k] * _NJ, leak_mw[k] / f * cycles * _NJ) for k in COMPONENTS}
  e_dyn = sum(v[0] for v in comps.values())
  e_leak = sum(v[1] for v in comps.values())
  latency = cycles / _F_HZ
  # peak power: leakage + for each resource the largest per-op dynamic power (upper bound: the
  # busiest op of every resource running at once) + the main-memory link at full rate.
  safe = jnp.maximum(c["comp"], 1.0)
  pe_pow = (u["lane_dyn"] + extra_dyn + C.ACCELTRAN_FIFO.dynamic_mw) * L + others_pe_dyn
  mac_p = jnp.max(jnp.where(c["is_mac"] & (c["comp"] > 0), c["busy"] / safe * pe_pow, 0.0))
  sm_p = jnp.max(jnp.where(c["is_sm"] & (c["comp"] > 0), c["busy"] / safe * u["softmax_dyn"], 0.0))
  ln_p = jnp.max(jnp.where(c["is_ln"] & (c["comp"] > 0), c["busy"] / safe * u["ln_dyn"], 0.0))
  mm_p = cfg["mm_energy_nj"] * cfg["mm_bits_per_cycle"] / blk * f  # nJ/cycle * MHz = mW
  leak_total_mw = sum(leak_mw.values())
  peak_w = (leak_total_mw + mac_p + sm_p + ln_p + mm_p) * 1e-3
  e_tot = e_dyn + e_leak
  avg_w = e_tot / jnp.maximum(latency, 1e-30)
  macs = jnp.sum(table["macs"] * c["B"] * c["rho"])  # effectual MACs
  span_safe = jnp.maximum(cycles, 1.0)
  util = {
      "mac": jnp.sum(jnp.where(c["is_mac"], c["comp"], 0.0)) / span_safe,
      "softmax": jnp.sum(jnp.where(c["is_sm"], c["comp"], 0.0)) / span_safe,
      "layer_norm": jnp.sum(jnp.where(c["is_ln"], c["comp"], 0.0)) / span_safe,
      "dma": jnp.sum(c["load"] + c["spill"]) / span_safe,
      "mac_efficiency": macs / (span_safe * P * L * cfg["mac_per_lane"]),
  }
  area = area_power.acceltran_area_mm2_arrays(cfg)
  return dict(cycles=cycles, latency_s=latency, energy_dynamic_j=e_dyn, energy_leakage_j=e_leak,
              energy_j=e_tot, area_mm2=area, peak_power_w=peak_w, avg_power_w=avg_w,
              fits=c["fits"], utilisation=util, energy_components=comps,
              batch_size=c["B"] * jnp.ones((), jnp.float32))


def op_costs(table: Mapping[str, Any], cfg: Mapping[str, Any], s_a=0.0, s_w=0.0) -> dict:
  """Per-op compute cycles, tiles, load / spill cycles and schedule (start, end) of ONE config.

  For tests, docs and debugging (not jitted). Arrays ``[O]``; same arguments as :func:`simulate_one`
  (per-op sparsities may have the model's ``n_ops`` entries: they are zero-padded to the bucket).
  """
  cfg = {k: jnp.asarray(v, jnp.float32) for k, v in cfg.items()}
  n_ops = int(np.shape(table["kind"])[0])
  s_a, s_w = (np.pad(np.asarray(s, np.float32), (0, n_ops - np.size(s))) if np.ndim(s) == 1
              else np.asarray(s, np.float32) for s in (s_a, s_w))
  c = _per_op_costs(table, cfg, jnp.asarray(s_a), jnp.asarray(s_w))
  span, start, end = _schedule(table, c)
  out = {k: np.asarray(v) for k, v in c.items()}
  out.update(cycles=float(span), start=np.asarray(start), end=np.asarray(end))
  return out


_TRACES = {"count": 0}  # incremented at trace time only: a recompilation counter for tests


@jax.jit
def _simulate_batch_jit(table, cfg, s_a, s_w):
  _TRACES["count"] += 1
  return jax.vmap(simulate_one, in_axes=(None, 0, 0, 0))(table, cfg, s_a, s_w)


def trace_count() -> int:
  """How many times the batched simulator has been traced (= compiled) in this process."""
  return _TRACES["count"]


def _sharded(x, mesh):
  from jax.sharding import NamedSharding, PartitionSpec
  spec = PartitionSpec("configs", *([None] * (np.ndim(x) - 1)))
  return jax.device_put(x, NamedSharding(mesh, spec))


def simulate_batch(table: W.OpTable | Mapping[str, Any], cfg: Mapping[str, Any], s_a=None, s_w=None,
                   shard: bool = False) -> dict:
  """Simulates one workload on a batch of configs (and sparsities): jitted once per bucket and size.

  Args:
    table: an :class:`OpTable` (or its ``arrays()``).
    cfg: :func:`config_arrays` output, float32[n] per key of :data:`CONFIG_KEYS`.
    s_a, s_w: activation / weight sparsity: None (the AccelTran defaults 0.5 / 0.5,
      yaml:sparsity), a scalar, float32[n] (one per config) or float32[n, O] (per config and op).
    shard: place the config axis on a ``jax.sharding.Mesh`` over all local devices (n must be a
      multiple of the device count; on a CPU host this is one device).

  Returns:
    The :func:`simulate_one` dict with a leading ``[n]`` axis on every array.

  Raises:
    SpaceError: for sparsities outside [0, 1) or mismatched shapes.
  """
  arrays = table.arrays() if isinstance(table, W.OpTable) else table
  n_ops = int(np.shape(arrays["kind"])[0])
  n = int(np.shape(cfg["pe"])[0])
  cfg = {k: np.asarray(cfg[k], np.float32) for k in CONFIG_KEYS}
  sa = _sparsity_array("sparsity.activation", C.SPARSITY_ACTIVATION if s_a is None else s_a, n, n_ops)
  sw = _sparsity_array("sparsity.weight", C.SPARSITY_WEIGHT if s_w is None else s_w, n, n_ops)
  if shard:
    devices = jax.local_devices()
    if n % len(devices):
      raise SpaceError("configs", n, reason=f"a multiple of the {len(devices)} local devices to shard")
    mesh = jax.sharding.Mesh(np.array(devices), ("configs",))
    cfg = {k: _sharded(v, mesh) for k, v in cfg.items()}
    sa, sw = _sharded(sa, mesh), _sharded(sw, mesh)
  return _simulate_batch_jit(arrays, cfg, sa, sw)


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
    raise SpaceError(field, a.shape, reason=f"a scalar, [{n}] per config, [n_ops<={n_ops}] per op "
                     f"or [{n}, n_ops] per config and op")
  if not (np.all(np.isfinite(a)) and np.all(a >= 0) and np.all(a < 1)):
    raise SpaceError(field, s, reason="sparsity must lie in [0, 1)")
  return a


# ---------------------------------------------------------------------------------------------------
# Config dicts -> arrays


def _space(space=None):
  if space is not None:
    return space
  from jaxcodesign.spaces.accelerators import ElectorSpace
  return ElectorSpace()


def config_arrays(configs: Sequence[Mapping[str, Any]], space=None) -> dict[str, np.ndarray]:
  """float32[n] arrays of :data:`CONFIG_KEYS` for a list of AccelTran (nested) config dicts.

  Validation and conversion use ``space.config_arrays`` (default ``ElectorSpace()``, the space
  TransCODE samples; errors name the field and the allowed values). ``mm_energy_nj`` is
  ``constants.ACCELTRAN_MAIN_MEMORY_ENERGY`` of the memory triple and ``mm_bits_per_cycle`` the
  correct link rate of the memory *type* (``constants.MAIN_MEMORY_BITS_PER_CYCLE``: DRAM 25.6 GB/s,
  RRAM / HBM 256 GB/s).

  Raises:
    SpaceError: a config outside the space; ConfigError for an empty list.
  """
  if len(configs) == 0:
    raise ConfigError("configs: an empty list; give at least one accelerator config")
  base = _space(space).config_arrays(list(configs))
  return {k: np.asarray(base[k], np.float32) for k in CONFIG_KEYS}


def pad_configs(arrays: Mapping[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
  """Pads every config array to ``size`` by repeating the last config (results beyond n are junk)."""
  n = int(np.shape(arrays["pe"])[0])
  if size < n:
    raise SpaceError("size", size, reason=f"smaller than the {n} configs")
  return {k: np.concatenate([v, np.repeat(v[-1:], size - n, axis=0)]) for k, v in arrays.items()}


def config_bucket(n: int) -> int:
  """Config-batch bucket: the next power of two >= n (at least 8), so sizes share compilations."""
  return max(8, 1 << (max(n, 1) - 1).bit_length())
