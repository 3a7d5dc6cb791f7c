"""A Flax FlexiBERT 2.0 encoder built from a heterogeneous model dict.

Model dict (FlexiBERT 2.0 "hetero" format, ``docs/ARCHITECTURE.md``)::

  {"l": L, "o": [[op per head] per layer], "h": [hidden per layer], "f": [[FF widths] per layer]}

with ops ``<type>_<param>_<d_head>`` parsed by :func:`jaxcodesign.spaces.flexibert.parse_op` (kinds
``sa_sdp, sa_wma, l_dft, l_dct, c_5, c_9, c_13``). Sources: FlexiBERT (Tuli et al., JAIR 2023) and
EdgeTran / FlexiBERT 2.0 (Tuli & Jha, IEEE TMC 2023), thesis ch. 2 and 5.

Architecture (one layer ``j`` of hidden size ``h = h[j]``, input ``x: float32[B, T, h]``):

* every head ``i`` (op kind, ``d = d_head``) reads the full layer input and owns its parameters; its
  output is ``float32[B, T, d]``:

  - ``sa_sdp``: ``softmax(q k^T / sqrt(d)) v`` with ``q, k, v = Dense(h -> d)(x)``;
  - ``sa_wma``: weighted multiplicative attention ``softmax(q W k^T / sqrt(d)) v`` with a learned
    ``W: d x d`` (initialised to the identity plus noise so it starts as SDP);
  - ``l_dft``: ``Re(FFT2(v))`` over (tokens, features) of ``v = Dense(h -> d)(x)`` (FNet, Lee-Thorp et
    al. 2021), divided by ``sqrt(T d)`` (unitary scaling);
  - ``l_dct``: orthonormal DCT-II over tokens of ``v = Dense(h -> d)(x)`` (``jax.scipy.fft.dct``);
  - ``c_k`` (k in 5, 9, 13): depthwise 1-D convolution over tokens, kernel ``k``, "same" padding, with
    bias, applied to ``v = Dense(h -> d)(x)`` (the lightweight convolution of ConvBERT, without
    dynamic kernels);

* the heads' outputs are concatenated (``sum_i d_i`` features; ``= h`` in a valid point) and an output
  projection ``Dense(sum d -> h)`` follows; residual + LayerNorm;
* feed-forward stack ``f[j] = [f_1, ..., f_n]``: ``Dense(f_1), GELU, ..., Dense(f_n), GELU, Dense(h)``;
  residual + LayerNorm;
* between layers of different hidden size a projection ``Dense(h[j-1] -> h[j])`` is applied first
  (FlexiBERT's "projection layers"); none when sizes agree.

No head is ever zeroed: every head contributes to the output (the original zeroed some heads).

Input: integer token ids ``int32[B, T]`` (``Embed(vocab_size, h[0])``) or continuous token features
``float32[B, T, F]`` (``Dense(F -> h[0])``), plus a learned positional embedding ``[max_len, h[0]]``.
Classifier: ``Dense(h[L-1] -> num_classes)`` on the mean over tokens (``pool='mean'``) or on token 0
(``pool='cls'``). No padding mask (fixed-length inputs).

The number of parameters is :func:`flexibert_param_count`, tested against the Flax tree.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
from flax.core import FrozenDict
import jax
import jax.numpy as jnp

from jaxcodesign.errors import ConfigError, SpaceError

from jaxcodesign.spaces.flexibert import OP_TYPES, parse_op, to_hetero  # THE op-string parser

HEAD_KINDS = tuple(OP_TYPES)
CONV_KERNELS = {"c_5": 5, "c_9": 9, "c_13": 13}


def _check_md(md: dict) -> tuple[int, list, list, list]:
  """Returns (L, ops, hidden, ff) of a FlexiBERT dict (hetero, or 1.0 / small, converted by
  ``to_hetero``); raises SpaceError for malformed dicts."""
  md = to_hetero(md)
  n = int(md["l"])
  ops, hid, ff = list(md["o"]), [int(v) for v in md["h"]], [list(v) for v in md["f"]]
  if n < 1 or len(ops) != n or len(hid) != n or len(ff) != n:
    raise SpaceError("l", n, reason=f"o, h, f must have l entries (got {len(ops)}, {len(hid)}, {len(ff)})")
  for j in range(n):
    if not ops[j]:
      raise SpaceError(f"o[{j}]", ops[j], reason="a layer needs at least one head")
    for op in ops[j]:
      if parse_op(op).kind not in HEAD_KINDS:
        raise SpaceError(f"o[{j}]", op, HEAD_KINDS)
    if hid[j] < 1:
      raise SpaceError(f"h[{j}]", hid[j], reason="must be positive")
  return n, ops, hid, ff


def freeze_model_dict(md) -> FrozenDict:
  """The hetero form of ``md`` as a hashable ``FrozenDict`` with tuples (accepted wherever a model
  dict is). Raises SpaceError for a malformed dict."""
  hd = to_hetero(md)
  return FrozenDict({"l": hd["l"], "o": tuple(tuple(o) for o in hd["o"]), "h": tuple(hd["h"]),
                     "f": tuple(tuple(f) for f in hd["f"])})


def head_param_count(kind: str, hidden: int, d_head: int) -> int:
  """Parameters of one head reading ``hidden`` features and producing ``d_head`` (see module doc)."""
  proj = hidden * d_head + d_head  # one Dense(h -> d) with bias
  if kind == "sa_sdp":
    return 3 * proj
  if kind == "sa_wma":
    return 3 * proj + d_head * d_head
  if kind in ("l_dft", "l_dct"):
    return proj
  if kind in CONV_KERNELS:
    return proj + CONV_KERNELS[kind] * d_head + d_head  # depthwise kernel [k, 1, d] + bias
  raise SpaceError("kind", kind, HEAD_KINDS)


def flexibert_param_count(md: dict, num_classes: int, max_len: int, input_dim: int | None = None,
                          vocab_size: int | None = None) -> int:
  """Exact number of trainable parameters of :class:`FlexiBERT` for ``md``.

  Formula (``d_i`` head dims, ``h_j`` hidden sizes, ``D_j = sum_i d_i`` of layer j)::

    input    = vocab_size * h_0            (token ids)   or   F * h_0 + h_0   (features)
    position = max_len * h_0
    layer j  = [h_{j-1} != h_j] (h_{j-1} h_j + h_j)                       projection
             + sum_i head(kind_i, h_j, d_i)                                 heads
             + D_j h_j + h_j + 2 h_j                                        output proj + LayerNorm
             + sum over the FF chain h_j -> f_1 -> ... -> f_n -> h_j of (in * out + out) + 2 h_j
    head     = 3 (h d + d) (sa_sdp), 3 (h d + d) + d^2 (sa_wma), h d + d (l_dft, l_dct),
               h d + d + k d + d (c_k)
    classifier = h_{L-1} * C + C

  Raises:
    SpaceError: malformed model dict. ConfigError: not exactly one of ``input_dim``, ``vocab_size``.
  """
  n, ops, hid, ff = _check_md(md)
  if (input_dim is None) == (vocab_size is None):
    raise ConfigError(f"invalid value for fields 'input_dim'/'vocab_size': {input_dim!r}/{vocab_size!r}; "
                      "allowed: exactly one of them set (features [B, T, F] or token ids [B, T])")
  total = vocab_size * hid[0] if vocab_size is not None else input_dim * hid[0] + hid[0]
  total += max_len * hid[0]
  prev = hid[0]
  for j in range(n):
    h = hid[j]
    if prev != h:
      total += prev * h + h
    heads = [parse_op(op) for op in ops[j]]
    total += sum(head_param_count(o.kind, h, int(o.d_head)) for o in heads)
    total += sum(int(o.d_head) for o in heads) * h + h + 2 * h
    chain = [h] + [int(w) for w in ff[j]] + [h]
    total += sum(a * b + b for a, b in zip(chain[:-1], chain[1:])) + 2 * h
    prev = h
  return int(total + hid[-1] * num_classes + num_classes)


class Head(nn.Module):
  """One FlexiBERT 2.0 head: ``float32[B, T, h] -> float32[B, T, d_head]`` (see module doc)."""
  kind: str
  d_head: int

  @nn.compact
  def __call__(self, x):
    d = self.d_head
    v = nn.Dense(d, name="value")(x)
    if self.kind in ("sa_sdp", "sa_wma"):
      q = nn.Dense(d, name="query")(x)
      k = nn.Dense(d, name="key")(x)
      if self.kind == "sa_wma":
        w = self.param("wma", lambda key, s: jnp.eye(s[0]) + 0.02 * jax.random.normal(key, s), (d, d))
        q = q @ w
      scores = jnp.einsum("btd,bsd->bts", q, k) / math.sqrt(d)
      return jnp.einsum("bts,bsd->btd", jax.nn.softmax(scores, axis=-1), v)
    if self.kind == "l_dft":
      t = x.shape[-2]
      return jnp.real(jnp.fft.fft2(v, axes=(-2, -1))) / math.sqrt(t * d)
    if self.kind == "l_dct":
      return jax.scipy.fft.dct(v, type=2, axis=-2, norm="ortho")
    if self.kind in CONV_KERNELS:
      k = CONV_KERNELS[self.kind]
      return nn.Conv(d, (k,), padding="SAME", feature_group_count=d, name="conv")(v)
    raise SpaceError("kind", self.kind, HEAD_KINDS)


class FlexiBERTLayer(nn.Module):
  """One encoder layer: heterogeneous heads -> output projection -> residual + LN -> FF -> residual + LN."""
  ops: Sequence[str]
  hidden: int
  ff: Sequence[int]

  @nn.compact
  def __call__(self, x):
    heads = [parse_op(op) for op in self.ops]
    outs = [Head(o.kind, int(o.d_head), name=f"head_{i}")(x) for i, o in enumerate(heads)]
    y = nn.Dense(self.hidden, name="attn_out")(jnp.concatenate(outs, axis=-1))
    x = nn.LayerNorm(name="ln_attn")(x + y)
    y = x
    for i, w in enumerate(self.ff):
      y = nn.gelu(nn.Dense(int(w), name=f"ff_{i}")(y))
    y = nn.Dense(self.hidden, name="ff_out")(y)
    return nn.LayerNorm(name="ln_ff")(x + y)


class FlexiBERT(nn.Module):
  """FlexiBERT 2.0 classifier from a hetero model dict.

  Attributes:
    model_dict: hetero dict (see module doc); validated on use (SpaceError).
    num_classes: output classes C.
    max_len: maximum sequence length T (size of the positional table).
    vocab_size: if set, inputs are int token ids [B, T]; else float features [B, T, F].
    pool: 'mean' (mean over tokens) or 'cls' (token 0).

  ``__call__(x, train=False) -> float32[B, C]`` logits (``train`` is accepted for a uniform interface
  with the CNNs; there is no dropout or BatchNorm).
  """
  model_dict: Any
  num_classes: int
  max_len: int
  vocab_size: int | None = None
  pool: str = "mean"

  def __post_init__(self):
    # A hashable canonical copy (tuples in a FrozenDict): equal architectures give equal, hashable
    # modules, so ``train.py`` can reuse the compiled train step of an architecture.
    object.__setattr__(self, "model_dict", freeze_model_dict(self.model_dict))
    super().__post_init__()

  @nn.compact
  def __call__(self, x, train: bool = False):
    n, ops, hid, ff = _check_md(self.model_dict)
    if self.pool not in ("mean", "cls"):
      raise SpaceError("pool", self.pool, ["mean", "cls"])
    if self.vocab_size is not None:
      h = nn.Embed(self.vocab_size, hid[0], name="embed")(x)
    else:
      h = nn.Dense(hid[0], name="embed")(x)
    t = h.shape[-2]
    if t > self.max_len:
      raise SpaceError("seq_len", t, reason=f"longer than max_len={self.max_len}")
    pos = self.param("pos_embed", nn.initializers.normal(0.02), (self.max_len, hid[0]))
    h = h + pos[:t]
    prev = hid[0]
    for j in range(n):
      if prev != hid[j]:
        h = nn.Dense(hid[j], name=f"proj_{j}")(h)
      h = FlexiBERTLayer(tuple(ops[j]), hid[j], tuple(int(w) for w in ff[j]), name=f"layer_{j}")(h)
      prev = hid[j]
    pooled = h.mean(axis=-2) if self.pool == "mean" else h[..., 0, :]
    return nn.Dense(self.num_classes, name="classifier")(pooled)


def model_macs(md: dict, seq_len: int, input_dim: int | None = None) -> int:
  """Approximate multiply-accumulates of one forward pass of one sequence (dense layers and attention
  products; FFT/DCT counted as ``T log2 T`` per feature, softmax/LN not counted).

  Used only as a reported size metric by the oracles (hardware metrics come from ``hardware/``).
  """
  n, ops, hid, ff = _check_md(md)
  t = seq_len
  total = t * (input_dim or 0) * hid[0]
  prev = hid[0]
  for j in range(n):
    h = hid[j]
    if prev != h:
      total += t * prev * h
    for op in ops[j]:
      o = parse_op(op)
      d = int(o.d_head)
      if o.kind.startswith("sa"):
        total += 3 * t * h * d + 2 * t * t * d + (t * d * d if o.kind == "sa_wma" else 0)
      elif o.kind in ("l_dft", "l_dct"):
        total += t * h * d + int(d * t * max(1.0, math.log2(t)))
      else:
        total += t * h * d + t * d * CONV_KERNELS[o.kind]
      total += t * d * h  # output projection share
    chain = [h] + [int(w) for w in ff[j]] + [h]
    total += sum(t * a * b for a, b in zip(chain[:-1], chain[1:]))
    prev = h
  return int(total)
