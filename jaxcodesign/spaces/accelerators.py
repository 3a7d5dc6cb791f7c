"""Accelerator design spaces: ELECTOR / AccelTran (transformers) and AccelBench (CNNs).

Allowed values are facts carried over in code with their source (tests compare them with the
fixture yaml files; nothing is read at run time):

- AccelTran: ``acceltran/design_space/design_space.yaml`` (jha-lab/acceltran), 17,820,000 points.
- ELECTOR: ``acceltran/design_space/design_space_elector.yaml`` (the space TransCODE passes to the
  simulator), 14,850,000 points. It differs from AccelTran only in the mask buffer (no 0.5 MB).
- AccelBench: docs/accelerator_model.md §10 area/power, 228,433,920 points.

Counting rule (reproduces all three published sizes): tied parameters count once
(``tile_x == tile_y`` in AccelTran/ELECTOR, ``Pkx == Pky`` in AccelBench), the non-linearity is a free
parameter {relu, gelu}, and ``batch_size >= tile_b`` (always true in the published spaces). So
AccelTran = 2*3*2*5*5*2*6*3*5*5*6*11 and ELECTOR the same with 5 mask sizes.

Point formats (docs/ARCHITECTURE.md):
- AccelTran / ELECTOR: the nested yaml form of ``acceltran/config/config_tiny.yaml``::

    {"tile": {"tile_b", "tile_x", "tile_y"}, "non_linearity", "pe", "lanes_per_pe", "mac_per_lane",
     "softmax_per_pe", "batch_size", "activation_buffer_size", "weight_buffer_size",
     "mask_buffer_size" (MB), "loop_unrolling": "b_i_j_k",
     "main_memory": {"type", "banks", "ranks", "channels", "mode"},
     "scheduler": {"compute_ops": {"tiled": True, "batch_size": pe // 4},
                   "memory_ops": {"tiled": False, "batch_size": 1}}}

  ``mode`` is "lb" for DRAM, else "hb" (docs/accelerator_model.md §10 fast-model 2).
  ``loop_unrolling`` and ``scheduler`` are optional on input and filled in canonically.
- AccelBench: flat ``{"Pib", "Pif", "Pix", "Piy", "Pof", "Pkx", "Pky", "batch_size",
  "activation_buffer_size", "weight_buffer_size", "mask_buffer_size",
  "main_memory": {"type", "banks", "ranks", "channels"}}``.

Encodings:
- ``encode`` AccelTran/ELECTOR: the original 12 raw values ``[tile_b, tile_x, tile_y, pe, lanes_per_pe,
  mac_per_lane, softmax_per_pe, batch_size, act_MB, wgt_MB, mask_MB, mem_idx]`` with ``mem_idx`` into
  :data:`MAIN_MEMORY_TABLE` (spec section 2). It carries no non-linearity: ``decode`` gives "gelu"
  (TransCODE's fixed choice). ``hash`` = md5 hex of the Python list text of that embedding, e.g.
  ``"[4, 16, 16, 1024, 32, 16, 2, 4, 16, 64, 2, 8]"`` (spec "Accelerator key"); a relu config, which
  the original never produced, hashes ``text + " relu"`` so that it cannot collide.
- ``encode`` AccelBench: 13 values ``[Pib, Pif, Pix, Piy, Pof, Pkx, Pky, batch, act, wgt, mask,
  mem_type, mem_config]`` with mem_type 0 rram / 1 dram / 2 hbm and mem_config 1-based within the type
  (spec: "RRAM configs 1-6, DRAM 1-4, HBM 1"; the integer coding of the type is our assumption).
- ``to_features``: float32 in [0, 1]; each numeric parameter (one entry per tied group) is
  ordinal log2-scaled ``(log2 v - log2 v_min) / (log2 v_max - log2 v_min)`` (0 when only one value is
  allowed); the non-linearity and the memory are one-hot blocks.

Restrictions: every space takes keyword restrictions ``<param>=[values]`` (param names as in
``describe()["parameters"]``; ``main_memory`` as indices into MAIN_MEMORY_TABLE or (type, banks,
ranks, channels) tuples) shrinking the allowed values, e.g. ``ElectorSpace(non_linearity=["gelu"])``
for exactly the TransCODE-reachable points.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.spaces.base import DesignSpace, numpy_rng

# The fixed main-memory table of the 12-value embedding (docs/accelerator_model.md §10 fast-model 2;
# same (banks, ranks, channels) lists as design_space*.yaml main_memory_config and the AccelBench spec).
MAIN_MEMORY_TABLE: tuple[tuple[str, int, int, int], ...] = (
    ("rram", 16, 2, 2), ("rram", 8, 2, 4), ("rram", 4, 2, 8), ("rram", 2, 2, 16),
    ("rram", 32, 2, 1), ("rram", 1, 2, 32),
    ("dram", 16, 2, 2), ("dram", 8, 2, 4), ("dram", 32, 2, 1), ("dram", 16, 4, 1),
    ("hbm", 32, 1, 4),
)
MEMORY_TYPES = ("rram", "dram", "hbm")

# The ``main_memory.mode`` field of the AccelTran config format: "lb" for DRAM, "hb" for RRAM and HBM
# (docs/accelerator_model.md §10 fast-model 2; AccelTran's config_tiny/config_base yaml). It is part
# of the config format only: bandwidths and energies are hardware figures, looked up in
# ``jaxcodesign.hardware.constants`` from the organisation this space emits.
MEMORY_MODES = {"dram": "lb", "rram": "hb", "hbm": "hb"}


def memory_mode(mem_type: str) -> str:
  """The config-format ``main_memory.mode`` of a memory type: "lb" for DRAM, "hb" for RRAM / HBM."""
  return MEMORY_MODES[mem_type]


def memory_organisation_arrays(mem_index) -> dict[str, np.ndarray]:
  """int32 arrays of the memory organisation of option indices into :data:`MAIN_MEMORY_TABLE`:
  ``mem_index``, ``mem_type_index`` (0 rram, 1 dram, 2 hbm), ``mem_banks``, ``mem_ranks``,
  ``mem_channels`` (shape of ``mem_index``)."""
  idx = np.asarray(mem_index, np.int64)
  table = np.asarray([[MEMORY_TYPES.index(t), b, r, c] for t, b, r, c in MAIN_MEMORY_TABLE], np.int32)
  rows = table[idx]
  return {"mem_index": idx.astype(np.int32), "mem_type_index": rows[..., 0],
          "mem_banks": rows[..., 1], "mem_ranks": rows[..., 2], "mem_channels": rows[..., 3]}


class Param(NamedTuple):
  """One independent parameter: ``name``, allowed ``values``, ``kind`` ('ordinal'|'categorical'),
  the config ``paths`` it sets (several for a tied group, e.g. tile_x and tile_y)."""
  name: str
  values: tuple
  kind: str
  paths: tuple


# Allowed values. Source: acceltran/design_space/design_space.yaml (ACCELTRAN) and
# design_space_elector.yaml (ELECTOR: same but mask_buffer_size without 0.5).
_ACCELTRAN_VALUES = {
    "tile_b": (1, 4),
    "tile_x": (8, 16, 32),  # tile_y tied to tile_x
    "non_linearity": ("relu", "gelu"),
    "pe": (64, 128, 256, 512, 1024),
    "lanes_per_pe": (8, 16, 32, 64, 128),
    "mac_per_lane": (1, 16),
    "softmax_per_pe": (2, 4, 8, 16, 32, 64),
    "batch_size": (4, 16, 32),
    "activation_buffer_size": (4, 8, 16, 32, 64),  # MB
    "weight_buffer_size": (8, 16, 32, 64, 128),  # MB
    "mask_buffer_size": (0.5, 1, 2, 4, 8, 16),  # MB
    "main_memory": tuple(range(len(MAIN_MEMORY_TABLE))),
}
_ELECTOR_VALUES = dict(_ACCELTRAN_VALUES, mask_buffer_size=(1, 2, 4, 8, 16))

# Source: docs/accelerator_model.md §10 area/power (AccelBench / SPRING).
_ACCELBENCH_VALUES = {
    "Pib": (1, 2, 4),
    "Pif": (1, 16),
    "Pix": tuple(range(1, 9)),
    "Piy": tuple(range(1, 9)),
    "Pof": (1, 2, 4, 8),
    "Pkx": (1, 3, 5, 7),  # Pky tied to Pkx
    "batch_size": (1, 64, 128, 256, 512),
    "activation_buffer_size": (1,) + tuple(range(2, 25, 2)),  # MB: 1, 2, 4, ..., 24
    "weight_buffer_size": (1,) + tuple(range(2, 25, 2)),
    "mask_buffer_size": (1, 2, 3, 4),
    "main_memory": tuple(range(len(MAIN_MEMORY_TABLE))),
}


def _is_number(v: Any) -> bool:
  return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _is_integral(v: Any) -> bool:
  """A finite number with an integer value (NaN / inf / fractions / strings are not)."""
  return _is_number(v) and bool(np.isfinite(float(v))) and float(v) == int(v)


def _get(config: Mapping[str, Any], path: str) -> Any:
  node: Any = config
  for part in path.split("."):
    if not isinstance(node, Mapping):
      raise SpaceError(path, node, reason="expected a mapping")
    if part not in node:
      raise SpaceError(path, None, reason="missing field")
    node = node[part]
  return node


def _index_of(param: Param, value: Any, path: str) -> int:
  if param.kind == "ordinal":
    if not _is_number(value):
      raise SpaceError(path, value, param.values, reason="must be a number")
  for i, v in enumerate(param.values):
    if type(v) is str or isinstance(value, str):
      if value == v:
        return i
    elif _is_number(value) and float(value) == float(v):
      return i
  raise SpaceError(path, value, param.values)


def _norm_positions(values: Sequence[Any]) -> np.ndarray:
  """log2-scaled positions of ordinal values in [0, 1] (0 for a single value)."""
  logs = np.log2(np.asarray(values, np.float64))
  span = logs[-1] - logs[0]
  return np.zeros(len(values)) if span == 0 else (logs - logs[0]) / span


class _DiscreteAcceleratorSpace(DesignSpace):
  """A product of discrete parameters, some tied, with one cross-parameter rule.

  Internally a point is an index vector (one index per Param). Subclasses define ``_params``,
  ``_build(idx) -> config``, ``_parse(config) -> idx`` and ``_constraint``.
  """

  _base_values: Mapping[str, tuple] = {}
  _paths: Mapping[str, tuple] = {}

  def __init__(self, **restrictions):
    params = []
    for name, values in self._base_values.items():
      kind = "categorical" if name in ("non_linearity", "main_memory") else "ordinal"
      if name in restrictions:
        values = self._restrict(name, values, restrictions.pop(name))
      params.append(Param(name, tuple(values), kind, self._paths.get(name, (name,))))
    if restrictions:
      raise ConfigError(f"unknown restriction(s) {sorted(restrictions)} for space {self.name!r}; "
                        f"allowed: {list(self._base_values)}")
    self.params: tuple[Param, ...] = tuple(params)
    self._pidx = {p.name: i for i, p in enumerate(self.params)}
    self._positions = [(_norm_positions(p.values) if p.kind == "ordinal" else None)
                       for p in self.params]
    self._widths = [1 if p.kind == "ordinal" else len(p.values) for p in self.params]
    self._offsets = np.concatenate([[0], np.cumsum(self._widths)]).astype(int)
    if self.size() == 0:
      raise ConfigError(f"restrictions leave space {self.name!r} empty")

  @staticmethod
  def _restrict(name: str, allowed: tuple, subset: Sequence[Any]) -> tuple:
    if isinstance(subset, (str, int, float)):
      subset = [subset]
    out = []
    for v in subset:
      if name == "main_memory" and not isinstance(v, (int, np.integer)):
        key = tuple(v)
        if key not in MAIN_MEMORY_TABLE:
          raise ConfigError(f"restriction main_memory: {v!r} not in {list(MAIN_MEMORY_TABLE)}")
        v = MAIN_MEMORY_TABLE.index(key)
      if v not in allowed:
        raise ConfigError(f"restriction {name}: {v!r} not in allowed values {list(allowed)}")
      out.append(allowed[allowed.index(v)])
    if not out:
      raise ConfigError(f"restriction {name}: empty")
    return tuple(sorted(set(out), key=allowed.index))

  # ---- subclass hooks -----------------------------------------------------------------------
  def _constraint(self, vals: Mapping[str, Any]) -> bool:
    return True

  def _repair(self, idx: list[int]) -> list[int]:
    return idx

  def _build(self, idx: Sequence[int]) -> dict:
    raise NotImplementedError

  def _parse(self, config: Mapping[str, Any]) -> list[int]:
    raise NotImplementedError

  # ---- helpers ------------------------------------------------------------------------------
  def _value(self, idx: Sequence[int], name: str) -> Any:
    i = self._pidx[name]
    return self.params[i].values[idx[i]]

  def _values(self, idx: Sequence[int]) -> dict:
    return {p.name: p.values[i] for p, i in zip(self.params, idx)}

  def _parse_simple(self, config: Mapping[str, Any], skip: Sequence[str] = ()) -> list[int]:
    """Index vector of the ordinal/categorical params stored at plain paths (ties checked)."""
    if not isinstance(config, Mapping):
      raise SpaceError("config", type(config).__name__, reason="expected a dict")
    idx = []
    for p in self.params:
      if p.name in skip:
        idx.append(-1)
        continue
      first = _get(config, p.paths[0])
      i = _index_of(p, first, p.paths[0])
      for other in p.paths[1:]:
        v = _get(config, other)
        if not (_is_number(v) and _is_number(first) and float(v) == float(first)):
          raise SpaceError(other, v, [first], reason=f"must equal {p.paths[0]}")
      idx.append(i)
    return idx

  def _parse_memory(self, mem: Any, with_mode: bool) -> int:
    if not isinstance(mem, Mapping):
      raise SpaceError("main_memory", mem, reason="expected a dict with type, banks, ranks, channels")
    p = self.params[self._pidx["main_memory"]]
    allowed = [MAIN_MEMORY_TABLE[k] for k in p.values]
    try:
      key = (mem["type"], int(mem["banks"]), int(mem["ranks"]), int(mem["channels"]))
    except (KeyError, TypeError, ValueError) as e:
      raise SpaceError("main_memory", dict(mem), allowed,
                       reason="needs type and integer banks, ranks, channels") from e
    if key not in allowed:
      raise SpaceError("main_memory", key, allowed, reason="unknown (type, banks, ranks, channels)")
    if with_mode and "mode" in mem and mem["mode"] != memory_mode(key[0]):
      raise SpaceError("main_memory.mode", mem["mode"], [memory_mode(key[0])],
                       reason=f"mode is fixed by the memory type {key[0]!r}")
    return p.values.index(MAIN_MEMORY_TABLE.index(key))

  # ---- protocol -----------------------------------------------------------------------------
  def describe(self) -> dict:
    return {"name": self.name,
            "parameters": {p.name: list(p.values) for p in self.params},
            "tied": {p.name: list(p.paths) for p in self.params if len(p.paths) > 1},
            "main_memory_table": [list(m) for m in MAIN_MEMORY_TABLE],
            "size": self.size()}

  def size(self) -> int:
    # Only the constraint's parameters interact; the rest multiply.
    cons = self._constraint_params
    n = 1
    for p in self.params:
      if p.name not in cons:
        n *= len(p.values)
    if cons:
      lists = [self.params[self._pidx[c]].values for c in cons]
      count = sum(1 for combo in _product(lists) if self._constraint(dict(zip(cons, combo))))
      n *= count
    return n

  _constraint_params: tuple = ()

  def validate(self, point: Mapping[str, Any]) -> dict:
    """Canonical config; raises SpaceError naming the field and the allowed values."""
    idx = self._parse(point)
    self._check_constraint(idx)
    return self._build(idx)

  def _check_constraint(self, idx):
    return None

  def index_vector(self, point: Mapping[str, Any]) -> np.ndarray:
    """int64[n_params]: the index of each parameter's value in ``describe()['parameters']``."""
    idx = self._parse(point)
    self._check_constraint(idx)
    return np.asarray(idx, np.int64)

  def from_index_vector(self, idx: Sequence[int]) -> dict:
    """Config from an index vector (inverse of :meth:`index_vector`); raises SpaceError."""
    idx = [int(i) for i in idx]
    if len(idx) != len(self.params):
      raise SpaceError("index_vector", idx, reason=f"length must be {len(self.params)}")
    for p, i in zip(self.params, idx):
      if not 0 <= i < len(p.values):
        raise SpaceError(p.name, i, list(range(len(p.values))), reason="index out of range")
    self._check_constraint(idx)
    return self._build(idx)

  def sample(self, key, n: int, method: str = "uniform") -> list[dict]:
    """``n`` configs, uniform over the allowed values of each parameter (or Latin hypercube over
    them, 'lhs'); points breaking the cross-parameter rule are redrawn ('uniform') or repaired
    ('lhs'). Raises ValueError for an unknown method."""
    if method not in ("uniform", "lhs"):
      raise ValueError(f"invalid value for field 'method': {method!r}; allowed: ['uniform', 'lhs']")
    rng = numpy_rng(key)
    k = np.array([len(p.values) for p in self.params])
    if method == "uniform":
      out = []
      while len(out) < n:
        draw = rng.integers(0, k, size=(max(n - len(out), 1), len(k)))
        for row in draw:
          vals = {p.name: p.values[i] for p, i in zip(self.params, row)}
          if self._constraint(vals) and len(out) < n:
            out.append(self._build([int(i) for i in row]))
      return out
    cols = []
    for kk in k:
      u = (rng.permutation(n) + rng.random(n)) / max(n, 1)
      cols.append(np.minimum((u * kk).astype(int), kk - 1))
    rows = np.stack(cols, 1) if n else np.zeros((0, len(k)), int)
    return [self._build(self._repair([int(i) for i in row])) for row in rows]

  @property
  def feature_dim(self) -> int:
    return int(self._offsets[-1])

  def to_features(self, point: Mapping[str, Any]) -> np.ndarray:
    """float32[feature_dim] in [0, 1] (log2-ordinal per numeric parameter, one-hot categorical)."""
    idx = self.index_vector(point)
    return self._features_from_idx(idx)

  def _features_from_idx(self, idx: Sequence[int]) -> np.ndarray:
    f = np.zeros(self.feature_dim, np.float32)
    for j, (p, i) in enumerate(zip(self.params, idx)):
      o = self._offsets[j]
      if p.kind == "ordinal":
        f[o] = self._positions[j][i]
      else:
        f[o + i] = 1.0
    return f

  def to_features_batch(self, points: Sequence[Mapping[str, Any]]) -> np.ndarray:
    return np.stack([self.to_features(p) for p in points]).astype(np.float32) if len(points) else \
        np.zeros((0, self.feature_dim), np.float32)

  def feature_names(self) -> list[str]:
    """Names of the feature coordinates (``param`` or ``param=value`` for one-hot entries)."""
    names = []
    for p in self.params:
      names += [p.name] if p.kind == "ordinal" else [f"{p.name}={v}" for v in p.values]
    return names

  def project(self, features: np.ndarray) -> dict:
    """Nearest valid config to a feature vector: per ordinal parameter the nearest allowed value in
    normalised (log2) space (ties to the lower value), per one-hot block the argmax, then the
    cross-parameter rule repaired. Idempotent on valid points. Raises SpaceError on a wrong shape."""
    x = np.asarray(features, np.float64).reshape(-1)
    if x.shape[0] != self.feature_dim:
      raise SpaceError("features", x.shape, [self.feature_dim], reason="wrong feature length")
    x = np.nan_to_num(x, nan=0.0)
    idx = []
    for j, p in enumerate(self.params):
      o = self._offsets[j]
      if p.kind == "ordinal":
        idx.append(int(np.argmin(np.abs(self._positions[j] - np.clip(x[o], 0.0, 1.0)))))
      else:
        idx.append(int(np.argmax(x[o:o + self._widths[j]])))
    return self._build(self._repair(idx))

  def embedding_text(self, point: Mapping[str, Any]) -> str:
    """The Python list text of the original embedding (what :meth:`hash` digests)."""
    return str([_py(v) for v in self.encode(point).tolist()])

  def describe_point(self, point: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"hash": self.hash(point), "embedding": self.embedding_text(point)}


def _py(v):
  f = float(v)
  return int(f) if f == int(f) else f


def _product(lists):
  if not lists:
    yield ()
    return
  for v in lists[0]:
    for rest in _product(lists[1:]):
      yield (v,) + rest


class _AccelTranLike(_DiscreteAcceleratorSpace):
  """Shared AccelTran / ELECTOR logic (the two differ only in the mask buffer sizes)."""

  _paths = {"tile_b": ("tile.tile_b",), "tile_x": ("tile.tile_x", "tile.tile_y"),
            "main_memory": ("main_memory",)}
  _constraint_params = ("tile_b", "batch_size")
  _top_keys = {"tile", "non_linearity", "pe", "lanes_per_pe", "mac_per_lane", "softmax_per_pe",
               "batch_size", "activation_buffer_size", "weight_buffer_size", "mask_buffer_size",
               "loop_unrolling", "main_memory", "scheduler"}

  def _constraint(self, vals):
    return vals["batch_size"] >= vals["tile_b"]

  def _check_constraint(self, idx):
    tb, b = self._value(idx, "tile_b"), self._value(idx, "batch_size")
    if b < tb:
      allowed = [v for v in self.params[self._pidx["batch_size"]].values if v >= tb]
      raise SpaceError("batch_size", b, allowed, reason=f"must be >= tile.tile_b = {tb}")

  def _repair(self, idx):
    idx = list(idx)
    tb = self._value(idx, "tile_b")
    bp = self.params[self._pidx["batch_size"]]
    if bp.values[idx[self._pidx["batch_size"]]] < tb:
      ok = [i for i, v in enumerate(bp.values) if v >= tb]
      if ok:
        idx[self._pidx["batch_size"]] = ok[0]
      else:  # lower tile_b to the largest allowed value <= the largest batch
        tp = self.params[self._pidx["tile_b"]]
        idx[self._pidx["tile_b"]] = max(i for i, v in enumerate(tp.values) if v <= bp.values[-1])
    return idx

  def _parse(self, config):
    if not isinstance(config, Mapping):
      raise SpaceError("config", type(config).__name__, reason="expected a dict")
    extra = set(config) - self._top_keys
    if extra:
      raise SpaceError(sorted(extra)[0], config[sorted(extra)[0]], sorted(self._top_keys),
                       reason="unknown field")
    if config.get("loop_unrolling", "b_i_j_k") != "b_i_j_k":
      raise SpaceError("loop_unrolling", config["loop_unrolling"], ["b_i_j_k"])
    mem_ops = _get(config, "scheduler.memory_ops") if "scheduler" in config and isinstance(
        config["scheduler"], Mapping) and "memory_ops" in config["scheduler"] else None
    if mem_ops is not None:
      if mem_ops.get("tiled", False) or mem_ops.get("batch_size", 1) != 1:
        raise SpaceError("scheduler.memory_ops", dict(mem_ops), [{"tiled": False, "batch_size": 1}],
                         reason="tiled memory ops are not implemented")
    idx = self._parse_simple(config, skip=("main_memory",))
    idx[self._pidx["main_memory"]] = self._parse_memory(_get(config, "main_memory"), True)
    return idx

  def _build(self, idx):
    v = self._values(idx)
    mtype, banks, ranks, channels = MAIN_MEMORY_TABLE[v["main_memory"]]
    return {
        "tile": {"tile_b": v["tile_b"], "tile_x": v["tile_x"], "tile_y": v["tile_x"]},
        "non_linearity": v["non_linearity"],
        "pe": v["pe"], "lanes_per_pe": v["lanes_per_pe"], "mac_per_lane": v["mac_per_lane"],
        "softmax_per_pe": v["softmax_per_pe"], "batch_size": v["batch_size"],
        "activation_buffer_size": v["activation_buffer_size"],
        "weight_buffer_size": v["weight_buffer_size"], "mask_buffer_size": v["mask_buffer_size"],
        "loop_unrolling": "b_i_j_k",
        "main_memory": {"type": mtype, "mode": memory_mode(mtype), "banks": banks, "ranks": ranks,
                        "channels": channels},
        "scheduler": {"compute_ops": {"tiled": True, "batch_size": v["pe"] // 4},
                      "memory_ops": {"tiled": False, "batch_size": 1}},
    }

  def encode(self, point) -> np.ndarray:
    """The original 12 raw values (int64; float64 only if a 0.5 MB mask buffer is present)."""
    c = self.validate(point)
    t = c["tile"]
    mm = c["main_memory"]
    e = [t["tile_b"], t["tile_x"], t["tile_y"], c["pe"], c["lanes_per_pe"], c["mac_per_lane"],
         c["softmax_per_pe"], c["batch_size"], c["activation_buffer_size"],
         c["weight_buffer_size"], c["mask_buffer_size"],
         MAIN_MEMORY_TABLE.index((mm["type"], mm["banks"], mm["ranks"], mm["channels"]))]
    if all(float(x) == int(x) for x in e):
      return np.asarray([int(x) for x in e], np.int64)
    return np.asarray(e, np.float64)

  def decode(self, embedding: Sequence[Any], non_linearity: str = "gelu") -> dict:
    """Config of a 12-value embedding (spec section 2); ``non_linearity`` defaults to TransCODE's
    gelu. Raises SpaceError for a wrong length, tile_x != tile_y, or values outside the space."""
    e = list(np.asarray(embedding).reshape(-1).tolist())
    if len(e) != 12:
      raise SpaceError("acc_embedding", e, reason="expected 12 values [tile_b, tile_x, tile_y, pe, "
                       "lanes_per_pe, mac_per_lane, softmax_per_pe, batch_size, act_MB, wgt_MB, "
                       "mask_MB, mem_idx]")
    mem = e[11]
    if not _is_integral(mem) or not 0 <= int(mem) < len(MAIN_MEMORY_TABLE):
      raise SpaceError("acc_embedding[11] (mem_idx)", mem, list(range(len(MAIN_MEMORY_TABLE))))
    mtype, banks, ranks, channels = MAIN_MEMORY_TABLE[int(mem)]
    config = {"tile": {"tile_b": e[0], "tile_x": e[1], "tile_y": e[2]},
              "non_linearity": non_linearity, "pe": e[3], "lanes_per_pe": e[4],
              "mac_per_lane": e[5], "softmax_per_pe": e[6], "batch_size": e[7],
              "activation_buffer_size": e[8], "weight_buffer_size": e[9], "mask_buffer_size": e[10],
              "main_memory": {"type": mtype, "banks": banks, "ranks": ranks, "channels": channels}}
    return self.validate(config)

  def hash(self, point) -> str:
    """md5 hex of the embedding's Python list text (TransCODE accelerator key); relu configs append
    " relu" to the text (the original never produced them)."""
    c = self.validate(point)
    text = self.embedding_text(c)
    if c["non_linearity"] != "gelu":
      text += " " + c["non_linearity"]
    return hashlib.md5(text.encode()).hexdigest()

  def config_arrays(self, configs: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Numeric arrays (shape [n]) of validated configs for jitted cost models.

    int32: tile_b, tile_x, tile_y, pe, lanes_per_pe, mac_per_lane, softmax_per_pe, batch_size,
    gelu (1 gelu / 0 relu), tile_index (0/1/2 for tile 8/16/32), and the memory organisation
    (:func:`memory_organisation_arrays`: mem_index, mem_type_index, mem_banks, mem_ranks,
    mem_channels); float32: activation_buffer_size, weight_buffer_size, mask_buffer_size (MB).
    Hardware figures (bandwidth, access energy) are looked up from the organisation by
    ``jaxcodesign.hardware``, not here. Raises SpaceError on an invalid config.
    """
    cs = [self.validate(c) for c in configs]
    ints = {k: [] for k in ("tile_b", "tile_x", "tile_y", "pe", "lanes_per_pe", "mac_per_lane",
                            "softmax_per_pe", "batch_size", "gelu", "tile_index")}
    flts = {k: [] for k in ("activation_buffer_size", "weight_buffer_size", "mask_buffer_size")}
    mem = []
    for c in cs:
      mm = c["main_memory"]
      for k in ("tile_b", "tile_x", "tile_y"):
        ints[k].append(c["tile"][k])
      for k in ("pe", "lanes_per_pe", "mac_per_lane", "softmax_per_pe", "batch_size"):
        ints[k].append(c[k])
      mem.append(MAIN_MEMORY_TABLE.index((mm["type"], mm["banks"], mm["ranks"], mm["channels"])))
      ints["gelu"].append(int(c["non_linearity"] == "gelu"))
      ints["tile_index"].append((8, 16, 32).index(c["tile"]["tile_x"]))
      for k in ("activation_buffer_size", "weight_buffer_size", "mask_buffer_size"):
        flts[k].append(c[k])
    out = {k: np.asarray(v, np.int32) for k, v in ints.items()}
    out.update({k: np.asarray(v, np.float32) for k, v in flts.items()})
    out.update(memory_organisation_arrays(np.asarray(mem, np.int64)))
    return out


class AccelTranSpace(_AccelTranLike):
  """AccelTran accelerator space (acceltran/design_space/design_space.yaml): 17,820,000 points."""
  name = "acceltran"
  _base_values = _ACCELTRAN_VALUES


class ElectorSpace(_AccelTranLike):
  """ELECTOR accelerator space (design_space_elector.yaml, used by TransCODE): 14,850,000 points."""
  name = "elector"
  _base_values = _ELECTOR_VALUES


class AccelBenchSpace(_DiscreteAcceleratorSpace):
  """AccelBench CNN-accelerator space (docs/accelerator_model.md §10 area/power): 228,433,920 points.

  PE = Pib*Pix*Piy, lanes per PE = Pof*Pkx*Pky, multipliers per lane Pif; Pky tied to Pkx.
  """
  name = "accelbench"
  _base_values = _ACCELBENCH_VALUES
  _paths = {"Pkx": ("Pkx", "Pky"), "main_memory": ("main_memory",)}
  _keys = ("Pib", "Pif", "Pix", "Piy", "Pof", "Pkx", "Pky", "batch_size", "activation_buffer_size",
           "weight_buffer_size", "mask_buffer_size", "main_memory")

  def _parse(self, config):
    if not isinstance(config, Mapping):
      raise SpaceError("config", type(config).__name__, reason="expected a dict")
    extra = set(config) - set(self._keys)
    if extra:
      raise SpaceError(sorted(extra)[0], config[sorted(extra)[0]], list(self._keys),
                       reason="unknown field")
    idx = self._parse_simple(config, skip=("main_memory",))
    idx[self._pidx["main_memory"]] = self._parse_memory(_get(config, "main_memory"), False)
    return idx

  def _build(self, idx):
    v = self._values(idx)
    mtype, banks, ranks, channels = MAIN_MEMORY_TABLE[v["main_memory"]]
    out = {k: v[k] for k in ("Pib", "Pif", "Pix", "Piy", "Pof", "Pkx")}
    out["Pky"] = v["Pkx"]
    for k in ("batch_size", "activation_buffer_size", "weight_buffer_size", "mask_buffer_size"):
      out[k] = v[k]
    out["main_memory"] = {"type": mtype, "banks": banks, "ranks": ranks, "channels": channels}
    return out

  def encode(self, point) -> np.ndarray:
    """int64[13]: [Pib, Pif, Pix, Piy, Pof, Pkx, Pky, batch, act, wgt, mask, mem_type, mem_config]
    (mem_type 0 rram / 1 dram / 2 hbm; mem_config 1-based within the type)."""
    c = self.validate(point)
    mm = c["main_memory"]
    key = (mm["type"], mm["banks"], mm["ranks"], mm["channels"])
    same_type = [m for m in MAIN_MEMORY_TABLE if m[0] == mm["type"]]
    e = [c[k] for k in self._keys[:-1]] + [MEMORY_TYPES.index(mm["type"]),
                                           same_type.index(key) + 1]
    return np.asarray(e, np.int64)

  def decode(self, embedding: Sequence[Any]) -> dict:
    """Inverse of :meth:`encode`; raises SpaceError."""
    e = list(np.asarray(embedding).reshape(-1).tolist())
    if len(e) != 13:
      raise SpaceError("embedding", e, reason="expected 13 values")
    for j in (11, 12):
      if not _is_integral(e[j]):
        raise SpaceError(f"embedding[{j}]", e[j], reason="an integer memory type / config index")
    t, k = int(e[11]), int(e[12])
    if not 0 <= t < len(MEMORY_TYPES):
      raise SpaceError("embedding[11] (mem_type)", t, [0, 1, 2])
    same_type = [m for m in MAIN_MEMORY_TABLE if m[0] == MEMORY_TYPES[t]]
    if not 1 <= k <= len(same_type):
      raise SpaceError("embedding[12] (mem_config)", k, list(range(1, len(same_type) + 1)))
    _, banks, ranks, channels = same_type[k - 1]
    config = dict(zip(self._keys[:-1], e[:11]))
    config["main_memory"] = {"type": MEMORY_TYPES[t], "banks": banks, "ranks": ranks,
                             "channels": channels}
    return self.validate(config)

  def hash(self, point) -> str:
    """md5 hex of the Python list text of the 13-value embedding."""
    return hashlib.md5(self.embedding_text(point).encode()).hexdigest()

  def config_arrays(self, configs: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Numeric arrays (shape [n]) of validated configs for jitted cost models.

    int32: Pib, Pif, Pix, Piy, Pof, Pkx, Pky, batch_size, pe (= Pib*Pix*Piy), lanes (= Pof*Pkx*Pky),
    and the memory organisation (:func:`memory_organisation_arrays`: mem_index, mem_type_index,
    mem_banks, mem_ranks, mem_channels); float32: activation_buffer_size, weight_buffer_size,
    mask_buffer_size (MB). Hardware figures are looked up by ``jaxcodesign.hardware``.
    """
    cs = [self.validate(c) for c in configs]
    out: dict[str, list] = {k: [] for k in self._keys[:-1]}
    extra = {k: [] for k in ("pe", "lanes")}
    mem = []
    for c in cs:
      for k in self._keys[:-1]:
        out[k].append(c[k])
      mm = c["main_memory"]
      extra["pe"].append(c["Pib"] * c["Pix"] * c["Piy"])
      extra["lanes"].append(c["Pof"] * c["Pkx"] * c["Pky"])
      mem.append(MAIN_MEMORY_TABLE.index((mm["type"], mm["banks"], mm["ranks"], mm["channels"])))
    res = {}
    for k, v in {**out, **extra}.items():
      dtype = np.float32 if k.endswith("buffer_size") else np.int32
      res[k] = np.asarray(v, dtype)
    res.update(memory_organisation_arrays(np.asarray(mem, np.int64)))
    return res


# Named accelerators, carried over from acceltran/config/config_tiny.yaml (AccelTran-Edge) and
# config_base.yaml (AccelTran-Server). Both lie in the AccelTran and the ELECTOR spaces.
def _named() -> dict[str, dict]:
  space = AccelTranSpace()
  edge = {"tile": {"tile_b": 1, "tile_x": 16, "tile_y": 16}, "non_linearity": "gelu", "pe": 64,
          "lanes_per_pe": 16, "mac_per_lane": 16, "softmax_per_pe": 4, "batch_size": 4,
          "activation_buffer_size": 4, "weight_buffer_size": 8, "mask_buffer_size": 1,
          "main_memory": {"type": "dram", "mode": "lb", "banks": 32, "ranks": 2, "channels": 1}}
  server = {"tile": {"tile_b": 1, "tile_x": 16, "tile_y": 16}, "non_linearity": "gelu", "pe": 512,
            "lanes_per_pe": 32, "mac_per_lane": 16, "softmax_per_pe": 32, "batch_size": 4,
            "activation_buffer_size": 32, "weight_buffer_size": 64, "mask_buffer_size": 8,
            "main_memory": {"type": "rram", "mode": "hb", "banks": 32, "ranks": 2, "channels": 1}}
  return {"edge": space.validate(edge), "server": space.validate(server)}


NAMED_ACCELERATORS: dict[str, dict] = _named()


# The SPRING point of AccelBench (docs/accelerator_model.md §10 area/power, "AccelBench / SPRING": area
# 230.06409445958403 mm^2, leakage 15,332.401 mW), used as the fixed CNN accelerator baseline.
NAMED_ACCELBENCH: dict[str, dict] = {
    "spring": AccelBenchSpace().validate({
        "Pib": 2, "Pif": 16, "Pix": 8, "Piy": 4, "Pof": 8, "Pkx": 3, "Pky": 3, "batch_size": 1,
        "activation_buffer_size": 12, "weight_buffer_size": 24, "mask_buffer_size": 4,
        "main_memory": {"type": "rram", "banks": 16, "ranks": 2, "channels": 2}}),
}
