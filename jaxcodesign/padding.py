"""Padding to fixed buckets, the one place for it (so that jitted loops do not recompile).

A jitted function recompiles for every new input shape. Batches of varying size (candidates per
round, dataset rows as it grows, graphs of varying node counts) are therefore padded up to a small set
of *bucket* sizes: powers of two above a minimum, or a multiple of the device count for sharding.

* :func:`bucket_size`: smallest power of two ``>= max(n, minimum)``.
* :func:`round_up`: smallest multiple of ``multiple`` ``>= n`` (e.g. the local device count).
* :func:`pad_rows`: pads the leading axis of an array (or every leaf of a pytree) to a size, by
  repeating the last row (``mode='edge'``, keeps padded rows valid inputs) or with zeros.
* :func:`graph_budget` / :func:`pad_graphs`: the same for ``jraph.GraphsTuple`` batches.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jraph
import numpy as np

from jaxcodesign.errors import ConfigError

__all__ = ["bucket_size", "round_up", "pad_rows", "graph_budget", "pad_graphs"]


def bucket_size(n: int, minimum: int = 1) -> int:
  """Smallest power of two ``>= max(n, minimum)`` (``minimum`` itself need not be a power of two:
  the result is ``max(minimum, next_pow2(n))``).

  Raises:
    ConfigError: if ``n < 0``.
  """
  n = int(n)
  if n < 0:
    raise ConfigError(f"invalid value for field 'n': {n}; allowed: n >= 0")
  return int(max(int(minimum), 1 << max(0, n - 1).bit_length()))


def round_up(n: int, multiple: int) -> int:
  """Smallest multiple of ``multiple`` that is ``>= n`` (at least ``multiple``)."""
  multiple = int(multiple)
  if multiple < 1:
    raise ConfigError(f"invalid value for field 'multiple': {multiple}; allowed: >= 1")
  return max(multiple, -(-int(n) // multiple) * multiple)


def pad_rows(tree: Any, size: int, mode: str = "edge") -> Any:
  """Pads the leading axis of every array leaf of ``tree`` from ``n`` to ``size`` rows.

  Args:
    tree: an array ``[n, ...]`` or a pytree of them (all with the same ``n``); scalars pass through.
    size: target rows, ``>= n``.
    mode: ``'edge'`` repeats the last row (padded rows stay valid inputs, e.g. legal configs);
      ``'zeros'`` fills with zeros (use a mask to ignore them).

  Returns:
    The padded tree (NumPy leaves become NumPy arrays, JAX leaves JAX arrays).

  Raises:
    ConfigError: for an unknown mode, ``size < n`` or an empty array in edge mode.
  """
  if mode not in ("edge", "zeros"):
    raise ConfigError(f"invalid value for field 'mode': {mode!r}; allowed: ['edge', 'zeros']")

  def pad(a):
    if np.ndim(a) == 0:
      return a
    n = a.shape[0]
    if size < n:
      raise ConfigError(f"invalid value for field 'size': {size}; allowed: >= {n} rows")
    if size == n:
      return a
    xp = np if isinstance(a, np.ndarray) else jax.numpy
    if mode == "edge":
      if n == 0:
        raise ConfigError("invalid value for field 'rows': 0; allowed: >= 1 row to pad in edge mode")
      fill = xp.repeat(a[-1:], size - n, axis=0)
    else:
      fill = xp.zeros((size - n,) + tuple(a.shape[1:]), a.dtype)
    return xp.concatenate([a, fill], axis=0)

  return jax.tree.map(pad, tree)


def graph_budget(graphs: Sequence[jraph.GraphsTuple], minimum: int = 1) -> tuple[int, int, int]:
  """Power-of-two budgets ``(n_node, n_edge, n_graph)`` for :func:`pad_graphs`.

  ``n_node >= total nodes + 1`` and ``n_graph >= number of graphs + 1`` (``jraph.pad_with_graphs``
  needs one padding node and one padding graph), ``n_edge >= total edges``; each a power of two
  ``>= minimum`` so that batches of similar size share one compilation.
  """
  nodes = sum(int(np.sum(g.n_node)) for g in graphs)
  edges = sum(int(np.sum(g.n_edge)) for g in graphs)
  ngraph = sum(int(np.shape(g.n_node)[0]) for g in graphs)
  return (bucket_size(nodes + 1, minimum), bucket_size(max(edges, 1), minimum),
          bucket_size(ngraph + 1, minimum))


def pad_graphs(graphs: Sequence[jraph.GraphsTuple] | jraph.GraphsTuple, n_node: int | None = None,
               n_edge: int | None = None, n_graph: int | None = None) -> jraph.GraphsTuple:
  """Batches ``graphs`` (``jraph.batch``) and pads them to fixed budgets (``jraph.pad_with_graphs``).

  Args:
    graphs: a list of GraphsTuples or one (possibly already batched) GraphsTuple.
    n_node, n_edge, n_graph: budgets; None takes :func:`graph_budget`'s.

  Returns:
    A GraphsTuple with exactly ``n_node`` nodes, ``n_edge`` edges and ``n_graph`` graphs, padding
    last (``jraph.get_graph_padding_mask`` recovers the real graphs).

  Raises:
    ConfigError: for an empty list or budgets that are too small.
  """
  if isinstance(graphs, jraph.GraphsTuple):
    graphs = [graphs]
  if not graphs:
    raise ConfigError("invalid value for field 'graphs': empty list; allowed: at least one graph")
  bn, be, bg = graph_budget(graphs)
  n_node, n_edge, n_graph = n_node or bn, n_edge or be, n_graph or bg
  batched = jraph.batch(list(graphs)) if len(graphs) > 1 else graphs[0]
  nodes, edges, ng = int(np.sum(batched.n_node)), int(np.sum(batched.n_edge)), len(batched.n_node)
  if n_node < nodes + 1 or n_edge < edges or n_graph < ng + 1:
    raise ConfigError(
        f"invalid padding budget (n_node={n_node}, n_edge={n_edge}, n_graph={n_graph}); allowed: "
        f"n_node >= {nodes + 1}, n_edge >= {edges}, n_graph >= {ng + 1}")
  return jraph.pad_with_graphs(batched, n_node, n_edge, n_graph)
