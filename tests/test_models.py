"""Structure tests of jaxcodesign.models: param-count formulas, infer_shapes agreement, heads, data,
npz validation, table oracle, weight-transfer bookkeeping. No training here (tests/test_models_train.py).
Shapes are checked with ``jax.eval_shape`` (no compilation) wherever values are not needed."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.models import (FlexiBERT, TableOracle, TrainingOracle, build_cnn, cnn_cost,
                                flexibert_param_count, hetero_to_small, load_digits_dataset, load_npz)
from jaxcodesign.models.train import TrainConfig, init_model
from jaxcodesign.models.transfer import nearest_neighbour, transfer_units, transfer_variables
from jaxcodesign.spaces.cnnbench import SMALL_BASE_OPS, SMALL_DENSE_OPS, CNNBenchSpace, infer_shapes
from jaxcodesign.spaces.flexibert import OP_TYPES, small_to_flexibert2

MIXED = {"l": 3, "o": [["sa_sdp_8", "sa_wma_8", "l_dft_8", "l_dct_8"], ["c_5_16", "c_9_8", "c_13_8"],
                       ["sa_sdp_16", "c_9_16", "l_dct_16", "sa_wma_16"]],
         "h": [32, 32, 64], "f": [[64], [64, 32], [128, 64, 32]]}
ALL_HEADS = {"l": 1, "o": [[f"{k}_4" for k in OP_TYPES]], "h": [28], "f": [[16]]}


def _n_leaves(tree):
  return sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(tree))


@pytest.mark.parametrize("md,kw", [
    (MIXED, {"input_dim": 8}),
    (MIXED, {"vocab_size": 50}),
    (ALL_HEADS, {"input_dim": 8}),
    ({"l": 2, "a": [2, 4], "h": [128, 256], "s": ["sdp", "wma"], "f": [512, 1024]}, {"input_dim": 3}),
])
def test_flexibert_param_count_matches_flax_tree(md, kw):
  model = FlexiBERT(md, num_classes=7, max_len=8, vocab_size=kw.get("vocab_size"))
  x = (jnp.zeros((2, 8), jnp.int32) if "vocab_size" in kw else jnp.zeros((2, 8, kw["input_dim"])))
  shapes = jax.eval_shape(lambda k: model.init(k, x), jax.random.key(0))
  assert _n_leaves(shapes["params"]) == flexibert_param_count(md, 7, 8, **kw)
  out = jax.eval_shape(lambda v: model.apply(v, x), shapes)
  assert out.shape == (2, 7)


def test_flexibert_projection_only_between_different_sizes():
  x = jnp.zeros((1, 8, 8))
  shapes = jax.eval_shape(lambda k: FlexiBERT(MIXED, 10, 8).init(k, x), jax.random.key(0))["params"]
  assert "proj_2" in shapes and "proj_1" not in shapes
  assert shapes["proj_2"]["kernel"].shape == (32, 64)
  # one head's parameters: a d x d matrix only for weighted multiplicative attention
  assert shapes["layer_0"]["head_1"]["wma"].shape == (8, 8)
  assert "wma" not in shapes["layer_0"]["head_0"]


def test_every_head_type_contributes():
  model = FlexiBERT(ALL_HEADS, num_classes=10, max_len=8)
  x = jax.random.normal(jax.random.key(1), (4, 8, 8))
  v = init_model(model, jax.random.key(0), x)
  apply = jax.jit(lambda p: model.apply({"params": p}, x))
  grads = jax.jit(jax.grad(lambda p: jnp.sum(apply(p) ** 2)))(v["params"])
  base = apply(v["params"])
  for i, kind in enumerate(OP_TYPES):
    g = grads["layer_0"][f"head_{i}"]
    norms = {k: float(jnp.sqrt(sum(jnp.sum(a ** 2) for a in jax.tree_util.tree_leaves(sub))))
             for k, sub in g.items()}
    assert all(n > 0 for n in norms.values()), (kind, norms)
    # perturbing only this head's value projection changes the logits
    p2 = jax.tree_util.tree_map(lambda a: a, v["params"])
    p2["layer_0"][f"head_{i}"]["value"]["kernel"] = p2["layer_0"][f"head_{i}"]["value"]["kernel"] + 0.5
    assert not np.allclose(apply(p2), base, atol=1e-5), kind


def test_token_mixing_heads_mix_tokens():
  # a change at token 0 must reach token 7 through every non-attention token mixer of width 8+
  from jaxcodesign.models.flexibert import Head
  for op in ("l_dft_4", "l_dct_4", "c_13_4"):
    head = Head(op.rsplit("_", 1)[0], 4)
    x = jax.random.normal(jax.random.key(0), (1, 8, 4))
    v = head.init(jax.random.key(1), x)
    jac = jax.jit(jax.jacobian(lambda z: head.apply(v, z)[0, 5]))(x)  # d out[token 5] / d x
    assert float(jnp.abs(jac[0, 0]).sum()) > 0, op


def test_flexibert_rejects_bad_ops():
  with pytest.raises(SpaceError):
    flexibert_param_count({"l": 1, "o": [["sa_foo_8"]], "h": [8], "f": [[8]]}, 10, 8, input_dim=8)
  with pytest.raises(SpaceError):
    flexibert_param_count({"l": 2, "o": [["sa_sdp_8"]], "h": [8], "f": [[8]]}, 10, 8, input_dim=8)


# ---- CNNBench --------------------------------------------------------------------------------
SPACE = CNNBenchSpace(base_ops=SMALL_BASE_OPS + ("conv3x3-c16-p1-s2-bn-silu", "upsample-s6", "channel_shuffle-g8",
                                                 "dropout-p2", "conv1x1-c24-g4-bn-relu", "conv3x3-c8-bn-relu"),
                      dense_ops=SMALL_DENSE_OPS, input_shape=(1, 8, 8), max_modules=4, modules_per_stack=1,
                      head_vertices=6, num_classes=10)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cnn_params_and_shapes_match_infer_shapes(seed):
  for p in SPACE.sample(jax.random.key(seed), 3):
    net = build_cnn(p, 10)
    x = jnp.zeros((2, 8, 8, 1))
    shapes = jax.eval_shape(lambda k: net.init(k, x), jax.random.key(0))
    rows = infer_shapes(p, (1, 8, 8), 10)
    assert _n_leaves(shapes["params"]) == sum(r.params for r in rows) == cnn_cost(p, (8, 8, 1), 10)["params"]
    _, state = jax.eval_shape(lambda v: net.apply(v, x, mutable=["intermediates"]), shapes)
    last = {(r.module, r.vertex): r for r in rows}  # last row of each vertex = its output
    head = len(p["modules"]) - 1
    checked = 0
    for (m, v), r in last.items():
      scope = state["intermediates"]["head" if m == head else f"module_{m}"]
      if f"v{v}" not in scope:
        continue  # head vertex 1 (flatten/gap) is folded into the next dense row
      shp = tuple(scope[f"v{v}"][0].shape)
      want = (2, r.out_hw[0], r.out_hw[1], r.out_channels) if len(shp) == 4 else (2, r.out_channels)
      assert shp == want, (m, v, r)
      checked += 1
    assert checked >= len(p["modules"])


def test_cnn_batchnorm_train_and_eval_modes():
  p = {"modules": [{"matrix": [[0, 1, 0], [0, 0, 1], [0, 0, 0]], "labels": ["input", "conv3x3-c8-p1-bn-relu",
                                                                           "output"]},
                   {"matrix": [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
                    "labels": ["input", "global-avg-pool", "dense_classes", "output"]}]}
  net = build_cnn(p, 10)
  x = jax.random.normal(jax.random.key(0), (8, 8, 8, 1)) * 3 + 1
  v = init_model(net, jax.random.key(0), x)
  assert "batch_stats" in v
  y_train, upd = net.apply(v, x, train=True, mutable=["batch_stats"])
  y_eval = net.apply(v, x, train=False)
  assert not np.allclose(y_train, y_eval)  # batch statistics vs running averages
  mean = upd["batch_stats"]["module_0"]["bn_1"]["mean"]
  assert not np.allclose(mean, v["batch_stats"]["module_0"]["bn_1"]["mean"])


# ---- data ------------------------------------------------------------------------------------
def test_digits_split_fixed_stratified_disjoint():
  a = load_digits_dataset(seed=0, layout="image")
  b = load_digits_dataset(seed=0, layout="sequence")
  c = load_digits_dataset(seed=1, layout="image")
  assert a.x_train.shape[1:] == (8, 8, 1) and b.x_train.shape[1:] == (8, 8)
  n = len(a.y_train) + len(a.y_val) + len(a.y_test)
  assert n == 1797 and abs(len(a.y_train) / n - 0.6) < 0.01 and abs(len(a.y_val) / n - 0.2) < 0.01
  np.testing.assert_array_equal(a.x_train[..., 0], b.x_train)  # same split for both layouts
  assert not np.array_equal(a.y_train, c.y_train)
  assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0 and a.x_train.max() > 0.9
  for y in (a.y_train, a.y_val, a.y_test):  # stratified: every class share within 2 points of 10 %
    frac = np.bincount(y, minlength=10) / len(y)
    assert np.all(np.abs(frac - 0.1) < 0.02)


def _npz(tmp_path, **over):
  rng = np.random.default_rng(0)
  arrays = {"x_train": rng.random((20, 4, 4)), "y_train": rng.integers(0, 3, 20),
            "x_val": rng.random((6, 4, 4)), "y_val": rng.integers(0, 3, 6),
            "x_test": rng.random((6, 4, 4)), "y_test": rng.integers(0, 3, 6)}
  arrays.update(over)
  arrays = {k: v for k, v in arrays.items() if v is not None}
  path = tmp_path / "d.npz"
  np.savez(path, **arrays)
  return path


def test_npz_validation(tmp_path):
  ds = load_npz(_npz(tmp_path), layout="image")
  assert ds.x_train.shape == (20, 4, 4, 1) and ds.num_classes == 3
  cases = [({"y_val": None}, "y_val"), ({"x_test": np.zeros((6, 5, 4))}, "x_test"),
           ({"y_train": np.zeros(19, int)}, "y_train"), ({"y_test": np.array([0, 1, 2, 3, -1, 0])}, "y_test"),
           ({"y_val": np.full(6, 0.5)}, "y_val"), ({"x_train": np.zeros((0, 4, 4)), "y_train": np.zeros(0, int)},
                                                   "x_train")]
  for over, key in cases:
    with pytest.raises(ConfigError, match=key):
      load_npz(_npz(tmp_path, **over))
  with pytest.raises(ConfigError, match="y_train"):  # labels outside an explicit class count
    load_npz(_npz(tmp_path), num_classes=2)
  with pytest.raises(ConfigError, match="dataset"):
    load_npz(tmp_path / "missing.npz")
  # the oracle validates the file before any training
  with pytest.raises(ConfigError, match="x_val"):
    TrainingOracle("cnnbench", dataset=str(_npz(tmp_path, x_val=np.zeros((6, 3, 3)))))


def test_train_config_validation():
  with pytest.raises(ConfigError, match="epochs"):
    TrainConfig(epochs=0)
  with pytest.raises(ConfigError, match="bogus"):
    TrainConfig.from_dict({"bogus": 1})
  with pytest.raises(ConfigError, match="kind"):
    TrainingOracle("resnet")


# ---- table oracle ----------------------------------------------------------------------------
def test_table_oracle(fixtures_dir):
  path = fixtures_dir / "flexibert_small" / "library.jsonl"
  rows = [json.loads(l) for l in path.read_text().splitlines()]
  sst = TableOracle(path, task="SST-2")
  measured = [r for r in rows if "SST-2" in r["accuracy"]][:5]
  got = sst.evaluate([r["model_dict"] for r in measured])
  assert [g["accuracy"] for g in got] == [r["accuracy"]["SST-2"] for r in measured]
  # the equivalent hetero dict and the hash give the same value
  hetero = small_to_flexibert2(measured[0]["model_dict"])
  assert hetero_to_small(hetero) == measured[0]["model_dict"]
  assert sst.evaluate([hetero, measured[0]["hash"]])[0]["accuracy"] == measured[0]["accuracy"]["SST-2"]
  unmeasured = next(r for r in rows if "SST-2" not in r["accuracy"])
  with pytest.raises(SpaceError):
    sst.evaluate([unmeasured["model_dict"]])
  with pytest.raises(SpaceError):  # not a small-library design
    sst.evaluate([{"l": 1, "o": [["c_9_64", "sa_sdp_64"]], "h": [128], "f": [[512]]}])
  with pytest.raises(ConfigError, match="task"):
    TableOracle(path, task="MNLI")


# ---- weight transfer bookkeeping ---------------------------------------------------------------
def test_transfer_units_and_copy():
  a = {"l": 2, "o": [["sa_sdp_8"] * 2, ["l_dct_8"] * 2], "h": [16, 16], "f": [[32], [32]]}
  b = {"l": 3, "o": [["sa_sdp_8"] * 2, ["c_5_8"] * 2, ["sa_sdp_8"] * 4], "h": [16, 16, 32], "f": [[32], [32], [32]]}
  c = dict(a, h=[32, 32], o=[["sa_sdp_16"] * 2, ["l_dct_16"] * 2])
  assert transfer_units("flexibert", a, b) == ["embed", "pos_embed", "layer_0"]
  assert transfer_units("flexibert", a, a)[-1] == "classifier"
  assert transfer_units("flexibert", a, c) == []
  assert nearest_neighbour("flexibert", b, [c, a]) == (1, 1)
  x = jnp.zeros((1, 8, 8))
  va = init_model(FlexiBERT(a, 10, 8), jax.random.key(0), x)
  vb = init_model(FlexiBERT(b, 10, 8), jax.random.key(1), x)
  out, units = transfer_variables("flexibert", a, va, b, vb)
  assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(vb)
  for u in units:
    for s, d in zip(jax.tree_util.tree_leaves(va["params"][u]), jax.tree_util.tree_leaves(out["params"][u])):
      np.testing.assert_array_equal(s, d)
  for u in ("layer_1", "layer_2", "classifier"):
    for s, d in zip(jax.tree_util.tree_leaves(vb["params"][u]), jax.tree_util.tree_leaves(out["params"][u])):
      np.testing.assert_array_equal(s, d)
  # CNN: identical first module transfers, a different second module stops the prefix
  p, q = SPACE.sample(jax.random.key(7), 2)
  mixed = {"modules": [p["modules"][0]] + q["modules"][1:]} if len(q["modules"]) > 1 else None
  if mixed is not None and len(p["modules"]) > 1:
    assert transfer_units("cnnbench", p, mixed)[:1] == ["module_0"]
  assert transfer_units("cnnbench", p, p)[-1] == "head"


def test_table_oracle_refuses_percent_accuracies(tmp_path, fixtures_dir):
  # a library row with an accuracy in percent (83.1) would outrank every real fraction: refused
  from jaxcodesign.errors import DataError
  row = json.loads((fixtures_dir / "flexibert_small" / "library.jsonl").read_text().splitlines()[0])
  task = next(iter(row["accuracy"]))
  row["accuracy"][task] = 83.1
  bad = tmp_path / "library.jsonl"
  bad.write_text(json.dumps(row) + "\n")
  with pytest.raises(DataError, match="83.1"):
    TableOracle(bad, task=task)
  bad.write_text("{not json\n")
  with pytest.raises(DataError, match="line 1"):
    TableOracle(bad, task=task)
