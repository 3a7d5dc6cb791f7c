"""Generic spaces: boxes, integer grids, categoricals, products and typed DAGs."""

import itertools
import math

import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.spaces import generic as gs


def test_box_space():
  s = gs.BoxSpace([0.0, -1.0], [2.0, 1.0])
  pts = s.sample(jax.random.PRNGKey(0), 50)
  x = np.array(pts)
  assert x.shape == (50, 2) and np.all(x >= [0, -1]) and np.all(x <= [2, 1])
  lhs = np.array(s.sample(jax.random.PRNGKey(1), 10, "lhs"))
  for d, (lo, hi) in enumerate([(0, 2), (-1, 1)]):  # one sample per stratum in every coordinate
    assert sorted(np.floor((lhs[:, d] - lo) / (hi - lo) * 10).astype(int)) == list(range(10))
  np.testing.assert_allclose(s.to_features([1.0, 0.0]), [0.5, 0.5])
  assert s.project([1.5, -0.2]) == [2.0, -1.0]
  for p in pts[:5]:
    np.testing.assert_allclose(s.project(s.to_features(p)), p, rtol=1e-6)
  with pytest.raises(SpaceError, match="point\\[1\\]"):
    s.validate([1.0, 3.0])
  with pytest.raises(ValueError, match="method"):
    s.sample(0, 2, "sobol")
  with pytest.raises(ConfigError):
    gs.BoxSpace([1.0], [0.0])
  assert s.size() == math.inf


def test_integer_space():
  s = gs.IntegerSpace([0, 5], [3, 5])
  assert s.size() == 4
  assert s.project([0.49, 0.9]) == [1, 5] and s.project([2.0, -1.0]) == [3, 5]
  lhs = s.sample(jax.random.PRNGKey(0), 8, "lhs")
  assert sorted(p[0] for p in lhs) == [0, 0, 1, 1, 2, 2, 3, 3]
  for p in s.sample(3, 20):
    assert s.validate(p) == p and s.project(s.to_features(p)) == p
  with pytest.raises(SpaceError, match="point\\[0\\]"):
    s.validate([1.5, 5])
  with pytest.raises(SpaceError, match="point\\[1\\]"):
    s.validate([1, 6])


def test_categorical_space():
  s = gs.CategoricalSpace(["a", "b", {"k": 1}])
  np.testing.assert_array_equal(s.to_features("b"), [0, 1, 0])
  assert s.project([0.1, 0.2, 0.7]) == {"k": 1}
  lhs = s.sample(jax.random.PRNGKey(0), 7, "lhs")
  counts = sorted(sum(1 for x in lhs if x == c) for c in s.choices)
  assert counts == [2, 2, 3]
  with pytest.raises(SpaceError, match="allowed"):
    s.validate("c")
  with pytest.raises(ConfigError):
    gs.CategoricalSpace(["a", "a"])


def test_product_space():
  s = gs.ProductSpace({"x": gs.BoxSpace([0.0], [1.0]), "n": gs.IntegerSpace([1], [4]),
                       "c": gs.CategoricalSpace(["relu", "silu"])})
  assert s.feature_dim == 4 and s.size() == math.inf
  assert gs.ProductSpace({"n": gs.IntegerSpace([1], [4]), "c": gs.CategoricalSpace([1, 2, 3])}).size() == 12
  pts = s.sample(jax.random.PRNGKey(0), 6, "lhs")
  for p in pts:
    assert s.validate(p) == p
    q = s.project(s.to_features(p))
    assert q["n"] == p["n"] and q["c"] == p["c"] and abs(q["x"][0] - p["x"][0]) < 1e-6
  assert s.project([2.0, 0.4, 0.9, 0.1]) == {"x": [1.0], "n": [2], "c": "relu"}
  with pytest.raises(SpaceError, match="point"):
    s.validate({"x": [0.5]})
  assert s.hash(pts[0]) != s.hash(pts[1])


def test_full_dag_counts():
  for v in range(2, 6):
    assert len(gs.full_dag_matrices(v)) == gs.count_full_dags(v)
    assert all(gs.is_full_dag(a) for a in gs.full_dag_matrices(v))
  assert [gs.count_full_dags(v) for v in (2, 3, 4)] == [1, 2, 10]
  assert len(gs.full_dag_matrices(5, 8)) == 113  # CNNBench modules: V = 5, at most V + 3 edges
  # mask order: edge x -> y is bit x + y (y - 1) / 2 (graph_hashes.md 3.1); mask 0b111 on V=3 = full
  np.testing.assert_array_equal(gs.full_dag_matrices(3)[-1], [[0, 1, 1], [0, 0, 1], [0, 0, 0]])


def _typed():
  return gs.TypedGraphSpace(["conv", "pool"], max_nodes=4, min_nodes=3, input_type="in", output_type="out")


def test_typed_graph_size_by_enumeration():
  s = _typed()
  count = 0
  for n in (3, 4):
    tri = list(zip(*np.triu_indices(n, 1)))
    for bits in itertools.product([0, 1], repeat=len(tri)):
      a = np.zeros((n, n), int)
      for (i, j), b in zip(tri, bits):
        a[i, j] = b
      for types in itertools.product(s.node_types, repeat=n - 2):
        count += s.is_valid({"matrix": a.tolist(), "types": ["in", *types, "out"]})
  assert count == s.size() == 2 * 2 + 10 * 4  # 2 full DAGs on 3 vertices, 10 on 4


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_typed_graph_sample_and_project(seed):
  s = _typed()
  for p in s.sample(jax.random.PRNGKey(seed), 3):
    assert s.validate(p) == p and s.project(s.to_features(p)) == p
  f = np.random.default_rng(seed).random(s.feature_dim)
  q = s.project(f)
  s.validate(q)
  assert s.project(s.to_features(q)) == q


def test_typed_graph_errors_and_graph():
  s = _typed()
  good = {"matrix": [[0, 1, 1], [0, 0, 1], [0, 0, 0]], "types": ["in", "conv", "out"]}
  with pytest.raises(SpaceError, match="cyclic"):
    s.validate({**good, "matrix": [[0, 1, 1], [1, 0, 1], [0, 0, 0]]})
  with pytest.raises(SpaceError, match="dangling"):
    s.validate({**good, "matrix": [[0, 0, 1], [0, 0, 1], [0, 0, 0]]})
  with pytest.raises(SpaceError, match="types\\[1\\]"):
    s.validate({**good, "types": ["in", "fc", "out"]})
  g = s.graph(good)
  assert int(g.n_node[0]) == 3 and int(g.n_edge[0]) == 3 and g.nodes.shape == (3, 2)
  assert s.hash(good) != s.hash({**good, "types": ["in", "pool", "out"]})
