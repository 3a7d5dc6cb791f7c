"""BREATHE vs BoTorch qLogNEHVI, Optuna GPSampler / TPE, pymoo NSGA-II and Sobol random, same run.

Usage::

  pip install -e ".[bench]"    # botorch, optuna, pymoo (never needed by the package or its tests)
  python -m benchmarks.moo --problems=branin_currin,zdt1,dtlz2,vehicle_safety \
      --methods=breathe,tpe,nsga2,random --budgets=20,50,100 --seeds=5 --jobs=2 --out=results/moo

Every run is a fresh worker process limited to ONE thread (``OMP_NUM_THREADS=1``, XLA's CPU client
single-threaded, ``torch.set_num_threads(1)``), given the same problem definition
(:mod:`jaxcodesign.problems`, checked against BoTorch's values in ``tests/test_problems.py``) and
seed. A run goes to the largest budget; the hypervolume of ALL feasible points evaluated so far is
read at each budget in ``--budgets`` (anytime curves; NSGA-II uses a population of 20, so budget 100
is 20 x 5). Reported per problem, method and budget over seeds: median and spread (min-max) of the
log10 hypervolume gap ``log10(max_hv - HV)`` (lower is better) and of HV, and the mean process CPU
seconds of a whole run (the optimiser's loop, including the method's own imports, e.g. botorch or
``jaxcodesign.search.breathe``, but not the problem's compilation; BREATHE's includes its XLA
compilation unless the persistent compilation cache already holds it, see ``--jax_cache``).
Methods:

* ``breathe``: :class:`jaxcodesign.search.breathe.Breathe` (constrained log-EHVI, GOBI/AdaHessian with
  legality forcing), defaults;
* ``botorch``: the BoTorch multi-objective tutorial loop: one ``SingleTaskGP`` per outcome
  (``Normalize`` inputs, ``Standardize`` outputs), ``fit_gpytorch_mll``,
  ``qLogNoisyExpectedHypervolumeImprovement`` (q = 1, 128 QMC samples, prune baseline), constraints as
  outcome constraints, ``optimize_acqf`` (10 restarts, 512 raw samples), 2 (d + 1) Sobol start;
* ``gp``: ``optuna.samplers.GPSampler(seed)``; ``tpe``: ``optuna.samplers.TPESampler(seed)``
  (constraints through ``constraints_func``);
* ``nsga2``: ``pymoo`` NSGA-II, population 20;
* ``random``: scrambled Sobol points.

Outputs: ``<out>/runs.jsonl`` (one line per run: hv trace, CPU s) and ``<out>/summary.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

METHODS = ("breathe", "botorch", "gp", "tpe", "nsga2", "random")
DEFAULT_PROBLEMS = ("branin_currin", "zdt1", "dtlz2", "vehicle_safety")


def _single_thread_env() -> dict:
  env = dict(os.environ)
  env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
             XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
  return env


# ------------------------------------------------------------------------------------------ worker
def _problem(name):
  import jax
  from jaxcodesign.problems import get_problem
  p = get_problem(name)
  fj = jax.jit(jax.vmap(p.evaluate))
  gj = jax.jit(jax.vmap(p.constraints)) if p.constraints is not None else None

  def evaluate(x):  # x float64[n, d] in the problem's bounds
    xx = np.asarray(x, np.float32)
    f = np.asarray(fj(xx), np.float64)
    g = np.asarray(gj(xx), np.float64) if gj is not None else np.zeros((len(xx), 0))
    return f, g

  return p, evaluate


def _run_breathe(p, evaluate, budget, seed, overrides: str = ""):
  from jaxcodesign.search.breathe import Breathe, BreatheConfig, encoding_from_bounds
  enc = encoding_from_bounds(p.bounds, p.integers)
  drv = Breathe(enc, p.ref_point, budget, seed, BreatheConfig(**json.loads(overrides or "{}")))
  xs = []
  while drv.n < budget and not drv.exhausted:
    for feat in drv.ask():
      x = np.asarray(enc.decode(feat), np.float64)
      f, g = evaluate(x[None])
      drv.tell(feat, f[0], g[0])
      xs.append(x)
  return np.stack(drv.f), np.stack(drv.g)


def _run_random(p, evaluate, budget, seed):
  from scipy.stats import qmc
  u = qmc.Sobol(d=p.dim, scramble=True, seed=seed).random(budget)
  return evaluate(p.bounds[:, 0] + u * (p.bounds[:, 1] - p.bounds[:, 0]))


def _run_optuna(p, evaluate, budget, seed, kind):
  import optuna
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  k = p.num_constraints
  cons = (lambda t: t.user_attrs["c"]) if k else None
  if kind == "tpe":
    sampler = optuna.samplers.TPESampler(seed=seed, constraints_func=cons)
  else:
    sampler = optuna.samplers.GPSampler(seed=seed, constraints_func=cons)
  study = optuna.create_study(directions=["minimize"] * p.num_objectives, sampler=sampler)
  F, G = [], []

  def obj(trial):
    x = np.array([trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(p.bounds)])
    f, g = evaluate(x[None])
    F.append(f[0]), G.append(g[0])
    trial.set_user_attr("c", g[0].tolist())
    return tuple(f[0].tolist())

  study.optimize(obj, n_trials=budget)
  return np.stack(F), np.stack(G)


def _run_nsga2(p, evaluate, budget, seed):
  from pymoo.algorithms.moo.nsga2 import NSGA2
  from pymoo.core.problem import Problem as PymooProblem
  from pymoo.optimize import minimize
  F, G = [], []
  k = p.num_constraints

  class Prob(PymooProblem):
    def __init__(self):
      super().__init__(n_var=p.dim, n_obj=p.num_objectives, n_ieq_constr=k,
                       xl=p.bounds[:, 0], xu=p.bounds[:, 1])

    def _evaluate(self, x, out, *args, **kwargs):
      f, g = evaluate(x)
      F.extend(f), G.extend(g)
      out["F"] = f
      if k:
        out["G"] = g

  minimize(Prob(), NSGA2(pop_size=20), ("n_eval", budget), seed=seed, verbose=False)
  return np.stack(F)[:budget], np.stack(G)[:budget]


def _run_botorch(p, evaluate, budget, seed):
  import torch
  from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
  from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
  from botorch.fit import fit_gpytorch_mll
  from botorch.models import ModelListGP, SingleTaskGP
  from botorch.models.transforms import Normalize, Standardize
  from botorch.optim import optimize_acqf
  from botorch.sampling import SobolQMCNormalSampler
  from gpytorch.mlls import SumMarginalLogLikelihood
  from scipy.stats import qmc
  torch.set_num_threads(1)
  torch.manual_seed(seed)
  d, m, k = p.dim, p.num_objectives, p.num_constraints
  lo, hi = p.bounds[:, 0], p.bounds[:, 1]
  n0 = min(2 * (d + 1), budget)
  X = qmc.Sobol(d=d, scramble=True, seed=seed).random(n0)
  F, G = evaluate(lo + X * (hi - lo))
  bounds = torch.tensor(np.stack([np.zeros(d), np.ones(d)]), dtype=torch.double)
  ref = torch.tensor(-p.ref_point, dtype=torch.double)
  while len(X) < budget:
    tx = torch.tensor(X, dtype=torch.double)
    ty = torch.tensor(np.concatenate([-F, -G], 1), dtype=torch.double)  # maximise; g>=0 feasible
    models = [SingleTaskGP(tx, ty[:, i:i + 1], input_transform=Normalize(d),
                           outcome_transform=Standardize(1)) for i in range(m + k)]
    model = ModelListGP(*models)
    fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
    cons = [(lambda Z, j=j: -Z[..., m + j]) for j in range(k)] or None  # <= 0 feasible
    acq = qLogNoisyExpectedHypervolumeImprovement(
        model=model, ref_point=ref, X_baseline=tx, prune_baseline=True,
        sampler=SobolQMCNormalSampler(torch.Size([128])),
        objective=IdentityMCMultiOutputObjective(outcomes=list(range(m))), constraints=cons)
    cand, _ = optimize_acqf(acq, bounds=bounds, q=1, num_restarts=10, raw_samples=512,
                            options={"batch_limit": 5, "maxiter": 200})
    xn = cand.detach().numpy()
    f, g = evaluate(lo + xn * (hi - lo))
    X, F, G = np.vstack([X, xn]), np.vstack([F, f]), np.vstack([G, g])
  return F, G


def worker(args) -> None:
  if args.jax_cache:
    import jax
    jax.config.update("jax_compilation_cache_dir", args.jax_cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
  from jaxcodesign.search import pareto
  p, evaluate = _problem(args.problem)
  evaluate(p.bounds.mean(1)[None])  # compile the problem outside the timed region
  fn = dict(breathe=lambda *a: _run_breathe(*a, args.breathe_config), random=_run_random, nsga2=_run_nsga2, botorch=_run_botorch,
            tpe=lambda *a: _run_optuna(*a, "tpe"), gp=lambda *a: _run_optuna(*a, "gp"))[args.method]
  t_cpu, t_wall = time.process_time(), time.time()
  F, G = fn(p, evaluate, args.budget, args.seed)
  cpu, wall = time.process_time() - t_cpu, time.time() - t_wall
  trace = pareto.hypervolume_trace(F, p.ref_point, pareto.feasible_mask(G, len(F)))
  print(json.dumps(dict(problem=args.problem, method=args.method, seed=args.seed,
                        budget=args.budget, hv_trace=trace.tolist(), max_hv=p.max_hv,
                        cpu_s=cpu, wall_s=wall, n=len(F))))


# ------------------------------------------------------------------------------------------ driver
def summarise(rows, budgets) -> str:
  out = ["| problem | method | budget | log10 HV gap median [min, max] | HV median | CPU s/run (mean) "
         "| seeds |", "|---|---|---|---|---|---|---|"]
  keys = sorted({(r["problem"], r["method"]) for r in rows},
                key=lambda k: (k[0], METHODS.index(k[1])))
  for prob, meth in keys:
    rs = [r for r in rows if r["problem"] == prob and r["method"] == meth]
    for b in budgets:
      hv = np.array([r["hv_trace"][b - 1] for r in rs if len(r["hv_trace"]) >= b])
      if not hv.size:
        continue
      mx = rs[0]["max_hv"]
      gap = np.log10(np.maximum(mx - hv, 1e-12)) if mx else np.full(hv.shape, np.nan)
      cpu = np.mean([r["cpu_s"] for r in rs])
      out.append(f"| {prob} | {meth} | {b} | {np.median(gap):.2f} [{gap.min():.2f}, {gap.max():.2f}] "
                 f"| {np.median(hv):.4g} | {cpu:.1f} (at budget {rs[0]['budget']}) | {hv.size} |")
  return "\n".join(out)


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--problems", default=",".join(DEFAULT_PROBLEMS))
  ap.add_argument("--methods", default="breathe,tpe,nsga2,random")
  ap.add_argument("--budgets", default="20,50,100")
  ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
  ap.add_argument("--seed_list", default=None, help="explicit comma-separated seeds")
  ap.add_argument("--jobs", type=int, default=1, help="worker processes at once (1 thread each)")
  ap.add_argument("--out", default="results/moo")
  ap.add_argument("--jax_cache", default="", help="persistent XLA cache dir for BREATHE ('' = off:"
                  " every run pays its compilation)")
  ap.add_argument("--breathe_config", default="", help="JSON BreatheConfig overrides for ablations, "
                  "e.g. '{\"gp_steps_warm\": 25}' (default: none)")
  ap.add_argument("--summary_only", action="store_true", help="summarise the runs already in --out")
  ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
  ap.add_argument("--problem", help=argparse.SUPPRESS)
  ap.add_argument("--method", help=argparse.SUPPRESS)
  ap.add_argument("--seed", type=int, help=argparse.SUPPRESS)
  ap.add_argument("--budget", type=int, help=argparse.SUPPRESS)
  args = ap.parse_args()
  if args.worker:
    worker(args)
    return
  budgets = sorted(int(b) for b in args.budgets.split(","))
  methods = args.methods.split(",")
  bad = [m for m in methods if m not in METHODS]
  if bad:
    sys.exit(f"benchmarks.moo: error: unknown methods {bad}; allowed: {list(METHODS)}")
  from jaxcodesign.problems import PROBLEMS
  probs = args.problems.split(",")
  bad = [p for p in probs if p not in PROBLEMS]
  if bad:
    sys.exit(f"benchmarks.moo: error: unknown problems {bad}; allowed: {sorted(PROBLEMS)}")
  seeds = [int(s) for s in args.seed_list.split(",")] if args.seed_list else list(range(args.seeds))
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  jobs = [(p, m, s) for p in probs for m in methods for s in seeds]
  runs_path = out / "runs.jsonl"
  done = set()
  if runs_path.exists():  # resume: keep finished runs
    for line in runs_path.read_text().splitlines():
      r = json.loads(line)
      if r["budget"] == budgets[-1]:
        done.add((r["problem"], r["method"], r["seed"]))
  todo = [] if args.summary_only else [j for j in jobs if j not in done]
  if args.jobs < 1:
    sys.exit("benchmarks.moo: error: --jobs must be >= 1")
  env = _single_thread_env()
  running: list = []
  with runs_path.open("a") as fh:
    while todo or running:
      while todo and len(running) < args.jobs:
        p, m, s = todo.pop(0)
        cmd = [sys.executable, "-m", "benchmarks.moo", "--worker", f"--problem={p}",
               f"--method={m}", f"--seed={s}", f"--budget={budgets[-1]}",
               f"--jax_cache={args.jax_cache}", f"--breathe_config={args.breathe_config}"]
        running.append(((p, m, s), subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                                    stderr=subprocess.PIPE, text=True)))
      time.sleep(0.5)
      for item in list(running):
        job, proc = item
        if proc.poll() is None:
          continue
        running.remove(item)
        so, se = proc.communicate()
        if proc.returncode != 0:
          print(f"FAILED {job}: {se.strip().splitlines()[-1] if se.strip() else proc.returncode}",
                flush=True)
          continue
        line = so.strip().splitlines()[-1]
        fh.write(line + "\n")
        fh.flush()
        r = json.loads(line)
        print(f"{job}: HV {r['hv_trace'][-1]:.5g}, CPU {r['cpu_s']:.1f} s, wall {r['wall_s']:.0f} s",
              flush=True)
  rows = [json.loads(line) for line in runs_path.read_text().splitlines()]
  rows = [r for r in rows if (r["problem"], r["method"], r["seed"]) in set(jobs)]
  table = summarise(rows, budgets)
  (out / "summary.md").write_text(table + "\n")
  print(table)


if __name__ == "__main__":
  main()
