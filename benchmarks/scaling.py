r"""Scale-out benchmark: sharded sweep throughput vs devices, co-design wall time vs Ray workers.

  python -m benchmarks.scaling [--configs=4096] [--devices=1,2,4,8] [--workers=1,2,4]
                               [--budget=16] [--q=4] [--cost_s=0.5] [--ray_address=HOST:PORT]
                               [--skip_sweep] [--skip_ray] [--skip_gpu] [--output=FILE.json]

1. **Sweep throughput vs devices.** For each device count d (each in its own SUBPROCESS with
   ``XLA_FLAGS=--xla_force_host_platform_device_count=d``): one CNN on ``--configs`` AccelBench
   configs through :func:`jaxcodesign.distributed.sharding.simulate_cnn_sweep` (configs axis sharded
   over the d devices); compile once, then the best of 3 timed calls (wall and process CPU s).
   Forced host devices share the machine's cores, so on a 2-core host the speed-up is capped by 2
   (and by XLA's own intra-op threads, which already use both cores on one device); the point of
   the section is that the sharded program scales where the devices are real.
2. **Co-design-like wall time vs Ray workers.** A BOSHNAS-shaped loop at EQUAL budget: rounds of
   ``--q`` proposals (deterministic from the seed and the results so far, so every worker count
   proposes the same points), each evaluated by :class:`~jaxcodesign.distributed.synthetic.
   FixedCostEvaluation` (``time.sleep(cost_s)``: a stand-in for a training run whose cost is wall
   time), on one Ray instance with at most 1, 2 or 4 tasks in flight (= concurrent workers), and on
   the local backend. Reports wall time, speed-up over the local backend, and whether the
   best result is identical (it must be: same proposals, same deterministic evaluation).
3. **GPU.** When ``jax.devices('gpu')`` exists: the same sweep on every GPU (sharded) vs one GPU;
   otherwise prints a skip message.

Timings on a shared, busy machine are wall-clock and noisy; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

_SWEEP = r"""
import json, os, sys, time
import jax, numpy as np
from jaxcodesign.distributed import sharding as SH
from jaxcodesign.hardware import accelbench as AB, cnn_workload as CW
from jaxcodesign.spaces.accelerators import AccelBenchSpace
n, platform = int(sys.argv[1]), sys.argv[2]
devices = jax.devices(platform) if platform != "default" else jax.devices()
if platform == "gpu1":
  devices = jax.devices("gpu")[:1]
mesh = SH.batch_mesh(devices)
conv = {"matrix": [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
        "labels": ["input", "conv3x3-c16-p1-bn-relu", "conv3x3-c16-p1-bn-relu", "output"]}
head = {"matrix": [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0] * 5],
        "labels": ["input", "global-avg-pool", "dense-32-relu", "dense_classes", "output"]}
table = CW.lower_cnn({"modules": [conv, head]}, (1, 8, 8), 10)
cfg = AB.cnn_config_arrays(AccelBenchSpace().sample(jax.random.key(0), n))
t0 = time.perf_counter()
out, _ = SH.simulate_cnn_sweep(table, cfg, mesh=mesh)
jax.block_until_ready(out)
compile_s = time.perf_counter() - t0
best_wall, best_cpu = 1e9, 1e9
for _ in range(3):
  w, c = time.perf_counter(), time.process_time()
  out, _ = SH.simulate_cnn_sweep(table, cfg, mesh=mesh)
  jax.block_until_ready(out)
  best_wall, best_cpu = min(best_wall, time.perf_counter() - w), min(best_cpu, time.process_time() - c)
print("RESULT " + json.dumps(dict(devices=len(devices), configs=n, compile_s=compile_s,
      wall_s=best_wall, cpu_s=best_cpu, configs_per_s=n / best_wall,
      sharded=SH.is_batch_sharded(out["cycles"], len(devices)),
      best_latency_s=float(np.min(np.asarray(out["latency_s"])[:n])))))
"""


def _run_sweep(n: int, devices: int | None, platform: str = "cpu") -> dict:
  env = dict(os.environ)
  if devices is not None:
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_PLATFORMS"] = "cpu"
  proc = subprocess.run([sys.executable, "-c", _SWEEP, str(n), platform], env=env,
                        capture_output=True, text=True, timeout=1800)
  if proc.returncode != 0:
    raise RuntimeError(proc.stderr[-3000:])
  return json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))[7:])


def sweep_section(n: int, device_counts) -> list[dict]:
  rows = []
  for d in device_counts:
    r = _run_sweep(n, d)
    rows.append(r)
    print(f"  {d} device(s): {r['configs_per_s']:10.0f} configs/s  (wall {r['wall_s']:.4f} s, cpu "
          f"{r['cpu_s']:.4f} s, compile {r['compile_s']:.1f} s, sharded={r['sharded']})", flush=True)
  base = rows[0]["configs_per_s"]
  for r in rows:
    r["speedup"] = r["configs_per_s"] / base
  if len({r["best_latency_s"] for r in rows}) != 1:
    print("  WARNING: best latency differs between device counts:",
          [r["best_latency_s"] for r in rows])
  return rows


def _propose(rng_seed: int, history: list, q: int, dim: int = 2) -> list[dict]:
  """Deterministic proposals: q points around the best so far (or uniform when none), from a
  generator seeded by the seed and the round, so every backend proposes the same points."""
  rng = np.random.default_rng([rng_seed, len(history)])
  ok = [h for h in history if "branin" in h[1]]
  if not ok:
    xs = rng.uniform(size=(q, dim))
  else:
    best = np.asarray(min(ok, key=lambda h: h[1]["branin"])[0]["x"])
    xs = np.clip(best + 0.15 * rng.normal(size=(q, dim)), 0, 1)
    xs[0] = rng.uniform(size=dim)  # one exploratory proposal per round
  return [{"id": f"r{len(history)}_{i}", "x": [float(v) for v in x]} for i, x in enumerate(xs)]


def codesign_like(evaluator, budget: int, q: int, seed: int = 0) -> tuple[float, float, list]:
  history: list = []
  t0 = time.perf_counter()
  while len(history) < budget:
    pts = _propose(seed, history, min(q, budget - len(history)))
    history += list(zip(pts, evaluator.evaluate(pts)))
  best = min(h[1]["branin"] for h in history)
  return time.perf_counter() - t0, best, [h[0]["x"] for h in history]


def ray_section(workers, budget: int, q: int, cost_s: float, address: str | None = None) -> list[dict]:
  """One Ray instance (``address``, or local with max(workers) CPUs); w workers = at most w tasks in
  flight (``max_in_flight``), each requesting ``cluster CPUs / max(workers)`` CPUs (<= 1), so that
  the sleep-based tasks of the largest setting can all run at once even on a 2-CPU instance."""
  from jaxcodesign.distributed import ray_backend as RB
  from jaxcodesign.distributed.synthetic import FixedCostEvaluation
  rows = []
  wall, best, xs = codesign_like(RB.LocalEvaluator(FixedCostEvaluation(cost_s)), budget, q)
  rows.append(dict(backend="local", workers=1, wall_s=wall, best=best))
  print(f"  local backend      : {wall:6.2f} s  best branin {best:.6f}", flush=True)
  ray = RB.init_ray(address=address, num_cpus=None if address else max(workers), start_attempts=5)
  cpus = float(ray.cluster_resources().get("CPU", 1))
  per_task = min(1.0, cpus / max(workers))
  for w in workers:
    ev = RB.RayEvaluator(FixedCostEvaluation(cost_s), num_cpus=per_task, max_in_flight=w)
    for r in range(2):  # start the w worker processes outside the timing
      ev.evaluate([{"id": f"warm{r}_{i}", "x": [0.5, 0.5 + i / 100]} for i in range(w)])
    wall_w, best_w, xs_w = codesign_like(ev, budget, q)
    rows.append(dict(backend="ray", workers=w, wall_s=wall_w, best=best_w, same_points=xs_w == xs,
                     speedup_vs_local=wall / wall_w, cpus_per_task=per_task))
    print(f"  ray, {w} worker(s)  : {wall_w:6.2f} s  best branin {best_w:.6f}  speed-up "
          f"{wall / wall_w:.2f}x  same proposals: {xs_w == xs}", flush=True)
  ray.shutdown()
  return rows


def gpu_section(n: int) -> dict | None:
  import jax
  try:
    gpus = jax.devices("gpu")
  except RuntimeError:
    gpus = []
  if not gpus:
    print("  skipped: no GPU visible to JAX (jax.devices('gpu') is empty)")
    return None
  one = _run_sweep(n, None, "gpu1")
  allg = _run_sweep(n, None, "gpu")
  print(f"  1 GPU : {one['configs_per_s']:.0f} configs/s;  {allg['devices']} GPUs: "
        f"{allg['configs_per_s']:.0f} configs/s")
  return dict(one=one, all=allg)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  ap.add_argument("--configs", type=int, default=4096)
  ap.add_argument("--devices", default="1,2,4,8")
  ap.add_argument("--workers", default="1,2,4")
  ap.add_argument("--budget", type=int, default=16)
  ap.add_argument("--q", type=int, default=4)
  ap.add_argument("--cost_s", type=float, default=0.5)
  ap.add_argument("--ray_address", default=None, help="an existing Ray cluster (default: local)")
  ap.add_argument("--skip_sweep", action="store_true")
  ap.add_argument("--skip_ray", action="store_true")
  ap.add_argument("--skip_gpu", action="store_true")
  ap.add_argument("--output", default=None)
  a = ap.parse_args(argv)
  if a.configs < 1 or a.budget < 1 or a.q < 1 or a.cost_s < 0:
    ap.error("--configs, --budget and --q must be >= 1 and --cost_s >= 0")
  res = {}
  if not a.skip_sweep:
    print(f"1. CNN accelerator sweep, {a.configs} configs, sharded over forced host devices:")
    res["sweep"] = sweep_section(a.configs, [int(d) for d in a.devices.split(",")])
  if not a.skip_ray:
    print(f"2. co-design-like loop, budget {a.budget}, q={a.q}, {a.cost_s} s per evaluation:")
    res["ray"] = ray_section([int(w) for w in a.workers.split(",")], a.budget, a.q, a.cost_s,
                             a.ray_address)
  if not a.skip_gpu:
    print("3. GPU:")
    res["gpu"] = gpu_section(a.configs)
  res["host"] = dict(cpus=os.cpu_count(), load_avg_1min=os.getloadavg()[0])
  if a.output:
    with open(a.output, "w") as f:
      json.dump(res, f, indent=1)
  return res


if __name__ == "__main__":
  main()
