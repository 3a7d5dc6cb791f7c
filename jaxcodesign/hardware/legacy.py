"""LEGACY MODE: TransCODE's analytical AccelTran simulator (``simulate_fast``), quirks included.

Opt-in reproduction of ``jha-lab/acceltran`` ``simulator/src`` fast path as TransCODE calls it,
following ``docs/accelerator_model.md §10 fast-model`` (TransCODE's simulate_fast; Tuli & Jha, IEEE TCAD 2023) to the letter (section numbers below refer to it).
It reproduces the stored outputs of ``fixtures/transcode/simulate_fast_sample.json`` bit for bit.
Do NOT use it as a hardware model: it keeps every documented quirk (spec section 7), among them
the MatMul contraction tiles counted twice (Q1), non-linearity cost from a stale LayerNorm tile count
(Q3), multi-head memory that costs energy but no time (Q5), memory energies in "per 64 elements"
units (Q6), link rates 2.5x too high (Q7: ``constants.LEGACY_BANDWIDTH_BITS_PER_CYCLE``), weights
carrying the batch dimension (Q8), all units charged busy (Q9), negative conv MACs (Q13) and the
greedy head scheduler without intra-head dependencies (Q12). The corrected, jitted model lives in
:mod:`jaxcodesign.hardware.acceltran`.

Pure Python ints and IEEE doubles in the original evaluation order (no JAX, no x64 flag).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Mapping, Sequence

from jaxcodesign.errors import SpaceError
from jaxcodesign.hardware import constants as C
from jaxcodesign.hardware.area_power import acceltran_area_mm2
from jaxcodesign.spaces.accelerators import ElectorSpace
from jaxcodesign.spaces.flexibert import parse_op

_INF = math.inf


@functools.lru_cache(maxsize=1)
def _elector() -> ElectorSpace:
  return ElectorSpace()


def _cdiv(a: int, b: int) -> int:
  return -(-a // b)


def matmul_cost(tile: tuple[int, int, int], n_mac: int, b: int, mr: int, k: int,
                nc: int) -> tuple[int, int]:
  """(tiles, cycles) of a legacy MatMul (b, mr, k) x (b, k, nc) on ``n_mac`` MACs (spec 5.4, 5.8).

  T = cdiv(b,tb) cdiv(mr,tx) cdiv(k,ty) cdiv(k,tx) cdiv(nc,ty) (contraction counted twice, Q1),
  m = tb tx ty ty MACs per tile, cycles = ceil(T m / n_mac * (1 - s_a)).
  """
  tb, tx, ty = tile
  t = _cdiv(b, tb) * _cdiv(mr, tx) * _cdiv(k, ty) * _cdiv(k, tx) * _cdiv(nc, ty)
  return t, math.ceil((((t * (tb * tx * ty * ty)) * 1.0) / n_mac) * (1 - C.SPARSITY_ACTIVATION))


def conv1d_cost(tile: tuple[int, int, int], n_mac: int, b: int, n: int, h: int,
                k: int) -> tuple[int, int]:
  """(tiles, cycles) of a legacy Conv1D on (b, n, h) with kernel k (spec 5.4, quirk Q13).

  T = cdiv(b,tb) cdiv(n,tx) cdiv(h,ty), m = tb tx floor(ty - k) (no kernel factor; negative when
  ty < k), cycles = ceil(T m / n_mac * (1 - s_a)) with the true ceiling (can be 0 or negative).
  """
  tb, tx, ty = tile
  t = _cdiv(b, tb) * _cdiv(n, tx) * _cdiv(h, ty)
  m_cv = tb * tx * ((ty - k) // 1)
  return t, math.ceil((((t * m_cv) * 1.0) / n_mac) * (1 - C.SPARSITY_ACTIVATION))


def norm_cost(tile: tuple[int, int, int], n_units: int, b: int, x: int, y: int) -> tuple[int, int]:
  """(tiles, cycles) of a legacy Softmax / LayerNorm on (b, x, y) over ``n_units`` units (Q11):
  T = cdiv(b,tb) cdiv(x,tx) cdiv(y,ty), cycles = ceil(T tb (tx + ty) (1 - s_a) / n_units)."""
  tb, tx, ty = tile
  t = _cdiv(b, tb) * _cdiv(x, tx) * _cdiv(y, ty)
  return t, math.ceil(((t * tb * (tx + ty)) * (1 - C.SPARSITY_ACTIVATION)) / n_units)


def _check_model(model_dict: Mapping[str, Any]) -> tuple[int, list, list, list]:
  """(L, ops, hidden, ff) of a hetero model dict; raises SpaceError naming the field."""
  if not isinstance(model_dict, Mapping):
    raise SpaceError("model_dict", type(model_dict).__name__, reason="expected a dict {l, o, h, f}")
  for k in ("l", "o", "h", "f"):
    if k not in model_dict:
      raise SpaceError(k, None, reason="missing field of the model dict {l, o, h, f}")
  n_layers = model_dict["l"]
  if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
    raise SpaceError("l", n_layers, reason="must be a positive int")
  for k in ("o", "h", "f"):
    if not isinstance(model_dict[k], Sequence) or len(model_dict[k]) < n_layers:
      raise SpaceError(k, model_dict[k], reason=f"must be a list with at least l={n_layers} entries")
  ops, hidden, ff = [], [], []
  for j in range(n_layers):
    h = model_dict["h"][j]
    if isinstance(h, bool) or not isinstance(h, int) or h < 1:
      raise SpaceError(f"h[{j}]", h, reason="must be a positive int")
    heads = model_dict["o"][j]
    if not isinstance(heads, Sequence) or isinstance(heads, str) or not heads:
      raise SpaceError(f"o[{j}]", heads, reason="must be a non-empty list of head ops")
    widths = model_dict["f"][j]
    if (not isinstance(widths, Sequence) or isinstance(widths, str) or not widths or
        any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths)):
      raise SpaceError(f"f[{j}]", widths, reason="must be a non-empty list of positive ints")
    ops.append([parse_op(o) for o in heads])
    hidden.append(h)
    ff.append(list(widths))
  return n_layers, ops, hidden, ff


def simulate_fast(model_dict: Mapping[str, Any], config: Mapping[str, Any], space=None) -> dict:
  """TransCODE's analytical AccelTran simulator (legacy, quirks included; spec sections 1-6).

  Args:
    model_dict: FlexiBERT 2.0 hetero dict ``{"l", "o", "h", "f"}``; only layers 0..l-1 are read.
    config: nested AccelTran config (``spaces.accelerators`` format), validated against ``space``
      (default the ELECTOR space that TransCODE passes; spec 1.5).
    space: optional accelerator space to validate against (e.g. ``AccelTranSpace()``).

  Returns:
    ``{"fits": True, "area": mm^2, "cycles": int, "energy": {"buffer": nJ, "main_memory": nJ,
    "mac_lanes": [dyn, leak], "softmax": [..], "layer_norm": [..], "sparsity": [..],
    "others": [..]}}`` (nJ, cycles at 700 MHz for one batch of ``batch_size`` sequences of 128);
    or ``{"fits": False, "area": mm^2, "cycles": None, "energy": None}`` when the embedding table does
    not fit the weight buffer (spec 5.2; the original raised, TransCODE mapped it to performance -1).

  Raises:
    SpaceError: config outside the space (field and allowed values named) or malformed model dict.
  """
  cfg = (space or _elector()).validate(config)
  n_layers, layer_ops, hidden, ff = _check_model(model_dict)

  tb, tx, ty = cfg["tile"]["tile_b"], cfg["tile"]["tile_x"], cfg["tile"]["tile_y"]
  P, L = cfg["pe"], cfg["lanes_per_pe"]
  M, S = cfg["mac_per_lane"], cfg["softmax_per_pe"]
  B = cfg["batch_size"]
  a_mb, w_mb = cfg["activation_buffer_size"], cfg["weight_buffer_size"]
  mm = cfg["main_memory"]
  N = C.SEQ_LEN

  area = acceltran_area_mm2(cfg)  # section 3, original loop order

  # 5.1 derived quantities.
  s_a, s_w = C.SPARSITY_ACTIVATION, C.SPARSITY_WEIGHT
  f = C.CLOCK_MHZ
  n_lanes, n_mac, n_sm, n_ln = P * L, P * L * M, P * S, P
  wf_a = (C.BITS_IL + C.BITS_FL) * (1 - s_a)
  wf_w = (C.BITS_IL + C.BITS_FL) * (1 - s_w)
  bw_mm = C.LEGACY_BANDWIDTH_BITS_PER_CYCLE[mm["mode"]]
  bw_buf = C.LEGACY_BANDWIDTH_BITS_PER_CYCLE["buffer"]
  e_mm = C.ACCELTRAN_MAIN_MEMORY_ENERGY[C.memory_key(mm["type"], mm["banks"], mm["ranks"],
                                                     mm["channels"])]
  e_st = C.ACCELTRAN_BUFFERS["activation"].energy_nj * math.sqrt(a_mb)
  block = C.BLOCK_SIZE_BYTES
  lane = C.ACCELTRAN_LANE[(M, cfg["non_linearity"])]
  sm_k = C.ACCELTRAN_SOFTMAX[tx]
  ln_k = C.ACCELTRAN_LAYER_NORM[tx]
  pre, post = C.ACCELTRAN_PRE_SPARSITY, C.ACCELTRAN_POST_SPARSITY
  spd = pre.dynamic_mw + post.dynamic_mw
  spl = pre.leakage_mw + post.leakage_mw
  otd = C.ACCELTRAN_DMA.dynamic_mw + C.ACCELTRAN_FIFO.dynamic_mw + C.ACCELTRAN_DATAFLOW.dynamic_mw
  otl = C.ACCELTRAN_DMA.leakage_mw + C.ACCELTRAN_FIFO.leakage_mw + C.ACCELTRAN_DATAFLOW.leakage_mw
  c_lane_d = (lane.dynamic_mw * n_lanes) / f
  c_lane_l = (lane.leakage_mw * n_lanes) / f
  c_sp_d, c_sp_l = (spd * n_lanes) / f, (spl * n_lanes) / f
  c_ot_d, c_ot_l = (otd * P) / f, (otl * P) / f
  c_sm_d, c_sm_l = (sm_k.dynamic_mw * n_sm) / f, (sm_k.leakage_mw * n_sm) / f
  c_ln_d, c_ln_l = (ln_k.dynamic_mw * n_ln) / f, (ln_k.leakage_mw * n_ln) / f

  # 5.2 embedding table fit check (the only capacity model, Q18).
  n_emb = (C.VOCAB_SIZE + N) * hidden[0]
  if w_mb * 1024 * 1024 * 8 < n_emb * wf_w:
    return {"fits": False, "area": area, "cycles": None, "energy": None}

  cycles = math.ceil(n_emb * wf_w / bw_mm)  # embedding load: time, no energy
  e_buf = 0
  e_mm_acc = 0
  mac = [0, 0]
  sparsity = [0, 0]
  others = [0, 0]
  softmax = [0, 0]
  layer_norm = [0, 0]

  tile = (tb, tx, ty)

  def mm_cost(b, mr, k, nc):
    return matmul_cost(tile, n_mac, b, mr, k, nc)

  def conv_cost(h, k):
    return conv1d_cost(tile, n_mac, B, N, h, k)


  t_stale = None  # tile count of the most recent Softmax / LayerNorm (Q3)

  for j in range(n_layers):
    h = hidden[j]
    heads = layer_ops[j]
    # 4.2 per-head memory lists ("L" load, "S" store, element count) and compute lists.
    mem_lists, comp_lists = [], []
    for op in heads:
      fam, d = op.family, op.d_head
      if fam == "sa":
        mem = [("L", B * h * d)] * 3 + [("S", B * N * d)] * 3
        comp = [("mm", (B, N, h, d))] * 3
        if op.kind == "sa_wma":  # Q16
          mem += [("L", B * d * d), ("S", B * N * d)]
          comp += [("mm", (B, d, d, N))]
        mem += [("S", B * N * N), ("S", B * N * N), ("S", B * N * d), ("L", B * d * h),
                ("S", B * N * h)]
        comp += [("mm", (B, N, d, N)), ("sm", None), ("mm", (B, N, N, d)), ("mm", (B, N, d, h))]
      elif fam == "c":
        mem = [("L", B * op.param * h), ("S", B * N * h)]
        comp = [("cv", op.param)]
      else:  # linear transform (Q14): d unused
        mem = [("L", B * N * N), ("S", B * N * h)]
        comp = [("mm", (B, N, N, h))]
      mem_lists.append(mem)
      comp_lists.append(comp)

    # 5.3 block memory: energy only (Q5), head by head.
    for mem in mem_lists:
      for kind, n in mem:
        if kind == "L":
          e_mm_acc += ((e_mm * n) * (1 - s_w)) / block
        else:
          e_buf += ((e_st * n)) / block

    # 5.6 block event loop: MAC and SM resources, head-index priority, no intra-head dependency.
    pos = [0] * len(comp_lists)
    rem_mac, rem_sm = _INF, _INF
    while any(p < len(c) for p, c in zip(pos, comp_lists)):
      for i, comp in enumerate(comp_lists):
        if pos[i] >= len(comp):
          continue
        kind, arg = comp[pos[i]]
        if kind in ("mm", "cv") and rem_mac == _INF:
          t, cyc = mm_cost(*arg) if kind == "mm" else conv_cost(h, arg)
          mac[0] += c_lane_d * cyc
          mac[1] += c_lane_l * cyc
          sparsity[0] += c_sp_d * t
          sparsity[1] += c_sp_l * t
          others[0] += c_ot_d * t
          others[1] += c_ot_l * t
          rem_mac = cyc
          pos[i] += 1
        elif kind == "sm" and rem_sm == _INF:
          t, cyc = norm_cost(tile, n_sm, B, N, N)
          t_stale = t
          softmax[0] += c_sm_d * cyc
          softmax[1] += c_sm_l * cyc
          rem_sm = cyc
          pos[i] += 1
      delta = min(rem_mac, rem_sm)
      cycles += delta
      rem_mac = _INF if rem_mac == delta else rem_mac - delta
      rem_sm = _INF if rem_sm == delta else rem_sm - delta

    # 4.1 flat ops of the layer, in program order.
    def layer_norm_op():
      nonlocal cycles, t_stale
      t, cyc = norm_cost(tile, n_ln, B, N, h)
      t_stale = t
      layer_norm[0] += c_ln_d * cyc
      layer_norm[1] += c_ln_l * cyc
      cycles += cyc

    def ff_op(n_in, n_out):
      nonlocal cycles, e_mm_acc, e_buf
      n_load = B * n_in * n_out  # Q8: weights carry the batch
      cycles += math.ceil((n_load * wf_w) / bw_mm)
      e_mm_acc += ((e_mm * n_load) * (1 - s_w)) / block
      _, cyc = mm_cost(B, N, n_in, n_out)
      mac[0] += c_lane_d * cyc
      mac[1] += c_lane_l * cyc
      cycles += cyc
      n_store = B * N * n_out
      cycles += math.ceil((n_store * wf_a) / bw_buf)
      e_buf += ((e_st * n_store)) / block
      # Non-linearity: stale tile count, all lanes busy (Q3, Q4, Q9).
      mac[0] += c_lane_d * t_stale
      mac[1] += c_lane_l * t_stale
      cycles += t_stale

    layer_norm_op()
    widths = ff[j]
    n_in = h
    for w in widths:
      ff_op(n_in, w)
      n_in = w
    ff_op(widths[-1], h)  # trailing FF back to the hidden size
    layer_norm_op()
    if j < n_layers - 1 and hidden[j + 1] != h:
      ff_op(h, hidden[j + 1])  # projection FF

  return {"fits": True, "area": area, "cycles": int(cycles),
          "energy": {"buffer": e_buf, "main_memory": e_mm_acc, "mac_lanes": mac,
                     "softmax": softmax, "layer_norm": layer_norm, "sparsity": sparsity,
                     "others": others}}


def simulate_fast_embedding(model_dict: Mapping[str, Any], acc_embedding: Sequence[int]) -> dict:
  """:func:`simulate_fast` of the ELECTOR config of a 12-value TransCODE embedding (spec section 2).

  Raises SpaceError for an embedding outside the ELECTOR space.
  """
  return simulate_fast(model_dict, _elector().decode(acc_embedding))


def transcode_energies(result: Mapping[str, Any]) -> tuple[float, float]:
  """(E_dyn, E_leak) in nJ as TransCODE consumed them (spec section 6):
  E_dyn = buffer + main_memory + sum_k energy[k][0], E_leak = sum_k energy[k][1]. Raises ValueError
  for a result that does not fit."""
  if not result.get("fits", False):
    raise ValueError("invalid value for field 'fits': False (no energies: embedding does not fit)")
  e = result["energy"]
  dyn = e["buffer"] + e["main_memory"]
  leak = 0
  for k in ("mac_lanes", "softmax", "layer_norm", "sparsity", "others"):
    dyn += e[k][0]
    leak += e[k][1]
  return dyn, leak
