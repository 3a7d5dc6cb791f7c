r"""Prints the hardware-metric distribution of random (network, accelerator) pairs per experiment.

The objective references of ``experiments/*.py`` are the 90th percentiles printed here (8 random
networks x 512 random accelerators, dense sparsity, each experiment's sequence length / input size),
for the metrics the objective references (latency and energy per inference, area or peak power);
a devices experiment (``edgetran_digits``) samples its 7 devices instead of accelerators and counts
a pair as fitting when it meets the latency and power budgets:

  python -m benchmarks.objective_references [--experiments=transcode_digits,codebench_digits,...]
"""

import jax
import numpy as np
from absl import app
from absl import flags

from jaxcodesign import codesign

_EXPERIMENTS = flags.DEFINE_list(
    "experiments", ["transcode_digits", "codebench_digits", "transcode_sst2_table"], "Experiments.")
_MODELS = flags.DEFINE_integer("models", 8, "Random networks per experiment.")
_ACCELERATORS = flags.DEFINE_integer("accelerators", 512, "Random accelerators per network.")



def metrics_of(cfg) -> list[str]:
  """The experiment's referenced metrics (per inference; area or peak power), the metrics of its
  budgets (``objective.constraints``) and per-batch latency."""
  names = list(cfg.objective.references.keys()) + ["latency_s"]
  names += [k for k in cfg.objective.get("constraints", {}).keys() if k not in names]
  return names


def main(argv):
  del argv
  for name in _EXPERIMENTS.value:
    cfg = codesign.load_config(name)
    exp = codesign.build_experiment(cfg)
    key = jax.random.key(0)
    models = exp.model_space.sample(jax.random.fold_in(key, 1), _MODELS.value)
    hws = exp.hw_space.sample(jax.random.fold_in(key, 2), _ACCELERATORS.value)
    metrics = metrics_of(cfg)
    rows = []
    for m in models:
      for h, r in zip(hws, exp.evaluator.hardware_sweep(m, hws)):
        r = codesign.hardware_metrics(r, h)
        rows.append([r.get(k, np.nan) for k in metrics] + [r["fits"]])
    a = np.array(rows, np.float64)
    fit = a[:, -1] > 0
    print(f"{name}: fits {fit.mean():.3f} of {len(a)} pairs")
    for j, metric in enumerate(metrics):
      p10, p50, p90 = np.percentile(a[fit, j], [10, 50, 90])
      ref = cfg.objective.references.get(metric)
      ref = f"{ref:.3e}" if ref is not None else "-"
      print(f"  {metric:24s} p10 {p10:.3e}  p50 {p50:.3e}  p90 {p90:.3e}  (config reference {ref})")


if __name__ == "__main__":
  app.run(main)
