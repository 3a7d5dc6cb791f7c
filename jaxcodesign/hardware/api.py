"""Hardware entry points used by the launchers and co-design.

* :func:`simulate_transformer`: a FlexiBERT 2.0 model on a list of AccelTran / ELECTOR configs through
  the jitted reference model (:mod:`jaxcodesign.hardware.acceltran`), or, with ``legacy=True``, through
  the quirk-exact TransCODE simulator (:func:`jaxcodesign.hardware.legacy.simulate_fast`).
* :func:`simulate_cnn`: re-exported from :mod:`jaxcodesign.hardware.accelbench`.

Every (non-legacy) result dict has the keys of :data:`RESULT_KEYS`: ``cycles`` (int, clock cycles
at 700 MHz for one batch of the config's ``batch_size`` sequences), ``latency_s`` (s), ``energy_j``,
``energy_dynamic_j``, ``energy_leakage_j`` (J), ``area_mm2`` (mm^2), ``peak_power_w``,
``avg_power_w`` (W), ``fits`` (bool), ``utilisation`` (dict module -> fraction), plus
``energy_components`` ({component: {"dynamic_j", "leakage_j"}}) and ``batch_size`` (sequences per
run: divide latency / energy by it to compare configs of different batch per sequence).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.hardware import acceltran as A
from jaxcodesign.hardware import workload as W
from jaxcodesign.hardware.accelbench import simulate_cnn  # noqa: F401  (re-export, contract)

RESULT_KEYS = ("cycles", "latency_s", "energy_j", "energy_dynamic_j", "energy_leakage_j", "area_mm2",
               "peak_power_w", "avg_power_w", "fits", "utilisation")

#: Configs simulated per jitted call; larger lists are chunked (one compilation per bucket).
CHUNK = 4096


def sparsity_pair(sparsity) -> tuple[Any, Any]:
  """Normalises ``sparsity`` to ``(activation, weight)``.

  Accepts None (the AccelTran defaults 0.5 / 0.5, constants.SPARSITY_*), a number (both), a pair
  ``(s_a, s_w)`` or a dict ``{"activation": .., "weight": ..}``; each value a scalar, a per-config
  array ``[n]``, a per-op array ``[n_ops]`` or ``[n, n_ops]``. Raises SpaceError otherwise.
  """
  if sparsity is None:
    return None, None
  if isinstance(sparsity, Mapping):
    unknown = set(sparsity) - {"activation", "weight"}
    if unknown:
      raise SpaceError("sparsity", sorted(unknown), ["activation", "weight"])
    return sparsity.get("activation"), sparsity.get("weight")
  if isinstance(sparsity, (tuple, list)) and len(sparsity) == 2:
    return sparsity[0], sparsity[1]
  if np.ndim(sparsity) == 0:
    return sparsity, sparsity
  raise SpaceError("sparsity", sparsity, reason="None, a number, (activation, weight) or a dict")


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


def _slice_sparsity(s, lo, hi, n):
  if s is None:
    return None
  a = np.asarray(s, np.float32)
  if a.ndim >= 1 and a.shape[0] == n and n > 1:
    return a[lo:hi]
  return a


def simulate_transformer(model_dict, configs: Sequence[Mapping[str, Any]], sparsity=None,
                         seq_len: int = W.DEFAULT_SEQ_LEN, legacy: bool = False,
                         batch_size: int | None = None, space=None, op_table: W.OpTable | None = None,
                         shard: bool = False, vocab_size: int = W.VOCAB_SIZE) -> list[dict]:
  """Hardware metrics of one transformer on each accelerator config.

  Args:
    model_dict: FlexiBERT 2.0 hetero dict, or a name of ``NAMED_MODELS``.
    configs: AccelTran nested config dicts (validated against ``space``, default ELECTOR).
    sparsity: see :func:`sparsity_pair` (default: AccelTran's 0.5 activation / 0.5 weight).
    seq_len: sequence length N (default 128).
    legacy: return :func:`legacy.simulate_fast` dicts instead (original units: nJ, no sparsity or
      seq_len choice; raises ConfigError if those are changed).
    batch_size: override the configs' batch (None: each config's ``batch_size``).
    space: accelerator space used for validation (e.g. ``AccelTranSpace()``).
    op_table: a pre-lowered table (skips lowering).
    shard: shard the config axis over all local devices.
    vocab_size: rows of the input embedding table (default 30522, BERT WordPiece); for continuous
      token features (e.g. 8 pixel rows of a digit) pass the feature width, so that the table models
      the input projection.

  Returns:
    one dict per config, in order (keys :data:`RESULT_KEYS` + ``energy_components``).

  Raises:
    SpaceError: model dict or config outside its space, sparsity outside [0, 1).
    ConfigError: empty config list; legacy mode with a non-default seq_len / sparsity / batch.
  """
  configs = list(configs)
  if not configs:
    raise ConfigError("configs: an empty list; give at least one accelerator config")
  md = resolve_model(model_dict) if op_table is None else None
  if legacy:
    if (seq_len != W.DEFAULT_SEQ_LEN or sparsity is not None or batch_size is not None
        or vocab_size != W.VOCAB_SIZE):
      raise ConfigError("legacy: the legacy simulator fixes seq_len=128, sparsity 0.5/0.5 and the "
                        "config's batch; leave seq_len, sparsity and batch_size at their defaults")
    from jaxcodesign.hardware.legacy import simulate_fast
    return [simulate_fast(md, c, space=space) for c in configs]
  table = op_table if op_table is not None else W.lower_transformer(
      md, seq_len=seq_len, batch_size=batch_size, vocab_size=vocab_size)
  s_a, s_w = sparsity_pair(sparsity)
  arrays = A.config_arrays(configs, space=space)
  n = len(configs)
  results: list[dict] = []
  for lo in range(0, n, CHUNK):
    hi = min(n, lo + CHUNK)
    size = A.config_bucket(hi - lo) if n <= CHUNK else CHUNK
    chunk = A.pad_configs({k: v[lo:hi] for k, v in arrays.items()}, size)
    sa = _pad_rows(_slice_sparsity(s_a, lo, hi, n), hi - lo, size)
    sw = _pad_rows(_slice_sparsity(s_w, lo, hi, n), hi - lo, size)
    out = A.simulate_batch(table, chunk, sa, sw, shard=shard)
    out = _to_numpy(out)
    for i in range(hi - lo):
      results.append(_row(out, i, configs[lo + i]))
  return results


def _pad_rows(a, n, size):
  if a is None or a.ndim == 0 or a.shape[0] != n or n == size:
    return a
  return np.concatenate([a, np.repeat(a[-1:], size - n, axis=0)])


def _to_numpy(tree):
  import jax
  return jax.tree.map(np.asarray, tree)


def _row(out, i, cfg) -> dict:
  comps = {k: {"dynamic_j": float(v[0][i]), "leakage_j": float(v[1][i])}
           for k, v in out["energy_components"].items()}
  return {
      "cycles": int(out["cycles"][i]),
      "latency_s": float(out["latency_s"][i]),
      "energy_j": float(out["energy_j"][i]),
      "energy_dynamic_j": float(out["energy_dynamic_j"][i]),
      "energy_leakage_j": float(out["energy_leakage_j"][i]),
      # closed form in float32 (within ~1e-7 of area_power.acceltran_area_mm2's float64 loop)
      "area_mm2": float(out["area_mm2"][i]),
      "peak_power_w": float(out["peak_power_w"][i]),
      "avg_power_w": float(out["avg_power_w"][i]),
      "fits": bool(out["fits"][i]),
      "utilisation": {k: float(v[i]) for k, v in out["utilisation"].items()},
      "energy_components": comps,
      "batch_size": int(out["batch_size"][i]),
  }
