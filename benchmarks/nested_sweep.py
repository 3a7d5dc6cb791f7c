r"""Per-network cost of nested co-design's accelerator scoring: before (per-dict path) vs after.

Nested co-design scores every queried network on a fixed candidate set of accelerators
(``accelerator_sweep`` sampled + the fixed one). Before, each network re-validated the candidate
dicts, converted them to arrays and split the results back into per-config dicts
(``PairEvaluator.hardware_sweep`` + ``hardware_metrics`` per row); after, the candidates are
prepared once per experiment (``HardwareHalf.prepare``: ``hardware.api.prepare_configs``) and each
network is one vectorised accelerator-model call on arrays plus one vectorised scalarisation
(``NestedAcceleratorEvaluator.scores``). Both paths are timed in the same run, after one warm-up
call each (compilation excluded), on the same networks; the chosen accelerators must agree.

  python -m benchmarks.nested_sweep [--experiment=transcode_digits] [--networks=6] [--candidates=1024]

Reports CPU seconds (``time.process_time``, all threads) and wall seconds per network.
"""

import time

import jax
import numpy as np
from absl import app
from absl import flags

from jaxcodesign import codesign
from jaxcodesign.search import objectives

_EXPERIMENT = flags.DEFINE_string("experiment", "transcode_digits", "Experiment config name.")
_NETWORKS = flags.DEFINE_integer("networks", 6, "Networks timed per path.")
_CANDIDATES = flags.DEFINE_integer("candidates", 1024, "Sampled candidate accelerators (+ the fixed one).")


def old_scores(exp, model, hws):
  """The per-dict path of the previous NestedAcceleratorEvaluator (kept for the comparison)."""
  rows = [codesign.hardware_metrics(r, h) for r, h in zip(exp.evaluator.hardware_sweep(model, hws), hws)]
  metrics = {name: np.array([r[name] for r in rows]) for name in rows[0]}
  metrics["accuracy"] = np.zeros(len(rows))
  metrics["fits"] = metrics["fits"].astype(np.float32)
  return np.asarray(objectives.scalarise(metrics, exp.objective))


def _time(fn, models):
  w, c = time.perf_counter(), time.process_time()
  out = [fn(m) for m in models]
  return out, (time.perf_counter() - w) / len(models), (time.process_time() - c) / len(models)


def main(argv):
  del argv
  cfg = codesign.load_config(_EXPERIMENT.value)
  exp = codesign.build_experiment(cfg)
  key = jax.random.key(0)
  hws = exp.hw_space.sample(jax.random.fold_in(key, 1), _CANDIDATES.value) + [exp.fixed_hw]
  models = exp.model_space.sample(jax.random.fold_in(key, 2), _NETWORKS.value + 1)
  warm, models = models[0], models[1:]
  w, c = time.perf_counter(), time.process_time()
  nested = codesign.NestedAcceleratorEvaluator(exp.evaluator, exp.objective, hws)
  prep_wall, prep_cpu = time.perf_counter() - w, time.process_time() - c
  old_scores(exp, warm, hws)
  nested.scores(warm)
  before, b_wall, b_cpu = _time(lambda m: old_scores(exp, m, hws), models)
  after, a_wall, a_cpu = _time(nested.scores, models)
  agree = all(int(np.argmax(x)) == int(np.argmax(y)) for x, y in zip(before, after))
  err = max(float(np.max(np.abs(x - y))) for x, y in zip(before, after))
  print(f"{cfg.name}: {len(hws)} candidate accelerators, {len(models)} networks "
        f"(shared, busy machine: prefer the CPU seconds)")
  print(f"  prepare once       : {prep_wall:.3f} s wall, {prep_cpu:.3f} s CPU")
  print(f"  before (per-dict)  : {b_wall:.4f} s wall, {b_cpu:.4f} s CPU per network")
  print(f"  after (prepared)   : {a_wall:.4f} s wall, {a_cpu:.4f} s CPU per network")
  print(f"  speed-up           : {b_wall / a_wall:.1f}x wall, {b_cpu / a_cpu:.1f}x CPU")
  print(f"  same choices: {agree}; max |score difference| {err:.2e}")
  if not agree:
    raise SystemExit("the two paths chose different accelerators")


if __name__ == "__main__":
  app.run(main)
