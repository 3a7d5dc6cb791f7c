"""Ray evaluation backend, local backend and journal (jaxcodesign.distributed).

One local Ray instance of 2 CPUs is shared by every Ray test (module-scoped fixture: Ray start-up
is slow). Oracles: the local backend (``LocalEvaluator``, same callable in this process) and the
closed-form Branin values of :mod:`jaxcodesign.distributed.synthetic`; invocations are counted with
marker files that the evaluated callable writes on every start.
"""

import json
import math
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from jaxcodesign.distributed import journal as J
from jaxcodesign.distributed import ray_backend as RB
from jaxcodesign.distributed.synthetic import FixedCostEvaluation, branin
from jaxcodesign.errors import ConfigError


def _points(n, prefix="p"):
  return [{"id": f"{prefix}{i}", "x": [(i + 0.5) / n, 1.0 - (i + 0.5) / n]} for i in range(n)]


# ---- journal and local backend (no Ray) -----------------------------------------------------------

def test_content_hash_covers_point_and_settings():
  p = {"id": "a", "x": [0.25, 0.5]}
  import numpy as np
  assert J.content_hash(p) == J.content_hash({"x": np.array([0.25, 0.5]), "id": "a"})
  assert J.content_hash(p, {"epochs": 2}) != J.content_hash(p, {"epochs": 3})
  assert J.content_hash(p) != J.content_hash({"id": "a", "x": [0.25, 0.5000001]})
  with pytest.raises(ConfigError, match="point"):
    J.content_hash({"f": object()})


def test_journal_survives_a_torn_last_line(tmp_path):
  path = tmp_path / "j.jsonl"
  j = J.Journal(path, {"s": 1})
  j.record(j.key({"a": 1}), {"a": 1}, status="ok", result={"v": 1.0})
  with open(path, "a") as f:  # a process killed inside write(): half a record, no newline
    f.write('{"key": "dead", "status": "o')
  j2 = J.Journal(path, {"s": 1})
  assert len(j2) == 1 and j2.get(j2.key({"a": 1}))["result"] == {"v": 1.0}
  j2.record(j2.key({"a": 2}), {"a": 2}, status="failed", error="E: x", attempts=3)
  j3 = J.Journal(path, {"s": 1})
  assert len(j3) == 2 and j3.get(j3.key({"a": 2}))["error"] == "E: x"
  lines = path.read_text().splitlines()  # the torn bytes were cut off, the new record follows
  assert len(lines) == 2 and json.loads(lines[1])["status"] == "failed"
  with pytest.raises(ConfigError, match="status"):
    j3.record("k", {}, status="maybe")


def test_local_backend_retries_records_failures_and_resumes(tmp_path):
  marks = tmp_path / "marks"
  fn = FixedCostEvaluation(0.0, marker_dir=marks, fail_on=["p1"])
  pts = _points(3) + [_points(3)[0]]  # a duplicate: evaluated once
  ev = RB.LocalEvaluator(fn, journal=tmp_path / "j.jsonl", max_retries=2)
  out = ev.evaluate(pts)
  assert out[0] == out[3] and not RB.is_failed(out[0])
  assert out[0]["branin"] == pytest.approx(branin(-5 + 15 * pts[0]["x"][0], 15 * pts[0]["x"][1]))
  assert RB.is_failed(out[1]) and out[1]["attempts"] == 3
  assert out[1]["error"] == "RuntimeError: evaluation of point p1 failed (injected)"
  assert fn.invocations("p0") == 1 and fn.invocations("p1") == 3
  # resume: everything from the journal, fn never called
  ev2 = RB.LocalEvaluator(fn, journal=tmp_path / "j.jsonl", max_retries=2)
  assert ev2.evaluate(pts) == out and ev2.calls == 0 and ev2.reused == 3
  # other settings (e.g. more epochs) must not reuse these results
  ev3 = RB.LocalEvaluator(fn, journal=J.Journal(tmp_path / "j.jsonl", {"epochs": 9}))
  ev3.evaluate(pts[:1])
  assert ev3.calls == 1 and fn.invocations("p0") == 2
  with pytest.raises(ConfigError, match="backend"):
    RB.make_evaluator("slurm", fn)


# ---- Ray backend ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_cluster():
  """One local Ray instance of 2 CPUs for the module (``JAXCODESIGN_TEST_RAY_ADDRESS`` set: connect
  to that running cluster instead, e.g. ``ray start --head --num-cpus=2`` on an overloaded machine
  where a fresh start inside the test times out)."""
  address = os.environ.get("JAXCODESIGN_TEST_RAY_ADDRESS")
  ray = RB.init_ray(address=address, num_cpus=None if address else 2, start_attempts=3)
  yield ray.get_runtime_context().gcs_address
  ray.shutdown()


def test_ray_batch_equals_local(ray_cluster, tmp_path):
  pts = _points(5)
  local = RB.LocalEvaluator(FixedCostEvaluation(0.0)).evaluate(pts)
  seen = []
  ev = RB.RayEvaluator(FixedCostEvaluation(0.2), journal=tmp_path / "j.jsonl", num_cpus=1,
                       on_result=lambda i, p, r: seen.append(i))
  out = ev.evaluate(pts)  # q = 5 proposals in one batch, 2 CPUs -> 2 at a time
  assert out == local and sorted(seen) == list(range(5)) and ev.calls == 5
  # every result was on disk before on_result saw it
  assert len(J.Journal(tmp_path / "j.jsonl")) == 5
  assert all(math.isfinite(r["branin"]) for r in out)


def test_ray_failures_recorded_after_retries(ray_cluster, tmp_path):
  marks = tmp_path / "marks"
  fn = FixedCostEvaluation(0.0, marker_dir=marks, fail_on=["bad"], crash_on=["dead"],
                           crash_once_on=["flaky"])
  pts = _points(2) + [{"id": "bad", "x": [0.1, 0.1]}, {"id": "dead", "x": [0.2, 0.2]},
                      {"id": "flaky", "x": [0.3, 0.3]}]
  ev = RB.RayEvaluator(fn, journal=tmp_path / "j.jsonl", max_retries=1)
  out = ev.evaluate(pts)
  ok = RB.LocalEvaluator(FixedCostEvaluation(0.0)).evaluate([pts[0], pts[1], pts[4]])
  assert [out[0], out[1], out[4]] == ok  # the flaky worker died once, its retry succeeded
  assert RB.is_failed(out[2]) and out[2]["attempts"] == 2
  assert "evaluation of point bad failed (injected)" in out[2]["error"]
  assert RB.is_failed(out[3]) and out[3]["attempts"] == 2 and out[3]["error"]
  assert fn.invocations("bad") == 2 and fn.invocations("dead") == 2
  assert fn.invocations("flaky") == 2 and fn.invocations("p0") == 1
  recs = {r["point"]["id"]: r for r in J.Journal(tmp_path / "j.jsonl").records()}
  assert recs["bad"]["status"] == "failed" and recs["dead"]["status"] == "failed"
  assert recs["flaky"]["status"] == "ok"
  # a re-run answers everything, failures included, from the journal
  ev2 = RB.RayEvaluator(fn, journal=tmp_path / "j.jsonl", max_retries=1)
  assert ev2.evaluate(pts) == out and ev2.calls == 0


_DRIVER = textwrap.dedent("""
  import json, sys
  from jaxcodesign.distributed import ray_backend as RB
  from jaxcodesign.distributed.synthetic import FixedCostEvaluation
  address, journal, marks, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
  pts = [{"id": f"p{i}", "x": [(i + 0.5) / n, 1.0 - (i + 0.5) / n]} for i in range(n)]
  ev = RB.RayEvaluator(FixedCostEvaluation(1.0, marker_dir=marks), journal=journal, address=address,
                       settings={"cost": 1.0})
  out = ev.evaluate(pts)
  print("DONE " + json.dumps({"out": out, "calls": ev.calls, "reused": ev.reused}))
""")


def test_killed_driver_resumes_without_repeating(ray_cluster, tmp_path):
  n = 6
  journal, marks = tmp_path / "j.jsonl", tmp_path / "marks"
  cmd = [sys.executable, "-c", _DRIVER, ray_cluster, str(journal), str(marks), str(n)]
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 240
  while time.monotonic() < deadline and proc.poll() is None:
    if journal.exists() and len(J.Journal(journal)) >= 2:
      break
    time.sleep(0.05)
  assert proc.poll() is None, "driver finished before it could be killed: " + proc.stderr.read()[-2000:]
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  finished = {r["point"]["id"] for r in J.Journal(journal).records()}
  assert 2 <= len(finished) < n
  second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
  assert second.returncode == 0, second.stderr[-3000:]
  rep = json.loads(next(l for l in second.stdout.splitlines() if l.startswith("DONE "))[5:])
  fn = FixedCostEvaluation(0.0, marker_dir=marks)
  # finished work was neither lost nor repeated; the rest ran once more at most
  assert rep["reused"] == len(finished) and rep["calls"] == n - len(finished)
  assert all(fn.invocations(i) == 1 for i in finished)
  assert rep["out"] == RB.LocalEvaluator(FixedCostEvaluation(0.0)).evaluate(_points(n))
  assert len(J.Journal(journal, {"cost": 1.0})) == n


def test_breathe_rounds_on_ray_equal_local(ray_cluster, tmp_path):
  from launch import breathe
  prob = breathe.load_problem("branin_currin")
  kw = dict(budget=4, seed=0, q=2, plots=False, progress=False)
  local = breathe.run(prob, output=tmp_path / "local.json", **kw)
  from jaxcodesign.distributed.ray_backend import remote_problem
  rp = remote_problem(prob, "ray", address=ray_cluster, workdir=tmp_path / "w")
  res = breathe.run(rp, output=tmp_path / "ray.json", workdir=tmp_path / "w", **kw)
  assert res["evaluations"] == local["evaluations"] and res["hypervolume"] == local["hypervolume"]
  assert len(J.Journal(tmp_path / "w" / "ray_journal.jsonl")) == 4  # every point journaled


# ---- co-design on the Ray backend (table oracle: no training, so the test stays cheap) ------------

class _FailOn:
  """Oracle wrapper that raises for the listed models (shipped to Ray workers by value)."""

  def __init__(self, inner, bad):
    self.inner, self.bad, self.name = inner, set(bad), "failing"

  def evaluate(self, models):
    for m in models:
      if json.dumps(m, sort_keys=True) in self.bad:
        raise RuntimeError("training diverged (injected)")
    return self.inner.evaluate(models)


def test_codesign_on_ray_backend(ray_cluster, fixtures_dir, tmp_path):
  import dataclasses
  from ray import cloudpickle  # Ray's own copy serialises the tasks
  from jaxcodesign import codesign
  from jaxcodesign.codesign import backends
  cloudpickle.register_pickle_by_value(sys.modules[__name__])
  cfg = codesign.load_config("transcode_sst2_table")
  cfg.budget, cfg.search.init_design, cfg.methods, cfg.accelerator_sweep = 4, 3, ("random_pairs",), 16
  local = codesign.build_experiment(cfg)
  e_local = codesign.run_method(local, "random_pairs")  # 4 pairs in ONE batch (q = 4)

  def on(oracle, journal):
    cfg.backend, cfg.ray_address, cfg.ray_max_retries = "ray", ray_cluster, 1
    ray_oracle = backends.wrap_oracle(cfg, oracle, journal)
    assert isinstance(ray_oracle, backends.RayOracle)
    pe = codesign.PairEvaluator(ray_oracle, local.hardware, local.model_space, None,
                                salt=local.evaluator.salt)
    return dataclasses.replace(local, evaluator=pe)

  e_ray = codesign.run_method(on(local.evaluator.oracle, tmp_path / "a"), "random_pairs")
  assert e_ray == e_local  # same pairs, same metrics, same performance
  bad = json.dumps(e_local[1]["model"], sort_keys=True)
  e_fail = codesign.run_method(on(_FailOn(local.evaluator.oracle, [bad]), tmp_path / "b"),
                               "random_pairs")
  assert len(e_fail) == 4  # the run completed
  failed = [i for i, e in enumerate(e_local) if json.dumps(e["model"], sort_keys=True) == bad]
  for i in failed:
    m = e_fail[i]["metrics"]
    assert m["failed"] is True and "training diverged (injected)" in m["failure"]
    assert m["attempts"] == 2 and m["accuracy"] == backends.FAILED_ACCURACY
  assert [e["metrics"] for i, e in enumerate(e_fail) if i not in failed] == \
      [e["metrics"] for i, e in enumerate(e_local) if i not in failed]
  recs = list(J.Journal(tmp_path / "b" / backends.JOURNAL).records())
  n_models = len({json.dumps(e["model"], sort_keys=True) for e in e_local})
  assert len(recs) == n_models and sum(r["status"] == "failed" for r in recs) == 1
  cfg.oracle.weight_transfer = True
  with pytest.raises(ConfigError, match="weight_transfer"):
    backends.validate(cfg)
