"""launch.breathe on user problem files (the FILE.py interface) against Optuna TPE and random search.

Usage (Optuna from the ``[bench]`` extra)::

  python -m benchmarks.unseen_files --budget=40 --seeds=3 [--files=benchmarks/problem_files/*.py] \
      [--out=results/unseen_files]

The files in ``benchmarks/problem_files/`` were written to stress what the shipped problems do not:
four objectives with integer inputs (``many_objectives``), a feasible slab 4 % wide
(``narrow_feasible``), an infeasible slab (``hole_infeasible``) and inputs and objectives on wildly
different scales (``badly_scaled``). They were not used to tune anything. Every method gets the same
budget and seeds and is scored by the hypervolume of its FEASIBLE evaluations against the file's
``ref_point``:

* ``breathe``: :func:`launch.breathe.run` (the launcher's defaults);
* ``tpe``: Optuna ``TPESampler(seed=s)`` with the file's constraints (integers as ``suggest_int``);
* ``random``: uniform in the bounds (integers uniform over their values), NumPy seed s.

Writes ``<out>/runs.jsonl`` and ``<out>/summary.md`` (mean HV per method, and in how many seeds
BREATHE's HV beats TPE's).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pathlib
import time

import numpy as np


def _hv(f, g, ref):
  from jaxcodesign.search.pareto import hypervolume
  f = np.asarray(f, np.float64)
  ok = np.array([np.all(np.asarray(c) <= 0) for c in g], bool)
  return float(hypervolume(f[ok], ref)) if ok.any() else 0.0


def run_tpe(prob, budget, seed):
  import optuna
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  b = prob.bounds
  rows = []

  def objective(trial):
    x = np.array([b[i, 0] if b[i, 0] == b[i, 1] else
                  trial.suggest_int(f"x{i}", int(b[i, 0]), int(b[i, 1])) if i in prob.integers else
                  trial.suggest_float(f"x{i}", b[i, 0], b[i, 1]) for i in range(len(b))], np.float64)
    f, g = prob.evaluate(x)
    trial.set_user_attr("g", g.tolist())
    rows.append((f.tolist(), g.tolist()))
    return tuple(f)

  constraints = (lambda t: t.user_attrs["g"])
  import warnings
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # constraints_func: deprecated in optuna 5
    sampler = optuna.samplers.TPESampler(seed=seed, constraints_func=constraints)
  study = optuna.create_study(directions=["minimize"] * len(prob.ref_point), sampler=sampler)
  study.optimize(objective, n_trials=budget)
  return rows


def run_random(prob, budget, seed):
  rng = np.random.default_rng(seed)
  b = prob.bounds
  rows = []
  for _ in range(budget):
    x = b[:, 0] + rng.random(len(b)) * (b[:, 1] - b[:, 0])
    for i in prob.integers:
      x[i] = rng.integers(int(b[i, 0]), int(b[i, 1]) + 1)
    f, g = prob.evaluate(x)
    rows.append((f.tolist(), g.tolist()))
  return rows


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  here = pathlib.Path(__file__).parent / "problem_files"
  ap.add_argument("--files", default=str(here / "*.py"))
  ap.add_argument("--budget", type=int, default=40)
  ap.add_argument("--seeds", type=int, default=3)
  ap.add_argument("--out", default="results/unseen_files")
  args = ap.parse_args()
  os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                        "intra_op_parallelism_threads=1")
  from launch import breathe as L
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  results = []
  with (out / "runs.jsonl").open("w") as fh:
    for path in sorted(glob.glob(args.files)):
      prob = L.load_problem(path)
      for seed in range(args.seeds):
        for method in ("breathe", "tpe", "random"):
          t = time.process_time()
          if method == "breathe":
            r = L.run(prob, args.budget, seed, out / f"{prob.name}_{seed}.json", plots=False)
            rows = [(e["objectives"], e["constraints"]) for e in r["evaluations"]]
          else:
            rows = (run_tpe if method == "tpe" else run_random)(prob, args.budget, seed)
          rec = dict(file=prob.name, method=method, seed=seed, budget=args.budget,
                     n=len(rows), cpu_s=time.process_time() - t,
                     hv=_hv([r[0] for r in rows], [r[1] for r in rows], prob.ref_point))
          results.append(rec)
          fh.write(json.dumps(rec) + "\n")
          fh.flush()
  lines = [f"| file | BREATHE HV | TPE HV | random HV | BREATHE > TPE (seeds) |",
           "|---|---|---|---|---|"]
  for name in dict.fromkeys(r["file"] for r in results):
    hv = {m: [r["hv"] for r in results if r["file"] == name and r["method"] == m]
          for m in ("breathe", "tpe", "random")}
    wins = sum(a > b for a, b in zip(hv["breathe"], hv["tpe"]))
    lines.append(f"| {name} | {np.mean(hv['breathe']):.6g} | {np.mean(hv['tpe']):.6g} | "
                 f"{np.mean(hv['random']):.6g} | {wins} / {len(hv['tpe'])} |")
  table = "\n".join(lines)
  (out / "summary.md").write_text(table + "\n")
  print(table)


if __name__ == "__main__":
  main()
