"""A Flax CNN built from a CNNBench graph, with exactly the semantics of ``infer_shapes``.

The tensor semantics (summed vertex inputs with 1x1 projections and nearest resizes, concatenated
module outputs, projected module input added to the output, head with flatten / global average pool,
dense layers and ``dense_classes``) are THE contract documented in :mod:`jaxcodesign.spaces.cnnbench`
(module docstring, points 1-4); this module follows it primitive by primitive, so that its trainable
parameter count equals ``sum(r.params for r in infer_shapes(...))`` and every vertex's output
(channels, H, W) equals the last ``LayerShape`` row of that vertex (tested). Op labels are parsed by
``parse_cnn_op`` (the one parser).

Layout: NHWC (``float32[B, H, W, C]``); ``infer_shapes`` takes ``input_shape = (C, H, W)``.
Convolutions and projections have no bias (the BatchNorm shift plays that role); BatchNorm
(``nn.BatchNorm``, momentum 0.9, eps 1e-5) uses batch statistics in training (``train=True``, collection
``batch_stats`` mutable) and running averages in evaluation. Dropout is active only with
``train=True`` (needs a ``'dropout'`` PRNG stream). ``flatten`` flattens in H, W, C order (CNNBench
flattened C, H, W: same size, permuted features). Pooling with padding: max pooling pads with -inf,
average pooling counts padded zeros (PyTorch's default ``count_include_pad=True``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxcodesign.errors import SpaceError
from jaxcodesign.spaces.cnnbench import (DEFAULT_CHANNELS, _largest_divisor, _modules_of, infer_shapes,
                                         parse_cnn_op)


def _resize_nearest(x, hw):
  if x.shape[1:3] == tuple(hw):
    return x
  return jax.image.resize(x, (x.shape[0], hw[0], hw[1], x.shape[3]), "nearest")


def _act(x, name):
  if name is None:
    return x
  if name == "relu":
    return nn.relu(x)
  if name == "silu":
    return nn.silu(x)
  raise SpaceError("activation", name, ["relu", "silu"])


class CNNBenchModule(nn.Module):
  """One conv module (a DAG of ``V`` vertices): ``float32[B, H, W, C] -> float32[B, H', W', C']``.

  Attributes:
    matrix: V x V 0/1 adjacency (tuple of tuples), upper triangular.
    labels: V labels, ``labels[0] == 'input'``, ``labels[-1] == 'output'``.
    default_channels: output channels of a conv label without ``-c``.
  """
  matrix: Sequence[Sequence[int]]
  labels: Sequence[str]
  default_channels: int = DEFAULT_CHANNELS

  def _merge(self, tensors, vertex, target_c, combine, target_hw=None):
    """Spec point 1 / 3: project (1x1, no bias) to ``target_c``, resize (nearest), add or concat."""
    tgt = target_hw or (max(t.shape[1] for _, t in tensors), max(t.shape[2] for _, t in tensors))
    outs = []
    for u, t in tensors:
      if target_c is not None and t.shape[-1] != target_c:
        t = nn.Conv(target_c, (1, 1), use_bias=False, name=f"proj_{vertex}_from_{u}")(t)
      outs.append(_resize_nearest(t, tgt))
    if combine == "add":
      return sum(outs[1:], outs[0])
    return jnp.concatenate(outs, axis=-1)

  def _op(self, x, vertex, label, train):
    op = parse_cnn_op(label)
    c = x.shape[-1]
    if op.kind == "conv":
      cout = op.channels if op.channels is not None else (c if op.depthwise else self.default_channels)
      g = math.gcd(c, cout) if op.depthwise else _largest_divisor(op.groups, c, cout)
      p = op.padding
      x = nn.Conv(cout, (op.kernel, op.kernel), strides=(op.stride, op.stride), padding=((p, p), (p, p)),
                  feature_group_count=g, use_bias=False, name=f"conv_{vertex}")(x)
      if op.batchnorm:
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, name=f"bn_{vertex}")(x)
      return _act(x, op.activation)
    if op.kind in ("maxpool", "avgpool"):
      pool = nn.max_pool if op.kind == "maxpool" else nn.avg_pool
      p = op.padding
      return pool(x, (op.kernel, op.kernel), strides=(op.stride, op.stride), padding=((p, p), (p, p)))
    if op.kind == "upsample":
      return jax.image.resize(x, (x.shape[0], op.size, op.size, c), "bilinear")
    if op.kind == "channel_shuffle":
      g = math.gcd(c, op.groups)
      b, h, w, _ = x.shape
      return x.reshape(b, h, w, g, c // g).swapaxes(-1, -2).reshape(b, h, w, c)
    if op.kind == "dropout":
      return nn.Dropout(op.prob, deterministic=not train)(x)
    raise SpaceError(f"labels[{vertex}]", label, reason="not a conv-module op")

  @nn.compact
  def __call__(self, x, train: bool = False):
    a = np.asarray(self.matrix)
    nv = len(self.labels)
    vals = {0: x}
    for v in range(1, nv - 1):
      preds = [u for u in range(v) if a[u, v]]
      if len(preds) == 1:
        vin = vals[preds[0]]
      else:
        ins = [(u, vals[u]) for u in preds]
        vin = self._merge(ins, v, max(t.shape[-1] for _, t in ins), "add")
      vals[v] = self._op(vin, v, self.labels[v], train)
      self.sow("intermediates", f"v{v}", vals[v])
    last = nv - 1
    interior = [u for u in range(1, last) if a[u, last]]
    if not interior:
      raise SpaceError("matrix", a.tolist(), reason="output has no interior in-neighbour")
    out = vals[interior[0]] if len(interior) == 1 else self._merge(
        [(u, vals[u]) for u in interior], last, None, "concat")
    if a[0, last]:
      out = self._merge([(last, out), (0, vals[0])], last, out.shape[-1], "add", out.shape[1:3])
    self.sow("intermediates", f"v{last}", out)
    return out


class CNNBenchHead(nn.Module):
  """The head chain: flatten | global-avg-pool, dense / dropout ops, dense_classes -> logits [B, C]."""
  labels: Sequence[str]
  num_classes: int

  @nn.compact
  def __call__(self, x, train: bool = False):
    first = parse_cnn_op(self.labels[1])
    if first.kind == "flatten":
      x = x.reshape(x.shape[0], -1)
    elif first.kind == "gap":
      x = x.mean(axis=(1, 2))
    else:
      raise SpaceError("head.labels[1]", self.labels[1], ["flatten", "global-avg-pool"])
    for v in range(2, len(self.labels) - 1):
      op = parse_cnn_op(self.labels[v])
      if op.kind == "dense":
        x = _act(nn.Dense(op.units, name=f"dense_{v}")(x), op.activation)
      elif op.kind == "dense_classes":
        x = nn.Dense(self.num_classes, name="dense_classes")(x)
      elif op.kind == "dropout":
        x = nn.Dropout(op.prob, deterministic=not train)(x)
      else:
        raise SpaceError(f"head.labels[{v}]", self.labels[v], reason="not a head op")
      self.sow("intermediates", f"v{v}", x)
    return x


def _freeze_modules(point) -> tuple:
  mods = _modules_of(point)
  return tuple((tuple(tuple(int(e) for e in row) for row in np.asarray(a).tolist()), tuple(l))
               for a, l in mods)


class CNNBenchNet(nn.Module):
  """A CNNBench network: ``float32[B, H, W, C] -> logits float32[B, num_classes]``.

  Build with :func:`build_cnn` (freezes the point into hashable tuples). Submodules are named
  ``module_<m>`` (conv modules, graph order) and ``head``.
  """
  modules: Any  # tuple of (matrix tuple, labels tuple), last = head
  num_classes: int
  default_channels: int = DEFAULT_CHANNELS

  @nn.compact
  def __call__(self, x, train: bool = False):
    for m, (a, labels) in enumerate(self.modules[:-1]):
      x = CNNBenchModule(a, labels, self.default_channels, name=f"module_{m}")(x, train)
    return CNNBenchHead(self.modules[-1][1], self.num_classes, name="head")(x, train)


def build_cnn(point, num_classes: int, default_channels: int = DEFAULT_CHANNELS) -> CNNBenchNet:
  """The Flax network of a CNNBench point ``{"modules": [{"matrix", "labels"}, ...]}``.

  Raises:
    SpaceError: malformed point or op label (from ``parse_cnn_op``).
  """
  mods = _freeze_modules(point)
  for a, labels in mods:
    for lab in labels:
      parse_cnn_op(lab)
  return CNNBenchNet(mods, int(num_classes), int(default_channels))


def cnn_cost(point, input_shape_hwc: Sequence[int], num_classes: int,
             default_channels: int = DEFAULT_CHANNELS) -> dict:
  """Parameter count and MACs (batch 1) from ``infer_shapes`` for an NHWC input shape (H, W, C)."""
  h, w, c = (int(v) for v in input_shape_hwc)
  rows = infer_shapes(point, (c, h, w), num_classes, default_channels)
  return {"params": int(sum(r.params for r in rows)), "macs": int(sum(r.macs for r in rows))}
