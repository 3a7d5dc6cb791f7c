"""Sparsity inputs of the AccelTran model reach the right operand (mutation survivors of
docs/mutation.md): weight sparsity alone changes the cost in inference, gradient sparsity does not
touch an inference table, and the per-config [n] and per-op [n, O] forms equal the scalar form."""

import jax
import numpy as np

from jaxcodesign.hardware import acceltran as A
from jaxcodesign.hardware import workload as W
from jaxcodesign.spaces.accelerators import ElectorSpace
from jaxcodesign.spaces.flexibert import NAMED_MODELS

TABLE = W.lower_transformer(NAMED_MODELS["bert_tiny"])
CONFIGS = ElectorSpace().sample(jax.random.key(11), 6)
CFG = A.config_arrays(CONFIGS)


def _run(s_a, s_w, s_g=None):
  out = A.simulate_batch(TABLE, CFG, s_a, s_w, s_g)
  return {k: np.asarray(out[k]) for k in ("cycles", "energy_dynamic_j", "energy_j")}


def test_weight_sparsity_alone_reaches_the_weights():
  dense, w_only, a_only = _run(0.0, 0.0), _run(0.0, 0.5), _run(0.5, 0.0)
  # Weight sparsity skips MACs and compresses weight traffic: strictly less dynamic energy.
  assert np.all(w_only["energy_dynamic_j"] < dense["energy_dynamic_j"])
  assert np.all(w_only["cycles"] <= dense["cycles"])
  # Per-op costs with the weight sparsity given to op_costs directly (independent path) agree.
  cfg0 = {k: float(v[0]) for k, v in CFG.items()}
  by_op = A.op_costs(TABLE.arrays(), cfg0, 0.0, 0.5)
  dense_op = A.op_costs(TABLE.arrays(), cfg0, 0.0, 0.0)
  n = TABLE.n_ops
  assert np.sum(by_op["comp"][:n]) < np.sum(dense_op["comp"][:n])
  # The two operands are distinct inputs: swapping them changes the answer for some config.
  assert not np.allclose(w_only["energy_dynamic_j"], a_only["energy_dynamic_j"])


def test_gradient_sparsity_is_ignored_in_inference():
  base = _run(0.3, 0.4)
  for s_g in (0.0, 0.5, 0.9):
    other = _run(0.3, 0.4, s_g)
    np.testing.assert_array_equal(other["cycles"], base["cycles"])
    np.testing.assert_allclose(other["energy_j"], base["energy_j"], rtol=1e-6)


def test_per_config_and_per_op_forms_equal_the_scalar_form():
  n, n_ops = len(CONFIGS), int(np.shape(TABLE.arrays()["kind"])[0])
  scalar = _run(0.2, 0.6)
  per_cfg = _run(np.full(n, 0.2, np.float32), np.full(n, 0.6, np.float32))
  per_op = _run(np.full((n, n_ops), 0.2, np.float32), np.full((n, n_ops), 0.6, np.float32))
  for out in (per_cfg, per_op):
    np.testing.assert_array_equal(out["cycles"], scalar["cycles"])
    np.testing.assert_allclose(out["energy_j"], scalar["energy_j"], rtol=1e-6)
