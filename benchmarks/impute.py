"""DINI against mean, KNN(5), IterativeImputer (BayesianRidge, ExtraTrees(50)) and HyperImpute on the
six DINI fixture tables (issue 12), all on identical masks in one run.

Protocol: all data columns, first 1,000 rows, min-max normalised (``jaxcodesign.impute.data
.load_fixture``); each (table, strategy, seed) draws ONE mask from ``jax.random.key(seed)`` that every
method sees; RMSE and MAE on the missing cells (normalised units); CPU seconds
(``time.process_time``: all threads of this process, JIT compilation included) per run. Mean rank:
per (table, strategy) cell the methods are ranked by their seed-mean RMSE (1 = best), averaged over
the cells. Spreads are the standard deviation over seeds.

Usage::

  pip install hyperimpute            # optional ([bench] extra); skipped with a note if missing
                                     # (HyperImpute 0.1.17 needs pandas < 3: see hyperimpute_problem)
  python -m benchmarks.impute [--tables=energy,yacht] [--strategies=mcar,mnar] [--seeds=5] \
      [--methods=mean,knn,ii_br,ii_et,hyperimpute,dini] [--slow_seeds=5] [--p=0.1] \
      [--json=OUT.json] [--markdown=OUT.md]
  python -m benchmarks.impute --downstream [--tables=...] [--seeds=3]

``--slow_seeds`` caps the seeds of ii_et and hyperimpute (the slow peers) to save time; the mean
rank then compares seed means over different seed counts (said in the output).

``--downstream`` (issue 12, part 4): 80/20 row split; the training rows are corrupted (MCAR, p);
DINI's forward surrogate, trained while imputing, predicts the test rows' outputs from their complete
inputs; the reference is the same surrogate trained on the complete training rows with the SAME
number of rounds and steps (the original code trained DINI 100 epochs and the baselines 5).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import jax
import numpy as np

from jaxcodesign.impute import corrupt, data, dini

METHODS = ("mean", "knn", "ii_br", "ii_et", "hyperimpute", "dini")
SLOW = ("ii_et", "hyperimpute")


def _patch_hyperimpute_logistic_regression() -> None:
  """Let HyperImpute 0.1.17 build its logistic-regression classifier under scikit-learn >= 1.8.

  HyperImpute passes ``multi_class=`` to ``LogisticRegression``, an argument scikit-learn 1.8
  removed (its tables with binary or categorical columns then fail with a TypeError). The shim drops
  that one argument: the default ``'auto'`` is what scikit-learn now always does (multinomial for
  multi-class targets); the ``'ovr'`` setting HyperImpute's hyper-parameter search may draw becomes
  multinomial too. Every other argument is passed through unchanged.
  """
  import inspect
  import sklearn.linear_model as lm
  if "multi_class" in inspect.signature(lm.LogisticRegression).parameters or \
      getattr(lm.LogisticRegression, "_jcd_shim", False):
    return
  cls = lm.LogisticRegression

  def logistic_regression(*args, multi_class=None, **kwargs):
    del multi_class
    return cls(*args, **kwargs)

  # HyperImpute loads its plugin files lazily (importlib, fresh module globals) and each does
  # ``from sklearn.linear_model import LogisticRegression``: the shim is installed there, in this
  # benchmark process only (scikit-learn's own code imports the class from ``_logistic``).
  logistic_regression._jcd_shim = True
  lm.LogisticRegression = logistic_regression


def hyperimpute_problem() -> str | None:
  """Why HyperImpute cannot give a trustworthy result in this environment (None if it can).

  HyperImpute 0.1.17 writes every imputation through chained indexing
  (``X[col][mask] = est.predict(...)`` in ``_hyperimpute_internals.py``). Under pandas >= 3
  (copy-on-write always on) that assignment writes into a temporary copy, so NO imputation ever
  reaches the table: the run finishes without an error and returns its initial fill (measured:
  energy MCAR seed 0 RMSE 0.365, worse than the column mean; 0.147 under pandas 2.3.3 with the same
  mask). The benchmark refuses to report such numbers. A working environment for the peer::

    python -m venv --system-site-packages hi_env
    hi_env/bin/pip install "pandas<3" "scikit-learn<1.8" hyperimpute
    hi_env/bin/python -m benchmarks.impute --methods=hyperimpute --json=hi.json
  """
  import pandas as pd
  if int(pd.__version__.split(".")[0]) >= 3:
    return (f"HyperImpute 0.1.17 assigns its imputations through chained indexing, a no-op under "
            f"pandas {pd.__version__} (copy-on-write): it would return its initial fill. Run it "
            f"with pandas < 3 (see benchmarks.impute.hyperimpute_problem)")
  return None


def make_imputer(name: str, seed: int, n_outputs: int):
  """A fit_transform callable for one method (sklearn / HyperImpute / DINI)."""
  from sklearn.impute import KNNImputer, SimpleImputer
  from sklearn.experimental import enable_iterative_imputer  # noqa: F401
  from sklearn.impute import IterativeImputer
  from sklearn.ensemble import ExtraTreesRegressor
  if name == "mean":
    return SimpleImputer().fit_transform
  if name == "knn":
    return KNNImputer(n_neighbors=5).fit_transform
  if name == "ii_br":
    return IterativeImputer(random_state=seed).fit_transform
  if name == "ii_et":
    return IterativeImputer(ExtraTreesRegressor(n_estimators=50, random_state=seed),
                            random_state=seed).fit_transform
  if name == "hyperimpute":
    import pandas as pd
    from hyperimpute.plugins.imputers import Imputers
    problem = hyperimpute_problem()
    if problem:
      raise RuntimeError(problem)
    _patch_hyperimpute_logistic_regression()
    plugin = Imputers().get("hyperimpute", random_state=seed)
    return lambda x: np.asarray(plugin.fit_transform(pd.DataFrame(x)), dtype=np.float64)
  if name == "dini":
    return lambda x: dini.fit_dini(jax.random.key(seed), x, n_outputs).imputed
  raise ValueError(f"invalid value for field 'methods': {name!r}; allowed: {list(METHODS)}")


def run(tables, strategies, seeds, methods, p, slow_seeds, log=print):
  """All runs; returns a list of dicts (table, strategy, seed, method, rmse, mae, cpu_s, fraction)."""
  rows = []
  for t in tables:
    x, _ = data.load_fixture(t)
    for s in strategies:
      for seed in range(seeds):
        c = corrupt.corrupt(jax.random.key(seed), x, s, p)
        for m in methods:
          if m in SLOW and seed >= slow_seeds:
            continue
          f = make_imputer(m, seed, data.TABLE_OUTPUTS[t])
          with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.process_time()
            xi = f(c.x_missing.copy())
            cpu = time.process_time() - t0
          err = xi[c.mask] - x[c.mask]
          assert np.array_equal(xi[~c.mask], x[~c.mask]) or m == "hyperimpute" \
              or np.allclose(xi[~c.mask], x[~c.mask]), m
          r = dict(table=t, strategy=s, seed=seed, method=m, fraction=c.fraction,
                   rmse=float(np.sqrt(np.mean(err ** 2))), mae=float(np.mean(np.abs(err))), cpu_s=cpu)
          rows.append(r)
          log(json.dumps(r))
  return rows


def summarise(rows, methods, strategies):
  """Markdown tables: per strategy (mean over tables of seed-means), six-table mean, mean rank, CPU."""
  tables = sorted({r["table"] for r in rows}, key=lambda t: data.TABLES.index(t))
  cell = {}
  for r in rows:
    cell.setdefault((r["method"], r["table"], r["strategy"]), []).append(r)
  methods = [m for m in methods if any(k[0] == m for k in cell)]
  ranks = {m: [] for m in methods}
  for t in tables:
    for s in strategies:
      ms = [m for m in methods if (m, t, s) in cell]
      if len(ms) < len(methods):
        continue          # ranks only on cells every method ran
      vals = [np.mean([r["rmse"] for r in cell[(m, t, s)]]) for m in ms]
      order = np.argsort(np.argsort(vals)) + 1
      for m, k in zip(ms, order):
        ranks[m].append(int(k))

  def seedmean(m, t, s, key="rmse"):
    return np.mean([r[key] for r in cell[(m, t, s)]])

  def seedsd(m, t, s):
    return np.std([r["rmse"] for r in cell[(m, t, s)]])

  lines = ["| method | " + " | ".join(s.upper() for s in strategies)
           + " | all tables RMSE | MAE | mean rank | CPU s/run |",
           "|---|" + "---|" * (len(strategies) + 4)]
  for m in methods:
    if not all((m, t, s) in cell for t in tables for s in strategies):
      done = sum((m, t, s) in cell for t in tables for s in strategies)
      lines.append(f"| {m} | " + " | ".join("n/a" for _ in strategies)
                   + f" | n/a ({done} of {len(tables) * len(strategies)} cells run) | | "
                   f"{np.mean(ranks[m]):.2f} (its cells) | "
                   f"{np.mean([r['cpu_s'] for r in rows if r['method'] == m]):.2f} |")
      continue
    per_s = [np.mean([seedmean(m, t, s) for t in tables]) for s in strategies]
    mae = np.mean([seedmean(m, t, s, "mae") for t in tables for s in strategies])
    cpu = np.mean([r["cpu_s"] for r in rows if r["method"] == m])
    lines.append(f"| {m} | " + " | ".join(f"{v:.3f}" for v in per_s)  # noqa
                 + f" | {np.mean(per_s):.3f} | {mae:.3f} | {np.mean(ranks[m]):.2f} | {cpu:.2f} |")
  n_ranked = len(ranks[methods[0]]) if methods else 0
  detail = ["", f"Mean rank over the {n_ranked} (table, strategy) cells that every method ran. "
            "Per cell: RMSE seed-mean +- std over seeds (rank among methods).", "",
            "| table | strategy | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
  for t in tables:
    for s in strategies:
      ms = [m for m in methods if (m, t, s) in cell]
      vals = {m: seedmean(m, t, s) for m in ms}
      order = {m: k for m, k in zip(ms, np.argsort(np.argsort([vals[m] for m in ms])) + 1)}
      detail.append(f"| {t} | {s} | " + " | ".join(
          f"{vals[m]:.3f}+-{seedsd(m, t, s):.3f} ({order[m]})" if m in vals else "n/a"
          for m in methods) + " |")
  counts = {m: sum(len(v) for k, v in cell.items() if k[0] == m) for m in methods}
  return "\n".join(lines + detail), counts


def downstream(tables, seeds, p, log=print):
  """Forward-surrogate test RMSE: trained while imputing vs trained on complete data (same steps)."""
  out = []
  for t in tables:
    x, _ = data.load_fixture(t)
    k = data.TABLE_OUTPUTS[t]
    for seed in range(seeds):
      perm = np.asarray(jax.random.permutation(jax.random.key(100 + seed), x.shape[0]))
      n_tr = int(0.8 * len(perm))
      tr, te = x[perm[:n_tr]], x[perm[n_tr:]]
      c = corrupt.corrupt(jax.random.key(seed), tr, "mcar", p)
      res = dini.fit_dini(jax.random.key(seed), c.x_missing, k)
      rounds = sum(1 for h in res.state.history if h["round"] > 0)
      ref = dini.fit_dini(jax.random.key(seed), tr, k,
                          dini.DINIConfig(rounds=rounds, patience=rounds + 1))
      rm = lambda st: float(np.sqrt(np.mean((dini.forward_predict(st, te[:, :-k]) - te[:, -k:]) ** 2)))
      r = dict(table=t, seed=seed, rounds=rounds, dini_forward=rm(res.state), complete_forward=rm(ref.state),
               mean_predictor=float(np.sqrt(np.mean((te[:, -k:] - tr[:, -k:].mean(0)) ** 2))))
      out.append(r)
      log(json.dumps(r))
  return out


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--tables", default=",".join(data.TABLES))
  ap.add_argument("--strategies", default=",".join(corrupt.STRATEGIES))
  ap.add_argument("--methods", default=",".join(METHODS))
  ap.add_argument("--seeds", type=int, default=5)
  ap.add_argument("--slow_seeds", type=int, default=None, help="cap on seeds of ii_et, hyperimpute")
  ap.add_argument("--p", type=float, default=0.1)
  ap.add_argument("--json", default=None)
  ap.add_argument("--markdown", default=None)
  ap.add_argument("--downstream", action="store_true")
  ap.add_argument("--merge", default=None,
                  help="JSON of an earlier run (other methods, same tables/strategies/seeds/p): its rows "
                       "are added to this run's; masks are identical by construction (key = seed), and "
                       "the realised fractions are checked")
  ap.add_argument("--summarise", default=None,
                  help="comma-separated JSON files of earlier runs: print their joint tables only "
                       "(rows of the same table/strategy/seed share one mask: key = seed)")
  a = ap.parse_args(argv)
  if a.summarise:
    res = []
    for path in a.summarise.split(","):
      with open(path) as f:
        res += json.load(f)
    uniq = {}
    for r in res:   # the same run in two files: keep the first
      uniq.setdefault((r["table"], r["strategy"], r["seed"], r["method"]), r)
    res = list(uniq.values())
    strategies = [s for s in corrupt.STRATEGIES if any(r["strategy"] == s for r in res)]
    frac = {}
    for r in res:
      key = (r["table"], r["strategy"], r["seed"])
      if abs(frac.setdefault(key, r["fraction"]) - r["fraction"]) > 1e-12:
        raise SystemExit(f"--summarise: the masks of {key} differ between files")
    seeds = sorted({r["seed"] for r in res})
    md, counts = summarise(res, list(METHODS), strategies)
    md += f"\n\nRuns per method: {counts} (seeds {seeds})."
    print(md)
    if a.markdown:
      with open(a.markdown, "w") as f:
        f.write(md + "\n")
    return
  tables, strategies = a.tables.split(","), a.strategies.split(",")
  for t in tables:
    if t not in data.TABLES:
      ap.error(f"invalid value for --tables: {t!r}; allowed: {list(data.TABLES)}")
  for s in strategies:
    if s not in corrupt.STRATEGIES:
      ap.error(f"invalid value for --strategies: {s!r}; allowed: {list(corrupt.STRATEGIES)}")
  methods = a.methods.split(",")
  for m in methods:
    if m not in METHODS:
      ap.error(f"invalid value for --methods: {m!r}; allowed: {list(METHODS)}")
  if "hyperimpute" in methods:
    try:
      import hyperimpute  # noqa: F401
    except ImportError:
      print("hyperimpute is not installed (pip install hyperimpute): skipped", file=sys.stderr)
      methods.remove("hyperimpute")
    else:
      problem = hyperimpute_problem()
      if problem:
        print(f"hyperimpute skipped: {problem}", file=sys.stderr)
        methods.remove("hyperimpute")
  log = lambda s: print(s, file=sys.stderr, flush=True)
  if a.downstream:
    res = downstream(tables, a.seeds, a.p, log)
    lines = ["| table | forward trained while imputing | trained on complete data | mean predictor |",
             "|---|---|---|---|"]
    for t in tables:
      rs = [r for r in res if r["table"] == t]
      f = lambda k: f"{np.mean([r[k] for r in rs]):.4f}+-{np.std([r[k] for r in rs]):.4f}"
      lines.append(f"| {t} | {f('dini_forward')} | {f('complete_forward')} | {f('mean_predictor')} |")
    md = "\n".join(lines)
  else:
    slow = a.slow_seeds if a.slow_seeds is not None else a.seeds
    res = run(tables, strategies, a.seeds, methods, a.p, slow, log)
    if a.merge:
      with open(a.merge) as f:
        old = [r for r in json.load(f) if r["method"] not in methods and r["table"] in tables
               and r["strategy"] in strategies and r["seed"] < a.seeds]
      frac = {(r["table"], r["strategy"], r["seed"]): r["fraction"] for r in res}
      for r in old:
        key = (r["table"], r["strategy"], r["seed"])
        if key in frac and abs(frac[key] - r["fraction"]) > 1e-12:
          raise SystemExit(f"--merge: mask of {key} differs from this run's")
      res = old + res
      methods = [m for m in METHODS if m in methods or any(r["method"] == m for r in old)]
    md, counts = summarise(res, methods, strategies)
    md += f"\n\nRuns per method: {counts}; p = {a.p}; tables: {', '.join(tables)}."
  print(md)
  if a.json:
    with open(a.json, "w") as f:
      json.dump(res, f, indent=1)
  if a.markdown:
    with open(a.markdown, "w") as f:
      f.write(md + "\n")


if __name__ == "__main__":
  main()
