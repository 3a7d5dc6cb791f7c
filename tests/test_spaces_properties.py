"""Properties every design space must have (issue 8): decoding an arbitrary embedding either gives a
valid point that re-encodes to the same embedding or raises SpaceError; projecting an arbitrary feature
vector (NaN and infinity included) either gives a valid point or raises SpaceError naming 'features';
restrictions only shrink a space and unknown restriction keys are refused; counts below 0 are refused."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.spaces import get_space

SPACES = {name: get_space(name) for name in
          ("flexibert2", "flexibert1", "flexibert_small", "cnnbench", "elector", "acceltran",
           "accelbench")}
# Embedding lengths of the spaces with an original embedding (FlexiBERT 2.0: 37 ints; ELECTOR /
# AccelTran: 12 raw values; AccelBench: its flat config vector), taken from a sampled point.
EMB = {}
for _name, _s in SPACES.items():
  try:
    EMB[_name] = len(_s.encode(_s.sample(jax.random.key(0), 1)[0]))
  except NotImplementedError:
    pass


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(EMB)), st.data())
def test_decode_of_arbitrary_embedding_is_valid_or_refused(name, data):
  space = SPACES[name]
  n = EMB[name]
  base = np.asarray(space.encode(space.sample(jax.random.key(data.draw(st.integers(0, 999))), 1)[0]))
  # Either a perturbed real embedding (often valid) or arbitrary integers (mostly invalid).
  if data.draw(st.booleans()):
    e = base.copy()
    i = data.draw(st.integers(0, n - 1))
    e[i] = e[i] + data.draw(st.integers(-3, 3))
  else:
    e = np.asarray(data.draw(st.lists(st.integers(-5, 5000), min_size=n, max_size=n)))
  try:
    p = space.decode(e.tolist())
  except SpaceError:
    return
  assert space.is_valid(p)
  assert space.validate(p) == p
  np.testing.assert_array_equal(np.asarray(space.encode(p)), np.asarray(e))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(SPACES)), st.integers(0, 2 ** 31 - 1),
       st.sampled_from(["normal", "nan", "inf", "huge"]))
def test_projection_of_arbitrary_features(name, seed, kind):
  space = SPACES[name]
  rng = np.random.default_rng(seed)
  f = rng.normal(0.5, 2.0, space.feature_dim)
  if kind == "huge":
    f = f * 1e30
  if kind in ("nan", "inf"):
    f[rng.integers(space.feature_dim)] = np.nan if kind == "nan" else -np.inf
    with pytest.raises(SpaceError, match="features"):
      space.project(f)
    return
  p = space.project(f)
  assert space.is_valid(p)
  assert space.project(space.to_features(p)) == space.validate(p)  # idempotent on valid points


def test_wrong_length_features_refused():
  s = SPACES["elector"]
  with pytest.raises(SpaceError, match="features"):
    s.project(np.zeros(s.feature_dim + 1))


@pytest.mark.parametrize("name,kwargs", [("flexibert2", {"layers": [3]}), ("flexibert2", {"hidden": [100]}),
                                         ("flexibert1", {"hidden": [512]}),
                                         ("flexibert_small", {"ff_widths": [4096]})])
def test_restrictions_only_shrink(name, kwargs):
  with pytest.raises(ConfigError, match="outside the space"):
    get_space(name, **kwargs)
  key = next(iter(kwargs))
  # the same field restricted to a published value shrinks the space
  sub = get_space(name, **{key: [getattr(SPACES[name], key)[0]]})
  assert 0 < sub.size() < SPACES[name].size()
  # a custom space (outside the published values) is possible, but only on purpose
  assert get_space(name, custom_values=True, **kwargs).size() > 0


def test_unknown_restriction_keys_refused():
  with pytest.raises(ConfigError, match="unknown field.*'layer'"):
    get_space("flexibert2", layer=[2])
  with pytest.raises(ConfigError, match="allowed"):
    get_space("nospace")


@pytest.mark.parametrize("name", sorted(SPACES))
def test_negative_or_non_integer_counts_refused(name):
  space = SPACES[name]
  for bad in (-3, 2.5, "4", True):
    with pytest.raises(SpaceError, match="'n'"):
      space.sample(jax.random.key(0), bad)
  assert space.sample(jax.random.key(0), 0) == []
  assert len(space.sample(jax.random.key(0), 2)) == 2
