r"""Co-design over several seeds: mean +- standard error per method and paired comparisons.

Runs one experiment (``experiments/<name>.py``) once per seed, each as its own ``python -m
launch.codesign`` process into its own work directory ``<root>/<experiment>/seed_<s>`` (a re-run
resumes; finished seeds are read back, not re-run), then
reports, per method, the mean +- standard error over seeds of the best objective and of the
hypervolume of its feasible pairs (``results.json``; every method of every seed at the same
budget), and, for each one-sided baseline, the paired difference ``codesign - baseline`` per seed:
its mean +- standard error, the number of seeds co-design wins, and a two-sided paired t-test
p-value (``scipy.stats.ttest_rel``; with 5 or more seeds also the Wilcoxon signed-rank p-value).
No seed is dropped: a seed that fails stops the benchmark with its error.

Commands (the issue asks for at least 3 seeds of the digits experiments and 5 of the SST-2 table
experiment)::

  python -m benchmarks.codesign_seeds --experiment=transcode_digits --seeds=0,1,2
  python -m benchmarks.codesign_seeds --experiment=transcode_sst2_table --seeds=0,1,2,3,4

Output: a table on stdout and ``<root>/<experiment>/seeds.json``. Measured figures: README
("Co-design over seeds").
"""

from __future__ import annotations

import json
import math
import pathlib
import subprocess
import sys
import time

import numpy as np
from absl import app
from absl import flags

from jaxcodesign import codesign
from jaxcodesign.codesign.config import config_path
from jaxcodesign.paths import PROJECT_ROOT

_EXPERIMENT = flags.DEFINE_string("experiment", "transcode_digits", "experiment name or config path")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "seeds, one co-design run each")
_ROOT = flags.DEFINE_string("root", "/tmp/jaxcodesign_seeds", "root of the per-seed work directories")
_OVERRIDES = flags.DEFINE_multi_string(
    "set", [], "config overrides FIELD=VALUE applied to every seed (passed as --config.FIELD=VALUE, "
    "e.g. budget=8)")


def mean_se(values) -> tuple[float, float]:
  """(mean, standard error = sample std / sqrt(n)); se is NaN for one value."""
  v = np.asarray(values, np.float64)
  return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")


def paired(a, b) -> dict:
  """Paired comparison of per-seed values ``a`` (co-design) and ``b`` (a baseline)."""
  from scipy import stats
  d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
  m, se = mean_se(d)
  out = {"mean_diff": m, "se_diff": se, "wins": int((d > 0).sum()), "ties": int((d == 0).sum()),
         "n": int(len(d))}
  if len(d) > 1 and np.any(d != d[0]):
    out["t_test_p"] = float(stats.ttest_rel(a, b).pvalue)
  if len(d) >= 5 and np.any(d != 0):
    out["wilcoxon_p"] = float(stats.wilcoxon(d).pvalue)
  return out


def summarise(results: dict[int, dict]) -> dict:
  """Per-method mean +- s.e. and paired comparisons from ``{seed: results.json dict}``."""
  seeds = sorted(results)
  methods = list(results[seeds[0]]["summary"])
  per = {}
  for m in methods:
    best = [results[s]["summary"][m]["best_performance"] for s in seeds]
    hv = [results[s]["summary"][m].get("hypervolume", float("nan")) for s in seeds]
    per[m] = {"best": best, "best_mean_se": mean_se(best), "hypervolume": hv,
              "hypervolume_mean_se": mean_se(hv),
              "evaluations": [results[s]["summary"][m]["evaluations"] for s in seeds]}
  comp = {}
  if "codesign" in per:
    for m in methods:
      if m != "codesign":
        comp[m] = {"best": paired(per["codesign"]["best"], per[m]["best"]),
                   "hypervolume": paired(per["codesign"]["hypervolume"], per[m]["hypervolume"])}
  return {"seeds": seeds, "methods": per, "codesign_minus": comp}


def main(argv):
  del argv
  root = pathlib.Path(_ROOT.value)
  results, walls = {}, {}
  name = codesign.load_config(_EXPERIMENT.value).name
  for s in map(int, _SEEDS.value):
    wd = root / name / f"seed_{s}"
    t = time.time()
    # One process per seed (the launcher's own command): every trained network compiles its own
    # XLA programs, and one process over several seeds ran out of memory for them (LLVM "Cannot
    # allocate memory" during the third seed on a 24 GiB machine).
    cmd = [sys.executable, "-m", "launch.codesign",
           f"--config={config_path(_EXPERIMENT.value).resolve()}", f"--workdir={wd}", f"--seed={s}"] + [f"--config.{o}" for o in _OVERRIDES.value]
    subprocess.run(cmd, check=True, cwd=str(PROJECT_ROOT))
    results[s] = json.loads((wd / "results.json").read_text())
    walls[s] = time.time() - t
    print(f"seed {s}: " + ", ".join(f"{m} {v['best_performance']:.4f}"
                                    for m, v in results[s]["summary"].items()) + f" ({walls[s]:.0f} s)")
  out = summarise(results)
  out["experiment"], out["wall_s"] = name, walls
  print(f"\n{name}: mean +- s.e. over seeds {out['seeds']}")
  for m, v in out["methods"].items():
    (bm, bs), (hm, hs) = v["best_mean_se"], v["hypervolume_mean_se"]
    print(f"  {m:18s} best objective {bm:.4f} +- {bs:.4f}   hypervolume {hm:.4f} +- {hs:.4f}")
  for m, c in out["codesign_minus"].items():
    b, h = c["best"], c["hypervolume"]
    print(f"  codesign - {m:18s} objective {b['mean_diff']:+.4f} +- {b['se_diff']:.4f} "
          f"(wins {b['wins']}/{b['n']}, t-test p {b.get('t_test_p', float('nan')):.3g}"
          + (f", Wilcoxon p {b['wilcoxon_p']:.3g}" if "wilcoxon_p" in b else "") + ")"
          f"   hypervolume {h['mean_diff']:+.4f} +- {h['se_diff']:.4f} (wins {h['wins']}/{h['n']})")
  path = root / name / "seeds.json"
  path.write_text(json.dumps(out, indent=1, default=float))
  print(f"wrote {path}")


if __name__ == "__main__":
  app.run(main)
