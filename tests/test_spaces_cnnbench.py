"""CNNBench space: hashes against the fixture, op grammar, validation, shapes, sampling, projection."""

import itertools
import json

import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from jaxcodesign.errors import SpaceError
from jaxcodesign.spaces import get_space
from jaxcodesign.spaces import cnnbench as cb


@pytest.fixture(scope="module")
def dataset(fixtures_dir):
  with open(fixtures_dir / "cnnbench" / "dataset_test.json") as f:
    return json.load(f)


def _points(dataset):
  return [cb.point_from_lists(m, l) for m, l in zip(dataset["matrices"], dataset["labels"])]


SMALL = dict(base_ops=cb.SMALL_BASE_OPS, dense_ops=cb.SMALL_DENSE_OPS, input_shape=(1, 8, 8),
             max_modules=4, modules_per_stack=1, head_vertices=6)


@pytest.fixture(scope="module")
def small():
  return cb.CNNBenchSpace(**SMALL)


@pytest.fixture(scope="module")
def default():
  return cb.CNNBenchSpace()


def chain(n):
  return np.eye(n, k=1, dtype=int).tolist()


def head(labels):
  labels = ["input"] + labels + ["output"]
  return {"matrix": chain(len(labels)), "labels": labels}


# ---- vocabulary and hashes ------------------------------------------------------------------------
def test_default_vocabulary_is_published(dataset):
  cfg = dataset["config"]
  assert list(cb.CNNBENCH_BASE_OPS) == cfg["base_ops"]
  assert list(cb.CNNBENCH_DENSE_OPS) == cfg["dense_ops"]
  assert list(cb.CNNBENCH_FLATTEN_OPS) == cfg["flatten_ops"]
  assert cb.DEFAULT_CHANNELS == cfg["default_channels"] and cb.HASH_ALGO == cfg["hash_algo"]


def test_all_fixture_hashes(dataset):
  space = cb.CNNBenchSpace(input_shape=(3, 224, 224))  # the library's image size
  points = _points(dataset)
  assert [cb.graph_hash(p) for p in points] == dataset["hashes"]
  # the space validates every library graph (incl. shapes at 224) and hashes it identically
  assert all(space.hash(p) == h for p, h in zip(points[::25], dataset["hashes"][::25]))


def test_module_hash_spec_example():
  # graph_hashes.md 9.1
  h = cb.module_hash([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "maxpool3x3", "output"])
  assert h == "0fd919e11ee1f63fcc05f9743164f6056f93023264a7b78a322d5a8b5e4b3e9d"


def test_merged_hash_vgg11():
  # graph_hashes.md 9.4: the authors' printed vgg11 value (merged) and the simple hash
  c = "conv3x3-c{}-p1-bn-relu"
  blocks = [[c.format(64)], [c.format(128)], [c.format(256)] * 2, [c.format(512)] * 2, [c.format(512)] * 2]
  mods = [head(b + ["maxpool3x3-s2"]) for b in blocks]
  mods.append(head(["flatten", "dense-4096-relu", "dropout-p5", "dense-4096-relu", "dropout-p5",
                    "dense_classes"]))
  point = {"modules": mods}
  assert cb.graph_hash(point, merge=True) == "ad0a60f4a4077a823e03c806612b1739d7dbdcb9955a77b582d18ba9eea0a6b8"
  assert cb.graph_hash(point) == "8208c4ba1d6af622ed52aa8367241d7b87801b9831d059d6982cee0ca935e82f"
  merged = cb.merge_modules(cb._modules_of(point))
  assert len(merged) == 1 and len(merged[0][1]) == 21


def test_merged_hash_hand_built():
  # two mergeable modules (output in-degree 1) followed by a non-mergeable one
  m1 = {"matrix": [[0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
        "labels": ["input", "conv1x1-c8-bn-relu", "maxpool3x3", "output"]}
  m2 = {"matrix": chain(3), "labels": ["input", "avgpool3x3", "output"]}
  m3 = {"matrix": [[0, 1, 1], [0, 0, 1], [0, 0, 0]], "labels": ["input", "maxpool3x3", "output"]}
  spliced = {"matrix": [[0, 1, 1, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0] * 5],
             "labels": ["input", "conv1x1-c8-bn-relu", "maxpool3x3", "avgpool3x3", "output"]}
  assert cb.graph_hash({"modules": [m1, m2, m3]}, merge=True) == cb.graph_hash({"modules": [spliced, m3]})
  assert cb.graph_hash({"modules": [m1, m2, m3]}) != cb.graph_hash({"modules": [spliced, m3]})


def test_merge_is_identity_without_mergeable_pairs(dataset):
  p = _points(dataset)[0]  # conv modules have output in-degree > 1
  assert cb.graph_hash(p, merge=True) == cb.graph_hash(p) == dataset["hashes"][0]


# ---- op grammar -----------------------------------------------------------------------------------
def test_parse_every_fixture_label(dataset):
  labels = {x for g in dataset["labels"] for m in g for x in m} | set(dataset["config"]["base_ops"])
  labels |= set(dataset["config"]["dense_ops"]) | set(dataset["config"]["flatten_ops"])
  kinds = {cb.parse_cnn_op(l).kind for l in labels}
  assert kinds == {"input", "output", "conv", "maxpool", "avgpool", "upsample", "channel_shuffle", "dropout",
                   "flatten", "gap", "dense", "dense_classes"}


def test_parse_fields():
  op = cb.parse_cnn_op("conv3x3-c64-dw-p1-s2-bn-relu")
  assert (op.kind, op.kernel, op.channels, op.depthwise, op.padding, op.stride, op.batchnorm, op.activation) == \
      ("conv", 3, 64, True, 1, 2, True, "relu")
  op = cb.parse_cnn_op("conv11x11-c64-p3-s4-bn-relu")
  assert (op.kernel, op.padding, op.stride) == (11, 3, 4)
  assert cb.parse_cnn_op("conv1x1-c96-g8-bn-silu")[:7] == ("conv", 1, 96, 1, 0, 8, False)
  assert cb.parse_cnn_op("maxpool3x3-s2-p1")[:5] == ("maxpool", 3, None, 2, 1)
  assert cb.parse_cnn_op("avgpool3x3").stride == 1
  assert cb.parse_cnn_op("dropout-p11").prob == pytest.approx(0.11)
  assert cb.parse_cnn_op("dropout-p5").prob == pytest.approx(0.5)
  assert cb.parse_cnn_op("upsample-s240").size == 240
  assert cb.parse_cnn_op("channel_shuffle-g8").groups == 8
  assert (cb.parse_cnn_op("dense-84-relu").units, cb.parse_cnn_op("dense-84-relu").activation) == (84, "relu")
  assert cb.parse_cnn_op("global-avg-pool").kind == "gap"


@pytest.mark.parametrize("label", ["conv3x3-c64-xx", "foo", "conv3x5-c4", "dropout", "dense-12-tanh",
                                   "conv3x3-bn-bn", "conv3x3-relu-bn", "maxpool3x3-bn", "upsample-g2",
                                   "conv3x3-c0", "conv3x3-dw-g2"])
def test_parse_rejects(label):
  with pytest.raises(SpaceError, match="label") as e:
    cb.parse_cnn_op(label)
  assert label in str(e.value) and "conv<k>x<k>" in str(e.value)


# ---- validation -----------------------------------------------------------------------------------
def _valid_small():
  mod = {"matrix": [[0, 1, 1, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 1], [0, 0, 0, 0, 1], [0] * 5],
         "labels": ["input", "conv3x3-c16-p1-bn-relu", "maxpool3x3-p1", "conv1x1-c32-bn-relu", "output"]}
  return {"modules": [mod, head(["global-avg-pool", "dense-32-relu", "dense_classes"])]}


def _mutate(fn):
  p = json.loads(json.dumps(_valid_small()))
  fn(p)
  return p


@pytest.mark.parametrize("mutation,field", [
    (lambda p: p["modules"][0]["labels"].__setitem__(1, "conv3x3-c16-zz"), "modules[0].labels[1]"),
    (lambda p: p["modules"][0]["labels"].__setitem__(1, "conv5x5-c16-bn-relu"), "modules[0].labels[1]"),
    (lambda p: p["modules"][0]["matrix"][3].__setitem__(1, 1), "modules[0].matrix"),  # back edge: cyclic
    (lambda p: p["modules"][0].__setitem__("matrix", np.triu(np.ones((5, 5), int), 1).tolist()),
     "modules[0].matrix"),  # 10 edges > max_edges 8
    (lambda p: p["modules"][0]["matrix"][1].__setitem__(2, 0), "modules[0].matrix"),  # vertex 1 dangling
    (lambda p: p["modules"][0]["labels"].__setitem__(0, "conv1x1-c16-bn-relu"), "modules[0].labels[0]"),
    (lambda p: p["modules"][-1]["labels"].__setitem__(1, "dense-32-relu"), "modules[1].labels[1]"),
    (lambda p: p["modules"][-1]["labels"].__setitem__(3, "dense-32-relu"), "modules[1].labels[3]"),
    (lambda p: p["modules"][-1]["matrix"][0].__setitem__(2, 1), "modules[1].matrix"),  # head not a chain
    (lambda p: p["modules"].pop(0), "modules"),
    (lambda p: p["modules"].insert(0, head(["maxpool3x3-p1"])), "modules[0].labels"),  # wrong size
])
def test_validate_rejects(small, mutation, field):
  space = small
  space.validate(_valid_small())
  with pytest.raises(ValueError) as e:
    space.validate(_mutate(mutation))
  assert repr(field) in str(e.value)


def test_cyclic_message(small):
  p = _mutate(lambda p: p["modules"][0]["matrix"][3].__setitem__(1, 1))
  with pytest.raises(SpaceError, match="cyclic"):
    small.validate(p)
  p = _mutate(lambda p: p["modules"][0]["matrix"][1].__setitem__(2, 0))
  with pytest.raises(SpaceError, match="dangling vertex 1"):
    small.validate(p)
  p = _mutate(lambda p: p["modules"][0].__setitem__("matrix", np.triu(np.ones((5, 5), int), 1).tolist()))
  with pytest.raises(SpaceError, match="too many edges"):
    small.validate(p)


def test_stacks_must_repeat(dataset):
  space = cb.CNNBenchSpace(input_shape=(3, 224, 224))
  p = _points(dataset)[0]
  p["modules"][1] = p["modules"][4]  # differs from modules[0] inside the first stack of 4
  with pytest.raises(SpaceError, match="identical"):
    space.validate(p)


def test_shape_collapse_is_invalid():
  space = cb.CNNBenchSpace(base_ops=["conv11x11-c4-bn-relu", "conv1x1-c4-bn-relu"], input_shape=(1, 8, 8),
                           max_modules=1, modules_per_stack=1, module_vertices=3, head_vertices=4)
  p = {"modules": [{"matrix": chain(3), "labels": ["input", "conv11x11-c4-bn-relu", "output"]},
                   head(["flatten", "dense_classes"])]}
  with pytest.raises(SpaceError, match="modules\\[0\\].labels\\[1\\]"):
    space.validate(p)
  # same layout, larger input: there the point is valid; its features projected in `space` get repaired
  big = cb.CNNBenchSpace(base_ops=space.base_ops, input_shape=(1, 16, 16), max_modules=1, modules_per_stack=1,
                         module_vertices=3, head_vertices=4)
  q = space.project(big.to_features(p))
  assert q["modules"][0]["labels"][1] == "conv1x1-c4-bn-relu"  # repaired to the size-preserving op
  assert space.is_valid(q)


# ---- shapes ---------------------------------------------------------------------------------------
def test_infer_shapes_hand_checked():
  mod = {"matrix": [[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
         "labels": ["input", "conv3x3-c4-p1-bn-relu", "maxpool3x3-s2-p1", "output"]}
  point = {"modules": [mod, head(["global-avg-pool", "dense-16-relu", "dense_classes"])]}
  rows = cb.infer_shapes(point, (2, 8, 8), 10)
  got = [(r.module, r.vertex, r.kind, r.in_channels, r.out_channels, r.in_hw, r.out_hw, r.params, r.macs)
         for r in rows]
  assert got == [
      (0, 1, "conv", 2, 4, (8, 8), (8, 8), 72, 72 * 64),
      (0, 1, "bn", 4, 4, (8, 8), (8, 8), 8, 256),
      (0, 1, "relu", 4, 4, (8, 8), (8, 8), 0, 0),
      (0, 2, "proj", 2, 4, (8, 8), (8, 8), 8, 512),  # input projected to 4 channels before the sum
      (0, 2, "add", 4, 4, (8, 8), (8, 8), 0, 256),
      (0, 2, "maxpool", 4, 4, (8, 8), (4, 4), 0, 0),
      (0, 3, "upsample", 4, 4, (4, 4), (8, 8), 0, 0),  # nearest resize before the concat
      (0, 3, "concat", 8, 8, (8, 8), (8, 8), 0, 0),
      (0, 3, "proj", 2, 8, (8, 8), (8, 8), 16, 1024),  # module input -> output skip
      (0, 3, "add", 8, 8, (8, 8), (8, 8), 0, 512),
      (1, 1, "gap", 8, 8, (8, 8), (1, 1), 0, 512),
      (1, 2, "dense", 8, 16, (1, 1), (1, 1), 144, 128),
      (1, 2, "relu", 16, 16, (1, 1), (1, 1), 0, 0),
      (1, 3, "dense", 16, 10, (1, 1), (1, 1), 170, 160),
  ]
  assert sum(r.params for r in rows) == 418
  assert {r.kind for r in rows} <= set(cb.LAYER_KINDS)
  flat = cb.infer_shapes({"modules": [mod, head(["flatten", "dense_classes"])]}, (2, 8, 8), 3)
  assert flat[-2].out_channels == 8 * 8 * 8 and flat[-1].params == 512 * 3 + 3


def test_groups_rules():
  def conv_row(label, cin):
    mod = {"matrix": chain(3), "labels": ["input", label, "output"]}
    return cb.infer_shapes({"modules": [mod, head(["flatten", "dense_classes"])]}, (cin, 8, 8), 2)[0]
  r = conv_row("conv3x3-c32-dw-p1-bn-relu", 16)
  assert (r.kind, r.groups, r.params) == ("dwconv", 16, 9 * 1 * 32)
  r = conv_row("conv1x1-c32-g8-bn-relu", 12)  # largest g <= 8 dividing 12 and 32
  assert (r.kind, r.groups, r.params) == ("gconv", 4, 3 * 32)
  r = conv_row("conv3x3-c32-dw-p1-bn-relu", 1)
  assert (r.kind, r.groups) == ("conv", 1)
  r = conv_row("conv3x3-bn-relu", 3)
  assert (r.out_channels, r.out_hw) == (cb.DEFAULT_CHANNELS, (6, 6))


def test_shapes_chain_between_modules(dataset):
  rows = cb.infer_shapes(_points(dataset)[0], (3, 224, 224), 10)
  by_mod = {}
  for r in rows:
    by_mod.setdefault(r.module, []).append(r)
  for m in range(1, len(by_mod) - 1):  # a module's first row consumes the previous module's output
    last = by_mod[m - 1][-1]
    assert by_mod[m][0].in_hw == last.out_hw
  assert rows[-1].out_channels == 10


# ---- sampling, features, projection ---------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_sampled_points_valid(small, default, seed):
  for space in (small, default):
    pts = space.sample(jax.random.PRNGKey(seed), 2)
    for p in pts:
      assert space.validate(p) == p
      f = space.to_features(p)
      assert f.shape == (space.feature_dim,) and f.min() >= 0 and f.max() <= 1
      assert space.project(f) == p


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_projection_valid_and_idempotent(small, default, seed):
  rng = np.random.default_rng(seed)
  for space in (small, default):
    q = space.project(rng.random(space.feature_dim))
    space.validate(q)
    f = space.to_features(q)
    assert space.project(f) == q
    np.testing.assert_array_equal(space.to_features(space.project(f)), f)


def test_projection_is_nearest_dag(small):
  p = small.sample(0, 1)[0]
  f = small.to_features(p)
  # flip one adjacency bit slightly past 0.5: the nearest valid DAG is still the original one unless
  # the flipped matrix is itself valid
  base = small.max_stacks
  f2 = f.copy()
  f2[base] = 0.45 if f[base] == 1 else 0.55
  q = small.project(f2)
  assert q == p or q["modules"][0]["matrix"] != p["modules"][0]["matrix"]
  d_orig = ((small.to_features(p) - f2) ** 2).sum()
  d_new = ((small.to_features(q) - f2) ** 2).sum()
  assert d_new <= d_orig + 1e-9


def test_size_exact_by_enumeration():
  space = cb.CNNBenchSpace(base_ops=["conv1x1-c4-bn-relu", "maxpool3x3-p1"], module_vertices=3,
                           max_modules=2, modules_per_stack=1, head_vertices=5,
                           flatten_ops=["flatten", "global-avg-pool"],
                           dense_ops=["dense-8-relu", "dropout-p5", "dense-4-silu"], input_shape=(1, 4, 4))
  # 2 full DAGs on 3 vertices, 2 ops: 4 modules; 1 or 2 stacks: 4 + 16; heads: 2 + 2 * 3
  assert space.size() == (4 + 16) * 8
  mods = [{"matrix": m, "labels": ["input", o, "output"]}
          for m in ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [[0, 1, 1], [0, 0, 1], [0, 0, 0]]) for o in space.base_ops]
  heads = [head([f] + list(d) + ["dense_classes"]) for f in space.flatten_ops for k in (0, 1)
           for d in itertools.product(space.dense_ops, repeat=k)]
  points = [{"modules": list(ms) + [h]} for n in (1, 2) for ms in itertools.product(mods, repeat=n)
            for h in heads]
  assert all(space.is_valid(p) for p in points)
  assert len({json.dumps(p) for p in points}) == space.size()


def test_default_space_description(default):
  d = default.describe()
  assert d["n_module_dags"] == 113 and d["size"] == default.size() > 10**39
  assert get_space("cnnbench").name == "cnnbench"


# ---- graph view -----------------------------------------------------------------------------------
def test_graph_counts(dataset):
  space = cb.CNNBenchSpace(input_shape=(3, 224, 224))
  p = _points(dataset)[0]
  g = space.graph(p)
  n_nodes = sum(len(m["labels"]) for m in p["modules"])
  n_edges = sum(int(np.sum(m["matrix"])) for m in p["modules"]) + len(p["modules"]) - 1
  assert n_nodes == 16 * 5 + 8
  assert g.nodes.shape == (n_nodes, len(cb.NODE_KINDS) + 8)
  assert int(g.n_node[0]) == n_nodes and int(g.n_edge[0]) == n_edges == len(g.senders)
  assert np.all(g.senders < g.receivers) and g.edges.sum() == len(p["modules"]) - 1
  assert g.nodes.min() >= 0 and g.nodes.max() <= 1
  assert np.all(g.nodes[:, :len(cb.NODE_KINDS)].sum(1) == 1)
