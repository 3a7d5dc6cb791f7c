"""Hardware entry points: the one front-end contract of both accelerator models.

* :func:`prepare_configs` validates accelerator configs ONCE against their space and converts them to
  numeric arrays ONCE (:class:`PreparedConfigs`), so a sweep of many networks over a fixed candidate
  set pays for neither again.
* :func:`simulate_arrays` simulates one network on prepared configs and returns ``{key: array[n]}``
  (no per-config dicts): the fast path of vectorised sweeps.
* :func:`simulate_transformer` (a FlexiBERT 2.0 model on AccelTran / ELECTOR configs through the
  jitted reference model :mod:`jaxcodesign.hardware.acceltran`, or, with ``legacy=True``, through the
  quirk-exact TransCODE simulator :func:`jaxcodesign.hardware.legacy.simulate_fast`) returns one dict
  per config. :func:`simulate_cnn` (AccelBench, :mod:`jaxcodesign.hardware.accelbench`) is
  re-exported and follows the same contract.

Result contract (every non-legacy result, both models; :data:`RESULT_KEYS` as scalars per config,
:data:`DICT_KEYS` as dicts):

=============================  ============================================================================
``cycles``                     int, clock cycles (700 MHz) of ONE batch of ``batch_size`` inputs (cold:
                               weights loaded from main memory during the batch)
``latency_s``                  s, ``cycles / f`` (one batch)
``latency_per_inference_s``    s, ``latency_s / batch_size``
``throughput_per_s``           inferences (sequences / images) per second of a steady stream of batches
``energy_j``                   J per batch: die (dynamic + leakage) + main memory
``energy_per_inference_j``     J, ``energy_j / batch_size``
``energy_dynamic_j``           J, dynamic energy incl. main-memory accesses
``energy_leakage_j``           J, die leakage
``main_memory_energy_j``       J, off-chip main-memory access energy (part of ``energy_j``)
``area_mm2``                   mm^2, die area
``peak_power_w``               W, ON-CHIP die power: max over the schedule of the busy modules + leakage
``main_memory_power_w``        W, off-chip main-memory power (main-memory energy / latency)
``avg_power_w``                W, ``energy_j / latency_s``
``fits``                       bool, the workload fits the buffers
``fits_reticle``               bool, ``area_mm2 <= reticle_mm2`` (default 858 mm^2, one EUV/DUV
                               exposure field, 26 mm x 33 mm)
``roofline_compute_cycles``    cycles, lower bound from MACs (and normalisation work) / units
``roofline_memory_cycles``     cycles, lower bound from bytes actually moved / main-memory link rate
``batch_size``                 int, inputs per batch
``mode``                       ``'inference'`` or ``'training'``
``utilisation``                dict module -> fraction of the batch's cycles
``energy_components``          dict component -> {"dynamic_j", "leakage_j"}
=============================  ============================================================================

Conventions shared by both models: ``sparsity=None`` means dense (0 activation, 0 weight sparsity);
AccelTran's 0.5 / 0.5 (``constants.SPARSITY_*``) must be passed explicitly. A bad model dict or
config raises :class:`~jaxcodesign.errors.SpaceError` (naming the field and the allowed values); a
bad option (mode, sparsity, kind, seq_len, legacy combination) raises
:class:`~jaxcodesign.errors.ConfigError`. Both are ``ValueError``.

CNN dispatch: :func:`simulate_arrays` with ``kind='cnn'`` calls ``accelbench.simulate_cnn_prepared(
point, prepared, mode=..., sparsity=..., **options) -> dict[str, np.ndarray]`` when the AccelBench
module defines it, and otherwise stacks :func:`simulate_cnn`'s dicts.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping, Sequence

import numpy as np

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.hardware import acceltran as A
from jaxcodesign.hardware import workload as W
from jaxcodesign.hardware.accelbench import simulate_cnn  # noqa: F401  (re-export, contract)
from jaxcodesign.padding import bucket_size, pad_rows

__all__ = ["PreparedConfigs", "prepare_configs", "simulate_arrays", "simulate_transformer",
           "simulate_cnn", "RESULT_KEYS", "DICT_KEYS", "MODES", "RETICLE_MM2", "resolve_model",
           "sparsity_pair"]

#: Scalar result keys (one value per config) of the contract.
RESULT_KEYS = ("cycles", "latency_s", "latency_per_inference_s", "throughput_per_s", "energy_j",
               "energy_per_inference_j", "energy_dynamic_j", "energy_leakage_j",
               "main_memory_energy_j", "area_mm2", "peak_power_w", "main_memory_power_w",
               "avg_power_w", "fits", "fits_reticle", "roofline_compute_cycles",
               "roofline_memory_cycles", "batch_size", "mode")
#: Dict-valued result keys.
DICT_KEYS = ("utilisation", "energy_components")
#: Simulation modes.
MODES = ("inference", "training")
#: Default reticle limit (mm^2): the 26 mm x 33 mm exposure field of current lithography scanners,
#: the largest die one exposure can print (a parameter: ``reticle_mm2=``).
RETICLE_MM2 = 858.0

#: Configs simulated per jitted call; larger lists are chunked (one compilation per bucket).
CHUNK = 4096

_INT_KEYS = ("cycles", "steady_cycles", "batch_size")
_BOOL_KEYS = ("fits", "fits_reticle", "weights_resident")


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedConfigs:
  """Accelerator configs validated once and converted to arrays once.

  Attributes:
    kind: ``'transformer'`` (AccelTran / ELECTOR) or ``'cnn'`` (AccelBench).
    configs: the canonical (validated) config dicts, in input order.
    arrays: numeric arrays ``[n]`` the jitted model reads (``acceltran.CONFIG_KEYS`` or
      ``accelbench.CONFIG_KEYS``), main-memory figures looked up from the organisation.
    space_name: the space the configs were validated against.
  """
  kind: str
  configs: tuple
  arrays: Mapping[str, np.ndarray]
  space_name: str

  def __len__(self) -> int:
    return len(self.configs)

  @property
  def n(self) -> int:
    return len(self.configs)


@functools.lru_cache(maxsize=None)
def _default_space(name: str):
  from jaxcodesign.spaces import accelerators as S
  return {"elector": S.ElectorSpace, "acceltran": S.AccelTranSpace,
          "accelbench": S.AccelBenchSpace}[name]()


def _infer_space(config):
  if isinstance(config, Mapping) and "tile" in config:
    return _default_space("elector")
  if isinstance(config, Mapping) and "Pib" in config:
    return _default_space("accelbench")
  raise SpaceError("config", sorted(config) if isinstance(config, Mapping) else type(config).__name__,
                   reason="neither an AccelTran/ELECTOR config (with 'tile') nor an AccelBench "
                   "config (with 'Pib'); pass space=")


def prepare_configs(configs, space=None, channel_gbps: Mapping[str, float] | None = None
                    ) -> PreparedConfigs:
  """Validates accelerator configs once and converts them to the model's arrays once.

  Args:
    configs: a list of config dicts (AccelTran nested form or AccelBench flat form), or an
      already-prepared :class:`PreparedConfigs` (returned unchanged).
    space: the accelerator space to validate against (``ElectorSpace()``, ``AccelTranSpace()``,
      ``AccelBenchSpace()``); None infers ELECTOR for configs with ``tile`` and AccelBench for
      configs with ``Pib``.
    channel_gbps: per-channel main-memory rates (GB/s) overriding
      ``constants.MAIN_MEMORY_CHANNEL_GBPS`` (transformer model; e.g. ``{"rram": 16.0}``).

  Returns:
    :class:`PreparedConfigs` (``arrays`` float32 / int32 ``[n]``).

  Raises:
    SpaceError: a config outside the space (the field and its allowed values named).
    ConfigError: an empty list, or an unknown space / channel rate.
  """
  if isinstance(configs, PreparedConfigs):
    return configs
  configs = list(configs)
  if not configs:
    raise ConfigError("configs: an empty list; give at least one accelerator config")
  space = space if space is not None else _infer_space(configs[0])
  name = getattr(space, "name", None)
  if name in ("elector", "acceltran"):
    valid = tuple(space.validate(c) for c in configs)
    arrays = A.config_arrays(valid, space=space, channel_gbps=channel_gbps)
    return PreparedConfigs("transformer", valid, arrays, name)
  if name == "accelbench":
    if channel_gbps is not None:
      raise ConfigError("channel_gbps: not an option of the AccelBench model")
    from jaxcodesign.hardware import accelbench
    valid = tuple(space.validate(c) for c in configs)
    return PreparedConfigs("cnn", valid, accelbench.cnn_config_arrays(valid), name)
  raise ConfigError(f"invalid value for field 'space': {name!r}; allowed: ['elector', 'acceltran', "
                    "'accelbench']")


def sparsity_pair(sparsity) -> tuple[Any, Any]:
  """Normalises ``sparsity`` to ``(activation, weight)``.

  Accepts None (dense: ``(None, None)``, read as 0 by the models), a number (both), a pair
  ``(s_a, s_w)`` or a dict ``{"activation": .., "weight": ..}``; each value a scalar, a per-config
  array ``[n]``, a per-op array ``[n_ops]`` or ``[n, n_ops]``. Raises ConfigError otherwise.
  """
  if sparsity is None:
    return None, None
  if isinstance(sparsity, Mapping):
    unknown = set(sparsity) - {"activation", "weight"}
    if unknown:
      raise ConfigError(f"invalid value for field 'sparsity': keys {sorted(unknown)}; allowed: "
                        "['activation', 'weight']")
    return sparsity.get("activation"), sparsity.get("weight")
  if isinstance(sparsity, (tuple, list)) and len(sparsity) == 2:
    return sparsity[0], sparsity[1]
  if np.ndim(sparsity) == 0:
    return sparsity, sparsity
  raise ConfigError(f"invalid value for field 'sparsity': {sparsity!r}; allowed: None (dense), a "
                    "number, (activation, weight) or {'activation', 'weight'}")


def resolve_model(model_dict) -> dict:
  """A model dict, or the name of one of ``spaces.flexibert.NAMED_MODELS`` (e.g. ``'bert_tiny'``)."""
  if isinstance(model_dict, str):
    from jaxcodesign.spaces.flexibert import NAMED_MODELS
    if model_dict not in NAMED_MODELS:
      raise SpaceError("model_dict", model_dict, sorted(NAMED_MODELS))
    return NAMED_MODELS[model_dict]
  if not isinstance(model_dict, Mapping):
    raise SpaceError("model_dict", type(model_dict).__name__, reason="a dict {l, o, h, f} or a name")
  return dict(model_dict)


def validate_model(model_dict, model_space=None) -> dict:
  """Resolves a name and validates a model dict against ``model_space`` (default FlexiBERT 2.0:
  layers 2..12, hidden 128..768, heads 2..12, head dim written in each op); returns the dict as given
  (head order kept: it fixes the emission order of head groups). Raises SpaceError."""
  md = resolve_model(model_dict)
  if model_space is None:
    model_space = _flexibert2()
  model_space.validate(md)
  return md


@functools.lru_cache(maxsize=1)
def _flexibert2():
  from jaxcodesign.spaces.flexibert import FlexiBERT2Space
  return FlexiBERT2Space()


def _check_mode(mode):
  if mode not in MODES:
    raise ConfigError(f"invalid value for field 'mode': {mode!r}; allowed: {list(MODES)}")


def _slice_sparsity(s, lo, hi, n):
  if s is None:
    return None
  a = np.asarray(s, np.float32)
  if a.ndim >= 1 and a.shape[0] == n and n > 1:
    return a[lo:hi]
  return a


def _pad_sparsity(a, n, size):
  if a is None or a.ndim == 0 or a.shape[0] != n or n == size:
    return a
  return pad_rows(a, size)


def simulate_arrays(model_dict, prepared, kind: str | None = None, *, mode: str = "inference",
                    sparsity=None, seq_len: int = W.DEFAULT_SEQ_LEN, batch_size: int | None = None,
                    op_table: W.OpTable | None = None, shard: bool = False,
                    vocab_size: int = W.VOCAB_SIZE, model_space=None,
                    reticle_mm2: float = RETICLE_MM2, gradient_sparsity=None,
                    **cnn_options) -> dict[str, Any]:
  """Metrics of one network on prepared configs, as arrays (the fast path of sweeps).

  Args:
    model_dict: transformer: FlexiBERT 2.0 hetero dict or a ``NAMED_MODELS`` name (validated against
      ``model_space``, default FlexiBERT 2.0); cnn: a CNNBench point.
    prepared: :class:`PreparedConfigs` (or a config list, prepared here).
    kind: ``'transformer'`` | ``'cnn'``; None takes ``prepared.kind``.
    mode: ``'inference'`` or ``'training'`` (one training step: forward, backward, optimiser
      update; transformer model, see ``docs/accelerator_model.md``).
    sparsity: None (dense), or see :func:`sparsity_pair`.
    seq_len: sequence length N; batch_size: override the configs' batch (None: each config's).
    op_table: a pre-lowered table (skips validation and lowering; it fixes the mode it was lowered
      for).
    shard: shard the config axis over all local devices (padded to a multiple of their count).
    vocab_size: rows of the token-embedding table (in main memory; the gather reads B x N of them,
      so it does not change costs).
    model_space: the space model dicts are validated against.
    reticle_mm2: reticle limit for ``fits_reticle`` (mm^2).
    gradient_sparsity: DynaProp gradient sparsity of a training step (None: 0.9, ELECTOR's default,
      ``constants.SPARSITY_GRADIENT``); a scalar or ``[n]``; ignored in inference.
    **cnn_options: passed to the AccelBench model (``input_shape``, ``num_classes``, ...).

  Returns:
    ``{key: np.ndarray[n]}`` for every key of :data:`RESULT_KEYS` (``cycles`` / ``batch_size``
    int64, ``fits`` / ``fits_reticle`` bool, ``mode`` a str array), plus ``utilisation`` and
    ``energy_components`` as dicts of arrays (``energy_components[c] = (dynamic_j[n], leakage_j[n])``).

  Raises:
    SpaceError: model dict or config outside its space.
    ConfigError: bad mode, kind, sparsity, seq_len, batch size or option.
  """
  _check_mode(mode)
  prepared = prepare_configs(prepared)
  kind = kind or prepared.kind
  if kind not in ("transformer", "cnn"):
    raise ConfigError(f"invalid value for field 'kind': {kind!r}; allowed: ['transformer', 'cnn']")
  if kind != prepared.kind:
    raise ConfigError(f"kind {kind!r} does not match the prepared configs ({prepared.kind!r}, "
                      f"space {prepared.space_name!r})")
  if kind == "cnn":
    transformer_only = {"seq_len": seq_len != W.DEFAULT_SEQ_LEN, "batch_size": batch_size is not None,
                        "shard": bool(shard), "vocab_size": vocab_size != W.VOCAB_SIZE,
                        "model_space": model_space is not None,
                        "gradient_sparsity": gradient_sparsity is not None}
    bad = sorted(k for k, v in transformer_only.items() if v)
    if bad:
      raise ConfigError(f"option(s) {bad} apply to the transformer model only (kind='cnn')")
    if op_table is not None:
      cnn_options["op_table"] = op_table
    return _simulate_cnn_arrays(model_dict, prepared, mode=mode, sparsity=sparsity,
                                reticle_mm2=reticle_mm2, **cnn_options)
  if cnn_options:
    raise ConfigError(f"unknown option(s) {sorted(cnn_options)} for the transformer model")
  if op_table is None:
    md = validate_model(model_dict, model_space)
    if int(seq_len) < 1:
      raise ConfigError(f"invalid value for field 'seq_len': {seq_len!r}; allowed: >= 1")
    if batch_size is not None and int(batch_size) < 1:
      raise ConfigError(f"invalid value for field 'batch_size': {batch_size!r}; allowed: >= 1 or None")
    table = W.lower_transformer(md, seq_len=seq_len, batch_size=batch_size, vocab_size=vocab_size,
                                mode=mode)
  else:
    table = op_table
    if table.mode != mode:
      raise ConfigError(f"op_table was lowered for mode {table.mode!r}, not {mode!r}")
  s_a, s_w = sparsity_pair(sparsity)
  arrays = prepared.arrays
  n = prepared.n
  parts = []
  for lo in range(0, n, CHUNK):
    hi = min(n, lo + CHUNK)
    size = bucket_size(hi - lo, 8) if n <= CHUNK else CHUNK
    chunk = pad_rows({k: v[lo:hi] for k, v in arrays.items()}, size)
    sa = _pad_sparsity(_slice_sparsity(s_a, lo, hi, n), hi - lo, size)
    sw = _pad_sparsity(_slice_sparsity(s_w, lo, hi, n), hi - lo, size)
    out = A.simulate_batch(table, chunk, sa, sw, gradient_sparsity, shard=shard)
    parts.append(jax_to_numpy(out, hi - lo))
  out = parts[0] if len(parts) == 1 else _concat(parts)
  return _finish(out, mode, reticle_mm2)


def jax_to_numpy(tree, n: int):
  """NumPy copy of a result tree, first ``n`` rows of every leaf."""
  import jax
  return jax.tree.map(lambda x: np.asarray(x)[:n], tree)


def _concat(parts):
  import jax
  return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)


def _finish(out: dict, mode: str, reticle_mm2: float) -> dict:
  """Contract dtypes and the option-dependent keys (fits_reticle, mode)."""
  if not float(reticle_mm2) > 0:
    raise ConfigError(f"invalid value for field 'reticle_mm2': {reticle_mm2!r}; allowed: > 0 mm^2")
  res = {k: v for k, v in out.items()}
  n = int(np.shape(res["cycles"])[0])
  for k in (k for k in _INT_KEYS if k in res):
    res[k] = np.rint(np.asarray(res[k], np.float64)).astype(np.int64)
  res["fits"] = np.asarray(res["fits"], bool)
  res["fits_reticle"] = np.asarray(res["area_mm2"], np.float64) <= float(reticle_mm2)
  res["mode"] = np.full(n, mode, dtype=object)
  return res


def _simulate_cnn_arrays(point, prepared, mode, sparsity, **options) -> dict:
  from jaxcodesign.hardware import accelbench
  fn = getattr(accelbench, "simulate_cnn_prepared", None)
  if fn is not None:
    return fn(point, prepared, mode=mode, sparsity=sparsity, **options)
  rows = accelbench.simulate_cnn(point, list(prepared.configs), mode=mode, sparsity=sparsity,
                                 **options)
  keys = [k for k in rows[0] if k not in DICT_KEYS]
  out = {k: np.asarray([r[k] for r in rows]) for k in keys}
  for k in DICT_KEYS:
    if k in rows[0]:
      out[k] = {m: np.asarray([r[k][m] for r in rows]) for m in rows[0][k]}
  return out


def rows_from_arrays(out: Mapping[str, Any]) -> list[dict]:
  """Per-config result dicts (Python scalars) from :func:`simulate_arrays` output."""
  n = int(np.shape(out["cycles"])[0])
  scalar = [k for k in out if k not in DICT_KEYS]
  rows = []
  for i in range(n):
    r = {}
    for k in scalar:
      v = out[k][i]
      if k in _INT_KEYS:
        r[k] = int(v)
      elif k in _BOOL_KEYS:
        r[k] = bool(v)
      elif k == "mode":
        r[k] = str(v)
      else:
        r[k] = float(v)
    if "utilisation" in out:
      r["utilisation"] = {m: float(v[i]) for m, v in out["utilisation"].items()}
    if "energy_components" in out:
      r["energy_components"] = {c: {"dynamic_j": float(v[0][i]), "leakage_j": float(v[1][i])}
                                for c, v in out["energy_components"].items()}
    rows.append(r)
  return rows


def simulate_transformer(model_dict, configs, *, mode: str = "inference", sparsity=None,
                         seq_len: int = W.DEFAULT_SEQ_LEN, legacy: bool = False,
                         batch_size: int | None = None, space=None,
                         op_table: W.OpTable | None = None, shard: bool = False,
                         vocab_size: int = W.VOCAB_SIZE, model_space=None,
                         reticle_mm2: float = RETICLE_MM2,
                         channel_gbps: Mapping[str, float] | None = None,
                         gradient_sparsity=None) -> list[dict]:
  """Hardware metrics of one transformer on each accelerator config (one dict per config).

  Args:
    model_dict: FlexiBERT 2.0 hetero dict, or a name of ``NAMED_MODELS``; validated against
      ``model_space`` (default FlexiBERT 2.0: e.g. 3 heads, hidden 100, or a head dim that is not
      written as ``hidden / heads`` raise SpaceError).
    configs: AccelTran nested config dicts (validated against ``space``, default ELECTOR) or a
      :class:`PreparedConfigs`.
    mode: ``'inference'`` or ``'training'``.
    sparsity: None = dense (0 / 0); AccelTran's 0.5 / 0.5 must be passed explicitly
      (see :func:`sparsity_pair`).
    seq_len: sequence length N (default 128).
    legacy: return :func:`legacy.simulate_fast` dicts instead (original units: nJ; it fixes
      sparsity 0.5 / 0.5, N = 128 and the config's batch; raises ConfigError if those are changed).
    batch_size: override the configs' batch (None: each config's ``batch_size``).
    space: accelerator space used for validation (e.g. ``AccelTranSpace()``).
    op_table: a pre-lowered table (skips validation and lowering).
    shard: shard the config axis over all local devices.
    vocab_size: rows of the token-embedding table (default 30522, BERT WordPiece). The table stays
      in main memory and a batch gathers only its B x N rows, so the size is recorded
      (``OpTable.embed_table_elems``) but does not change costs.
    model_space: the model space to validate against (default FlexiBERT 2.0).
    reticle_mm2: reticle limit (mm^2) of ``fits_reticle``.
    channel_gbps: per-channel main-memory rates overriding the constants (GB/s per type).
    gradient_sparsity: training only (None: 0.9, DynaProp as in ELECTOR).

  Returns:
    one dict per config, in order (keys :data:`RESULT_KEYS` + :data:`DICT_KEYS`, plus the
    transformer model's ``steady_cycles`` (int, steady-state period of one batch) and
    ``weights_resident`` (bool, all weights fit the weight buffer and stay across batches)).

  Raises:
    SpaceError: model dict or config outside its space.
    ConfigError: empty config list; bad mode / sparsity / option; legacy mode with a non-default
      seq_len, sparsity, batch, mode or vocabulary.
  """
  _check_mode(mode)
  if legacy:
    return _legacy(model_dict, configs, mode, sparsity, seq_len, batch_size, vocab_size, space,
                   model_space)
  prepared = prepare_configs(configs, space=space if space is not None else
                             (None if isinstance(configs, PreparedConfigs) else _default_space("elector")),
                             channel_gbps=channel_gbps)
  if prepared.kind != "transformer":
    raise ConfigError(f"configs: AccelBench configs given to simulate_transformer (space "
                      f"{prepared.space_name!r}); use simulate_cnn")
  out = simulate_arrays(model_dict, prepared, mode=mode, sparsity=sparsity, seq_len=seq_len,
                        batch_size=batch_size, op_table=op_table, shard=shard,
                        vocab_size=vocab_size, model_space=model_space, reticle_mm2=reticle_mm2,
                        gradient_sparsity=gradient_sparsity)
  return rows_from_arrays(out)


def _legacy(model_dict, configs, mode, sparsity, seq_len, batch_size, vocab_size, space, model_space):
  from jaxcodesign.hardware import constants as C
  legacy_sparsity = (C.SPARSITY_ACTIVATION, C.SPARSITY_WEIGHT)
  if sparsity is not None and tuple(float(x) for x in sparsity_pair(sparsity)) != legacy_sparsity:
    raise ConfigError("legacy: the legacy simulator fixes sparsity 0.5 / 0.5; pass sparsity=None "
                      "or (0.5, 0.5)")
  if seq_len != W.DEFAULT_SEQ_LEN or batch_size is not None or vocab_size != W.VOCAB_SIZE:
    raise ConfigError("legacy: the legacy simulator fixes seq_len=128, the vocabulary and the "
                      "config's batch; leave seq_len, batch_size and vocab_size at their defaults")
  if mode != "inference":
    raise ConfigError("legacy: the legacy simulator has no training mode; use mode='inference'")
  md = validate_model(model_dict, model_space)
  cfgs = configs.configs if isinstance(configs, PreparedConfigs) else list(configs)
  if not cfgs:
    raise ConfigError("configs: an empty list; give at least one accelerator config")
  from jaxcodesign.hardware.legacy import simulate_fast
  return [simulate_fast(md, c, space=space) for c in cfgs]
