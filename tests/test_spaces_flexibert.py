"""FlexiBERT 2.0 / 1.0 / small spaces: fixture embeddings and hashes, sizes, validation, features,
projection, sampling statistics and the jraph graph view."""

import itertools
import json
import math

import jax
import jraph
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.spaces import get_space
from jaxcodesign.spaces.flexibert import (
    NAMED_MODELS, NODE_FEATURES, OP_TYPES, FlexiBERT1Space, FlexiBERT2Space, FlexiBERTSmallSpace, HeadOp,
    block_graph, bucket_budget, flexibert1_to_flexibert2, pad_graphs, parse_op, small_to_flexibert2,
    transformer_graph)
from jaxcodesign.spaces.graph_hash import hex_digest, wl_hash

FB2 = FlexiBERT2Space()
# A tiny restricted space, small enough to enumerate: per layer (hidden 4: heads 1 or 2) x
# (multisets of 2 types: 2 for one head, 3 for two) x (FF depth 1-2 over 2 widths: 2 + 4) = 5 * 6 = 30.
TINY = dict(layers=(1, 2), hidden=(4,), heads=(1, 2), op_types=("sa_sdp", "c_9"), ff_depths=(1, 2), custom_values=True,
            ff_widths=(8, 16))


def _rows(fixtures_dir):
  with open(fixtures_dir / "protran" / "measurements.jsonl") as fh:
    return [json.loads(line) for line in fh]


def _enumerate(space):
  """All points of a small FlexiBERT2Space, by brute force over every embedding."""
  dim = 1 + 3 * space.max_layers
  per = [range(len(space.hidden)), range(space._ff.count), range(space._n_head_sets)]
  pts = {}
  for li, l in enumerate(space.layers):
    for combo in itertools.product(*(per * l)):
      e = [li] + list(combo) + [0] * (dim - 1 - len(combo))
      try:
        p = space.decode(e)
      except SpaceError:
        continue
      pts[json.dumps(p)] = p
  return list(pts.values())


# ---------------------------------------------------------------------------------------------
# fixtures: embeddings, round trips, hashes
# ---------------------------------------------------------------------------------------------
def test_protran_embeddings_and_round_trip(fixtures_dir):
  rows = _rows(fixtures_dir)
  assert len(rows) == 629
  for r in rows:
    assert FB2.encode(r["model_dict"]).tolist() == r["embedding"]
    # fixture rows are stored in canonical head order, so decode gives them back exactly
    assert FB2.decode(r["embedding"]) == r["model_dict"]
    assert FB2.encode(FB2.decode(r["embedding"])).tolist() == r["embedding"]


def test_protran_hashes(fixtures_dir):
  seen = {}
  for r in _rows(fixtures_dir):
    seen[r["hash"]] = r["model_dict"]
  assert len(seen) == 560
  for h, md in seen.items():
    assert FB2.hash(md) == h


def test_transcode_embeddings_and_hashes(fixtures_dir):
  with open(fixtures_dir / "transcode" / "simulate_fast_sample.json") as fh:
    data = json.load(fh)
  assert len(data) == 48
  for key, v in data.items():
    assert FB2.encode(v["model_dict"]).tolist() == v["txf_embedding"]
    assert FB2.hash(v["model_dict"]) == key.split("_")[1]


def test_worked_examples_9_6_and_9_7():
  tiny = NAMED_MODELS["bert_tiny"]
  assert FB2.hash(tiny) == "2a58522c0a32538ca780ba18cfeddbba"
  a, labels, _ = block_graph(tiny["o"], tiny["f"])
  assert wl_hash(a, labels, "md5", 5) == "43830781125dcb4e869c5453194cccc6"
  row = {"l": 2, "o": [["l_dct_16"] * 3 + ["c_9_16"] * 2 + ["c_13_16"] * 3,
                       ["sa_sdp_42"] * 5 + ["l_dft_42", "l_dct_42"] + ["c_5_42"] * 3 + ["c_13_42"] * 2],
         "h": [128, 512], "f": [[1024, 2048, 1024], [512, 3072, 512]]}
  assert FB2.hash(row) == "03178f54ee891bcecbff6f8413cf5959"
  g = transformer_graph(row)
  assert int(g.n_node[0]) == 32 and int(g.n_edge[0]) == 53


def test_head_order_canonicalisation_and_hash_invariance():
  row = {"l": 2, "o": [["c_13_16", "l_dct_16", "sa_wma_16", "c_13_16", "l_dct_16", "sa_sdp_16", "c_5_16", "c_9_16"],
                       ["sa_sdp_64", "sa_sdp_64"]], "h": [128, 128], "f": [[512], [256, 4096]]}
  canon = FB2.validate(row)
  assert canon["o"][0] == ["sa_sdp_16", "sa_wma_16", "l_dct_16", "l_dct_16", "c_5_16", "c_9_16",
                           "c_13_16", "c_13_16"]
  assert FB2.decode(FB2.encode(row)) == canon
  assert FB2.hash(row) == FB2.hash(canon)
  # FF order and layer order do change the hash (suffix and graph)
  swapped = dict(canon, f=[[512], [4096, 256]])
  assert FB2.hash(swapped) != FB2.hash(canon)


# ---------------------------------------------------------------------------------------------
# sizes
# ---------------------------------------------------------------------------------------------
def test_fb2_size_exact():
  per_layer = 4 * (6 + 6 ** 2 + 6 ** 3) * sum(math.comb(7 + n - 1, n) for n in (2, 4, 8, 12))
  assert per_layer == 22_502_760
  assert FB2.size() == sum(per_layer ** l for l in (2, 4, 6, 8, 10, 12))
  assert f"{float(FB2.size()):.3e}" == "1.686e+88"
  assert FB2.feature_dim == 12 * (1 + 4 + 4 + 7 + 3 + 3)


def test_restricted_size_matches_enumeration():
  space = FlexiBERT2Space(**TINY)
  pts = _enumerate(space)
  assert space.size() == 30 + 30 ** 2 == len(pts)
  assert len({space.hash(p) for p in pts}) == len(pts)  # hashes distinguish all of them
  # divisibility restriction: hidden 6 with heads 4 is dropped (6 // 4 = 1 but 6 % 4 != 0)
  div = FlexiBERT2Space(custom_values=True, layers=(1,), hidden=(6,), heads=(2, 4), op_types=("sa_sdp",), ff_depths=(1,),
                        ff_widths=(8,), divisible_heads=True)
  assert div.size() == 1
  assert FlexiBERT2Space(custom_values=True, layers=(1,), hidden=(6,), heads=(2, 4), op_types=("sa_sdp",), ff_depths=(1,),
                         ff_widths=(8,)).size() == 2


def test_fb1_size_and_hash():
  fb1 = get_space("flexibert1")
  assert fb1.size() == 3_317_817_600 == 240 ** 2 + 240 ** 4
  one = FlexiBERT1Space(layers=(1,), custom_values=True)
  pts = {json.dumps(one.decode([0] + list(c)))
         for c in itertools.product(range(2), range(6), range(2), range(10))}
  assert len(pts) == 240 == one.size()
  tiny1 = {"l": 2, "o": ["sa", "sa"], "h": [128, 128], "n": [2, 2], "f": [[512], [512]], "p": ["sdp", "sdp"]}
  assert fb1.hash(tiny1) == "79cadebed0d9211f265df75c88666c35c7b3b2e3823206c928f099d3a0faa444"
  assert FlexiBERT1Space(hash_algo="md5").hash(tiny1) == "a96ac76eaa6273fe0004dd6339e234c4"
  assert flexibert1_to_flexibert2(tiny1) == NAMED_MODELS["bert_tiny"]
  with pytest.raises(SpaceError, match="'o\\[1\\]/p\\[1\\]'"):
    fb1.validate(dict(tiny1, p=["sdp", "13"]))


def test_small_space_is_the_library(fixtures_dir):
  space = get_space("flexibert_small")
  assert isinstance(space, FlexiBERTSmallSpace) and space.size() == 2037
  with open(fixtures_dir / "flexibert_small" / "library.jsonl") as fh:
    lib = [json.loads(line) for line in fh]
  assert len(lib) == 2037
  assert {json.dumps(space.validate(r["model_dict"])) for r in lib} == {json.dumps(p) for p in space.points}
  for r in lib:
    assert FB2.is_valid(small_to_flexibert2(r["model_dict"]))
  # hashes (md5, V rounds, ~10 s for all rows on a loaded 2-core machine): every 4th row here; all
  # 2,037 were checked to reproduce during development. The subset covers both layer counts.
  sub = lib[::4]
  assert {r["model_dict"]["l"] for r in sub} == {2, 4}
  for r in sub:
    assert space.hash(r["model_dict"]) == r["hash"]
  assert small_to_flexibert2(lib[0]["model_dict"]) == NAMED_MODELS["bert_tiny"]
  with pytest.raises(SpaceError, match="non-decreasing"):
    space.validate({"l": 2, "a": [4, 2], "h": [128, 128], "s": ["sdp", "sdp"], "f": [512, 512]})
  p = space.points[123]
  assert space.decode(space.encode(p)) == p and space.project(space.to_features(p)) == p


# ---------------------------------------------------------------------------------------------
# parse_op, named models, validation errors
# ---------------------------------------------------------------------------------------------
def test_parse_op():
  assert parse_op("sa_sdp_64") == HeadOp("sa_sdp", "sdp", 64)
  assert parse_op("c_13_10") == HeadOp("c_13", 13, 10)
  assert parse_op("l_dct_16").family == "l"
  for bad in ["sa_xyz_64", "c_7_64", "sa_sdp", "sa_sdp_0", "sa_sdp_6.4", "conv_9_64", 5, "sa_sdp_064"]:
    with pytest.raises(SpaceError, match="'op'"):
      parse_op(bad)


def test_named_models(fixtures_dir):
  for name, md in NAMED_MODELS.items():
    assert FB2.validate(md) == md, name
  for name in ("bert_tiny", "bert_base"):
    with open(fixtures_dir / "acceltran" / "model_dicts" / f"{name}.json") as fh:
      assert json.load(fh) == NAMED_MODELS[name]
  assert NAMED_MODELS["bert_medium"]["l"] == 8 and NAMED_MODELS["bert_small"]["o"][0] == ["sa_sdp_64"] * 8


@pytest.mark.parametrize("change,field", [
    (dict(l=3), "'l'"),
    (dict(o=[["sa_sdp_64", "sa_sdp_64"]]), "'o'"),
    (dict(h=[128, 100]), "'h\\[1\\]'"),
    (dict(o=[["sa_sdp_64", "sa_xyz_64"], ["sa_sdp_64", "sa_sdp_64"]]), "'op'"),
    (dict(o=[["sa_sdp_32", "sa_sdp_32"], ["sa_sdp_64", "sa_sdp_64"]]), "'o\\[0\\]'"),
    (dict(o=[["sa_sdp_42"] * 3, ["sa_sdp_64", "sa_sdp_64"]]), "head count"),
    (dict(f=[[512], [513]]), "'f\\[1\\]'"),
    (dict(f=[[512], [512] * 4]), "FF depth"),
    (dict(f=[[512], 512]), "'f\\[1\\]'"),
    (dict(l=2.0), "'l'"),
    (dict(p=["sdp", "sdp"]), "model_dict"),
])
def test_validation_errors_name_the_field(change, field):
  md = dict(NAMED_MODELS["bert_tiny"], **change)
  with pytest.raises(SpaceError, match=field):
    FB2.validate(md)
  assert not FB2.is_valid(md)


def test_out_of_space_fixture_and_embeddings(fixtures_dir):
  with open(fixtures_dir / "acceltran" / "model_dicts" / "bert_nano.json") as fh:
    nano = json.load(fh)  # l = 1 but two layers of lists
  with pytest.raises(SpaceError):
    FB2.validate(nano)
  e = FB2.encode(NAMED_MODELS["bert_tiny"]).tolist()
  for bad in [e[:-1], [9] + e[1:], e[:7] + [1] + e[8:], e[:3] + [21805] + e[4:], e[:2] + [258] + e[3:]]:
    with pytest.raises(SpaceError, match="embedding"):
      FB2.decode(bad)
  # 12 heads are invalid with hidden 8 (d_head 0) in a restricted space
  small = FlexiBERT2Space(custom_values=True, layers=(1,), hidden=(8, 64), heads=(2, 12))
  with pytest.raises(SpaceError, match="head count"):
    small.decode([0, 0, 0, small._head_offsets[12]])
  with pytest.raises(SpaceError, match="head count"):
    FlexiBERT2Space(divisible_heads=True).validate(dict(NAMED_MODELS["bert_tiny"],
                                                        o=[["sa_sdp_10"] * 12] * 2))


def test_restriction_errors():
  for kwargs in [dict(op_types=("sa_xyz",)), dict(hidden=()), dict(hidden=(0, 4)), dict(layers=(2, 2)),
                 dict(hidden=(2,), heads=(4,))]:
    with pytest.raises(ConfigError):
      FlexiBERT2Space(**kwargs)
  with pytest.raises(ValueError, match="method"):
    FB2.sample(jax.random.key(0), 2, "sobol")


# ---------------------------------------------------------------------------------------------
# features and projection (hypothesis)
# ---------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 31 - 1), st.sampled_from(["uniform", "lhs", "exact"]))
def test_sampled_points_validate_and_project_back(seed, method):
  for p in FB2.sample(jax.random.key(seed), 2, method):
    assert FB2.validate(p) == p
    f = FB2.to_features(p)
    assert f.shape == (FB2.feature_dim,) and f.dtype == np.float32
    assert f.min() >= 0 and f.max() <= 1
    assert FB2.project(f) == p
    assert FB2.decode(FB2.encode(p)) == p


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 31 - 1))
def test_projection_of_random_features_is_valid(seed):
  rng = np.random.default_rng(seed)
  for space in (FB2, FlexiBERT2Space(**TINY), get_space("flexibert1")):
    y = rng.random(space.feature_dim) * rng.choice([0.5, 1.0, 2.0])
    p = space.project(y)
    assert space.is_valid(p)
    q = space.project(space.to_features(p))  # idempotent
    assert q == space.validate(p)


def test_projection_is_the_nearest_point():
  space = FlexiBERT2Space(**TINY)
  pts = _enumerate(space)
  feats = np.stack([space.to_features(p) for p in pts]).astype(np.float64)
  rng = np.random.default_rng(0)
  for _ in range(30):
    y = rng.random(space.feature_dim)
    p = space.project(y)
    d = np.sum((space.to_features(p) - y) ** 2)
    assert d <= np.min(np.sum((feats - y) ** 2, axis=1)) + 1e-6


# ---------------------------------------------------------------------------------------------
# sampling statistics
# ---------------------------------------------------------------------------------------------
def test_sampling_deterministic_per_key():
  a = FB2.sample(jax.random.key(7), 5)
  assert a == FB2.sample(jax.random.key(7), 5)
  assert a != FB2.sample(jax.random.key(8), 5)


def test_uniform_marginals_chi_square():
  space = FlexiBERT2Space(layers=(2, 4, 6), heads=(2,))
  pts = space.sample(jax.random.key(1), 900)
  counts = np.bincount([space.layers.index(p["l"]) for p in pts], minlength=3)
  assert stats.chisquare(counts).pvalue > 1e-4
  # per-choice uniform head multiset: each of the 28 two-head multisets of 7 types equally likely
  sets = [tuple(o) for p in pts for o in p["o"]]
  types = sorted({tuple(sorted(parse_op(x).kind for x in s)) for s in sets})
  assert len(types) == 28
  ms = np.array([sum(1 for s in sets if tuple(sorted(parse_op(x).kind for x in s)) == t) for t in types])
  assert stats.chisquare(ms).pvalue > 1e-4
  # op-type marginal: every type has share 1/7 of all heads
  op_counts = np.array([sum(parse_op(x).kind == t for s in sets for x in s) for t in OP_TYPES])
  share = op_counts / op_counts.sum()
  assert np.all(np.abs(share - 1 / 7) < 5 * np.sqrt((1 / 7) * (6 / 7) / len(sets)))


def test_lhs_stratifies_layer_counts():
  pts = FB2.sample(jax.random.key(3), 60, "lhs")
  assert np.bincount([FB2.layers.index(p["l"]) for p in pts]).tolist() == [10] * 6


def test_exact_sampling_is_uniform_over_points():
  space = FlexiBERT2Space(**dict(TINY, layers=(1,)))
  assert space.size() == 30
  pts = space.sample(jax.random.key(5), 1500, "exact")
  keys = [json.dumps(p) for p in pts]
  counts = np.array([keys.count(k) for k in sorted(set(keys))])
  assert len(counts) == 30 and stats.chisquare(counts).pvalue > 1e-4
  big = FB2.sample(jax.random.key(5), 3, "exact")
  assert all(p["l"] == 12 for p in big)  # uniform over the set: 12 layers almost surely


# ---------------------------------------------------------------------------------------------
# graph view
# ---------------------------------------------------------------------------------------------
def test_transformer_graph_counts_and_features():
  g = transformer_graph(NAMED_MODELS["bert_tiny"])
  assert isinstance(g, jraph.GraphsTuple)
  assert int(g.n_node[0]) == 12 and int(g.n_edge[0]) == 17
  assert g.nodes.shape == (12, len(NODE_FEATURES))
  np.testing.assert_array_equal(g.nodes[:, :11].sum(1), np.ones(12))
  assert g.edges[:, 0].sum() == 4  # two residual edges per layer
  mini = NAMED_MODELS["bert_mini"]  # 4 layers, 4 heads, one FF layer
  gm = transformer_graph(mini)
  assert int(gm.n_node[0]) == 2 + 4 * (4 + 1 + 2) and int(gm.n_edge[0]) == 1 + 4 * (2 * 4 + 1 + 3)
  mixed = {"l": 2, "o": [["sa_sdp_64", "l_dft_64"], ["c_9_32"] * 4], "h": [128, 128], "f": [[512, 1024], [256]]}
  gx = transformer_graph(mixed)
  assert int(gx.n_node[0]) == 2 + (2 + 2 + 2) + (4 + 1 + 2) and int(gx.n_edge[0]) == 1 + (4 + 2 + 3) + (8 + 1 + 3)
  head = gx.nodes[1]
  assert head[NODE_FEATURES.index("type_sa_sdp")] == 1 and np.isclose(head[-3], 64 / 768)
  ff = gx.nodes[4]
  assert ff[NODE_FEATURES.index("type_ff")] == 1 and np.isclose(ff[-1], 512 / 4096)
  # the small / FlexiBERT 1.0 formats are accepted through conversion
  tiny_small = {"l": 2, "a": [2, 2], "h": [128, 128], "s": ["sdp", "sdp"], "f": [512, 512]}
  np.testing.assert_array_equal(transformer_graph(tiny_small).nodes, g.nodes)


def test_hash_invariant_to_node_permutation():
  md = {"l": 2, "o": [["sa_sdp_64", "l_dft_64"], ["c_9_32"] * 4], "h": [128, 128], "f": [[512, 1024], [256]]}
  a, labels, _ = block_graph(md["o"], md["f"])
  f0 = wl_hash(a, labels, "md5", 5)
  rng = np.random.default_rng(0)
  for _ in range(3):
    perm = rng.permutation(len(labels))
    ap = a[np.ix_(perm, perm)]
    lp = [labels[i] for i in perm]
    assert wl_hash(ap, lp, "md5", 5) == f0
  assert hex_digest(f0 + "[128, 128][[512, 1024], [256]]") == FB2.hash(md)


def test_pad_graphs_and_budget():
  graphs = [transformer_graph(NAMED_MODELS[n]) for n in ("bert_tiny", "bert_mini", "bert_small")]
  n_node, n_edge, n_graph = bucket_budget(graphs)
  total_n = sum(int(g.n_node[0]) for g in graphs)
  assert n_node >= total_n + 1 and n_node & (n_node - 1) == 0 and n_node < 2 * (total_n + 1)
  assert n_edge & (n_edge - 1) == 0 and n_graph == 4
  padded = pad_graphs(graphs, n_node, n_edge, n_graph)
  assert padded.nodes.shape[0] == n_node and padded.senders.shape[0] == n_edge
  assert np.asarray(jraph.get_graph_padding_mask(padded)).tolist() == [True, True, True, False]
  with pytest.raises(ConfigError, match="n_node"):
    pad_graphs(graphs, total_n, n_edge, n_graph)
  assert FB2.graph(NAMED_MODELS["bert_tiny"]).n_node.tolist() == [12]
