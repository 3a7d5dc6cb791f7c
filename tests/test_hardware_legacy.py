"""Legacy TransCODE ``simulate_fast`` (specs/acceltran_simulate_fast.md), bit-exact reproduction."""

import json
import math

import pytest
import yaml

from jaxcodesign.errors import SpaceError
from jaxcodesign.hardware import constants as C
from jaxcodesign.hardware.legacy import (conv1d_cost, matmul_cost, norm_cost, simulate_fast,
                                         simulate_fast_embedding, transcode_energies)
from jaxcodesign.spaces.accelerators import AccelTranSpace, ElectorSpace

ENERGY_KEYS = ("buffer", "main_memory", "mac_lanes", "softmax", "layer_norm", "sparsity", "others")


def _load(fixtures_dir, *parts):
  path = fixtures_dir.joinpath(*parts)
  return yaml.safe_load(path.read_text()) if path.suffix == ".yaml" else json.loads(path.read_text())


@pytest.fixture(scope="module")
def rows(fixtures_dir):
  return _load(fixtures_dir, "transcode", "simulate_fast_sample.json")


@pytest.fixture(scope="module")
def edge(fixtures_dir):
  return _load(fixtures_dir, "acceltran", "config", "config_tiny.yaml")


@pytest.fixture(scope="module")
def bert_tiny(fixtures_dir):
  return _load(fixtures_dir, "acceltran", "model_dicts", "bert_tiny.json")


def test_all_fixture_rows_bit_exact(rows):
  assert len(rows) == 48
  for key, row in rows.items():
    got = simulate_fast_embedding(row["model_dict"], row["acc_embedding"])
    ref = row["logs_fast"]
    assert got["fits"] is True, key
    assert got["cycles"] == ref["cycles"] and isinstance(got["cycles"], int), key
    assert got["area"] == ref["area"], key
    assert set(got["energy"]) == set(ENERGY_KEYS)
    for k in ENERGY_KEYS:
      assert got["energy"][k] == ref["energy"][k], (key, k)  # bit-identical floats


def test_bert_tiny_edge_worked_example(edge, bert_tiny):
  r = simulate_fast(bert_tiny, edge)
  assert r["fits"] and r["cycles"] == 167_596
  assert r["area"] == 54.06426665203198
  e = r["energy"]
  assert e["buffer"] == pytest.approx(4870.662082560001, rel=1e-12)
  assert e["main_memory"] == pytest.approx(165123.38190336002, rel=1e-12)
  assert e["mac_lanes"] == pytest.approx([786050.7677257145, 48258.19157065141], rel=1e-12)
  assert e["softmax"] == pytest.approx([810.6405302857144, 62.48389485714286], rel=1e-12)
  assert e["layer_norm"] == pytest.approx([1026.0550217142857, 60.276736], rel=1e-12)
  assert e["sparsity"] == pytest.approx([131028.59494546287, 43899.50306011428], rel=1e-12)
  assert e["others"] == pytest.approx([171682.1441155657, 41218.91288795428], rel=1e-12)
  dyn, leak = transcode_energies(r)
  assert dyn == pytest.approx(1260592.246324663, rel=1e-12)
  assert leak == pytest.approx(133499.36814957712, rel=1e-12)
  # The embedding load alone (spec section 8): ceil(39,232,000 / 785.365).
  assert math.ceil(30650 * 128 * 10.0 / C.LEGACY_BANDWIDTH_BITS_PER_CYCLE["lb"]) == 49_954


def test_per_op_check_values():
  tile, n_mac = (1, 16, 16), 64 * 16 * 16
  assert matmul_cost(tile, n_mac, 4, 128, 128, 64) == (8192, 1024)  # q/k/v
  assert matmul_cost(tile, n_mac, 4, 128, 64, 128) == (4096, 512)  # sdp-qk
  assert matmul_cost(tile, n_mac, 4, 64, 64, 128) == (2048, 256)  # wma extra
  assert matmul_cost(tile, n_mac, 4, 128, 128, 128) == (16384, 2048)  # l_dft
  assert matmul_cost(tile, n_mac, 4, 128, 128, 512) == (65536, 8192)  # ff_1
  assert matmul_cost(tile, n_mac, 4, 128, 512, 128) == (262144, 32768)  # ff_2
  assert norm_cost(tile, 64 * 4, 4, 128, 128) == (256, 16)  # softmax
  assert norm_cost(tile, 64, 4, 128, 128) == (256, 64)  # layer norm
  assert conv1d_cost(tile, n_mac, 4, 128, 128, 5) == (256, 2)
  assert conv1d_cost(tile, n_mac, 4, 128, 128, 9) == (256, 1)
  assert conv1d_cost(tile, n_mac, 4, 128, 128, 13) == (256, 1)
  # Q13: negative conv cycles with tile 8 and kernel 13 (true ceiling of -3.75 is -3).
  assert conv1d_cost((4, 8, 8), 1024 * 16 * 16, 32, 128, 768, 13) == (12288, -3)


def test_does_not_fit_rule(edge, bert_tiny):
  wide = {"l": 2, "o": [["sa_sdp_64"] * 4] * 2, "h": [256, 256], "f": [[1024], [1024]]}
  r = simulate_fast(wide, edge)  # W_MB = 8 < 306,500 * 256 bits
  assert r == {"fits": False, "area": 54.06426665203198, "cycles": None, "energy": None}
  with pytest.raises(ValueError, match="fits"):
    transcode_energies(r)
  assert simulate_fast(wide, dict(edge, weight_buffer_size=16))["fits"] is True
  w512 = {"l": 1, "o": [["sa_sdp_64"] * 8], "h": [512], "f": [[2048]]}
  assert simulate_fast(w512, dict(edge, weight_buffer_size=16))["fits"] is False
  assert simulate_fast(w512, dict(edge, weight_buffer_size=32))["fits"] is True
  assert simulate_fast(bert_tiny, edge)["fits"] is True


def test_structure_sensitivities(edge, bert_tiny):
  base = simulate_fast(bert_tiny, edge)
  # A projection FF appears only when the hidden size changes.
  grow = dict(bert_tiny, h=[128, 256], o=[["sa_sdp_64"] * 2, ["sa_sdp_128"] * 2])
  r = simulate_fast(grow, dict(edge, weight_buffer_size=16))
  assert r["cycles"] > base["cycles"]
  # Extra list entries beyond l are ignored.
  padded = dict(bert_tiny, o=bert_tiny["o"] + [["c_9_64"]], h=bert_tiny["h"] + [768],
                f=bert_tiny["f"] + [[4096]])
  assert simulate_fast(padded, edge) == base
  # Head order matters only through scheduling; a WMA head costs more than an SDP head.
  wma = dict(bert_tiny, o=[["sa_wma_64", "sa_sdp_64"], ["sa_sdp_64", "sa_sdp_64"]])
  assert simulate_fast(wma, edge)["cycles"] > base["cycles"]
  # Batch scales the weight traffic (Q8) and everything else.
  assert simulate_fast(bert_tiny, dict(edge, batch_size=16))["cycles"] > base["cycles"]


def test_config_and_model_validation(fixtures_dir, edge, bert_tiny):
  nano = _load(fixtures_dir, "acceltran", "config", "config_nano.yaml")
  with pytest.raises(SpaceError, match="lanes_per_pe"):
    simulate_fast(bert_tiny, nano)
  half = dict(edge, mask_buffer_size=0.5)
  with pytest.raises(SpaceError, match="mask_buffer_size"):
    simulate_fast(bert_tiny, half)  # TransCODE validates against ELECTOR
  assert simulate_fast(bert_tiny, half, space=AccelTranSpace())["fits"]
  with pytest.raises(SpaceError, match="op"):
    simulate_fast(dict(bert_tiny, o=[["sa_foo_64", "sa_sdp_64"]] * 2), edge)
  with pytest.raises(SpaceError, match="'h'"):
    simulate_fast({"l": 3, "o": bert_tiny["o"] * 2, "h": [128, 128], "f": [[512]] * 3}, edge)
  with pytest.raises(SpaceError, match="mem_idx"):
    simulate_fast_embedding(bert_tiny, [1, 16, 16, 64, 16, 16, 4, 4, 4, 8, 1, 12])
  # The embedding path and the config path agree.
  emb = ElectorSpace().encode(edge).tolist()
  assert simulate_fast_embedding(bert_tiny, emb) == simulate_fast(bert_tiny, edge)
