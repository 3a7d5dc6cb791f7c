"""End-to-end hardware-software co-design (TransCODE for transformers, CODEBench for CNNs).

One experiment = a model space x an accelerator space, an accuracy oracle (real training on real data,
or a table of measurements), an accelerator model, and one objective. :func:`run` searches the pair
space with BOSHCODE and, at the same evaluation budget, three one-sided or naive baselines, so that the
co-design gain is measured rather than claimed:

* ``codesign`` (nested co-design, default): BOSHNAS over networks, where every queried network is
  paired with the best of ``accelerator_sweep`` sampled accelerators (plus the fixed one), scored by
  the same objective with the jitted accelerator model in one vectorised call. The objective splits
  into an expensive term (accuracy: training) and cheap terms (hardware: microseconds per pair), so
  the expensive evaluation budget is spent on networks only; every query still trains one network;
* ``boshcode``: joint BOSHCODE over (network, accelerator) pairs with a two-tower surrogate
  (TransCODE's formulation; optional, ``--config.methods``);
* ``fixed_network``: accelerator search only (BOSHNAS over the accelerator space), network fixed;
* ``fixed_accelerator``: hardware-aware NAS (BOSHNAS over the model space), accelerator fixed;
* ``random_pairs``: uniformly random pairs.

Objective (one function, :func:`jaxcodesign.search.objectives.scalarise`, for targets and reports)::

  P = w_acc * accuracy + w_lat * (1 - c(latency_s / ref_lat)) + w_e * (1 - c(energy_per_sample_j / ref_e))
      + w_area * (1 - c(area_mm2 / ref_area)),      c(r) = clip(r, 0, 1)

with accuracy the *validation* accuracy as a fraction in [0, 1] (test accuracy is reported only), and
the references documented per experiment at the scale of that experiment's data: the 90th
percentile of 8 random networks x 512 random accelerators of the experiment (hardware metrics span
three to four orders of magnitude, hence the clipping). Latency is per batch of the accelerator's
batch size; energy is per inference. A pair whose
network does not fit the accelerator violates a hard constraint.

Work directory layout: ``results.json`` (every evaluated pair of every method with all metrics, the
chosen pair, the Pareto set of (error, latency, energy, area), the configuration and versions),
``checkpoints/<method>/`` (orbax; a killed run resumes), ``plots/*.png``.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import platform
import time
from typing import Any, Callable, Sequence

import ml_collections
import numpy as np

from jaxcodesign.errors import ConfigError

METHODS = ("codesign", "boshcode", "fixed_network", "fixed_accelerator", "random_pairs")
DEFAULT_METHODS = ("codesign", "fixed_network", "fixed_accelerator", "random_pairs")
HW_METRICS = ("latency_s", "energy_j", "energy_dynamic_j", "energy_leakage_j", "area_mm2",
              "peak_power_w", "avg_power_w", "cycles", "fits")


def base_config() -> ml_collections.ConfigDict:
  """Defaults shared by every experiment (each ``experiments/*.py`` overrides what it needs)."""
  cfg = ml_collections.ConfigDict()
  cfg.name = "codesign"
  cfg.model_space = "flexibert2"
  cfg.model_space_kwargs = ml_collections.ConfigDict()
  cfg.hw_space = "elector"
  cfg.hw_space_kwargs = ml_collections.ConfigDict()
  cfg.budget = 20              # pair evaluations per method, initial design included
  cfg.seed = 0
  cfg.methods = DEFAULT_METHODS
  cfg.accelerator_sweep = 1024  # accelerators scored per network by nested co-design (cheap)
  cfg.fixed_network = ""       # '' = the first model of the initial design; or a JSON model dict
  cfg.fixed_accelerator = "edge"
  # Accuracy oracle.
  cfg.oracle = ml_collections.ConfigDict()
  cfg.oracle.kind = "training"   # 'training' | 'table'
  cfg.oracle.dataset = "digits"  # 'digits' or a path to an .npz
  cfg.oracle.table_path = ""
  cfg.oracle.task = "SST-2"
  cfg.oracle.epochs = 12
  cfg.oracle.batch_size = 64
  cfg.oracle.learning_rate = 3e-3
  cfg.oracle.patience = 4
  cfg.oracle.weight_transfer = False
  # Hardware model.
  cfg.hw = ml_collections.ConfigDict()
  cfg.hw.seq_len = 8                # tokens per sequence seen by the accelerator (digits: 8 rows)
  cfg.hw.vocab_size = 8             # input-table rows: 8 features per digit row (BERT: 30522)
  cfg.hw.activation_sparsity = 0.0
  cfg.hw.weight_sparsity = 0.0
  # Objective: weights and references (documented normalisers, at the scale of the data).
  cfg.objective = ml_collections.ConfigDict()
  cfg.objective.weights = ml_collections.ConfigDict(
      dict(accuracy=0.6, latency_s=0.15, energy_per_sample_j=0.15, area_mm2=0.1))
  # References: about the 90th percentile of random (network, accelerator) pairs of the experiment
  # (measured, see each experiment's docstring); ratios are clipped to [0, 1] (see make_objective).
  cfg.objective.references = ml_collections.ConfigDict(
      dict(latency_s=5e-5, energy_per_sample_j=3.4e-4, area_mm2=3400.0))
  # Search (BOSHCODE / BOSHNAS) settings.
  cfg.search = ml_collections.ConfigDict()
  cfg.search.init_design = 8
  cfg.search.init_method = "lhs"
  cfg.search.alpha = 0.1            # probability of max-uncertainty sampling
  cfg.search.beta = 0.1             # probability of diversity (random) sampling
  cfg.search.k_e = 0.5
  cfg.search.k_a = 0.5
  cfg.search.gobi_restarts = 8
  cfg.search.surrogate_epochs = 60
  cfg.search.n_members = 2
  return cfg


def load_config(name_or_path) -> ml_collections.ConfigDict:
  """``get_config()`` of ``experiments/<name>.py`` (or of a config file path).

  Raises:
    ConfigError: when no such experiment file exists.
  """
  import importlib.util
  p = pathlib.Path(name_or_path)
  if p.suffix != ".py":
    p = pathlib.Path(__file__).resolve().parent.parent / "experiments" / f"{name_or_path}.py"
  if not p.is_file():
    raise ConfigError(f"experiment config {str(name_or_path)!r} not found ({p})")
  spec = importlib.util.spec_from_file_location(p.stem, p)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod.get_config()


# ------------------------------------------------------------------------------------------------
# Objective
# ------------------------------------------------------------------------------------------------
def make_objective(cfg: ml_collections.ConfigDict):
  """Builds the experiment's :class:`~jaxcodesign.search.objectives.Objective` from ``cfg.objective``.

  Accuracy is maximised with reference 1.0 (a fraction); hardware terms are minimised relative to
  ``cfg.objective.references``. The hard constraint ``fits`` excludes pairs whose network does not fit.

  Raises:
    ConfigError: for a negative weight, a non-positive reference or an unknown metric name.
  """
  from jaxcodesign.search import objectives as obj_lib
  allowed = ("accuracy", "latency_s", "energy_j", "energy_per_sample_j", "energy_dynamic_j",
             "energy_leakage_j", "area_mm2", "peak_power_w")
  terms = []
  for name, weight in cfg.objective.weights.items():
    if name not in allowed:
      raise ConfigError(f"invalid objective.weights field {name!r}; allowed: {list(allowed)}")
    if weight < 0:
      raise ConfigError(f"objective.weights.{name} must be >= 0, got {weight}")
    if weight == 0:
      continue
    if name == "accuracy":
      terms.append(obj_lib.ObjectiveTerm(name, float(weight), 1.0, minimise=False))
    else:
      ref = cfg.objective.references.get(name)
      if ref is None or ref <= 0:
        raise ConfigError(f"objective.references.{name} must be > 0 (got {ref}) when its weight is > 0")
      terms.append(obj_lib.ObjectiveTerm(name, float(weight), float(ref), minimise=True))
  if not terms:
    raise ConfigError("objective.weights: at least one weight must be > 0")
  # Hardware metrics span orders of magnitude: each ratio value / reference is clipped to [0, 1]
  # so that one outlier cannot dominate the sum (references sit near the 90th percentile).
  return obj_lib.Objective(terms=tuple(terms), clip=True)


def make_constrained_objective(cfg: ml_collections.ConfigDict):
  """The experiment objective plus the hard constraint ``fits >= 1`` (penalty form, see module doc).

  The penalty form (performance - 1 for a pair that does not fit) keeps surrogate targets finite.
  """
  from jaxcodesign.search import objectives as obj_lib
  base = make_objective(cfg)
  return obj_lib.Objective(terms=base.terms, constraints=(obj_lib.Constraint("fits", 1.0, "min"),),
                           clip=base.clip, violation="penalty", penalty=1.0)


# ------------------------------------------------------------------------------------------------
# Experiment assembly
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Experiment:
  """Everything :func:`run` needs, assembled and validated from a config before expensive work."""
  cfg: ml_collections.ConfigDict
  model_space: Any
  hw_space: Any
  pair_space: Any
  evaluator: "PairEvaluator"
  objective: Any
  fixed_model: Any
  fixed_hw: Any


def build_experiment(cfg: ml_collections.ConfigDict, workdir=None) -> Experiment:
  """Validates ``cfg`` and assembles spaces, oracle, accelerator model and objective.

  All checks that can fail (unknown field values, dataset shapes, a space whose networks fit no
  accelerator) run here, before any network is trained.

  Raises:
    ConfigError / SpaceError (ValueErrors) with the offending field named.
  """
  from jaxcodesign import spaces as spaces_lib
  from jaxcodesign.spaces import generic, product

  if cfg.accelerator_sweep < 1:
    raise ConfigError(f"accelerator_sweep must be >= 1, got {cfg.accelerator_sweep}")
  if cfg.budget < 2:
    raise ConfigError(f"budget must be >= 2 evaluations, got {cfg.budget}")
  if cfg.search.init_design < 1 or cfg.search.init_design >= cfg.budget:
    raise ConfigError(f"search.init_design must be in [1, budget) = [1, {cfg.budget}), got "
                      f"{cfg.search.init_design}")
  for m in cfg.methods:
    if m not in METHODS:
      raise ConfigError(f"invalid value in field 'methods': {m!r}; allowed: {list(METHODS)}")
  if cfg.model_space not in ("flexibert2", "flexibert_small", "cnnbench"):
    raise ConfigError(f"invalid value for field 'model_space': {cfg.model_space!r}; allowed: "
                      "['flexibert2', 'flexibert_small', 'cnnbench']")
  hw_allowed = ("accelbench",) if cfg.model_space == "cnnbench" else ("elector", "acceltran")
  if cfg.hw_space not in hw_allowed:
    raise ConfigError(f"invalid value for field 'hw_space': {cfg.hw_space!r} with model_space "
                      f"{cfg.model_space!r}; allowed: {list(hw_allowed)}")
  if cfg.oracle.kind not in ("training", "table"):
    raise ConfigError(f"invalid value for field 'oracle.kind': {cfg.oracle.kind!r}; allowed: "
                      "['training', 'table']")

  objective = make_constrained_objective(cfg)
  hw_space = spaces_lib.get_space(cfg.hw_space, **cfg.hw_space_kwargs.to_dict())
  model_space = spaces_lib.get_space(cfg.model_space, **cfg.model_space_kwargs.to_dict())
  if cfg.oracle.kind == "table":
    if cfg.model_space != "flexibert_small":
      raise ConfigError("oracle.kind='table' needs model_space='flexibert_small' (the measured library)")
    oracle = make_oracle(cfg, model_space)
    # Only models measured on the task are candidates (the table's rows, in file order).
    model_space = generic.FiniteSpace(model_space, [oracle.models[h] for h in oracle.table])
  else:
    oracle = make_oracle(cfg, model_space)
  pair_space = product.PairSpace(model_space, hw_space)

  evaluator = PairEvaluator.from_config(cfg, model_space, oracle, workdir)
  key = _key(cfg.seed)
  import jax
  _check_some_pair_fits(cfg, model_space, hw_space, evaluator, key)
  fixed_hw = _fixed_accelerator(cfg, hw_space)
  if cfg.fixed_network:
    fixed_model = model_space.validate(json.loads(cfg.fixed_network))
  else:
    fixed_model = model_space.sample(jax.random.fold_in(key, 17), 1)[0]
  return Experiment(cfg, model_space, hw_space, pair_space, evaluator, objective, fixed_model, fixed_hw)


def _key(seed: int):
  import jax
  return jax.random.PRNGKey(int(seed))


def _fixed_accelerator(cfg, hw_space):
  """The accelerator of the fixed-accelerator baseline: a named one, or a JSON config."""
  name = cfg.fixed_accelerator
  if cfg.hw_space in ("elector", "acceltran"):
    from jaxcodesign.spaces.accelerators import NAMED_ACCELERATORS
  else:
    from jaxcodesign.spaces.accelerators import NAMED_ACCELBENCH as NAMED_ACCELERATORS
  if name in NAMED_ACCELERATORS:
    return hw_space.validate(NAMED_ACCELERATORS[name])
  try:
    return hw_space.validate(json.loads(name))
  except json.JSONDecodeError:
    raise ConfigError(f"invalid value for field 'fixed_accelerator': {name!r}; allowed: "
                      f"{sorted(NAMED_ACCELERATORS)} or a JSON config") from None


def _check_some_pair_fits(cfg, model_space, hw_space, evaluator, key, n=16):
  """Stops early when no sampled network fits even the largest-buffer accelerator.

  The accelerator with the largest buffers is the most permissive one for the capacity model, so if
  none of ``n`` sampled networks (plus the smallest sampled one) fits it, the experiment cannot
  produce a valid pair.
  """
  import jax
  hw = hw_space.project(np.ones(hw_space.feature_dim, np.float32))
  models = model_space.sample(jax.random.fold_in(key, 29), n)
  res = evaluator.hardware(models, [hw] * len(models))
  if not any(bool(r["fits"]) for r in res):
    raise ConfigError(
        f"no network of model_space {cfg.model_space!r} (sampled {n}) fits even the largest-buffer "
        f"accelerator of hw_space {cfg.hw_space!r}: shrink the model space or enlarge the buffers")


def hardware_metrics(result: dict, hw: dict) -> dict:
  """The hardware metrics co-design uses, from one accelerator-model result and its config.

  :data:`HW_METRICS` as floats, plus ``batch_size`` and ``energy_per_sample_j`` (J per inference):
  latency is per batch (the time to answer one batch of the accelerator's batch size), and energy is
  also reported per inference so that accelerators of different batch sizes compare fairly.
  """
  out = {name: float(result[name]) for name in HW_METRICS}
  out["batch_size"] = int(hw["batch_size"])
  out["energy_per_sample_j"] = out["energy_j"] / out["batch_size"]
  return out


# ------------------------------------------------------------------------------------------------
# The pair evaluator
# ------------------------------------------------------------------------------------------------
class PairEvaluator:
  """Evaluator of ``{"model", "hw"}`` pairs: accuracy oracle x accelerator model.

  ``evaluate(pairs)`` returns one dict per pair with ``accuracy`` (the oracle's *validation*
  accuracy, the one used for selection), ``test_accuracy`` (reported only, when the oracle has one),
  ``error = 1 - accuracy`` and the hardware metrics of :data:`HW_METRICS` plus ``utilisation``.

  The accuracy of a network does not depend on the accelerator, so it is computed once per network
  (the oracles cache by hash). With a ``cache_path`` every evaluated pair is appended to a JSON-lines
  file and re-used after a restart, so a killed run never repeats finished work.
  """

  def __init__(self, oracle, hw_fn: Callable, model_space, cache_path=None, to_hw_model=None):
    self.oracle = oracle
    self.hw_fn = hw_fn
    self.model_space = model_space
    self.to_hw_model = to_hw_model or (lambda m: m)
    self.cache_path = pathlib.Path(cache_path) if cache_path else None
    self._cache: dict[str, dict] = {}
    self.callback: Callable[[dict], None] | None = None   # called with each returned metric dict
    if self.cache_path is not None and self.cache_path.exists():
      with open(self.cache_path) as f:
        for line in f:
          if line.strip():
            row = json.loads(line)
            self._cache[row["key"]] = row["metrics"]
    self.name = "pair"

  @classmethod
  def from_config(cls, cfg, model_space, oracle, workdir=None) -> "PairEvaluator":
    from jaxcodesign.hardware import api as hw_api
    from jaxcodesign.models import oracles
    # Always explicit: the two accelerator models have different defaults (AccelTran 0.5/0.5,
    # AccelBench dense), and the trained networks are dense unless the config says otherwise.
    sparsity = (float(cfg.hw.activation_sparsity), float(cfg.hw.weight_sparsity))
    to_hw_model = None
    if cfg.model_space == "cnnbench":
      ms = model_space
      hw_fn = lambda m, hws: hw_api.simulate_cnn(m, hws, tuple(ms.input_shape), ms.num_classes,
                                                  sparsity=sparsity)
    else:
      hw_fn = lambda m, hws: hw_api.simulate_transformer(m, hws, sparsity=sparsity,
                                                         seq_len=int(cfg.hw.seq_len),
                                                         vocab_size=int(cfg.hw.vocab_size))
      if cfg.model_space == "flexibert_small":
        from jaxcodesign.spaces.flexibert import small_to_flexibert2
        to_hw_model = small_to_flexibert2
    cache = pathlib.Path(workdir) / "evaluations.jsonl" if workdir else None
    return cls(oracle, hw_fn, model_space, cache, to_hw_model)

  def _key(self, pair) -> str:
    return self.model_space.hash(pair["model"]) + "|" + json.dumps(pair["hw"], sort_keys=True)

  def hardware_sweep(self, model, hws: Sequence) -> list[dict]:
    """Accelerator metrics of one network on many accelerators (one vectorised simulator call)."""
    return self.hw_fn(self.to_hw_model(model), list(hws))

  def hardware(self, models: Sequence, hws: Sequence) -> list[dict]:
    """Accelerator metrics of each (model, hw) pair (no accuracy; cheap)."""
    out = []
    for m, h in zip(models, hws):
      out.append(self.hw_fn(self.to_hw_model(m), [h])[0])
    return out

  def evaluate(self, pairs: list) -> list[dict]:
    results = []
    for pair in pairs:
      k = self._key(pair)
      if k not in self._cache:
        acc = self.oracle.evaluate([pair["model"]])[0]
        hw = self.hardware([pair["model"]], [pair["hw"]])[0]
        metrics = {"accuracy": float(acc["accuracy"]), "error": 1.0 - float(acc["accuracy"])}
        for extra in ("test_accuracy", "params", "macs", "train_steps", "wall_s"):
          if extra in acc and acc[extra] is not None:
            metrics[extra] = float(acc[extra])
        metrics.update(hardware_metrics(hw, pair["hw"]))
        metrics["utilisation"] = {k2: float(v) for k2, v in dict(hw.get("utilisation", {})).items()}
        self._cache[k] = metrics
        if self.cache_path is not None:
          self.cache_path.parent.mkdir(parents=True, exist_ok=True)
          with open(self.cache_path, "a") as f:
            f.write(json.dumps({"key": k, "metrics": metrics}) + "\n")
      results.append(dict(self._cache[k]))
      if self.callback is not None:
        self.callback(results[-1])
    return results


def make_oracle(cfg, model_space):
  """The accuracy oracle of ``cfg.oracle``: real training (TrainingOracle) or a measured table.

  Raises:
    ConfigError: invalid dataset (wrong keys or shapes) or training fields, checked before training.
  """
  from jaxcodesign.models import oracles
  o = cfg.oracle
  if o.kind == "table":
    return oracles.TableOracle(o.table_path, o.task)
  train_config = dict(epochs=int(o.epochs), batch_size=int(o.batch_size),
                      learning_rate=float(o.learning_rate), patience=int(o.patience))
  kind = "cnnbench" if cfg.model_space == "cnnbench" else "flexibert"
  return oracles.TrainingOracle(kind=kind, dataset=o.dataset, train_config=train_config,
                                seed=int(cfg.seed), space=model_space,
                                transfer=bool(o.weight_transfer))


class NestedAcceleratorEvaluator:
  """Evaluator over networks for nested co-design: each network gets its best accelerator.

  The accelerator is the argmax of the experiment objective (accuracy held fixed, since it does not
  depend on the accelerator; the ``fits`` constraint included) over a fixed candidate set: ``hws``
  (sampled once from the accelerator space) plus the fixed accelerator. Scoring a network on all
  candidates is one vectorised call of the jitted accelerator model; only the chosen pair is then
  evaluated (trained) through the :class:`PairEvaluator`, so the budget counts trainings.
  """

  def __init__(self, pair_eval: PairEvaluator, objective, hws: Sequence):
    self.pair_eval, self.objective, self.hws = pair_eval, objective, list(hws)
    self._best: dict[str, Any] = {}
    self.name = "nested_codesign"

  def best_accelerator(self, model):
    """The candidate accelerator of highest objective for ``model`` (cached per network)."""
    from jaxcodesign.search import objectives as obj_lib
    key = self.pair_eval.model_space.hash(model)
    if key not in self._best:
      rows = [hardware_metrics(r, h)
              for r, h in zip(self.pair_eval.hardware_sweep(model, self.hws), self.hws)]
      metrics = {name: np.array([r[name] for r in rows]) for name in rows[0]}
      metrics["accuracy"] = np.zeros(len(rows))
      perf = np.asarray(obj_lib.scalarise(metrics, self.objective))
      self._best[key] = self.hws[int(np.argmax(perf))]
    return self._best[key]

  def pair(self, model):
    return {"model": model, "hw": self.best_accelerator(model)}

  def evaluate(self, models: list) -> list[dict]:
    return self.pair_eval.evaluate([self.pair(m) for m in models])


class _FixedHalf:
  """Evaluator over one half of a pair, the other half fixed (the one-sided baselines)."""

  def __init__(self, pair_eval: PairEvaluator, fixed_model=None, fixed_hw=None):
    self.pair_eval, self.fixed_model, self.fixed_hw = pair_eval, fixed_model, fixed_hw
    self.name = "fixed_network" if fixed_model is not None else "fixed_accelerator"

  def pair(self, p):
    if self.fixed_model is not None:
      return {"model": self.fixed_model, "hw": p}
    return {"model": p, "hw": self.fixed_hw}

  def evaluate(self, points: list) -> list[dict]:
    return self.pair_eval.evaluate([self.pair(p) for p in points])


# ------------------------------------------------------------------------------------------------
# Running the methods
# ------------------------------------------------------------------------------------------------
def boshnas_config(cfg, budget: int, two_tower: bool):
  """BOSHNAS / BOSHCODE settings from ``cfg.search`` (patience high enough to use the whole budget,
  so that every method spends the same number of evaluations)."""
  from jaxcodesign.search.boshnas import BoshnasConfig
  from jaxcodesign import surrogates
  scfg = surrogates.SurrogateConfig(epochs=int(cfg.search.surrogate_epochs),
                                    n_members=int(cfg.search.n_members),
                                    encoder="two_tower" if two_tower else "mlp")
  return BoshnasConfig(n_init=int(cfg.search.init_design), init_method=cfg.search.init_method,
                       alpha=float(cfg.search.alpha), beta=float(cfg.search.beta),
                       k_e=float(cfg.search.k_e), k_a=float(cfg.search.k_a),
                       patience=max(3, budget // 4), stop_patience=budget, budget=int(budget),
                       max_rounds=int(budget), gobi_restarts=int(cfg.search.gobi_restarts),
                       surrogate=scfg, two_tower=two_tower)


def run_method(exp: Experiment, method: str, workdir, max_rounds=None) -> list[dict]:
  """Runs one method at the experiment's budget; returns its history in query order.

  Each entry is ``{"model", "hw", "metrics", "performance", "kind"}``. BOSHNAS-based methods
  checkpoint to ``workdir/checkpoints/<method>`` and resume from there.
  """
  from jaxcodesign.search import baselines, boshnas
  cfg = exp.cfg
  key = _fold(_key(cfg.seed), METHODS.index(method))
  ckpt = pathlib.Path(workdir) / "checkpoints" / method if workdir else None
  budget = int(cfg.budget)
  if method == "random_pairs":
    hist = baselines.random_search(key, exp.pair_space, exp.evaluator, exp.objective, budget)
    return [_entry(h.point, h.metrics, h.performance, "random") for h in hist]
  if method == "boshcode":
    space, ev, two_tower = exp.pair_space, exp.evaluator, True
    wrap = lambda p: p
  elif method == "codesign":
    hws = exp.hw_space.sample(_fold(_key(cfg.seed), 1000), int(cfg.accelerator_sweep))
    ev = NestedAcceleratorEvaluator(exp.evaluator, exp.objective, hws + [exp.fixed_hw])
    space, two_tower, wrap = exp.model_space, False, ev.pair
  elif method == "fixed_network":
    ev = _FixedHalf(exp.evaluator, fixed_model=exp.fixed_model)
    space, two_tower, wrap = exp.hw_space, False, ev.pair
  else:
    ev = _FixedHalf(exp.evaluator, fixed_hw=exp.fixed_hw)
    space, two_tower, wrap = exp.model_space, False, ev.pair
  res = boshnas.run_boshnas(key, space, ev, exp.objective, boshnas_config(cfg, budget, two_tower),
                            workdir=ckpt, max_rounds=max_rounds)
  return [_entry(wrap(p), m, f, k) for p, m, f, k in zip(res.points, res.metrics, res.performance,
                                                         res.kinds)]


def _fold(key, i: int):
  """``jax.random.fold_in(key, i)``: one independent key per method / purpose."""
  import jax
  return jax.random.fold_in(key, i)


def _entry(pair, metrics, performance, kind) -> dict:
  return {"model": pair["model"], "hw": pair["hw"], "metrics": metrics,
          "performance": float(performance), "kind": kind}


def _versions() -> dict:
  import importlib.metadata as md
  out = {"python": platform.python_version(), "platform": platform.platform()}
  for pkg in ("jaxcodesign", "jax", "jaxlib", "flax", "optax", "jraph", "orbax-checkpoint", "numpy"):
    try:
      out[pkg] = md.version(pkg)
    except md.PackageNotFoundError:
      out[pkg] = None
  return out


def pareto_set(entries: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
  """(objective matrix float[n, 4] of (error, latency_s, energy_per_sample_j, area_mm2), Pareto mask)
  over the fitting pairs among ``entries`` (non-fitting pairs are never Pareto-optimal)."""
  from jaxcodesign.search.pareto import pareto_mask
  costs = np.array([[e["metrics"]["error"], e["metrics"]["latency_s"],
                     e["metrics"]["energy_per_sample_j"], e["metrics"]["area_mm2"]]
                    for e in entries], np.float64).reshape(-1, 4)
  fits = np.array([bool(e["metrics"]["fits"]) for e in entries], bool)
  mask = np.zeros(len(entries), bool)
  if fits.any():
    mask[np.nonzero(fits)[0]] = np.asarray(pareto_mask(costs[fits]), bool)
  return costs, mask


def run(cfg: ml_collections.ConfigDict, workdir, progress: bool = True, max_rounds=None) -> dict:
  """Runs the experiment ``cfg`` into ``workdir`` (resuming what is there) and returns the results.

  Writes ``results.json`` and ``plots/{convergence,pareto,utilisation}.png``. The chosen pair is
  the evaluated co-design pair of highest performance under :func:`make_constrained_objective`
  (the same function that produced the surrogate targets).

  Raises:
    ConfigError: before any training, for an invalid configuration.
  """
  from absl import logging
  from jaxcodesign import plots
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  t0 = time.time()
  exp = build_experiment(cfg, workdir)
  histories, timings = {}, {}
  bar = None
  if progress:
    from tqdm import tqdm
    from jaxcodesign.search import objectives as obj_lib
    bar = tqdm(total=len(cfg.methods) * int(cfg.budget), desc=cfg.name, unit="eval")
    best_now = {"value": -np.inf}

    def on_evaluate(metrics):
      best_now["value"] = max(best_now["value"], float(obj_lib.scalarise(metrics, exp.objective)))
      bar.update(1)
      bar.set_postfix({"best": f"{best_now['value']:.4f}"})
    exp.evaluator.callback = on_evaluate
  for method in cfg.methods:
    t = time.time()
    if bar is not None:
      bar.set_description(f"{cfg.name}:{method}")
      best_now["value"] = -np.inf
    hist = run_method(exp, method, workdir, max_rounds=max_rounds)
    histories[method] = hist
    timings[method] = time.time() - t
    best = max((h["performance"] for h in hist), default=float("nan"))
    logging.info("%s: %d evaluations, best objective %.4f (%.1f s)", method, len(hist), best,
                 timings[method])
    if bar is not None:
      bar.write(f"{method}: {len(hist)} evaluations, best objective {best:.4f} ({timings[method]:.0f} s)")
  if bar is not None:
    bar.close()
    exp.evaluator.callback = None

  main = "codesign" if "codesign" in histories else cfg.methods[0]
  chosen_i = int(np.argmax([h["performance"] for h in histories[main]]))
  chosen = histories[main][chosen_i]
  all_entries = [dict(e, method=m) for m, hs in histories.items() for e in hs]
  costs, mask = pareto_set(all_entries)
  summary = {m: {"best_performance": max(h["performance"] for h in hs),
                 "evaluations": len(hs),
                 "best": _strip(max(hs, key=lambda e: e["performance"])),
                 "wall_s": timings[m]} for m, hs in histories.items()}
  plots_dir = workdir / "plots"
  from jaxcodesign.search.baselines import best_so_far
  curves = {m: best_so_far([h["performance"] for h in hs]) for m, hs in histories.items()}
  paths = {
      "convergence": str(plots.plot_convergence(curves, plots_dir / "convergence.png",
                                                title=f"{cfg.name}: best objective vs queries")),
      "pareto": str(plots.plot_pareto(
          costs, mask, ["validation error", "latency per batch (s)", "energy per inference (J)", "area (mm^2)"],
          plots_dir / "pareto.png", chosen=all_entries.index(dict(chosen, method=main)),
          groups=[e["method"] for e in all_entries], title=f"{cfg.name}: evaluated pairs")),
      "utilisation": str(plots.plot_utilisation(
          chosen["metrics"].get("utilisation", {}) or {"(none reported)": 0.0},
          plots_dir / "utilisation.png", title="chosen pair: accelerator utilisation")),
  }
  results = {
      "experiment": cfg.name,
      "config": cfg.to_dict(),
      "versions": _versions(),
      "objective": {"terms": [dataclasses.asdict(t) for t in exp.objective.terms],
                    "constraints": [dataclasses.asdict(c) for c in exp.objective.constraints],
                    "penalty": exp.objective.penalty},
      "chosen": _strip(chosen),
      "summary": summary,
      "codesign_gain": {m: summary["codesign"]["best_performance"] - s["best_performance"]
                        for m, s in summary.items() if "codesign" in summary and m != "codesign"},
      "pareto_set": [dict(_strip(all_entries[i]), method=all_entries[i]["method"])
                     for i in np.nonzero(mask)[0]],
      "evaluations": {m: [_strip(e) for e in hs] for m, hs in histories.items()},
      "plots": paths,
      "wall_s": time.time() - t0,
  }
  with open(workdir / "results.json", "w") as f:
    json.dump(results, f, indent=1, default=float)
  return results


def _strip(e: dict) -> dict:
  return {k: e[k] for k in ("model", "hw", "metrics", "performance", "kind") if k in e}
