"""G-BREATHE vs regularised evolution and random search on NAS-Bench-Graph (all 9 datasets).

Usage::

  python -m benchmarks.nas_bench_graph --datasets=all --seeds=20 --budget=100 \
      --methods=gbreathe,evolution,random [--surrogate=gp|gnn] [--out=results/nas_bench_graph]

Single objective (search on the VALIDATION accuracy ``valid_perf``): regret@budget = best valid
accuracy in the table - best valid accuracy found, mean and standard error over seeds.
Bi-objective (1 - valid accuracy, latency): hypervolume of the evaluated points divided by the
table's hypervolume, both against the median reference point (1 - median valid accuracy, median
latency) -- the headline, because with the reference (1, max latency) random search already reaches
0.81-0.99. Every method queries unique table entries (the package's ``Arch.valid_hash`` decides
identity) and gets the same seeds.

* ``gbreathe``: :func:`jaxcodesign.search.breathe.graph.gbreathe` (defaults; ``--surrogate``);
* ``evolution``: regularised (aging) evolution of Real et al., AAAI 2019 on the architecture:
  population 20, tournament of 5, mutation of one operation (80 %) or the link pattern (20 %);
* ``random``: uniform over the table's distinct architectures, without repeats.

Writes ``<out>/runs.jsonl`` and ``<out>/summary.md``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import sys
import time

import numpy as np

METHODS = ("gbreathe", "evolution", "random")


def regularized_evolution(problem, objective, budget, seed, population=20, sample=5):
  rng = np.random.default_rng(seed)
  rows, seen = [], set()
  pop = collections.deque()

  def score(r):  # single objective: lower is better; bi-objective: scalarised by a random weight
    return float(problem.objectives([r], objective)[0, 0])

  pool = callable(getattr(problem, "random", None))  # SpaceGraphProblem: draws from the space
  while len(rows) < min(population, budget):
    r = problem.random(rng, 1)[0] if pool else int(rng.integers(problem.size))
    if r not in seen:
      seen.add(r), rows.append(r), pop.append(r)
  single = problem.objectives(rows[:1], objective).shape[1] == 1
  tries = 0
  while len(rows) < budget and tries < 100 * budget:
    tries += 1
    cand = [pop[i] for i in rng.choice(len(pop), sample, replace=False)]
    if single:
      parent = min(cand, key=score)
    else:  # bi-objective: tournament on a random weighted sum of normalised objectives
      y = problem.objectives(cand, objective)
      ref = problem.reference()
      w = rng.dirichlet(np.ones(y.shape[1]))
      parent = cand[int(np.argmin((y / np.abs(ref)) @ w))]
    child = problem.mutate(rng, parent)
    if child is None or child in seen:
      continue
    seen.add(child), rows.append(child), pop.append(child)
    pop.popleft()
  return rows


def random_search(problem, objective, budget, seed):
  return [int(r) for r in np.random.default_rng(seed).permutation(problem.size)[:budget]]


def run_one(dataset, method, objective, seed, budget, surrogate):
  from jaxcodesign.problems.nas_bench_graph import NasBenchGraph
  from jaxcodesign.search import pareto
  from jaxcodesign.search.breathe.graph import GBreatheConfig, gbreathe
  prob = NasBenchGraph(dataset)
  t = time.process_time()
  if method == "gbreathe":
    rows = gbreathe(prob, objective, budget, seed, GBreatheConfig(surrogate=surrogate))
  elif method == "evolution":
    rows = regularized_evolution(prob, objective, budget, seed)
  else:
    rows = random_search(prob, objective, budget, seed)
  cpu = time.process_time() - t
  assert len(set(rows)) == len(rows) == budget
  out = dict(dataset=dataset, method=method, objective=objective, seed=seed, budget=budget,
             cpu_s=cpu, surrogate=surrogate if method == "gbreathe" else None)
  if objective == "accuracy":
    best = np.maximum.accumulate(prob.valid_perf[rows])
    out["regret_trace"] = (prob.valid_perf.max() - best).tolist()
    out["test_of_best_valid"] = float(prob.perf[rows][int(np.argmax(prob.valid_perf[rows]))])
  else:
    ref = prob.reference()
    y_all = prob.objectives(np.arange(prob.size), objective)
    hv_table = pareto.hypervolume(y_all, ref)
    out["hv_ratio"] = pareto.hypervolume(prob.objectives(rows, objective), ref) / hv_table
  return out


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--datasets", default="all")
  ap.add_argument("--methods", default=",".join(METHODS))
  ap.add_argument("--objectives", default="accuracy,accuracy_latency")
  ap.add_argument("--seeds", type=int, default=20)
  ap.add_argument("--budget", type=int, default=100)
  ap.add_argument("--surrogate", default="gp", choices=["gp", "gnn"])
  ap.add_argument("--out", default="results/nas_bench_graph")
  args = ap.parse_args()
  os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                        "intra_op_parallelism_threads=1")
  from jaxcodesign.problems.nas_bench_graph import DATASETS
  datasets = list(DATASETS) if args.datasets == "all" else args.datasets.split(",")
  methods = args.methods.split(",")
  if any(m not in METHODS for m in methods):
    sys.exit(f"benchmarks.nas_bench_graph: error: methods {methods}; allowed: {list(METHODS)}")
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  runs_path = out / "runs.jsonl"
  done = set()
  if runs_path.exists():
    for line in runs_path.read_text().splitlines():
      r = json.loads(line)
      done.add((r["dataset"], r["method"], r["objective"], r["seed"], r["budget"]))
  with runs_path.open("a") as fh:
    for obj in args.objectives.split(","):
      for d in datasets:
        for meth in methods:
          for s in range(args.seeds):
            if (d, meth, obj, s, args.budget) in done:
              continue
            r = run_one(d, meth, obj, s, args.budget, args.surrogate)
            fh.write(json.dumps(r) + "\n")
            fh.flush()
  rows = [json.loads(l) for l in runs_path.read_text().splitlines()]
  rows = [r for r in rows if r["budget"] == args.budget and r["seed"] < args.seeds
          and r["dataset"] in datasets and r["method"] in methods]
  lines = [f"| dataset | method | regret@{args.budget} mean (se) | median-ref HV ratio mean (se) "
           "| CPU s/run | seeds |", "|---|---|---|---|---|---|"]
  for d in datasets:
    for meth in methods:
      a = [r["regret_trace"][-1] for r in rows if r["dataset"] == d and r["method"] == meth
           and r["objective"] == "accuracy"]
      h = [r["hv_ratio"] for r in rows if r["dataset"] == d and r["method"] == meth
           and r["objective"] == "accuracy_latency"]
      cpu = [r["cpu_s"] for r in rows if r["dataset"] == d and r["method"] == meth]
      fmt = lambda v: f"{np.mean(v):.4f} ({np.std(v, ddof=1) / np.sqrt(len(v)):.4f})" \
          if len(v) > 1 else (f"{v[0]:.4f}" if v else "-")
      lines.append(f"| {d} | {meth} | {fmt(a)} | {fmt(h)} | {np.mean(cpu) if cpu else 0:.1f} "
                   f"| {len(a)}/{len(h)} |")
  table = "\n".join(lines)
  (out / "summary.md").write_text(table + "\n")
  print(table)


if __name__ == "__main__":
  main()
