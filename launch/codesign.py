r"""Co-design launcher: ``python -m launch.codesign --config=experiments/<name>.py --workdir=DIR``.

Flags override config fields (``--config.oracle.epochs=5``); ``--budget`` and ``--seed`` are
shortcuts for ``--config.budget`` / ``--config.seed``. Re-running with the same ``--workdir`` resumes a
killed run. Prints the chosen (network, accelerator) pair, the per-method summary and the plot paths.
"""

import json
import pathlib
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

_DEFAULT_CONFIG = str(pathlib.Path(__file__).resolve().parent.parent / "experiments" / "transcode_digits.py")

FLAGS = flags.FLAGS


def define_flags():
  """Defines the launcher's absl flags (only when run as a program, so that importing this module
  never clashes with other launchers' flags in one process)."""
  config_flags.DEFINE_config_file("config", _DEFAULT_CONFIG, "Experiment config file.")
  flags.DEFINE_string("workdir", "/tmp/jaxcodesign_codesign", "Work directory.")
  flags.DEFINE_integer("budget", None, "Evaluations per method (initial design included).")
  flags.DEFINE_integer("seed", None, "Random seed.")
  flags.DEFINE_bool("progress", True, "Show a progress bar.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  from jaxcodesign import codesign
  from jaxcodesign.errors import ConfigError
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint at INFO; keep the bar readable
  cfg = FLAGS.config
  if FLAGS.budget is not None:
    cfg.budget = FLAGS.budget
  if FLAGS.seed is not None:
    cfg.seed = FLAGS.seed
  logging.info("experiment %s, budget %d per method, seed %d, workdir %s", cfg.name, cfg.budget,
               cfg.seed, FLAGS.workdir)
  try:
    res = codesign.run(cfg, FLAGS.workdir, progress=FLAGS.progress)
  except (ConfigError, ValueError) as e:
    raise app.UsageError(f"invalid experiment: {e}") from None
  ch = res["chosen"]
  print(f"\n== {res['experiment']}: chosen (network, accelerator) pair ==")
  print("network:", json.dumps(ch["model"]))
  print("accelerator:", json.dumps(ch["hw"]))
  m = ch["metrics"]
  test = f"{m['test_accuracy']:.4f}" if "test_accuracy" in m else "n/a (table oracle)"
  print(f"val accuracy {m['accuracy']:.4f}  test accuracy {test}  "
        f"latency {m['latency_s']:.3e} s  energy {m['energy_j']:.3e} J  area {m['area_mm2']:.2f} mm^2  "
        f"peak power {m['peak_power_w']:.3f} W  objective {ch['performance']:.4f}")
  print("\nbest objective per method at equal budget:")
  for name, s in res["summary"].items():
    print(f"  {name:18s} {s['best_performance']:.4f}  ({s['evaluations']} evaluations, {s['wall_s']:.0f} s)")
  print("\nresults:", pathlib.Path(FLAGS.workdir) / "results.json")
  print("plots:", ", ".join(res["plots"].values()))
  print(f"wall time: {res['wall_s']:.0f} s")


def parse_flags(argv):
  """absl flag parsing with a clear message for unknown config fields (``--config.nofield=1``)."""
  try:
    return FLAGS(argv)
  except (AttributeError, KeyError) as e:
    field = str(e).strip("\"'")
    cfg_path = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), _DEFAULT_CONFIG)
    from jaxcodesign import codesign
    fields = sorted(codesign.load_config(cfg_path).to_dict())
    print(f"FATAL: unknown config field {field!r} for {cfg_path}; top-level fields: {fields}",
          file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=parse_flags)
