"""Running a co-design experiment: assembly, pluggable methods, results, Pareto set and plots.

:func:`run` searches the pair space with nested co-design and, at the same evaluation budget, the
one-sided and naive baselines, so that the co-design gain is measured rather than claimed:

* ``codesign`` (default): BOSHNAS over networks; every queried network is paired with the best of
  ``accelerator_sweep`` sampled accelerators (plus the fixed one), scored by the same objective with
  the accelerator model in one vectorised call on arrays prepared once per experiment. The budget
  counts trainings (TransCODE, Tuli and Jha, IEEE TCAD 2023, with the nested formulation of
  CODEBench, ACM TECS 2023);
* ``boshcode``: joint BOSHCODE over (network, accelerator) pairs with a two-tower surrogate;
* ``fixed_network``: accelerator search only, network fixed;
* ``fixed_accelerator``: hardware-aware NAS, accelerator fixed;
* ``random_pairs``: uniformly random pairs.

Methods are pluggable (:func:`register_method`): ``fn(exp, workdir, budget, key) -> list[dict]``
returns the evaluated pairs in query order, each ``{"model", "hw", "metrics", "performance",
"kind"}``; ``workdir`` is the method's own directory (``<workdir>/checkpoints/<method>``) for
checkpoints, ``key`` a typed PRNG key (``jax.random.key``) of its own.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import platform
import sys
import time
from typing import Any, Callable, Mapping, Sequence

import ml_collections
import numpy as np

from jaxcodesign.codesign import workdir as workdir_lib
from jaxcodesign.codesign.config import METHODS, make_constrained_objective
from jaxcodesign.codesign import evaluators as evaluators_lib
from jaxcodesign.codesign.evaluators import (FixedHalf, NestedAcceleratorEvaluator, PairEvaluator,
                                             make_hardware, make_oracle)
from jaxcodesign.errors import ConfigError

__all__ = ["Experiment", "build_experiment", "register_method", "METHOD_FNS", "run_method",
           "pareto_set", "feasible", "method_hypervolumes", "term_spread", "run", "PARETO_METRICS"]

#: The minimised objectives of the Pareto set, in results.json and the Pareto plot.
PARETO_METRICS = ("error", "latency_per_inference_s", "energy_per_inference_j", "area_mm2")


@dataclasses.dataclass
class Experiment:
  """Everything :func:`run` needs, assembled and validated from a config before expensive work.

  Attributes: ``cfg``, ``model_space``, ``hw_space``, ``pair_space``, ``hardware`` (the
  :class:`~jaxcodesign.codesign.evaluators.HardwareHalf`), ``evaluator`` (the
  :class:`PairEvaluator`), ``objective`` (with the ``fits`` constraint), ``fixed_model``,
  ``fixed_hw``, ``max_rounds`` (None, or a round limit for interrupting a run in tests).
  """
  cfg: ml_collections.ConfigDict
  model_space: Any
  hw_space: Any
  pair_space: Any
  hardware: Any
  evaluator: PairEvaluator
  objective: Any
  fixed_model: Any
  fixed_hw: Any
  max_rounds: int | None = None


def _validate_config(cfg) -> None:
  if cfg.accelerator_sweep < 1:
    raise ConfigError(f"invalid value for field 'accelerator_sweep': {cfg.accelerator_sweep}; "
                      "allowed: >= 1")
  if cfg.budget < 2:
    raise ConfigError(f"invalid value for field 'budget': {cfg.budget}; allowed: >= 2 evaluations")
  if cfg.search.init_design < 1 or cfg.search.init_design >= cfg.budget:
    raise ConfigError(f"invalid value for field 'search.init_design': {cfg.search.init_design}; "
                      f"allowed: [1, budget) = [1, {cfg.budget}); lower it with "
                      f"--config.search.init_design={max(1, cfg.budget // 2)} for a small budget")
  if not cfg.methods:
    raise ConfigError("invalid value for field 'methods': empty; allowed: a list of "
                      f"{sorted(METHOD_FNS)}")
  for m in cfg.methods:
    if m not in METHOD_FNS:
      raise ConfigError(f"invalid value in field 'methods': {m!r}; allowed: {sorted(METHOD_FNS)}")
  if len(set(cfg.methods)) != len(cfg.methods):
    raise ConfigError(f"invalid value for field 'methods': {list(cfg.methods)} (a method twice)")
  if cfg.model_space not in ("flexibert2", "flexibert_small", "cnnbench"):
    raise ConfigError(f"invalid value for field 'model_space': {cfg.model_space!r}; allowed: "
                      "['flexibert2', 'flexibert_small', 'cnnbench']")
  if cfg.oracle.kind not in ("training", "table"):
    raise ConfigError(f"invalid value for field 'oracle.kind': {cfg.oracle.kind!r}; allowed: "
                      "['training', 'table']")
  if cfg.oracle.kind == "table" and cfg.model_space != "flexibert_small":
    raise ConfigError("invalid value for field 'oracle.kind': 'table' needs "
                      "model_space='flexibert_small' (the measured library)")
  if cfg.oracle.kind == "training" and cfg.oracle.epochs < 1:
    raise ConfigError(f"invalid value for field 'oracle.epochs': {cfg.oracle.epochs}; allowed: >= 1")


def build_experiment(cfg: ml_collections.ConfigDict, workdir=None) -> Experiment:
  """Validates ``cfg`` and assembles spaces, oracle, hardware half and objective.

  All checks that can fail (unknown field values, dataset shapes, a space whose networks fit no
  accelerator) run here, before any network is trained. With ``workdir`` the pair evaluator's
  cache is ``workdir/evaluations.jsonl`` (call :func:`workdir.prepare` first: :func:`run` does).

  Raises:
    ConfigError / SpaceError / DataError (ValueErrors) with the offending field named.
  """
  import jax
  from jaxcodesign import spaces as spaces_lib
  from jaxcodesign.spaces import generic, product

  _validate_config(cfg)
  objective = make_constrained_objective(cfg)
  model_space = spaces_lib.get_space(cfg.model_space, **cfg.model_space_kwargs.to_dict())
  hardware = make_hardware(cfg, model_space)
  oracle = make_oracle(cfg, model_space)
  if cfg.oracle.kind == "table":
    # Only models measured on the task are candidates (the table's rows, in file order).
    model_space = generic.FiniteSpace(model_space, [oracle.models[h] for h in oracle.table])
  from jaxcodesign.codesign import backends  # cfg.backend: trainings local or as Ray tasks
  oracle = backends.wrap_oracle(cfg, oracle, workdir)
  pair_space = product.PairSpace(model_space, hardware.space)
  cache = pathlib.Path(workdir) / "evaluations.jsonl" if workdir is not None else None
  evaluator = PairEvaluator(oracle, hardware, model_space, cache, salt=workdir_lib.cache_salt(cfg))
  key = jax.random.key(int(cfg.seed))
  _check_some_pair_fits(cfg, model_space, hardware, evaluator, key)
  fixed_hw = hardware.fixed(cfg.fixed_accelerator)
  if cfg.fixed_network:
    try:
      fixed_model = model_space.validate(json.loads(cfg.fixed_network))
    except json.JSONDecodeError as e:
      raise ConfigError(f"invalid value for field 'fixed_network': not valid JSON ({e.msg}); "
                        "allowed: '' or a JSON model dict") from None
  else:
    fixed_model = model_space.sample(jax.random.fold_in(key, 17), 1)[0]
  return Experiment(cfg, model_space, hardware.space, pair_space, hardware, evaluator, objective,
                    fixed_model, fixed_hw)


def _check_some_pair_fits(cfg, model_space, hardware, evaluator, key, n=16):
  """Stops early when no sampled network fits even the largest-buffer accelerator (the most
  permissive one for the capacity model), or any of the half's ``probe_configs()`` when it has them
  (the devices half: every device, against its latency and power budgets)."""
  import jax
  if hasattr(hardware, "probe_configs"):  # a half that knows its most permissive configs
    probes = list(hardware.probe_configs())
  else:
    probes = [hardware.space.project(np.ones(hardware.space.feature_dim, np.float32))]
  models = model_space.sample(jax.random.fold_in(key, 29), n)
  res = [r for hw in probes for r in evaluator.hardware(models, [hw] * len(models))]
  if not any(bool(r["fits"]) for r in res):
    raise ConfigError(
        f"no network of model_space {cfg.model_space!r} (sampled {n}) fits even the largest-buffer "
        f"accelerator of hw_space {cfg.hw_space!r}: shrink the model space or enlarge the buffers")


# ------------------------------------------------------------------------------------------------
# Methods
# ------------------------------------------------------------------------------------------------
def boshnas_config(cfg, budget: int, two_tower: bool):
  """BOSHNAS / BOSHCODE settings from ``cfg.search`` (patience high enough to use the whole budget,
  so that every method spends the same number of evaluations)."""
  from jaxcodesign import surrogates
  from jaxcodesign.search.boshnas import BoshnasConfig
  scfg = surrogates.SurrogateConfig(epochs=int(cfg.search.surrogate_epochs),
                                    n_members=int(cfg.search.n_members),
                                    encoder="two_tower" if two_tower else "mlp")
  return BoshnasConfig(n_init=int(cfg.search.init_design), init_method=cfg.search.init_method,
                       alpha=float(cfg.search.alpha), beta=float(cfg.search.beta),
                       k_e=float(cfg.search.k_e), k_a=float(cfg.search.k_a),
                       patience=max(3, budget // 4), stop_patience=budget, budget=int(budget),
                       max_rounds=int(budget), gobi_restarts=int(cfg.search.gobi_restarts),
                       surrogate=scfg, two_tower=two_tower)


def _entry(pair, metrics, performance, kind) -> dict:
  return {"model": pair["model"], "hw": pair["hw"], "metrics": metrics,
          "performance": float(performance), "kind": kind}


def _boshnas_method(exp, workdir, budget, key, space, ev, wrap, two_tower):
  from jaxcodesign.search import boshnas
  res = boshnas.run_boshnas(key, space, ev, exp.objective, boshnas_config(exp.cfg, budget, two_tower),
                            workdir=workdir, max_rounds=exp.max_rounds)
  return [_entry(wrap(p), m, f, k) for p, m, f, k in zip(res.points, res.metrics, res.performance,
                                                         res.kinds)]


def _codesign(exp, workdir, budget, key):
  import jax
  hws = exp.hw_space.sample(jax.random.fold_in(jax.random.key(int(exp.cfg.seed)), 1000),
                            int(exp.cfg.accelerator_sweep))
  # distinct candidates, first occurrence kept (argmax ties go to the first, so the choice is the
  # same; a small space such as the 7 devices is sampled many times over)
  seen, cands = set(), []
  for h in hws + [exp.fixed_hw]:
    k = exp.hw_space.hash(h)
    if k not in seen:
      seen.add(k)
      cands.append(h)
  ev = NestedAcceleratorEvaluator(exp.evaluator, exp.objective, cands)
  return _boshnas_method(exp, workdir, budget, key, exp.model_space, ev, ev.pair, False)


def _boshcode(exp, workdir, budget, key):
  return _boshnas_method(exp, workdir, budget, key, exp.pair_space, exp.evaluator, lambda p: p, True)


def _fixed_network(exp, workdir, budget, key):
  ev = FixedHalf(exp.evaluator, fixed_model=exp.fixed_model)
  return _boshnas_method(exp, workdir, budget, key, exp.hw_space, ev, ev.pair, False)


def _fixed_accelerator(exp, workdir, budget, key):
  ev = FixedHalf(exp.evaluator, fixed_hw=exp.fixed_hw)
  return _boshnas_method(exp, workdir, budget, key, exp.model_space, ev, ev.pair, False)


def _random_pairs(exp, workdir, budget, key):
  from jaxcodesign.search import baselines
  hist = baselines.random_search(key, exp.pair_space, exp.evaluator, exp.objective, budget)
  return [_entry(h.point, h.metrics, h.performance, "random") for h in hist]


#: name -> fn(exp, workdir, budget, key) -> list of entries.
METHOD_FNS: dict[str, Callable] = {"codesign": _codesign, "boshcode": _boshcode,
                                   "fixed_network": _fixed_network,
                                   "fixed_accelerator": _fixed_accelerator,
                                   "random_pairs": _random_pairs}


def register_method(name: str, fn: Callable) -> None:
  """Adds a co-design method usable in ``cfg.methods``.

  ``fn(exp: Experiment, workdir: pathlib.Path, budget: int, key) -> list[dict]``: evaluate at most
  ``budget`` pairs through ``exp.evaluator`` (so the cache, the progress bar and resume work) and
  return the entries in query order, each ``{"model", "hw", "metrics", "performance", "kind"}``
  with ``performance = scalarise(metrics, exp.objective)``. ``workdir`` is the method's own
  directory (checkpoints); ``key`` is a typed PRNG key, ``fold_in(key(seed), index)`` where
  ``index`` is the method's position in the registry (stable: new methods append).

  Raises:
    ConfigError: an empty name, a non-callable ``fn``, or a name already registered.
  """
  evaluators_lib.register(METHOD_FNS, "method", name, fn, "fn")


def _method_key(seed: int, method: str):
  import jax
  return jax.random.fold_in(jax.random.key(int(seed)), list(METHOD_FNS).index(method))


def run_method(exp: Experiment, method: str, workdir=None, max_rounds=None) -> list[dict]:
  """Runs one registered method at the experiment's budget; returns its entries in query order.

  BOSHNAS-based methods checkpoint to ``workdir/checkpoints/<method>`` and resume from there.

  Raises:
    ConfigError: unknown method, or a method returning more than ``budget`` entries.
  """
  if method not in METHOD_FNS:
    raise ConfigError(f"invalid value for field 'methods': {method!r}; allowed: {sorted(METHOD_FNS)}")
  if max_rounds is not None:
    exp.max_rounds = max_rounds
  budget = int(exp.cfg.budget)
  mdir = pathlib.Path(workdir) / "checkpoints" / method if workdir is not None else None
  entries = METHOD_FNS[method](exp, mdir, budget, _method_key(exp.cfg.seed, method))
  if len(entries) > budget:
    raise ConfigError(f"method {method!r} returned {len(entries)} entries for a budget of {budget}")
  return entries


# ------------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------------
def feasible(metrics: Mapping[str, Any], objective) -> bool:
  """True when ``metrics`` meet every hard constraint of ``objective`` (``fits``, ``fits_reticle``
  and the budgets of ``objective.constraints``)."""
  for c in objective.constraints:
    v = float(metrics[c.name])
    if (v > c.limit) if c.kind == "max" else (v < c.limit):
      return False
  return True


def pareto_set(entries: Sequence[dict], metrics: Sequence[str] = PARETO_METRICS, objective=None
               ) -> tuple[np.ndarray, np.ndarray]:
  """(objective matrix float[n, m] of ``metrics``, Pareto mask) over the feasible pairs among
  ``entries`` (fitting, and within the budgets of ``objective`` when given; infeasible pairs are
  never Pareto-optimal). Default metrics :data:`PARETO_METRICS`: (error, latency per inference s,
  energy per inference J, area mm^2)."""
  from jaxcodesign.search.pareto import pareto_mask
  costs = np.array([[e["metrics"][k] for k in metrics] for e in entries],
                   np.float64).reshape(-1, len(metrics))
  fits = np.array([bool(e["metrics"]["fits"]) and (objective is None or feasible(e["metrics"], objective))
                   for e in entries], bool)
  mask = np.zeros(len(entries), bool)
  if fits.any():
    mask[np.nonzero(fits)[0]] = np.asarray(pareto_mask(costs[fits]), bool)
  return costs, mask


def method_hypervolumes(histories: Mapping[str, Sequence[dict]], metrics: Sequence[str],
                        objective) -> dict:
  """Hypervolume of each method's feasible evaluated pairs in the Pareto metrics, on one scale.

  Every metric is normalised to [0, 1] by its min and max over the feasible pairs of ALL methods
  (so that error, seconds, joules and mm^2 weigh alike and the methods share one frame), and the
  reference point is 1.1 in every normalised metric (the common nadir plus 10 % of the range, the
  usual benchmarking choice). Units: dimensionless (a fraction of the box [0, 1.1]^m).

  Returns:
    ``{"per_method": {method: hv}, "reference": [1.1] * m, "lower": [min per metric],
    "upper": [max per metric]}``; hv is 0.0 for a method with no feasible pair.
  """
  from jaxcodesign.search.pareto import hypervolume
  rows = {m: np.array([[e["metrics"][k] for k in metrics] for e in hs
                       if bool(e["metrics"]["fits"]) and feasible(e["metrics"], objective)],
                      np.float64).reshape(-1, len(metrics)) for m, hs in histories.items()}
  allf = np.concatenate(list(rows.values()), axis=0)
  if allf.shape[0] == 0:
    return {"per_method": {m: 0.0 for m in rows}, "reference": [1.1] * len(metrics),
            "lower": None, "upper": None}
  lo, hi = allf.min(0), allf.max(0)
  span = np.where(hi > lo, hi - lo, 1.0)
  ref = np.full(len(metrics), 1.1)
  per = {m: (hypervolume((r - lo) / span, ref) if r.shape[0] else 0.0) for m, r in rows.items()}
  return {"per_method": per, "reference": ref.tolist(), "lower": lo.tolist(), "upper": hi.tolist()}


def term_spread(entries: Sequence[dict], objective) -> dict:
  """Spread of each objective term's contribution over the evaluated pairs: ``{term: {"min",
  "p10", "median", "p90", "max"}}`` of ``w * norm(value)`` (the summands of the scalarisation,
  clipped as in it), so a saturated term (the same value for every pair) shows as a zero spread."""
  from jaxcodesign.search.objectives import term_contributions
  names = [t.name for t in objective.terms]
  metrics = {k: np.array([float(e["metrics"][k]) for e in entries], np.float64) for k in names}
  out = {}
  for name, c in term_contributions(metrics, objective).items():
    c = np.asarray(c, np.float64)
    q = np.percentile(c, [0, 10, 50, 90, 100]) if c.size else [float("nan")] * 5
    out[name] = dict(zip(("min", "p10", "median", "p90", "max"), map(float, q)))
  return out


def _strip(e: dict) -> dict:
  return {k: e[k] for k in ("model", "hw", "metrics", "performance", "kind") if k in e}


def _versions() -> dict:
  out = {"python": platform.python_version(), "platform": platform.platform()}
  out.update(workdir_lib.versions())
  return out


class _Bar:
  """The progress bar (tqdm) with resume accounting: starts at the evaluations already found and
  carries each method's best found objective."""

  def __init__(self, cfg, exp, progress_log, show: bool):
    from jaxcodesign.search import objectives as obj_lib
    self.obj_lib, self.exp, self.log = obj_lib, exp, progress_log
    self.method = None
    self.best = -np.inf
    total = len(cfg.methods) * int(cfg.budget)
    found = progress_log.found(cfg.methods)
    self.found, self.total = found, total
    self.bar = None
    if show:
      from tqdm import tqdm
      self.bar = tqdm(total=total, initial=found, desc=cfg.name, unit="eval")

  def start(self, method):
    self.method = method
    self.best = self.log.best(method)
    if self.bar is not None:
      self.bar.set_description(f"{self.exp.cfg.name}:{method}")
      if np.isfinite(self.best):
        self.bar.set_postfix({"best": f"{self.best:.4f}"})

  def __call__(self, key, metrics):
    perf = float(self.obj_lib.scalarise(metrics, self.exp.objective))
    new = self.log.add(self.method, key, perf)
    self.best = max(self.best, perf)
    if self.bar is not None:
      if new:
        self.bar.update(1)
      self.bar.set_postfix({"best": f"{self.best:.4f}"})

  def write(self, text):
    if self.bar is not None:
      self.bar.write(text)

  def close(self):
    if self.bar is not None:
      self.bar.close()


def run(cfg: ml_collections.ConfigDict, workdir=None, progress: bool = True, max_rounds=None,
        overwrite: bool = False) -> dict:
  """Runs the experiment ``cfg`` into ``workdir`` (resuming what is there) and returns the results.

  Args:
    cfg: the experiment config (``load_config`` / ``experiments/*.py``).
    workdir: the work directory (default :func:`workdir.default_workdir` of ``cfg.name``). It must
      be new, or hold a run of the same settings (resumed: "resuming: N of M evaluations found" is
      printed), see :func:`workdir.prepare`.
    progress: show a progress bar.
    max_rounds: stop each BOSHNAS method after this many rounds (to interrupt a run in tests).
    overwrite: start afresh in a work directory of other settings (its files are moved aside).

  Writes ``results.json`` (deterministic: no wall times, plot paths relative to ``workdir``),
  ``timings.json`` and ``plots/{convergence,pareto,utilisation}.png`` (plus, for a hardware half
  with a ``group_key`` such as the devices half, ``results["pareto_per_<key>"]`` and
  ``plots/pareto_per_<key>.png``: one Pareto set per device; the Pareto metrics are the half's
  ``pareto_metrics`` when it has them). The chosen pair is the
  evaluated co-design pair of highest performance under :func:`make_constrained_objective` (the
  function that produced the surrogate targets); ties go to the earliest query.

  Raises:
    ConfigError: before any training, for an invalid configuration, a work directory that is not
      writable or holds other settings (:class:`workdir.WorkdirMismatch`).
  """
  from absl import logging
  from jaxcodesign import plots
  from jaxcodesign.search.baselines import best_so_far
  t0 = time.time()
  workdir = pathlib.Path(workdir) if workdir is not None else workdir_lib.default_workdir(cfg.name)
  _validate_config(cfg)
  workdir_lib.prepare(workdir, cfg, overwrite=overwrite)
  exp = build_experiment(cfg, workdir)
  log = workdir_lib.Progress(workdir)
  found, total = log.found(cfg.methods), len(cfg.methods) * int(cfg.budget)
  if found:
    print(f"resuming: {found} of {total} evaluations found in {workdir}", file=sys.stderr)
  bar = _Bar(cfg, exp, log, progress)
  exp.evaluator.callback = bar
  histories, timings = {}, {}
  try:
    for method in cfg.methods:
      t = time.time()
      bar.start(method)
      hist = run_method(exp, method, workdir, max_rounds=max_rounds)
      histories[method] = hist
      timings[method] = time.time() - t
      best = max((h["performance"] for h in hist), default=float("nan"))
      logging.info("%s: %d evaluations, best objective %.4f (%.1f s)", method, len(hist), best,
                   timings[method])
      bar.write(f"{method}: {len(hist)} evaluations, best objective {best:.4f} "
                f"({timings[method]:.0f} s)")
  finally:
    bar.close()
    exp.evaluator.callback = None

  main = "codesign" if "codesign" in histories else cfg.methods[0]
  chosen_i = int(np.argmax([h["performance"] for h in histories[main]]))
  chosen = histories[main][chosen_i]
  all_entries = [dict(e, method=m) for m, hs in histories.items() for e in hs]
  pmetrics = tuple(getattr(exp.hardware, "pareto_metrics", PARETO_METRICS))
  plabels = list(getattr(exp.hardware, "pareto_labels", plots.PARETO_LABELS))
  costs, mask = pareto_set(all_entries, pmetrics, exp.objective)
  group_key = getattr(exp.hardware, "group_key", None)  # e.g. "device": one Pareto set per device
  per_group = {}
  if group_key is not None:
    names = [str(e["hw"][group_key]) for e in all_entries]
    for g in sorted(set(names)):
      idx = [i for i, n in enumerate(names) if n == g]
      _, gmask = pareto_set([all_entries[i] for i in idx], pmetrics, exp.objective)
      per_group[g] = [idx[j] for j in np.nonzero(gmask)[0]]
  hv = method_hypervolumes(histories, pmetrics, exp.objective)
  summary = {m: {"best_performance": max(h["performance"] for h in hs),
                 "evaluations": len(hs),
                 "feasible": sum(1 for h in hs if feasible(h["metrics"], exp.objective)),
                 "hypervolume": hv["per_method"][m],
                 "best": _strip(max(hs, key=lambda e: e["performance"]))}
             for m, hs in histories.items()}
  budgets = sorted({s["evaluations"] for s in summary.values()})
  plots_dir = workdir / "plots"
  curves = {m: best_so_far([h["performance"] for h in hs]) for m, hs in histories.items()}
  order = list(histories)
  chosen_index = sum(len(histories[m]) for m in order[:order.index(main)]) + chosen_i
  paths = {
      "convergence": plots.plot_convergence(curves, plots_dir / "convergence.png",
                                            title=f"{cfg.name}: best objective vs queries"),
      "pareto": plots.plot_pareto(
          costs, mask, plabels, plots_dir / "pareto.png", chosen=chosen_index,
          groups=[e["method"] for e in all_entries], title=f"{cfg.name}: evaluated pairs"),
      "utilisation": plots.plot_utilisation(
          chosen["metrics"].get("utilisation", {}) or {"(none reported)": 0.0},
          plots_dir / "utilisation.png", title="chosen pair: accelerator utilisation"),
  }
  if per_group:
    gmask = np.zeros(len(all_entries), bool)
    gmask[[i for v in per_group.values() for i in v]] = True
    paths[f"pareto_per_{group_key}"] = plots.plot_pareto(
        costs, gmask, plabels, plots_dir / f"pareto_per_{group_key}.png", chosen=chosen_index,
        groups=[str(e["hw"][group_key]) for e in all_entries],
        title=f"{cfg.name}: Pareto set of each {group_key}")
  results = {
      "experiment": cfg.name,
      "config": cfg.to_dict(),
      "versions": _versions(),
      "objective": {"terms": [dataclasses.asdict(t) for t in exp.objective.terms],
                    "constraints": [dataclasses.asdict(c) for c in exp.objective.constraints],
                    "penalty": exp.objective.penalty},
      "chosen": _strip(chosen),
      "summary": summary,
      "equal_budget": len(budgets) == 1,
      "codesign_gain": {m: summary["codesign"]["best_performance"] - s["best_performance"]
                        for m, s in summary.items() if "codesign" in summary and m != "codesign"},
      "pareto_metrics": list(pmetrics),
      "hypervolume": {"reference": hv["reference"], "lower": hv["lower"], "upper": hv["upper"]},
      "term_spread": term_spread(all_entries, exp.objective),
      "pareto_set": [dict(_strip(all_entries[i]), method=all_entries[i]["method"])
                     for i in np.nonzero(mask)[0]],
      **({f"pareto_per_{group_key}": {
          g: [dict(_strip(all_entries[i]), method=all_entries[i]["method"]) for i in idx]
          for g, idx in per_group.items()}} if per_group else {}),
      "evaluations": {m: [_strip(e) for e in hs] for m, hs in histories.items()},
      "plots": {k: str(pathlib.Path(v).relative_to(workdir)) for k, v in paths.items()},
  }
  _write_json(workdir / "results.json", results)
  timing = {"wall_s": time.time() - t0, "methods_wall_s": timings,
            "resumed_evaluations": bar.found, "training_wall_s": exp.evaluator.timings}
  _write_json(workdir / "timings.json", timing)
  results["wall_s"] = timing["wall_s"]
  results["timings"] = timing
  return results


def _write_json(path: pathlib.Path, obj) -> None:
  tmp = path.with_suffix(".json.tmp")
  with open(tmp, "w") as f:
    json.dump(obj, f, indent=1, default=float, sort_keys=False)
  tmp.replace(path)
