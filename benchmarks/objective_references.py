r"""Prints the hardware-metric distribution of random (network, accelerator) pairs per experiment.

The objective references of ``experiments/*.py`` are the 90th percentiles printed here (8 random
networks x 512 random accelerators, dense sparsity, each experiment's sequence length / input size):

  python -m benchmarks.objective_references [--experiments=transcode_digits,codebench_digits,...]
"""


import jax
import numpy as np
from absl import app
from absl import flags

from jaxcodesign import codesign
from jaxcodesign.spaces import get_space

_EXPERIMENTS = flags.DEFINE_list(
    "experiments", ["transcode_digits", "codebench_digits", "transcode_sst2_table"], "Experiments.")
_MODELS = flags.DEFINE_integer("models", 8, "Random networks per experiment.")
_ACCELERATORS = flags.DEFINE_integer("accelerators", 512, "Random accelerators per network.")





def main(argv):
  del argv
  for name in _EXPERIMENTS.value:
    cfg = codesign.load_config(name)
    exp = codesign.build_experiment(cfg)
    key = jax.random.PRNGKey(0)
    models = exp.model_space.sample(jax.random.fold_in(key, 1), _MODELS.value)
    hws = exp.hw_space.sample(jax.random.fold_in(key, 2), _ACCELERATORS.value)
    rows = []
    for m in models:
      for h, r in zip(hws, exp.evaluator.hardware_sweep(m, hws)):
        r = codesign.hardware_metrics(r, h)
        rows.append((r["latency_s"], r["energy_per_sample_j"], r["area_mm2"], r["fits"]))
    a = np.array(rows, np.float64)
    fit = a[:, 3] > 0
    print(f"{name}: fits {fit.mean():.3f} of {len(a)} pairs")
    for j, metric in enumerate(("latency_s", "energy_per_sample_j", "area_mm2")):
      p10, p50, p90 = np.percentile(a[fit, j], [10, 50, 90])
      print(f"  {metric:20s} p10 {p10:.3e}  p50 {p50:.3e}  p90 {p90:.3e}  "
            f"(config reference {cfg.objective.references[metric]:.3e})")


if __name__ == "__main__":
  app.run(main)
