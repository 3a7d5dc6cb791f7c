"""Sharded sweeps on 8 forced host devices equal the single-device results (jaxcodesign.distributed.sharding).

The checks run in ONE subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (the
flag must be set before JAX starts, and this pytest process already runs JAX on one device). The
subprocess prints a JSON report; the assertions are made here. Oracles: the existing single-device
entry points (``api.simulate_transformer``, ``accelbench.simulate_cnn_arrays``, ``gobi``,
``fit_surrogate`` / ``predict``) on the same inputs.

Equality: the transformer sweep is bitwise; the CNN sweep is bitwise in cycles, latency, area and
fits, and within 1e-6 (relative) in energies, whose float32 sums over ops XLA vectorises by the
per-device batch. GOBI and surrogate training run
batched matmuls whose XLA:CPU kernel depends on the batch a device sees (8 restarts vs 1 per device
differ by 1 ulp even on ONE device: ``gobi(x[:1])`` vs ``gobi(x[:8])[0]``), so they are compared to a
tolerance; a 1-device mesh through the same sharded code path is bitwise (padding and keys exact).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

_WORKER = textwrap.dedent(r"""
  import json, os, sys
  import jax
  import numpy as np
  import jax.numpy as jnp
  cache = os.environ.get("JAXCODESIGN_TEST_JIT_CACHE")
  if cache:
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
  from jaxcodesign.distributed import sharding as SH
  from jaxcodesign.hardware import api, accelbench as AB, cnn_workload as CW
  from jaxcodesign.spaces.accelerators import AccelBenchSpace, ElectorSpace
  from jaxcodesign.search.gobi import GOBIConfig, gobi
  from jaxcodesign.surrogates import SurrogateConfig, fit_surrogate, predict

  rep = {"devices": len(jax.devices())}
  mesh = SH.batch_mesh()
  rep["mesh_shape"] = dict(mesh.shape)

  # padding / placement helpers
  xs, n = SH.shard_batch({"a": np.arange(13, dtype=np.float32), "b": np.ones((13, 3))}, mesh)
  rep["pad"] = dict(n=n, rows=int(xs["a"].shape[0]), last=float(xs["a"][-1]),
                    sharded=SH.is_batch_sharded(xs["a"], 8) and SH.is_batch_sharded(xs["b"], 8),
                    unpadded=np.asarray(SH.unpad(xs, n)["a"]).tolist())

  # 1. transformer accelerator sweep (configs axis), vs the single-device api
  cfgs = ElectorSpace().sample(jax.random.key(0), 13)
  ref = api.simulate_transformer("bert_tiny", cfgs, sparsity=(0.5, 0.25))
  out, n = SH.simulate_transformer_sweep("bert_tiny", cfgs, sparsity=(0.5, 0.25))
  h = SH.to_host(out, n)
  keys = ("cycles", "latency_s", "energy_j", "energy_dynamic_j", "area_mm2", "peak_power_w", "fits")
  rep["transformer"] = dict(
      n=n, sharded=SH.is_batch_sharded(out["cycles"], 8),
      mismatches=[(k, i) for k in keys for i, r in enumerate(ref) if h[k][i].item() != r[k]],
      some_energy=ref[0]["energy_j"])

  # 2. CNN accelerator sweep, vs accelbench.simulate_cnn_arrays
  conv = {"matrix": [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
          "labels": ["input", "conv3x3-c16-p1-bn-relu", "conv3x3-c16-p1-bn-relu", "output"]}
  head = {"matrix": [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1],
                     [0, 0, 0, 0, 0]],
          "labels": ["input", "global-avg-pool", "dense-32-relu", "dense_classes", "output"]}
  table = CW.lower_cnn({"modules": [conv, head]}, (1, 8, 8), 10)
  carr = AB.cnn_config_arrays(AccelBenchSpace().sample(jax.random.key(2), 11))
  cref = AB.simulate_cnn_arrays(table, carr, None)
  cout, n = SH.simulate_cnn_sweep(table, carr)
  ch = SH.to_host(cout, n)
  flat_r, flat_h = jax.tree.leaves(cref), jax.tree.leaves({k: ch[k] for k in cref})
  rel = [float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))
                      / np.maximum(np.abs(a.astype(np.float64)), 1e-30)))
         for a, b in zip(flat_r, flat_h) if a.dtype.kind == "f"]
  rep["cnn"] = dict(n=n, rows=int(cout["cycles"].shape[0]), sharded=SH.is_batch_sharded(cout["cycles"], 8),
                    leaves=len(flat_r), max_rel=max(rel),
                    exact=[k for k in ("cycles", "fits", "area_mm2", "latency_s")
                           if np.array_equal(cref[k], ch[k])],
                    bitwise_leaves=sum(np.array_equal(a, b) for a, b in zip(flat_r, flat_h)))

  # 3. GOBI restarts (K=5 padded to 8, K=8), vs gobi on one device
  rng = np.random.default_rng(0)
  x = rng.uniform(size=(8, 4)).astype(np.float32)
  w1 = jnp.asarray(rng.normal(size=(4, 16)), jnp.float32)
  w2 = jnp.asarray(rng.normal(size=(16,)), jnp.float32)
  acq = jax.tree_util.Partial(lambda a, b, v: jnp.tanh(v @ a) @ b + jnp.sum((v - 0.3) ** 2), w1, w2)
  g = GOBIConfig(max_steps=25)
  rep["gobi"] = {}
  for k in (5, 8):
    r0 = gobi(jax.random.key(3), acq, x[:k], 0.0, 1.0, g)
    r1 = SH.gobi_sharded(jax.random.key(3), acq, x[:k], 0.0, 1.0, g)
    r2 = SH.gobi_sharded(jax.random.key(3), acq, x[:k], 0.0, 1.0, g,
                         mesh=SH.batch_mesh(jax.devices()[:1]))
    rep["gobi"][k] = dict(
        shape=list(r1.x.shape), sharded=SH.is_batch_sharded(r1.x, 8),
        x_maxdiff=float(np.max(np.abs(np.asarray(r0.x) - np.asarray(r1.x)))),
        v_maxdiff=float(np.max(np.abs(np.asarray(r0.value) - np.asarray(r1.value)))),
        steps_equal=bool(np.array_equal(r0.steps, r1.steps)),
        one_device_bitwise=all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(r0, r2)),
        moved=float(np.max(np.abs(np.asarray(r0.x) - x[:k]))))

  # 4. surrogate ensemble (members axis), vs fit_surrogate / predict on one device
  xs_ = rng.uniform(size=(12, 3)).astype(np.float32)
  ys_ = (xs_ ** 2).sum(1)
  sc = SurrogateConfig(n_members=8, hidden=(8,), npn_hidden=(8,), mc_samples=2, epochs=3,
                       min_epochs=1, min_bucket=8, batch_size=8)
  s0 = fit_surrogate(jax.random.key(1), xs_, ys_, sc)
  s1 = SH.fit_surrogate_sharded(jax.random.key(1), xs_, ys_, sc)
  d = [float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
       for a, b in zip(jax.tree.leaves(s0.params), jax.tree.leaves(s1.params))]
  p0, p1 = predict(s0, xs_), SH.predict_sharded(s1, xs_)
  rep["surrogate"] = dict(
      members=int(jax.tree.leaves(s1.params)[0].shape[0]),
      sharded=all(SH.is_batch_sharded(a, 8) for a in jax.tree.leaves(s1.params)),
      param_maxdiff=max(d), epochs_equal=bool(np.array_equal(s0.epochs, s1.epochs)),
      pred_maxdiff=[float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(p0, p1)],
      pred_scale=float(np.max(np.abs(np.asarray(p0.mean)))))
  print("REPORT " + json.dumps(rep))
""")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
  env = dict(os.environ)
  env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
  env["JAX_PLATFORMS"] = "cpu"
  env.setdefault("JAXCODESIGN_TEST_JIT_CACHE",
                 str(tmp_path_factory.getbasetemp() / "jit_cache_8dev"))
  proc = subprocess.run([sys.executable, "-c", _WORKER], env=env, capture_output=True, text=True,
                        timeout=900)
  assert proc.returncode == 0, proc.stderr[-4000:]
  line = next(l for l in proc.stdout.splitlines() if l.startswith("REPORT "))
  return json.loads(line[len("REPORT "):])


def test_mesh_and_padding(report):
  assert report["devices"] == 8 and report["mesh_shape"] == {"batch": 8}
  p = report["pad"]
  # 13 rows -> 16 (multiple of 8), padded with copies of the last row, split 2 rows per device
  assert p["n"] == 13 and p["rows"] == 16 and p["last"] == 12.0 and p["sharded"]
  assert p["unpadded"] == list(range(13))


def test_transformer_sweep_sharded_bitwise(report):
  t = report["transformer"]
  assert t["n"] == 13 and t["sharded"]
  assert t["mismatches"] == []
  assert t["some_energy"] > 0


def test_cnn_sweep_sharded(report):
  c = report["cnn"]
  assert c["n"] == 11 and c["rows"] == 16 and c["sharded"]
  # cycles, fits, area and latency bitwise; energy sums over ops to float32 rounding (the reduction
  # is vectorised differently for 16 configs on one device and 2 per device)
  assert c["exact"] == ["cycles", "fits", "area_mm2", "latency_s"]
  assert c["leaves"] > 10 and c["max_rel"] <= 1e-6


def test_gobi_restarts_sharded(report):
  for k, r in report["gobi"].items():
    assert r["shape"] == [int(k), 4]
    assert r["moved"] > 1e-3  # the optimisation did something (not a trivial equality)
    assert r["steps_equal"] and r["one_device_bitwise"]
    assert r["x_maxdiff"] <= 1e-5 and r["v_maxdiff"] <= 1e-5
  assert report["gobi"]["8"]["sharded"]


def test_surrogate_members_sharded(report):
  s = report["surrogate"]
  assert s["members"] == 8 and s["sharded"] and s["epochs_equal"]
  assert s["param_maxdiff"] <= 1e-4
  assert max(s["pred_maxdiff"]) <= 1e-4 * max(1.0, s["pred_scale"])


_MULTIHOST = textwrap.dedent(r"""
  import json, os, socket
  s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
  from jaxcodesign.distributed import sharding as SH
  off = SH.initialize_multihost()  # JAXCODESIGN_MULTIHOST unset in this env: disabled
  os.environ[SH.MULTIHOST_ENV] = "1"
  on = SH.initialize_multihost(coordinator_address=f"127.0.0.1:{port}", num_processes=1,
                               process_id=0)
  again = SH.initialize_multihost()
  import jax, numpy as np
  x, n = SH.shard_batch(np.arange(5.0), SH.batch_mesh())
  print("REPORT " + json.dumps(dict(off=off, on=on, again=again, init=jax.distributed.is_initialized(),
        processes=jax.process_count(), sharded=SH.is_batch_sharded(x, 4),
        host=SH.to_host(x, n).tolist())))
""")


def test_multihost_flag_single_process():
  """The multi-host switch really calls jax.distributed.initialize (a 1-process job on 4 forced
  devices): off without the flag, on with it, idempotent; sharding works on the resulting mesh."""
  env = {k: v for k, v in os.environ.items() if k != "JAXCODESIGN_MULTIHOST"}
  env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
  env["JAX_PLATFORMS"] = "cpu"
  proc = subprocess.run([sys.executable, "-c", _MULTIHOST], env=env, capture_output=True,
                        text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  r = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("REPORT "))[7:])
  assert r == dict(off=False, on=True, again=False, init=True, processes=1, sharded=True,
                   host=[0.0, 1.0, 2.0, 3.0, 4.0])
