"""Co-design as a multi-objective problem: ``method='breathe'`` for :func:`jaxcodesign.codesign.run`.

Importing this module registers ``'breathe'`` with :func:`jaxcodesign.codesign.register_method`
(``jaxcodesign.codesign`` imports it). The method searches (network, accelerator) pairs of
``exp.pair_space`` for the Pareto front of the four minimised objectives of
:data:`jaxcodesign.codesign.PARETO_METRICS` -- (error, latency per inference s, energy per
inference J, area mm^2) -- under the experiment's hard constraints (the network fits the
accelerator, the die fits the reticle, the budgets of ``objective.constraints``):

1. ``cfg.search.init_design`` random pairs;
2. each round: one exact GP per objective on the pair features (``pair_space.to_features``, in
   [0, 1]) with latency, energy and area in log10 (they span orders of magnitude; the Pareto set is
   unchanged by a monotone transform), and one GP per constraint (``0.5 - fits``, ``0.5 -
   fits_reticle``, ``value / limit - 1`` per budget; feasible when ``<= 0``); candidates are fresh samples of the pair space plus projected Gaussian perturbations of
   the Pareto set's features (``pair_space.project``: legal by construction); they are ranked by
   the exact constrained EHVI (:mod:`jaxcodesign.search.breathe.acquisition`) against the feasible
   front and the reference point 1.1 x (the initial design's worst fitting values; log10 values
   + 0.1); the best ``q = 4`` unseen pairs are evaluated through ``exp.evaluator`` (cache, progress
   bar and resume as for every method).

Returns the entries in query order; ``codesign.run`` reports the Pareto set of them.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodesign.codesign.run import PARETO_METRICS, _entry, register_method
from jaxcodesign.padding import bucket_size, pad_rows

__all__ = ["breathe_pairs"]

_Q = 4
_RANDOM = 256
_PER_PARENT = 8


def _constraint_values(m: dict, objective) -> list[float]:
  """One value per hard constraint of ``objective``, feasible when ``<= 0``: ``0.5 - value`` for the
  0/1 flags (``fits``, ``fits_reticle``; kind 'min', limit 1), ``value / limit - 1`` for budgets."""
  out = []
  for c in objective.constraints:
    v = float(m.get(c.name, 0.0 if c.kind == "min" else math.inf))
    out.append((c.limit - 0.5) - v if c.kind == "min" else v / c.limit - 1.0)
  return out


def _costs(metrics: list[dict], objective) -> tuple[np.ndarray, np.ndarray]:
  """(objectives float64[n, 4] with log10 on the hardware metrics, constraints float64[n, k]: one
  column per hard constraint of ``objective``, :func:`_constraint_values`)."""
  f = np.array([[float(m.get(k, math.nan)) for k in PARETO_METRICS] for m in metrics], np.float64)
  f[:, 1:] = np.log10(np.maximum(f[:, 1:], 1e-30))
  g = np.array([_constraint_values(m, objective) for m in metrics], np.float64).reshape(
      len(metrics), len(objective.constraints))
  bad = ~np.isfinite(f)
  if bad.any():  # a non-finite metric (non-fitting pair): the worst finite value of that column
    worst = np.where(np.isfinite(f), f, -np.inf).max(0)
    f = np.where(bad, np.where(np.isfinite(worst), worst, 0.0)[None, :], f)
  return f, g


def breathe_pairs(exp, workdir, budget: int, key) -> list[dict]:
  """The registered ``'breathe'`` co-design method (see the module docstring)."""
  from jaxcodesign.search.breathe.acquisition import make_acquisition
  from jaxcodesign.search.breathe.gp import fit_gp
  from jaxcodesign.search.breathe.vector import _screen
  from jaxcodesign.search.objectives import scalarise
  from jaxcodesign.search.pareto import feasible_mask, pareto_mask
  del workdir  # the evaluator's cache makes a re-run resume without re-evaluating
  space = exp.pair_space
  rng = np.random.default_rng(int(jax.random.randint(key, (), 0, 2 ** 31 - 1)))
  n0 = max(1, min(int(exp.cfg.search.init_design), budget))
  pairs = space.sample(jax.random.fold_in(key, 0), n0)
  seen = {space.hash(p) for p in pairs}
  metrics = exp.evaluator.evaluate(pairs)
  entries = [_entry(p, m, scalarise(m, exp.objective), "breathe") for p, m in zip(pairs, metrics)]
  f0, g0 = _costs(metrics, exp.objective)
  ok = feasible_mask(g0)
  worst = (f0[ok] if ok.any() else f0).max(0)
  ref = np.concatenate([[min(1.0, worst[0] * 1.1 + 1e-3)], worst[1:] + 0.1])
  rnd = 0
  while len(entries) < budget:
    rnd += 1
    x = np.asarray(space.to_features_batch([{"model": e["model"], "hw": e["hw"]} for e in entries]),
                   np.float32)
    f, g = _costs([e["metrics"] for e in entries], exp.objective)
    feas = feasible_mask(g)
    gp = fit_gp(x, np.concatenate([f, g], 1), steps=100, min_bucket=max(16, budget))
    front = f[feas][pareto_mask(f[feas])] if feas.any() else np.zeros((0, 4))
    acq = make_acquisition("ehvi", gp, 4, front, ref, bool(feas.any()), min_boxes=256)
    cands = space.sample(jax.random.fold_in(key, rnd), _RANDOM)
    par = x[feas][pareto_mask(f[feas])] if feas.any() else x[np.argsort(g.max(1))[:4]]
    for p in par[:16]:
      for _ in range(_PER_PARENT):
        cands.append(space.project(np.clip(p + rng.normal(0, 0.1, p.shape), 0, 1)))
    uniq = {}
    for c in cands:
      h = space.hash(c)
      if h not in seen and h not in uniq:
        uniq[h] = c
    if not uniq:
      break
    cl = list(uniq.items())
    feats = np.asarray(space.to_features_batch([c for _, c in cl]), np.float32)
    padded = pad_rows(feats, bucket_size(len(feats), _RANDOM))  # one compiled screen per bucket
    vals = np.asarray(_screen(acq, jnp.asarray(padded)))[: len(feats)]
    take = [cl[i] for i in np.argsort(vals, kind="stable")[: min(_Q, budget - len(entries))]]
    new = [c for _, c in take]
    seen.update(h for h, _ in take)
    for p, m in zip(new, exp.evaluator.evaluate(new)):
      entries.append(_entry(p, m, scalarise(m, exp.objective), "breathe"))
  return entries


register_method("breathe", breathe_pairs)
