"""Input encoders shared by the teacher, student and NPN networks (Flax linen).

* ``mlp``: identity over a (normalised) feature vector float[B, d]; the trunk does all the work, as in
  the original single-input surrogates (``../shared/specs/boshnas.md``).
* ``two_tower``: (model, hardware) pairs given as one concatenated float[B, d1 + d2]; each half goes
  through its own tower ``Linear(d_i, 32)-act-Linear(32, 32)-act`` and the towers are concatenated (64)
  before the trunk (spec, "Two-input (BOSHCODE) variant").
* ``gnn``: a padded ``jraph.GraphsTuple`` batch (node features float[N_nodes, F], one graph per design,
  trailing padding graphs allowed): ``n_layers`` x ``jraph.GraphConvolution`` (symmetric normalisation,
  self loops) with a Dense+act node update, then a mean over each graph's nodes -> float[G, width].
"""

from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

__all__ = ["ENCODERS", "TwoTower", "GNNEncoder", "mean_pool"]

ENCODERS = ("mlp", "gnn", "two_tower")


class TwoTower(nn.Module):
  """Two towers over ``x[:, :split]`` and ``x[:, split:]``; returns float[B, 2 * width]."""
  split: int
  width: int = 32
  act: Callable = nn.softplus

  @nn.compact
  def __call__(self, x):
    outs = []
    for name, part in (("model", x[..., :self.split]), ("hw", x[..., self.split:])):
      h = self.act(nn.Dense(self.width, name=f"{name}_0")(part))
      h = self.act(nn.Dense(self.width, name=f"{name}_1")(h))
      outs.append(h)
    return jnp.concatenate(outs, axis=-1)


def mean_pool(graph: jraph.GraphsTuple, node_values):
  """Mean of ``node_values`` float[N_nodes, k] over each graph's nodes -> float[G, k] (0 for empty
  padding graphs)."""
  n_graph = graph.n_node.shape[0]
  seg = jnp.repeat(jnp.arange(n_graph), graph.n_node, total_repeat_length=node_values.shape[0])
  s = jax.ops.segment_sum(node_values, seg, num_segments=n_graph)
  return s / jnp.maximum(graph.n_node, 1)[:, None].astype(node_values.dtype)


class GNNEncoder(nn.Module):
  """GCN encoder to a graph embedding float[G, width]."""
  width: int = 32
  n_layers: int = 2
  act: Callable = nn.softplus

  @nn.compact
  def __call__(self, graph: jraph.GraphsTuple):
    g = graph._replace(nodes=jnp.asarray(graph.nodes, jnp.float32))
    for i in range(self.n_layers):
      dense = nn.Dense(self.width, name=f"gcn_{i}")
      conv = jraph.GraphConvolution(update_node_fn=lambda n, d=dense: self.act(d(n)),
                                    add_self_edges=True, symmetric_normalization=True)
      g = conv(g)
    return mean_pool(g, g.nodes)
