"""Tests of the ``launch.simulate`` launcher (pairs I/O, legacy rows, sweep, CLI)."""

import csv
import json
import os
import subprocess
import sys

import pytest

from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.hardware import api
from jaxcodesign.paths import PROJECT_ROOT
from jaxcodesign.spaces.accelerators import NAMED_ACCELERATORS
from jaxcodesign.spaces.flexibert import NAMED_MODELS
from launch import simulate as S


def _fixture_rows(fixtures_dir):
  return json.loads((fixtures_dir / "transcode" / "simulate_fast_sample.json").read_text())


def _assert_legacy_equal(got, want):
  assert got["cycles"] == want["cycles"]
  assert got["area"] == pytest.approx(want["area"], rel=1e-12)
  for k, v in want["energy"].items():
    g = got["energy"][k]
    if isinstance(v, list):
      assert g == pytest.approx(v, rel=1e-9)
    else:
      assert g == pytest.approx(v, rel=1e-9)


def test_legacy_pairs_reproduce_fixture_rows(fixtures_dir):
  path = fixtures_dir / "transcode" / "simulate_fast_sample.json"
  pairs = S.read_pairs(str(path))
  data = _fixture_rows(fixtures_dir)
  assert [p["key"] for p in pairs] == list(data)
  rows = S.simulate_pairs(pairs, legacy=True)
  for row, (key, want) in zip(rows, data.items()):
    assert row["key"] == key and row["fits"] is True
    _assert_legacy_equal(row["legacy"], want["logs_fast"])
    assert row["cycles"] == want["logs_fast"]["cycles"]
    assert row["latency_s"] == pytest.approx(row["cycles"] / 700e6)
    assert row["energy_j"] == pytest.approx(row["energy_dynamic_j"] + row["energy_leakage_j"])


def test_jsonl_pairs_keep_input_order(tmp_path, fixtures_dir):
  data = list(_fixture_rows(fixtures_dir).values())[:1]
  lines = [{"model_dict": d["model_dict"], "acc_embedding": d["acc_embedding"]} for d in data]
  lines.insert(1, {"model_dict": NAMED_MODELS["bert_tiny"], "config": NAMED_ACCELERATORS["server"],
                   "key": "tiny-server"})
  lines.append({"model_dict": data[0]["model_dict"], "config": NAMED_ACCELERATORS["edge"]})
  path = tmp_path / "pairs.jsonl"
  path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
  pairs = S.read_pairs(str(path))
  rows = S.simulate_pairs(pairs)
  assert len(rows) == 3 and rows[1]["key"] == "tiny-server"
  for p, r in zip(pairs, rows):
    assert set(S.OUTPUT_KEYS) <= set(r)
    want = api.simulate_transformer(p["model_dict"], [p["config"]])[0]
    assert r["cycles"] == want["cycles"] and r["fits"] == want["fits"]
    assert r["energy_j"] == pytest.approx(want["energy_j"], rel=1e-6)
  # the embedding decodes to the ELECTOR config (area is a function of the config alone)
  assert rows[0]["area_mm2"] == pytest.approx(data[0]["logs_fast"]["area"], rel=1e-6)


def test_pairs_errors(tmp_path):
  path = tmp_path / "bad.jsonl"
  path.write_text(json.dumps({"model_dict": NAMED_MODELS["bert_tiny"]}) + "\n")
  with pytest.raises(ConfigError, match="acc_embedding"):
    S.read_pairs(str(path))
  path.write_text(json.dumps({"model_dict": NAMED_MODELS["bert_tiny"],
                              "acc_embedding": [4, 16, 16, 100, 32, 16, 2, 4, 16, 64, 2, 8]}) + "\n")
  with pytest.raises(SpaceError):
    S.read_pairs(str(path))
  with pytest.raises(SpaceError, match="accelerator"):
    S.load_accelerator("bogus")


def test_sweep_writes_csv_and_plot(tmp_path):
  info = S.run_sweep(NAMED_MODELS["bert_tiny"], 8, str(tmp_path), seed=1, name="bert_tiny")
  with open(info["csv"]) as fh:
    rows = list(csv.DictReader(fh))
  assert len(rows) == 8
  assert 1 <= info["pareto"] <= info["fits"] <= 8
  assert sum(r["pareto"] == "True" for r in rows) == info["pareto"]
  assert os.path.getsize(info["png"]) > 1000
  # no Pareto point is dominated by a fitting config in (latency, energy, area)
  pts = [(float(r["latency_per_inference_s"]), float(r["energy_per_inference_j"]), float(r["area_mm2"]),
          r["pareto"] == "True")
         for r in rows if r["fits"] == "True"]
  for a in pts:
    if a[3]:
      assert not any(all(b[i] <= a[i] for i in range(3)) and any(b[i] < a[i] for i in range(3))
                     for b in pts)


def test_cli_legacy_pairs_subprocess(tmp_path, fixtures_dir):
  data = _fixture_rows(fixtures_dir)
  keys = list(data)[:4]
  inp = tmp_path / "in.jsonl"
  inp.write_text("\n".join(json.dumps({"key": k, "model_dict": data[k]["model_dict"],
                                       "acc_embedding": data[k]["acc_embedding"]}) for k in keys))
  out = tmp_path / "out.jsonl"
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-m", "launch.simulate", f"--pairs={inp}", f"--output={out}",
                         "--legacy"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                        timeout=120)
  assert proc.returncode == 0, proc.stderr[-2000:]
  rows = [json.loads(x) for x in out.read_text().splitlines()]
  assert [r["key"] for r in rows] == keys
  for r, k in zip(rows, keys):
    _assert_legacy_equal(r["legacy"], data[k]["logs_fast"])


def _cli(*args, timeout=180):
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  return subprocess.run([sys.executable, "-m", "launch.simulate", *args], cwd=PROJECT_ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout)


def test_cli_single_pair_prints_contract_and_training(tmp_path):
  """One process: a single pair in training mode prints every contract field; a training step of
  BERT-Tiny costs more than twice its forward pass (inference, same pair) from --pairs."""
  proc = _cli("--model_dict=bert_tiny", "--accelerator=edge", "--mode=training",
              "--sparsity=0.5,0.5")
  assert proc.returncode == 0, proc.stderr[-2000:]
  row = json.loads(proc.stdout)
  for k in ("cycles", "latency_s", "energy_j", "area_mm2", "peak_power_w", "main_memory_power_w",
            "fits", "fits_reticle", "roofline_compute_cycles", "roofline_memory_cycles"):
    assert row[k] is not None, k
  assert row["mode"] == "training" and isinstance(row["cycles"], int)
  assert row["cycles"] >= max(row["roofline_compute_cycles"], row["roofline_memory_cycles"]) - 1
  inf = api.simulate_transformer("bert_tiny", [NAMED_ACCELERATORS["edge"]], sparsity=(0.5, 0.5))[0]
  assert row["cycles"] > 2 * inf["cycles"]
  assert row["area_mm2"] > inf["area_mm2"]  # stochastic-rounding units on the training die


@pytest.mark.parametrize("args,match", [
    (("--model_dict=bert_tiny", "--sweep=-3"), "sweep"),
    (("--model_dict=bert_tiny", "--sparsity=1.5"), "sparsity"),
    (("--model_dict=bert_tiny", "--mode=train"), "mode"),
    (("--pairs=/nonexistent/pairs.jsonl",), "nonexistent"),
])
def test_cli_errors_are_one_line(args, match):
  proc = _cli(*args, timeout=120)
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [x for x in proc.stderr.splitlines() if x.strip()]
  assert len(lines) == 1 and lines[0].startswith("launch.simulate: error:") and match in lines[0]
  assert proc.stdout == ""


def test_pairs_rows_have_contract_fields(tmp_path):
  lines = [{"model_dict": NAMED_MODELS["bert_tiny"], "config": NAMED_ACCELERATORS[a], "key": a}
           for a in ("edge", "server")]
  path = tmp_path / "pairs.jsonl"
  path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
  rows = S.simulate_pairs(S.read_pairs(str(path)), sparsity=(0.5, 0.5))
  for r in rows:
    assert set(S.OUTPUT_KEYS) <= set(r)
  # AccelTran-Server (1829.7 mm^2) is larger than one reticle; the Edge (54.1 mm^2) is not
  assert rows[0]["fits_reticle"] is True and rows[1]["fits_reticle"] is False
  assert S.parse_sparsity(None) is None and S.parse_sparsity("0.5") == (0.5, 0.5)
  with pytest.raises(ConfigError):
    S.parse_sparsity("0.5,0.2,0.1")
