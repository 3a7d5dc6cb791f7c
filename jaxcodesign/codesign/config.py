"""Co-design configuration: defaults, field documentation, loading, objective construction.

An experiment is an ``ml_collections.ConfigDict`` built by ``experiments/<name>.py:get_config()`` on
top of :func:`base_config`. :data:`FIELD_HELP` documents every field (the launcher's ``--help`` is
built from it, with each experiment's own defaults).

Objective (:func:`make_objective`; one scalarisation, :func:`jaxcodesign.search.objectives.scalarise`,
for surrogate targets and reports)::

  P = w_acc * accuracy + w_lat * (1 - c(latency_per_inference_s / ref_lat))
      + w_e * (1 - c(energy_per_inference_j / ref_e)) + w_area * (1 - c(area_mm2 / ref_area)),
  c(r) = clip(r, 0, 1)

with accuracy the *validation* accuracy as a fraction in [0, 1] (range-checked: 97.0 raises), and
latency and energy *per inference* (per-batch latency divided by the accelerator's batch size), so
that accelerators of different batch sizes compare fairly. References sit near the 90th percentile
of random (network, accelerator) pairs of the experiment (``benchmarks/objective_references.py``).
"""

from __future__ import annotations

import importlib.util
import pathlib
from typing import Any

import ml_collections

from jaxcodesign.errors import ConfigError

__all__ = ["METHODS", "DEFAULT_METHODS", "OBJECTIVE_METRICS", "FIELD_HELP", "base_config",
           "load_config", "config_help", "flatten", "make_objective", "make_constrained_objective"]

#: Built-in methods (more can be added with :func:`jaxcodesign.codesign.register_method`).
METHODS = ("codesign", "boshcode", "fixed_network", "fixed_accelerator", "random_pairs")
DEFAULT_METHODS = ("codesign", "fixed_network", "fixed_accelerator", "random_pairs")

#: Metrics an objective term may weight (all produced by :func:`evaluators.hardware_metrics` or the
#: oracle); latencies and energies per inference unless the name says per batch.
OBJECTIVE_METRICS = ("accuracy", "latency_per_inference_s", "energy_per_inference_j", "area_mm2",
                     "peak_power_w", "latency_s", "energy_j", "energy_dynamic_j",
                     "energy_leakage_j")

#: Meaning of every config field (dotted names), shown by ``python -m launch.codesign --help``.
FIELD_HELP: dict[str, str] = {
    "name": "experiment name (also names the default work directory /tmp/jaxcodesign/<name>)",
    "model_space": "network space: flexibert2 | flexibert_small | cnnbench",
    "model_space_kwargs": "restrictions of the network space (they can only shrink it)",
    "hw_space": "accelerator half: elector | acceltran (transformers), accelbench (CNNs), devices "
                "(EdgeTran edge devices, ProTran surrogates), or one added with "
                "codesign.register_hardware",
    "hw_space_kwargs": "restrictions of the accelerator space; for hw_space=devices: measurements "
                       "(rows file, '' = ProTran's), devices, latency_budget_s (s/sequence), "
                       "power_budget_w (W), k_std (constraints on mean + k std), surrogate",
    "budget": "evaluations (trainings) per method, initial design included",
    "seed": "random seed of every method, the initial designs and the training keys",
    "methods": "methods compared at equal budget (codesign, boshcode, fixed_network, "
               "fixed_accelerator, random_pairs, or registered ones)",
    "accelerator_sweep": "accelerators sampled once and scored per network by nested co-design",
    "fixed_network": "network of the fixed_network baseline: '' = a sampled one, or a JSON dict",
    "fixed_accelerator": "accelerator of the fixed_accelerator baseline: a named one or JSON",
    "oracle.kind": "accuracy oracle: training (real training) | table (measured accuracies)",
    "oracle.dataset": "training data: 'digits' or a path to an .npz",
    "oracle.table_path": "measured-accuracy table (.jsonl) for oracle.kind=table",
    "oracle.task": "task column of the table (e.g. SST-2)",
    "oracle.epochs": "training epochs per network (early stopping on validation accuracy)",
    "oracle.batch_size": "training minibatch size",
    "oracle.learning_rate": "training learning rate (AdamW)",
    "oracle.patience": "epochs without validation improvement before early stopping",
    "oracle.weight_transfer": "initialise each network from its nearest trained neighbour",
    "hw.seq_len": "tokens per sequence seen by the accelerator (digits: 8 rows)",
    "hw.vocab_size": "rows of the input embedding table (digits: 8 features; BERT: 30522)",
    "hw.activation_sparsity": "activation sparsity in [0, 1) given to the accelerator model",
    "hw.weight_sparsity": "weight sparsity in [0, 1) given to the accelerator model",
    "hw.reticle_constraint": "treat a die over the 858 mm^2 reticle (fits_reticle False) as "
                             "infeasible, like a network that does not fit",
    "objective.weights": "weight per objective metric (>= 0): " + ", ".join(OBJECTIVE_METRICS),
    "objective.references": "normaliser per hardware metric (> 0, in the metric's units)",
    "objective.constraints": "hard budgets {metric: upper limit} in the metric's units (e.g. "
                             "area_mm2, peak_power_w): a pair over a budget is penalised like one "
                             "that does not fit, and nested co-design picks within the budgets",
    "search.init_design": "initial designs of BOSHNAS / BOSHCODE (< budget)",
    "search.init_method": "initial design sampler: lhs | uniform | sobol",
    "search.alpha": "probability of max-uncertainty sampling per query",
    "search.beta": "probability of diversity (random) sampling per query",
    "search.k_e": "weight of the epistemic std in the acquisition",
    "search.k_a": "weight of the aleatoric std in the acquisition (after stalling)",
    "search.gobi_restarts": "GOBI restarts per query",
    "search.surrogate_epochs": "surrogate training epochs per round",
    "search.n_members": "surrogate ensemble members",
}

from jaxcodesign.codesign import backends as _backends  # noqa: E402  (backend / ray_* fields)
FIELD_HELP.update(_backends.FIELD_HELP)


def base_config() -> ml_collections.ConfigDict:
  """Defaults shared by every experiment (each ``experiments/*.py`` overrides what it needs)."""
  cfg = ml_collections.ConfigDict()
  cfg.name = "codesign"
  cfg.model_space = "flexibert2"
  cfg.model_space_kwargs = ml_collections.ConfigDict()
  cfg.hw_space = "elector"
  cfg.hw_space_kwargs = ml_collections.ConfigDict()
  cfg.budget = 20
  cfg.seed = 0
  cfg.methods = DEFAULT_METHODS
  cfg.accelerator_sweep = 1024
  cfg.fixed_network = ""
  cfg.fixed_accelerator = "edge"
  cfg.oracle = ml_collections.ConfigDict()
  cfg.oracle.kind = "training"
  cfg.oracle.dataset = "digits"
  cfg.oracle.table_path = ""
  cfg.oracle.task = "SST-2"
  cfg.oracle.epochs = 12
  cfg.oracle.batch_size = 64
  cfg.oracle.learning_rate = 3e-3
  cfg.oracle.patience = 4
  cfg.oracle.weight_transfer = False
  cfg.hw = ml_collections.ConfigDict()
  cfg.hw.seq_len = 8
  cfg.hw.vocab_size = 8
  cfg.hw.activation_sparsity = 0.0
  cfg.hw.weight_sparsity = 0.0
  cfg.hw.reticle_constraint = True
  cfg.objective = ml_collections.ConfigDict()
  cfg.objective.weights = ml_collections.ConfigDict(
      dict(accuracy=0.6, latency_per_inference_s=0.15, energy_per_inference_j=0.15, area_mm2=0.1))
  # About the 90th percentile of random (network, accelerator) pairs of the experiment (each
  # experiment sets its own, measured with benchmarks/objective_references.py); ratios are clipped.
  cfg.objective.references = ml_collections.ConfigDict(
      dict(latency_per_inference_s=6.2e-6, energy_per_inference_j=4.4e-4, area_mm2=3100.0))
  cfg.objective.constraints = ml_collections.ConfigDict()
  cfg.search = ml_collections.ConfigDict()
  cfg.search.init_design = 8
  cfg.search.init_method = "lhs"
  cfg.search.alpha = 0.1
  cfg.search.beta = 0.1
  cfg.search.k_e = 0.5
  cfg.search.k_a = 0.5
  cfg.search.gobi_restarts = 8
  cfg.search.surrogate_epochs = 60
  cfg.search.n_members = 2
  _backends.add_fields(cfg)  # backend, ray_address, ray_num_cpus, ray_num_gpus, ray_max_retries
  return cfg


def config_path(name_or_path) -> pathlib.Path:
  """The file of an experiment config: ``name_or_path`` itself when it ends in ``.py``, else
  ``experiments/<name>.py`` of the project (existence is not checked: :func:`load_config` does)."""
  p = pathlib.Path(name_or_path)
  if p.suffix != ".py":
    p = pathlib.Path(__file__).resolve().parents[2] / "experiments" / f"{name_or_path}.py"
  return p


def load_config(name_or_path) -> ml_collections.ConfigDict:
  """``get_config()`` of ``experiments/<name>.py`` (or of a config file path).

  Raises:
    ConfigError: when no such experiment file exists, it has no ``get_config()``, or running the
      file or its ``get_config()`` raises (the file is named; the original error is chained).
  """
  p = config_path(name_or_path)
  if not p.is_file():
    raise ConfigError(f"experiment config {str(name_or_path)!r} not found ({p})")
  spec = importlib.util.spec_from_file_location(p.stem, p)
  mod = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(mod)
    get_config = getattr(mod, "get_config", None)
    cfg = get_config() if get_config is not None else None
  except Exception as e:  # a user's file may raise anything: re-raised with the file named
    raise ConfigError(f"invalid value for field 'config': experiment config {str(p)!r} failed to "
                      f"load: {type(e).__name__}: {e}") from e
  if get_config is None:
    raise ConfigError(f"experiment config {str(p)!r} defines no get_config()")
  return cfg


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
  """A nested dict / ConfigDict as ``{dotted.name: leaf}`` (tuples become lists, for JSON)."""
  if isinstance(tree, ml_collections.ConfigDict):
    tree = tree.to_dict()
  out: dict[str, Any] = {}
  if isinstance(tree, dict):
    if not tree and prefix:
      out[prefix] = {}
    for k in sorted(tree):
      out.update(flatten(tree[k], f"{prefix}.{k}" if prefix else str(k)))
    return out
  if isinstance(tree, tuple):
    tree = [list(v) if isinstance(v, tuple) else v for v in tree]
  out[prefix] = tree
  return out


def config_help(cfg: ml_collections.ConfigDict) -> str:
  """One line per config field: ``--config.<field>=<default>  <meaning>`` (from :data:`FIELD_HELP`)."""
  flat = flatten(cfg)
  lines = []
  for name, value in flat.items():
    group = next((g for g in (name, name.rsplit(".", 1)[0]) if g in FIELD_HELP), None)
    meaning = FIELD_HELP.get(group, "") if group else ""
    if group and group != name:   # a member of a dict field such as objective.weights.<metric>
      meaning = f"(member of {group})"
    lines.append(f"  --config.{name}={value!r}  {meaning}".rstrip())
  return "\n".join(lines)


def make_objective(cfg: ml_collections.ConfigDict):
  """The experiment's :class:`~jaxcodesign.search.objectives.Objective` from ``cfg.objective``.

  Accuracy is maximised with reference 1.0 and valid range [0, 1] (a fraction; percent raises);
  hardware terms are minimised relative to ``cfg.objective.references`` with valid range [0, inf).
  Each ratio is clipped to [0, 1] so that one outlier cannot dominate (references sit near the 90th
  percentile of random pairs).

  Raises:
    ConfigError: for a negative weight, a non-positive reference or an unknown metric name.
  """
  from jaxcodesign.search import objectives as obj_lib
  terms = []
  for name, weight in cfg.objective.weights.items():
    if name not in OBJECTIVE_METRICS:
      raise ConfigError(f"invalid objective.weights field {name!r}; allowed: {list(OBJECTIVE_METRICS)}")
    if weight < 0:
      raise ConfigError(f"invalid value for field 'objective.weights.{name}': {weight}; allowed: >= 0")
    if weight == 0:
      continue
    if name == "accuracy":
      terms.append(obj_lib.ObjectiveTerm(name, float(weight), 1.0, minimise=False,
                                         valid_range=(0.0, 1.0)))
    else:
      ref = cfg.objective.references.get(name)
      if ref is None or ref <= 0:
        raise ConfigError(f"invalid value for field 'objective.references.{name}': {ref}; allowed: "
                          "> 0 when its weight is > 0")
      terms.append(obj_lib.ObjectiveTerm(name, float(weight), float(ref), minimise=True,
                                         valid_range=(0.0, float("inf"))))
  if not terms:
    raise ConfigError("objective.weights: at least one weight must be > 0")
  return obj_lib.Objective(terms=tuple(terms), clip=True)


def make_constrained_objective(cfg: ml_collections.ConfigDict):
  """The experiment objective plus the hard constraints in penalty form (performance minus 1 per
  violated constraint, which keeps surrogate targets finite): ``fits >= 1`` (the network fits the
  accelerator), ``fits_reticle >= 1`` (the die is within the reticle limit, 858 mm^2; default on,
  ``hw.reticle_constraint=False`` turns it off; not for the ``devices`` half, whose devices exist)
  and ``metric <= limit`` for each budget of ``cfg.objective.constraints``.

  Raises:
    ConfigError: a budget on an unknown metric, or a limit that is not a positive finite number.
  """
  import math
  from jaxcodesign.search import objectives as obj_lib
  base = make_objective(cfg)
  constraints = [obj_lib.Constraint("fits", 1.0, "min")]
  if bool(cfg.hw.get("reticle_constraint", True)) and cfg.hw_space != "devices":
    constraints.append(obj_lib.Constraint("fits_reticle", 1.0, "min"))
  budgets = cfg.objective.get("constraints", None)
  for name, limit in (budgets.items() if budgets is not None else ()):
    if name not in OBJECTIVE_METRICS:
      raise ConfigError(f"invalid objective.constraints field {name!r}; allowed: "
                        f"{list(OBJECTIVE_METRICS)}")
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not (
        math.isfinite(limit) and limit > 0):
      raise ConfigError(f"invalid value for field 'objective.constraints.{name}': {limit!r}; "
                        "allowed: a finite number > 0 (an upper limit in the metric's units)")
    constraints.append(obj_lib.Constraint(name, float(limit), "max"))
  return obj_lib.Objective(terms=base.terms, constraints=tuple(constraints),
                           clip=base.clip, violation="penalty", penalty=1.0)
