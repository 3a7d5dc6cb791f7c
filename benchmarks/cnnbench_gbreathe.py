"""G-BREATHE vs regularised evolution and random search on the project's own CNNBench graphs.

Usage::

  python -m benchmarks.cnnbench_gbreathe --seeds=10 --budget=100 \
      --methods=gbreathe,evolution,random [--out=results/cnnbench_gbreathe]

Problem: CNNBench networks for CIFAR-10-sized inputs (``CNNBenchSpace(max_modules=8)``: one or two
stacks of four identical 5-vertex modules, 170 published ops, a dense head; about 10^40 points)
mapped onto one fixed AccelBench accelerator (:data:`ACCELERATOR`), two minimised objectives without
any training:

* ``-log10(trainable parameters)`` (capacity; parameters counted by ``infer_shapes``);
* ``log10(latency per inference / s)`` on the accelerator (:func:`jaxcodesign.hardware.accelbench.simulate_cnn`,
  batch 128, batch-norm folded).

The trade-off is the hardware-aware NAS question "the largest network within a latency", here with
the accelerator model as the latency oracle. Hypervolume of all evaluated points against the
reference :data:`REFERENCE` = (-4, -1), i.e. 10^4 parameters and 100 ms (uniformly sampled
networks: latency quartiles 5.8 / 17 / 43 ms, median 7 x 10^6 parameters; 84 % inside the reference
box; measured on 100 draws of seed 0); reported as mean and standard error over seeds, and as a ratio to
the best hypervolume any run found (the space's true front is unknown).

* ``gbreathe``: :func:`jaxcodesign.search.breathe.graph.gbreathe` on a
  :class:`jaxcodesign.problems.space_graph.SpaceGraphProblem` (GP surrogate, defaults);
* ``evolution``: the regularised evolution of ``benchmarks.nas_bench_graph`` (population 20,
  tournament of 5, random-weight scalarisation) with the same mutation operator;
* ``random``: ``space.sample`` draws, distinct by hash.

Every method queries distinct legal points (the space's graph hash decides identity). Writes
``<out>/runs.jsonl`` and ``<out>/summary.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

METHODS = ("gbreathe", "evolution", "random")

#: the fixed AccelBench accelerator (a mid-size point of AccelBenchSpace: 160 PEs x 100 lanes x 16
#: multipliers, batch 128, DRAM 32 banks x 2 ranks x 1 channel)
ACCELERATOR = {"Pib": 4, "Pif": 16, "Pix": 5, "Piy": 8, "Pof": 4, "Pkx": 5, "Pky": 5,
               "batch_size": 128, "activation_buffer_size": 14, "weight_buffer_size": 24,
               "mask_buffer_size": 2, "main_memory": {"type": "dram", "banks": 32, "ranks": 2,
                                                      "channels": 1}}
REFERENCE = (-4.0, -1.0)


def make_problem():
  from jaxcodesign.hardware.accelbench import simulate_cnn
  from jaxcodesign.problems.space_graph import SpaceGraphProblem
  from jaxcodesign.spaces.cnnbench import CNNBenchSpace
  space = CNNBenchSpace(max_modules=8)

  def evaluate(point):
    params = sum(r.params for r in space.infer_shapes(point))
    lat = simulate_cnn(point, [ACCELERATOR], space.input_shape, space.num_classes)[0]
    return [-np.log10(params), np.log10(lat["latency_per_inference_s"])]

  return SpaceGraphProblem(space, evaluate, ref_point=REFERENCE)


def random_search(problem, budget, seed):
  rng = np.random.default_rng(seed)
  rows: list[int] = []
  while len(rows) < budget:
    rows = list(dict.fromkeys(rows + problem.random(rng, budget - len(rows))))
  return rows


def run_one(method, seed, budget):
  from jaxcodesign.search import pareto
  from jaxcodesign.search.breathe.graph import gbreathe
  from benchmarks.nas_bench_graph import regularized_evolution
  prob = make_problem()
  t = time.process_time()
  if method == "gbreathe":
    rows = gbreathe(prob, "all", budget, seed)
  elif method == "evolution":
    rows = regularized_evolution(prob, "all", budget, seed)
  else:
    rows = random_search(prob, budget, seed)
  y = prob.objectives(rows)
  cpu = time.process_time() - t
  hashes = [prob.space.hash(p) for p in prob.points_of(rows)]
  assert len(set(hashes)) == len(rows) == budget
  hv = [pareto.hypervolume(y[:k], np.asarray(REFERENCE)) for k in (20, 50, budget)]
  return dict(method=method, seed=seed, budget=budget, cpu_s=cpu, hv_at=[20, 50, budget], hv=hv,
              y=y.tolist())


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--methods", default=",".join(METHODS))
  ap.add_argument("--seeds", type=int, default=10)
  ap.add_argument("--budget", type=int, default=100)
  ap.add_argument("--out", default="results/cnnbench_gbreathe")
  args = ap.parse_args()
  os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                        "intra_op_parallelism_threads=1")
  methods = args.methods.split(",")
  if any(m not in METHODS for m in methods):
    sys.exit(f"benchmarks.cnnbench_gbreathe: error: methods {methods}; allowed: {list(METHODS)}")
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  runs_path = out / "runs.jsonl"
  done = set()
  if runs_path.exists():
    done = {(r["method"], r["seed"], r["budget"])
            for r in map(json.loads, runs_path.read_text().splitlines())}
  with runs_path.open("a") as fh:
    for s in range(args.seeds):
      for meth in methods:
        if (meth, s, args.budget) not in done:
          fh.write(json.dumps(run_one(meth, s, args.budget)) + "\n")
          fh.flush()
  rows = [r for r in map(json.loads, runs_path.read_text().splitlines())
          if r["budget"] == args.budget and r["seed"] < args.seeds and r["method"] in methods]
  best = max(r["hv"][-1] for r in rows)
  lines = ["| method | HV@20 | HV@50 | HV@%d mean (se) | HV@%d / best run | CPU s/run | seeds |"
           % (args.budget, args.budget), "|---|---|---|---|---|---|---|"]
  for meth in methods:
    rr = [r for r in rows if r["method"] == meth]
    if not rr:
      continue
    h = np.array([r["hv"] for r in rr])
    se = h.std(0, ddof=1) / np.sqrt(len(rr)) if len(rr) > 1 else np.zeros(3)
    lines.append(f"| {meth} | {h[:, 0].mean():.3f} | {h[:, 1].mean():.3f} | {h[:, 2].mean():.3f} "
                 f"({se[2]:.3f}) | {h[:, 2].mean() / best:.3f} | "
                 f"{np.mean([r['cpu_s'] for r in rr]):.1f} | {len(rr)} |")
  table = "\n".join(lines)
  (out / "summary.md").write_text(table + "\n")
  print(table)


if __name__ == "__main__":
  main()
