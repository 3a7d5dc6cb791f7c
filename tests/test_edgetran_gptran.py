"""GPTran: hand-checked grow / prune moves and a really trained refinement on digits."""

import math

import jax
import pytest

from jaxcodesign.edgetran import gptran
from jaxcodesign.errors import ConfigError
from jaxcodesign.models.data import load_digits_dataset
from jaxcodesign.spaces import get_space
from jaxcodesign.surrogates import devices as dv


def _md(h, n, f, l=2):
  return {"l": l, "o": [[f"sa_sdp_{h // n}"] * n for _ in range(l)], "h": [h] * l, "f": [[f]] * l}


def test_moves_hand_checked():
  sp = get_space("flexibert2")
  grow = dict(gptran.moves(_md(128, 2, 256), sp, "grow"))
  assert grow["grow_heads[1] 2->4"]["o"][1] == ["sa_sdp_32"] * 4
  assert grow["grow_heads[1] 2->4"]["o"][0] == ["sa_sdp_64"] * 2  # only layer 1 changes
  assert grow["grow_ff[1] 256->512"]["f"] == [[256], [512]]
  assert list(grow)[:2] == ["grow_heads[1] 2->4", "grow_ff[1] 256->512"]  # last layer first
  # the smallest model of the space has nothing to prune
  assert gptran.moves(_md(128, 2, 256), sp, "prune") == []
  mixed = {"l": 2, "o": [["sa_sdp_64", "c_9_64"], ["sa_sdp_64", "l_dct_64", "c_5_64", "c_9_64"]],
           "h": [128, 256], "f": [[512], [1024, 256]]}
  prune = dict(gptran.moves(mixed, sp, "prune"))
  assert prune["prune_heads[1] 4->2"]["o"][1] == ["sa_sdp_128", "l_dct_128"]
  assert prune["prune_ff[1] depth 2->1"]["f"][1] == [1024]
  assert prune["prune_hidden[1] 256->128"]["h"] == [128, 128]
  assert prune["prune_hidden[1] 256->128"]["o"][1] == ["sa_sdp_32", "l_dct_32", "c_5_32", "c_9_32"]
  assert prune["prune_ff[0] 512->256"]["f"][0] == [256]
  with pytest.raises(ConfigError, match="phase"):
    gptran.moves(mixed, sp, "shrink")


def test_gptran_trains_children_and_accepts_only_improvements():
  data = load_digits_dataset(0, layout="sequence")
  macs = lambda md: math.exp(dv.workload_features(md)[0])  # noqa: E731 (a positive cost, MACs)
  cfg = gptran.GPTranConfig(cost_weight=0.05, max_trainings=2, tries_per_step=2,
                            train=(("epochs", 3), ("patience", None)))
  r = gptran.gptran(jax.random.key(0), _md(128, 2, 256), data, macs, cfg, log=lambda s: None)
  assert r["trainings"] == len(r["history"]) == 2
  best = r["start"]["score"]
  for h in r["history"]:
    # score recomputed from its parts; accepted iff it beats the best so far
    assert h["score"] == pytest.approx(h["val_accuracy"] - 0.05 * math.log(h["cost"] / r["start"]["cost"]))
    assert h["accepted"] == (h["score"] > best)
    if h["accepted"]:
      best = h["score"]
    assert "layer_0" in h["transferred"]  # a change of the last layer keeps layer 0's weights
    assert 0.0 <= h["val_accuracy"] <= 1.0
  assert r["final"]["score"] == pytest.approx(best) and r["final"]["score"] >= r["start"]["score"]
  assert 0.0 <= r["final_test_accuracy"] <= 1.0
