"""FlexiBERT design spaces: FlexiBERT 2.0 (hetero), FlexiBERT 1.0 and the 2021 small library space.

Sources: ``../shared/fixtures/README.md`` (flexibert2, flexibert_small, protran), the fixture files
``flexibert2/design_space.yaml`` and ``flexibert_small/design_space.json``, and
``docs/graph_hashes.md`` (FlexiBERT, JAIR 2023; CODEBench, ACM TECS 2023) (graphs and hashes, sections 4-6). The op-string parser, graphs,
hashes and conversions live in :mod:`jaxcodesign.spaces.flexibert_common` and are re-exported here.

Point formats (plain JSON-able dicts):

* FlexiBERT 2.0 "hetero": ``{"l": L, "o": [[op per head] per layer], "h": [hidden per layer],
  "f": [[FF widths] per layer]}``, op = ``<type>_<param>_<d_head>`` with ``d_head = h // n_heads``
  (floor division: the paper's space contains e.g. 128 hidden / 12 heads -> ``d_head`` 10, as every
  protran row with 12 heads at 128 hidden shows; pass ``divisible_heads=True`` to forbid that).
  Canonical form: heads of a layer sorted by type in :data:`OP_TYPES` order (all fixture rows are).
* FlexiBERT 1.0: ``{"l", "o": [type per layer], "h", "n": [heads per layer], "f": [[widths]], "p":
  [param per layer]}``.
* small (2021): ``{"l", "a": [heads], "h": [hidden], "s": [similarity], "f": [one FF width per layer]}``.

Sampling methods of :class:`FlexiBERT2Space` (the space is extremely lopsided: a 12-layer model has
~5e14 times more points than 10-layer ones, so "uniform over the set" is essentially "always 12
layers"):

* ``'uniform'`` (default): hierarchical per-choice uniform: L uniform over the allowed layer counts;
  per layer hidden uniform, head count uniform over the counts valid for that hidden size, head
  multiset uniform over the multisets of that size (so every type composition is equally likely),
  FF depth uniform, each FF width uniform.
* ``'lhs'``: the same decision tree driven by a Latin hypercube over all decisions
  (``scipy.stats.qmc.LatinHypercube``): each decision's marginal is stratified.
* ``'exact'``: exactly uniform over the set of valid points (L drawn with weight ``c**L``).
"""

from __future__ import annotations

import itertools
import random
from typing import Mapping

import numpy as np
from scipy.stats import qmc

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.spaces.base import DesignSpace, numpy_rng
from jaxcodesign.spaces.flexibert_common import (  # noqa: F401  (re-exported API)
    MAX_FF, MAX_HIDDEN, NODE_FEATURES, NODE_TYPES, OP_TYPES, HeadOp, block_graph, bucket_budget,
    flexibert1_hash, flexibert1_to_flexibert2, hetero_hash, multiset_rank, multiset_unrank,
    n_multisets, pad_graphs, parse_op, small_graph, small_hash, small_to_flexibert2, to_hetero,
    transformer_graph)

# The paper's FlexiBERT 2.0 space (flexibert2/design_space.yaml).
FB2_LAYERS = (2, 4, 6, 8, 10, 12)
FB2_HIDDEN = (128, 256, 512, 768)
FB2_HEADS = (2, 4, 8, 12)
FB2_FF_DEPTHS = (1, 2, 3)
FB2_FF_WIDTHS = (256, 512, 1024, 2048, 3072, 4096)

_SAMPLING_METHODS = ("uniform", "lhs", "exact")

__all__ = [
    "FlexiBERT2Space", "FlexiBERT1Space", "FlexiBERTSmallSpace", "NAMED_MODELS", "homogeneous_model",
    "OP_TYPES", "FB1_OPS", "HeadOp", "parse_op", "NODE_TYPES", "NODE_FEATURES", "MAX_HIDDEN", "MAX_FF",
    "transformer_graph", "pad_graphs", "bucket_budget", "block_graph", "small_graph", "hetero_hash",
    "flexibert1_hash", "small_hash", "small_to_flexibert2", "flexibert1_to_flexibert2", "to_hetero",
    "multiset_rank", "multiset_unrank", "n_multisets",
]


def homogeneous_model(l: int, h: int, n: int, f: int, op: str = "sa_sdp") -> dict:
  """Hetero dict of ``l`` identical layers: hidden ``h``, ``n`` heads of type ``op``, one FF layer ``f``."""
  return {"l": l, "o": [[f"{op}_{h // n}"] * n for _ in range(l)], "h": [h] * l, "f": [[f]] * l}


#: The BERT miniatures / BERT-Base (Turc et al. 2019; Devlin et al. 2019), all ``sa_sdp``, FF = 4 h.
NAMED_MODELS = {
    "bert_tiny": homogeneous_model(2, 128, 2, 512),
    "bert_mini": homogeneous_model(4, 256, 4, 1024),
    "bert_small": homogeneous_model(4, 512, 8, 2048),
    "bert_medium": homogeneous_model(8, 512, 8, 2048),
    "bert_base": homogeneous_model(12, 768, 12, 3072),
}


# ------------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------------
def _is_int(x) -> bool:
  return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _int_field(field, x, allowed):
  if not _is_int(x):
    raise SpaceError(field, x, allowed, reason="not an int")
  x = int(x)
  if x not in allowed:
    raise SpaceError(field, x, allowed)
  return x


def _list_field(field, x, length):
  if not isinstance(x, (list, tuple)):
    raise SpaceError(field, x, reason="not a list")
  if len(x) != length:
    raise SpaceError(field, x, reason=f"length {len(x)} != l = {length}")
  return list(x)


def _restriction(field, values, default, positive_ints=True, allowed=None, custom=False):
  """Validates one constructor restriction: a non-empty collection of distinct values.

  A restriction can only shrink the space: every value must be one of ``default`` (the published
  space's values). ``custom=True`` (the space's ``custom_values=True``) lifts this for positive-int
  fields, to define a custom space outside the published one on purpose (e.g. the tiny models of
  the digits experiments); categorical fields always stay within ``allowed``.

  Raises:
    ConfigError: naming the field and the allowed values.
  """
  if values is None:
    return tuple(default)
  if isinstance(values, (int, str)):
    values = (values,)
  values = list(values)
  if not values:
    raise ConfigError(f"invalid value for field {field!r}: empty; allowed: a non-empty list")
  if len(set(values)) != len(values):
    raise ConfigError(f"invalid value for field {field!r}: {values} has duplicates")
  if positive_ints:
    if not all(_is_int(v) and v >= 1 for v in values):
      raise ConfigError(f"invalid value for field {field!r}: {values}; allowed: positive ints")
    outside = sorted(int(v) for v in values if int(v) not in set(default))
    if outside and not custom:
      raise ConfigError(
          f"invalid value for field {field!r}: {outside} is outside the space (a restriction can only "
          f"shrink it); allowed: a subset of {list(default)}, or custom_values=True for a custom space")
    return tuple(sorted(int(v) for v in values))
  bad = [v for v in values if v not in allowed]
  if bad:
    raise ConfigError(f"invalid value for field {field!r}: {bad}; allowed: {list(allowed)}")
  return tuple(v for v in allowed if v in values)  # canonical order


def _onehot(i, k):
  v = np.zeros(k, np.float64)
  v[i] = 1.0
  return v


class _FFStacks:
  """FF stacks of depth in ``depths`` with widths in ``widths``: index = depth block offset +
  ``itertools.product`` index (fixtures README, 37-integer embedding e[3j+2])."""

  def __init__(self, depths, widths):
    self.depths, self.widths = tuple(depths), tuple(widths)
    self.k = len(widths)
    self.offsets = {}
    off = 0
    for d in self.depths:
      self.offsets[d] = off
      off += self.k ** d
    self.count = off
    self.max_depth = max(self.depths)

  def rank(self, stack):
    r = 0
    for w in stack:
      r = r * self.k + self.widths.index(w)
    return self.offsets[len(stack)] + r

  def unrank(self, r):
    for d in self.depths:
      if r < self.offsets[d] + self.k ** d:
        r -= self.offsets[d]
        idx = []
        for _ in range(d):
          idx.append(r % self.k)
          r //= self.k
        return [self.widths[i] for i in reversed(idx)]
    raise IndexError(r)

  # features: depth one-hot, then max_depth ordinal width slots ((index + 1) / K, 0 when unused)
  @property
  def feature_dim(self):
    return len(self.depths) + self.max_depth

  def features(self, stack):
    out = np.zeros(self.feature_dim)
    out[self.depths.index(len(stack))] = 1.0
    for i, w in enumerate(stack):
      out[len(self.depths) + i] = (self.widths.index(w) + 1) / self.k
    return out

  def nearest(self, y):
    """(squared distance, stack) of the stack nearest to feature block ``y`` (exact: separable)."""
    nd = len(self.depths)
    ords = (np.arange(self.k) + 1) / self.k
    best = None
    for di, d in enumerate(self.depths):
      cost = np.sum((y[:nd] - _onehot(di, nd)) ** 2)
      stack = []
      for i in range(self.max_depth):
        yi = y[nd + i]
        if i < d:
          j = int(np.argmin((ords - yi) ** 2))
          cost += (ords[j] - yi) ** 2
          stack.append(self.widths[j])
        else:
          cost += yi ** 2
      if best is None or cost < best[0] - 1e-12:
        best = (cost, stack)
    return best


def _nearest_composition(y, n):
  """Integer counts k (sum n) minimising sum_t (k_t / n - y_t)^2: greedy marginal allocation, exact
  for this separable convex objective."""
  k = np.zeros(len(y), np.int64)
  target = n * np.asarray(y, np.float64)
  for _ in range(n):
    gain = 2 * k + 1 - 2 * target
    t = int(np.argmin(gain))
    k[t] += 1
  return k, float(np.sum((k / n - y) ** 2))


def _nearest_layer_count(active_costs, inactive_costs, layers):
  """Best L in ``layers``: slots < L active, others inactive (total squared distance)."""
  best = None
  for l in layers:
    c = sum(active_costs[:l]) + sum(inactive_costs[l:])
    if best is None or c < best[0] - 1e-12:
      best = (c, l)
  return best[1]


# ------------------------------------------------------------------------------------------------
# FlexiBERT 2.0
# ------------------------------------------------------------------------------------------------
class FlexiBERT2Space(DesignSpace):
  """FlexiBERT 2.0 heterogeneous transformer space (default: the paper's 1.686e88-point space).

  Restrictions (each a collection; default the paper's values): ``layers`` (layer counts), ``hidden``
  (any positive ints), ``heads`` (any positive head counts), ``op_types`` (subset of
  :data:`OP_TYPES`), ``ff_depths``, ``ff_widths``. A (hidden h, heads n) pair is valid iff
  ``h // n >= 1``, and with ``divisible_heads=True`` also ``h % n == 0``.

  Original embedding (``encode``): int64[1 + 3 * max(layers)] (37 for the paper's space): e[0] = index
  of l; for layer j: e[3j+1] hidden index, e[3j+2] FF-stack index, e[3j+3] head-multiset index
  (combinations_with_replacement of the op types, blocks of increasing head count); unused layers 0.
  Indices refer to this space's own (restricted) value lists, so for the default space it is exactly
  the original encoding. ``decode`` returns the canonical (type-sorted) head order.

  Features (``to_features``), per layer slot j < max(layers), in order: active flag (1), hidden
  one-hot (|hidden|), head-count one-hot (|heads|), head-type fractions (|op_types|, count / n),
  FF-depth one-hot (|ff_depths|), FF widths ordinal ((index + 1) / |ff_widths|, 0 when unused;
  max(ff_depths) slots). Inactive slots are all zero. 264 features for the paper's space.
  """

  name = "flexibert2"

  def __init__(self, layers=None, hidden=None, heads=None, op_types=None, ff_depths=None,
               ff_widths=None, divisible_heads: bool = False, custom_values: bool = False):
    c = self.custom_values = bool(custom_values)
    self.layers = _restriction("layers", layers, FB2_LAYERS, custom=c)
    self.hidden = _restriction("hidden", hidden, FB2_HIDDEN, custom=c)
    self.heads = _restriction("heads", heads, FB2_HEADS, custom=c)
    self.op_types = _restriction("op_types", op_types, OP_TYPES, positive_ints=False, allowed=OP_TYPES)
    self.ff_depths = _restriction("ff_depths", ff_depths, FB2_FF_DEPTHS, custom=c)
    self.ff_widths = _restriction("ff_widths", ff_widths, FB2_FF_WIDTHS, custom=c)
    self.divisible_heads = bool(divisible_heads)
    self.max_layers = max(self.layers)
    self._ff = _FFStacks(self.ff_depths, self.ff_widths)
    self._t = len(self.op_types)
    self._valid_heads = {h: tuple(n for n in self.heads if self._pair_ok(h, n)) for h in self.hidden}
    empty = [h for h, ns in self._valid_heads.items() if not ns]
    if empty:
      raise ConfigError(f"invalid value for field 'hidden': {empty} admit no head count of {self.heads}")
    self._head_offsets = {}
    off = 0
    for n in self.heads:
      self._head_offsets[n] = off
      off += n_multisets(self._t, n)
    self._n_head_sets = off
    # points per layer: sum over valid (h, n) of multisets(n) x FF stacks
    self._per_layer = sum(n_multisets(self._t, n) for h in self.hidden for n in self._valid_heads[h]) \
        * self._ff.count
    self._slot_dim = 1 + len(self.hidden) + len(self.heads) + self._t + self._ff.feature_dim

  def _pair_ok(self, h, n):
    return h // n >= 1 and (not self.divisible_heads or h % n == 0)

  # ---- description ---------------------------------------------------------------------------
  def size(self) -> int:
    """Exact number of points: sum over L of (points per layer) ** L (head order ignored)."""
    return sum(self._per_layer ** l for l in self.layers)

  def describe(self) -> dict:
    s = self.size()
    return {"name": self.name, "point_format": "{l, o: [[op]], h: [int], f: [[int]]}",
            "parameters": {"layers": list(self.layers), "hidden": list(self.hidden),
                           "heads": list(self.heads), "op_types": list(self.op_types),
                           "ff_depths": list(self.ff_depths), "ff_widths": list(self.ff_widths),
                           "divisible_heads": self.divisible_heads},
            "points_per_layer": self._per_layer, "size": s, "size_float": float(s),
            "embedding_dim": 1 + 3 * self.max_layers, "feature_dim": self.feature_dim,
            "sampling_methods": list(_SAMPLING_METHODS)}

  # ---- validation ----------------------------------------------------------------------------
  def validate(self, point) -> dict:
    """Canonical hetero dict (heads sorted by type); SpaceError naming the field otherwise."""
    if isinstance(point, Mapping) and "p" in point:
      raise SpaceError("model_dict", sorted(point), allowed=["l", "o", "h", "f"],
                       reason="key 'p' marks a FlexiBERT 1.0 dict: convert with flexibert1_to_flexibert2")
    if isinstance(point, Mapping) and "a" in point:
      raise SpaceError("model_dict", sorted(point), allowed=["l", "o", "h", "f"],
                       reason="key 'a' marks a small-library dict: convert with small_to_flexibert2")
    if not isinstance(point, Mapping) or set(point) != {"l", "o", "h", "f"}:
      raise SpaceError("model_dict", sorted(point) if isinstance(point, Mapping) else point,
                       allowed=["l", "o", "h", "f"], reason="keys must be exactly l, o, h, f")
    l = _int_field("l", point["l"], self.layers)
    o = _list_field("o", point["o"], l)
    hs = _list_field("h", point["h"], l)
    fs = _list_field("f", point["f"], l)
    out = {"l": l, "o": [], "h": [], "f": []}
    for j in range(l):
      h = _int_field(f"h[{j}]", hs[j], self.hidden)
      ops = o[j]
      if not isinstance(ops, (list, tuple)):
        raise SpaceError(f"o[{j}]", ops, reason="not a list of op strings")
      n = len(ops)
      if n not in self.heads:
        raise SpaceError(f"o[{j}] (head count)", n, self.heads)
      if not self._pair_ok(h, n):
        raise SpaceError(f"o[{j}] (head count)", n, self._valid_heads[h],
                         reason=f"not valid with hidden {h}" + (" (heads must divide hidden)"
                                                                if self.divisible_heads else ""))
      parsed = []
      for op in ops:
        p = parse_op(op)
        if p.kind not in self.op_types:
          raise SpaceError(f"o[{j}]", op, self.op_types, reason=f"op type {p.kind!r} not in this space")
        if p.d_head != h // n:
          raise SpaceError(f"o[{j}]", op, reason=f"d_head {p.d_head} != h // heads = {h} // {n} = {h // n}")
        parsed.append(p)
      parsed.sort(key=lambda p: self.op_types.index(p.kind))
      ff = fs[j]
      if not isinstance(ff, (list, tuple)):
        raise SpaceError(f"f[{j}]", ff, reason="not a list of FF widths")
      if len(ff) not in self.ff_depths:
        raise SpaceError(f"f[{j}] (FF depth)", len(ff), self.ff_depths)
      ff = [_int_field(f"f[{j}]", w, self.ff_widths) for w in ff]
      out["o"].append([p.kind + "_" + str(p.d_head) for p in parsed])
      out["h"].append(h)
      out["f"].append(ff)
    return out

  # ---- original embedding --------------------------------------------------------------------
  def _layer_decisions(self, ops, h, ff):
    types = [self.op_types.index(parse_op(op).kind) for op in ops]
    n = len(ops)
    return (self.hidden.index(h), self._ff.rank(ff),
            self._head_offsets[n] + multiset_rank(sorted(types), self._t))

  def encode(self, point) -> np.ndarray:
    """int64[1 + 3 * max_layers] original embedding (37 ints for the paper's space)."""
    md = self.validate(point)
    e = np.zeros(1 + 3 * self.max_layers, np.int64)
    e[0] = self.layers.index(md["l"])
    for j in range(md["l"]):
      e[3 * j + 1: 3 * j + 4] = self._layer_decisions(md["o"][j], md["h"][j], md["f"][j])
    return e

  def _heads_from_index(self, idx):
    for n in reversed(self.heads):
      if idx >= self._head_offsets[n]:
        return n, multiset_unrank(idx - self._head_offsets[n], n, self._t)
    raise IndexError(idx)

  def _layer(self, h, n, types, ff):
    return [f"{self.op_types[t]}_{h // n}" for t in types], h, list(ff)

  def decode(self, embedding) -> dict:
    """Canonical hetero dict of an embedding. Raises SpaceError for out-of-range entries, non-zero
    entries in unused layer slots, or an invalid (hidden, heads) pair."""
    e = list(np.asarray(embedding).ravel()) if not isinstance(embedding, (list, tuple)) else list(embedding)
    dim = 1 + 3 * self.max_layers
    if len(e) != dim:
      raise SpaceError("embedding", len(e), reason=f"length must be {dim}")
    if not all(_is_int(x) for x in e):
      raise SpaceError("embedding", e, reason="entries must be ints")
    e = [int(x) for x in e]
    li = _int_field("embedding[0]", e[0], range(len(self.layers)))
    l = self.layers[li]
    md = {"l": l, "o": [], "h": [], "f": []}
    for j in range(l):
      hi = _int_field(f"embedding[{3 * j + 1}]", e[3 * j + 1], range(len(self.hidden)))
      fi = _int_field(f"embedding[{3 * j + 2}]", e[3 * j + 2], range(self._ff.count))
      ni = _int_field(f"embedding[{3 * j + 3}]", e[3 * j + 3], range(self._n_head_sets))
      n, types = self._heads_from_index(ni)
      ops, h, ff = self._layer(self.hidden[hi], n, types, self._ff.unrank(fi))
      md["o"].append(ops)
      md["h"].append(h)
      md["f"].append(ff)
    if any(e[1 + 3 * l:]):
      raise SpaceError("embedding", e, reason=f"entries of unused layers (index >= {1 + 3 * l}) must be 0")
    return self.validate(md)

  # ---- features ------------------------------------------------------------------------------
  @property
  def feature_dim(self) -> int:
    return self.max_layers * self._slot_dim

  def to_features(self, point) -> np.ndarray:
    md = self.validate(point)
    out = np.zeros((self.max_layers, self._slot_dim))
    nh, nn = len(self.hidden), len(self.heads)
    for j in range(md["l"]):
      ops, h, ff = md["o"][j], md["h"][j], md["f"][j]
      counts = np.zeros(self._t)
      for op in ops:
        counts[self.op_types.index(parse_op(op).kind)] += 1
      out[j] = np.concatenate([[1.0], _onehot(self.hidden.index(h), nh),
                               _onehot(self.heads.index(len(ops)), nn), counts / len(ops),
                               self._ff.features(ff)])
    return out.ravel().astype(np.float32)

  def _check_features(self, features):
    y = np.asarray(features, np.float64)
    if y.shape != (self.feature_dim,):
      raise SpaceError("features", y.shape, allowed=f"shape ({self.feature_dim},)")
    if not np.all(np.isfinite(y)):
      raise SpaceError("features", "non-finite values", allowed="finite floats")
    return y

  def project(self, features) -> dict:
    """Nearest valid point (squared Euclidean distance in feature space). Exact: the distance is
    separable into per-slot terms; per slot the best (hidden, heads, composition, FF stack) is found
    by enumeration over (hidden, heads) pairs with an exact integer composition per head count."""
    y = self._check_features(features).reshape(self.max_layers, self._slot_dim)
    nh, nn, t = len(self.hidden), len(self.heads), self._t
    active, inactive, layers = [], [], []
    for j in range(self.max_layers):
      s = y[j]
      yh, yn, yt, yf = s[1:1 + nh], s[1 + nh:1 + nh + nn], s[1 + nh + nn:1 + nh + nn + t], s[1 + nh + nn + t:]
      ff_cost, ff = self._ff.nearest(yf)
      comp = {}
      for ni, n in enumerate(self.heads):
        k, c = _nearest_composition(yt, n)
        comp[n] = (c + np.sum((yn - _onehot(ni, nn)) ** 2), k)
      best = None
      for hi, h in enumerate(self.hidden):
        ch = np.sum((yh - _onehot(hi, nh)) ** 2)
        for n in self._valid_heads[h]:
          c = ch + comp[n][0]
          if best is None or c < best[0] - 1e-12:
            best = (c, h, n)
      _, h, n = best
      types = [ti for ti, kt in enumerate(comp[n][1]) for _ in range(int(kt))]
      active.append((s[0] - 1.0) ** 2 + best[0] + ff_cost)
      inactive.append(float(np.sum(s ** 2)))
      layers.append(self._layer(h, n, types, ff))
    l = _nearest_layer_count(active, inactive, self.layers)
    return {"l": l, "o": [x[0] for x in layers[:l]], "h": [x[1] for x in layers[:l]],
            "f": [x[2] for x in layers[:l]]}

  # ---- sampling ------------------------------------------------------------------------------
  @property
  def _decisions_per_slot(self):
    return 4 + self._ff.max_depth  # hidden, heads, multiset, depth, widths...

  def _point_from_uniforms(self, u) -> dict:
    """The per-choice decision tree driven by uniforms u in [0, 1)^(1 + max_layers * (4 + max_depth))."""
    def pick(seq, x):
      return seq[min(int(x * len(seq)), len(seq) - 1)]
    l = pick(self.layers, u[0])
    md = {"l": l, "o": [], "h": [], "f": []}
    k = self._decisions_per_slot
    for j in range(l):
      v = u[1 + j * k: 1 + (j + 1) * k]
      h = pick(self.hidden, v[0])
      n = pick(self._valid_heads[h], v[1])
      m = n_multisets(self._t, n)
      types = multiset_unrank(min(int(v[2] * m), m - 1), n, self._t)
      d = pick(self.ff_depths, v[3])
      ff = [pick(self.ff_widths, x) for x in v[4:4 + d]]
      ops, h, ff = self._layer(h, n, types, ff)
      md["o"].append(ops)
      md["h"].append(h)
      md["f"].append(ff)
    return md

  def _exact_sample(self, rnd: random.Random) -> dict:
    weights = [self._per_layer ** l for l in self.layers]
    r = rnd.randrange(sum(weights))
    for l, w in zip(self.layers, weights):
      if r < w:
        break
      r -= w
    md = {"l": l, "o": [], "h": [], "f": []}
    for _ in range(l):
      x = rnd.randrange(self._per_layer)
      ff = self._ff.unrank(x % self._ff.count)
      x //= self._ff.count
      for h in self.hidden:
        for n in self._valid_heads[h]:
          m = n_multisets(self._t, n)
          if x < m:
            ops, h_, ff_ = self._layer(h, n, multiset_unrank(x, n, self._t), ff)
            md["o"].append(ops)
            md["h"].append(h_)
            md["f"].append(ff_)
            break
          x -= m
        else:
          continue
        break
    return md

  def sample(self, key, n: int, method: str = "uniform") -> list:
    """``n`` canonical points from ``key``; see the module docstring for the three methods."""
    if method not in _SAMPLING_METHODS:
      raise ValueError(f"invalid value for field 'method': {method!r}; allowed: {list(_SAMPLING_METHODS)}")
    if n < 0:
      raise ValueError(f"invalid value for field 'n': {n}; allowed: n >= 0")
    rng = numpy_rng(key)
    dim = 1 + self.max_layers * self._decisions_per_slot
    if method == "exact":
      rnd = random.Random(int(rng.integers(0, 2 ** 63)))
      return [self._exact_sample(rnd) for _ in range(n)]
    if n == 0:
      return []
    u = rng.random((n, dim)) if method == "uniform" else qmc.LatinHypercube(d=dim, seed=rng).random(n)
    return [self._point_from_uniforms(row) for row in u]

  # ---- identity / graph ----------------------------------------------------------------------
  def hash(self, point) -> str:
    """Hetero hash of docs/graph_hashes.md 5.4 (reproduces every protran / transcode fixture hash)."""
    return hetero_hash(self.validate(point))

  def graph(self, point):
    return transformer_graph(self.validate(point))

  def describe_point(self, point):
    md = self.validate(point)
    return {"hash": hetero_hash(md), "l": md["l"], "h": md["h"], "heads": [len(o) for o in md["o"]],
            "ff_depth": [len(f) for f in md["f"]]}


# ------------------------------------------------------------------------------------------------
# FlexiBERT 1.0
# ------------------------------------------------------------------------------------------------
#: the (type, param) head ops of the FlexiBERT 1.0 paper's test space
FB1_OPS = (("sa", "sdp"), ("sa", "wma"), ("l", "dft"), ("l", "dct"), ("c", "5"), ("c", "9"))


class FlexiBERT1Space(DesignSpace):
  """FlexiBERT 1.0 space (Tuli et al., 2022): stacks of layers, each with one op type for all heads.

  Default: the paper's test space of 3,317,817,600 points = 240**2 + 240**4 with layers {2, 4} and, per
  layer, hidden {128, 256} x op (type, param) in {sa: sdp, wma; l: dft, dct; c: 5, 9} x heads {2, 4} x
  FF stacks of depth {1, 3} with widths {512, 1024} each (2 + 8 = 10): 2 * 6 * 2 * 10 = 240.
  Point: ``{l, o: [type], h: [int], n: [int], f: [[int]], p: [param]}`` (params as strings).

  Embedding (ours; no original integer encoding is published): int64[1 + 4 * max(layers)]: e[0] layer
  index; per layer (hidden index, op index in ``ops``, heads index, FF-stack index); unused 0.
  Features per slot: active, hidden one-hot, op one-hot, heads one-hot, FF depth one-hot, FF widths
  ordinal. Hash: docs/graph_hashes.md section 6 with sha256 (the library default; example 9.8).
  """

  name = "flexibert1"

  def __init__(self, layers=None, hidden=None, heads=None, ops=FB1_OPS, ff_depths=None,
               ff_widths=None, hash_algo: str = "sha256", custom_values: bool = False):
    c = self.custom_values = bool(custom_values)
    self.layers = _restriction("layers", layers, (2, 4), custom=c)
    self.hidden = _restriction("hidden", hidden, (128, 256), custom=c)
    self.heads = _restriction("heads", heads, (2, 4), custom=c)
    all_ops = tuple((t.split("_")[0], t.split("_")[1]) for t in OP_TYPES)
    ops = [tuple(o.split("_")) if isinstance(o, str) else tuple(o) for o in ops]
    self.ops = _restriction("ops", ops, (), positive_ints=False, allowed=all_ops)
    self.ff_depths = _restriction("ff_depths", ff_depths, (1, 3), custom=c)
    self.ff_widths = _restriction("ff_widths", ff_widths, (512, 1024), custom=c)
    if hash_algo not in ("sha256", "md5"):
      raise ConfigError(f"invalid value for field 'hash_algo': {hash_algo!r}; allowed: ['sha256', 'md5']")
    self.hash_algo = hash_algo
    self.max_layers = max(self.layers)
    self._ff = _FFStacks(self.ff_depths, self.ff_widths)
    self._pairs = [(h, n) for h in self.hidden for n in self.heads if h // n >= 1]
    if not self._pairs:
      raise ConfigError("invalid restrictions: no (hidden, heads) pair with hidden // heads >= 1")
    self._per_layer = len(self._pairs) * len(self.ops) * self._ff.count
    self._slot_dim = 1 + len(self.hidden) + len(self.ops) + len(self.heads) + self._ff.feature_dim

  def size(self) -> int:
    return sum(self._per_layer ** l for l in self.layers)

  def describe(self) -> dict:
    s = self.size()
    return {"name": self.name, "point_format": "{l, o: [type], h: [int], n: [int], f: [[int]], p: [param]}",
            "parameters": {"layers": list(self.layers), "hidden": list(self.hidden), "heads": list(self.heads),
                           "ops": ["_".join(o) for o in self.ops], "ff_depths": list(self.ff_depths),
                           "ff_widths": list(self.ff_widths)},
            "points_per_layer": self._per_layer, "size": s, "size_float": float(s),
            "embedding_dim": 1 + 4 * self.max_layers, "feature_dim": self.feature_dim,
            "sampling_methods": ["uniform", "lhs"]}

  def validate(self, point) -> dict:
    keys = ["l", "o", "h", "n", "f", "p"]
    if not isinstance(point, Mapping) or set(point) != set(keys):
      raise SpaceError("model_dict", sorted(point) if isinstance(point, Mapping) else point, allowed=keys,
                       reason="FlexiBERT 1.0 keys must be exactly l, o, h, n, f, p")
    l = _int_field("l", point["l"], self.layers)
    cols = {k: _list_field(k, point[k], l) for k in keys[1:]}
    out = {k: [] for k in keys}
    out["l"] = l
    for j in range(l):
      h = _int_field(f"h[{j}]", cols["h"][j], self.hidden)
      n = _int_field(f"n[{j}]", cols["n"][j], self.heads)
      if h // n < 1:
        raise SpaceError(f"n[{j}]", n, reason=f"more heads than hidden units ({h})")
      op = (cols["o"][j], str(cols["p"][j]))
      if op not in self.ops:
        raise SpaceError(f"o[{j}]/p[{j}]", "_".join(map(str, op)), ["_".join(o) for o in self.ops])
      ff = cols["f"][j]
      if not isinstance(ff, (list, tuple)) or len(ff) not in self.ff_depths:
        raise SpaceError(f"f[{j}] (FF depth)", ff, self.ff_depths)
      ff = [_int_field(f"f[{j}]", w, self.ff_widths) for w in ff]
      for k, v in zip(("o", "h", "n", "f", "p"), (op[0], h, n, ff, op[1])):
        out[k].append(v)
    return out

  def _from_choices(self, choices):
    md = {k: [] for k in ("o", "h", "n", "f", "p")}
    md["l"] = len(choices)
    for (h, n), op, ff in choices:
      for k, v in zip(("o", "h", "n", "f", "p"), (op[0], h, n, list(ff), op[1])):
        md[k].append(v)
    return {k: md[k] for k in ("l", "o", "h", "n", "f", "p")}

  def encode(self, point) -> np.ndarray:
    md = self.validate(point)
    e = np.zeros(1 + 4 * self.max_layers, np.int64)
    e[0] = self.layers.index(md["l"])
    for j in range(md["l"]):
      e[4 * j + 1: 4 * j + 5] = (self.hidden.index(md["h"][j]), self.ops.index((md["o"][j], md["p"][j])),
                                 self.heads.index(md["n"][j]), self._ff.rank(md["f"][j]))
    return e

  def decode(self, embedding) -> dict:
    e = list(np.asarray(embedding).ravel())
    if len(e) != 1 + 4 * self.max_layers or not all(_is_int(x) for x in e):
      raise SpaceError("embedding", e, reason=f"must be {1 + 4 * self.max_layers} ints")
    l = self.layers[_int_field("embedding[0]", e[0], range(len(self.layers)))]
    choices = []
    for j in range(l):
      b = 4 * j + 1
      h = self.hidden[_int_field(f"embedding[{b}]", e[b], range(len(self.hidden)))]
      op = self.ops[_int_field(f"embedding[{b + 1}]", e[b + 1], range(len(self.ops)))]
      n = self.heads[_int_field(f"embedding[{b + 2}]", e[b + 2], range(len(self.heads)))]
      ff = self._ff.unrank(_int_field(f"embedding[{b + 3}]", e[b + 3], range(self._ff.count)))
      choices.append(((h, n), op, ff))
    if any(int(x) for x in e[1 + 4 * l:]):
      raise SpaceError("embedding", e, reason="entries of unused layers must be 0")
    return self.validate(self._from_choices(choices))

  @property
  def feature_dim(self) -> int:
    return self.max_layers * self._slot_dim

  def to_features(self, point) -> np.ndarray:
    md = self.validate(point)
    out = np.zeros((self.max_layers, self._slot_dim))
    for j in range(md["l"]):
      out[j] = np.concatenate([[1.0], _onehot(self.hidden.index(md["h"][j]), len(self.hidden)),
                               _onehot(self.ops.index((md["o"][j], md["p"][j])), len(self.ops)),
                               _onehot(self.heads.index(md["n"][j]), len(self.heads)),
                               self._ff.features(md["f"][j])])
    return out.ravel().astype(np.float32)

  def project(self, features) -> dict:
    """Nearest valid point in feature space (exact, separable per slot as in FlexiBERT2Space)."""
    y = np.asarray(features, np.float64)
    if y.shape != (self.feature_dim,) or not np.all(np.isfinite(y)):
      raise SpaceError("features", y.shape, allowed=f"finite, shape ({self.feature_dim},)")
    y = y.reshape(self.max_layers, self._slot_dim)
    nh, no, nn = len(self.hidden), len(self.ops), len(self.heads)
    active, inactive, choices = [], [], []
    for s in y:
      yh, yo, yn, yf = s[1:1 + nh], s[1 + nh:1 + nh + no], s[1 + nh + no:1 + nh + no + nn], s[1 + nh + no + nn:]
      ff_cost, ff = self._ff.nearest(yf)
      oi = int(np.argmin([np.sum((yo - _onehot(i, no)) ** 2) for i in range(no)]))
      best = min(((np.sum((yh - _onehot(self.hidden.index(h), nh)) ** 2)
                   + np.sum((yn - _onehot(self.heads.index(n), nn)) ** 2), (h, n)) for h, n in self._pairs),
                 key=lambda x: x[0])
      active.append((s[0] - 1) ** 2 + best[0] + np.sum((yo - _onehot(oi, no)) ** 2) + ff_cost)
      inactive.append(float(np.sum(s ** 2)))
      choices.append((best[1], self.ops[oi], ff))
    l = _nearest_layer_count(active, inactive, self.layers)
    return self._from_choices(choices[:l])

  def sample(self, key, n: int, method: str = "uniform") -> list:
    """Per-choice uniform ('uniform') or Latin-hypercube ('lhs') decisions (see FlexiBERT2Space)."""
    if method not in ("uniform", "lhs"):
      raise ValueError(f"invalid value for field 'method': {method!r}; allowed: ['uniform', 'lhs']")
    if n <= 0:
      return []
    rng = numpy_rng(key)
    k = 3 + self._ff.max_depth
    dim = 1 + self.max_layers * k
    u = rng.random((n, dim)) if method == "uniform" else qmc.LatinHypercube(d=dim, seed=rng).random(n)

    def pick(seq, x):
      return seq[min(int(x * len(seq)), len(seq) - 1)]
    out = []
    for row in u:
      l = pick(self.layers, row[0])
      choices = []
      for j in range(l):
        v = row[1 + j * k: 1 + (j + 1) * k]
        d = pick(self.ff_depths, v[2])
        widths = [pick(self.ff_widths, x) for x in v[3:3 + d]]
        choices.append((pick(self._pairs, v[0]), pick(self.ops, v[1]), widths))
      out.append(self._from_choices(choices))
    return out

  def hash(self, point) -> str:
    return flexibert1_hash(self.validate(point), self.hash_algo)

  def graph(self, point):
    return transformer_graph(flexibert1_to_flexibert2(self.validate(point)))


# ------------------------------------------------------------------------------------------------
# 2021 small library space
# ------------------------------------------------------------------------------------------------
class FlexiBERTSmallSpace(DesignSpace):
  """The homogeneous-op space of the 2021 FlexiBERT library (``flexibert_small/design_space.json``).

  Point: ``{l, a: [heads], h: [hidden], s: [similarity], f: [FF width]}``. Each list is a non-decreasing
  sequence (``itertools.combinations_with_replacement`` in the library's enumeration; 'sdp' < 'wma').
  Size: for L = 2: 3 * 3 * 3 * 6 = 162, L = 4: 5 * 5 * 5 * 15 = 1875, total 2,037 = the library.
  Points are enumerated in :attr:`points` (order: l, then h, a, s, f combinations; the library file
  holds exactly this set, in a different order).
  Embedding (ours): int64[1 + 4 * 4] per-layer indices (hidden, heads, similarity, FF) like flexibert1.
  Features per slot: active, hidden / heads / similarity / FF one-hots (40 in all); ``project`` is the
  exact nearest enumerated point. Hash: docs/graph_hashes.md section 4 (md5, V rounds, no residuals).
  """

  name = "flexibert_small"
  _KEYS = ("l", "a", "h", "s", "f")

  def __init__(self, hidden=None, heads=None, layers=None, ff_widths=None,
               similarity=("sdp", "wma"), custom_values: bool = False):
    c = self.custom_values = bool(custom_values)
    self.hidden = _restriction("hidden", hidden, (128, 256), custom=c)
    self.heads = _restriction("heads", heads, (2, 4), custom=c)
    self.layers = _restriction("layers", layers, (2, 4), custom=c)
    self.ff_widths = _restriction("ff_widths", ff_widths, (512, 1024, 2048), custom=c)
    self.similarity = _restriction("similarity", similarity, (), positive_ints=False, allowed=("sdp", "wma"))
    self.max_layers = max(self.layers)
    self._vocab = {"a": self.heads, "h": self.hidden, "s": self.similarity, "f": self.ff_widths}
    pts = []
    for l in self.layers:
      cw = {k: list(itertools.combinations_with_replacement(v, l)) for k, v in self._vocab.items()}
      for h, a, s, f in itertools.product(cw["h"], cw["a"], cw["s"], cw["f"]):
        pts.append({"l": l, "a": list(a), "h": list(h), "s": list(s), "f": list(f)})
    self.points = pts
    self._feat = np.stack([self._features64(p) for p in pts])
    self._index = {self._key(p): i for i, p in enumerate(pts)}
    self._hashes: dict[tuple, str] = {}  # memo of hash(); filled lazily

  @staticmethod
  def _key(p):
    return (p["l"],) + tuple(tuple(p[k]) for k in ("a", "h", "s", "f"))

  def size(self) -> int:
    return len(self.points)

  def describe(self) -> dict:
    return {"name": self.name, "point_format": "{l, a: [int], h: [int], s: [str], f: [int]} (non-decreasing)",
            "parameters": {"layers": list(self.layers), **{k: list(v) for k, v in self._vocab.items()}},
            "size": self.size(), "embedding_dim": 1 + 4 * self.max_layers, "feature_dim": self.feature_dim,
            "sampling_methods": ["uniform", "lhs"]}

  def validate(self, point) -> dict:
    if not isinstance(point, Mapping) or set(point) != set(self._KEYS):
      raise SpaceError("model_dict", sorted(point) if isinstance(point, Mapping) else point,
                       allowed=list(self._KEYS), reason="keys must be exactly l, a, h, s, f")
    l = _int_field("l", point["l"], self.layers)
    out = {"l": l}
    for k in ("a", "h", "s", "f"):
      vals = _list_field(k, point[k], l)
      allowed = self._vocab[k]
      for j, v in enumerate(vals):
        if k == "s":
          if v not in allowed:
            raise SpaceError(f"s[{j}]", v, allowed)
        else:
          _int_field(f"{k}[{j}]", v, allowed)
      idx = [allowed.index(v if k == "s" else int(v)) for v in vals]
      if idx != sorted(idx):
        raise SpaceError(k, vals, reason="must be non-decreasing (library enumeration)")
      out[k] = [v if k == "s" else int(v) for v in vals]
    return {k: out[k] for k in self._KEYS}

  def encode(self, point) -> np.ndarray:
    md = self.validate(point)
    e = np.zeros(1 + 4 * self.max_layers, np.int64)
    e[0] = self.layers.index(md["l"])
    for j in range(md["l"]):
      e[4 * j + 1: 4 * j + 5] = [self._vocab[k].index(md[k][j]) for k in ("h", "a", "s", "f")]
    return e

  def decode(self, embedding) -> dict:
    e = list(np.asarray(embedding).ravel())
    if len(e) != 1 + 4 * self.max_layers or not all(_is_int(x) for x in e):
      raise SpaceError("embedding", e, reason=f"must be {1 + 4 * self.max_layers} ints")
    l = self.layers[_int_field("embedding[0]", e[0], range(len(self.layers)))]
    md = {"l": l, "a": [], "h": [], "s": [], "f": []}
    for j in range(l):
      for i, k in enumerate(("h", "a", "s", "f")):
        b = 4 * j + 1 + i
        md[k].append(self._vocab[k][_int_field(f"embedding[{b}]", e[b], range(len(self._vocab[k])))])
    if any(int(x) for x in e[1 + 4 * l:]):
      raise SpaceError("embedding", e, reason="entries of unused layers must be 0")
    return self.validate(md)

  @property
  def feature_dim(self) -> int:
    return self.max_layers * (1 + sum(len(v) for v in self._vocab.values()))

  def _features64(self, md):
    slot = 1 + sum(len(v) for v in self._vocab.values())
    out = np.zeros((self.max_layers, slot))
    for j in range(md["l"]):
      out[j] = np.concatenate([[1.0]] + [_onehot(self._vocab[k].index(md[k][j]), len(self._vocab[k]))
                                         for k in ("h", "a", "s", "f")])
    return out.ravel()

  def to_features(self, point) -> np.ndarray:
    return self._features64(self.validate(point)).astype(np.float32)

  def project(self, features) -> dict:
    """Exact nearest of the enumerated points (brute force over :attr:`points`)."""
    y = np.asarray(features, np.float64)
    if y.shape != (self.feature_dim,) or not np.all(np.isfinite(y)):
      raise SpaceError("features", y.shape, allowed=f"finite, shape ({self.feature_dim},)")
    i = int(np.argmin(np.sum((self._feat - y) ** 2, axis=1)))
    return self._copy(self.points[i])

  def sample(self, key, n: int, method: str = "uniform") -> list:
    """'uniform': uniform over the enumerated points; 'lhs': stratified over the enumeration index."""
    if method not in ("uniform", "lhs"):
      raise ValueError(f"invalid value for field 'method': {method!r}; allowed: ['uniform', 'lhs']")
    if n <= 0:
      return []
    rng = numpy_rng(key)
    if method == "uniform":
      idx = rng.integers(0, len(self.points), n)
    else:
      idx = (qmc.LatinHypercube(d=1, seed=rng).random(n)[:, 0] * len(self.points)).astype(int)
    return [self._copy(self.points[i]) for i in idx]

  @staticmethod
  def _copy(p):
    return {k: (list(v) if isinstance(v, list) else v) for k, v in p.items()}

  def index(self, point) -> int:
    """Position of ``point`` in the library enumeration."""
    return self._index[self._key(self.validate(point))]

  def hash(self, point) -> str:
    """md5 graph hash of docs/graph_hashes.md section 4, memoised per point of this finite space (the
    Weisfeiler-Lehman rounds cost about 10 ms; the value depends only on the point)."""
    p = self.validate(point)
    k = self._key(p)
    h = self._hashes.get(k)
    if h is None:
      h = self._hashes[k] = small_hash(p)
    return h

  def graph(self, point):
    return transformer_graph(small_to_flexibert2(self.validate(point)))
