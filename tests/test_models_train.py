"""Real training on scikit-learn digits (tiny models, small budgets): accuracies above chance that vary
across architectures, validation-only model selection, oracle caching, weight transfer vs. scratch."""

import jax
import numpy as np
import pytest

from jaxcodesign.models import FlexiBERT, TrainingOracle, cnn_cost, load_digits_dataset, train_model
from jaxcodesign.models.train import init_model
from jaxcodesign.models.transfer import transfer_variables
from jaxcodesign.spaces.cnnbench import SMALL_BASE_OPS, SMALL_DENSE_OPS, CNNBenchSpace

CHANCE = 0.1
A = {"l": 2, "o": [["sa_sdp_8", "sa_sdp_8"], ["sa_sdp_8", "sa_sdp_8"]], "h": [16, 16], "f": [[32], [32]]}
B = {"l": 2, "o": [["sa_sdp_8", "sa_sdp_8"], ["c_9_8", "l_dct_8"]], "h": [16, 16], "f": [[32], [32]]}


@pytest.fixture(scope="module")
def seq_data():
  return load_digits_dataset(seed=0, layout="sequence")


@pytest.fixture(scope="module")
def flexibert_oracle():
  oracle = TrainingOracle("flexibert", train_config={"epochs": 4, "patience": None}, seed=0, transfer=False)
  return oracle, oracle.evaluate([A, B, A])


def test_flexibert_accuracy_above_chance_and_varies(flexibert_oracle):
  oracle, (ra, rb, ra2) = flexibert_oracle
  for r in (ra, rb):
    assert r["accuracy"] == r["val_accuracy"] > 3 * CHANCE
    assert 0 < r["test_accuracy"] <= 1 and r["train_steps"] == 4 * (1078 // 64) and r["epochs"] == 4
    # the reported size equals the real Flax parameter tree (an independent count) and the
    # documented MAC formula of the model
    model = FlexiBERT(r_md := (A if r is ra else B), 10, max_len=8)
    tree = jax.eval_shape(lambda k: model.init(k, np.zeros((1, 8, 8), np.float32)), jax.random.key(0))
    assert r["params"] == sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(tree["params"]))
    from jaxcodesign.models.flexibert import model_macs
    assert r["macs"] == model_macs(r_md, 8, 8)
  assert ra["params"] != rb["params"] and ra["accuracy"] != rb["accuracy"]
  assert ra2 == ra and len(oracle.cache) == 2  # cached by hash: A trained once


def test_cnn_oracle_trains_and_reports_infer_shapes_cost():
  space = CNNBenchSpace(base_ops=SMALL_BASE_OPS, dense_ops=SMALL_DENSE_OPS, input_shape=(1, 8, 8), max_modules=1,
                        modules_per_stack=1, head_vertices=4, num_classes=10)
  p = {"modules": [{"matrix": [[0, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 1, 1], [0, 0, 0, 0, 1], [0] * 5],
                    "labels": ["input", "conv3x3-c16-p1-bn-relu", "conv1x1-c16-bn-relu", "maxpool3x3-s2-p1", "output"]},
                   {"matrix": [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0] * 4],
                    "labels": ["input", "flatten", "dense_classes", "output"]}]}
  oracle = TrainingOracle("cnnbench", train_config={"epochs": 3}, seed=0, space=space)
  (r,) = oracle.evaluate([p])
  assert r["accuracy"] > 3 * CHANCE
  cost = cnn_cost(p, (8, 8, 1), 10)
  assert (r["params"], r["macs"]) == (cost["params"], cost["macs"])
  assert list(oracle.cache) == [space.hash(p)]


def test_selection_never_sees_test_labels(seq_data):
  model = FlexiBERT(A, 10, max_len=8)
  cfg = {"epochs": 4, "patience": None}  # the oracle fixture's budget: compiled programs are reused
  r1 = train_model(model, seq_data, cfg, jax.random.key(3))
  wrong = seq_data._replace(y_test=(seq_data.y_test + 1) % 10)  # every test label wrong
  r2 = train_model(model, wrong, cfg, jax.random.key(3))
  assert r1["val_history"] == r2["val_history"]
  assert (r1["best_epoch"], r1["val_accuracy"]) == (r2["best_epoch"], r2["val_accuracy"])
  assert r1["best_epoch"] == int(np.argmax(r1["val_history"])) + 1  # first best validation epoch
  assert r2["test_accuracy"] < r1["test_accuracy"]  # the test split was measured, just not used


def test_weight_transfer_beats_scratch_at_equal_steps(seq_data):
  """Measurement: B initialised from a trained A (shared embedding + first layer) vs. from scratch,
  both for the same 2 epochs and the same key. Measured on digits (split seed 0, hidden 32, A trained
  8 epochs to 0.81): transfer 0.67-0.69 vs. scratch 0.50-0.60 validation accuracy for keys 1-3. With
  hidden 16 and A at 6 epochs (0.62) the effect is within noise (transfer won 2 of 3 keys)."""
  a32 = {"l": 2, "o": [["sa_sdp_16"] * 2] * 2, "h": [32, 32], "f": [[64], [64]]}
  b32 = {"l": 2, "o": [["sa_sdp_16"] * 2, ["c_9_16", "l_dct_16"]], "h": [32, 32], "f": [[64], [64]]}
  ra = train_model(FlexiBERT(a32, 10, 8), seq_data, {"epochs": 8, "patience": None}, jax.random.key(0))
  model_b = FlexiBERT(b32, 10, 8)
  key = jax.random.key(1)
  fresh = init_model(model_b, jax.random.split(key)[0], seq_data.x_train[:1])
  init, units = transfer_variables("flexibert", a32, ra["variables"], b32, fresh)
  assert units == ["embed", "pos_embed", "layer_0"]
  cfg = {"epochs": 2, "patience": None}
  scratch = train_model(model_b, seq_data, cfg, key)
  transfer = train_model(model_b, seq_data, cfg, key, init_variables=init)
  assert transfer["train_steps"] == scratch["train_steps"]
  assert transfer["val_accuracy"] >= scratch["val_accuracy"]
