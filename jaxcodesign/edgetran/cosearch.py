"""Device-aware co-search (EdgeTran): the ``'devices'`` hardware half of ``launch.codesign``.

Source: Tuli & Jha, "EdgeTran: Device-Aware Co-Search of Transformers for Efficient Inference on
Mobile Edge Platforms", IEEE TMC 2024 (section 4: BOSHCODE over (transformer, edge device) pairs
with latency, energy and peak power from the ProTran surrogates).

Here the "accelerator" of a co-design pair is one of the profiled edge devices, ``{"device":
name}``, and its metrics are the device surrogate's predictions
(:func:`jaxcodesign.surrogates.devices.fit_device_surrogate`, fitted once per experiment on the
measurement rows ``hw_space_kwargs.measurements``) at the measured sequence length, 128 tokens:

* ``latency_per_inference_s`` (s/sequence), ``energy_per_inference_j`` (J/sequence),
  ``peak_power_w`` (W): exp of the predicted mean log (the log-normal median), and ``*_std`` the
  log-normal predictive std;
* ``latency_s`` / ``energy_j``: per batch, times the device's measured batch size
  (:data:`jaxcodesign.surrogates.devices.KNOWN_DEVICES`; 1 for an unknown device);
  ``avg_power_w = energy_j / latency_s``; ``throughput_per_s = batch / latency_s``;
* ``fits``: the deployment constraints, on the upper confidence bound ``mean + k * std`` (``k =
  hw_space_kwargs.k_std``): ``latency UCB <= latency_budget_s`` and ``peak power UCB <=
  power_budget_w`` (either may be ``inf``). A pair that violates them is penalised by the
  experiment's constrained objective like a network that does not fit an accelerator.

There is no area: a device is bought, not synthesised, so the Pareto set of a devices experiment is
over (error, latency per inference, energy per inference, peak power) (:attr:`DevicesHalf.
pareto_metrics`), and results carry one Pareto set per device.

The network space must lie inside the measured range (layers, hidden sizes, heads, FF widths of the
measurement rows): the surrogate would extrapolate otherwise, and the factory refuses it.

``hw_space_kwargs`` of a devices experiment (all in the result-cache salt and the work-directory
fingerprint, the measurement file by content):

* ``measurements``: path of the rows (``model_dict``, ``device``, ``latency_s_per_seq``,
  ``energy_j_per_seq``, ``peak_power_w``); ``""`` = the ProTran measurements of the original work
  (``<fixtures>/protran/measurements.jsonl``, see :mod:`jaxcodesign.paths`), or rows of your own
  device from ``python -m launch.profile_device``;
* ``devices``: the device names searched (default: every device of the rows);
* ``latency_budget_s``, ``power_budget_w``, ``k_std``: the constraints above;
* ``surrogate``: overrides of :class:`~jaxcodesign.surrogates.devices.DeviceSurrogateConfig`
  (default: the configuration measured best in ``benchmarks/edgetran_surrogates.py``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from jaxcodesign.codesign.evaluators import HardwareHalf
from jaxcodesign.errors import ConfigError, DataError

__all__ = ["SEQ_LEN", "PARETO_METRICS", "DevicesHalf", "make_devices_half", "measurements_path",
           "measured_range"]

#: Sequence length of the ProTran measurements (tokens); the device surrogates predict there.
SEQ_LEN = 128
#: Pareto metrics of a devices experiment (all minimised).
PARETO_METRICS = ("error", "latency_per_inference_s", "energy_per_inference_j", "peak_power_w")
PARETO_LABELS = ("validation error", "latency per sequence (s)", "energy per sequence (J)",
                 "peak power (W)")
_KWARGS = ("measurements", "devices", "latency_budget_s", "power_budget_w", "k_std", "surrogate")


def measurements_path(value: str):
  """The measurement file of ``hw_space_kwargs.measurements`` (``""``: the ProTran fixture).

  Raises:
    ConfigError: the file does not exist (the message says how to produce rows of your own).
  """
  import pathlib
  from jaxcodesign import paths
  p = pathlib.Path(value) if value else paths.fixtures_dir() / "protran" / "measurements.jsonl"
  if not p.is_file():
    raise ConfigError(
        f"invalid value for field 'hw_space_kwargs.measurements': {str(p)!r} not found; allowed: a "
        "JSON-lines file of device measurements (profile your own machine with python -m "
        "launch.profile_device, or set JAXCODESIGN_FIXTURES to the shared fixtures for ProTran's)")
  return p


def measured_range(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[int]]:
  """Values seen in the measured model dicts: ``{"layers": [min, max], "hidden": [...], "heads":
  [...], "ff_widths": [...], "ff_depths": [...]}`` (sorted distinct values, layers as a range)."""
  layers, hidden, heads, widths, depths = [], set(), set(), set(), set()
  for r in rows:
    md = r["model_dict"]
    L = int(md["l"])
    layers.append(L)
    hidden.update(int(h) for h in md["h"][:L])
    heads.update(len(o) for o in md["o"][:L])
    for f in md["f"][:L]:
      depths.add(len(f))
      widths.update(int(w) for w in f)
  return {"layers": [min(layers), max(layers)], "hidden": sorted(hidden), "heads": sorted(heads),
          "ff_widths": sorted(widths), "ff_depths": sorted(depths)}


def _check_in_range(model_space, rng: dict) -> None:
  params = model_space.describe().get("parameters", {})
  lo, hi = rng["layers"]
  bad = [f"layers {v}" for v in params.get("layers", []) if not lo <= v <= hi]
  for field in ("hidden", "heads", "ff_widths", "ff_depths"):
    bad += [f"{field} {v}" for v in params.get(field, []) if v not in rng[field]]
  if bad:
    raise ConfigError(
        f"invalid value for field 'model_space_kwargs': {', '.join(bad)} outside the measured range "
        f"of the device measurements (layers {lo}-{hi}, hidden {rng['hidden']}, heads {rng['heads']}, "
        f"ff_widths {rng['ff_widths']}, ff_depths {rng['ff_depths']}): the device surrogates would "
        "extrapolate; restrict the network space to measured values")


class DevicesHalf(HardwareHalf):
  """Hardware half whose configs are edge devices, ``{"device": name}``, scored by a fitted device
  surrogate (see the module docstring for the metrics, units and constraints).

  Attributes (beyond :class:`~jaxcodesign.codesign.evaluators.HardwareHalf`): ``surrogate`` (the
  fitted :class:`~jaxcodesign.surrogates.devices.DeviceSurrogate`), ``devices`` (names searched),
  ``latency_budget_s``, ``power_budget_w``, ``k_std``, ``pareto_metrics`` / ``pareto_labels``,
  ``group_key = "device"`` (results carry one Pareto set per device).
  """

  pareto_metrics = PARETO_METRICS
  pareto_labels = PARETO_LABELS
  group_key = "device"

  def __init__(self, surrogate, devices: Sequence[str], latency_budget_s: float,
               power_budget_w: float, k_std: float, model_space):
    from jaxcodesign.spaces.generic import CategoricalSpace
    from jaxcodesign.surrogates import devices as dev_lib
    self.surrogate, self.devices = surrogate, tuple(devices)
    self.latency_budget_s, self.power_budget_w, self.k_std = (
        float(latency_budget_s), float(power_budget_w), float(k_std))
    self._model_space = model_space
    self._batch = {d: int(dev_lib.KNOWN_DEVICES.get(d, {}).get("batch_size", 1)) for d in devices}
    space = CategoricalSpace([{"device": d} for d in self.devices])
    space.name = "devices"
    super().__init__("devices", space, self._simulate_configs, {d: {"device": d} for d in devices},
                     "devices", {})
    self._pred: dict[str, np.ndarray] = {}  # model hash -> float64[n_devices, 6] (mean, std)

  def probe_configs(self) -> list:
    """Every device (the fits check of :func:`jaxcodesign.codesign.run.build_experiment`)."""
    return list(self.space.choices)

  def _predict(self, model) -> np.ndarray:
    """float64[n_devices, 6]: (latency s, energy J, peak W) medians then their stds, per device."""
    from jaxcodesign.surrogates import devices as dev_lib
    key = self._model_space.hash(model)
    if key not in self._pred:
      rows = dev_lib.predict_rows(self.surrogate, [model] * len(self.devices), list(self.devices))
      vals = [[r[t] for t in dev_lib.TARGETS] + [r[t + "_std"] for t in dev_lib.TARGETS]
              for r in rows]
      arr = np.asarray([[np.nan if v is None else v for v in row] for row in vals], np.float64)
      if not np.all(np.isfinite(arr)):
        raise DataError("device surrogate returned no prediction for some target of "
                        f"{list(self.devices)} (a device without rows of that target)")
      self._pred[key] = arr
    return self._pred[key]

  def _arrays(self, model, idx: np.ndarray) -> dict[str, np.ndarray]:
    p = self._predict(model)[idx]
    lat, en, pk, lat_sd, en_sd, pk_sd = p.T
    batch = np.asarray([self._batch[self.devices[i]] for i in idx], np.float64)
    lat_ucb, pk_ucb = lat + self.k_std * lat_sd, pk + self.k_std * pk_sd
    fits = (lat_ucb <= self.latency_budget_s) & (pk_ucb <= self.power_budget_w)
    return {"latency_per_inference_s": lat, "energy_per_inference_j": en, "peak_power_w": pk,
            "latency_per_inference_s_std": lat_sd, "energy_per_inference_j_std": en_sd,
            "peak_power_w_std": pk_sd, "latency_ucb_s": lat_ucb, "peak_power_ucb_w": pk_ucb,
            "latency_s": lat * batch, "energy_j": en * batch, "avg_power_w": en / lat,
            "throughput_per_s": 1.0 / lat, "batch_size": batch, "fits": fits}

  def _index(self, hws: Sequence) -> np.ndarray:
    return np.asarray([self.devices.index(self.space.validate(h)["device"]) for h in hws], np.int64)

  def _simulate_configs(self, model, hws: Sequence) -> list[dict]:
    arr = self._arrays(model, self._index(hws))
    return [{k: (bool(v[i]) if k == "fits" else float(v[i])) for k, v in arr.items()}
            for i in range(len(hws))]

  def prepare(self, hws: Sequence):
    return self._index(list(hws))

  def simulate_prepared(self, model, prepared) -> dict[str, np.ndarray]:
    return self._arrays(self._model_space.validate(model), np.asarray(prepared))


def make_devices_half(cfg, model_space) -> DevicesHalf:
  """The ``'devices'`` hardware half of ``cfg`` (fits the device surrogate on the measurements).

  Raises:
    ConfigError: a network space other than FlexiBERT 2.0 or outside the measured range,
      ``hw.seq_len`` other than 128, a non-zero ``hw`` sparsity (``hw.vocab_size`` is not used: the
      surrogate's workload features use BERT's vocabulary), unknown ``hw_space_kwargs`` fields or devices, a non-positive
      budget or a negative ``k_std``, a missing measurement file.
    DataError: a malformed measurement row (file:line named).
  """
  import jax
  from jaxcodesign.surrogates import devices as dev_lib
  if cfg.model_space != "flexibert2":
    raise ConfigError(f"invalid value for field 'model_space': {cfg.model_space!r} with hw_space "
                      "'devices'; allowed: ['flexibert2'] (the measured networks)")
  if int(cfg.hw.seq_len) != SEQ_LEN:
    raise ConfigError(f"invalid value for field 'hw.seq_len': {cfg.hw.seq_len} with hw_space "
                      f"'devices'; allowed: [{SEQ_LEN}] (the sequence length of the measurements)")
  if float(cfg.hw.activation_sparsity) or float(cfg.hw.weight_sparsity):
    raise ConfigError("invalid value for fields 'hw.activation_sparsity' / 'hw.weight_sparsity' "
                      "with hw_space 'devices': allowed: 0 (the measured models ran dense)")
  kw = cfg.hw_space_kwargs.to_dict()
  unknown = sorted(set(kw) - set(_KWARGS))
  if unknown:
    raise ConfigError(f"invalid field(s) hw_space_kwargs.{unknown} for hw_space 'devices'; "
                      f"allowed: {list(_KWARGS)}")
  rows = dev_lib.read_rows(measurements_path(kw.get("measurements", "")), need_targets=True)
  seen = sorted({r["device"] for r in rows})
  devices = list(kw.get("devices") or seen)
  missing = [d for d in devices if d not in seen]
  if missing:
    raise ConfigError(f"invalid value for field 'hw_space_kwargs.devices': {missing} have no "
                      f"measurement rows; allowed: {seen}")
  for d in devices:
    for t in dev_lib.TARGETS:
      if not any(r["device"] == d and r[t] is not None for r in rows):
        raise ConfigError(f"device {d!r} has no measured {t}: drop it from "
                          "hw_space_kwargs.devices")
  lat_b = float(kw.get("latency_budget_s", math.inf))
  pow_b = float(kw.get("power_budget_w", math.inf))
  k_std = float(kw.get("k_std", 1.0))
  for name, v in (("latency_budget_s", lat_b), ("power_budget_w", pow_b)):
    if not v > 0:
      raise ConfigError(f"invalid value for field 'hw_space_kwargs.{name}': {v}; allowed: > 0 "
                        "(inf = no constraint)")
  if not (k_std >= 0 and math.isfinite(k_std)):
    raise ConfigError(f"invalid value for field 'hw_space_kwargs.k_std': {k_std}; allowed: >= 0")
  _check_in_range(model_space, measured_range(rows))
  try:
    scfg = dev_lib.DeviceSurrogateConfig(**dict(kw.get("surrogate") or {}))
  except TypeError as e:
    raise ConfigError(f"invalid field in hw_space_kwargs.surrogate: {e}; allowed: the fields of "
                      "DeviceSurrogateConfig") from None
  key = jax.random.fold_in(jax.random.key(int(cfg.seed)), 4242)
  sur = dev_lib.fit_device_surrogate(key, rows, scfg)
  return DevicesHalf(sur, devices, lat_b, pow_b, k_std, model_space)
