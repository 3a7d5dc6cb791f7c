"""Shared pieces of the FlexiBERT spaces: the op-string parser, the transformer block graph, its hashes.

* :func:`parse_op` is THE parser of FlexiBERT 2.0 head-op strings ``<type>_<param>_<d_head>``
  (``../shared/fixtures/README.md``, "flexibert2"); hardware models and Flax networks import it.
* :func:`block_graph` builds the FlexiBERT 1.0/2.0 block graph of ``docs/graph_hashes.md`` (FlexiBERT, JAIR 2023; CODEBench, ACM TECS 2023)
  sections 5.2/5.3 (residual edges), :func:`small_graph` the residual-free 2021 graph of section 4.
* :func:`hetero_hash` (section 5.4), :func:`flexibert1_hash` (section 6), :func:`small_hash` (4.4).
* :func:`transformer_graph`, :func:`pad_graphs`, :func:`bucket_budget`: the ``jraph`` view.
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple, Sequence

import jraph
import numpy as np

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign import padding
from jaxcodesign.spaces.graph_hash import hex_digest, wl_hash

#: The 7 head-op types of FlexiBERT 2.0 in the order of ``flexibert2/design_space.yaml``
#: (operation_types sa, l, c x their operation_parameters). This order defines the head-multiset index
#: of the 37-integer embedding and the canonical order of heads inside a layer.
OP_TYPES = ("sa_sdp", "sa_wma", "l_dft", "l_dct", "c_5", "c_9", "c_13")
#: family of each type: 'sa' self-attention, 'l' linear transform (Fourier/cosine), 'c' conv (kernel)
_FAMILIES = {"sa": ("sdp", "wma"), "l": ("dft", "dct"), "c": ("5", "9", "13")}

#: node types of :func:`transformer_graph` (one-hot block of the node features), in feature order
NODE_TYPES = ("input", "output", "add_norm", "ff") + OP_TYPES
#: normalisation constants of the numeric node features: the largest hidden size / FF width of the
#: paper's FlexiBERT 2.0 space (``flexibert2/design_space.yaml``); custom spaces may exceed 1.
MAX_HIDDEN = 768.0
MAX_FF = 4096.0
#: node feature names, in order (``transformer_graph(...).nodes`` is float32[V, len(NODE_FEATURES)])
NODE_FEATURES = tuple(f"type_{t}" for t in NODE_TYPES) + ("d_head/768", "hidden/768", "ff_width/4096")
_HASH_ROUNDS = 5  # docs/graph_hashes.md 5.4 / 6: exactly 5 rounds for FlexiBERT 1.0 / 2.0


class HeadOp(NamedTuple):
  """A parsed head-op string.

  Attributes:
    kind: one of :data:`OP_TYPES` (e.g. ``'sa_sdp'``, ``'c_9'``).
    param: the type's parameter: ``'sdp'``/``'wma'`` (similarity), ``'dft'``/``'dct'`` (transform) or
      the int kernel size 5/9/13 of a convolution head.
    d_head: head dimension (int >= 1), ``h // n_heads`` of its layer.
  """
  kind: str
  param: object
  d_head: int

  @property
  def family(self) -> str:
    """'sa' (self-attention), 'l' (linear transform) or 'c' (convolution)."""
    return self.kind.split("_", 1)[0]

  def to_string(self) -> str:
    return f"{self.kind}_{self.d_head}"


def parse_op(op: str) -> HeadOp:
  """Parses ``'<type>_<param>_<d_head>'`` (e.g. ``'sa_sdp_64'``, ``'l_dct_16'``, ``'c_13_10'``).

  Raises:
    SpaceError: field 'op' for anything else (unknown type, missing / non-positive head dimension).
  """
  allowed = "'<type>_<d_head>' with type in " + str(list(OP_TYPES)) + " and d_head a positive int"
  if not isinstance(op, str):
    raise SpaceError("op", op, allowed)
  parts = op.split("_")
  if len(parts) != 3:
    raise SpaceError("op", op, allowed)
  family, param, d = parts
  if family not in _FAMILIES or param not in _FAMILIES[family]:
    raise SpaceError("op", op, allowed, reason=f"unknown op type {family + '_' + param!r}")
  if not d.isdigit() or d != str(int(d)) or int(d) < 1:
    raise SpaceError("op", op, allowed, reason=f"head dimension {d!r} is not a positive int")
  return HeadOp(f"{family}_{param}", int(param) if family == "c" else param, int(d))


# ------------------------------------------------------------------------------------------------
# Block graphs and hashes (docs/graph_hashes.md)
# ------------------------------------------------------------------------------------------------
def block_graph(head_labels: Sequence[Sequence[str]], ff: Sequence[Sequence[int]]):
  """The FlexiBERT 1.0/2.0 block graph (docs/graph_hashes.md 5.2 vertices, 5.3 edges with residuals).

  Args:
    head_labels: per layer, one label per head vertex.
    ff: per layer, the FF widths (one vertex 'f<width>' each).

  Returns:
    ``(adjacency int64[V, V], labels list[V], residual list[(src, dst)])``; the residual edges are
    ``b -> c`` (around attention) and ``c -> c+m+1`` (around the FF stack).
  """
  labels = ["input"]
  edges, residual = [], []
  b = 0
  for heads, widths in zip(head_labels, ff):
    n, m = len(heads), len(widths)
    labels += list(heads) + ["add_norm"] + [f"f{int(w)}" for w in widths] + ["add_norm"]
    c = b + 1 + n
    edges += [(b, b + 1 + k) for k in range(n)] + [(b + 1 + k, c) for k in range(n)]
    edges.append((b, c))
    residual.append((b, c))
    edges += [(c + i, c + i + 1) for i in range(m + 1)]
    edges.append((c, c + m + 1))
    residual.append((c, c + m + 1))
    b = c + m + 1
  labels.append("output")
  edges.append((b, b + 1))
  a = np.zeros((len(labels), len(labels)), np.int64)
  for s, d in edges:
    a[s, d] = 1
  return a, labels, residual


def hetero_hash(md: Mapping) -> str:
  """FlexiBERT 2.0 hetero hash (docs/graph_hashes.md 5.4): ``md5(WL(A, labels, md5, 5) + str(h) + str(f))``.

  ``md`` must be a structurally valid hetero dict (use a space's ``hash`` for validation). The suffix
  uses the stored order of ``h`` and ``f``; the head order inside a layer does not change the value.
  """
  a, labels, _ = block_graph(md["o"], md["f"])
  fp = wl_hash(a, labels, "md5", _HASH_ROUNDS)
  h = [int(x) for x in md["h"]]
  f = [[int(x) for x in fl] for fl in md["f"]]
  return hex_digest(fp + str(h) + str(f), "md5")


def flexibert1_hash(md: Mapping, algo: str = "sha256") -> str:
  """FlexiBERT 1.0 hash (docs/graph_hashes.md section 6): 5.3 graph, heads ``<o>_h<h>_p-<p>``, 5 rounds, no
  suffix; ``algo`` sha256 (the library ``Graph`` default, checked by example 9.8) or md5."""
  heads = [[f"{o}_h{int(h)}_p-{p}"] * int(n) for o, h, n, p in zip(md["o"], md["h"], md["n"], md["p"])]
  a, labels, _ = block_graph(heads, md["f"])
  return wl_hash(a, labels, algo, _HASH_ROUNDS)


def small_graph(md: Mapping):
  """The 2021 small-library graph (docs/graph_hashes.md 4.2/4.3, no residual edges): ``(adjacency, labels)``."""
  labels = ["input"]
  edges = []
  b = 0
  for a_j, h_j, s_j, f_j in zip(md["a"], md["h"], md["s"], md["f"]):
    n = int(a_j)
    labels += [f"a_h{int(h_j)}_s-{s_j}"] * n + ["add_norm", f"f{int(f_j)}", "add_norm"]
    edges += [(b, b + 1 + k) for k in range(n)] + [(b + 1 + k, b + 1 + n) for k in range(n)]
    edges += [(b + 1 + n, b + 2 + n), (b + 2 + n, b + 3 + n)]
    b = b + 3 + n
  labels.append("output")
  edges.append((b, b + 1))
  a = np.zeros((len(labels), len(labels)), np.int64)
  for s, d in edges:
    a[s, d] = 1
  return a, labels


def small_hash(md: Mapping) -> str:
  """2021 small-library hash (docs/graph_hashes.md 4.4): ``WL(A, labels, md5, R = V)``, no suffix."""
  a, labels = small_graph(md)
  return wl_hash(a, labels, "md5", None)


# ------------------------------------------------------------------------------------------------
# Conversions between formats
# ------------------------------------------------------------------------------------------------
def small_to_flexibert2(md: Mapping) -> dict:
  """2021 small-library dict ``{l, a, h, s, f}`` -> hetero dict (fixtures README, flexibert_small):
  layer j has ``a[j]`` heads ``sa_<s[j]>_<h[j]//a[j]>``, hidden ``h[j]``, FF stack ``[f[j]]``.

  Raises:
    SpaceError: for missing keys or list lengths different from ``l``.
  """
  _check_keys(md, ("l", "a", "h", "s", "f"), "small")
  l = int(md["l"])
  for k in ("a", "h", "s", "f"):
    if len(md[k]) != l:
      raise SpaceError(k, md[k], reason=f"length {len(md[k])} != l = {l}")
  return {"l": l,
          "o": [[f"sa_{s}_{int(h) // int(a)}"] * int(a) for a, h, s in zip(md["a"], md["h"], md["s"])],
          "h": [int(h) for h in md["h"]], "f": [[int(f)] for f in md["f"]]}


def flexibert1_to_flexibert2(md: Mapping) -> dict:
  """FlexiBERT 1.0 dict ``{l, o, h, n, f, p}`` -> hetero dict: layer j has ``n[j]`` heads
  ``<o[j]>_<p[j]>_<h[j]//n[j]>``, hidden ``h[j]``, FF stack ``f[j]`` (docs/graph_hashes.md section 6).

  Raises:
    SpaceError: for missing keys or list lengths different from ``l``.
  """
  _check_keys(md, ("l", "o", "h", "n", "f", "p"), "flexibert1")
  l = int(md["l"])
  for k in ("o", "h", "n", "f", "p"):
    if len(md[k]) != l:
      raise SpaceError(k, md[k], reason=f"length {len(md[k])} != l = {l}")
  return {"l": l,
          "o": [[f"{o}_{p}_{int(h) // int(n)}"] * int(n)
                for o, h, n, p in zip(md["o"], md["h"], md["n"], md["p"])],
          "h": [int(h) for h in md["h"]], "f": [[int(w) for w in fl] for fl in md["f"]]}


def to_hetero(md: Mapping) -> dict:
  """Any FlexiBERT dict (hetero, 1.0 with key ``p``, small with key ``a``) as a hetero dict."""
  if not isinstance(md, Mapping):
    raise SpaceError("model_dict", md, reason="not a dict")
  if "p" in md:
    return flexibert1_to_flexibert2(md)
  if "a" in md:
    return small_to_flexibert2(md)
  _check_keys(md, ("l", "o", "h", "f"), "flexibert2")
  return {"l": int(md["l"]), "o": [list(o) for o in md["o"]], "h": [int(h) for h in md["h"]],
          "f": [[int(w) for w in fl] for fl in md["f"]]}


def _check_keys(md, keys, fmt):
  if not isinstance(md, Mapping):
    raise SpaceError("model_dict", md, reason="not a dict")
  missing = [k for k in keys if k not in md]
  extra = [k for k in md if k not in keys]
  if missing or extra:
    raise SpaceError("model_dict", sorted(md), allowed=list(keys),
                     reason=f"{fmt} format: missing keys {missing}, unknown keys {extra}")


# ------------------------------------------------------------------------------------------------
# jraph view
# ------------------------------------------------------------------------------------------------
def transformer_graph(md: Mapping) -> jraph.GraphsTuple:
  """The FlexiBERT block graph of one model as a single-graph ``jraph.GraphsTuple``.

  Vertices and edges are exactly those of docs/graph_hashes.md 5.2/5.3 (input, one node per head,
  add_norm, one node per FF layer, add_norm, ..., output; residual edges around attention and FF).
  Accepts hetero, FlexiBERT 1.0 (``p`` key) and small (``a`` key) dicts (converted with
  :func:`to_hetero`; for the small format this is the 5.3 graph, with residuals, not its hash graph).

  Returns:
    GraphsTuple with ``nodes`` float32[V, 14] (:data:`NODE_FEATURES`: one-hot over
    :data:`NODE_TYPES`, then d_head/768 for head nodes, hidden/768 of the node's layer for head,
    add_norm and FF nodes, FF width/4096 for FF nodes; 0 where not applicable), ``edges``
    float32[E, 1] (1 for a residual edge), ``senders``/``receivers`` int32[E], ``n_node`` int32[1]
    = [V], ``n_edge`` int32[1], ``globals`` float32[1, 1] = number of layers / 12.
    V = 2 + sum_j (n_j + m_j + 2), E = 1 + sum_j (2 n_j + m_j + 3); BERT-Tiny: 12 nodes, 17 edges.

  Raises:
    SpaceError: for malformed dicts or op strings.
  """
  hd = to_hetero(md)
  if len(hd["o"]) != hd["l"] or len(hd["h"]) != hd["l"] or len(hd["f"]) != hd["l"]:
    raise SpaceError("l", hd["l"], reason="lists o, h, f must have length l")
  a, labels, residual = block_graph(hd["o"], hd["f"])
  v = len(labels)
  feats = np.zeros((v, len(NODE_FEATURES)), np.float32)
  t_index = {t: i for i, t in enumerate(NODE_TYPES)}
  nt = len(NODE_TYPES)
  idx = 0
  feats[idx, t_index["input"]] = 1
  idx += 1
  for ops, h, widths in zip(hd["o"], hd["h"], hd["f"]):
    for op in ops:
      p = parse_op(op)
      feats[idx, t_index[p.kind]] = 1
      feats[idx, nt] = p.d_head / MAX_HIDDEN
      feats[idx, nt + 1] = h / MAX_HIDDEN
      idx += 1
    for w in [None] + list(widths) + [None]:
      feats[idx, t_index["add_norm" if w is None else "ff"]] = 1
      feats[idx, nt + 1] = h / MAX_HIDDEN
      if w is not None:
        feats[idx, nt + 2] = w / MAX_FF
      idx += 1
  feats[idx, t_index["output"]] = 1
  senders, receivers = np.nonzero(a)
  res = set(residual)
  edge_feat = np.array([[1.0 if (s, r) in res else 0.0] for s, r in zip(senders, receivers)],
                       np.float32).reshape(-1, 1)
  return jraph.GraphsTuple(
      nodes=feats, edges=edge_feat, senders=senders.astype(np.int32), receivers=receivers.astype(np.int32),
      n_node=np.array([v], np.int32), n_edge=np.array([len(senders)], np.int32),
      globals=np.array([[hd["l"] / 12.0]], np.float32))


def bucket_budget(graphs: Sequence[jraph.GraphsTuple]) -> tuple[int, int, int]:
  """Power-of-two padding budgets ``(n_node, n_edge, n_graph)``: :func:`jaxcodesign.padding.graph_budget`."""
  return padding.graph_budget(graphs)


def pad_graphs(graphs: Sequence[jraph.GraphsTuple], n_node: int, n_edge: int,
               n_graph: int) -> jraph.GraphsTuple:
  """Batches and pads ``graphs`` to fixed budgets: :func:`jaxcodesign.padding.pad_graphs`.

  Raises:
    ConfigError: for an empty list or budgets that are too small.
  """
  return padding.pad_graphs(list(graphs), n_node, n_edge, n_graph)


# ------------------------------------------------------------------------------------------------
# Combinatorics: ranks of multisets (combinations with replacement) and FF stacks (products)
# ------------------------------------------------------------------------------------------------
def n_multisets(t: int, n: int) -> int:
  """Number of multisets of size ``n`` over ``t`` types: C(t + n - 1, n)."""
  return math.comb(t + n - 1, n)


def multiset_rank(seq: Sequence[int], t: int) -> int:
  """Rank of a non-decreasing sequence of type indices in ``itertools.combinations_with_replacement(
  range(t), len(seq))`` order (lexicographic), computed combinatorially (no table)."""
  r = len(seq)
  rank, prev = 0, 0
  for i, v in enumerate(seq):
    rest = r - i - 1
    for u in range(prev, v):
      rank += n_multisets(t - u, rest)
    prev = v
  return rank


def multiset_unrank(rank: int, n: int, t: int) -> list[int]:
  """Inverse of :func:`multiset_rank` for sequences of length ``n`` over ``t`` types."""
  out, prev = [], 0
  for i in range(n):
    rest = n - i - 1
    u = prev
    while True:
      c = n_multisets(t - u, rest)
      if rank < c:
        break
      rank -= c
      u += 1
    out.append(u)
    prev = u
  return out
