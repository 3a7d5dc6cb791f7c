"""Area and static power of the AccelTran (transformer) and AccelBench (CNN) accelerators.

Formulas: docs/accelerator_model.md §10 area/power (and docs/accelerator_model.md §10 fast-model 3 for the
bit-exact AccelTran area summation order). Constants: :mod:`jaxcodesign.hardware.constants`.

Two flavours:
- scalar functions on one config dict (NumPy / Python float64), e.g. :func:`acceltran_area_mm2`;
  AccelTran area uses the original loop order, so config_tiny gives exactly 54.06426665203198 mm^2;
- ``*_arrays`` functions on the numeric arrays of ``config_arrays`` (keys documented in
  :mod:`jaxcodesign.spaces.accelerators`), written with ``jnp`` ops so they can be called inside
  ``jit`` / ``vmap`` (float32 unless x64 is on: ~1e-7 relative).

Configs: AccelTran nested form (``tile.{tile_b,tile_x,tile_y}``, ``non_linearity``, ``pe``,
``lanes_per_pe``, ``mac_per_lane``, ``softmax_per_pe``, ``{activation,weight,mask}_buffer_size`` in MB,
...); AccelBench flat form (``Pib, Pif, Pix, Piy, Pof, Pkx, Pky, batch_size, *_buffer_size``).
Module tables are not restricted to the design space (config_nano can be costed), but a value with
no constants (e.g. tile_x = 12, mac_per_lane = 4) raises :class:`~jaxcodesign.errors.SpaceError`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import jax.numpy as jnp

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.hardware import constants as C

_BUFFERS = ("activation", "weight", "mask")


def _field(config: Mapping[str, Any], path: str) -> Any:
  """Reads a dotted field (``"tile.tile_x"``) from a nested config; SpaceError names missing ones."""
  node: Any = config
  for part in path.split("."):
    if not isinstance(node, Mapping) or part not in node:
      raise SpaceError(path, None, reason="missing field in accelerator config")
    node = node[part]
  return node


def _number(config: Mapping[str, Any], path: str, positive: bool = True) -> float:
  v = _field(config, path)
  if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
    raise SpaceError(path, v, reason="must be a number")
  if positive and not float(v) > 0:
    raise SpaceError(path, v, reason="must be > 0")
  return v


def _count(config: Mapping[str, Any], path: str) -> int:
  v = _number(config, path)
  if int(v) != v:
    raise SpaceError(path, v, reason="must be a positive integer")
  return int(v)


def _table(table: Mapping[Any, Any], key: Any, field: str) -> Any:
  if key not in table:
    allowed = sorted(table)
    raise SpaceError(field, key, allowed, reason="no synthesised constants for this value")
  return table[key]


def _acceltran_modules(config: Mapping[str, Any]):
  """(P, L, S, lane, softmax, layer_norm) constants of an AccelTran config."""
  p = _count(config, "pe")
  lanes = _count(config, "lanes_per_pe")
  s = _count(config, "softmax_per_pe")
  m = _count(config, "mac_per_lane")
  nl = _field(config, "non_linearity")
  tx = _count(config, "tile.tile_x")
  lane = _table(C.ACCELTRAN_LANE, (m, nl), "mac_per_lane/non_linearity")
  sm = _table(C.ACCELTRAN_SOFTMAX, tx, "tile.tile_x")
  ln = _table(C.ACCELTRAN_LAYER_NORM, tx, "tile.tile_x")
  return p, lanes, s, lane, sm, ln


def acceltran_area_mm2(config: Mapping[str, Any], training: bool = False) -> float:
  """Chip area (mm^2) of an AccelTran config, in the original's bit-exact summation order.

  Area = P * [L * (A_lane(M, nl) + A_pre + A_post + A_fifo (+ A_sr in training)) + S * A_sm(tile_x)
  + A_dataflow + A_dma + A_ln(tile_x)] + sum_b A_b(um^2/MB) * size_b(MB), / 1e6.
  Source: docs/accelerator_model.md §10 area/power; loop order docs/accelerator_model.md §10 fast-model 3
  (config_tiny -> 54.06426665203198, config_base -> 1829.70). Raises SpaceError on missing fields or
  values without constants.
  """
  p, lanes, s, lane, sm, ln = _acceltran_modules(config)
  per_lane = (C.ACCELTRAN_PRE_SPARSITY.area_um2 + C.ACCELTRAN_POST_SPARSITY.area_um2
              + C.ACCELTRAN_FIFO.area_um2)
  if training:
    per_lane = per_lane + C.ACCELTRAN_STOCHASTIC_ROUNDING.area_um2
  pe_area = 0
  for _ in range(lanes):
    pe_area += lane.area_um2
    pe_area += per_lane
  for _ in range(s):
    pe_area += sm.area_um2
  pe_area = pe_area + C.ACCELTRAN_DATAFLOW.area_um2 + C.ACCELTRAN_DMA.area_um2 + ln.area_um2
  total = 0
  for _ in range(p):
    total += pe_area
  sizes = [_number(config, f"{b}_buffer_size") for b in _BUFFERS]
  total = (total + C.ACCELTRAN_BUFFERS["activation"].area_um2_per_mb * sizes[0]
           + C.ACCELTRAN_BUFFERS["weight"].area_um2_per_mb * sizes[1]
           + C.ACCELTRAN_BUFFERS["mask"].area_um2_per_mb * sizes[2])
  return total / 1e6


def acceltran_module_power(config: Mapping[str, Any], training: bool = False) -> dict[str, dict]:
  """Per-module totals of an AccelTran config: ``{module: {"count", "dynamic_mw", "leakage_mw"}}``.

  Modules and counts: ``mac_lanes`` P*L, ``pre_sparsity`` / ``post_sparsity`` / ``fifo`` P*L,
  ``softmax`` P*S, ``layer_norm`` / ``dataflow`` / ``dma`` P (and ``stochastic_rounding`` P*L in
  training); buffers ``{activation,weight,mask}_buffer`` with count = size in MB, leakage mW/MB * MB
  and dynamic 0 (their energy is per access, see constants.ACCELTRAN_BUFFERS). mW totals assume every
  unit active (dynamic) / powered (leakage). Source: docs/accelerator_model.md §10 area/power.
  """
  p, lanes, s, lane, sm, ln = _acceltran_modules(config)
  mods = [("mac_lanes", lane, p * lanes), ("pre_sparsity", C.ACCELTRAN_PRE_SPARSITY, p * lanes),
          ("post_sparsity", C.ACCELTRAN_POST_SPARSITY, p * lanes),
          ("fifo", C.ACCELTRAN_FIFO, p * lanes), ("softmax", sm, p * s), ("layer_norm", ln, p),
          ("dataflow", C.ACCELTRAN_DATAFLOW, p), ("dma", C.ACCELTRAN_DMA, p)]
  if training:
    mods.append(("stochastic_rounding", C.ACCELTRAN_STOCHASTIC_ROUNDING, p * lanes))
  out = {name: {"count": n, "dynamic_mw": k.dynamic_mw * n, "leakage_mw": k.leakage_mw * n}
         for name, k, n in mods}
  for b in _BUFFERS:
    size = _number(config, f"{b}_buffer_size")
    out[f"{b}_buffer"] = {"count": size, "dynamic_mw": 0.0,
                          "leakage_mw": C.ACCELTRAN_BUFFERS[b].leakage_mw_per_mb * size}
  return out


def acceltran_leakage_mw(config: Mapping[str, Any], training: bool = False) -> float:
  """Leakage power (mW) with every module powered, plus buffer leakage (mW/MB * MB).

  Source: docs/accelerator_model.md §10 area/power (module leakages), constants.yaml buffer ``leakage``.
  Note: the original power-gated idle modules; this is the all-on static power.
  """
  return float(sum(v["leakage_mw"] for v in acceltran_module_power(config, training).values()))


def acceltran_peak_dynamic_mw(config: Mapping[str, Any], training: bool = False) -> float:
  """Dynamic power (mW) with every compute module active (buffers excluded): an upper bound."""
  return float(sum(v["dynamic_mw"] for v in acceltran_module_power(config, training).values()))


# ---------------------------------------------------------------------------------------------------
# Array (jnp) versions for jit/vmap. Keys as produced by AccelTranSpace.config_arrays.

def _tile_index(tile_x):
  # 8 -> 0, 16 -> 1, 32 -> 2 (other values are rejected by the space before reaching here).
  return jnp.clip(jnp.round(jnp.log2(jnp.asarray(tile_x, jnp.float32))).astype(jnp.int32) - 3, 0, 2)


def _acceltran_tables(attr: str):
  lane = jnp.array([[getattr(C.ACCELTRAN_LANE[(m, nl)], attr) for nl in ("relu", "gelu")]
                    for m in (1, 16)])
  sm = jnp.array([getattr(C.ACCELTRAN_SOFTMAX[t], attr) for t in (8, 16, 32)])
  ln = jnp.array([getattr(C.ACCELTRAN_LAYER_NORM[t], attr) for t in (8, 16, 32)])
  return lane, sm, ln


def _acceltran_arrays_sum(arrays: Mapping[str, Any], attr: str, buffer_attr: str, training: bool):
  lane_t, sm_t, ln_t = _acceltran_tables(attr)
  ti = _tile_index(arrays["tile_x"])
  mi = (jnp.asarray(arrays["mac_per_lane"]) > 1).astype(jnp.int32)
  gi = jnp.asarray(arrays["gelu"]).astype(jnp.int32)
  per_lane = (lane_t[mi, gi] + getattr(C.ACCELTRAN_PRE_SPARSITY, attr)
              + getattr(C.ACCELTRAN_POST_SPARSITY, attr) + getattr(C.ACCELTRAN_FIFO, attr))
  if training:
    per_lane = per_lane + getattr(C.ACCELTRAN_STOCHASTIC_ROUNDING, attr)
  pe = (jnp.asarray(arrays["lanes_per_pe"]) * per_lane + jnp.asarray(arrays["softmax_per_pe"]) * sm_t[ti]
        + getattr(C.ACCELTRAN_DATAFLOW, attr) + getattr(C.ACCELTRAN_DMA, attr) + ln_t[ti])
  total = jnp.asarray(arrays["pe"]) * pe
  if buffer_attr:
    for b in _BUFFERS:
      total = total + getattr(C.ACCELTRAN_BUFFERS[b], buffer_attr) * jnp.asarray(
          arrays[f"{b}_buffer_size"])
  return total


def acceltran_area_mm2_arrays(arrays: Mapping[str, Any], training: bool = False):
  """Area (mm^2) of AccelTran configs from ``config_arrays`` (closed form, jnp; shape of the inputs).

  Needs keys tile_x, mac_per_lane, gelu, lanes_per_pe, softmax_per_pe, pe, *_buffer_size.
  Same formula as :func:`acceltran_area_mm2` (equal to ~1e-7 relative in float32).
  """
  return _acceltran_arrays_sum(arrays, "area_um2", "area_um2_per_mb", training) / 1e6


def acceltran_leakage_mw_arrays(arrays: Mapping[str, Any], training: bool = False):
  """All-on leakage (mW) of AccelTran configs from ``config_arrays`` (jnp), incl. buffer leakage."""
  return _acceltran_arrays_sum(arrays, "leakage_mw", "leakage_mw_per_mb", training)


def acceltran_peak_dynamic_mw_arrays(arrays: Mapping[str, Any], training: bool = False):
  """All-active dynamic power (mW, compute modules only) of AccelTran configs (jnp)."""
  return _acceltran_arrays_sum(arrays, "dynamic_mw", "", training)


def acceltran_unit_power_arrays(arrays: Mapping[str, Any]) -> dict[str, Any]:
  """Per-UNIT (one lane / softmax / LN module) dynamic and leakage mW selected per config (jnp).

  Returns ``{"lane_dyn", "lane_leak", "softmax_dyn", "softmax_leak", "ln_dyn", "ln_leak"}`` arrays
  (for a cost model that charges units x busy cycles / f).
  """
  out = {}
  for attr, suffix in (("dynamic_mw", "dyn"), ("leakage_mw", "leak")):
    lane_t, sm_t, ln_t = _acceltran_tables(attr)
    ti = _tile_index(arrays["tile_x"])
    mi = (jnp.asarray(arrays["mac_per_lane"]) > 1).astype(jnp.int32)
    gi = jnp.asarray(arrays["gelu"]).astype(jnp.int32)
    out[f"lane_{suffix}"] = lane_t[mi, gi]
    out[f"softmax_{suffix}"] = sm_t[ti]
    out[f"ln_{suffix}"] = ln_t[ti]
  return out


# ---------------------------------------------------------------------------------------------------
# AccelBench (CNN accelerator).

_ACCELBENCH_ACTS = ("relu", "silu")


def accelbench_activation_key(activations: Sequence[str]) -> str:
  """MAC-lane variant for the activations a CNN uses: "relu", "silu" or "both" (spec:accelbench).

  An empty sequence (no activation) uses the ReLU lane. Raises ConfigError on other names.
  """
  acts = set(activations)
  bad = acts - set(_ACCELBENCH_ACTS)
  if bad:
    raise ConfigError(f"activations: unknown {sorted(bad)}; allowed: {list(_ACCELBENCH_ACTS)}")
  if acts == {"relu", "silu"}:
    return "both"
  if acts == {"silu"}:
    return "silu"
  return "relu"


def _accelbench_counts(pe, lane, pif):
  return {"PE": pe, "PE*Lane": pe * lane, "PE*Lane*Pif*2": pe * lane * pif * 2}


def _accelbench_pe_lane(config: Mapping[str, Any]):
  pe = _count(config, "Pib") * _count(config, "Pix") * _count(config, "Piy")
  lane = _count(config, "Pof") * _count(config, "Pkx") * _count(config, "Pky")
  pif = _count(config, "Pif")
  return pe, lane, pif


def accelbench_module_power(config: Mapping[str, Any],
                            activations: Sequence[str] = ("relu",)) -> dict[str, dict]:
  """Per-module totals of an AccelBench config: ``{module: {"count", "area_um2", "dynamic_mw",
  "leakage_mw"}}`` (module figure x count; PE = Pib*Pix*Piy, Lane = Pof*Pkx*Pky per PE), plus the
  three buffers (count = size MB; area and leakage scaled linearly from the FinCACTI reference,
  dynamic 0). Source: docs/accelerator_model.md §10 area/power. Raises SpaceError / ConfigError.
  """
  pe, lane, pif = _accelbench_pe_lane(config)
  lane_k = _table(C.ACCELBENCH_LANE, (pif, accelbench_activation_key(activations)), "Pif")
  counts = _accelbench_counts(pe, lane, pif)
  out = {"mac_lanes": {"count": pe * lane, "area_um2": lane_k.area_um2 * (pe * lane),
                       "dynamic_mw": lane_k.dynamic_mw * (pe * lane),
                       "leakage_mw": lane_k.leakage_mw * (pe * lane)}}
  for name, (k, rule) in C.ACCELBENCH_MODULES.items():
    n = counts[rule]
    out[name] = {"count": n, "area_um2": k.area_um2 * n, "dynamic_mw": k.dynamic_mw * n,
                 "leakage_mw": k.leakage_mw * n}
  for b in _BUFFERS:
    size = _number(config, f"{b}_buffer_size")
    ref = C.ACCELBENCH_BUFFERS[b]
    out[f"{b}_buffer"] = {"count": size, "area_um2": ref.area_mm2 * size / ref.ref_mb * 1e6,
                          "dynamic_mw": 0.0,
                          "leakage_mw": ref.leakage_mw_per_bank * ref.banks * size / ref.ref_mb}
  return out


def accelbench_area_mm2(config: Mapping[str, Any], activations: Sequence[str] = ("relu",)) -> float:
  """Area (mm^2) = 1e-6 * sum(module area * count) + buffer areas (spec:accelbench).

  SPRING point -> 230.06409445958403 mm^2 (summed in the spec table order: lane, dataflow, DMA,
  FIFO, batch-norm, im2col, pooling, GAP, upsampling, pre-, post-sparsity; then act, wgt, mask).
  """
  pe, lane, pif = _accelbench_pe_lane(config)
  lane_k = _table(C.ACCELBENCH_LANE, (pif, accelbench_activation_key(activations)), "Pif")
  counts = _accelbench_counts(pe, lane, pif)
  a = lane_k.area_um2 * (pe * lane)
  for k, rule in C.ACCELBENCH_MODULES.values():
    a = a + k.area_um2 * counts[rule]
  area = 1e-6 * a
  for b in _BUFFERS:
    ref = C.ACCELBENCH_BUFFERS[b]
    area = area + ref.area_mm2 * _number(config, f"{b}_buffer_size") / ref.ref_mb
  return area


def accelbench_leakage_mw(config: Mapping[str, Any],
                          activations: Sequence[str] = ("relu",)) -> float:
  """Leakage (mW) = sum(module leakage * count) + buffer leakages (spec:accelbench).

  SPRING point -> 15,332.401 mW.
  """
  pe, lane, pif = _accelbench_pe_lane(config)
  lane_k = _table(C.ACCELBENCH_LANE, (pif, accelbench_activation_key(activations)), "Pif")
  counts = _accelbench_counts(pe, lane, pif)
  leak = lane_k.leakage_mw * (pe * lane)
  for k, rule in C.ACCELBENCH_MODULES.values():
    leak = leak + k.leakage_mw * counts[rule]
  for b in _BUFFERS:
    ref = C.ACCELBENCH_BUFFERS[b]
    leak = leak + ref.leakage_mw_per_bank * ref.banks * _number(config, f"{b}_buffer_size") / ref.ref_mb
  return leak


def _accelbench_arrays_sum(arrays, attr, buffer_fn, activations):
  key = accelbench_activation_key(activations)
  f = lambda k: jnp.asarray(arrays[k])
  pe = f("Pib") * f("Pix") * f("Piy")
  lane = f("Pof") * f("Pkx") * f("Pky")
  pif = f("Pif")
  lane_val = jnp.where(pif > 1, getattr(C.ACCELBENCH_LANE[(16, key)], attr),
                       getattr(C.ACCELBENCH_LANE[(1, key)], attr))
  counts = {"PE": pe, "PE*Lane": pe * lane, "PE*Lane*Pif*2": pe * lane * pif * 2}
  total = lane_val * (pe * lane)
  for k, rule in C.ACCELBENCH_MODULES.values():
    total = total + getattr(k, attr) * counts[rule]
  return total, sum(buffer_fn(C.ACCELBENCH_BUFFERS[b], f(f"{b}_buffer_size")) for b in _BUFFERS)


def accelbench_area_mm2_arrays(arrays: Mapping[str, Any], activations: Sequence[str] = ("relu",)):
  """Area (mm^2) of AccelBench configs from ``AccelBenchSpace.config_arrays`` (jnp, jit/vmap-safe).

  Needs keys Pib, Pif, Pix, Piy, Pof, Pkx, Pky, *_buffer_size. ``activations`` is static.
  """
  mods, bufs = _accelbench_arrays_sum(arrays, "area_um2",
                                      lambda r, s: r.area_mm2 * s / r.ref_mb, activations)
  return 1e-6 * mods + bufs


def accelbench_leakage_mw_arrays(arrays: Mapping[str, Any], activations: Sequence[str] = ("relu",)):
  """Leakage (mW) of AccelBench configs from ``config_arrays`` (jnp, jit/vmap-safe)."""
  mods, bufs = _accelbench_arrays_sum(
      arrays, "leakage_mw", lambda r, s: r.leakage_mw_per_bank * r.banks * s / r.ref_mb, activations)
  return mods + bufs


def accelbench_peak_dynamic_mw_arrays(arrays: Mapping[str, Any],
                                      activations: Sequence[str] = ("relu",)):
  """All-active dynamic power (mW, modules only; im2col is not clock-scaled) of AccelBench configs."""
  mods, _ = _accelbench_arrays_sum(arrays, "dynamic_mw", lambda r, s: 0.0 * s, activations)
  return mods
