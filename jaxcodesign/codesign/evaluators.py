"""Co-design evaluators: the hardware half, the (network, accelerator) pair evaluator, nested sweeps.

* A *hardware half* (:class:`HardwareHalf`) is an accelerator space plus an accelerator model; the
  built-in halves are ``elector`` / ``acceltran`` (transformers, the AccelTran model),
  ``accelbench`` (CNNs) and ``devices`` (EdgeTran: profiled edge devices scored by the ProTran device
  surrogates, :mod:`jaxcodesign.edgetran.cosearch`); others are added with :func:`register_hardware` (``name``, ``factory``),
  where ``factory(cfg, model_space) -> HardwareHalf``.
* :class:`PairEvaluator` evaluates ``{"model", "hw"}`` pairs: oracle accuracy x hardware metrics,
  with THE one persistent result cache (``evaluations.jsonl``, keyed by
  :func:`jaxcodesign.codesign.workdir.cache_salt` + model hash + accelerator JSON).
* :class:`NestedAcceleratorEvaluator` pairs each network with its best accelerator among a fixed
  candidate set, scored in one vectorised call on arrays prepared once per experiment
  (:meth:`HardwareHalf.prepare` / :meth:`HardwareHalf.simulate_prepared`).

Hardware metrics (:func:`hardware_metrics`) are per inference where that matters:
``latency_per_inference_s = latency_s / batch_size`` (s), ``energy_per_inference_j = energy_j /
batch_size`` (J), ``throughput_per_s`` (inferences/s); ``latency_s`` (one batch) is kept as a
reported field.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import pathlib
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from jaxcodesign.errors import ConfigError, SpaceError

__all__ = ["HW_METRICS", "hardware_metrics", "HardwareHalf", "register_hardware", "HARDWARE",
           "make_hardware", "PairEvaluator", "NestedAcceleratorEvaluator", "FixedHalf",
           "make_oracle", "prepare_configs", "simulate_arrays"]

#: Metrics taken from every accelerator-model result (contract of ``jaxcodesign.hardware.api``).
HW_METRICS = ("latency_s", "energy_j", "energy_dynamic_j", "energy_leakage_j", "area_mm2",
              "peak_power_w", "avg_power_w", "cycles", "fits")
#: Of :data:`HW_METRICS`, the ones every hardware half must report (a device half has no area,
#: cycles or energy split: :mod:`jaxcodesign.edgetran.cosearch`).
REQUIRED_METRICS = ("latency_s", "energy_j", "fits")
#: Further metrics copied when a half reports them (uncertainty of surrogate-based halves, s / J / W).
EXTRA_METRICS = ("latency_per_inference_s_std", "energy_per_inference_j_std", "peak_power_w_std",
                 "latency_ucb_s", "peak_power_ucb_w")
#: Scalar keys of a prepared sweep (arrays [n], one per candidate accelerator).
SWEEP_KEYS = HW_METRICS + ("batch_size", "latency_per_inference_s", "energy_per_inference_j",
                           "throughput_per_s", "fits_reticle")


def _per_inference(out: dict) -> dict:
  """Adds the per-inference keys when the accelerator model did not report them (fallback):
  latency and energy divided by the batch size, and throughput = batch size / per-batch latency
  (one batch after the other, no overlap of consecutive batches)."""
  b = out["batch_size"]
  if "latency_per_inference_s" not in out:
    out["latency_per_inference_s"] = out["latency_s"] / b
  if "energy_per_inference_j" not in out:
    out["energy_per_inference_j"] = out["energy_j"] / b
  if "throughput_per_s" not in out:
    with np.errstate(divide="ignore"):
      out["throughput_per_s"] = b / out["latency_s"]
  return out


def hardware_metrics(result: Mapping[str, Any], hw: Mapping[str, Any]) -> dict:
  """The hardware metrics co-design uses, from one accelerator-model result and its config.

  Returns the :data:`HW_METRICS` the result has (at least :data:`REQUIRED_METRICS`) and any
  :data:`EXTRA_METRICS` as floats (``fits`` as bool), plus ``batch_size``
  (inferences per batch, from the config), ``latency_per_inference_s`` (s), ``energy_per_inference_j``
  (J) and ``throughput_per_s`` (inferences/s); the model's own values are used when it reports them,
  else they are derived from the per-batch values (:func:`_per_inference`).

  Raises:
    SpaceError: a result outside physical bounds (negative or non-finite latency, energy, area), or
      one without the required metrics.
  """
  missing = [k for k in REQUIRED_METRICS if k not in result]
  if missing:
    raise SpaceError("hardware result", sorted(result), reason=f"missing {missing}")
  out: dict[str, Any] = {name: float(result[name]) for name in HW_METRICS
                         if name != "fits" and name in result}
  out.update({k: float(result[k]) for k in EXTRA_METRICS if k in result})
  out["fits"] = bool(result["fits"])
  if "fits_reticle" in result:  # die area within the reticle (hardware API contract)
    out["fits_reticle"] = bool(result["fits_reticle"])
  out["batch_size"] = int(result["batch_size"] if "batch_size" in result else hw["batch_size"])
  for k in ("latency_per_inference_s", "energy_per_inference_j", "throughput_per_s"):
    if k in result:
      out[k] = float(result[k])
  out = _per_inference(out)
  for k in ("latency_s", "energy_j", "area_mm2", "latency_per_inference_s", "energy_per_inference_j"):
    if k in out and not (np.isfinite(out[k]) and out[k] >= 0):
      raise SpaceError(k, out[k], reason="the accelerator model returned a non-physical value")
  return out


# ------------------------------------------------------------------------------------------------
# Prepared sweeps: the hardware API's array path
# ------------------------------------------------------------------------------------------------
def prepare_configs(configs: Sequence[Mapping[str, Any]], space=None, kind: str = "transformer"):
  """Validates ``configs`` once and converts them to arrays once (``hardware.api.prepare_configs``;
  ``kind`` is inferred there from the configs and kept for callers' symmetry)."""
  from jaxcodesign.hardware import api as hw_api
  del kind
  return hw_api.prepare_configs(list(configs), space=space)


def simulate_arrays(model, prepared, kind: str = "transformer", **options) -> dict[str, np.ndarray]:
  """Scalar metrics of one network on every prepared config, as arrays ``[n]`` (no per-config
  dicts): ``hardware.api.simulate_arrays`` restricted to :data:`SWEEP_KEYS`, plus per-inference
  figures."""
  from jaxcodesign.hardware import api as hw_api
  out = dict(hw_api.simulate_arrays(model, prepared, kind=kind, **options))
  return _per_inference({k: out[k] for k in SWEEP_KEYS if k in out})


# ------------------------------------------------------------------------------------------------
# Hardware halves
# ------------------------------------------------------------------------------------------------
class HardwareHalf:
  """An accelerator space and its accelerator model, as co-design sees them.

  Attributes:
    name: registry name (``elector``, ``acceltran``, ``accelbench``, ...).
    space: the accelerator ``DesignSpace`` (points are accelerator configs).
    named: ``{name: config}`` of named accelerators (for ``cfg.fixed_accelerator``).
    kind: ``'transformer'`` or ``'cnn'`` (the network kind it accepts).

  Methods (override in other halves):
    ``simulate(model, hws) -> list[dict]``: one result dict per config (hardware API contract);
    ``prepare(hws)``: candidate configs validated / converted once; ``simulate_prepared(model,
    prepared) -> dict[str, np.ndarray[n]]`` with :data:`SWEEP_KEYS`.
  """

  def __init__(self, name, space, simulate: Callable, named: Mapping[str, Any], kind: str,
               options: Mapping[str, Any], to_hw_model: Callable | None = None):
    self.name, self.space, self.named, self.kind = name, space, dict(named), kind
    self._simulate, self.options = simulate, dict(options)
    self.to_hw_model = to_hw_model or (lambda m: m)

  def simulate(self, model, hws: Sequence) -> list[dict]:
    return self._simulate(self.to_hw_model(model), list(hws))

  def prepare(self, hws: Sequence):
    return prepare_configs(list(hws), space=self.space, kind=self.kind)

  def simulate_prepared(self, model, prepared) -> dict[str, np.ndarray]:
    return simulate_arrays(self.to_hw_model(model), prepared, kind=self.kind, **self.options)

  def fixed(self, name_or_json: str):
    """A named accelerator or a JSON config, validated against the space.

    Raises:
      ConfigError: neither a known name nor valid JSON. SpaceError: a config outside the space.
    """
    if name_or_json in self.named:
      return self.space.validate(self.named[name_or_json])
    try:
      return self.space.validate(json.loads(name_or_json))
    except json.JSONDecodeError:
      raise ConfigError(f"invalid value for field 'fixed_accelerator': {name_or_json!r}; allowed: "
                        f"{sorted(self.named)} or a JSON config") from None


def _transformer_half(cfg, model_space, space_name: str = "elector") -> HardwareHalf:
  from jaxcodesign import spaces as spaces_lib
  from jaxcodesign.hardware import api as hw_api
  from jaxcodesign.spaces.accelerators import NAMED_ACCELERATORS
  if cfg.model_space not in ("flexibert2", "flexibert_small"):
    raise ConfigError(f"invalid value for field 'hw_space': {cfg.hw_space!r} with model_space "
                      f"{cfg.model_space!r}; allowed: ['accelbench'] for CNNs")
  space = spaces_lib.get_space(space_name, **cfg.hw_space_kwargs.to_dict())
  # Always explicit: the trained networks are dense unless the config says otherwise.
  options = dict(sparsity=(float(cfg.hw.activation_sparsity), float(cfg.hw.weight_sparsity)),
                 seq_len=int(cfg.hw.seq_len), vocab_size=int(cfg.hw.vocab_size))
  to_hw = None
  if cfg.model_space == "flexibert_small":
    from jaxcodesign.spaces.flexibert import small_to_flexibert2
    to_hw = small_to_flexibert2
  elif "model_space" in inspect.signature(hw_api.simulate_transformer).parameters:
    # the networks were validated against the experiment's (possibly custom) space
    options["model_space"] = model_space
  sim = lambda m, hws: hw_api.simulate_transformer(m, hws, space=space, **options)
  return HardwareHalf(space_name, space, sim, NAMED_ACCELERATORS, "transformer", options, to_hw)


def _cnn_half(cfg, model_space, space_name: str = "accelbench") -> HardwareHalf:
  from jaxcodesign import spaces as spaces_lib
  from jaxcodesign.hardware import api as hw_api
  from jaxcodesign.spaces.accelerators import NAMED_ACCELBENCH
  if cfg.model_space != "cnnbench":
    raise ConfigError(f"invalid value for field 'hw_space': {cfg.hw_space!r} with model_space "
                      f"{cfg.model_space!r}; allowed: ['elector', 'acceltran'] for transformers")
  space = spaces_lib.get_space(space_name, **cfg.hw_space_kwargs.to_dict())
  sparsity = (float(cfg.hw.activation_sparsity), float(cfg.hw.weight_sparsity))
  shape, classes = tuple(model_space.input_shape), int(model_space.num_classes)
  sim = lambda m, hws: hw_api.simulate_cnn(m, [space.validate(h) for h in hws], shape, classes,
                                            sparsity=sparsity)
  options = dict(sparsity=sparsity, input_shape=shape, num_classes=classes)
  return HardwareHalf(space_name, space, sim, NAMED_ACCELBENCH, "cnn", options)


#: name -> factory(cfg, model_space) -> HardwareHalf.
HARDWARE: dict[str, Callable] = {
    "elector": functools.partial(_transformer_half, space_name="elector"),
    "acceltran": functools.partial(_transformer_half, space_name="acceltran"),
    "accelbench": functools.partial(_cnn_half, space_name="accelbench"),
    "devices": lambda cfg, model_space: _devices_half(cfg, model_space)}


def _devices_half(cfg, model_space):
  """EdgeTran's edge devices scored by the ProTran device surrogates (imported on use: sklearn)."""
  from jaxcodesign.edgetran.cosearch import make_devices_half
  return make_devices_half(cfg, model_space)


def register_hardware(name: str, factory: Callable) -> None:
  """Adds a hardware half: ``cfg.hw_space = name`` then builds ``factory(cfg, model_space)``, which
  returns a :class:`HardwareHalf` (or an object with the same attributes and methods).

  Raises:
    ConfigError: an empty name, a non-callable factory, or a name already registered.
  """
  register(HARDWARE, "hardware half", name, factory, "factory")


def register(registry: dict, what: str, name: str, obj: Callable, field: str) -> None:
  """Adds ``obj`` to ``registry`` under ``name`` (the one implementation of both registries).

  Raises:
    ConfigError: an empty name, a non-callable ``obj``, or a name already taken by another object.
  """
  if not isinstance(name, str) or not name:
    raise ConfigError(f"invalid value for field 'name': {name!r}; allowed: a non-empty string")
  if not callable(obj):
    raise ConfigError(f"invalid value for field {field!r}: {obj!r}; allowed: a callable")
  if name in registry and registry[name] is not obj:
    raise ConfigError(f"{what} {name!r} is already registered")
  registry[name] = obj


def make_hardware(cfg, model_space) -> HardwareHalf:
  """The hardware half named ``cfg.hw_space``.

  Raises:
    ConfigError: unknown name (the message lists the registered ones) or a wrong network kind.
  """
  if cfg.hw_space not in HARDWARE:
    raise ConfigError(f"invalid value for field 'hw_space': {cfg.hw_space!r}; allowed: "
                      f"{sorted(HARDWARE)}")
  return HARDWARE[cfg.hw_space](cfg, model_space)


# ------------------------------------------------------------------------------------------------
# The pair evaluator (the one result cache)
# ------------------------------------------------------------------------------------------------
class PairEvaluator:
  """Evaluator of ``{"model", "hw"}`` pairs: accuracy oracle x hardware half.

  ``evaluate(pairs)`` validates each half against its space (SpaceError otherwise) and returns one
  dict per pair with ``accuracy`` (the oracle's *validation* accuracy, used for selection, a
  fraction: range-checked), ``test_accuracy`` (reported only), ``error = 1 - accuracy``,
  :func:`hardware_metrics` and ``utilisation``. Training wall times are not metrics (they differ
  between runs); they are collected in :attr:`timings` instead.

  The cache: with ``cache_path`` every evaluated pair is appended to a JSON-lines file and re-used
  after a restart; its key is ``salt | model hash | accelerator JSON`` where ``salt`` is
  :func:`jaxcodesign.codesign.workdir.cache_salt` (everything else that changes the metrics).

  ``callback(key, metrics)``, when set, is called for every returned metric dict (cached or not).
  """

  def __init__(self, oracle, hardware: HardwareHalf, model_space, cache_path=None, salt: str = ""):
    self.oracle, self.hardware_half, self.model_space = oracle, hardware, model_space
    self.hw_space = hardware.space
    self.salt = str(salt)
    self.cache_path = pathlib.Path(cache_path) if cache_path else None
    self._cache: dict[str, dict] = {}
    self.timings: dict[str, float] = {}
    self.callback: Callable[[str, dict], None] | None = None
    self.name = "pair"
    if self.cache_path is not None and self.cache_path.exists():
      for line in self.cache_path.read_text().splitlines():
        if line.strip():
          try:
            row = json.loads(line)
          except json.JSONDecodeError:   # a line cut by a kill: that pair is evaluated again
            continue
          if row.get("salt") == self.salt:
            self._cache[row["key"]] = row["metrics"]

  def key(self, pair) -> str:
    """The cache key of a (validated) pair."""
    text = self.salt + "|" + self.model_space.hash(pair["model"]) + "|" + json.dumps(
        pair["hw"], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()

  def validate(self, pair) -> dict:
    if not isinstance(pair, Mapping) or set(pair) != {"model", "hw"}:
      raise SpaceError("pair", type(pair).__name__ if not isinstance(pair, Mapping) else sorted(pair),
                       reason="a dict with exactly the keys 'model' and 'hw'")
    return {"model": self.model_space.validate(pair["model"]), "hw": self.hw_space.validate(pair["hw"])}

  def hardware_sweep(self, model, hws: Sequence) -> list[dict]:
    """Accelerator results of one network on many accelerators (one vectorised model call)."""
    return self.hardware_half.simulate(self.model_space.validate(model), list(hws))

  def hardware(self, models: Sequence, hws: Sequence) -> list[dict]:
    """Accelerator results of each (model, hw) pair (no accuracy; cheap)."""
    return [self.hardware_half.simulate(self.model_space.validate(m), [h])[0]
            for m, h in zip(models, hws)]

  def _evaluate_one(self, pair) -> dict:
    acc = self.oracle.evaluate([pair["model"]])[0]
    a = float(acc["accuracy"])
    if not 0.0 <= a <= 1.0:
      raise SpaceError("accuracy", a, reason=f"oracle {getattr(self.oracle, 'name', '?')} must "
                       "return a fraction in [0, 1] (not percent)")
    hw = self.hardware([pair["model"]], [pair["hw"]])[0]
    metrics = {"accuracy": a, "error": 1.0 - a}
    for extra in ("test_accuracy", "params", "macs", "train_steps"):
      if extra in acc and acc[extra] is not None:
        metrics[extra] = float(acc[extra])
    if acc.get("failed"):  # a training that failed after its retries (codesign.backends)
      # 'error' is the metric 1 - accuracy (Pareto set): the message goes under 'failure'
      metrics.update(failed=True, failure=str(acc["error"]), attempts=int(acc["attempts"]))
    metrics.update(hardware_metrics(hw, pair["hw"]))
    metrics["utilisation"] = {k: float(v) for k, v in dict(hw.get("utilisation", {})).items()}
    if "wall_s" in acc and acc["wall_s"] is not None:
      self.timings[self.model_space.hash(pair["model"])] = float(acc["wall_s"])
    return metrics

  def evaluate(self, pairs: list) -> list[dict]:
    results = []
    if hasattr(self.oracle, "prefetch"):  # backend 'ray': train the batch's new networks at once
      new = [p for p in map(self.validate, pairs) if self.key(p) not in self._cache]
      self.oracle.prefetch([p["model"] for p in new])
    for pair in pairs:
      pair = self.validate(pair)
      k = self.key(pair)
      if k not in self._cache:
        metrics = self._evaluate_one(pair)
        self._cache[k] = metrics
        if self.cache_path is not None:
          with open(self.cache_path, "a") as f:
            f.write(json.dumps({"salt": self.salt, "key": k, "metrics": metrics}) + "\n")
      results.append(json.loads(json.dumps(self._cache[k])))
      if self.callback is not None:
        self.callback(k, results[-1])
    return results


def make_oracle(cfg, model_space):
  """The accuracy oracle of ``cfg.oracle``: real training (TrainingOracle) or a measured table.

  Raises:
    ConfigError / DataError: invalid dataset (keys, shapes), table or training fields, checked
      before any training.
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


# ------------------------------------------------------------------------------------------------
# Nested co-design and the one-sided baselines
# ------------------------------------------------------------------------------------------------
class NestedAcceleratorEvaluator:
  """Evaluator over networks for nested co-design: each network gets its best accelerator.

  The accelerator is the argmax of the experiment objective (accuracy held at 0, since it does not
  depend on the accelerator; the ``fits`` constraint included) over a fixed candidate set ``hws``.
  The candidates are validated and converted to arrays ONCE (:meth:`HardwareHalf.prepare`); scoring
  a network on all of them is one vectorised accelerator-model call plus one vectorised
  scalarisation. Only the chosen pair is then evaluated (trained) through the :class:`PairEvaluator`,
  so the budget counts trainings. Ties go to the first candidate (``np.argmax``).
  """

  def __init__(self, pair_eval: PairEvaluator, objective, hws: Sequence):
    self.pair_eval, self.objective, self.hws = pair_eval, objective, list(hws)
    self.prepared = pair_eval.hardware_half.prepare(self.hws)
    self._best: dict[str, Any] = {}
    self.name = "nested_codesign"

  def scores(self, model) -> np.ndarray:
    """float[n]: objective of ``model`` on every candidate (accuracy term 0)."""
    from jaxcodesign.search import objectives as obj_lib
    model = self.pair_eval.model_space.validate(model)
    metrics = dict(self.pair_eval.hardware_half.simulate_prepared(model, self.prepared))
    metrics["accuracy"] = np.zeros(len(self.hws))
    for flag in ("fits", "fits_reticle"):
      if flag in metrics:
        metrics[flag] = np.asarray(metrics[flag], np.float32)
    return np.asarray(obj_lib.scalarise(metrics, self.objective))

  def best_accelerator(self, model):
    """The candidate accelerator of highest objective for ``model`` (cached per network)."""
    key = self.pair_eval.model_space.hash(model)
    if key not in self._best:
      self._best[key] = self.hws[int(np.argmax(self.scores(model)))]
    return self._best[key]

  def pair(self, model):
    return {"model": model, "hw": self.best_accelerator(model)}

  def evaluate(self, models: list) -> list[dict]:
    return self.pair_eval.evaluate([self.pair(m) for m in models])


class FixedHalf:
  """Evaluator over one half of a pair, the other half fixed (the one-sided baselines)."""

  def __init__(self, pair_eval: PairEvaluator, fixed_model=None, fixed_hw=None):
    if (fixed_model is None) == (fixed_hw is None):
      raise ConfigError("FixedHalf: give exactly one of fixed_model and fixed_hw")
    self.pair_eval, self.fixed_model, self.fixed_hw = pair_eval, fixed_model, fixed_hw
    self.name = "fixed_network" if fixed_model is not None else "fixed_accelerator"

  def pair(self, p):
    if self.fixed_model is not None:
      return {"model": self.fixed_model, "hw": p}
    return {"model": p, "hw": self.fixed_hw}

  def evaluate(self, points: list) -> list[dict]:
    return self.pair_eval.evaluate([self.pair(p) for p in points])
