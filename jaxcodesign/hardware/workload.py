"""Workload lowering: a FlexiBERT 2.0 model dict -> a static, padded op table (NumPy, outside jit).

The op table is what the jitted AccelTran model (:mod:`jaxcodesign.hardware.acceltran`) scans over.
It is built once per model, in NumPy, and padded to a fixed *bucket* length so that every model of
one bucket shares one compilation of the simulator.

Op kinds and their per-op shapes (``B`` = batch, taken from the accelerator config unless the table
fixes it; ``N`` = sequence length; ``h`` = layer hidden size; ``d`` = head dim written in the op
string; ``g`` = number of identical heads merged into one group, see "head groups" below):

==============  ===================================================  ======================  ========
kind            computation (per group of g heads)                   weights loaded          resource
==============  ===================================================  ======================  ========
``embed``       embedding-table load ((V + N) x h0, V = 30522)       (V + N)·h0 (no batch)   DMA only
``matmul``      activation x weight (B, rows, K) x (K, cols)         K·cols (no batch)       MAC
``bmm``         activation x activation, ``count`` = g matrices     none                    MAC
                (B, rows, K) x (B, K, cols) each
``transform``   fixed N x N mixing (DFT real part / DCT-II) on the    none (on-chip           MAC
                head's d-slice: (N, N) x (B, N, g·d)                  coefficients)
``conv``        depthwise 1-D conv over tokens, g·d channels,       k·g·d                   MAC
                kernel k, stride 1, 'same' padding
``softmax``     row softmax over (B, rows, cols), ``count`` = g      none                    SM
``layernorm``   LayerNorm over (B, N, h)                             none (affine params     LN
                                                                     ignored)
``gelu``        element-wise GeLU on (B, N, width)                   none                    MAC lanes
==============  ===================================================  ======================  ========

Per layer (FlexiBERT 2.0, Tuli et al. 2023, "FlexiBERT"; AccelTran, Tuli & Jha 2023):

* ``sa_sdp_d``: one fused Q/K/V projection (B, N, h) x (h, 3·g·d); ``bmm`` Q·K^T (B, N, d) x (B, d, N)
  per head; ``softmax`` on (B, N, N) per head; ``bmm`` S·V (B, N, N) x (B, N, d) per head.
* ``sa_wma_d``: as ``sa_sdp`` plus the weighted-multiplicative extra d x d weight applied to Q before
  Q·K^T: ``matmul`` (B, N, g·d) x (g·d, d) per head (weights d x d per head, ``count`` = g).
* ``l_dft_d`` / ``l_dct_d``: ``transform`` on the head's d-slice of the layer input; no weight load.
* ``c_k_d``: ``conv`` of width d, kernel k, on the head's d-slice.
* After the heads: the attention output projection ONCE per layer over the concatenated heads,
  (B, N, sum d) x (sum d, h); ``layernorm``; the FF stack h -> f1 -> ... -> fr (``gelu`` after every
  FF but the last) -> h; ``layernorm``; and, if the next layer's hidden size differs, a projection
  (B, N, h) x (h, h_next).

Conventions fixed here (and where the legacy TransCODE model differs; see
``docs/accelerator_model.md §10 fast-model`` 7, summarising TransCODE's simulate_fast; Tuli & Jha, IEEE TCAD 2023):

* weights carry NO batch dimension (legacy quirk Q8 multiplied weight traffic by B);
* the contraction dimension is counted once (legacy Q1 counted it twice; that is the simulator's
  business, the table just stores K);
* the attention output projection is counted once per layer (legacy Q15: once per head);
* DFT/DCT heads mix their own d-slice with an N x N transform (legacy Q14: (B,N,N) x (B,N,h) per head
  plus an N x N "weight" load);
* conv heads are depthwise of width d with k MACs per output (legacy Q13: width h, no k factor);
* not modelled: bias adds, residual adds, the 1/sqrt(d) scale, attention masks, dropout, the
  embedding LayerNorm, pooler and classifier.

Head groups: heads of one layer with the *same op string* are merged into one group (one stream of
ops with multiplicity ``count`` = g); the groups' ops are emitted round-robin (op 0 of every group,
then op 1, ...), which is the order in which the list scheduler places them. Identical heads run concurrently on disjoint PEs in AccelTran's
tiled scheduler, which is exactly one op over g times as many tiles; merging is therefore both the
faithful concurrency model for identical heads and what keeps BERT-Base at ~120 ops. Different head
types of a layer are different streams that the scheduler runs concurrently.

Element counts are *per sequence* (batch-free): the simulator multiplies activation counts by B.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from jaxcodesign.errors import SpaceError

# Op kind codes (stable: used as integers inside jit).
(OP_PAD, OP_EMBED, OP_MATMUL, OP_BMM, OP_TRANSFORM, OP_CONV, OP_SOFTMAX, OP_LAYERNORM, OP_GELU,
 OP_UPDATE) = range(10)
OP_KIND_NAMES = ("pad", "embed", "matmul", "bmm", "transform", "conv", "softmax", "layernorm", "gelu",
                 "update")

#: Phases of a training step (inference tables hold phase 0 only).
PHASE_FORWARD, PHASE_BACKWARD, PHASE_UPDATE = 0, 1, 2

#: Element operations per weight of the optimiser update (AdamW: m = b1 m + (1-b1) g: 2;
#: v = b2 v + (1-b2) g^2: 3; bias corrections: 2; sqrt: 1; divide: 1; w -= lr (u + wd w): 2).
OPTIMISER_OPS_PER_WEIGHT = 11
#: Main-memory elements moved per weight by the update: read w, m, v and write them back (the Adam
#: moments live in main memory; the updated weights are written back too).
OPTIMISER_ELEMS_PER_WEIGHT = 6
#: Columns of the update op's tiling (the weight vector is laid out as rows x 1024).
_UPDATE_COLS = 1024

MODES = ("inference", "training")

# Resource codes: which module executes an op.
RES_MAC, RES_SM, RES_LN, RES_NONE = 0, 1, 2, 3

#: Vocabulary size of the BERT WordPiece tokenizer used by FlexiBERT / AccelTran
#: (acceltran_simulate_fast.md section 1.4).
VOCAB_SIZE = 30522

#: Default sequence length (AccelTran / FlexiBERT GLUE setting).
DEFAULT_SEQ_LEN = 128

#: Maximum number of concurrent head streams of one layer (7 head types) + stream 0 (layer ops).
MAX_STREAMS = 8

#: Bucket lengths of the padded op table (a model of n ops uses the smallest bucket >= n).
BUCKETS = (32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)

_FIELDS_INT = ("kind", "resource", "stream", "join", "layer", "head_group", "producer", "valid",
               "phase", "batch_free")
_FIELDS_FLOAT = ("rows", "contraction", "cols", "count", "kernel", "weight_elems", "in_elems",
                 "out_elems", "macs", "w_sparse", "sp_a", "sp_w", "sp_g", "gather_elems", "mm_elems",
                 "saved_elems")


@dataclasses.dataclass(frozen=True)
class OpTable:
  """A lowered, padded transformer workload.

  Every array has shape ``[bucket]``; entries ``>= n_ops`` are padding (``kind == OP_PAD``,
  ``valid == 0``, all sizes 0) and cost nothing.

  Attributes:
    kind: int32 op kind code (``OP_*``).
    resource: int32 executing module (``RES_MAC``, ``RES_SM``, ``RES_LN``, ``RES_NONE``).
    stream: int32 stream id, 0 for layer-level ops, 1..7 for head groups of the current layer.
    join: int32 1 when the op waits for every stream (layer-level ops), else 0.
    layer: int32 layer index (-1 for the embedding and padding).
    head_group: int32 head-group index within the layer (-1 for layer-level ops).
    producer: int32 index of the op whose output this op consumes (-1 for none); for join ops the
      last op of the previous stream state (documentation and tests; the scheduler uses streams).
    valid: int32 1 for real ops.
    rows, contraction, cols: float32 per-matrix dimensions (M, K, N) of one of ``count`` products;
      for softmax/layernorm/gelu the (rows, cols) of the normalised tensor; for conv rows = N,
      cols = channels, contraction = kernel.
    count: float32 number of independent products / tensors (head multiplicity), >= 1.
    kernel: float32 conv kernel size (0 elsewhere).
    weight_elems: float32 weight elements loaded from main memory (no batch dimension).
    in_elems, out_elems: float32 activation elements read / written per sequence.
    macs: float32 multiply-accumulates per sequence (dense).
    w_sparse: float32 1 when the second operand is a weight (weight sparsity applies), else 0.
    sp_a, sp_w, sp_g: float32 number of activation / weight / gradient operands whose sparsity
      thins the op's effectual work: density ``rho = (1-s_a)^sp_a (1-s_w)^sp_w (1-s_g)^sp_g``
      (activation x weight 1/1/0, activation x activation 2/0/0, DFT/DCT 1/0/0; backward:
      dX = dY W^T 0/1/1, dW = X^T dY 1/0/1, element-wise backward 0/0/1; update 0/0/0).
    phase: int32 ``PHASE_FORWARD`` / ``PHASE_BACKWARD`` / ``PHASE_UPDATE``.
    batch_free: int32 1 for ops whose size does not scale with the batch (the optimiser update).
    gather_elems: float32 elements read from main memory per sequence (the embedding gather:
      N token rows; in training also the embedding rows' update traffic).
    mm_elems: float32 batch-free elements moved to/from main memory, dense (optimiser traffic).
    saved_elems: float32 forward activations (per sequence) a backward op reads back.
    overlap: int32 ``[bucket, K]``: for each op the other ops that can run at the same time (head
      ops of other streams in the same layer; -1 padding; K a power of two, 1 when no layer has two
      head groups). Ops on one resource never overlap and a layer-level op waits for every stream,
      so these are the only concurrent compute intervals (used for the on-chip peak power).
    names: tuple of op names (length ``n_ops``).
    n_ops: number of real ops.
    seq_len: sequence length N.
    batch_size: fixed batch (0 = use the accelerator config's ``batch_size``).
    embed_table_elems: elements of the embedding tables in main memory ((V + N + 2)·h0); only the
      B·N token rows a batch uses are gathered, the position and type tables ((N + 2)·h0) are
      weights (resident when they fit).
    mode: ``'inference'`` or ``'training'``.
  """
  kind: np.ndarray
  resource: np.ndarray
  stream: np.ndarray
  join: np.ndarray
  layer: np.ndarray
  head_group: np.ndarray
  producer: np.ndarray
  valid: np.ndarray
  rows: np.ndarray
  contraction: np.ndarray
  cols: np.ndarray
  count: np.ndarray
  kernel: np.ndarray
  weight_elems: np.ndarray
  in_elems: np.ndarray
  out_elems: np.ndarray
  macs: np.ndarray
  w_sparse: np.ndarray
  sp_a: np.ndarray
  sp_w: np.ndarray
  sp_g: np.ndarray
  phase: np.ndarray
  batch_free: np.ndarray
  gather_elems: np.ndarray
  mm_elems: np.ndarray
  saved_elems: np.ndarray
  overlap: np.ndarray
  names: tuple
  n_ops: int
  seq_len: int
  batch_size: int
  embed_table_elems: float
  mode: str = "inference"

  @property
  def bucket(self) -> int:
    return int(self.kind.shape[0])

  def arrays(self) -> dict[str, np.ndarray]:
    """The numeric arrays (``[bucket]`` each) plus scalar ``seq_len`` / ``batch_size`` for jit."""
    out = {f: getattr(self, f) for f in _FIELDS_INT + _FIELDS_FLOAT}
    out["overlap"] = self.overlap
    out["seq_len"] = np.float32(self.seq_len)
    out["batch_size"] = np.float32(self.batch_size)
    out["training"] = np.float32(self.mode == "training")
    return out

  def total_macs(self, batch_size: int) -> float:
    """Dense MACs of one batch of ``batch_size`` sequences (weights shared across the batch)."""
    return float(np.sum(self.macs[: self.n_ops])) * batch_size

  def describe(self) -> list[dict]:
    """One JSON-able row per real op (for docs, tests and debugging)."""
    rows = []
    for i in range(self.n_ops):
      rows.append({"name": self.names[i], "kind": OP_KIND_NAMES[int(self.kind[i])],
                   **{f: int(getattr(self, f)[i]) for f in ("stream", "join", "layer", "producer")},
                   **{f: float(getattr(self, f)[i]) for f in _FIELDS_FLOAT}})
    return rows


def overlap_index(cols: dict, n_ops: int, size: int) -> np.ndarray:
  """The ``overlap`` field of :class:`OpTable` (see there) from the table's columns."""
  from jaxcodesign.padding import bucket_size
  others: list[list[int]] = [[] for _ in range(size)]
  for i in range(n_ops):
    if cols["join"][i]:
      continue
    for j in range(n_ops):
      if (j != i and not cols["join"][j] and cols["layer"][j] == cols["layer"][i]
          and cols["stream"][j] != cols["stream"][i]):
        others[i].append(j)
  k = bucket_size(max((len(o) for o in others), default=0), 1)
  out = np.full((size, k), -1, np.int32)
  for i, o in enumerate(others):
    out[i, : len(o)] = o
  return out


def bucket_for(n_ops: int) -> int:
  """Smallest bucket length >= ``n_ops``; raises :class:`SpaceError` beyond the largest bucket."""
  for b in BUCKETS:
    if n_ops <= b:
      return b
  raise SpaceError("n_ops", n_ops, reason=f"model too large for the op-table buckets {BUCKETS}")


def _parse_op(op: str, field: str):
  try:  # the one op-string parser of the package (contract: jaxcodesign.spaces.flexibert.parse_op)
    from jaxcodesign.spaces.flexibert import parse_op
  except ImportError:  # pragma: no cover - flexibert.py re-exports it from flexibert_common
    from jaxcodesign.spaces.flexibert_common import parse_op
  try:
    return parse_op(op)
  except ValueError as e:
    raise SpaceError(field, op, reason=str(e)) from e


def _check_model_dict(md: Mapping[str, Any]):
  for key in ("l", "o", "h", "f"):
    if key not in md:
      raise SpaceError("model_dict", sorted(md), reason=f"missing key {key!r}; required: l, o, h, f")
  n_layers = md["l"]
  if not isinstance(n_layers, (int, np.integer)) or n_layers < 1:
    raise SpaceError("model_dict.l", n_layers, reason="a positive int")
  for key in ("o", "h", "f"):
    if len(md[key]) < n_layers:
      raise SpaceError(f"model_dict.{key}", len(md[key]), reason=f"needs at least l={n_layers} entries")
  for j in range(n_layers):
    if int(md["h"][j]) < 1:
      raise SpaceError(f"model_dict.h[{j}]", md["h"][j], reason="a positive hidden size")
    if len(md["o"][j]) < 1:
      raise SpaceError(f"model_dict.o[{j}]", md["o"][j], reason="at least one head")
    if len(md["f"][j]) < 1 or any(int(w) < 1 for w in md["f"][j]):
      raise SpaceError(f"model_dict.f[{j}]", md["f"][j], reason="a non-empty list of positive widths")


class _Builder:
  def __init__(self):
    self.rows: list[dict] = []
    self.stream_last: dict[int, int] = {}
    self.last_join = -1

  def add(self, name, kind, resource, stream, join, layer, group, *, rows=0, contraction=0, cols=0,
          count=1, kernel=0, weight_elems=0, in_elems=0, out_elems=0, macs=0, w_sparse=0,
          sp=None, phase=PHASE_FORWARD, batch_free=0, gather_elems=0, mm_elems=0, saved_elems=0):
    if sp is None:  # forward defaults by kind
      sp = {OP_MATMUL: (1, w_sparse, 0), OP_CONV: (1, w_sparse, 0), OP_BMM: (2, 0, 0)}.get(
          kind, (1, 0, 0) if kind not in (OP_EMBED, OP_PAD) else (0, 0, 0))
    idx = len(self.rows)
    if join:
      producer = max(self.stream_last.values()) if self.stream_last else self.last_join
    else:
      producer = self.stream_last.get(stream, self.last_join)
    self.rows.append(dict(name=name, kind=kind, resource=resource, stream=stream, join=int(join),
                          layer=layer, head_group=group, producer=producer, valid=1, rows=rows,
                          contraction=contraction, cols=cols, count=count, kernel=kernel,
                          weight_elems=weight_elems, in_elems=in_elems, out_elems=out_elems,
                          macs=macs, w_sparse=w_sparse, sp_a=sp[0], sp_w=sp[1], sp_g=sp[2],
                          phase=phase, batch_free=batch_free, gather_elems=gather_elems,
                          mm_elems=mm_elems, saved_elems=saved_elems))
    if join:
      self.stream_last = {}
      self.last_join = idx
    else:
      self.stream_last[stream] = idx
    return idx


def add_training_ops(b: "_Builder", n: int, h0: int) -> None:
  """Appends the backward pass and the optimiser update of one training step to a forward table.

  Following TransCODE's ELECTOR training flow (Tuli & Jha, "TransCODE: Co-design of Transformers
  and Accelerators for Efficient Training and Inference", IEEE TCAD 2023): for every forward op, in
  reverse order, the activation-gradient and (for learnable ops) weight-gradient ops:

  * MatMul ``Y = X W``: ``dX = dY W^T`` (weights read again; density (1-s_w)(1-s_g)) and
    ``dW = X^T dY`` (reads the saved X; dense, see below); both with the forward's MACs.
  * activation x activation ``Y = A B``: ``dA = dY B^T`` (density (1-s_a)(1-s_g)) and
    ``dB = A^T dY`` (dense).
  * DFT / DCT token mixing: ``dX = T^T dY`` only (fixed coefficients: no learning).
  * depthwise conv: ``dX`` (flipped kernel) and ``dW``, each the forward's MACs.
  * GeLU: ``dX = dY * gelu'(x)`` on the MAC lanes; softmax: ``dX = S (dY - sum(dY S))`` on the
    softmax modules (one row pass, the forward's tile cost); LayerNorm: two row reductions on the LN
    modules (count 2).
  * embedding: no compute; its B x N touched rows are updated by the optimiser.

  Backward ops are layer-level (each waits for the previous one: no head-group concurrency in the
  backward pass). Gradients are pruned by DynaProp (gradient sparsity ``s_g``, default 0.9,
  ELECTOR / TransCODE) and activations by DynaTran (``s_a``), on the same pre-/post-sparsity modules.
  Zero-skipping needs the zeros compacted along the contraction axis; the post-sparsity modules
  compact a tensor along its rows (the feature axis) as they write it. Ops that contract over the
  feature axis (``dX = dY W^T``, ``dA = dY B^T`` and the forward ops) skip the zeros; the weight
  gradients (``dW = X^T dY``, ``dB = A^T dY``, conv ``dW``) contract over the token axis, read both
  operands transposed and so run dense (the upper bound on their cost). A sparsity
  pattern is not preserved under transposition (Hubara et al., "Accelerated Sparse Neural Training:
  A Provable and Efficient Method to Find N:M Transposable Masks", NeurIPS 2021, make the same
  observation for N:M patterns in the backward pass); TransCODE does not say how ELECTOR handles it.
  Then one ``update`` op (AdamW, :data:`OPTIMISER_OPS_PER_WEIGHT` element ops per weight on the MAC
  lanes, stochastic rounding of the written weights) moving :data:`OPTIMISER_ELEMS_PER_WEIGHT`
  dense elements per weight to/from main memory, plus the same for the B x N embedding rows.
  """
  fwd = [dict(r) for r in b.rows]
  w_total = float(sum(r["weight_elems"] for r in fwd))
  grad = {"phase": PHASE_BACKWARD}
  sp_t = (0, 0, 0)  # weight-gradient products: contraction over the token axis, no zero-skipping

  def add(name, kind, res, **kw):
    b.add(name, kind, res, 0, True, kw.pop("layer"), -1, **kw, **grad)

  for r in reversed(fwd):
    k, nm, L = r["kind"], r["name"], r["layer"]
    R, K, C, g, kern = r["rows"], r["contraction"], r["cols"], r["count"], r["kernel"]
    fin, fout, macs = r["in_elems"], r["out_elems"], r["macs"]
    if k == OP_MATMUL:
      add(f"{nm}.dx", OP_MATMUL, RES_MAC, layer=L, rows=R, contraction=C, cols=K, count=g,
          weight_elems=r["weight_elems"], in_elems=fout, out_elems=fin, macs=macs, w_sparse=1,
          sp=(0, 1, 1))
      add(f"{nm}.dw", OP_MATMUL, RES_MAC, layer=L, rows=R, contraction=K, cols=C, count=g,
          in_elems=fin + fout, out_elems=0, macs=macs, sp=sp_t, saved_elems=fin)
    elif k == OP_BMM:
      a_el, b_el = g * R * K, g * K * C
      add(f"{nm}.da", OP_BMM, RES_MAC, layer=L, rows=R, contraction=C, cols=K, count=g,
          in_elems=fout + b_el, out_elems=a_el, macs=macs, sp=(1, 0, 1), saved_elems=b_el)
      add(f"{nm}.db", OP_BMM, RES_MAC, layer=L, rows=K, contraction=R, cols=C, count=g,
          in_elems=a_el + fout, out_elems=b_el, macs=macs, sp=sp_t, saved_elems=a_el)
    elif k == OP_TRANSFORM:
      add(f"{nm}.dx", OP_TRANSFORM, RES_MAC, layer=L, rows=R, contraction=K, cols=C, count=g,
          in_elems=fout, out_elems=fin, macs=macs, sp=(0, 0, 1))
    elif k == OP_CONV:
      add(f"{nm}.dx", OP_CONV, RES_MAC, layer=L, rows=R, contraction=K, cols=C, count=g, kernel=kern,
          weight_elems=r["weight_elems"], in_elems=fout, out_elems=fin, macs=macs, w_sparse=1,
          sp=(0, 1, 1))
      add(f"{nm}.dw", OP_CONV, RES_MAC, layer=L, rows=R, contraction=K, cols=C, count=g, kernel=kern,
          in_elems=fin + fout, out_elems=0, macs=macs, sp=sp_t, saved_elems=fin)
    elif k == OP_GELU:
      add(f"{nm}.dx", OP_GELU, RES_MAC, layer=L, rows=R, cols=C, count=g, in_elems=fout + fin,
          out_elems=fin, sp=(0, 0, 1), saved_elems=fin)
    elif k == OP_SOFTMAX:
      add(f"{nm}.dx", OP_SOFTMAX, RES_SM, layer=L, rows=R, cols=C, count=g, in_elems=2 * fout,
          out_elems=fin, sp=(0, 0, 1), saved_elems=fout)
    elif k == OP_LAYERNORM:
      add(f"{nm}.dx", OP_LAYERNORM, RES_LN, layer=L, rows=R, cols=C, count=2 * g, in_elems=2 * fin,
          out_elems=fin, sp=(0, 0, 1), saved_elems=fin)
  rows = float(-(-int(w_total) // _UPDATE_COLS))
  b.add("update", OP_UPDATE, RES_MAC, 0, True, -1, -1, rows=rows, cols=_UPDATE_COLS,
        count=OPTIMISER_OPS_PER_WEIGHT, in_elems=0, out_elems=0, sp=(0, 0, 0), phase=PHASE_UPDATE,
        batch_free=1, mm_elems=OPTIMISER_ELEMS_PER_WEIGHT * w_total,
        gather_elems=OPTIMISER_ELEMS_PER_WEIGHT * n * h0)


def lower_transformer(model_dict: Mapping[str, Any], seq_len: int = DEFAULT_SEQ_LEN,
                      batch_size: int | None = None, vocab_size: int = VOCAB_SIZE,
                      bucket: int | None = None, mode: str = "inference") -> OpTable:
  """Lowers a FlexiBERT 2.0 hetero model dict to a padded :class:`OpTable` (NumPy, outside jit).

  Args:
    model_dict: ``{"l": L, "o": [[op per head] per layer], "h": [hidden per layer],
      "f": [[FF widths] per layer]}``; only layers ``0..L-1`` are read. Head ops are parsed by
      :func:`jaxcodesign.spaces.flexibert.parse_op`.
    seq_len: sequence length N (default 128, the AccelTran / FlexiBERT GLUE setting).
    batch_size: fix the batch B in the table; ``None`` (default) uses each accelerator config's
      ``batch_size`` at simulation time.
    vocab_size: vocabulary V of the embedding table (30522, BERT WordPiece).
    bucket: pad to this length instead of the default bucket (must be >= the op count).
    mode: ``'inference'`` (forward ops) or ``'training'`` (forward, backward and optimiser update
      ops of one training step; :func:`add_training_ops`).

  Returns:
    An :class:`OpTable` of length ``bucket``.

  Raises:
    SpaceError: for a malformed model dict (missing keys, short lists, unknown head ops, bad sizes),
      a non-positive seq_len / batch_size, or a bucket smaller than the op count.
  """
  _check_model_dict(model_dict)
  if mode not in MODES:
    raise SpaceError("mode", mode, list(MODES))
  if int(seq_len) < 1:
    raise SpaceError("seq_len", seq_len, reason="a positive int")
  if batch_size is not None and int(batch_size) < 1:
    raise SpaceError("batch_size", batch_size, reason="a positive int or None")
  n = int(seq_len)
  n_layers = int(model_dict["l"])
  hidden = [int(x) for x in model_dict["h"][:n_layers]]
  b = _Builder()
  h0 = hidden[0]
  embed_table_elems = float((vocab_size + n + 2) * h0)
  # embedding as a gather: the N token rows of each sequence come from main memory (gather_elems,
  # per sequence); the position (N x h0) and token-type (2 x h0) tables are weights
  b.add("embed", OP_EMBED, RES_NONE, 0, True, -1, -1, weight_elems=(n + 2) * h0,
        gather_elems=n * h0, out_elems=n * h0, rows=n, cols=h0)
  for j in range(n_layers):
    h = hidden[j]
    ops = list(model_dict["o"][j])
    groups: dict[str, int] = {}
    for i, op in enumerate(ops):
      _parse_op(op, f"model_dict.o[{j}][{i}]")
      groups[op] = groups.get(op, 0) + 1
    if len(groups) > MAX_STREAMS - 1:
      raise SpaceError(f"model_dict.o[{j}]", ops, reason=f"at most {MAX_STREAMS - 1} distinct head ops")
    concat = 0
    per_group: list[list[tuple]] = []
    for gi, (op, g) in enumerate(groups.items()):
      head = _parse_op(op, f"model_dict.o[{j}]")
      kind, d = head.kind, int(head.d_head)
      concat += g * d
      s = gi + 1
      pre = f"l{j}.{op}x{g}"
      ops_g: list[tuple] = []
      per_group.append(ops_g)
      add = lambda *a, **kw: ops_g.append((a, kw))  # noqa: E731
      if kind in ("sa_sdp", "sa_wma"):
        add(f"{pre}.qkv", OP_MATMUL, RES_MAC, s, False, j, gi, rows=n, contraction=h, cols=3 * g * d,
            weight_elems=h * 3 * g * d, in_elems=n * h, out_elems=3 * n * g * d,
            macs=n * h * 3 * g * d, w_sparse=1)
        if kind == "sa_wma":
          add(f"{pre}.wma", OP_MATMUL, RES_MAC, s, False, j, gi, rows=n, contraction=d, cols=d,
              count=g, weight_elems=g * d * d, in_elems=n * g * d, out_elems=n * g * d,
              macs=g * n * d * d, w_sparse=1)
        add(f"{pre}.qk", OP_BMM, RES_MAC, s, False, j, gi, rows=n, contraction=d, cols=n, count=g,
            in_elems=2 * n * g * d, out_elems=g * n * n, macs=g * n * d * n)
        add(f"{pre}.softmax", OP_SOFTMAX, RES_SM, s, False, j, gi, rows=n, cols=n, count=g,
            in_elems=g * n * n, out_elems=g * n * n)
        add(f"{pre}.sv", OP_BMM, RES_MAC, s, False, j, gi, rows=n, contraction=n, cols=d, count=g,
            in_elems=g * n * n + n * g * d, out_elems=n * g * d, macs=g * n * n * d)
      elif kind in ("l_dft", "l_dct"):
        add(f"{pre}.{kind[2:]}", OP_TRANSFORM, RES_MAC, s, False, j, gi, rows=n, contraction=n,
            cols=g * d, in_elems=n * g * d, out_elems=n * g * d, macs=n * n * g * d)
      elif kind in ("c_5", "c_9", "c_13"):
        k = int(head.param) if str(head.param).isdigit() else int(kind.split("_")[1])
        add(f"{pre}.conv", OP_CONV, RES_MAC, s, False, j, gi, rows=n, contraction=k, cols=g * d,
            kernel=k, weight_elems=k * g * d, in_elems=n * g * d, out_elems=n * g * d,
            macs=n * g * d * k, w_sparse=1)
      else:  # parse_op guarantees one of the seven kinds
        raise SpaceError(f"model_dict.o[{j}]", op, ["sa_sdp", "sa_wma", "l_dft", "l_dct", "c_5",
                                                     "c_9", "c_13"])
    # emit the head groups' ops round-robin (op 0 of every group, then op 1, ...): the scheduler
    # places ops in table order, so this interleaving lets groups share the MAC / softmax modules
    # like AccelTran's one-op-per-head-per-pass scheduler instead of running group after group.
    for pos in range(max(len(x) for x in per_group)):
      for ops_g in per_group:
        if pos < len(ops_g):
          a, kw = ops_g[pos]
          b.add(*a, **kw)
    b.add(f"l{j}.attn_out", OP_MATMUL, RES_MAC, 0, True, j, -1, rows=n, contraction=concat, cols=h,
          weight_elems=concat * h, in_elems=n * concat, out_elems=n * h, macs=n * concat * h,
          w_sparse=1)
    b.add(f"l{j}.ln1", OP_LAYERNORM, RES_LN, 0, True, j, -1, rows=n, cols=h, in_elems=n * h,
          out_elems=n * h)
    widths = [int(w) for w in model_dict["f"][j]]
    dims = [h] + widths + [h]
    for i in range(len(dims) - 1):
      fin, fout = dims[i], dims[i + 1]
      b.add(f"l{j}.ff{i + 1}", OP_MATMUL, RES_MAC, 0, True, j, -1, rows=n, contraction=fin, cols=fout,
            weight_elems=fin * fout, in_elems=n * fin, out_elems=n * fout, macs=n * fin * fout,
            w_sparse=1)
      if i < len(dims) - 2:
        b.add(f"l{j}.gelu{i + 1}", OP_GELU, RES_MAC, 0, True, j, -1, rows=n, cols=fout,
              in_elems=n * fout, out_elems=n * fout)
    b.add(f"l{j}.ln2", OP_LAYERNORM, RES_LN, 0, True, j, -1, rows=n, cols=h, in_elems=n * h,
          out_elems=n * h)
    if j < n_layers - 1 and hidden[j + 1] != h:
      h2 = hidden[j + 1]
      b.add(f"l{j}.proj", OP_MATMUL, RES_MAC, 0, True, j, -1, rows=n, contraction=h, cols=h2,
            weight_elems=h * h2, in_elems=n * h, out_elems=n * h2, macs=n * h * h2, w_sparse=1)
  if mode == "training":
    add_training_ops(b, n, h0)
  n_ops = len(b.rows)
  size = bucket_for(n_ops) if bucket is None else int(bucket)
  if size < n_ops:
    raise SpaceError("bucket", bucket, reason=f"smaller than the op count {n_ops}")
  cols = {}
  for f in _FIELDS_INT:
    a = np.zeros(size, np.int32)
    if f in ("layer", "head_group", "producer"):
      a[:] = -1
    a[:n_ops] = [r[f] for r in b.rows]
    cols[f] = a
  for f in _FIELDS_FLOAT:
    a = np.zeros(size, np.float32)
    a[:n_ops] = [r[f] for r in b.rows]
    cols[f] = a
  cols["count"][n_ops:] = 1.0
  cols["resource"][n_ops:] = RES_NONE
  cols["overlap"] = overlap_index(cols, n_ops, size)
  return OpTable(**cols, names=tuple(r["name"] for r in b.rows), n_ops=n_ops, seq_len=n,
                 batch_size=0 if batch_size is None else int(batch_size),
                 embed_table_elems=embed_table_elems, mode=mode)


def lower_cnn(point, input_shape, num_classes, batch_size=None):
  """The CNN lowering (contract name in docs/ARCHITECTURE.md); implemented in
  :func:`jaxcodesign.hardware.cnn_workload.lower_cnn`, re-exported here."""
  from jaxcodesign.hardware.cnn_workload import lower_cnn as _lower_cnn
  return _lower_cnn(point, input_shape, num_classes, batch_size=batch_size)
