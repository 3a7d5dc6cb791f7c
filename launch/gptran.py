"""GPTran: grow-and-prune refinement of one FlexiBERT 2.0 model for one device (EdgeTran).

Usage::

  python -m launch.gptran --model=MODEL.json --device=cpu_m1-pro --output=RESULT.json \
      [--train=../shared/fixtures/protran/measurements.jsonl] [--cost_weight=0.05] \
      [--max_trainings=6] [--epochs=6] [--seed=0]

``--model`` is a JSON file holding a FlexiBERT 2.0 hetero dict (or the dict itself, inline). The
device surrogates (:mod:`jaxcodesign.surrogates.devices`) are fitted on ``--train`` rows and give
the latency (s/sequence at seq 128) of every candidate on ``--device``; accuracy is real training
on the digits sequences (8 tokens x 8 features, fixed split). The score is ``val_accuracy -
cost_weight * log(latency / latency_start)``; see :mod:`jaxcodesign.edgetran.gptran`. The result
(start, final, every trained child) is written as JSON. Errors (bad model dict, unknown device,
unwritable output) are reported before any fitting or training.
"""

from __future__ import annotations

import json
import pathlib

from absl import flags

FLAGS = flags.FLAGS


def define_flags():
  """Defines the launcher's absl flags (only when run as a program). Idempotent."""
  if "cost_weight" in FLAGS:
    return
  flags.DEFINE_string("model", None, "FlexiBERT 2.0 model dict: a JSON file or inline JSON")
  flags.DEFINE_string("device", None, "device whose predicted latency is the cost")
  flags.DEFINE_string("train", "", "measurement rows for the device surrogate "
                      "(default: ../shared/fixtures/protran/measurements.jsonl)")
  flags.DEFINE_string("output", None, "result JSON")
  flags.DEFINE_float("cost_weight", 0.05, "accuracy (fraction) traded per e-fold of latency")
  flags.DEFINE_integer("max_trainings", 6, "children trained in total")
  flags.DEFINE_integer("tries_per_step", 3, "children tried per step before a phase ends")
  flags.DEFINE_integer("epochs", 6, "epochs of every training")
  flags.DEFINE_integer("seed", 0, "PRNG seed (surrogate fit and training)")


def _load_model(text: str):
  p = pathlib.Path(text)
  if not text.lstrip().startswith("{"):
    text = p.read_text()
  return json.loads(text)


def main(argv):
  del argv
  import jax
  from jaxcodesign.edgetran import gptran
  from jaxcodesign.errors import ConfigError, SpaceError
  from jaxcodesign.models.data import load_digits_dataset
  from jaxcodesign.paths import fixture
  from jaxcodesign.surrogates import devices as dv
  from launch.edgetran import check_output_path
  for name in ("model", "device", "output"):
    if not getattr(FLAGS, name):
      raise ConfigError(f"--{name} is required")
  out = check_output_path(FLAGS.output)
  md = dv._space().validate(_load_model(FLAGS.model))
  rows = dv.read_rows(FLAGS.train or fixture("protran", "measurements.jsonl"), need_targets=True)
  known = sorted({r["device"] for r in rows})
  if FLAGS.device not in known:
    raise SpaceError("device", FLAGS.device, known, reason="no training rows for this device")
  cfg = gptran.GPTranConfig(cost_weight=FLAGS.cost_weight, max_trainings=FLAGS.max_trainings,
                            tries_per_step=FLAGS.tries_per_step,
                            train=(("epochs", FLAGS.epochs), ("patience", None)))
  key = jax.random.key(FLAGS.seed)
  k_sur, k_run = jax.random.split(key)
  print(f"launch.gptran: fitting device surrogates on {len(rows)} rows ...", flush=True)
  sur = dv.fit_device_surrogate(k_sur, rows)
  cost = gptran.surrogate_latency(sur, FLAGS.device)
  data = load_digits_dataset(0, layout="sequence")
  res = gptran.gptran(k_run, md, data, cost, cfg, log=lambda s: print(s, flush=True))
  res["device"] = FLAGS.device
  res["config"] = {"cost_weight": cfg.cost_weight, "max_trainings": cfg.max_trainings,
                   "tries_per_step": cfg.tries_per_step, "train": dict(cfg.train), "seed": FLAGS.seed}
  out.write_text(json.dumps(res, indent=1))
  s, f = res["start"], res["final"]
  print(f"launch.gptran: start val {s['val_accuracy']:.3f} latency {s['cost'] * 1e3:.2f} ms -> final "
        f"val {f['val_accuracy']:.3f} latency {f['cost'] * 1e3:.2f} ms "
        f"(test {res['final_test_accuracy']:.3f}); "
        f"{out}")
  return 0


if __name__ == "__main__":
  from launch import _cli
  define_flags()
  _cli.run(main, name="launch.gptran")
