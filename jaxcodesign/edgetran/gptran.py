"""GPTran: grow-and-prune refinement of a chosen FlexiBERT 2.0 model (EdgeTran, Tuli & Jha, IEEE TMC
2024, section 4.3).

Starting from a model (e.g. the co-search's pick), GPTran proposes one architectural change at a
time, trains the child (weights transferred from the parent) and keeps it only when the objective
improves; a grow phase (more heads, wider FF) runs until no grow move is accepted, then a prune
phase (fewer heads, narrower / shallower FF, smaller hidden) until no prune move is accepted or the
budget of trainings is spent.

Here:

* Moves (:func:`moves`), each on ONE layer, tried from the last layer backwards (weight transfer
  keeps every layer before the changed one: :func:`jaxcodesign.models.transfer.transfer_variables`'
  prefix rule; FlexiBERT 2.0 ties ``d_head = h // heads``, so a changed layer is re-initialised):
  ``grow_heads`` (next head count, op types repeated cyclically), ``grow_ff`` (first FF layer to the
  next width), ``prune_heads`` (next smaller head count, keeping the first types),
  ``prune_ff`` (drop the last FF layer of a deeper stack, else the first width to the next smaller),
  ``prune_hidden`` (next smaller hidden size, heads kept when ``h // heads >= 1``). Children outside
  the space are skipped.
* Objective (higher is better): ``score = val_accuracy - cost_weight * log(cost / cost_0)``, with
  ``cost`` a latency (s) from the device surrogate (or any positive cost function) and ``cost_0``
  that of the starting model: ``cost_weight`` accuracy points per e-fold of latency, so both terms are
  on the scale of the data (accuracy fractions; log-ratios of s). Validation accuracy only; the
  test accuracy of the final model is measured once, after the search.
* Every child is really trained (:func:`jaxcodesign.models.train.train_model`) for the same
  ``TrainConfig`` and key as its parent was, from the transferred initialisation.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Mapping

import jax
import numpy as np

from jaxcodesign.errors import ConfigError, SpaceError

__all__ = ["GPTranConfig", "moves", "gptran", "surrogate_latency"]


@dataclasses.dataclass(frozen=True)
class GPTranConfig:
  """Settings of :func:`gptran`.

  Attributes:
    cost_weight: accuracy points (fraction) traded per e-fold of cost (>= 0).
    max_trainings: children trained in total (the budget; the parent's training not counted).
    tries_per_step: children tried per step before a phase ends without acceptance.
    train: :class:`jaxcodesign.models.train.TrainConfig` fields for every training.
  """
  cost_weight: float = 0.05
  max_trainings: int = 6
  tries_per_step: int = 3
  train: tuple = (("epochs", 6), ("batch_size", 64), ("learning_rate", 3e-3), ("patience", None))

  def __post_init__(self):
    if self.cost_weight < 0:
      raise ConfigError(f"invalid value for field 'cost_weight': {self.cost_weight!r}; allowed: >= 0")
    for f in ("max_trainings", "tries_per_step"):
      if int(getattr(self, f)) < 1:
        raise ConfigError(f"invalid value for field {f!r}: {getattr(self, f)!r}; allowed: >= 1")


def _kinds(ops):
  from jaxcodesign.spaces.flexibert import parse_op
  return [parse_op(op).kind for op in ops]


def _next(values, v, up: bool):
  vs = sorted(values)
  if up:
    bigger = [x for x in vs if x > v]
    return bigger[0] if bigger else None
  smaller = [x for x in vs if x < v]
  return smaller[-1] if smaller else None


def moves(model_dict: Mapping[str, Any], space, phase: str) -> list[tuple[str, dict]]:
  """Children of ``model_dict`` for one phase, as ``(move name, child dict)``, last layer first.

  Args:
    model_dict: a FlexiBERT 2.0 hetero dict valid in ``space``.
    space: a :class:`~jaxcodesign.spaces.flexibert.FlexiBERT2Space` (its value lists bound moves).
    phase: ``'grow'`` or ``'prune'``.

  Raises:
    ConfigError: unknown phase; SpaceError: ``model_dict`` outside ``space``.
  """
  if phase not in ("grow", "prune"):
    raise ConfigError(f"invalid value for field 'phase': {phase!r}; allowed: ['grow', 'prune']")
  md = space.validate(model_dict)
  out = []
  for j in reversed(range(md["l"])):
    h, ops, ff = md["h"][j], md["o"][j], md["f"][j]
    kinds = _kinds(ops)
    n = len(ops)
    cands = []
    if phase == "grow":
      n2 = _next(space.heads, n, True)
      if n2 is not None and h // n2 >= 1:
        ks = [kinds[i % n] for i in range(n2)]
        cands.append((f"grow_heads[{j}] {n}->{n2}", {"o": [f"{k}_{h // n2}" for k in ks]}))
      w2 = _next(space.ff_widths, ff[0], True)
      if w2 is not None:
        cands.append((f"grow_ff[{j}] {ff[0]}->{w2}", {"f": [w2] + list(ff[1:])}))
    else:
      n2 = _next(space.heads, n, False)
      if n2 is not None:
        cands.append((f"prune_heads[{j}] {n}->{n2}", {"o": [f"{k}_{h // n2}" for k in kinds[:n2]]}))
      d2 = _next(space.ff_depths, len(ff), False)
      if d2 is not None and d2 >= 1:
        cands.append((f"prune_ff[{j}] depth {len(ff)}->{d2}", {"f": list(ff[:d2])}))
      else:
        w2 = _next(space.ff_widths, ff[0], False)
        if w2 is not None:
          cands.append((f"prune_ff[{j}] {ff[0]}->{w2}", {"f": [w2] + list(ff[1:])}))
      h2 = _next(space.hidden, h, False)
      if h2 is not None and h2 // n >= 1:
        cands.append((f"prune_hidden[{j}] {h}->{h2}", {"h": h2, "o": [f"{k}_{h2 // n}" for k in kinds]}))
    for name, change in cands:
      child = {"l": md["l"], "o": [list(o) for o in md["o"]], "h": list(md["h"]),
               "f": [list(f) for f in md["f"]]}
      for key, val in change.items():
        child[key][j] = val
      try:
        out.append((name, space.validate(child)))
      except SpaceError:
        continue
  return out


def surrogate_latency(surrogate, device: str) -> Callable[[Mapping], float]:
  """A cost function: predicted latency (s/sequence at seq 128) of a model on ``device`` by a fitted
  :class:`~jaxcodesign.surrogates.devices.DeviceSurrogate`."""
  from jaxcodesign.surrogates import devices as dv
  surrogate.device_index([device])  # unknown device -> SpaceError now, not mid-search

  def cost(md):
    return dv.predict_rows(surrogate, [md], [device])[0]["latency_s_per_seq"]
  return cost


def _train(md, data, train_cfg, key, init_from=None):
  """Trains ``md`` on ``data`` (from ``init_from = (parent_md, parent_vars)`` when given)."""
  from jaxcodesign.models.flexibert import FlexiBERT
  from jaxcodesign.models.train import init_model, train_model
  from jaxcodesign.models.transfer import transfer_variables
  model = FlexiBERT(md, data.num_classes, max_len=int(data.x_train.shape[1]))
  init, units = None, []
  if init_from is not None:
    fresh = init_model(model, jax.random.fold_in(key, 1), np.asarray(data.x_train[:1]))
    init, units = transfer_variables("flexibert", init_from[0], init_from[1], md, fresh)
  r = train_model(model, data, train_cfg, key, init_variables=init)
  r["transferred"] = units
  return r


def gptran(key, model_dict: Mapping[str, Any], data, cost_fn: Callable[[Mapping], float],
           config: GPTranConfig | None = None, space=None, log=print) -> dict:
  """Grow-and-prune refinement of ``model_dict`` (see the module docstring).

  Args:
    key: ``jax.random.key``; the same training key is used for every model (equal conditions).
    model_dict: the starting FlexiBERT 2.0 dict.
    data: a :class:`jaxcodesign.models.data.Dataset` in the ``'sequence'`` layout
      (float32[N, T, F]).
    cost_fn: model dict -> positive cost (e.g. :func:`surrogate_latency`, s/sequence).
    config: :class:`GPTranConfig`; space: the FlexiBERT 2.0 space bounding the moves
      (default ``get_space('flexibert2')``).
    log: progress printer.

  Returns:
    dict: ``start`` and ``final`` (each ``model_dict``, ``val_accuracy``, ``cost``, ``score``),
    ``final_test_accuracy`` (of the final model; ``train_model`` measures it once per model and it
    never selects anything), ``trainings`` and ``history``: one entry per
    trained child (``step``, ``phase``, ``move``, ``model_dict``, ``val_accuracy``, ``cost``,
    ``score``, ``accepted``, ``transferred`` (unit names), ``wall_s``).

  Raises:
    SpaceError: starting model outside ``space``; ConfigError: bad config.
  """
  from jaxcodesign.models.train import TrainConfig
  from jaxcodesign.spaces import get_space
  config = config or GPTranConfig()
  space = space or get_space("flexibert2")
  train_cfg = TrainConfig.from_dict(dict(config.train))
  md = space.validate(model_dict)
  c0 = float(cost_fn(md))
  if not (c0 > 0 and math.isfinite(c0)):
    raise ConfigError(f"cost of the starting model: {c0!r}; the cost function must be positive")

  def score(acc, cost):
    return acc - config.cost_weight * math.log(cost / c0)

  k_train = key
  r = _train(md, data, train_cfg, k_train)
  cur = {"model_dict": md, "val_accuracy": r["val_accuracy"], "cost": c0,
         "score": score(r["val_accuracy"], c0), "variables": r["variables"],
         "test_accuracy": r["test_accuracy"]}
  start = {k: v for k, v in cur.items() if k not in ("variables", "test_accuracy")}
  log(f"start: val {cur['val_accuracy']:.3f}, cost {c0:.4g}, score {cur['score']:.4f}")
  history = []
  trained = 0
  tried: set[str] = set()
  for phase in ("grow", "prune"):
    while trained < config.max_trainings:
      accepted = False
      cands = [(n, c) for n, c in moves(cur["model_dict"], space, phase) if space.hash(c) not in tried]
      for name, child in cands[:config.tries_per_step]:
        if trained >= config.max_trainings:
          break
        tried.add(space.hash(child))
        t0 = time.perf_counter()
        cost = float(cost_fn(child))
        rc = _train(child, data, train_cfg, k_train, init_from=(cur["model_dict"], cur["variables"]))
        trained += 1
        s = score(rc["val_accuracy"], cost)
        ok = s > cur["score"]
        history.append({"step": trained, "phase": phase, "move": name, "model_dict": child,
                        "val_accuracy": rc["val_accuracy"], "cost": cost, "score": s,
                        "accepted": bool(ok), "transferred": rc["transferred"],
                        "wall_s": time.perf_counter() - t0})
        log(f"[{trained}/{config.max_trainings}] {phase} {name}: val {rc['val_accuracy']:.3f}, "
            f"cost {cost:.4g}, score {s:.4f} {'ACCEPTED' if ok else 'rejected'}")
        if ok:
          cur = {"model_dict": child, "val_accuracy": rc["val_accuracy"], "cost": cost, "score": s,
                 "variables": rc["variables"], "test_accuracy": rc["test_accuracy"]}
          accepted = True
          break
      if not accepted:
        break
  final = {k: v for k, v in cur.items() if k not in ("variables", "test_accuracy")}
  test_acc = cur["test_accuracy"]  # train_model measures it once per model; never used to select
  return {"start": start, "final": final, "final_test_accuracy": test_acc, "history": history,
          "trainings": trained}
