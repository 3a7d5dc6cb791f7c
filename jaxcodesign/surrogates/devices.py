"""Device surrogates (EdgeTran / ProTran): latency, energy and peak power of a FlexiBERT 2.0 model on
an edge device, one model conditioned on the device.

Source: Tuli & Jha, "EdgeTran: Device-Aware Co-Search of Transformers for Efficient Inference on
Mobile Edge Platforms", IEEE TMC 2024 (ProTran measurements, section 3; the original regressor is
AdaBoost over decision trees, 500 estimators, on the 37-integer embedding, one per device and target).

Data format (one row per (model, device), ``../shared/fixtures/protran/measurements.jsonl``):
``model_dict`` (FlexiBERT 2.0 hetero dict), ``device`` (a name), ``latency_s_per_seq`` (s per
sequence, amortised over the device's batch), ``energy_j_per_seq`` (J per sequence) and
``peak_power_w`` (W); energy / power may be ``null`` where the device had no readable sensor.

Model (what this module fits, :func:`fit_device_surrogate`):

* Inputs: :func:`workload_features` of the model dict at sequence length 128 (log MACs, log bytes of
  weights and activations, per-op-kind MACs / traffic / counts from
  :func:`jaxcodesign.hardware.workload.lower_transformer`, layer / head / FF statistics; 48
  features), and the device.
* Targets: ``log`` of each of the three metrics, standardised PER DEVICE (each device's mean and
  std over its training rows; a device with fewer than :data:`MIN_DEVICE_ROWS` rows uses the
  pooled std), so that one network sees every device on one scale.
* Network half: a deep ensemble (``n_members``, vmapped in one jitted training loop) of MLPs on
  ``[features, device embedding]`` with a device-specific linear head (``x @ W_d``, L2-penalised:
  devices borrow the shared MLP and deviate linearly); heads output a mean and a log-variance per
  target, trained by the Gaussian negative log-likelihood (heteroscedastic), missing targets masked.
  Members differ by init and Poisson(1) bootstrap weights.
* Tree half: an ``sklearn`` ExtraTrees ensemble per target on ``[features, device one-hot]``
  (standardised per-device log targets, ``min_samples_leaf`` 3); its variance is the spread over
  trees plus a noise variance per device and target: the mean squared out-of-fold residual of a
  ``cv_folds``-fold cross-fit on the training rows (pooled over devices with fewer than
  :data:`MIN_DEVICE_ROWS` rows).
* AdaBoost member: AdaBoost(DecisionTree, 500) on the 37-integer embedding + device one-hot (the
  original's regressor, pooled over devices on the same standardised targets).
* Combination: a mixture in standardised log units with weights ``nn_weight`` (network),
  ``ada_weight`` (AdaBoost) and the rest (trees), per target: ``mean = sum_i w_i m_i``,
  ``var = sum_i w_i (v_i + m_i^2) - mean^2``; ``v_nn`` = mean aleatoric variance + variance of member
  means, ``v_ada`` = 0 (its disagreement with the others still enters through the mixture).

The point prediction in target units is ``exp(mean_log)`` (the median of the log-normal
predictive), the std the log-normal std ``exp(mean_log) * sqrt(exp(s^2) - 1)``.  All choices above were
measured against AdaBoost(DT, 500) and a random forest in ``benchmarks/edgetran_surrogates.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import pathlib
from typing import Any, Iterable, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcodesign.errors import ConfigError, DataError, SpaceError

__all__ = ["TARGETS", "KNOWN_DEVICES", "FEATURE_NAMES", "DeviceSurrogateConfig", "DeviceSurrogate",
           "workload_features", "features_batch", "embeddings_batch", "read_rows", "validate_row",
           "fit_device_surrogate", "predict_log", "predict_rows", "kendall_per_device"]

#: The three measured metrics (row fields), in output order.
TARGETS = ("latency_s_per_seq", "energy_j_per_seq", "peak_power_w")
#: Units of :data:`TARGETS`.
UNITS = {"latency_s_per_seq": "s/sequence", "energy_j_per_seq": "J/sequence", "peak_power_w": "W"}

#: The 7 devices of the ProTran measurements (fixtures README, ``protran/``) with their batch size
#: and power sensor. Other device names are allowed in training rows (e.g. a profiled machine).
KNOWN_DEVICES = {
    "gpu_a100": {"batch_size": 128, "sensor": "GPU rail (nvidia-smi)"},
    "cpu_m1-pro": {"batch_size": 32, "sensor": "SoC CPU rail (powermetrics)"},
    "gpu_m1-pro": {"batch_size": 32, "sensor": "SoC GPU rail (powermetrics)"},
    "cpu_rpi": {"batch_size": 1, "sensor": "board power"},
    "npu_ncs": {"batch_size": 1, "sensor": "board power"},
    "cpu_jetson-nano": {"batch_size": 1, "sensor": "board power"},
    "gpu_jetson-nano": {"batch_size": 1, "sensor": "board power"},
}

#: A device needs at least this many rows of a target for its own target std (else the pooled std).
MIN_DEVICE_ROWS = 5

_KINDS = ("matmul", "bmm", "transform", "conv", "softmax", "layernorm", "gelu")
_OP_TYPES = ("sa_sdp", "sa_wma", "l_dft", "l_dct", "c_5", "c_9", "c_13")

#: Names of :func:`workload_features`, in order.
FEATURE_NAMES = tuple(
    ["log_macs", "log_weight_bytes", "log_embed_bytes", "log_act_bytes", "log_param_bytes",
     "log_intensity"]
    + [f"{p}_{k}" for k in _KINDS for p in ("log_macs", "log_act_bytes", "n_ops", "n_items")]
    + ["n_ops", "layers", "heads", "hidden_mean", "hidden_first", "hidden_max", "ff_width_sum",
       "ff_depth_sum", "head_groups"]
    + [f"heads_{t}" for t in _OP_TYPES])

_BYTES = 4.0  # float32 inference (the measured PyTorch models ran in fp32)


def workload_features(model_dict: Mapping[str, Any], seq_len: int = 128) -> np.ndarray:
  """float32[len(FEATURE_NAMES)] workload features of one FlexiBERT 2.0 model dict.

  Built from :func:`jaxcodesign.hardware.workload.lower_transformer` (per sequence, batch-free):
  log total MACs, log bytes of weights (without / with the embedding table; 4 bytes per element),
  log bytes of activations read + written, log arithmetic intensity (MACs per weight+activation
  byte), per op kind (matmul, bmm, transform, conv, softmax, layernorm, gelu) log MACs, log
  activation bytes, number of ops and of items (head multiplicity), then counts: ops, layers,
  heads, hidden mean / first / max, sum of FF widths, FF depth, distinct head groups, heads per op
  type (7).

  Raises:
    SpaceError: for a model dict outside the FlexiBERT 2.0 space (validated by
      ``get_space('flexibert2')``).
  """
  from jaxcodesign.hardware import workload as wl
  from jaxcodesign.spaces.flexibert import parse_op
  md = _space().validate(model_dict)
  t = wl.lower_transformer(md, seq_len=seq_len)  # inference lowering (the default mode)
  n = t.n_ops
  kind = t.kind[:n]
  macs = t.macs[:n].astype(np.float64)
  act = (t.in_elems[:n] + t.out_elems[:n]).astype(np.float64) * _BYTES
  wts = t.weight_elems[:n].astype(np.float64) * _BYTES
  embed = float((wl.VOCAB_SIZE + seq_len) * int(md["h"][0])) * _BYTES  # (V + N) x h0 table
  w_no_embed = float(wts[kind != wl.OP_KIND_NAMES.index("embed")].sum())
  f = [math.log(macs.sum()), math.log(w_no_embed), math.log(embed), math.log(act.sum()),
       math.log(w_no_embed + embed), math.log(macs.sum() / (w_no_embed + act.sum()))]
  for k in _KINDS:
    m = kind == wl.OP_KIND_NAMES.index(k)
    f += [math.log1p(macs[m].sum()), math.log1p(act[m].sum()), float(m.sum()),
          float(t.count[:n][m].sum())]
  L = int(md["l"])
  hid = [int(h) for h in md["h"][:L]]
  kinds = [parse_op(op).kind for o in md["o"][:L] for op in o]
  f += [float(n), float(L), float(len(kinds)), float(np.mean(hid)), float(hid[0]), float(max(hid)),
        float(sum(sum(x) for x in md["f"][:L])), float(sum(len(x) for x in md["f"][:L])),
        float(sum(len(set(o)) for o in md["o"][:L]))]
  f += [float(sum(1 for k in kinds if k == t_)) for t_ in _OP_TYPES]
  return np.asarray(f, np.float32)


@functools.lru_cache(maxsize=1)
def _space():
  from jaxcodesign.spaces import get_space
  return get_space("flexibert2")


def features_batch(model_dicts: Sequence[Mapping[str, Any]], seq_len: int = 128) -> np.ndarray:
  """float32[n, len(FEATURE_NAMES)]: :func:`workload_features` of each dict (cached by hash)."""
  out = np.zeros((len(model_dicts), len(FEATURE_NAMES)), np.float32)
  cache: dict[str, np.ndarray] = {}
  for i, md in enumerate(model_dicts):
    key = json.dumps(md, sort_keys=True) + f"|{seq_len}"
    if key not in cache:
      cache[key] = workload_features(md, seq_len)
    out[i] = cache[key]
  return out


# ---- rows -----------------------------------------------------------------------------------------

def validate_row(row: Any, where: str, need_targets: bool) -> dict:
  """Checks one measurements-format row; returns ``{"model_dict", "device", targets...}``.

  Args:
    row: a decoded JSON object.
    where: ``file:line`` for messages.
    need_targets: training rows need ``latency_s_per_seq`` (> 0); energy / power may be null or
      absent (a device without a sensor) but, when given, must be > 0.

  Raises:
    DataError: naming ``where`` and the field, for a non-object row, a missing / non-string device,
      a missing model dict, or a non-positive / non-numeric target.
    SpaceError: (re-raised with ``where``) for a model dict outside FlexiBERT 2.0.
  """
  if not isinstance(row, Mapping):
    raise DataError(f"{where}: a row must be a JSON object, got {type(row).__name__}")
  for k in ("model_dict", "device"):
    if k not in row:
      raise DataError(f"{where}: missing field {k!r} (rows need model_dict, device"
                      + (", " + ", ".join(TARGETS) if need_targets else "") + ")")
  dev = row["device"]
  if not isinstance(dev, str) or not dev:
    raise DataError(f"{where}: field 'device': {dev!r}; allowed: a non-empty string")
  try:
    md = _space().validate(row["model_dict"])
  except SpaceError as e:  # keep the type and field, prefix the row's place
    e.args = (f"{where}: model_dict: {e}",)
    raise
  out = {"model_dict": md, "device": dev}
  if need_targets:
    for t in TARGETS:
      v = row.get(t)
      if v is None:
        if t == "latency_s_per_seq":
          raise DataError(f"{where}: missing field 'latency_s_per_seq' (a positive number, s)")
        out[t] = None
        continue
      if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise DataError(f"{where}: field {t!r}: {v!r}; allowed: a positive finite number "
                        f"({UNITS[t]}) or null")
      out[t] = float(v)
  return out


def read_rows(path, need_targets: bool) -> list[dict]:
  """Reads a JSON-lines file of measurement rows (blank lines skipped), validating every row.

  Raises:
    FileNotFoundError / OSError: unreadable file; DataError: bad JSON, empty file, bad field;
    SpaceError: invalid model dict (message names ``file:line``).
  """
  path = pathlib.Path(path)
  rows = []
  with open(path) as fh:
    for i, line in enumerate(fh, 1):
      if not line.strip():
        continue
      try:
        obj = json.loads(line)
      except json.JSONDecodeError as e:
        raise DataError(f"{path}:{i}: not valid JSON ({e.msg} at column {e.colno})") from e
      rows.append(validate_row(obj, f"{path}:{i}", need_targets))
  if not rows:
    raise DataError(f"{path}: no rows")
  return rows


# ---- model ----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DeviceSurrogateConfig:
  """Hyperparameters of :func:`fit_device_surrogate` (defaults: the configuration measured best in
  ``benchmarks/edgetran_surrogates.py``, see ``docs/edgetran.md``).

  Attributes:
    nn_weight: weight of the network half in the combination, per target (latency, energy, peak
      power; a float applies to all three): 1 = network only, 0 = trees only. Default (0.2, 0.2,
      0): measured best on held-out splits (docs/edgetran.md); the network did not help peak power.
    ada_weight: weight of a third member, per target: AdaBoost(DecisionTree, ``n_ada``) on the
      37-integer embedding + device one-hot (the original EdgeTran regressor, pooled over devices on
      per-device standardised targets). The trees get ``1 - nn_weight - ada_weight``.
    n_members: deep-ensemble members; hidden: MLP widths; embed_dim: device-embedding width.
    steps: full-batch AdamW steps; lr: peak learning rate (cosine decay); weight_decay: AdamW decay.
    linear_l2: L2 penalty of the device-specific linear heads.
    min_log_std: floor of the predicted aleatoric std (standardised log units).
    n_trees: ExtraTrees estimators per target; max_features: their feature fraction;
      min_samples_leaf: their smallest leaf (3 smooths the noisy peak-power targets);
      cv_folds: folds of the cross-fit that estimates the trees' noise variance (0: none).
    beta_nll: beta of the beta-NLL loss (Seitzer et al., ICLR 2022: each row's Gaussian NLL weighted
      by its stop-gradient predicted variance ** beta; 0 = plain NLL, which lets the network explain
      rows away with a large variance instead of fitting their mean).
    seq_len: sequence length of the workload features (128, the measured setting).
  """
  nn_weight: tuple = (0.2, 0.2, 0.0)
  ada_weight: tuple = (0.2, 0.2, 0.25)
  n_ada: int = 500
  n_members: int = 5
  hidden: tuple[int, ...] = (128, 128)
  embed_dim: int = 8
  steps: int = 500
  lr: float = 3e-3
  weight_decay: float = 1e-2
  linear_l2: float = 1e-2
  min_log_std: float = 0.05
  n_trees: int = 300
  max_features: float = 0.5
  min_samples_leaf: int = 3
  cv_folds: int = 3
  beta_nll: float = 0.5
  seq_len: int = 128

  def __post_init__(self):
    object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
    w = self.nn_weight
    w = (float(w),) * len(TARGETS) if isinstance(w, (int, float)) else tuple(float(v) for v in w)
    if len(w) != len(TARGETS) or not all(0.0 <= v <= 1.0 for v in w):
      raise ConfigError(f"DeviceSurrogateConfig.nn_weight: {self.nn_weight!r}; allowed: a number "
                        f"in [0, 1] or {len(TARGETS)} of them (latency, energy, peak power)")
    object.__setattr__(self, "nn_weight", w)
    a = self.ada_weight
    a = (float(a),) * len(TARGETS) if isinstance(a, (int, float)) else tuple(float(v) for v in a)
    if len(a) != len(TARGETS) or not all(0.0 <= v and v + u <= 1.0 for v, u in zip(a, w)):
      raise ConfigError(f"DeviceSurrogateConfig.ada_weight: {self.ada_weight!r}; allowed: a number "
                        f"in [0, 1] or {len(TARGETS)} of them, with nn_weight + ada_weight <= 1")
    object.__setattr__(self, "ada_weight", a)
    if int(self.cv_folds) < 0 or int(self.cv_folds) == 1:
      raise ConfigError(f"DeviceSurrogateConfig.cv_folds: {self.cv_folds!r}; allowed: 0 or >= 2")
    for f in ("n_members", "steps", "n_trees", "embed_dim", "min_samples_leaf"):
      if int(getattr(self, f)) < 1:
        raise ConfigError(f"DeviceSurrogateConfig.{f}: {getattr(self, f)!r}; allowed: >= 1")
    if not 0 < self.max_features <= 1:
      raise ConfigError(f"DeviceSurrogateConfig.max_features: {self.max_features!r}; allowed: (0, 1]")


class _Net(nn.Module):
  """MLP on [x, e_d] + device linear head; outputs mean[3], log_var[3] (standardised log units)."""
  hidden: tuple[int, ...]
  n_devices: int
  embed_dim: int
  n_out: int

  @nn.compact
  def __call__(self, x, d):
    e = nn.Embed(self.n_devices, self.embed_dim, name="device_embedding")(d)
    h = jnp.concatenate([x, e], axis=-1)
    for i, w in enumerate(self.hidden):
      h = nn.silu(nn.Dense(w, name=f"dense_{i}")(h))
    out = nn.Dense(2 * self.n_out, name="head")(h)
    w_dev = self.param("device_linear", nn.initializers.zeros,
                       (self.n_devices, x.shape[-1], self.n_out))
    mean = out[..., :self.n_out] + jnp.einsum("nf,nft->nt", x, w_dev[d])
    return mean, out[..., self.n_out:]


@dataclasses.dataclass
class DeviceSurrogate:
  """A fitted device surrogate (NumPy / JAX arrays; not a pytree).

  Attributes:
    devices: device names, in embedding order.
    config: the :class:`DeviceSurrogateConfig`.
    x_shift, x_scale: float32[F] feature standardisation.
    y_shift, y_scale: float32[n_devices, 3] per-device log-target standardisation.
    params: network parameters with a leading member axis; trees: fitted sklearn models per target
      (None when ``nn_weight == 1``).
    n_rows: float[n_devices, 3] training rows per device and target.
    noise_var: float[n_devices, 3] out-of-fold residual variance of the trees (standardised log
      units), or None.
  """
  devices: tuple
  config: DeviceSurrogateConfig
  x_shift: np.ndarray
  x_scale: np.ndarray
  y_shift: np.ndarray
  y_scale: np.ndarray
  params: Any
  trees: Any
  n_rows: np.ndarray
  noise_var: Any = None
  ada: Any = None

  def device_index(self, names: Iterable[str]) -> np.ndarray:
    """int32[n] embedding indices; SpaceError naming the unknown device and the known ones."""
    idx = {d: i for i, d in enumerate(self.devices)}
    out = []
    for nm in names:
      if nm not in idx:
        raise SpaceError("device", nm, list(self.devices), reason="no training rows for this device")
      out.append(idx[nm])
    return np.asarray(out, np.int32)


def _standardise_targets(y, mask, dev, n_dev):
  """Per-device mean / std of log targets (std pooled when a device has < MIN_DEVICE_ROWS rows)."""
  n_t = y.shape[1]
  shift = np.zeros((n_dev, n_t))
  scale = np.ones((n_dev, n_t))
  counts = np.zeros((n_dev, n_t))
  for t in range(n_t):
    stds = []
    for d in range(n_dev):
      m = (dev == d) & mask[:, t]
      counts[d, t] = m.sum()
      if m.any():
        shift[d, t] = y[m, t].mean()
      if m.sum() >= MIN_DEVICE_ROWS:
        scale[d, t] = max(float(y[m, t].std()), 1e-3)
        stds.append(scale[d, t])
    pooled = float(np.median(stds)) if stds else 1.0
    for d in range(n_dev):
      if counts[d, t] < MIN_DEVICE_ROWS:
        scale[d, t] = pooled
    if not mask[:, t].any():
      shift[:, t] = 0.0
  return shift, scale, counts


def _train_members(key, x, d, y, mask, weights, config: DeviceSurrogateConfig, n_dev: int):
  """Trains all members in one jitted, vmapped loop; returns stacked params [M, ...]."""
  net = _Net(config.hidden, n_dev, config.embed_dim, y.shape[1])
  sched = optax.cosine_decay_schedule(config.lr, config.steps, alpha=0.05)
  opt = optax.adamw(sched, weight_decay=config.weight_decay)
  floor = 2.0 * math.log(config.min_log_std)

  def loss_fn(params, w):
    mean, log_var = net.apply(params, x, d)
    log_var = jnp.maximum(log_var, floor)
    nll = 0.5 * ((y - mean) ** 2 * jnp.exp(-log_var) + log_var)
    nll = nll * jax.lax.stop_gradient(jnp.exp(config.beta_nll * log_var))  # beta-NLL
    mw = mask * w[:, None]
    data = jnp.sum(nll * mw) / jnp.maximum(jnp.sum(mw), 1.0)
    return data + config.linear_l2 * jnp.mean(params["params"]["device_linear"] ** 2) * x.shape[1]

  def one(k, w):
    params = net.init(k, x[:2], d[:2])
    state = opt.init(params)

    def step(carry, _):
      p, s = carry
      g = jax.grad(loss_fn)(p, w)
      upd, s = opt.update(g, s, p)
      return (optax.apply_updates(p, upd), s), None

    (params, _), _ = jax.lax.scan(step, (params, state), None, length=config.steps)
    return params

  keys = jax.random.split(key, config.n_members)
  return jax.jit(jax.vmap(one))(keys, weights), net


@functools.partial(jax.jit, static_argnums=(0,))
def _apply_members(net, params, x, d):
  return jax.vmap(lambda p: net.apply(p, x, d))(params)


def fit_device_surrogate(key, rows: Sequence[Mapping[str, Any]],
                         config: DeviceSurrogateConfig | None = None) -> DeviceSurrogate:
  """Fits the device-conditioned surrogate on measurement rows.

  Args:
    key: a ``jax.random.key`` (network init, bootstrap weights, tree seeds).
    rows: validated rows (:func:`validate_row`) with ``model_dict``, ``device`` and the targets
      (energy / power may be None).
    config: :class:`DeviceSurrogateConfig` (default: the measured best).

  Returns:
    A :class:`DeviceSurrogate`.

  Raises:
    DataError: no rows, or fewer than 2 rows with a latency.
  """
  config = config or DeviceSurrogateConfig()
  if len(rows) < 2:
    raise DataError(f"training rows: {len(rows)}; need at least 2")
  devices = tuple(sorted({r["device"] for r in rows}))
  n_dev = len(devices)
  di = {nm: i for i, nm in enumerate(devices)}
  x_raw = features_batch([r["model_dict"] for r in rows], config.seq_len).astype(np.float64)
  dev = np.asarray([di[r["device"]] for r in rows], np.int32)
  y_raw = np.asarray([[np.nan if r.get(t) is None else r[t] for t in TARGETS] for r in rows], float)
  mask = np.isfinite(y_raw)
  y_log = np.where(mask, np.log(np.where(mask, y_raw, 1.0)), 0.0)
  y_shift, y_scale, counts = _standardise_targets(y_log, mask, dev, n_dev)
  y = np.where(mask, (y_log - y_shift[dev]) / y_scale[dev], 0.0)
  x_shift = x_raw.mean(0)
  x_scale = x_raw.std(0)
  x_scale[x_scale < 1e-6] = 1.0
  x = (x_raw - x_shift) / x_scale
  k_nn, k_boot, k_tree = jax.random.split(key, 3)
  params = None
  if max(config.nn_weight) > 0:
    boot = np.asarray(jax.random.poisson(k_boot, 1.0, (config.n_members, len(rows))), np.float32)
    params, _ = _train_members(k_nn, jnp.asarray(x, jnp.float32), jnp.asarray(dev),
                               jnp.asarray(y, jnp.float32), jnp.asarray(mask, jnp.float32),
                               jnp.asarray(boot), config, n_dev)
    params = jax.device_get(params)
  ada = None
  if max(config.ada_weight) > 0:
    from sklearn.ensemble import AdaBoostRegressor
    from sklearn.tree import DecisionTreeRegressor
    seed_a = int(jax.random.randint(jax.random.fold_in(k_tree, 7), (), 0, 2 ** 31 - 1))
    xa = np.concatenate([embeddings_batch([r["model_dict"] for r in rows]), np.eye(n_dev)[dev]], 1)
    ada = []
    for t in range(len(TARGETS)):
      m = mask[:, t]
      if config.ada_weight[t] == 0 or m.sum() < 2:
        ada.append(None)
        continue
      ada.append(AdaBoostRegressor(DecisionTreeRegressor(), n_estimators=config.n_ada,
                                   random_state=seed_a + t).fit(xa[m], y[m, t]))
  trees = noise = None
  if min(np.asarray(config.nn_weight) + np.asarray(config.ada_weight)) < 1:
    from sklearn.ensemble import ExtraTreesRegressor
    seed = int(jax.random.randint(k_tree, (), 0, 2 ** 31 - 1))
    xt = np.concatenate([x, np.eye(n_dev)[dev]], axis=1)
    trees = []
    noise = np.zeros((n_dev, len(TARGETS))) if config.cv_folds >= 2 else None
    for t in range(len(TARGETS)):
      m = mask[:, t]
      if m.sum() < 2:
        trees.append(None)
        continue
      make = lambda: ExtraTreesRegressor(  # noqa: E731
          n_estimators=config.n_trees, max_features=config.max_features,
          min_samples_leaf=config.min_samples_leaf, random_state=seed + t, n_jobs=1)
      trees.append(make().fit(xt[m], y[m, t]))
      if config.cv_folds >= 2 and m.sum() >= 2 * config.cv_folds:
        idx = np.flatnonzero(m)
        folds = np.random.default_rng(seed + t).permutation(len(idx)) % config.cv_folds
        resid = np.zeros(len(idx))
        for k in range(config.cv_folds):
          tr_, te_ = idx[folds != k], idx[folds == k]
          resid[folds == k] = make().fit(xt[tr_], y[tr_, t]).predict(xt[te_]) - y[te_, t]
        pooled = float(np.mean(resid ** 2))
        for dd in range(n_dev):
          md_ = dev[idx] == dd
          noise[dd, t] = float(np.mean(resid[md_] ** 2)) if md_.sum() >= MIN_DEVICE_ROWS else pooled
  return DeviceSurrogate(devices=devices, config=config, x_shift=x_shift.astype(np.float32),
                         x_scale=x_scale.astype(np.float32), y_shift=y_shift, y_scale=y_scale,
                         params=params, trees=trees, n_rows=counts, noise_var=noise, ada=ada)


def predict_log(sur: DeviceSurrogate, x_raw: np.ndarray, devices: Sequence[str],
                embeddings: np.ndarray | None = None):
  """Predictive mean and std of the LOG targets (natural log of the units of :data:`TARGETS`).

  Args:
    sur: a fitted :class:`DeviceSurrogate`.
    x_raw: float[n, F] :func:`features_batch` rows.
    devices: n device names (each must have training rows).
    embeddings: int[n, 37] :func:`embeddings_batch` rows (needed when the surrogate has an
      AdaBoost member, i.e. ``ada_weight > 0``).

  Returns:
    (mean float64[n, 3], std float64[n, 3]); the members are combined as a mixture (weights
    ``nn_weight``, ``ada_weight``, rest trees): mean = sum_i w_i m_i, variance = sum_i w_i (v_i +
    m_i^2) - mean^2. A target with no training rows on a device gets NaN.

  Raises:
    SpaceError: for an unknown device; ConfigError: ``embeddings`` missing though needed.
  """
  d = sur.device_index(devices)
  x = (np.asarray(x_raw, np.float64) - sur.x_shift) / sur.x_scale
  n, n_t = len(d), len(TARGETS)
  members = []  # (weight[3], mean[n, 3], var[n, 3])
  w_nn = np.asarray(sur.config.nn_weight)
  w_ada = np.asarray(sur.config.ada_weight)
  if sur.params is not None:
    net = _Net(sur.config.hidden, len(sur.devices), sur.config.embed_dim, n_t)
    mu_m, lv_m = _apply_members(net, sur.params, jnp.asarray(x, jnp.float32), jnp.asarray(d))
    mu_m = np.asarray(mu_m, np.float64)
    lv_m = np.maximum(np.asarray(lv_m, np.float64), 2.0 * math.log(sur.config.min_log_std))
    members.append([w_nn.copy(), mu_m.mean(0), np.exp(lv_m).mean(0) + mu_m.var(0)])
  if sur.ada is not None:
    if embeddings is None:
      raise ConfigError("predict_log: this surrogate has an AdaBoost member (ada_weight > 0); "
                        "pass embeddings=embeddings_batch(model_dicts)")
    xa = np.concatenate([np.asarray(embeddings, float), np.eye(len(sur.devices))[d]], axis=1)
    m_a = np.full((n, n_t), np.nan)
    for t, est in enumerate(sur.ada):
      if est is not None:
        m_a[:, t] = est.predict(xa)
    members.append([w_ada.copy(), m_a, np.zeros((n, n_t))])
  if sur.trees is not None:
    m_tr = np.full((n, n_t), np.nan)
    v_tr = np.zeros((n, n_t))
    xt = np.concatenate([x, np.eye(len(sur.devices))[d]], axis=1)
    for t, est in enumerate(sur.trees):
      if est is None:
        continue
      per_tree = np.stack([e.predict(xt) for e in est.estimators_])
      m_tr[:, t] = per_tree.mean(0)
      v_tr[:, t] = per_tree.var(0)
    if sur.noise_var is not None:
      v_tr = v_tr + sur.noise_var[d]  # out-of-fold residual variance: the trees' noise
    members.append([1.0 - w_nn - w_ada, m_tr, v_tr])
  # a member without a model for a target (< 2 rows, or weight 0) drops out; weights renormalised
  wsum = np.zeros((n, n_t))
  for mem in members:
    w = np.broadcast_to(mem[0], (n, n_t)) * np.isfinite(mem[1])
    mem[0] = w
    wsum += w
  wsum = np.where(wsum > 0, wsum, np.nan)
  mean = sum(mem[0] * np.nan_to_num(mem[1]) for mem in members) / wsum
  second = sum(mem[0] * (np.nan_to_num(mem[2]) + np.nan_to_num(mem[1]) ** 2) for mem in members) / wsum
  var = np.maximum(second - mean ** 2, 0.0)
  scale = sur.y_scale[d]
  mean_log = mean * scale + sur.y_shift[d]
  std_log = np.sqrt(var) * scale
  missing = (sur.n_rows[d] == 0) | ~np.isfinite(mean_log)
  mean_log[missing] = np.nan
  std_log[missing] = np.nan
  return mean_log, std_log


def embeddings_batch(model_dicts: Sequence[Mapping[str, Any]]) -> np.ndarray:
  """int64[n, 37] original EdgeTran embeddings (``get_space('flexibert2').encode``)."""
  sp = _space()
  return np.asarray([sp.encode(md) for md in model_dicts], np.int64).reshape(len(model_dicts), -1)


def predict_rows(sur: DeviceSurrogate, model_dicts: Sequence[Mapping[str, Any]],
                 devices: Sequence[str]) -> list[dict]:
  """Predictions in target units, one dict per (model dict, device).

  Returns:
    dicts with ``latency_s_per_seq`` (s/sequence), ``energy_j_per_seq`` (J/sequence),
    ``peak_power_w`` (W): ``exp(mean_log)`` (log-normal median) and ``<target>_std``: the
    log-normal std ``exp(mean_log) * sqrt(exp(std_log^2) - 1)``; None where the device has no
    training rows of that target.

  Raises:
    SpaceError: unknown device or invalid model dict.
  """
  x = features_batch(model_dicts, sur.config.seq_len)
  emb = embeddings_batch(model_dicts) if sur.ada is not None else None
  mean_log, std_log = predict_log(sur, x, devices, emb)
  out = []
  for i in range(len(devices)):
    row = {}
    for t, name in enumerate(TARGETS):
      if not np.isfinite(mean_log[i, t]):
        row[name] = None
        row[name + "_std"] = None
        continue
      med = float(np.exp(mean_log[i, t]))
      row[name] = med
      row[name + "_std"] = float(med * math.sqrt(math.expm1(std_log[i, t] ** 2)))
    out.append(row)
  return out


def kendall_per_device(pred: np.ndarray, truth: np.ndarray, devices: Sequence[str],
                       min_rows: int = 5) -> dict[str, float]:
  """Kendall tau (scipy tau-b) of ``pred`` vs ``truth`` per device with >= ``min_rows`` finite rows.

  Args: pred, truth: float[n]; devices: n names. Returns {device: tau}.
  """
  from scipy.stats import kendalltau
  pred, truth = np.asarray(pred, float), np.asarray(truth, float)
  devices = np.asarray(devices)
  out = {}
  for nm in sorted(set(devices.tolist())):
    m = (devices == nm) & np.isfinite(truth) & np.isfinite(pred)
    if m.sum() >= min_rows:
      out[nm] = float(kendalltau(pred[m], truth[m])[0])
  return out
