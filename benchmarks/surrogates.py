"""Surrogate benchmark on the shared MEASURED tables: project surrogates vs scikit-learn baselines.

Usage::

  python -m benchmarks.surrogates [--tables=flexibert,protran --seeds=5 --out=results/surrogates]
  python -m benchmarks.surrogates --tables= --gobi      # GOBI stopping statistics only

Tables (features: the design space's ``to_features_batch``, normalised to [0, 1]):

* ``flexibert``: FlexiBERT-small library (``../shared/fixtures/flexibert_small/library.jsonl``), the
  measured GLUE dev accuracies of SST-2 and QNLI (fraction), space ``flexibert_small`` (40-d).
* ``protran``: ProTran measurements (``../shared/fixtures/protran/measurements.jsonl``), one table per
  (device, target) for devices with at least ``--min_rows`` measured models; targets
  ``log10(latency_s_per_seq)``, ``log10(energy_j_per_seq)`` and ``log10(peak_power_w)`` (the
  quantities span decades, so models are fit and scored in log10 units), space ``flexibert2``
  (264-d).
* CNNBench: the shared graph library (``cnnbench/dataset_test.json``) has no accuracies (never
  published), so there is no CNNBench table.

Methods, all fit on IDENTICAL splits (per table and split seed: a random 80 % train / 20 % test; split
seeds 0..seeds-1):

* ``network``: ``launch.surrogate --surrogate=network``'s defaults (8 teacher / student / NPN members,
  every row trained for 150 epochs in minibatches of 32, no internal holdout, mean = average of
  teacher and NPN), padded to a fixed bucket per table family (one compilation; padded rows are
  masked);
* ``hybrid``: the default of ``launch.surrogate``: that network member plus the ``rf`` forest below,
  combined by :func:`jaxcodesign.surrogates.predict_hybrid` (mean weight 0.5);
* ``rf``: ``RandomForestRegressor(n_estimators=500)``; ``gbm``: ``GradientBoostingRegressor()`` (mean)
  plus two quantile models (alpha 0.05 / 0.95) for its interval; ``gp``: ``GaussianProcessRegressor``
  with ``ConstantKernel * Matern(nu=2.5) + WhiteKernel`` (one isotropic length scale),
  ``normalize_y=True``.

Metrics on the test rows: Kendall tau of the predicted mean; RMSE (target units: accuracy fraction,
or log10 units); 90 % interval coverage (network / hybrid: ``mean +- 1.645 sqrt(sigma_e^2 +
sigma_a^2)``; rf: ``+- 1.645`` std over trees; gbm: the quantile models; gp: ``+- 1.645`` predictive
std incl. the white noise); fit time in CPU seconds (``time.process_time``; the network's first fit
per table family includes its compilation, so the median over seeds is reported). Each cell is the
mean +- standard error over the split seeds. Timings were taken on a shared, busy 2-core machine.

``--gobi``: GOBI stopping statistics on real surrogates (the network fit on every measured row of
each FlexiBERT task; 10 restarts from the 10 best measured models, ``maximise=True``): steps used,
fraction of restarts meeting the stopping rule, and the acquisition gain, for the default relative
rule and for the original absolute rule (``stop='legacy'``).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
import warnings

from absl import app, flags
import jax
import numpy as np

from jaxcodesign import paths

FLAGS = flags.FLAGS
METHODS = ("network", "hybrid", "rf", "gbm", "gp")
Z90 = 1.6448536269514722


def define_flags():
  if "min_rows" in FLAGS:
    return
  flags.DEFINE_list("tables", ["flexibert", "protran"], "table families: flexibert, protran")
  flags.DEFINE_integer("seeds", 5, "split seeds (80/20)")
  flags.DEFINE_integer("min_rows", 40, "ProTran devices with fewer measured models are skipped")
  flags.DEFINE_list("methods", list(METHODS), "methods to run")
  flags.DEFINE_bool("gobi", False, "also measure GOBI's stopping statistics on real surrogates")
  flags.DEFINE_string("out", "results/surrogates", "output directory (results.json, table.md)")


# ---- tables -------------------------------------------------------------------------------------

def flexibert_tables():
  from jaxcodesign.spaces import get_space
  rows = [json.loads(l) for l in open(paths.fixture("flexibert_small", "library.jsonl"))]
  space = get_space("flexibert_small")
  out = []
  for task in ("SST-2", "QNLI"):
    m = [r for r in rows if task in r["accuracy"]]
    x = space.to_features_batch([r["model_dict"] for r in m]).astype(np.float32)
    y = np.array([r["accuracy"][task] for r in m], np.float64)
    out.append((f"FlexiBERT-small {task} accuracy", "flexibert", x, y))
  return out


def protran_tables(min_rows: int):
  from jaxcodesign.spaces import get_space
  rows = [json.loads(l) for l in open(paths.fixture("protran", "measurements.jsonl"))]
  space = get_space("flexibert2")
  out = []
  devices = sorted({r["device"] for r in rows})
  for dev in devices:
    m = [r for r in rows if r["device"] == dev]
    if len(m) < min_rows:
      print(f"ProTran {dev}: {len(m)} rows < --min_rows={min_rows}, skipped")
      continue
    x = space.to_features_batch([r["model_dict"] for r in m]).astype(np.float32)
    for key, name in (("latency_s_per_seq", "log10 latency"), ("energy_j_per_seq", "log10 energy"),
                      ("peak_power_w", "log10 peak power")):
      y = np.log10(np.array([r[key] for r in m], np.float64))
      out.append((f"ProTran {dev} {name}", "protran", x, y))
  return out


# ---- methods ------------------------------------------------------------------------------------

def _network_config(bucket: int):
  """``launch.surrogate``'s network member, padded to a fixed bucket (one compilation)."""
  import dataclasses
  from launch.surrogate import surrogate_config
  return dataclasses.replace(surrogate_config("network"), min_bucket=bucket)


def fit_predict(method, seed, xtr, ytr, xte, bucket, cache):
  """(mean, interval half-width at 90 %, fit CPU seconds) on the test rows."""
  from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
  from sklearn.gaussian_process import GaussianProcessRegressor
  from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
  from jaxcodesign.surrogates import (HybridConfig, HybridState, fit_surrogate, predict,
                                      predict_hybrid)
  from jaxcodesign.surrogates.hybrid import tree_prediction
  t0 = time.process_time()
  if method == "network":
    state = fit_surrogate(jax.random.key(seed), xtr, ytr, _network_config(bucket))
    jax.block_until_ready(state.params)
    cache["network"] = (state, time.process_time() - t0)
    p = predict(state, xte)
    sd = np.sqrt(np.asarray(p.epistemic_std, np.float64) ** 2 + np.asarray(p.aleatoric_std) ** 2)
    return np.asarray(p.mean, np.float64), Z90 * sd, cache["network"][1]
  if method == "rf":
    rf = RandomForestRegressor(n_estimators=500, random_state=seed, n_jobs=1).fit(xtr, ytr)
    cache["rf"] = (rf, time.process_time() - t0)
    m, s = tree_prediction(rf, xte)
    return m, Z90 * s, cache["rf"][1]
  if method == "hybrid":  # the same network and forest as above, combined as launch.surrogate does
    for need in ("network", "rf"):
      if need not in cache:
        fit_predict(need, seed, xtr, ytr, xte, bucket, cache)
    from launch.surrogate import surrogate_config
    (state, t_n), (rf, t_f) = cache["network"], cache["rf"]
    cfg = dataclasses.replace(surrogate_config("hybrid"), network=state.config)
    p = predict_hybrid(HybridState(network=state, trees=rf, config=cfg), xte)
    sd = np.sqrt(np.asarray(p.epistemic_std, np.float64) ** 2 + np.asarray(p.aleatoric_std) ** 2)
    return np.asarray(p.mean, np.float64), Z90 * sd, t_n + t_f
  if method == "gbm":
    mean = GradientBoostingRegressor(random_state=seed).fit(xtr, ytr)
    lo = GradientBoostingRegressor(loss="quantile", alpha=0.05, random_state=seed).fit(xtr, ytr)
    hi = GradientBoostingRegressor(loss="quantile", alpha=0.95, random_state=seed).fit(xtr, ytr)
    t = time.process_time() - t0
    m = mean.predict(xte)
    return m, (m - lo.predict(xte), hi.predict(xte) - m), t
  if method == "gp":
    kernel = ConstantKernel(1.0) * Matern(length_scale=1.0, nu=2.5) + WhiteKernel(0.1)
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed).fit(xtr, ytr)
    t = time.process_time() - t0
    m, s = gp.predict(xte, return_std=True)
    return m, Z90 * s, t
  raise ValueError(f"invalid value for field 'methods': {method!r}; allowed: {list(METHODS)}")


def evaluate(tables, seeds: int, methods):
  from scipy.stats import kendalltau
  results = []
  buckets = {}
  for fam in {t[1] for t in tables}:  # one padding bucket per family -> one network compilation
    from jaxcodesign.padding import bucket_size
    buckets[fam] = bucket_size(max(int(0.8 * len(t[3])) for t in tables if t[1] == fam), 16)
  for name, fam, x, y in tables:
    for seed in range(seeds):
      perm = np.random.default_rng(seed).permutation(len(y))
      n_tr = int(0.8 * len(y))
      tr, te = perm[:n_tr], perm[n_tr:]
      cache: dict = {}
      for method in methods:
        m, half, t = fit_predict(method, seed, x[tr], y[tr], x[te], buckets[fam], cache)
        lo_w, hi_w = half if isinstance(half, tuple) else (half, half)
        cover = float(np.mean((y[te] >= m - lo_w) & (y[te] <= m + hi_w)))
        results.append(dict(table=name, seed=seed, method=method, n_train=int(n_tr),
                            n_test=int(len(te)), tau=float(kendalltau(m, y[te])[0]),
                            rmse=float(np.sqrt(np.mean((m - y[te]) ** 2))), coverage90=cover,
                            fit_cpu_s=float(t)))
        print(f"{name} seed {seed} {method}: tau {results[-1]['tau']:.3f} rmse "
              f"{results[-1]['rmse']:.4g} cov90 {cover:.2f} fit {t:.1f} s", flush=True)
  return results


def _ms(v) -> str:
  v = np.asarray(v, np.float64)
  se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
  return f"{v.mean():.3f} +- {se:.3f}"


def markdown(results) -> str:
  lines = ["| table | method | Kendall tau | RMSE | 90 % coverage | fit CPU s (median) |",
           "|---|---|---|---|---|---|"]
  tables = list(dict.fromkeys(r["table"] for r in results))
  for t in tables:
    methods = list(dict.fromkeys(r["method"] for r in results if r["table"] == t))
    best = max(methods, key=lambda m: np.mean([r["tau"] for r in results
                                               if r["table"] == t and r["method"] == m]))
    for m in methods:
      rs = [r for r in results if r["table"] == t and r["method"] == m]
      tau = _ms([r["tau"] for r in rs])
      tau = f"**{tau}**" if m == best else tau
      rmse = np.mean([r["rmse"] for r in rs])
      lines.append(f"| {t} | {m} | {tau} | {rmse:.4g} | {np.mean([r['coverage90'] for r in rs]):.2f} "
                   f"| {np.median([r['fit_cpu_s'] for r in rs]):.1f} |")
  return "\n".join(lines)


def per_seed_taus(results, methods=("network", "hybrid", "rf")) -> str:
  lines = ["| table | seed | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
  for t in dict.fromkeys(r["table"] for r in results):
    if not t.startswith("FlexiBERT"):
      continue
    for s in sorted({r["seed"] for r in results if r["table"] == t}):
      vals = {r["method"]: r["tau"] for r in results if r["table"] == t and r["seed"] == s}
      lines.append(f"| {t} | {s} | " + " | ".join(f"{vals[m]:.3f}" if m in vals else "-"
                                                 for m in methods) + " |")
  return "\n".join(lines)


# ---- GOBI stopping statistics -------------------------------------------------------------------

def gobi_statistics() -> str:
  from jaxcodesign.search.gobi import GOBIConfig, gobi
  from jaxcodesign.surrogates import acquisition_fn, fit_surrogate
  from jaxcodesign.spaces import get_space
  space = get_space("flexibert_small")
  lo, hi = space.feature_bounds()
  lines = ["| task | stopping rule | steps used (mean, max of 200) | restarts converged | "
           "acquisition gain (mean) | gain / gain of 200 steps |", "|---|---|---|---|---|---|"]
  for name, _, x, y in flexibert_tables():
    task = name.split()[1]
    state = fit_surrogate(jax.random.key(0), x, y.astype(np.float32), _network_config(512))
    acq = acquisition_fn(state, 0.5, 0.5, maximise=True)  # minimised: negated UCB
    x0 = x[np.argsort(-y)[:10]]
    full = gobi(jax.random.key(1), acq, x0, lo, hi, GOBIConfig(stop="legacy", tol=0.0))
    full_gain = np.asarray(full.start_value) - np.asarray(full.value)  # all 200 steps, best iterate
    for stop in ("improvement", "relative", "legacy"):
      res = gobi(jax.random.key(1), acq, x0, lo, hi, GOBIConfig(stop=stop))
      steps = np.asarray(res.steps)
      g = np.asarray(res.start_value) - np.asarray(res.value)
      frac = float(np.sum(g) / max(float(np.sum(full_gain)), 1e-12))
      lines.append(f"| {task} | {stop} | {steps.mean():.1f}, {steps.max()} | "
                   f"{int(np.sum(np.asarray(res.converged)))}/10 | {float(np.mean(g)):.4g} | "
                   f"{frac:.3f} |")
      print(lines[-1], flush=True)
  return "\n".join(lines)


def main(argv):
  del argv
  out = pathlib.Path(FLAGS.out)
  out.mkdir(parents=True, exist_ok=True)
  tables = []
  if "flexibert" in FLAGS.tables:
    tables += flexibert_tables()
  if "protran" in FLAGS.tables:
    tables += protran_tables(FLAGS.min_rows)
  text = []
  if tables:
    results = evaluate(tables, FLAGS.seeds, FLAGS.methods)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    text += [markdown(results), "", per_seed_taus(results)]
  if FLAGS.gobi:
    text += ["", gobi_statistics()]
  md = "\n".join(text)
  (out / "table.md").write_text(md + "\n")
  print(md)


if __name__ == "__main__":
  define_flags()
  app.run(main)
