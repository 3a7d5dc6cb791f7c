"""Lowering of CNNBench networks to a static op table for the AccelBench (SPRING) model.

``lower_cnn(point, input_shape, num_classes)`` runs once per network, in NumPy, outside jit: it calls
:func:`jaxcodesign.spaces.cnnbench.infer_shapes` and turns its ``LayerShape`` rows into a
:class:`CNNOpTable` of fixed-size arrays (padded to the next power of two of the op count, at least
``MIN_BUCKET``) so that every network of one bucket shares one compilation of
:func:`jaxcodesign.hardware.accelbench.simulate_cnn_arrays`. ``lower_layers(rows)`` does the same for a
hand-made list of rows (anything with the ``LayerShape`` attributes).

Op kinds (``kind`` codes) and what the accelerator does with them (docs/accelbench_model.md):

- ``OP_CONV``: conv, gconv, dwconv, proj -> MAC lanes (+ im2col when the kernel is larger than 1x1);
- ``OP_DENSE``: dense -> MAC lanes, as a 1x1 convolution on a 1x1 image (no im2col);
- ``OP_BN``: bn -> batch-norm modules (one per PE);
- ``OP_ACT``: relu, silu -> the activation unit of the MAC lanes;
- ``OP_ADD``: add -> the adder of the MAC lanes;
- ``OP_POOL``: maxpool, avgpool -> pooling modules (one per PE);
- ``OP_GAP``: gap -> global-average-pooling modules (one per PE);
- ``OP_UPSAMPLE``: upsample (bilinear and nearest resize) -> upsampling modules (one per PE);
- ``OP_FREE``: concat, flatten, channel_shuffle, dropout -> no compute and no traffic (address
  remapping in the dataflow module; concat writes its inputs into adjacent channel ranges, dropout is
  the identity at inference);
- ``OP_PAD``: padding rows, nothing.

Batch-norm folding (inference): :func:`fold_batchnorm` removes every batch-norm row that directly
follows a MAC op producing the same tensor (same channels and elements) and folds it into that op:
``y = gamma * (W*x - mu) / sigma + beta = (gamma/sigma * W) * x + (beta - gamma*mu/sigma)``, i.e. the
scale goes into the weights (same count) and the shift into a bias of ``Cout`` elements (CNNBench
convolutions have no bias, so the op gains ``Cout`` parameters and loses the BN row's ``2*Cout``).
In CNNBench every batch-norm belongs to a ``conv...-bn`` label and directly follows its conv.

Per-op quantities are per input image (the batch size is a config parameter of AccelBench, applied
inside the jitted model) unless ``lower_cnn(..., batch_size=B)`` fixes it for the table.
Loop dimensions of a MAC op: groups ``G``, output channels per group ``Kg``, input channels per group
``Cg``, output height/width ``OH, OW``, kernel ``R x S`` (dense: ``G = OH = OW = R = S = 1``,
``Cg`` = input features, ``Kg`` = output features); MACs per image ``G*Kg*Cg*OH*OW*R*S``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from jaxcodesign import padding
from jaxcodesign.errors import SpaceError

OP_PAD, OP_CONV, OP_DENSE, OP_BN, OP_ACT, OP_ADD, OP_POOL, OP_GAP, OP_UPSAMPLE, OP_FREE = range(10)

KIND_CODES = {
    "conv": OP_CONV, "gconv": OP_CONV, "dwconv": OP_CONV, "proj": OP_CONV,
    "dense": OP_DENSE,
    "bn": OP_BN,
    "relu": OP_ACT, "silu": OP_ACT,
    "add": OP_ADD,
    "maxpool": OP_POOL, "avgpool": OP_POOL,
    "gap": OP_GAP,
    "upsample": OP_UPSAMPLE,
    "concat": OP_FREE, "flatten": OP_FREE, "channel_shuffle": OP_FREE, "dropout": OP_FREE,
}

MIN_BUCKET = 8

#: names of the per-op arrays of a CNNOpTable (all of length ``bucket``)
ARRAY_FIELDS = ("kind", "groups", "kg", "cg", "oh", "ow", "kh", "kw", "macs", "weight_elems",
                "in_elems", "out_elems", "elem_ops")


class CNNOpTable(NamedTuple):
  """A lowered CNN, padded to ``bucket`` ops. Arrays are NumPy, shape ``[bucket]``.

  Fields:
    kind: int32, ``OP_*`` code (``OP_PAD`` for padding rows).
    groups, kg, cg, oh, ow, kh, kw: float32 loop dimensions of MAC ops (1 elsewhere).
    macs: float32, multiply-accumulates per image (MAC ops; 0 elsewhere).
    weight_elems: float32, parameters (weights + biases, batch-norm scale/shift) of the op.
    in_elems, out_elems: float32, input / output activation elements per image.
    elem_ops: float32, elementwise work per image on the op's module (bn, act: output elements; add:
      (inputs - 1) x output elements (``macs`` of the row, else output elements);
      pooling: output elements x window; gap: input elements; upsample: output elements).
    n_ops: number of real (unpadded) ops.
    bucket: padded length (a power of two >= ``MIN_BUCKET``).
    labels: tuple of the real ops' labels (``"<module>/<vertex>:<label>"``), for reports.
    activations: the activation functions used ("relu" / "silu"), which select the MAC-lane variant.
    batch_size: 0 (use each config's ``batch_size``) or a fixed batch for this table.
    bn_folded: number of batch-norm rows folded into their convolution (:func:`fold_batchnorm`).
  """
  kind: np.ndarray
  groups: np.ndarray
  kg: np.ndarray
  cg: np.ndarray
  oh: np.ndarray
  ow: np.ndarray
  kh: np.ndarray
  kw: np.ndarray
  macs: np.ndarray
  weight_elems: np.ndarray
  in_elems: np.ndarray
  out_elems: np.ndarray
  elem_ops: np.ndarray
  n_ops: int
  bucket: int
  labels: tuple
  activations: tuple
  batch_size: int
  bn_folded: int = 0

  def arrays(self) -> dict:
    """The per-op arrays as a dict (the jit-facing part of the table)."""
    return {f: getattr(self, f) for f in ARRAY_FIELDS}

  @property
  def lane_activation(self) -> str:
    """MAC-lane variant key of constants.ACCELBENCH_LANE: 'relu', 'silu' or 'both'."""
    from jaxcodesign.hardware.area_power import accelbench_activation_key
    return accelbench_activation_key(self.activations)


def bucket_size(n_ops: int) -> int:
  """Next power of two >= ``n_ops`` (at least ``MIN_BUCKET``): :func:`jaxcodesign.padding.bucket_size`."""
  return padding.bucket_size(n_ops, MIN_BUCKET)


def _pair(value: Any, field: str) -> tuple[int, int]:
  """(h, w) from an int, a 1-tuple or a 2-tuple; raises SpaceError otherwise."""
  if value is None:
    return (1, 1)
  if isinstance(value, (int, np.integer)):
    return (int(value), int(value))
  try:
    items = [int(v) for v in value]
  except TypeError as e:
    raise SpaceError(field, value, reason="expected an int or an (h, w) pair") from e
  if len(items) == 1:
    return (items[0], items[0])
  if len(items) == 2:
    return (items[0], items[1])
  if len(items) == 3:  # (C, H, W) given: keep the spatial part
    return (items[1], items[2])
  raise SpaceError(field, value, reason="expected an int or an (h, w) pair")


def _row_to_op(row) -> dict:
  """One LayerShape row -> per-op quantities (per image)."""
  kind = row.kind
  if kind not in KIND_CODES:
    raise SpaceError("kind", kind, sorted(KIND_CODES), reason=f"layer {getattr(row, 'label', '?')!r}")
  code = KIND_CODES[kind]
  cin, cout = int(row.in_channels), int(row.out_channels)
  ih, iw = _pair(row.in_hw, "in_hw")
  oh, ow = _pair(row.out_hw, "out_hw")
  in_elems = float(cin * ih * iw)
  out_elems = float(cout * oh * ow)
  op = dict(kind=code, groups=1.0, kg=1.0, cg=1.0, oh=1.0, ow=1.0, kh=1.0, kw=1.0, macs=0.0,
            weight_elems=float(row.params or 0), in_elems=in_elems, out_elems=out_elems,
            elem_ops=0.0)
  if code == OP_CONV:
    g = int(row.groups or 1)
    if g <= 0 or cin % g or cout % g:
      raise SpaceError("groups", g, reason=f"must divide in_channels={cin} and out_channels={cout} "
                       f"(layer {row.label!r})")
    kh, kw = _pair(row.kernel, "kernel")
    op.update(groups=float(g), kg=float(cout // g), cg=float(cin // g), oh=float(oh), ow=float(ow),
              kh=float(kh), kw=float(kw))
  elif code == OP_DENSE:
    # Flattened input features: in_channels * in_h * in_w (in_hw is (1, 1) after a flatten / gap).
    op.update(kg=float(cout), cg=in_elems, in_elems=in_elems, out_elems=float(cout))
  elif code == OP_ADD:
    # (n-1) additions per output element for n summed inputs: infer_shapes records that in ``macs``.
    op["elem_ops"] = float(row.macs) if row.macs else out_elems
  elif code in (OP_BN, OP_ACT, OP_UPSAMPLE):
    op["elem_ops"] = out_elems
  elif code == OP_POOL:
    kh, kw = _pair(row.kernel, "kernel")
    op["elem_ops"] = out_elems * kh * kw
  elif code == OP_GAP:
    op["elem_ops"] = in_elems
  if code in (OP_CONV, OP_DENSE):
    op["macs"] = op["groups"] * op["kg"] * op["cg"] * op["oh"] * op["ow"] * op["kh"] * op["kw"]
  return op


def lower_layers(layer_shapes: Sequence, batch_size: int | None = None,
                 bucket: int | None = None, fold_bn: bool = False) -> CNNOpTable:
  """Lowers a list of ``LayerShape``-like rows to a padded :class:`CNNOpTable` (NumPy).

  Args:
    layer_shapes: rows with attributes ``kind, label, in_channels, out_channels, in_hw, out_hw,
      kernel, groups, params`` (and optionally ``module, vertex``), as produced by
      ``jaxcodesign.spaces.cnnbench.infer_shapes``; ``in_hw``/``out_hw``/``kernel`` may be ints or
      (h, w) pairs.
    batch_size: None/0 to take the batch from each accelerator config at simulation time, or a
      positive int fixed for this table.
    bucket: padded length; default ``bucket_size(len(layer_shapes))`` (after folding).
    fold_bn: fold batch-norm rows into the preceding MAC op (:func:`fold_batchnorm`).

  Returns:
    The op table (arrays of length ``bucket``).

  Raises:
    SpaceError: for an unknown kind, groups not dividing the channels, an empty list, a bucket
      smaller than the op count or a non-positive batch size.
  """
  rows = list(layer_shapes)
  if not rows:
    raise SpaceError("layer_shapes", rows, reason="a network needs at least one layer")
  if batch_size is not None and int(batch_size) < 0:
    raise SpaceError("batch_size", batch_size, reason="must be a positive int or None")
  ops = [_row_to_op(r) for r in rows]
  labels = [f"{getattr(r, 'module', '?')}/{getattr(r, 'vertex', '?')}:{r.label}" for r in rows]
  acts = tuple(sorted({r.kind for r in rows if r.kind in ("relu", "silu")}))
  folded = 0
  if fold_bn:
    ops, labels, folded = _fold_ops(ops, labels)
  return _build_table(ops, labels, acts, int(batch_size or 0), bucket, folded)


def _fold_ops(ops: list, labels: list) -> tuple[list, list, int]:
  """Batch-norm rows folded into the MAC op right before them (module docstring)."""
  out_ops, out_labels, folded = [], [], 0
  for op, label in zip(ops, labels):
    prev = out_ops[-1] if out_ops else None
    if (op["kind"] == OP_BN and prev is not None and prev["kind"] in (OP_CONV, OP_DENSE)
        and prev["out_elems"] == op["in_elems"] == op["out_elems"]):
      prev = dict(prev)
      prev["weight_elems"] += prev["groups"] * prev["kg"]  # the folded shift becomes a bias
      out_ops[-1] = prev
      out_labels[-1] = out_labels[-1] + "+bn"
      folded += 1
      continue
    out_ops.append(op)
    out_labels.append(label)
  return out_ops, out_labels, folded


def _build_table(ops: list, labels: list, acts: tuple, batch: int, bucket, folded: int) -> CNNOpTable:
  n = len(ops)
  size = bucket_size(n) if bucket is None else int(bucket)
  if size < n:
    raise SpaceError("bucket", bucket, reason=f"must be >= the op count {n}")
  arrays = {}
  for f in ARRAY_FIELDS:
    dtype = np.int32 if f == "kind" else np.float32
    fill = 0 if f in ("kind", "macs", "weight_elems", "in_elems", "out_elems", "elem_ops") else 1
    a = np.full(size, fill, dtype)
    a[:n] = [op[f] for op in ops]
    arrays[f] = a
  return CNNOpTable(**arrays, n_ops=n, bucket=size, labels=tuple(labels), activations=tuple(acts),
                    batch_size=batch, bn_folded=folded)


def fold_batchnorm(table: CNNOpTable, bucket: int | None = None) -> CNNOpTable:
  """The table with every batch-norm that directly follows a MAC op producing the same tensor folded
  into that op (scale into the weights, shift into a ``Cout``-element bias; module docstring). This
  is what every inference deployment does: the batch-norm modules then have no work.

  Args:
    table: a lowered table (``lower_cnn`` / ``lower_layers``); one already folded is returned as is.
    bucket: padded length of the result (default: the next power of two of the remaining ops, so a
      folded table may move to a smaller bucket).

  Returns:
    a :class:`CNNOpTable` with ``bn_folded`` = the number of rows folded (NumPy, outside jit).
  """
  if table.bn_folded:
    return table
  n = table.n_ops
  ops = [{f: (int(getattr(table, f)[i]) if f == "kind" else float(getattr(table, f)[i]))
          for f in ARRAY_FIELDS} for i in range(n)]
  ops, labels, folded = _fold_ops(ops, list(table.labels))
  if not folded:
    return table
  return _build_table(ops, labels, tuple(table.activations), int(table.batch_size), bucket, folded)


def lower_cnn(point, input_shape, num_classes: int, batch_size: int | None = None,
              bucket: int | None = None, default_channels: int | None = None,
              fold_bn: bool = False) -> CNNOpTable:
  """Lowers a CNNBench design point to a padded op table (NumPy, call outside jit).

  Args:
    point: CNNBench point ``{"modules": [{"matrix", "labels"}, ...]}`` (last module = head).
    input_shape: (C, H, W) of one input image.
    num_classes: classifier width.
    batch_size: None to use each config's ``batch_size`` at simulation time, or a fixed batch.
    bucket: padded length (default: next power of two of the op count).
    default_channels: channels of a conv label without ``-c`` (default: infer_shapes' default).
    fold_bn: fold batch-norm into the preceding convolution (:func:`fold_batchnorm`; the
      ``accelbench.simulate_cnn`` front end does it by default at inference).

  Returns:
    :class:`CNNOpTable`.

  Raises:
    SpaceError: from ``infer_shapes`` for an invalid point, or from :func:`lower_layers`.
  """
  from jaxcodesign.spaces.cnnbench import infer_shapes  # late import: spaces are optional here
  kw = {} if default_channels is None else {"default_channels": int(default_channels)}
  return lower_layers(infer_shapes(point, tuple(input_shape), int(num_classes), **kw),
                      batch_size=batch_size, bucket=bucket, fold_bn=fold_bn)
