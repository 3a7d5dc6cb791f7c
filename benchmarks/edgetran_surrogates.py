"""EdgeTran device surrogates vs the original's regressor, on held-out splits of the ProTran rows.

For each split seed the 629 rows of ``../shared/fixtures/protran/measurements.jsonl`` are split at
random into train / held-out (``--test_fraction``); every method is fitted on the SAME training rows
and scored on the SAME held-out rows, per device (devices with >= ``--min_rows`` held-out rows) and
target: Kendall tau (scipy tau-b) and RMSE of natural-log values. Methods:

* ``adaboost_emb``: AdaBoost(DecisionTree, 500) on the 37-integer embedding + device one-hot (the
  original EdgeTran regressor, Tuli & Jha TMC 2024, with the device as a feature so it is one model);
* ``rf_emb``: a random forest (500 trees) on the same inputs;
* ``devices_nn``, ``devices_tree``, ``devices_tree_nn``, ``devices``:
  :mod:`jaxcodesign.surrogates.devices` with the network only, the ExtraTrees on workload features
  only, trees + network (no AdaBoost member), and the default mixture (trees + network + AdaBoost
  on the embedding).

Nothing is selected on the held-out rows: every method has fixed hyperparameters; the summary is
the mean (and std) over seeds of the per-target mean tau over devices, with every seed printed.

  python -m benchmarks.edgetran_surrogates --seeds=0,1,2 --output=/tmp/edgetran_bench.json

Timings (if quoted) were taken on a shared, busy 2-core machine; CPU seconds are reported.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def _log_targets(rows):
  from jaxcodesign.surrogates.devices import TARGETS
  return np.log(np.asarray([[np.nan if r.get(t) is None else r[t] for t in TARGETS] for r in rows],
                           float))


def _emb_onehot(rows, devices):
  from jaxcodesign.spaces import get_space
  sp = get_space("flexibert2")
  e = np.asarray([sp.encode(r["model_dict"]) for r in rows], float)
  oh = np.asarray([[r["device"] == d for d in devices] for r in rows], float)
  return np.concatenate([e, oh], axis=1)


def baseline_predict(name, train, test, seed):
  """float[n_test, 3] log predictions of a baseline ('adaboost_emb' | 'rf_emb')."""
  from sklearn.ensemble import AdaBoostRegressor, RandomForestRegressor
  from sklearn.tree import DecisionTreeRegressor
  devices = sorted({r["device"] for r in train})
  xtr, xte = _emb_onehot(train, devices), _emb_onehot(test, devices)
  ytr = _log_targets(train)
  out = np.zeros((len(test), ytr.shape[1]))
  for t in range(ytr.shape[1]):
    m = np.isfinite(ytr[:, t])
    if name == "adaboost_emb":
      est = AdaBoostRegressor(DecisionTreeRegressor(), n_estimators=500, random_state=seed)
    else:
      est = RandomForestRegressor(n_estimators=500, random_state=seed, n_jobs=1)
    out[:, t] = est.fit(xtr[m], ytr[m, t]).predict(xte)
  return out


def devices_predict(train, test, seed, **cfg):
  import jax
  from jaxcodesign.surrogates import devices as dv
  sur = dv.fit_device_surrogate(jax.random.key(seed), train, dv.DeviceSurrogateConfig(**cfg))
  x = dv.features_batch([r["model_dict"] for r in test])
  emb = dv.embeddings_batch([r["model_dict"] for r in test])
  mean, std = dv.predict_log(sur, x, [r["device"] for r in test], emb)
  return mean, std


def score(pred, truth, devices, min_rows):
  """{target: {device: {'tau', 'rmse_log', 'n'}}} and {target: mean tau over devices}."""
  from jaxcodesign.surrogates.devices import TARGETS, kendall_per_device
  per, mean = {}, {}
  devices = np.asarray(devices)
  for t, name in enumerate(TARGETS):
    taus = kendall_per_device(pred[:, t], truth[:, t], devices, min_rows)
    per[name] = {}
    for d, tau in taus.items():
      m = (devices == d) & np.isfinite(truth[:, t])
      per[name][d] = {"tau": tau, "rmse_log": float(np.sqrt(np.mean((pred[m, t] - truth[m, t]) ** 2))),
                      "n": int(m.sum())}
    mean[name] = float(np.mean(list(taus.values())))
  return per, mean


METHODS = {
    "adaboost_emb": lambda tr, te, s: (baseline_predict("adaboost_emb", tr, te, s), None),
    "rf_emb": lambda tr, te, s: (baseline_predict("rf_emb", tr, te, s), None),
    "devices_nn": lambda tr, te, s: devices_predict(tr, te, s, nn_weight=1.0, ada_weight=0.0),
    "devices_tree": lambda tr, te, s: devices_predict(tr, te, s, nn_weight=0.0, ada_weight=0.0),
    "devices_tree_nn": lambda tr, te, s: devices_predict(tr, te, s, ada_weight=0.0),
    "devices": lambda tr, te, s: devices_predict(tr, te, s),
}


def main(argv=None):
  import argparse
  from jaxcodesign.paths import fixture
  from jaxcodesign.surrogates.devices import TARGETS, read_rows
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--seeds", default="0,1,2")
  ap.add_argument("--test_fraction", type=float, default=0.2)
  ap.add_argument("--min_rows", type=int, default=5)
  ap.add_argument("--methods", default=",".join(METHODS))
  ap.add_argument("--output", default="")
  args = ap.parse_args(argv)
  rows = read_rows(fixture("protran", "measurements.jsonl"), need_targets=True)
  seeds = [int(s) for s in args.seeds.split(",") if s]
  methods = [m for m in args.methods.split(",") if m]
  result = {"seeds": seeds, "test_fraction": args.test_fraction, "min_rows": args.min_rows,
            "runs": []}
  for seed in seeds:
    perm = np.random.default_rng(seed).permutation(len(rows))
    n_te = int(round(args.test_fraction * len(rows)))
    test = [rows[i] for i in perm[:n_te]]
    train = [rows[i] for i in perm[n_te:]]
    truth = _log_targets(test)
    devs = [r["device"] for r in test]
    for m in methods:
      t0 = time.process_time()
      pred, std = METHODS[m](train, test, seed)
      cpu = time.process_time() - t0
      per, mean = score(pred, truth, devs, args.min_rows)
      entry = {"seed": seed, "method": m, "mean_tau": mean, "per_device": per, "cpu_s": cpu}
      if std is not None:  # calibration: fraction of held-out log values within +-1 std
        ok = np.isfinite(truth)
        entry["coverage_1std"] = float(np.mean(np.abs(pred[ok] - truth[ok]) <= std[ok]))
      result["runs"].append(entry)
      print(f"seed {seed} {m:14s} " + " ".join(f"{t[:7]} {mean[t]:.3f}" for t in TARGETS)
            + f"  cpu {cpu:.0f}s" + (f"  cov1 {entry['coverage_1std']:.2f}" if std is not None else ""),
            flush=True)
  summary = {}
  for m in methods:
    runs = [r for r in result["runs"] if r["method"] == m]
    summary[m] = {t: {"mean": float(np.mean([r["mean_tau"][t] for r in runs])),
                      "std": float(np.std([r["mean_tau"][t] for r in runs]))} for t in TARGETS}
    print(f"mean over seeds {m:14s} " + " ".join(
        f"{t[:7]} {summary[m][t]['mean']:.3f}+-{summary[m][t]['std']:.3f}" for t in TARGETS))
  result["summary"] = summary
  if args.output:
    with open(args.output, "w") as fh:
      json.dump(result, fh, indent=1)
  return 0


if __name__ == "__main__":
  sys.exit(main())
