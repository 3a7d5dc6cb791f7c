"""ELECTOR / AccelTran / AccelBench accelerator design spaces."""

import collections
import hashlib
import itertools
import json

import jax
import numpy as np
import pytest
import yaml

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.spaces import get_space
from jaxcodesign.spaces.accelerators import (MAIN_MEMORY_TABLE, NAMED_ACCELERATORS, AccelBenchSpace,
                                             AccelTranSpace, ElectorSpace)


def _yaml(fixtures_dir, *parts):
  return yaml.safe_load(fixtures_dir.joinpath(*parts).read_text())


@pytest.fixture(scope="module")
def sample_rows(fixtures_dir):
  return json.loads((fixtures_dir / "transcode" / "simulate_fast_sample.json").read_text())


@pytest.mark.parametrize("cls,fname", [(AccelTranSpace, "design_space.yaml"),
                                       (ElectorSpace, "design_space_elector.yaml")])
def test_allowed_values_match_yaml(fixtures_dir, cls, fname):
  ds = _yaml(fixtures_dir, "acceltran", "design_space", fname)
  params = cls().describe()["parameters"]
  assert params["tile_b"] == ds["tile"]["tile_b"]
  assert params["tile_x"] == ds["tile"]["tile_x"] == ds["tile"]["tile_y"]
  assert params["non_linearity"] == ds["non_linearity"]
  for k in ("pe", "lanes_per_pe", "mac_per_lane", "softmax_per_pe", "batch_size",
            "activation_buffer_size", "weight_buffer_size", "mask_buffer_size"):
    assert params[k] == ds[k], k
  table = [(t, m["banks"], m["ranks"], m["channels"])
           for t, lst in ds["main_memory_config"].items() for m in lst]
  assert table == list(MAIN_MEMORY_TABLE)


def test_sizes_and_counting_rule():
  assert ElectorSpace().size() == 14_850_000
  assert AccelTranSpace().size() == 17_820_000
  assert AccelBenchSpace().size() == 228_433_920
  assert get_space("elector").size() == 14_850_000
  # TransCODE-reachable (gelu only) ELECTOR points.
  assert ElectorSpace(non_linearity=["gelu"]).size() == 7_425_000
  # Brute-force count of a small restricted space equals size(): ties counted once, rule applied.
  small = AccelTranSpace(pe=[64, 128], lanes_per_pe=[8], softmax_per_pe=[2, 4],
                         activation_buffer_size=[4], weight_buffer_size=[8], mask_buffer_size=[1, 2],
                         main_memory=[0, ("hbm", 32, 1, 4)])
  combos = itertools.product(*[p.values for p in small.params])
  n = sum(1 for c in combos if small.is_valid(small.from_index_vector(
      [p.values.index(v) for p, v in zip(small.params, c)])))
  assert n == small.size() == 2 * 3 * 2 * 2 * 2 * 2 * 3 * 2 * 2
  with pytest.raises(ConfigError, match="pe"):
    AccelTranSpace(pe=[100])
  with pytest.raises(ConfigError, match="unknown restriction"):
    AccelTranSpace(clock=[700])


def test_named_accelerators_and_nano(fixtures_dir):
  for name, fname in (("edge", "config_tiny.yaml"), ("server", "config_base.yaml")):
    raw = _yaml(fixtures_dir, "acceltran", "config", fname)
    for space in (ElectorSpace(), AccelTranSpace()):
      assert space.validate(raw) == NAMED_ACCELERATORS[name]
  nano = _yaml(fixtures_dir, "acceltran", "config", "config_nano.yaml")
  with pytest.raises(SpaceError, match="lanes_per_pe.*allowed: \\[8, 16, 32, 64, 128\\]"):
    AccelTranSpace().validate(nano)
  assert not ElectorSpace().is_valid(nano)


def test_validation_errors():
  space = ElectorSpace()
  edge = NAMED_ACCELERATORS["edge"]
  with pytest.raises(SpaceError, match="tile.tile_y"):
    space.validate(dict(edge, tile={"tile_b": 1, "tile_x": 16, "tile_y": 8}))
  with pytest.raises(SpaceError, match="'pe': 100.*64, 128, 256, 512, 1024"):
    space.validate(dict(edge, pe=100))
  with pytest.raises(SpaceError, match="batch_size"):
    space.validate(dict(edge, tile={"tile_b": 4, "tile_x": 16, "tile_y": 16}, batch_size=1))
  with pytest.raises(SpaceError, match="main_memory.*unknown"):
    space.validate(dict(edge, main_memory={"type": "dram", "banks": 4, "ranks": 2, "channels": 8}))
  with pytest.raises(SpaceError, match="main_memory.mode"):
    space.validate(dict(edge, main_memory=dict(edge["main_memory"], mode="hb")))
  with pytest.raises(SpaceError, match="mask_buffer_size"):
    space.validate(dict(edge, mask_buffer_size=0.5))  # only in the AccelTran space
  assert AccelTranSpace().validate(dict(edge, mask_buffer_size=0.5))["mask_buffer_size"] == 0.5
  with pytest.raises(SpaceError, match="non_linearity"):
    space.validate(dict(edge, non_linearity="silu"))
  with pytest.raises(SpaceError, match="frequency"):
    space.validate(dict(edge, frequency=700))
  with pytest.raises(SpaceError, match="pe"):
    space.validate(dict(edge, pe=True))
  with pytest.raises(SpaceError, match="scheduler.memory_ops"):
    space.validate(dict(edge, scheduler={"memory_ops": {"tiled": True, "batch_size": 1}}))
  # Integral floats are accepted and canonicalised.
  assert space.validate(dict(edge, pe=64.0)) == edge


def test_embedding_hash_matches_fixture_keys(sample_rows):
  space = ElectorSpace()
  seen = set()
  for key, row in sample_rows.items():
    emb = row["acc_embedding"]
    config = space.decode(emb)
    assert config["non_linearity"] == "gelu"
    assert config["main_memory"]["mode"] == ("lb" if config["main_memory"]["type"] == "dram" else "hb")
    assert config["scheduler"]["compute_ops"]["batch_size"] == config["pe"] // 4
    assert space.encode(config).tolist() == emb
    assert space.hash(config) == key.split("_")[0]
    seen.add(tuple(emb))
  assert len(seen) >= 3
  assert hashlib.md5(b"[4, 16, 16, 1024, 32, 16, 2, 4, 16, 64, 2, 8]").hexdigest() == \
      space.hash(space.decode([4, 16, 16, 1024, 32, 16, 2, 4, 16, 64, 2, 8]))
  relu = dict(space.decode(emb), non_linearity="relu")
  assert space.hash(relu) != space.hash(space.decode(emb))
  with pytest.raises(SpaceError, match="tile_y"):
    space.decode([4, 16, 8, 1024, 32, 16, 2, 4, 16, 64, 2, 8])
  with pytest.raises(SpaceError, match="mem_idx"):
    space.decode([4, 16, 16, 1024, 32, 16, 2, 4, 16, 64, 2, 11])
  with pytest.raises(SpaceError, match="12 values"):
    space.decode([4, 16, 16])


@pytest.mark.parametrize("cls", [ElectorSpace, AccelTranSpace, AccelBenchSpace])
def test_roundtrips_features_projection(cls):
  space = cls()
  pts = space.sample(jax.random.key(1), 40)
  assert all(space.is_valid(p) for p in pts)
  feats = space.to_features_batch(pts)
  assert feats.shape == (40, space.feature_dim) and feats.dtype == np.float32
  assert feats.min() >= 0 and feats.max() <= 1
  assert len(space.feature_names()) == space.feature_dim
  for p, f in zip(pts, feats):
    assert space.validate(p) == p
    assert space.project(f) == p  # idempotent on valid points
    assert space.from_index_vector(space.index_vector(p)) == p
    e = space.encode(p)
    if p.get("non_linearity", "gelu") == "gelu":
      assert space.decode(e) == p
  # Random vectors (also outside the box) project to valid points, and small noise is harmless.
  rng = np.random.default_rng(0)
  for x in rng.uniform(-0.5, 1.5, size=(20, space.feature_dim)):
    assert space.is_valid(space.project(x))
  noisy = feats[0] + rng.uniform(-0.01, 0.01, size=feats[0].shape)  # < half the smallest gap
  assert space.project(noisy) == pts[0]
  with pytest.raises(SpaceError, match="features"):
    space.project(np.zeros(space.feature_dim + 1))


def test_projection_nearest_in_log_space():
  space = AccelTranSpace()
  f = space.to_features(NAMED_ACCELERATORS["edge"])
  j = space.feature_names().index("pe")
  # pe positions: 64 -> 0, 128 -> .25, 256 -> .5, 512 -> .75, 1024 -> 1.
  for x, pe in ((0.1, 64), (0.13, 128), (0.6, 256), (0.99, 1024)):
    g = f.copy()
    g[j] = x
    assert space.project(g)["pe"] == pe
  k = space.feature_names().index("mask_buffer_size")
  g = f.copy()
  g[k] = 0.0
  assert space.project(g)["mask_buffer_size"] == 0.5
  # Memory one-hot: argmax wins.
  m0 = space.feature_names().index("main_memory=0")
  g = f.copy()
  g[m0:m0 + 11] = 0.1
  g[m0 + 10] = 0.7
  assert space.project(g)["main_memory"]["type"] == "hbm"


def test_uniform_sampling_over_allowed_values():
  space = ElectorSpace()
  pts = space.sample(jax.random.key(7), 2000)
  counts = collections.Counter(p["pe"] for p in pts)
  assert set(counts) == {64, 128, 256, 512, 1024}
  # Uniform over the 5 allowed values: each ~400 (a snapped-integer sampler would give pe=512
  # about 13x the mass of pe=64).
  assert max(counts.values()) / min(counts.values()) < 1.4
  mem = collections.Counter(p["main_memory"]["banks"] for p in pts if p["main_memory"]["type"] == "hbm")
  assert 120 < sum(mem.values()) < 250  # 1/11 of 2000 ~ 182
  assert all(p["tile"]["tile_x"] == p["tile"]["tile_y"] for p in pts)
  # Pure function of the key.
  assert space.sample(jax.random.key(9), 20) == space.sample(jax.random.key(9), 20)
  assert space.sample(jax.random.key(7), 5) != space.sample(jax.random.key(8), 5)
  with pytest.raises(ValueError, match="method"):
    space.sample(jax.random.key(0), 2, method="sobol")


def test_lhs_is_stratified():
  space = AccelTranSpace()
  pts = space.sample(jax.random.key(2), 30, method="lhs")
  for name, k in (("pe", 5), ("softmax_per_pe", 6), ("mask_buffer_size", 6)):
    counts = collections.Counter(p[name] for p in pts)
    assert len(counts) == k and set(counts.values()) == {30 // k}
  assert len(collections.Counter(p["tile"]["tile_x"] for p in pts)) == 3


def test_config_arrays():
  space = ElectorSpace()
  pts = [NAMED_ACCELERATORS["edge"], NAMED_ACCELERATORS["server"]]
  arr = space.config_arrays(pts)
  assert arr["pe"].tolist() == [64, 512] and arr["pe"].dtype == np.int32
  assert arr["tile_x"].tolist() == [16, 16] and arr["tile_index"].tolist() == [1, 1]
  assert arr["mem_index"].tolist() == [8, 4]
  assert arr["mem_type_index"].tolist() == [1, 0]
  assert arr["gelu"].tolist() == [1, 1]
  # the space emits the memory organisation only (dram 32-2-1, rram 32-2-1) ...
  assert arr["mem_banks"].tolist() == [32, 32] and arr["mem_ranks"].tolist() == [2, 2]
  assert arr["mem_channels"].tolist() == [1, 1]
  assert not any(k.startswith("mm_") for k in arr)
  np.testing.assert_allclose(arr["mask_buffer_size"], [1, 8])
  # ... and the hardware looks up its figures: yaml:main_memory.energy, channels x per-channel rate
  from jaxcodesign.hardware import constants as C
  mm = C.main_memory_arrays(arr["mem_index"])
  np.testing.assert_allclose(mm["mm_energy_nj"], [13.43777522, 8.63281599], rtol=1e-6)
  # one LPDDR3-1600 x32 channel 6.4 GB/s, one RRAM channel 8 GB/s (2**30 bytes, 700 MHz)
  np.testing.assert_allclose(mm["mm_bits_per_cycle"], [6.4 * 2 ** 33 / 700e6, 8 * 2 ** 33 / 700e6],
                             rtol=1e-6)
  np.testing.assert_allclose(C.main_memory_arrays(arr["mem_index"], bandwidth="type")[
      "mm_bits_per_cycle"], [314.146, 3141.46], rtol=1e-5)
  with pytest.raises(SpaceError):
    space.config_arrays([dict(pts[0], pe=3)])


def test_accelbench_space():
  space = AccelBenchSpace()
  params = space.describe()["parameters"]
  assert params["activation_buffer_size"] == [1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]
  assert params["mask_buffer_size"] == [1, 2, 3, 4]
  assert params["Pkx"] == [1, 3, 5, 7]
  spring = {"Pib": 2, "Pif": 16, "Pix": 8, "Piy": 4, "Pof": 8, "Pkx": 3, "Pky": 3, "batch_size": 1,
            "activation_buffer_size": 12, "weight_buffer_size": 24, "mask_buffer_size": 4,
            "main_memory": {"type": "rram", "banks": 16, "ranks": 2, "channels": 2}}
  assert space.validate(spring) == spring
  assert space.encode(spring).tolist() == [2, 16, 8, 4, 8, 3, 3, 1, 12, 24, 4, 0, 1]
  assert space.decode(space.encode(spring)) == spring
  assert space.hash(spring) == hashlib.md5(b"[2, 16, 8, 4, 8, 3, 3, 1, 12, 24, 4, 0, 1]").hexdigest()
  hbm = dict(spring, main_memory={"type": "hbm", "banks": 32, "ranks": 1, "channels": 4})
  assert space.encode(hbm).tolist()[-2:] == [2, 1]
  with pytest.raises(SpaceError, match="Pky"):
    space.validate(dict(spring, Pky=5))
  with pytest.raises(SpaceError, match="activation_buffer_size"):
    space.validate(dict(spring, activation_buffer_size=3))
  arr = space.config_arrays([spring])
  assert arr["pe"].tolist() == [64] and arr["lanes"].tolist() == [72]
  assert arr["mem_index"].tolist() == [0] and arr["mem_channels"].tolist() == [2]


@pytest.mark.parametrize("cls", [ElectorSpace, AccelBenchSpace])
def test_projection_properties_hypothesis(cls):
  """Property test: any feature vector projects to a valid config, and projection is idempotent."""
  from hypothesis import given, settings, strategies as st
  space = cls()
  d = space.feature_dim

  @settings(max_examples=60, deadline=None)
  @given(st.lists(st.floats(-1.0, 2.0, allow_nan=False), min_size=d, max_size=d))
  def check(x):
    p = space.project(np.asarray(x, np.float32))
    assert space.is_valid(p)
    assert space.project(space.to_features(p)) == p

  check()


@pytest.mark.parametrize("cls", [ElectorSpace, AccelBenchSpace])
def test_projection_of_arbitrary_features_hypothesis(cls):
  """Any feature vector, NaN and infinities included: a finite one projects to a valid, idempotent
  point; a non-finite one is refused with SpaceError naming 'features' (never a silent point)."""
  from hypothesis import given, settings, strategies as st
  space = cls()
  d = space.feature_dim

  @settings(max_examples=80, deadline=None)
  @given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=d, max_size=d))
  def check(x):
    x = np.asarray(x, np.float32)
    if not np.all(np.isfinite(x)):
      with pytest.raises(SpaceError, match="features"):
        space.project(x)
      return
    p = space.project(x)
    assert space.is_valid(p)
    assert space.project(space.to_features(p)) == p

  check()


@pytest.mark.parametrize("cls,length", [(ElectorSpace, 12), (AccelBenchSpace, 13)])
def test_decode_of_arbitrary_embeddings_hypothesis(cls, length):
  """decode of any list of numbers (NaN, inf, fractions, out-of-range, wrong length) is either a
  valid config whose encoding decodes to itself, or a SpaceError; embeddings drawn from the allowed
  values round-trip exactly."""
  from hypothesis import given, settings, strategies as st
  space = cls()
  sample = space.encode(space.sample(jax.random.key(0), 1)[0]).tolist()
  values = [sorted({float(v) for v in col}) for col in zip(*[space.encode(p).tolist() for p in
                                                               space.sample(jax.random.key(1), 200)])]
  number = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 5000))

  one_bad = st.tuples(st.integers(0, length - 1), number).map(
      lambda ib: [ib[1] if i == ib[0] else x for i, x in enumerate(sample)])

  @settings(max_examples=120, deadline=None)
  @given(st.one_of(st.lists(number, min_size=0, max_size=length + 2), one_bad,
                   st.lists(st.sampled_from([0, 1]), min_size=length, max_size=length).map(
                       lambda mask: [s if m else v[0] for s, m, v in zip(sample, mask, values)])))
  def check(e):
    try:
      c = space.decode(e)
    except SpaceError:
      return
    assert space.is_valid(c)
    assert space.decode(space.encode(c)) == c
    assert [float(x) for x in space.encode(c)] == [float(x) for x in e]

  check()
