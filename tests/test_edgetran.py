"""EdgeTran: device-surrogate features (hand-counted), row validation, ranking on real ProTran
measurements (incl. a device with 3 rows borrowing from the others), and launch.edgetran's CLI."""

import json
import math
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxcodesign.errors import ConfigError, DataError, SpaceError
from jaxcodesign.surrogates import devices as dv

TINY = dict(n_members=2, steps=300, n_trees=40, n_ada=50)


def _md(L, h, n, f, op="sa_sdp"):
  return {"l": L, "o": [[f"{op}_{h // n}"] * n for _ in range(L)], "h": [h] * L, "f": [[f]] * L}


def test_workload_features_hand_counted():
  # 2 layers, hidden 128, 2 SDP heads (d 64), FF [256], N = 128. Per layer (MACs):
  # qkv 128*128*384 + QK^T 2*128*64*128 + SV 2*128*128*64 + attn_out 128*128*128 + FF 2*128*128*256
  per_layer = 128 * 128 * 384 + 2 * (2 * 128 * 64 * 128) + 128 ** 3 + 2 * 128 * 128 * 256
  assert per_layer == 20_971_520
  x = dv.workload_features(_md(2, 128, 2, 256))
  f = dict(zip(dv.FEATURE_NAMES, x.tolist()))
  assert f["log_macs"] == pytest.approx(math.log(2 * per_layer), rel=1e-6)
  # weights without the embedding: qkv 128*384 + attn_out 128*128 + FF 2*128*256, 4 bytes each
  assert f["log_weight_bytes"] == pytest.approx(math.log(2 * 4 * (128 * 384 + 128 ** 2 + 2 * 128 * 256)),
                                                rel=1e-6)
  assert f["log_embed_bytes"] == pytest.approx(math.log(4 * (30522 + 128) * 128), rel=1e-6)
  assert f["layers"] == 2 and f["heads"] == 4 and f["heads_sa_sdp"] == 4 and f["heads_c_9"] == 0
  assert f["n_ops_softmax"] == 2 and f["n_items_softmax"] == 4  # one group of 2 heads per layer
  # more MACs -> larger log_macs; the feature vector has the documented length
  assert dv.workload_features(_md(4, 512, 8, 2048))[0] > x[0] + math.log(8)
  assert x.shape == (len(dv.FEATURE_NAMES),)


def test_read_rows_errors_name_file_line_and_field(tmp_path):
  good = {"model_dict": _md(2, 128, 2, 256), "device": "gpu_a100", "latency_s_per_seq": 0.01,
          "energy_j_per_seq": None, "peak_power_w": 10.0}
  p = tmp_path / "r.jsonl"
  p.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "latency_s_per_seq": -1}) + "\n")
  with pytest.raises(DataError, match=r"r.jsonl:3: field 'latency_s_per_seq'"):
    dv.read_rows(p, need_targets=True)
  assert len(dv.read_rows(p, need_targets=False)) == 2  # targets ignored for prediction rows
  bad_md = {**good, "model_dict": {**good["model_dict"], "h": [100, 128]}}
  p.write_text(json.dumps(good) + "\n" + json.dumps(bad_md) + "\n")
  with pytest.raises(SpaceError, match=r"r.jsonl:2: model_dict: .*h\[0\]"):
    dv.read_rows(p, need_targets=False)
  p.write_text(json.dumps({"model_dict": good["model_dict"]}) + "\n")
  with pytest.raises(DataError, match="missing field 'device'"):
    dv.read_rows(p, need_targets=False)
  p.write_text("{not json\n")
  with pytest.raises(DataError, match="r.jsonl:1: not valid JSON"):
    dv.read_rows(p, need_targets=True)


@pytest.fixture(scope="module")
def measurements(fixtures_dir):
  return dv.read_rows(fixtures_dir / "protran" / "measurements.jsonl", need_targets=True)


def test_surrogate_ranks_held_out_rows_and_a_new_device_borrows(measurements):
  """Held-out latency ranks on two data-rich devices, and a device with only 3 training rows
  (cpu_m1-pro) ranks its other rows through the device embedding (the original's per-device
  regressors cannot be fitted on 3 rows)."""
  rng = np.random.default_rng(0)
  a100 = [r for r in measurements if r["device"] == "gpu_a100"]
  jet = [r for r in measurements if r["device"] == "cpu_jetson-nano"]
  m1 = [r for r in measurements if r["device"] == "cpu_m1-pro"]
  others = [r for r in measurements if r["device"] not in ("gpu_a100", "cpu_jetson-nano", "cpu_m1-pro")]
  sel = lambda rows, n: [rows[i] for i in rng.permutation(len(rows))[:n]]  # noqa: E731
  a100, jet, m1 = sel(a100, len(a100)), sel(jet, len(jet)), sel(m1, len(m1))
  held = a100[:30] + jet[:30] + m1[3:]
  train = a100[30:110] + jet[30:110] + m1[:3] + others
  sur = dv.fit_device_surrogate(jax.random.key(0), train, dv.DeviceSurrogateConfig(**TINY))
  x = dv.features_batch([r["model_dict"] for r in held])
  emb = dv.embeddings_batch([r["model_dict"] for r in held])
  mean, std = dv.predict_log(sur, x, [r["device"] for r in held], emb)
  truth = np.log([[r[t] for t in dv.TARGETS] for r in held])
  taus = dv.kendall_per_device(mean[:, 0], truth[:, 0], [r["device"] for r in held])
  assert taus["gpu_a100"] > 0.5 and taus["cpu_jetson-nano"] > 0.5, taus
  assert taus["cpu_m1-pro"] > 0.4, taus  # 3 rows of its own
  assert np.all(np.isfinite(std)) and np.all(std > 0)
  # the predictive std is larger where the device has fewer rows (epistemic part)
  m1_rows = np.array([r["device"] == "cpu_m1-pro" for r in held])
  assert np.median(std[m1_rows, 0]) > np.median(std[~m1_rows, 0])
  with pytest.raises(SpaceError, match="device.*no training rows"):
    dv.predict_log(sur, x[:1], ["tpu_v9"], emb[:1])
  with pytest.raises(ConfigError, match="embeddings"):
    dv.predict_log(sur, x[:1], [held[0]["device"]])
  # units: predict_rows returns exp(mean log) and a positive std for each target
  out = dv.predict_rows(sur, [held[0]["model_dict"]], [held[0]["device"]])[0]
  assert out["latency_s_per_seq"] == pytest.approx(math.exp(mean[0, 0]), rel=1e-5)
  assert all(out[t + "_std"] > 0 for t in dv.TARGETS)


def _run(args, cwd):
  return subprocess.run([sys.executable, "-m", "launch.edgetran", *args], capture_output=True,
                        text=True, cwd=cwd, timeout=600)


def test_cli_errors_before_training_and_predicts_in_order(measurements, tmp_path):
  import pathlib
  root = pathlib.Path(__file__).resolve().parent.parent
  train = [r for r in measurements if r["device"] in ("gpu_a100", "cpu_rpi")][:120]
  tp = tmp_path / "train.jsonl"
  tp.write_text("".join(json.dumps(r) + "\n" for r in train))
  queries = [{"model_dict": r["model_dict"], "device": r["device"]} for r in train[:5]]
  qp = tmp_path / "q.jsonl"
  qp.write_text("".join(json.dumps(q) + "\n" for q in queries + [{**queries[0], "device": "npu_ncs"}]))
  out = tmp_path / "out.jsonl"
  r = _run([f"--train={tp}", f"--predict={qp}", f"--output={out}"], root)
  assert r.returncode == 2 and "launch.edgetran: error:" in r.stderr and "npu_ncs" in r.stderr
  assert "fitting" not in r.stdout and not out.exists()
  qp.write_text(json.dumps({**queries[0], "model_dict": {"l": 2, "o": [], "h": [], "f": []}}) + "\n")
  r = _run([f"--train={tp}", f"--predict={qp}", f"--output={out}"], root)
  assert r.returncode == 2 and "q.jsonl:1" in r.stderr and "fitting" not in r.stdout
  qp.write_text("".join(json.dumps(q) + "\n" for q in queries))
  r = _run([f"--train={tp}", f"--predict={qp}", f"--output={tmp_path}/missing/out.jsonl"], root)
  assert r.returncode == 2 and "does not exist" in r.stderr
  r = _run([f"--train={tp}", f"--predict={qp}", f"--output={out}", "--nn_weight=0"], root)
  assert r.returncode == 0, r.stderr
  lines = [json.loads(l) for l in out.read_text().splitlines()]
  assert len(lines) == len(queries)
  keys = set(dv.TARGETS) | {t + "_std" for t in dv.TARGETS}
  assert all(set(l) == keys for l in lines)
  # in input order: rows that were trained on come back close to their measured value
  for q, l, t in zip(queries, lines, train[:5]):
    assert abs(math.log(l["latency_s_per_seq"] / t["latency_s_per_seq"])) < 0.5
