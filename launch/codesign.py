r"""Co-design launcher: ``python -m launch.codesign --config=experiments/<name>.py [--workdir=DIR]``.

Flags override config fields (``--config.oracle.epochs=5``); ``--budget`` and ``--seed`` are
shortcuts for ``--config.budget`` / ``--config.seed``. ``--help`` lists every config field with its
default and meaning. The default work directory is ``/tmp/jaxcodesign/<experiment name>``.

Re-running the same command resumes a killed run ("resuming: N of M evaluations found"). A work
directory that holds a run with other settings is refused with the differing fields named, unless
``--overwrite`` (start afresh: the old files are moved aside). Expected errors print one line
``launch.codesign: error: ...`` and exit 2; Ctrl-C exits 130 and says how to resume.

Prints the chosen (network, accelerator) pair, the per-method summary and the paths of
``results.json`` and the plots.
"""

import json
import pathlib
import sys

from absl import flags
from absl import logging
from ml_collections import config_flags

from launch import _cli

NAME = "launch.codesign"
RESUME_HINT = "re-run the same command to resume (finished evaluations are kept in the work directory)"
_DEFAULT_CONFIG = str(pathlib.Path(__file__).resolve().parent.parent / "experiments" / "transcode_digits.py")

FLAGS = flags.FLAGS


def _config_path(argv) -> str:
  for i, a in enumerate(argv):
    if a.startswith("--config="):
      return a.split("=", 1)[1]
    if a == "--config" and i + 1 < len(argv):
      return argv[i + 1]
  return _DEFAULT_CONFIG


def _config_help(argv) -> str:
  """The --config help text: every field of the chosen experiment with its default and meaning."""
  from jaxcodesign.errors import ConfigError
  path = _config_path(argv)
  try:
    from jaxcodesign import codesign
    cfg = codesign.load_config(path)
    fields = codesign.config_help(cfg)
  except ConfigError as e:  # help must never crash; the real load reports the error
    fields = f"  (fields of {path} unavailable: {e})"
  return (f"Experiment config file (default: {_DEFAULT_CONFIG}). Override any field with "
          f"--config.<field>=<value>; fields of {path} with their defaults:\n{fields}")


def define_flags(argv=None):
  """Defines the launcher's absl flags (only when run as a program, so that importing this module
  never clashes with other launchers' flags in one process)."""
  argv = sys.argv if argv is None else argv
  config_flags.DEFINE_config_file("config", _DEFAULT_CONFIG, _config_help(argv))
  flags.DEFINE_string("workdir", None, "Work directory (default /tmp/jaxcodesign/<experiment name>).")
  flags.DEFINE_integer("budget", None, "Evaluations per method (shortcut for --config.budget).")
  flags.DEFINE_integer("seed", None, "Random seed (shortcut for --config.seed).")
  flags.DEFINE_bool("overwrite", False, "Start afresh in a work directory that holds a run with "
                    "other settings (its files are moved aside, nothing is deleted).")
  flags.DEFINE_bool("progress", True, "Show a progress bar.")


def main(argv):
  del argv
  from jaxcodesign import codesign
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint at INFO; keep the bar readable
  cfg = FLAGS.config
  if FLAGS.budget is not None:
    cfg.budget = FLAGS.budget
  if FLAGS.seed is not None:
    cfg.seed = FLAGS.seed
  workdir = pathlib.Path(FLAGS.workdir) if FLAGS.workdir else codesign.default_workdir(cfg.name)
  print(f"{cfg.name}: budget {cfg.budget} per method, seed {cfg.seed}, workdir {workdir}",
        file=sys.stderr)
  res = codesign.run(cfg, workdir, progress=FLAGS.progress, overwrite=FLAGS.overwrite)
  ch = res["chosen"]
  print(f"\n== {res['experiment']}: chosen (network, accelerator) pair ==")
  print("network:", json.dumps(ch["model"]))
  print("accelerator:", json.dumps(ch["hw"]))
  m = ch["metrics"]
  test = f"{m['test_accuracy']:.4f}" if "test_accuracy" in m else "n/a (table oracle)"
  print(f"val accuracy {m['accuracy']:.4f}  test accuracy {test}  "
        f"latency {m['latency_per_inference_s']:.3e} s/inference ({m['latency_s']:.3e} s per batch "
        f"of {m['batch_size']})  throughput {m['throughput_per_s']:.3e}/s  "
        f"energy {m['energy_per_inference_j']:.3e} J/inference  area {m['area_mm2']:.2f} mm^2  "
        f"peak power {m['peak_power_w']:.3f} W  objective {ch['performance']:.4f}")
  equal = "equal budget" if res["equal_budget"] else "UNEQUAL budgets (see evaluations)"
  print(f"\nbest objective per method ({equal}):")
  for name, s in res["summary"].items():
    wall = res["timings"]["methods_wall_s"].get(name, float("nan"))
    print(f"  {name:18s} {s['best_performance']:.4f}  ({s['evaluations']} evaluations, {wall:.0f} s)")
  print("\nresults:", workdir / "results.json")
  print("plots:", ", ".join(str(workdir / p) for p in res["plots"].values()))
  print(f"wall time: {res['wall_s']:.0f} s")


if __name__ == "__main__":
  define_flags()
  _cli.run(main, name=NAME, resume_hint=RESUME_HINT)
