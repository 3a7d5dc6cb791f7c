"""Tabular NAS benchmark on REAL measured accuracies of the FlexiBERT-small library.

Usage::

  python -m benchmarks.nas_flexibert_small --task=SST-2 --seeds=20 --budget=50 [--out=results/...]

``../shared/fixtures/flexibert_small/library.jsonl`` holds measured GLUE dev accuracies for part of the
2,037-model library. For ``--task`` the candidates are exactly the models measured on that task
(unmeasured models are never queried); the evaluator (:class:`TableEvaluator`) returns the measured
accuracy. Every method gets the same query budget (unique models, duplicates free) and the same seeds:

* ``boshnas``: :func:`jaxcodesign.search.boshnas.run_boshnas` restricted to the candidates (GOBI
  optimum -> nearest untried candidate in normalised feature space), small fast surrogate;
* ``random``, ``evolution`` (regularised evolution), ``gp_bo`` (sklearn GP + EI over the untried
  candidates): :mod:`jaxcodesign.search.baselines`.

Reported per method and query count: best-found accuracy and simple regret
(max measured accuracy - best found), mean and standard error over seeds, as a markdown table
(printed), a paired comparison of BOSHNAS against every other method at the full budget (mean
difference +- s.e., wins / ties / losses over seeds, two-sided Wilcoxon signed-rank p-value, and a
plain sentence saying whether the difference exceeds seed noise), ``<out>/<task>.csv``, ``<out>/<task>.json`` and a PNG plot ``<out>/<task>.png``. Also the
Kendall tau of the BOSHNAS surrogate (same config) fit on a fixed random 80 % of the measured models and
evaluated on the other 20 % (a diagnostic of the surrogate only; the search never sees a split).
Objective: ``Objective(ObjectiveTerm("accuracy", 1.0, valid_range=(0, 1)))`` through
``objectives.scalarise``. Hashes come from the library file (they equal ``FlexiBERTSmallSpace.hash``,
checked on a sample at start-up) and are memoised, because the WL graph hash costs ~10 ms per call.
"""

from __future__ import annotations

import json
import pathlib
import time
import warnings

from absl import app, flags
import jax
import numpy as np

from jaxcodesign import paths
from jaxcodesign.search import baselines
from jaxcodesign.search.boshnas import BoshnasConfig, run_boshnas
from jaxcodesign.search.evaluators import BudgetedEvaluator, TableEvaluator
from jaxcodesign.search.objectives import Objective, ObjectiveTerm

FLAGS = flags.FLAGS
flags.DEFINE_enum("task", "SST-2", ["SST-2", "QNLI"], "GLUE task whose measured accuracies are searched")
flags.DEFINE_integer("seeds", 20, "number of seeds (>= 20 for the reported figures)")
flags.DEFINE_integer("budget", 50, "queries (unique models) per run, including initial designs")
flags.DEFINE_integer("n_init", 10, "initial random designs (BOSHNAS, GP-BO; RE population)")
flags.DEFINE_integer("batch", 2, "BOSHNAS queries per round")
flags.DEFINE_list("methods", ["boshnas", "random", "evolution", "gp_bo"], "methods to run")
flags.DEFINE_string("out", "results/nas_flexibert_small", "output directory")
flags.DEFINE_enum("surrogate", "default", ["default", "small"],
                  "BOSHNAS surrogate: 'default' = SurrogateConfig() (4 members, 150 epochs on every "
                  "row, no holdout); 'small' = the earlier cut-down config (hidden 32-16, 2 members, "
                  "40 epochs)")

OBJECTIVE = Objective(terms=(ObjectiveTerm("accuracy", 1.0, 1.0, False, (0.0, 1.0)),))


class MemoHashSpace:
  """Delegates to ``space`` but memoises ``hash`` by the point's canonical JSON (prefilled)."""

  def __init__(self, space, known: dict[str, str] | None = None):
    self._space = space
    self._memo = dict(known or {})

  @staticmethod
  def key(point) -> str:
    return json.dumps(point, sort_keys=True)

  def hash(self, point) -> str:
    k = self.key(point)
    h = self._memo.get(k)
    if h is None:
      h = self._memo[k] = self._space.hash(point)
    return h

  def __getattr__(self, name):
    return getattr(self._space, name)


def surrogate_config(kind: str | None = None):
  """BOSHNAS's surrogate: the package default (padded to 64 rows: one compilation for budgets up to
  64) or the earlier cut-down 'small' configuration."""
  from jaxcodesign.surrogates import SurrogateConfig
  kind = kind or (FLAGS.surrogate if "surrogate" in FLAGS and FLAGS.is_parsed() else "default")
  if kind == "small":
    return SurrogateConfig(hidden=(32, 16), npn_hidden=(16, 16), n_members=2, epochs=40,
                           min_epochs=5, mc_samples=6, min_bucket=64)
  return SurrogateConfig(min_bucket=64)


def boshnas_config(budget: int, n_init: int, batch: int) -> BoshnasConfig:
  from jaxcodesign.search.gobi import GOBIConfig
  # stop_patience huge: every method spends the whole budget (fixed-budget comparison)
  return BoshnasConfig(n_init=n_init, batch_size=batch, budget=budget, patience=5,
                       stop_patience=10**6, gobi_restarts=5, surrogate=surrogate_config(),
                       gobi=GOBIConfig(max_steps=50), max_rounds=10**6)


def load_task(task: str):
  """(space, candidates, table hash -> {"accuracy"}) for the models measured on ``task``."""
  from jaxcodesign.spaces import get_space
  rows = [json.loads(l) for l in open(paths.fixture("flexibert_small", "library.jsonl"))]
  base = get_space("flexibert_small")
  for r in rows[:: max(1, len(rows) // 10)]:  # the file's hashes are the space's (spot check)
    assert base.hash(r["model_dict"]) == r["hash"], r["hash"]
  space = MemoHashSpace(base, {MemoHashSpace.key(r["model_dict"]): r["hash"] for r in rows})
  measured = [r for r in rows if task in r["accuracy"]]
  table = {r["hash"]: {"accuracy": float(r["accuracy"][task])} for r in measured}
  return space, [r["model_dict"] for r in measured], table


def kendall_tau_holdout(space, candidates, table, seed: int = 12345) -> tuple[float, int, int]:
  """Surrogate (BOSHNAS config) fit on a fixed 80 % of the measured models; tau on the other 20 %."""
  from scipy.stats import kendalltau
  from jaxcodesign.surrogates import fit_surrogate, predict
  rng = np.random.default_rng(seed)
  perm = rng.permutation(len(candidates))
  n_tr = int(0.8 * len(candidates))
  x = space.to_features_batch(candidates).astype(np.float32)
  y = np.array([table[space.hash(p)]["accuracy"] for p in candidates], np.float32)
  state = fit_surrogate(jax.random.key(seed), x[perm[:n_tr]], y[perm[:n_tr]], surrogate_config())
  mean = np.asarray(predict(state, x[perm[n_tr:]]).mean)
  return float(kendalltau(mean, y[perm[n_tr:]])[0]), n_tr, len(candidates) - n_tr


def run_method(method: str, key, space, candidates, table, budget: int, n_init: int, batch: int):
  ev = BudgetedEvaluator(TableEvaluator(table, space, name="flexibert_small"), space, budget)
  if method == "boshnas":
    res = run_boshnas(key, space, ev, OBJECTIVE, boshnas_config(budget, n_init, batch),
                      candidates=candidates)
    perf = res.performance
  elif method == "random":
    perf = [e.performance for e in baselines.random_search(key, space, ev, OBJECTIVE, budget,
                                                           candidates=candidates)]
  elif method == "evolution":
    perf = [e.performance for e in baselines.regularized_evolution(
        key, space, ev, OBJECTIVE, budget, population_size=n_init, sample_size=max(2, n_init // 4),
        candidates=candidates)]
  elif method == "gp_bo":
    perf = [e.performance for e in baselines.gp_bo(key, space, ev, OBJECTIVE, budget, n_init=n_init,
                                                   refit_every=5, candidates=candidates)]
  else:
    raise ValueError(f"invalid value for field 'methods': {method!r}; allowed: "
                     "['boshnas', 'random', 'evolution', 'gp_bo']")
  assert ev.used == len(perf) <= budget
  curve = np.maximum.accumulate(np.asarray(perf, np.float64))
  return np.concatenate([curve, np.full(budget - len(curve), curve[-1])])


def summarise(curves: dict, best_possible: float):
  out = {}
  for m, c in curves.items():
    c = np.asarray(c)
    n = c.shape[0]
    regret = best_possible - c
    out[m] = {"mean_best": c.mean(0), "se_best": c.std(0, ddof=1) / np.sqrt(n) if n > 1 else 0 * c[0],
              "mean_regret": regret.mean(0),
              "se_regret": regret.std(0, ddof=1) / np.sqrt(n) if n > 1 else 0 * c[0]}
  return out


def paired_comparison(curves: dict, reference: str = "boshnas") -> tuple[str, dict]:
  """Wilcoxon signed-rank test over seeds (paired by seed: same key, same initial candidates for
  the model-based methods) of ``reference``'s best-found accuracy at the full budget against each
  other method. Returns (markdown table, dict of statistics)."""
  from scipy.stats import wilcoxon
  if reference not in curves:
    return "", {}
  ref = np.asarray(curves[reference])[:, -1]
  lines = [f"| {reference} vs | mean diff +- s.e. | wins / ties / losses | Wilcoxon p (two-sided) |",
           "|---|---|---|---|"]
  stats = {}
  for m, c in curves.items():
    if m == reference:
      continue
    d = ref - np.asarray(c)[:, -1]
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    w, t, l = int(np.sum(d > 0)), int(np.sum(d == 0)), int(np.sum(d < 0))
    p = float(wilcoxon(d, zero_method="zsplit").pvalue) if np.any(d != 0) else 1.0
    stats[m] = {"mean_diff": float(d.mean()), "se_diff": float(se), "wins": w, "ties": t,
                "losses": l, "wilcoxon_p": p}
    lines.append(f"| {m} | {d.mean():+.4f} +- {se:.4f} | {w} / {t} / {l} | {p:.3g} |")
  return "\n".join(lines), stats


def plot(summary, task, path):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(1, 2, figsize=(10, 4))
  for m, s in summary.items():
    q = np.arange(1, len(s["mean_best"]) + 1)
    for ax, k in zip(axes, ("best", "regret")):
      mu, se = s[f"mean_{k}"], s[f"se_{k}"]
      ax.plot(q, mu, label=m)
      ax.fill_between(q, mu - se, mu + se, alpha=0.2)
  axes[0].set_ylabel(f"best measured {task} accuracy")
  axes[1].set_ylabel("simple regret")
  axes[1].set_yscale("symlog", linthresh=1e-3)
  for ax in axes:
    ax.set_xlabel("queries (unique models)")
    ax.grid(alpha=0.3)
  axes[0].legend()
  fig.suptitle(f"FlexiBERT-small {task}: mean +- s.e. over seeds")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main(argv):
  del argv
  warnings.filterwarnings("ignore", module="sklearn")
  t0 = time.time()
  task, budget = FLAGS.task, FLAGS.budget
  space, candidates, table = load_task(task)
  best_possible = max(v["accuracy"] for v in table.values())
  print(f"{task}: {len(candidates)} measured models (candidates), max accuracy {best_possible:.4f}, "
        f"budget {budget}, seeds {FLAGS.seeds}")
  t = time.time()
  tau, n_tr, n_te = kendall_tau_holdout(space, candidates, table)
  print(f"surrogate Kendall tau on held-out measured models: {tau:.3f} "
        f"(train {n_tr}, held-out {n_te}; {time.time() - t:.1f} s incl. compile)")
  curves, timing = {m: [] for m in FLAGS.methods}, {m: 0.0 for m in FLAGS.methods}
  for s in range(FLAGS.seeds):
    for m in FLAGS.methods:
      t = time.time()
      curves[m].append(run_method(m, jax.random.key(s), space, candidates, table, budget,
                                  FLAGS.n_init, FLAGS.batch))
      timing[m] += time.time() - t
    print(f"seed {s}: " + ", ".join(f"{m} {curves[m][-1][-1]:.4f}" for m in FLAGS.methods),
          flush=True)
  summary = summarise(curves, best_possible)
  marks = [q for q in (10, 20, 30, 40, 50, 75, 100) if q <= budget] or [budget]
  lines = [f"| method | " + " | ".join(f"best@{q}" for q in marks) + f" | regret@{budget} | s/run |",
           "|---" * (len(marks) + 3) + "|"]
  for m, s in summary.items():
    cells = [f"{s['mean_best'][q - 1]:.4f} ± {s['se_best'][q - 1]:.4f}" for q in marks]
    lines.append(f"| {m} | " + " | ".join(cells) +
                 f" | {s['mean_regret'][-1]:.4f} ± {s['se_regret'][-1]:.4f} "
                 f"| {timing[m] / FLAGS.seeds:.2f} |")
  table_md = "\n".join(lines)
  print(table_md)
  paired_md, paired = paired_comparison(curves)
  if paired_md:
    print(f"\npaired over {FLAGS.seeds} seeds, best accuracy at {budget} queries:\n{paired_md}")
    for m, st in paired.items():
      verdict = ("beats" if st["mean_diff"] > 0 else "does not beat")
      sig = "significant" if st["wilcoxon_p"] < 0.05 else "within seed noise"
      print(f"BOSHNAS {verdict} {m} on {task} at {budget} queries "
            f"({st['mean_diff']:+.4f}, p = {st['wilcoxon_p']:.3g}: {sig})")
  out = pathlib.Path(FLAGS.out)
  out.mkdir(parents=True, exist_ok=True)
  with open(out / f"{task}.csv", "w") as f:
    f.write("method,queries,mean_best,se_best,mean_regret,se_regret\n")
    for m, s in summary.items():
      for q in range(budget):
        f.write(f"{m},{q + 1},{s['mean_best'][q]:.6f},{s['se_best'][q]:.6f},"
                f"{s['mean_regret'][q]:.6f},{s['se_regret'][q]:.6f}\n")
  meta = {"task": task, "n_candidates": len(candidates), "max_accuracy": best_possible,
          "budget": budget, "seeds": FLAGS.seeds, "n_init": FLAGS.n_init, "batch": FLAGS.batch,
          "kendall_tau_holdout": tau, "tau_split": [n_tr, n_te], "surrogate": FLAGS.surrogate,
          "paired": paired, "paired_markdown": paired_md,
          "seconds_per_run": {m: timing[m] / FLAGS.seeds for m in timing},
          "wall_s": time.time() - t0, "markdown": table_md,
          "curves": {m: np.asarray(c).tolist() for m, c in curves.items()}}
  (out / f"{task}.json").write_text(json.dumps(meta, indent=1))
  plot(summary, task, out / f"{task}.png")
  print(f"wrote {out}/{task}.{{csv,json,png}}; total {time.time() - t0:.0f} s")


if __name__ == "__main__":
  app.run(main)
