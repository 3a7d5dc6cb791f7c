"""ProTran profiler for the machine it runs on: latency, energy and peak power of FlexiBERT 2.0 models.

Source: EdgeTran / ProTran (Tuli & Jha, IEEE TMC 2024, section 3.2): each model is built from its
model dict, run on the device for several batches after a warm-up, latency amortised per sequence;
energy and peak power from the device's power sensor; an active-learning loop picks the next model
to profile from the surrogate's uncertainty so that few measurements cover the space.

Here:

* Latency (always): wall-clock ``time.perf_counter`` of a jitted Flax inference
  (:class:`jaxcodesign.models.flexibert.FlexiBERT`, token ids ``int32[batch, seq_len]``, vocabulary
  30522, mean pooling, 2 classes) with ``jax.block_until_ready``; the first ``warmup`` calls (the
  compilation among them) are excluded; ``runs`` timed calls; ``latency_s_per_seq`` = median
  time / batch (the median resists a busy machine), every run kept in ``latency_runs_s``.
* Energy and peak power, only where a sensor is readable, else ``None`` (never invented):
  Intel/AMD RAPL package counters (``/sys/class/powercap/intel-rapl:<n>/energy_uj``, top-level
  zones, wrap-around corrected with ``max_energy_range_uj``) or NVIDIA NVML total energy
  (``nvmlDeviceGetTotalEnergyConsumption``, mJ, through ``ctypes`` on ``libnvidia-ml.so.1``).
  Energy per sequence = counter difference over the timed runs / (runs x batch); peak power = the
  largest counter difference over a sampling window (``sample_interval_s``, a background thread)
  divided by the window. Both are whole-package (RAPL) or whole-board (NVML) figures, including
  whatever else runs on the machine (as the original's board power meters did).
* Rows in the measurements format (``../shared/fixtures/protran/measurements.jsonl``) under a new
  ``device`` name, so they can be appended to the 7 measured devices' rows
  (:func:`jaxcodesign.surrogates.devices.read_rows` accepts them).
* Active learning (:func:`profile_device`): a fixed candidate pool sampled from the space (from the
  key: the same pool on resume); the first ``n_init`` picks spread over the pool's MACs (smallest,
  largest, median, ...), then each next model is the candidate with the largest predicted std of
  log latency on this device by the device surrogate fitted on the reference rows + the rows so far
  (the device embedding lets the new device borrow from the others). Rows are appended and flushed
  one at a time, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import ctypes
import dataclasses
import glob
import json
import os
import pathlib
import statistics
import threading
import time
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodesign.errors import ConfigError, DataError

__all__ = ["RaplMeter", "NvmlMeter", "detect_meter", "measure_model", "profile_device",
           "read_device_rows"]

VOCAB_SIZE = 30522


# ---- energy meters --------------------------------------------------------------------------------

class RaplMeter:
  """Cumulative package energy (J) from Linux RAPL powercap counters (top-level zones summed).

  Raises:
    OSError: when no readable ``energy_uj`` counter exists (use :func:`detect_meter`)."""
  name = "rapl"

  def __init__(self, root: str = "/sys/class/powercap"):
    zones = sorted(p for p in glob.glob(os.path.join(root, "intel-rapl:*"))
                   if os.path.basename(p).count(":") == 1)
    self._zones = []
    for z in zones:
      try:
        with open(os.path.join(z, "energy_uj")) as fh:
          int(fh.read())
        rng = 2 ** 32
        try:
          with open(os.path.join(z, "max_energy_range_uj")) as fh:
            rng = int(fh.read())
        except OSError:
          pass
        self._zones.append((os.path.join(z, "energy_uj"), rng))
      except (OSError, ValueError):
        continue
    if not self._zones:
      raise OSError(f"no readable RAPL energy counter under {root}")
    self._last = [self._raw(p) for p, _ in self._zones]
    self._total = 0.0
    self._lock = threading.Lock()

  @staticmethod
  def _raw(path):
    with open(path) as fh:
      return int(fh.read())

  def read_energy_j(self) -> float:
    """Energy (J) since construction, wrap-around corrected; thread-safe."""
    with self._lock:
      for i, (p, rng) in enumerate(self._zones):
        v = self._raw(p)
        d = v - self._last[i]
        if d < 0:
          d += rng
        self._total += d * 1e-6
        self._last[i] = v
      return self._total


class NvmlMeter:
  """Cumulative GPU energy (J) from NVML ``nvmlDeviceGetTotalEnergyConsumption`` (Volta or newer),
  summed over all GPUs, via ``ctypes`` (no Python binding needed).

  Raises:
    OSError: library missing, no GPU, or the counter not supported."""
  name = "nvml"

  def __init__(self):
    lib = ctypes.CDLL("libnvidia-ml.so.1")
    if lib.nvmlInit_v2() != 0:
      raise OSError("nvmlInit failed")
    n = ctypes.c_uint(0)
    if lib.nvmlDeviceGetCount_v2(ctypes.byref(n)) != 0 or n.value == 0:
      raise OSError("no NVML device")
    self._lib = lib
    self._handles = []
    for i in range(n.value):
      h = ctypes.c_void_p()
      if lib.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(h)) == 0:
        self._handles.append(h)
    self._start = self._raw()

  def _raw(self) -> float:
    total = 0
    for h in self._handles:
      e = ctypes.c_ulonglong(0)
      if self._lib.nvmlDeviceGetTotalEnergyConsumption(h, ctypes.byref(e)) != 0:
        raise OSError("nvmlDeviceGetTotalEnergyConsumption not supported")
      total += e.value
    return total * 1e-3  # mJ -> J

  def read_energy_j(self) -> float:
    return self._raw() - self._start


def detect_meter(prefer: str = "auto"):
  """The first readable energy meter: ``'rapl'``, ``'nvml'``, ``'none'`` or ``'auto'`` (NVML when
  JAX runs on a GPU, else RAPL); None when none is readable (energy / power then unavailable).

  Raises:
    ConfigError: unknown ``prefer``.
  """
  if prefer not in ("auto", "rapl", "nvml", "none"):
    raise ConfigError(f"invalid value for field 'meter': {prefer!r}; allowed: auto, rapl, nvml, none")
  if prefer == "none":
    return None
  order = {"rapl": [RaplMeter], "nvml": [NvmlMeter]}.get(prefer)
  if order is None:
    gpu = jax.default_backend() == "gpu"
    order = [NvmlMeter, RaplMeter] if gpu else [RaplMeter]
  for cls in order:
    try:
      return cls()
    except OSError:
      continue
  return None


class _Sampler:
  """Background thread sampling a meter; peak power = max energy difference / window."""

  def __init__(self, meter, interval_s: float):
    self.meter, self.interval = meter, interval_s
    self.samples: list[tuple[float, float]] = []
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._loop, daemon=True)

  def _loop(self):
    while not self._stop.is_set():
      self.samples.append((time.perf_counter(), self.meter.read_energy_j()))
      self._stop.wait(self.interval)

  def __enter__(self):
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._stop.set()
    self._thread.join()
    self.samples.append((time.perf_counter(), self.meter.read_energy_j()))

  def peak_power_w(self) -> float | None:
    best = None
    s = self.samples
    for (t0, e0), (t1, e1) in zip(s[:-1], s[1:]):
      if t1 - t0 >= 0.5 * self.interval:
        p = (e1 - e0) / (t1 - t0)
        best = p if best is None else max(best, p)
    return best


# ---- measurement ----------------------------------------------------------------------------------

def _inference_fn(model_dict, seq_len: int):
  from jaxcodesign.models.flexibert import FlexiBERT
  model = FlexiBERT(model_dict, num_classes=2, max_len=seq_len, vocab_size=VOCAB_SIZE)
  return model, jax.jit(lambda v, x: model.apply(v, x))


def measure_model(model_dict: Mapping[str, Any], *, batch_size: int = 1, seq_len: int = 128,
                  runs: int = 5, warmup: int = 2, key=None, meter=None,
                  sample_interval_s: float = 0.02) -> dict:
  """Measures one model on this machine.

  Args:
    model_dict: FlexiBERT 2.0 hetero dict (validated by the ``flexibert2`` space).
    batch_size: sequences per call; seq_len: tokens per sequence (128 as the measurements).
    runs: timed calls (>= 1); warmup: untimed calls first (>= 1: the first compiles).
    key: ``jax.random.key`` for the weights and token ids (default key 0).
    meter: an energy meter (:func:`detect_meter`) or None (energy / power then None).
    sample_interval_s: power sampling window (s).

  Returns:
    dict: ``latency_s_per_seq`` (s, median over runs / batch), ``latency_runs_s`` (s per call),
    ``energy_j_per_seq`` (J) and ``peak_power_w`` (W) or None, ``energy_source`` (meter name or
    None), ``batch_size``, ``runs``, ``seq_len``, ``compile_s`` (first call, s).

  Raises:
    SpaceError: invalid model dict; ConfigError: runs / warmup / batch / seq_len < 1.
  """
  from jaxcodesign.surrogates.devices import _space
  for f, v in (("batch_size", batch_size), ("seq_len", seq_len), ("runs", runs), ("warmup", warmup)):
    if int(v) < 1:
      raise ConfigError(f"invalid value for field {f!r}: {v!r}; allowed: an integer >= 1")
  md = _space().validate(model_dict)
  key = jax.random.key(0) if key is None else key
  k_init, k_x = jax.random.split(key)
  model, fn = _inference_fn(md, seq_len)
  x = jax.random.randint(k_x, (batch_size, seq_len), 0, VOCAB_SIZE, dtype=jnp.int32)
  variables = jax.jit(model.init)(k_init, x[:1])
  t0 = time.perf_counter()
  jax.block_until_ready(fn(variables, x))
  compile_s = time.perf_counter() - t0
  for _ in range(warmup - 1):
    jax.block_until_ready(fn(variables, x))
  times = []
  energy = peak = None
  if meter is not None:
    e0 = meter.read_energy_j()
    with _Sampler(meter, sample_interval_s) as sampler:
      for _ in range(runs):
        t = time.perf_counter()
        jax.block_until_ready(fn(variables, x))
        times.append(time.perf_counter() - t)
    e1 = meter.read_energy_j()
    energy = (e1 - e0) / (runs * batch_size)
    peak = sampler.peak_power_w()
    if energy <= 0:  # counter did not advance (too coarse for this run): unavailable, not zero
      energy = None
  else:
    for _ in range(runs):
      t = time.perf_counter()
      jax.block_until_ready(fn(variables, x))
      times.append(time.perf_counter() - t)
  return {"latency_s_per_seq": statistics.median(times) / batch_size, "latency_runs_s": times,
          "energy_j_per_seq": energy, "peak_power_w": peak,
          "energy_source": None if meter is None else meter.name, "batch_size": int(batch_size),
          "runs": int(runs), "seq_len": int(seq_len), "compile_s": compile_s}


def make_row(device_name: str, model_dict, measured: dict) -> dict:
  """A measurements-format row (``device, batch_size, runs, hash, model_dict, embedding`` and the
  three targets) plus the profiler's extra fields."""
  from jaxcodesign.surrogates.devices import _space
  sp = _space()
  md = sp.validate(model_dict)
  return {"device": device_name, "batch_size": measured["batch_size"], "runs": measured["runs"],
          "hash": sp.hash(md), "model_dict": md, "embedding": [int(v) for v in sp.encode(md)],
          "latency_s_per_seq": measured["latency_s_per_seq"],
          "energy_j_per_seq": measured["energy_j_per_seq"], "peak_power_w": measured["peak_power_w"],
          "latency_runs_s": measured["latency_runs_s"], "energy_source": measured["energy_source"],
          "seq_len": measured["seq_len"]}


def read_device_rows(path, device_name: str) -> list[dict]:
  """Rows of ``device_name`` already in ``path`` (for resuming); [] when the file does not exist.
  A truncated last line (an interrupted write) is ignored; any other bad line raises DataError."""
  path = pathlib.Path(path)
  if not path.exists():
    return []
  rows = []
  lines = path.read_text().splitlines()
  for i, line in enumerate(lines, 1):
    if not line.strip():
      continue
    try:
      r = json.loads(line)
    except json.JSONDecodeError as e:
      if i == len(lines):
        break
      raise DataError(f"{path}:{i}: not valid JSON ({e.msg})") from e
    if r.get("device") == device_name:
      rows.append(r)
  return rows


@dataclasses.dataclass(frozen=True)
class ProfileConfig:
  """Settings of :func:`profile_device`.

  Attributes:
    budget: total rows of this device to reach (resumed rows count).
    n_candidates: size of the candidate pool sampled from the space.
    n_init: picks spread over the pool's MACs before the surrogate is used.
    batch_size, seq_len, runs, warmup: :func:`measure_model` settings.
    surrogate: keyword arguments of :class:`~jaxcodesign.surrogates.devices.DeviceSurrogateConfig`
      for the active-learning fits (default: a cheap configuration, 4 members x 400 steps, 100
      trees, 100 AdaBoost estimators).
  """
  budget: int = 10
  n_candidates: int = 64
  n_init: int = 3
  batch_size: int = 1
  seq_len: int = 128
  runs: int = 5
  warmup: int = 2
  surrogate: tuple = (("n_members", 4), ("steps", 400), ("n_trees", 100), ("n_ada", 100))

  def __post_init__(self):
    for f in ("budget", "n_candidates", "n_init", "batch_size", "seq_len", "runs", "warmup"):
      if int(getattr(self, f)) < 1:
        raise ConfigError(f"invalid value for field {f!r}: {getattr(self, f)!r}; allowed: >= 1")


def _spread_order(macs: np.ndarray) -> list[int]:
  """Indices ordered smallest, largest, median, then quartiles ...: a spread over MACs."""
  order = np.argsort(macs)
  n = len(order)
  picks, fracs = [], [0.0, 1.0, 0.5, 0.25, 0.75, 0.125, 0.375, 0.625, 0.875]
  for f in fracs:
    i = int(order[int(round(f * (n - 1)))])
    if i not in picks:
      picks.append(i)
  return picks + [int(i) for i in order if int(i) not in picks]


def profile_device(key, device_name: str, output, config: ProfileConfig | None = None, *,
                   space=None, reference_rows: Sequence[Mapping] = (), meter=None,
                   measure: Callable[..., dict] = measure_model, log=print) -> list[dict]:
  """Profiles models on this machine with active learning until ``config.budget`` rows exist.

  Args:
    key: ``jax.random.key`` (candidate pool, surrogate fits, weights).
    device_name: the new device's name (must not be one of the reference rows' devices).
    output: JSON-lines path; rows of ``device_name`` already there are resumed, new ones appended
      (flushed and fsynced one by one).
    config: :class:`ProfileConfig`.
    space: the FlexiBERT 2.0 space (or a restriction, e.g. ``get_space('flexibert2', layers=(2,
      4))``) to sample candidates from; default the full space.
    reference_rows: validated rows of other devices (e.g. the 7 measured devices) that the
      surrogate borrows from.
    meter: energy meter or None (see :func:`detect_meter`).
    measure: the measurement function (:func:`measure_model`).
    log: progress printer.

  Returns:
    All rows of ``device_name`` in ``output`` (resumed + new), in order.

  Raises:
    ConfigError: a device name clashing with the reference devices, or an empty name.
  """
  from jaxcodesign.spaces import get_space
  from jaxcodesign.surrogates import devices as dv
  config = config or ProfileConfig()
  if not device_name or not isinstance(device_name, str):
    raise ConfigError(f"invalid value for field 'device_name': {device_name!r}; allowed: a name")
  ref_devices = sorted({r["device"] for r in reference_rows})
  if device_name in ref_devices:
    raise ConfigError(f"invalid value for field 'device_name': {device_name!r} is already a "
                      f"measured device ({ref_devices}); choose a new name")
  space = space or get_space("flexibert2")
  output = pathlib.Path(output)
  own = read_device_rows(output, device_name)
  for r in own:  # resumed rows must have been measured with the same settings
    if r.get("seq_len", config.seq_len) != config.seq_len or r.get("batch_size") != config.batch_size:
      raise ConfigError(f"{output}: rows of {device_name!r} were measured with seq_len "
                        f"{r.get('seq_len')} / batch {r.get('batch_size')}, not {config.seq_len} / "
                        f"{config.batch_size}; use another --device_name or the same settings")
  k_pool, k_loop = jax.random.split(key)
  pool = [space.validate(p) for p in space.sample(k_pool, config.n_candidates)]
  pool_hash = [dv._space().hash(p) for p in pool]
  x_pool = dv.features_batch(pool)
  macs = x_pool[:, dv.FEATURE_NAMES.index("log_macs")]
  spread = _spread_order(macs)
  done = {r["hash"] for r in own}
  sur_cfg = dv.DeviceSurrogateConfig(**dict(config.surrogate))
  ref = [dv.validate_row(r, "reference", True) for r in reference_rows]
  step = 0
  while len(own) < config.budget:
    free = [i for i in range(len(pool)) if pool_hash[i] not in done]
    if not free:
      log(f"candidate pool exhausted after {len(own)} rows")
      break
    if len(own) < config.n_init or not own:
      pick = next(i for i in spread if i in free)
      why = "spread over MACs"
    else:
      train = ref + [dv.validate_row(r, f"{output}", True) for r in own]
      sur = dv.fit_device_surrogate(jax.random.fold_in(k_loop, len(own)), train, sur_cfg)
      _, std = dv.predict_log(sur, x_pool[free], [device_name] * len(free),
                              dv.embeddings_batch([pool[i] for i in free]))
      pick = free[int(np.argmax(std[:, 0]))]
      why = f"max predicted std of log latency {float(np.max(std[:, 0])):.3f}"
    m = measure(pool[pick], batch_size=config.batch_size, seq_len=config.seq_len, runs=config.runs,
                warmup=config.warmup, key=jax.random.fold_in(k_loop, 10_000 + len(own)), meter=meter)
    row = make_row(device_name, pool[pick], m)
    with open(output, "a") as fh:
      fh.write(json.dumps(row) + "\n")
      fh.flush()
      os.fsync(fh.fileno())
    own.append(row)
    done.add(row["hash"])
    step += 1
    log(f"[{len(own)}/{config.budget}] {row['hash'][:8]} ({why}): "
        f"{row['latency_s_per_seq'] * 1e3:.2f} ms/seq, energy "
        + ("unavailable" if row["energy_j_per_seq"] is None else f"{row['energy_j_per_seq']:.3g} J/seq")
        + ", peak power "
        + ("unavailable" if row["peak_power_w"] is None else f"{row['peak_power_w']:.1f} W"))
  return own
