"""The three surrogate networks of BOSHNAS (Flax linen; ``../shared/specs/boshnas.md``, "Surrogates").

* :class:`Teacher`: ``[encoder]-Linear(64)-Softplus-Dropout(0.3)-Linear(32)-Softplus-Dropout(0.3)-Linear(1)``
  (optional sigmoid; off by default since our targets are standardised).  Its MC-dropout standard
  deviation is the epistemic target.
* :class:`Student`: same widths without dropout, Softplus output (a standard deviation >= 0).
* :class:`NPNNet`: ``[encoder]-NPNLinear(32)-NPNReLU-NPNLinear(32)-NPNReLU-NPNLinear(1)[-NPNSigmoid]``
  returning mean and variance (aleatoric).  The encoder (two towers / GNN) is deterministic, so its
  output enters the NPN with zero variance.

The encoder's ``width`` (towers, GNN) and ``gnn_layers`` (graph convolutions) come from
``SurrogateConfig.tower_width`` / ``gnn_layers``.  All take ``x`` as float[B, d] (``mlp``, ``two_tower``) or a ``jraph.GraphsTuple`` (``gnn``) and
return float[B] (NPN: a pair).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxcodesign.surrogates.encoders import GNNEncoder, TwoTower
from jaxcodesign.surrogates.npn import NPNDense, relu_moments, sigmoid_moments

__all__ = ["Teacher", "Student", "NPNNet"]


class _Encoder(nn.Module):
  kind: str = "mlp"
  split: int = 0
  width: int = 32
  gnn_layers: int = 2

  @nn.compact
  def __call__(self, x):
    if self.kind == "mlp":
      return x
    if self.kind == "two_tower":
      return TwoTower(self.split, self.width)(x)
    return GNNEncoder(self.width, self.gnn_layers)(x)


class Teacher(nn.Module):
  hidden: Sequence[int] = (64, 32)
  dropout: float = 0.3
  output_sigmoid: bool = False
  encoder: str = "mlp"
  split: int = 0
  width: int = 32
  gnn_layers: int = 2

  @nn.compact
  def __call__(self, x, deterministic: bool = True):
    h = _Encoder(self.encoder, self.split, self.width, self.gnn_layers)(x)
    for w in self.hidden:
      h = nn.Dropout(self.dropout, deterministic=deterministic)(nn.softplus(nn.Dense(w)(h)))
    out = nn.Dense(1)(h)[..., 0]
    return nn.sigmoid(out) if self.output_sigmoid else out


class Student(nn.Module):
  hidden: Sequence[int] = (64, 32)
  encoder: str = "mlp"
  split: int = 0
  width: int = 32
  gnn_layers: int = 2

  @nn.compact
  def __call__(self, x):
    h = _Encoder(self.encoder, self.split, self.width, self.gnn_layers)(x)
    for w in self.hidden:
      h = nn.softplus(nn.Dense(w)(h))
    return nn.softplus(nn.Dense(1)(h)[..., 0])


class NPNNet(nn.Module):
  hidden: Sequence[int] = (32, 32)
  output_sigmoid: bool = False
  encoder: str = "mlp"
  split: int = 0
  width: int = 32
  gnn_layers: int = 2

  @nn.compact
  def __call__(self, x):
    m = _Encoder(self.encoder, self.split, self.width, self.gnn_layers)(x)
    s = jnp.zeros_like(m)
    for w in self.hidden:
      m, s = relu_moments(*NPNDense(w)(m, s))
    m, s = NPNDense(1)(m, s)
    if self.output_sigmoid:
      m, s = sigmoid_moments(m, s)
    return m[..., 0], s[..., 0]
