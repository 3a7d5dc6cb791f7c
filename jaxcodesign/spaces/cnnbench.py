"""CNNBench design space: CNNs as stacks of small DAG modules followed by a dense head.

Sources: CNNBench / CODEBench (Tuli et al., "CODEBench: A Neural Architecture and Hardware Accelerator
Co-Design Framework", ACM TECS 2022; jha-lab/cnn_design-space), graph construction and hashes in
``docs/graph_hashes.md`` (FlexiBERT, JAIR 2023; CODEBench, ACM TECS 2023) section 3, the published op vocabulary in
``../shared/fixtures/cnnbench/dataset_test.json`` (``config.base_ops``; defined here in code).

Point format (JSON-able)::

    {"modules": [{"matrix": [[0/1] * V] * V, "labels": ["input", <op>, ..., "output"]}, ..., <head>]}

The last module is the **head**: a chain ``input -> flatten|global-avg-pool -> dense ops ... ->
dense_classes -> output`` with 4..``head_vertices`` vertices. The other ("conv") modules have
``module_vertices`` vertices, an upper-triangular full-DAG adjacency (every vertex but the last has an
out-edge, every vertex but the first an in-edge, at most ``max_edges`` edges) and interior labels from
``base_ops``; they come in ``1..max_modules // modules_per_stack`` stacks of ``modules_per_stack``
identical modules (the CNNBench library uses 4 per stack).

Op grammar (:func:`parse_cnn_op`; option tokens after the first may come in any order, each once)::

    conv<k>x<k>[-c<C>][-dw][-g<G>][-p<P>][-s<S>][-bn][-relu|-silu]   convolution (+ batch norm + act.)
    maxpool<k>x<k>[-s<S>][-p<P>]   avgpool<k>x<k>[-s<S>][-p<P>]       pooling (default stride 1, pad 0)
    upsample-s<N>           bilinear resize to N x N          channel_shuffle-g<G>    channel shuffle
    dropout-p<D>            dropout with p = float("0." + D)  (p1 = 0.1, p11 = 0.11, p5 = 0.5)
    flatten | global-avg-pool          head: first op      dense-<N>-relu|silu   dense_classes
    input | output

Tensor semantics (THE contract shared with ``models/cnnbench.py`` and ``hardware/workload.py``; a
cleaned-up version of CNNBench ``model_builder.py``; tensors are (C, H, W), batch omitted):

1. Interior vertex ``v`` of a conv module with in-neighbours ``P`` (in vertex order). With one
   in-neighbour its tensor is used as is. With several: target channels ``Ct = max`` channels over
   ``P``, target size ``(Ht, Wt) = (max H, max W)``; every ``u`` in ``P`` with ``C_u != Ct`` is first
   projected by a 1x1 convolution without bias ('proj' row, at u's own size), then every tensor whose
   size differs is resized to ``(Ht, Wt)`` by nearest-neighbour interpolation ('upsample' row, label
   ``resize``), then all are summed ('add' row). (CNNBench projected only the module input and raised
   interior channel counts instead; that channel "correction" is not reproduced.)
2. The op of ``v``: conv ``k x k`` with ``Cout`` = ``-c`` (else ``default_channels`` = 128; ``-dw``
   without ``-c``: ``Cout = Cin``), stride ``s`` (default 1), zero padding ``p`` (default 0, so
   ``Hout = floor((H + 2p - k) / s) + 1``), groups: ``-dw`` -> ``gcd(Cin, Cout)``, ``-g<G>`` -> the
   largest ``g <= G`` dividing both ``Cin`` and ``Cout`` (CNNBench's decrement rule), else 1; no bias;
   then BatchNorm (``-bn``) and the activation. The row kind follows the *effective* groups g:
   'dwconv' if ``g == Cin > 1``, 'gconv' if ``g > 1``, else 'conv'. Pools keep channels. ``upsample-sN`` resizes
   bilinearly to N x N. ``channel_shuffle-gG`` uses ``gcd(C, G)`` groups. Dropout is the identity at
   inference.
3. The output vertex concatenates its interior in-neighbours along channels (in vertex order) after
   resizing them to the largest (H, W) (nearest); if the module input also feeds the output it is
   projected by a 1x1 convolution (no bias) to the concatenated channel count when the counts
   differ, resized to the concatenation's size (nearest) and added (CNNBench: concat + projected
   input, as in NASBench; CNNBench always projected, also for equal channel counts).
4. Head: ``flatten`` (C*H*W features) or ``global-avg-pool`` (C features), then the dense ops in order
   (``dense-N-act``: Linear with bias + activation; dropout), then ``dense_classes`` (Linear with bias,
   ``num_classes`` outputs, no activation; logits).

:func:`infer_shapes` lists one :class:`LayerShape` row per primitive with ``kind`` in
``conv, dwconv, gconv, bn, relu, silu, maxpool, avgpool, gap, upsample, channel_shuffle, dropout,
flatten, dense, add, concat, proj``. ``params`` counts trainable parameters (conv/proj: k*k*Cin/g*Cout;
BN: 2*C (scale and shift); dense: Cin*Cout + Cout). ``macs`` counts multiply-accumulates (conv/proj:
Hout*Wout*k*k*Cin/g*Cout; dense: Cin*Cout; BN: C*H*W; avgpool: k*k*C*Hout*Wout; gap: C*H*W;
add: (n-1)*C*H*W; bilinear upsample: 4*C*Hout*Wout) and is 0 for max pooling, activations, nearest
resize, concat, shuffle, dropout and flatten (element-wise work follows from the shapes).
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jraph
import numpy as np

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.spaces.base import DesignSpace, numpy_rng
from jaxcodesign.spaces.generic import full_dag_matrices, is_full_dag, triu_index
from jaxcodesign.spaces.graph_hash import hex_digest, wl_hash

# ------------------------------------------------------------------------------------------------
# Published vocabulary (config of ../shared/fixtures/cnnbench/dataset_test.json, CIFAR-10 library)
# ------------------------------------------------------------------------------------------------
_CONV1X1_RELU = (16, 24, 32, 48, 64, 96, 104, 112, 120, 128, 136, 144, 160, 176, 192, 240, 256, 288,
                 336, 384, 432, 448, 480, 512, 528, 576, 624, 672, 720, 728, 768)
_CONV1X1_SILU = (4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 40, 44, 48, 50, 52,
                 56, 58, 64, 68, 72, 76, 80, 86, 88, 96, 104, 112, 120, 128, 136, 144, 160, 176, 192,
                 200, 206, 208, 224, 232, 240, 256, 272, 288, 304, 320, 336, 344, 352, 384, 432, 448,
                 480, 512, 528, 576, 624, 640, 672, 720, 768)
_OPS_BEFORE = """channel_shuffle-g8 dropout-p1 dropout-p2 dropout-p5 dropout-p8 upsample-s240 upsample-s300
upsample-s380 upsample-s600 upsample-s800 maxpool3x3-s2 maxpool3x3-s2-p1 maxpool3x3 maxpool5x5
avgpool3x3-s2-p1 avgpool3x3 conv1x1-c32-dw-bn-relu conv1x1-c96-dw-bn-relu conv1x1-c192-dw-bn-relu
conv1x1-c32-g8-bn-relu conv1x1-c96-g8-bn-relu conv1x1-c96-g8-bn-silu conv1x1-c192-g8-bn-relu
conv1x1-c384-g8-bn-relu conv1x1-c32-g4-bn-relu conv1x1-c96-g4-bn-relu"""
_OPS_AFTER = """conv3x3-c64-dw-p1-s2-bn-relu conv3x3-c96-dw-p1-s2-bn-relu conv3x3-c128-dw-p1-s2-bn-relu
conv3x3-c192-dw-p1-s2-bn-relu conv3x3-c256-dw-p1-s2-bn-relu conv3x3-c384-dw-p1-s2-bn-relu
conv3x3-c512-dw-p1-s2-bn-relu conv3x3-c728-dw-bn-relu conv3x3-c32-g8-p1-s2-bn-relu conv3x3-c32-g8-bn-relu
conv3x3-c64-g8-p1-s2-bn-relu conv3x3-c64-g8-bn-relu conv3x3-c96-g8-p1-s2-bn-relu conv3x3-c96-g8-bn-relu
conv3x3-c128-g8-p1-s2-bn-relu conv3x3-c128-g8-bn-relu conv3x3-c6-bn-relu conv3x3-c6-bn-silu
conv3x3-c16-bn-relu conv3x3-c32-s2-bn-relu conv3x3-c64-s2-bn-relu conv3x3-c64-bn-relu
conv3x3-c128-p1-s2-bn-relu conv3x3-c128-s2-bn-relu conv3x3-c128-bn-relu conv3x3-c192-bn-relu
conv3x3-c256-p1-s2-bn-relu conv3x3-c256-bn-relu conv3x3-c256-bn-silu conv3x3-c288-bn-relu
conv3x3-c288-bn-silu conv3x3-c320-bn-relu conv3x3-c512-p1-s2-bn-relu conv3x3-c512-bn-relu
conv3x3-c512-bn-silu conv3x3-c768-bn-relu conv3x3-c768-bn-silu conv5x5-c32-g8-bn-relu conv5x5-c64-bn-relu
conv5x5-c128-bn-relu conv5x5-c192-p2-bn-relu conv5x5-c192-bn-relu conv5x5-c192-bn-silu
conv7x7-c64-p3-s2-bn-relu conv11x11-c64-p2-s4-bn-relu conv11x11-c64-p3-s4-bn-relu"""


def _published_base_ops() -> tuple[str, ...]:
  # The 98 plain 1x1 convolutions are ordered by channel count, relu before silu.
  plain = sorted([(c, 0) for c in _CONV1X1_RELU] + [(c, 1) for c in _CONV1X1_SILU])
  conv1x1 = [f"conv1x1-c{c}-bn-{'silu' if s else 'relu'}" for c, s in plain]
  return tuple(_OPS_BEFORE.split()) + tuple(conv1x1) + tuple(_OPS_AFTER.split())


#: the 170 ``base_ops`` of the published CNNBench CIFAR-10 configuration, in their published order
CNNBENCH_BASE_OPS: tuple[str, ...] = _published_base_ops()
#: head vertex 1 ops and head dense ops of the same configuration
CNNBENCH_FLATTEN_OPS: tuple[str, ...] = ("flatten", "global-avg-pool")
CNNBENCH_DENSE_OPS: tuple[str, ...] = ("dropout-p11", "dropout-p2", "dropout-p3", "dropout-p4", "dropout-p5",
                                       "dropout-p6", "dropout-p7", "dense-84-relu", "dense-120-relu",
                                       "dense-1024-relu", "dense-4096-relu")
#: a small vocabulary for 8x8 digit images (co-design): shape-preserving convolutions and pools
SMALL_BASE_OPS: tuple[str, ...] = ("conv3x3-c16-p1-bn-relu", "conv3x3-c32-p1-bn-relu", "conv1x1-c16-bn-relu",
                                   "conv1x1-c32-bn-relu", "conv3x3-c32-dw-p1-bn-relu", "maxpool3x3-p1",
                                   "avgpool3x3-p1", "maxpool3x3-s2-p1")
SMALL_DENSE_OPS: tuple[str, ...] = ("dense-32-relu", "dense-64-relu", "dropout-p1", "dropout-p2")

DEFAULT_CHANNELS = 128  # config.default_channels of the published configuration
HASH_ALGO = "sha256"  # config.hash_algo of the published configuration

GRAMMAR = ("conv<k>x<k>[-c<C>][-dw][-g<G>][-p<P>][-s<S>][-bn][-relu|-silu], maxpool<k>x<k>[-s<S>][-p<P>], "
           "avgpool<k>x<k>[-s<S>][-p<P>], upsample-s<N>, channel_shuffle-g<G>, dropout-p<D>, flatten, "
           "global-avg-pool, dense-<N>-relu|silu, dense_classes, input, output")

#: node kinds of the graph view (one-hot block of :meth:`CNNBenchSpace.graph`)
NODE_KINDS = ("input", "output", "conv", "dwconv", "gconv", "maxpool", "avgpool", "upsample",
              "channel_shuffle", "dropout", "flatten", "gap", "dense", "dense_classes")
#: kinds of :class:`LayerShape` rows
LAYER_KINDS = ("conv", "dwconv", "gconv", "bn", "relu", "silu", "maxpool", "avgpool", "gap", "upsample",
               "channel_shuffle", "dropout", "flatten", "dense", "add", "concat", "proj")


class CNNOp(NamedTuple):
  """A parsed op label.

  ``kind`` is one of ``input, output, conv, maxpool, avgpool, upsample, channel_shuffle, dropout,
  flatten, gap, dense, dense_classes``; ``channels`` is a conv's ``-c`` (None: default / depth-wise);
  ``groups`` the requested ``-g`` (conv) or shuffle groups; ``size`` the upsample output side;
  ``prob`` the dropout probability; ``units`` a dense layer's width.
  """
  kind: str
  kernel: int = 0
  channels: int | None = None
  stride: int = 1
  padding: int = 0
  groups: int = 1
  depthwise: bool = False
  batchnorm: bool = False
  activation: str | None = None
  size: int = 0
  prob: float = 0.0
  units: int = 0

  @property
  def node_kind(self) -> str:
    """Kind used in the graph view: conv split into conv / dwconv / gconv by its label."""
    if self.kind == "conv":
      return "dwconv" if self.depthwise else ("gconv" if self.groups > 1 else "conv")
    return self.kind

  def preserves_size(self) -> bool:
    """True if the op never shrinks the spatial size (stride 1 and 2p >= k - 1, or not spatial)."""
    if self.kind in ("conv", "maxpool", "avgpool"):
      return self.stride == 1 and 2 * self.padding >= self.kernel - 1
    return self.kind in ("upsample", "channel_shuffle", "dropout")


_KXK = re.compile(r"(conv|maxpool|avgpool)(\d+)x(\d+)")
_TOKEN = re.compile(r"(c|g|p|s)(\d+)")


def _bad(label, reason: str) -> SpaceError:
  return SpaceError("label", label, GRAMMAR, reason=reason)


@functools.lru_cache(maxsize=4096)
def parse_cnn_op(label: str) -> CNNOp:
  """Parses one CNNBench op label (grammar in the module docstring).

  Raises:
    SpaceError: naming the label and the grammar, for an unknown op, unknown or repeated option token,
      non-square kernel, zero stride / kernel / size, or a token not allowed for the op.
  """
  if not isinstance(label, str):
    raise _bad(label, "not a string")
  if label in ("input", "output", "flatten", "dense_classes"):
    return CNNOp(kind=label)
  if label == "global-avg-pool":
    return CNNOp(kind="gap")
  tokens = label.split("-")
  head, opts = tokens[0], tokens[1:]
  if head == "dense":
    if len(opts) != 2 or not opts[0].isdigit() or int(opts[0]) < 1 or opts[1] not in ("relu", "silu"):
      raise _bad(label, "dense ops are dense-<N>-relu|silu")
    return CNNOp(kind="dense", units=int(opts[0]), activation=opts[1])
  if head in ("dropout", "upsample", "channel_shuffle"):
    want = {"dropout": "p", "upsample": "s", "channel_shuffle": "g"}[head]
    m = _TOKEN.fullmatch(opts[0]) if len(opts) == 1 else None
    if m is None or m.group(1) != want:
      raise _bad(label, f"{head} takes exactly one -{want}<N> token")
    val = m.group(2)
    if head == "dropout":
      return CNNOp(kind="dropout", prob=float("0." + val))
    if int(val) < 1:
      raise _bad(label, f"{head} needs -{want} >= 1")
    return CNNOp(kind="upsample", size=int(val)) if head == "upsample" else \
        CNNOp(kind="channel_shuffle", groups=int(val))
  m = _KXK.fullmatch(head)
  if m is None:
    raise _bad(label, "unknown op")
  kind, k1, k2 = m.group(1), int(m.group(2)), int(m.group(3))
  if k1 != k2 or k1 < 1:
    raise _bad(label, "kernels must be square and >= 1")
  fields: dict[str, Any] = {}
  seen = set()
  for i, tok in enumerate(opts):
    name = tok
    tm = _TOKEN.fullmatch(tok)
    if tm is not None:
      name = tm.group(1)
    if name in seen:
      raise _bad(label, f"repeated token -{tok}")
    seen.add(name)
    if tm is not None and (kind == "conv" or name in ("s", "p")):
      val = int(tm.group(2))
      if name in ("c", "g", "s") and val < 1:
        raise _bad(label, f"-{name} must be >= 1")
      fields[{"c": "channels", "g": "groups", "p": "padding", "s": "stride"}[name]] = val
    elif kind == "conv" and tok == "dw":
      fields["depthwise"] = True
    elif kind == "conv" and tok == "bn":
      fields["batchnorm"] = True
    elif kind == "conv" and tok in ("relu", "silu") and i == len(opts) - 1:
      fields["activation"] = tok
    else:
      raise _bad(label, f"unknown or misplaced token -{tok} for {kind}")
  if fields.get("depthwise") and "groups" in fields:
    raise _bad(label, "-dw and -g are exclusive")
  return CNNOp(kind=kind, kernel=k1, **fields)


# ------------------------------------------------------------------------------------------------
# Hashes (docs/graph_hashes.md section 3)
# ------------------------------------------------------------------------------------------------
def _modules_of(point) -> list[tuple[np.ndarray, list[str]]]:
  if isinstance(point, Mapping):
    mods = point.get("modules")
    if not isinstance(mods, (list, tuple)) or not mods:
      raise SpaceError("modules", mods, reason="need a non-empty list of {'matrix', 'labels'} dicts")
    out = []
    for i, m in enumerate(mods):
      if not isinstance(m, Mapping) or "matrix" not in m or "labels" not in m:
        raise SpaceError(f"modules[{i}]", m, reason="need keys 'matrix' and 'labels'")
      out.append((np.asarray(m["matrix"]), list(m["labels"])))
    return out
  return [(np.asarray(a), list(l)) for a, l in point]


def point_from_lists(matrices: Sequence, labels: Sequence) -> dict:
  """``{"modules": [...]}`` from parallel lists of module matrices and labels (the fixture layout)."""
  if len(matrices) != len(labels):
    raise SpaceError("labels", len(labels), reason=f"need one label list per matrix ({len(matrices)})")
  return {"modules": [{"matrix": np.asarray(a).astype(int).tolist(), "labels": list(l)}
                      for a, l in zip(matrices, labels)]}


def module_hash(matrix, labels: Sequence[str], algo: str = HASH_ALGO) -> str:
  """``WL(A, labels, sha256, R = V)`` of one module (docs/graph_hashes.md 3.2): 64 hex characters."""
  return wl_hash(matrix, labels, algo, rounds=len(labels))


def merge_modules(modules: Sequence[tuple]) -> list[tuple[np.ndarray, list[str]]]:
  """Left-to-right merging of consecutive "mergeable" modules (docs/graph_hashes.md 3.4).

  A module is mergeable when the last column of its matrix sums to exactly 1. ``merge((A1, L1),
  (A2, L2))`` has size n1 + n2 - 2: A1 in the top-left block, then the whole of A2 written at offset
  n1 - 2; labels ``L1[:-1] + L2[1:]``.

  Raises:
    SpaceError: if a merged module is not a full DAG.
  """
  merged: list[tuple[np.ndarray, list[str]]] = []
  for a, l in modules:
    a = np.asarray(a, np.int64)
    if merged and merged[-1][0][:, -1].sum() == 1 and a[:, -1].sum() == 1:
      a1, l1 = merged[-1]
      n1, n2 = a1.shape[0], a.shape[0]
      new = np.zeros((n1 + n2 - 2, n1 + n2 - 2), np.int64)
      new[:n1, :n1] = a1
      new[n1 - 2:, n1 - 2:] = a
      if not is_full_dag(new):
        raise SpaceError("modules", new.tolist(), reason="merged module is not a full DAG")
      merged[-1] = (new, l1[:-1] + list(l)[1:])
    else:
      merged.append((a, list(l)))
  return merged


def graph_hash(point, merge: bool = False, algo: str = HASH_ALGO) -> str:
  """CNNBench graph hash of a point (``{"modules": [...]}`` or a list of (matrix, labels) pairs).

  ``merge=False``: ``hash_graph_simple`` (docs/graph_hashes.md 3.3, the fixture's ``hashes``):
  ``sha256('|'.join(module_hash(M) for M in modules))`` over all modules including the head.
  ``merge=True``: ``hash_graph`` (3.4): the same after :func:`merge_modules`.

  Returns:
    64 lower-case hex characters.
  """
  mods = _modules_of(point)
  if merge:
    mods = merge_modules(mods)
  return hex_digest("|".join(module_hash(a, l, algo) for a, l in mods), algo)


# ------------------------------------------------------------------------------------------------
# Shape inference
# ------------------------------------------------------------------------------------------------
class LayerShape(NamedTuple):
  """One primitive of the network (see the module docstring for the semantics).

  ``module``/``vertex`` locate the consuming vertex; ``in_hw``/``out_hw`` are (H, W) (``(1, 1)`` in the
  head after flatten / gap); ``kernel``/``stride`` 0 where meaningless; ``params`` trainable
  parameters; ``macs`` multiply-accumulates for batch 1.
  """
  module: int
  vertex: int
  label: str
  kind: str
  in_channels: int
  out_channels: int
  in_hw: tuple[int, int]
  out_hw: tuple[int, int]
  kernel: int
  stride: int
  groups: int
  params: int
  macs: int


class _ShapeFailure(Exception):
  def __init__(self, module: int, vertex: int, label: str, hw):
    super().__init__(f"module {module} vertex {vertex} {label}: spatial size {hw}")
    self.module, self.vertex, self.label, self.hw = module, vertex, label, hw


def _largest_divisor(limit: int, a: int, b: int) -> int:
  g = max(1, min(limit, a))
  while a % g or b % g:
    g -= 1
  return g


def _vertex_op(rows: list, m: int, v: int, label: str, c: int, hw: tuple[int, int],
               default_channels: int) -> tuple[int, tuple[int, int]]:
  """Appends the rows of op ``label`` applied to a (c, hw) tensor; returns the output (c, hw)."""
  op = parse_cnn_op(label)
  h, w = hw
  if op.kind in ("conv", "maxpool", "avgpool"):
    ho = (h + 2 * op.padding - op.kernel) // op.stride + 1
    wo = (w + 2 * op.padding - op.kernel) // op.stride + 1
    if ho < 1 or wo < 1:
      raise _ShapeFailure(m, v, label, (ho, wo))
    out = (ho, wo)
    if op.kind == "conv":
      cout = op.channels if op.channels is not None else (c if op.depthwise else default_channels)
      if op.depthwise:
        g = math.gcd(c, cout)
      else:
        g = _largest_divisor(op.groups, c, cout)
      kind = "dwconv" if (g == c and g > 1) else ("gconv" if g > 1 else "conv")
      params = op.kernel * op.kernel * (c // g) * cout
      rows.append(LayerShape(m, v, label, kind, c, cout, hw, out, op.kernel, op.stride, g, params,
                             params * ho * wo))
      if op.batchnorm:
        rows.append(LayerShape(m, v, label, "bn", cout, cout, out, out, 0, 0, 1, 2 * cout, cout * ho * wo))
      if op.activation:
        rows.append(LayerShape(m, v, label, op.activation, cout, cout, out, out, 0, 0, 1, 0, 0))
      return cout, out
    macs = op.kernel * op.kernel * c * ho * wo if op.kind == "avgpool" else 0
    rows.append(LayerShape(m, v, label, op.kind, c, c, hw, out, op.kernel, op.stride, 1, 0, macs))
    return c, out
  if op.kind == "upsample":
    out = (op.size, op.size)
    rows.append(LayerShape(m, v, label, "upsample", c, c, hw, out, 0, 0, 1, 0, 4 * c * op.size * op.size))
    return c, out
  if op.kind == "channel_shuffle":
    rows.append(LayerShape(m, v, label, "channel_shuffle", c, c, hw, hw, 0, 0, math.gcd(c, op.groups), 0, 0))
    return c, hw
  if op.kind == "dropout":
    rows.append(LayerShape(m, v, label, "dropout", c, c, hw, hw, 0, 0, 1, 0, 0))
    return c, hw
  raise SpaceError(f"modules[{m}].labels[{v}]", label, reason="not a conv-module op")


def _merge_inputs(rows: list, m: int, v: int, ins: list[tuple[int, int, tuple[int, int]]],
                  target_c: int | None, combine: str,
                  target_hw: tuple[int, int] | None = None) -> tuple[int, tuple[int, int]]:
  """Projection / resize / add-or-concat rows for the in-neighbours ``ins`` = [(u, c, hw)]; the
  common size is ``target_hw`` or else the elementwise maximum."""
  tgt = target_hw or (max(hw[0] for _, _, hw in ins), max(hw[1] for _, _, hw in ins))
  th, tw = tgt
  out_c = 0
  for u, c, hw in ins:
    if target_c is not None and c != target_c:
      rows.append(LayerShape(m, v, f"proj<-{u}", "proj", c, target_c, hw, hw, 1, 1, 1, c * target_c,
                             c * target_c * hw[0] * hw[1]))
      c = target_c
    if hw != tgt:
      rows.append(LayerShape(m, v, f"resize<-{u}", "upsample", c, c, hw, tgt, 0, 0, 1, 0, 0))
    out_c += c
  if combine == "add":
    c = target_c
    rows.append(LayerShape(m, v, "add", "add", c, c, tgt, tgt, 0, 0, 1, 0, (len(ins) - 1) * c * th * tw))
    return c, tgt
  rows.append(LayerShape(m, v, "concat", "concat", out_c, out_c, tgt, tgt, 0, 0, 1, 0, 0))
  return out_c, tgt


def _infer(point, input_shape, num_classes: int, default_channels: int) -> list[LayerShape]:
  mods = _modules_of(point)
  c, h, w = (int(x) for x in input_shape)
  hw = (h, w)
  rows: list[LayerShape] = []
  for m, (a, labels) in enumerate(mods[:-1]):
    nv = len(labels)
    vals: dict[int, tuple[int, tuple[int, int]]] = {0: (c, hw)}
    for v in range(1, nv - 1):
      preds = [u for u in range(v) if a[u, v]]
      if len(preds) == 1:
        vin = vals[preds[0]]
      else:
        ins = [(u, *vals[u]) for u in preds]
        vin = _merge_inputs(rows, m, v, ins, max(x[1] for x in ins), "add")
      vals[v] = _vertex_op(rows, m, v, labels[v], vin[0], vin[1], default_channels)
    last = nv - 1
    interior = [u for u in range(1, last) if a[u, last]]
    if not interior:
      raise SpaceError(f"modules[{m}].matrix", a.tolist(), reason="output has no interior in-neighbour")
    if len(interior) == 1:
      c, hw = vals[interior[0]]
    else:
      c, hw = _merge_inputs(rows, m, last, [(u, *vals[u]) for u in interior], None, "concat")
    if a[0, last]:
      c, hw = _merge_inputs(rows, m, last, [(last, c, hw), (0, *vals[0])], c, "add", hw)
  hm = len(mods) - 1
  _, labels = mods[-1]
  first = parse_cnn_op(labels[1])
  if first.kind == "flatten":
    f = c * hw[0] * hw[1]
    rows.append(LayerShape(hm, 1, labels[1], "flatten", c, f, hw, (1, 1), 0, 0, 1, 0, 0))
  elif first.kind == "gap":
    f = c
    rows.append(LayerShape(hm, 1, labels[1], "gap", c, c, hw, (1, 1), 0, 0, 1, 0, c * hw[0] * hw[1]))
  else:
    raise SpaceError(f"modules[{hm}].labels[1]", labels[1], list(CNNBENCH_FLATTEN_OPS))
  one = (1, 1)
  for v in range(2, len(labels) - 1):
    op = parse_cnn_op(labels[v])
    if op.kind in ("dense", "dense_classes"):
      n = op.units if op.kind == "dense" else int(num_classes)
      rows.append(LayerShape(hm, v, labels[v], "dense", f, n, one, one, 0, 0, 1, f * n + n, f * n))
      if op.activation:
        rows.append(LayerShape(hm, v, labels[v], op.activation, n, n, one, one, 0, 0, 1, 0, 0))
      f = n
    elif op.kind == "dropout":
      rows.append(LayerShape(hm, v, labels[v], "dropout", f, f, one, one, 0, 0, 1, 0, 0))
    else:
      raise SpaceError(f"modules[{hm}].labels[{v}]", labels[v], reason="not a head op")
  return rows


def infer_shapes(point, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10,
                 default_channels: int = DEFAULT_CHANNELS) -> list[LayerShape]:
  """Per-primitive shapes, parameter counts and MACs of a CNNBench network (module docstring).

  Args:
    point: ``{"modules": [...]}`` (structure is assumed valid; use ``CNNBenchSpace.validate``).
    input_shape: (C, H, W) of one input image.
    num_classes: outputs of ``dense_classes``.
    default_channels: output channels of a conv label without ``-c`` (128 in CNNBench).

  Returns:
    list of :class:`LayerShape` in execution order. ``sum(r.params)`` is the model's parameter count.

  Raises:
    SpaceError: an op label outside the grammar, or a spatial size that drops below 1 (field
      ``modules[m].labels[v]``).
  """
  if len(tuple(input_shape)) != 3 or any(int(x) < 1 for x in input_shape):
    raise ConfigError(f"invalid value for field 'input_shape': {input_shape!r}; allowed: (C, H, W) >= 1")
  try:
    return _infer(point, input_shape, num_classes, default_channels)
  except _ShapeFailure as e:
    raise SpaceError(f"modules[{e.module}].labels[{e.vertex}]", e.label,
                     reason=f"spatial size collapses to {e.hw} for input {tuple(input_shape)}") from None


# ------------------------------------------------------------------------------------------------
# The space
# ------------------------------------------------------------------------------------------------
class CNNBenchSpace(DesignSpace):
  """CNNBench space (point format, grammar and semantics in the module docstring).

  Args:
    base_ops: interior op vocabulary of conv modules (default: the 170 published ops).
    module_vertices: V of every conv module (3..7; CNNBench: 5).
    max_edges: edge limit per conv module (default ``module_vertices + 3``, as CNNBench).
    max_modules: maximum number of conv modules (CNNBench: 16).
    modules_per_stack: identical modules per stack (CNNBench: 4); 1 allows any module sequence.
    head_vertices: maximum head size (4..; CNNBench: 8).
    flatten_ops, dense_ops: head vocabularies (default: the published ones).
    input_shape: (C, H, W); num_classes: classifier outputs.
    check_shapes: if True (default) a point whose spatial size collapses below 1 for ``input_shape``
      is invalid; sampling and projection then repair it (see :meth:`project`).
    default_channels: conv channels when a label has no ``-c``.

  Features (float32 in [0, 1]): one-hot of the number of stacks (S = max_modules // modules_per_stack),
  then per stack slot the strict upper triangle of the module adjacency (row-major, V(V-1)/2 bits)
  and a one-hot over ``base_ops`` per interior vertex (unused slots all zero), then a one-hot of the
  head size (4..head_vertices), a one-hot over ``flatten_ops`` and a one-hot over ``dense_ops`` per
  dense slot (head_vertices - 4 slots, unused ones zero).

  ``size()`` counts point representations exactly, ignoring the shape check:
  ``(sum_{s=1..S} (n_dag * |base_ops|^(V-2))^s) * sum_{h=4..head_vertices} |flatten_ops| *
  |dense_ops|^(h-4)``, with ``n_dag`` the number of full DAGs within the edge limit (enumerated).
  Isomorphic modules count separately (the hash identifies them).
  """

  name = "cnnbench"

  def __init__(self, base_ops: Sequence[str] | None = None, module_vertices: int = 5,
               max_edges: int | None = None, max_modules: int = 16, modules_per_stack: int = 4,
               head_vertices: int = 8, flatten_ops: Sequence[str] | None = None,
               dense_ops: Sequence[str] | None = None, input_shape: Sequence[int] = (3, 32, 32),
               num_classes: int = 10, check_shapes: bool = True, default_channels: int = DEFAULT_CHANNELS):
    self.base_ops = tuple(CNNBENCH_BASE_OPS if base_ops is None else base_ops)
    self.flatten_ops = tuple(CNNBENCH_FLATTEN_OPS if flatten_ops is None else flatten_ops)
    self.dense_ops = tuple(CNNBENCH_DENSE_OPS if dense_ops is None else dense_ops)
    for field, ops, kinds in (("base_ops", self.base_ops, ("conv", "maxpool", "avgpool", "upsample",
                                                           "channel_shuffle", "dropout")),
                              ("flatten_ops", self.flatten_ops, ("flatten", "gap")),
                              ("dense_ops", self.dense_ops, ("dense", "dropout"))):
      if not ops or len(set(ops)) != len(ops):
        raise ConfigError(f"invalid value for field {field!r}: need distinct, non-empty ops")
      for op in ops:
        if parse_cnn_op(op).kind not in kinds:
          raise ConfigError(f"invalid value for field {field!r}: {op!r}; allowed kinds: {list(kinds)}")
    if not 3 <= module_vertices <= 7:
      raise ConfigError(f"invalid value for field 'module_vertices': {module_vertices}; allowed: 3..7")
    self.module_vertices = int(module_vertices)
    self.max_edges = int(module_vertices + 3 if max_edges is None else max_edges)
    if modules_per_stack < 1 or max_modules < modules_per_stack:
      raise ConfigError(f"invalid max_modules={max_modules}, modules_per_stack={modules_per_stack}; "
                        "allowed: 1 <= modules_per_stack <= max_modules")
    self.max_modules, self.modules_per_stack = int(max_modules), int(modules_per_stack)
    self.max_stacks = self.max_modules // self.modules_per_stack
    if head_vertices < 4:
      raise ConfigError(f"invalid value for field 'head_vertices': {head_vertices}; allowed: >= 4")
    self.head_vertices = int(head_vertices)
    if len(tuple(input_shape)) != 3 or any(int(x) < 1 for x in input_shape):
      raise ConfigError(f"invalid value for field 'input_shape': {input_shape!r}; allowed: (C, H, W) >= 1")
    self.input_shape = tuple(int(x) for x in input_shape)
    self.num_classes = int(num_classes)
    self.check_shapes = bool(check_shapes)
    self.default_channels = int(default_channels)
    self._dags = full_dag_matrices(self.module_vertices, self.max_edges)
    if len(self._dags) == 0:
      raise ConfigError(f"invalid value for field 'max_edges': {self.max_edges}; no full DAG on "
                        f"{self.module_vertices} vertices fits")
    self._tri = triu_index(self.module_vertices)
    self._dag_bits = self._dags[:, self._tri[0], self._tri[1]].astype(np.float64)  # [n_dag, T]
    self._op_index = {op: i for i, op in enumerate(self.base_ops)}
    self._safe = np.array([parse_cnn_op(op).preserves_size() for op in self.base_ops])
    if self.check_shapes and not self._safe.any():
      raise ConfigError("invalid value for field 'base_ops': no size-preserving op (stride 1, 2p >= k-1) "
                        "to repair collapsing points; add one or pass check_shapes=False")
    # feature layout
    v, t = self.module_vertices, len(self._tri[0])
    self._slot_dim = t + (v - 2) * len(self.base_ops)
    self._head_off = self.max_stacks + self.max_stacks * self._slot_dim
    self._n_head_sizes = self.head_vertices - 3
    self._feature_dim = (self._head_off + self._n_head_sizes + len(self.flatten_ops)
                         + (self.head_vertices - 4) * len(self.dense_ops))
    # graph-view normalisers (from the vocabulary, so features stay in [0, 1])
    parsed = [parse_cnn_op(o) for o in self.base_ops + self.dense_ops]
    self._norm = {
        "channels": math.log2(1 + max([self.default_channels, self.num_classes, self.input_shape[0]]
                                      + [p.channels or 0 for p in parsed] + [p.units for p in parsed])),
        "kernel": max([1] + [p.kernel for p in parsed]), "stride": max([1] + [p.stride for p in parsed]),
        "padding": max([1] + [p.padding for p in parsed]), "size": max([1] + [p.size for p in parsed])}

  # ---- description ------------------------------------------------------------------------
  def describe(self) -> dict:
    return {"name": self.name, "base_ops": list(self.base_ops), "module_vertices": self.module_vertices,
            "max_edges": self.max_edges, "max_modules": self.max_modules,
            "modules_per_stack": self.modules_per_stack, "head_vertices": self.head_vertices,
            "flatten_ops": list(self.flatten_ops), "dense_ops": list(self.dense_ops),
            "input_shape": list(self.input_shape), "num_classes": self.num_classes,
            "n_module_dags": int(len(self._dags)), "size": self.size()}

  def size(self) -> int:
    n_mod = len(self._dags) * len(self.base_ops) ** (self.module_vertices - 2)
    n_heads = sum(len(self.flatten_ops) * len(self.dense_ops) ** (h - 4)
                  for h in range(4, self.head_vertices + 1))
    return sum(n_mod ** s for s in range(1, self.max_stacks + 1)) * n_heads

  # ---- validation ---------------------------------------------------------------------------
  def _check_matrix(self, a, field: str, v: int) -> np.ndarray:
    try:
      arr = np.asarray(a, dtype=np.int64)
    except (TypeError, ValueError):
      raise SpaceError(field, a, reason=f"expected a [{v}, {v}] 0/1 matrix") from None
    if arr.shape != (v, v) or np.any((arr != 0) & (arr != 1)):
      raise SpaceError(field, a, reason=f"expected a [{v}, {v}] 0/1 matrix")
    if np.any(np.tril(arr) != 0):
      i, j = np.argwhere(np.tril(arr) != 0)[0]
      raise SpaceError(field, arr.tolist(), "strictly upper-triangular matrices (edges u -> w with u < w)",
                       reason=f"cyclic or unordered: entry [{i}][{j}] on or below the diagonal")
    for i in range(v - 1):
      if arr[i].sum() == 0:
        raise SpaceError(field, arr.tolist(), reason=f"dangling vertex {i}: no out-edge")
    for j in range(1, v):
      if arr[:, j].sum() == 0:
        raise SpaceError(field, arr.tolist(), reason=f"dangling vertex {j}: no in-edge")
    return arr

  def validate(self, point) -> dict:
    """Canonical form of ``point``.

    Raises:
      SpaceError: naming the field (``modules``, ``modules[m].matrix``, ``modules[m].labels[v]``) for a
        wrong structure, a cyclic / lower-triangular or dangling module, too many edges, an unknown op,
        a malformed head, non-identical modules in a stack, or (``check_shapes``) a collapsing size.
    """
    if not isinstance(point, Mapping) or not isinstance(point.get("modules"), (list, tuple)):
      raise SpaceError("modules", point, reason="point must be {'modules': [...]}")
    mods = point["modules"]
    n_conv = len(mods) - 1
    allowed_n = [s * self.modules_per_stack for s in range(1, self.max_stacks + 1)]
    if n_conv not in allowed_n:
      raise SpaceError("modules", f"{n_conv} conv modules + head", allowed_n)
    out = []
    for m, mod in enumerate(mods):
      if not isinstance(mod, Mapping) or "matrix" not in mod or "labels" not in mod:
        raise SpaceError(f"modules[{m}]", mod, reason="need keys 'matrix' and 'labels'")
      labels = list(mod["labels"])
      head = m == n_conv
      v = len(labels)
      if head and not 4 <= v <= self.head_vertices:
        raise SpaceError(f"modules[{m}].labels", labels, f"heads of 4..{self.head_vertices} vertices")
      if not head and v != self.module_vertices:
        raise SpaceError(f"modules[{m}].labels", labels, f"exactly {self.module_vertices} vertices")
      a = self._check_matrix(mod["matrix"], f"modules[{m}].matrix", v)
      if labels[0] != "input":
        raise SpaceError(f"modules[{m}].labels[0]", labels[0], ["input"])
      if labels[-1] != "output":
        raise SpaceError(f"modules[{m}].labels[{v - 1}]", labels[-1], ["output"])
      if head:
        if not np.array_equal(a, np.eye(v, k=1, dtype=np.int64)):
          raise SpaceError(f"modules[{m}].matrix", a.tolist(), reason="the head must be a chain")
        if labels[1] not in self.flatten_ops:
          raise SpaceError(f"modules[{m}].labels[1]", labels[1], self.flatten_ops)
        for j in range(2, v - 2):
          if labels[j] not in self.dense_ops:
            raise SpaceError(f"modules[{m}].labels[{j}]", labels[j], self.dense_ops)
        if labels[v - 2] != "dense_classes":
          raise SpaceError(f"modules[{m}].labels[{v - 2}]", labels[v - 2], ["dense_classes"])
      else:
        if int(a.sum()) > self.max_edges:
          raise SpaceError(f"modules[{m}].matrix", a.tolist(), reason=f"too many edges: {int(a.sum())} > "
                           f"max_edges={self.max_edges}")
        for j in range(1, v - 1):
          if labels[j] not in self._op_index:
            try:
              parse_cnn_op(labels[j])
            except SpaceError as e:
              raise SpaceError(f"modules[{m}].labels[{j}]", labels[j], GRAMMAR, reason="unknown op") from e
            raise SpaceError(f"modules[{m}].labels[{j}]", labels[j], self.base_ops, reason="not in base_ops")
      out.append({"matrix": a.tolist(), "labels": labels})
    for m in range(n_conv):
      first = out[m - m % self.modules_per_stack]
      if out[m] != first:
        raise SpaceError(f"modules[{m}]", out[m], reason=f"modules of a stack ({self.modules_per_stack} "
                         "per stack) must be identical")
    canon = {"modules": out}
    if self.check_shapes:
      infer_shapes(canon, self.input_shape, self.num_classes, self.default_channels)
    return canon

  # ---- slots: the (stacks, head) view used by features, sampling and projection -------------
  def _build(self, stacks: list[tuple[int, list[int]]], head: tuple[int, list[int]]) -> dict:
    """Point from stacks [(dag index, op indices of interior vertices)] and head (flatten idx, dense idx)."""
    mods = []
    for d, ops in stacks:
      mod = {"matrix": self._dags[d].astype(int).tolist(),
             "labels": ["input"] + [self.base_ops[i] for i in ops] + ["output"]}
      mods += [mod] * self.modules_per_stack
    f, dense = head
    labels = ["input", self.flatten_ops[f]] + [self.dense_ops[i] for i in dense] + ["dense_classes", "output"]
    v = len(labels)
    mods.append({"matrix": np.eye(v, k=1, dtype=int).tolist(), "labels": labels})
    return {"modules": [dict(m) for m in mods]}

  def _repair_shapes(self, stacks, head, prefer: Callable[[int, int], np.ndarray]) -> dict:
    """Replaces the op of the first collapsing vertex by its most preferred size-preserving op until
    the point is shape-valid (terminates: each step makes one more vertex size-preserving)."""
    stacks = [(d, list(ops)) for d, ops in stacks]
    for _ in range(len(stacks) * self.module_vertices + 1):
      point = self._build(stacks, head)
      if not self.check_shapes:
        return point
      try:
        _infer(point, self.input_shape, self.num_classes, self.default_channels)
        return point
      except _ShapeFailure as e:
        s, j = e.module // self.modules_per_stack, e.vertex - 1
        score = np.where(self._safe, prefer(s, j), -np.inf)
        stacks[s][1][j] = int(np.argmax(score))
    raise AssertionError("shape repair did not terminate")  # unreachable

  # ---- sampling -------------------------------------------------------------------------------
  def sample(self, key, n: int, method: str = "uniform") -> list:
    """``n`` valid points: number of stacks, module DAGs (uniform over the enumerated full DAGs), ops,
    head size and head ops all uniform and independent; a shape-collapsing draw is repaired by
    replacing collapsing ops with random size-preserving ones. Only 'uniform' is supported."""
    if method != "uniform":
      raise ValueError(f"invalid value for field 'method': {method!r}; allowed: ['uniform']")
    rng = numpy_rng(key)
    nv, nops = self.module_vertices - 2, len(self.base_ops)
    out = []
    for _ in range(n):
      s = int(rng.integers(1, self.max_stacks + 1))
      stacks = [(int(rng.integers(len(self._dags))), rng.integers(0, nops, nv).tolist()) for _ in range(s)]
      hv = int(rng.integers(4, self.head_vertices + 1))
      head = (int(rng.integers(len(self.flatten_ops))), rng.integers(0, len(self.dense_ops), hv - 4).tolist())
      out.append(self._repair_shapes(stacks, head, lambda s_, j_: rng.random(nops)))
    return out

  # ---- features ------------------------------------------------------------------------------
  @property
  def feature_dim(self) -> int:
    return self._feature_dim

  def to_features(self, point) -> np.ndarray:
    p = self.validate(point)
    f = np.zeros(self._feature_dim, np.float32)
    mods = p["modules"]
    n_stacks = (len(mods) - 1) // self.modules_per_stack
    f[n_stacks - 1] = 1
    nt, nops = len(self._tri[0]), len(self.base_ops)
    for s in range(n_stacks):
      mod = mods[s * self.modules_per_stack]
      base = self.max_stacks + s * self._slot_dim
      f[base:base + nt] = np.asarray(mod["matrix"])[self._tri]
      for j, lab in enumerate(mod["labels"][1:-1]):
        f[base + nt + j * nops + self._op_index[lab]] = 1
    head = mods[-1]["labels"]
    o = self._head_off
    f[o + len(head) - 4] = 1
    o += self._n_head_sizes
    f[o + self.flatten_ops.index(head[1])] = 1
    o += len(self.flatten_ops)
    for j, lab in enumerate(head[2:-2]):
      f[o + j * len(self.dense_ops) + self.dense_ops.index(lab)] = 1
    return f

  def project(self, features) -> dict:
    """Nearest valid point to a feature vector (squared distance in feature space).

    Exact per block: argmax for the number of stacks, head size and every op one-hot; the module
    adjacency is the enumerated full DAG (within ``max_edges``) nearest to the slot's bits. A
    resulting point whose spatial size collapses is then repaired by replacing the first collapsing
    op with the size-preserving op of highest feature value, repeatedly (a greedy, not global,
    step). Valid points' features map back to themselves.
    """
    f = np.asarray(features, np.float64).reshape(self._feature_dim)
    n_stacks = int(np.argmax(f[:self.max_stacks])) + 1
    nt, nops, nv = len(self._tri[0]), len(self.base_ops), self.module_vertices - 2
    stacks, op_scores = [], []
    for s in range(n_stacks):
      base = self.max_stacks + s * self._slot_dim
      bits = f[base:base + nt]
      d = int(np.argmin(((self._dag_bits - bits) ** 2).sum(1)))
      sc = f[base + nt:base + nt + nv * nops].reshape(nv, nops)
      op_scores.append(sc)
      stacks.append((d, [int(np.argmax(row)) for row in sc]))
    o = self._head_off
    hv = int(np.argmax(f[o:o + self._n_head_sizes])) + 4
    o += self._n_head_sizes
    fl = int(np.argmax(f[o:o + len(self.flatten_ops)]))
    o += len(self.flatten_ops)
    nd = len(self.dense_ops)
    dense = [int(np.argmax(f[o + j * nd:o + (j + 1) * nd])) for j in range(hv - 4)]
    return self._repair_shapes(stacks, (fl, dense), lambda s, j: op_scores[s][j])

  # ---- identity / views -------------------------------------------------------------------------
  def hash(self, point) -> str:
    """``hash_graph_simple`` (sha256) of the validated point: the value stored in the fixture."""
    return graph_hash(self.validate(point))

  def describe_point(self, point) -> Mapping[str, Any]:
    p = self.validate(point)
    rows = infer_shapes(p, self.input_shape, self.num_classes, self.default_channels)
    return {"hash": graph_hash(p), "conv_modules": len(p["modules"]) - 1,
            "params": int(sum(r.params for r in rows)), "macs": int(sum(r.macs for r in rows))}

  def infer_shapes(self, point) -> list[LayerShape]:
    """:func:`infer_shapes` of a validated point with this space's input shape and classes."""
    return infer_shapes(self.validate(point), self.input_shape, self.num_classes, self.default_channels)

  def node_features(self, label: str) -> np.ndarray:
    """float32[len(NODE_KINDS) + 8] of one op label: kind one-hot, then log2(1 + channels or units)
    normalised, kernel, stride, padding, upsample size (each / the vocabulary maximum), bn flag,
    silu flag, dropout probability."""
    op = parse_cnn_op(label)
    x = np.zeros(len(NODE_KINDS) + 8, np.float32)
    x[NODE_KINDS.index(op.node_kind)] = 1
    k = len(NODE_KINDS)
    width = op.channels or op.units or (self.num_classes if op.kind == "dense_classes" else 0)
    x[k] = min(1.0, math.log2(1 + width) / self._norm["channels"])
    x[k + 1] = min(1.0, op.kernel / self._norm["kernel"])
    x[k + 2] = min(1.0, (op.stride if op.kind in ("conv", "maxpool", "avgpool") else 0) / self._norm["stride"])
    x[k + 3] = min(1.0, op.padding / self._norm["padding"])
    x[k + 4] = min(1.0, op.size / self._norm["size"])
    x[k + 5] = float(op.batchnorm)
    x[k + 6] = float(op.activation == "silu")
    x[k + 7] = op.prob
    return x

  def graph(self, point) -> jraph.GraphsTuple:
    """GraphsTuple of all vertices of all modules in order, module m's output linked to module m+1's
    input by one extra edge. ``nodes`` float32[N, 22] (:meth:`node_features`), ``edges`` float32[E, 1]
    (1 for an inter-module link), ``globals`` float32[1, 1] = conv modules / max_modules.
    N = sum of module sizes, E = sum of module edges + (modules - 1)."""
    p = self.validate(point)
    nodes, snd, rcv, link = [], [], [], []
    off = 0
    for m, mod in enumerate(p["modules"]):
      a = np.asarray(mod["matrix"])
      nodes += [self.node_features(l) for l in mod["labels"]]
      s, r = np.nonzero(a)
      snd += (s + off).tolist()
      rcv += (r + off).tolist()
      link += [0.0] * len(s)
      if m > 0:
        snd.append(off - 1)
        rcv.append(off)
        link.append(1.0)
      off += len(mod["labels"])
    return jraph.GraphsTuple(nodes=np.stack(nodes).astype(np.float32),
                             edges=np.asarray(link, np.float32).reshape(-1, 1),
                             senders=np.asarray(snd, np.int32), receivers=np.asarray(rcv, np.int32),
                             n_node=np.array([off], np.int32), n_edge=np.array([len(snd)], np.int32),
                             globals=np.array([[(len(p["modules"]) - 1) / self.max_modules]], np.float32))
