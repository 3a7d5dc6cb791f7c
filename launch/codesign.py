r"""Co-design launcher: ``python -m launch.codesign --config=experiments/<name>.py --workdir=DIR``.

Flags override config fields (``--config.oracle.epochs=5``); ``--budget`` and ``--seed`` are
shortcuts for ``--config.budget`` / ``--config.seed``. Re-running with the same ``--workdir`` resumes a
killed run. Prints the chosen (network, accelerator) pair, the per-method summary and the plot paths.
"""

import json
import pathlib

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

_DEFAULT_CONFIG = str(pathlib.Path(__file__).resolve().parent.parent / "experiments" / "transcode_digits.py")

_CONFIG = config_flags.DEFINE_config_file("config", _DEFAULT_CONFIG, "Experiment config file.")
_WORKDIR = flags.DEFINE_string("workdir", "/tmp/jaxcodesign_codesign", "Work directory.")
_BUDGET = flags.DEFINE_integer("budget", None, "Evaluations per method (initial design included).")
_SEED = flags.DEFINE_integer("seed", None, "Random seed.")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a progress bar.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  from jaxcodesign import codesign
  from jaxcodesign.errors import ConfigError
  cfg = _CONFIG.value
  if _BUDGET.value is not None:
    cfg.budget = _BUDGET.value
  if _SEED.value is not None:
    cfg.seed = _SEED.value
  logging.info("experiment %s, budget %d per method, seed %d, workdir %s", cfg.name, cfg.budget,
               cfg.seed, _WORKDIR.value)
  try:
    res = codesign.run(cfg, _WORKDIR.value, progress=_PROGRESS.value)
  except (ConfigError, ValueError) as e:
    raise app.UsageError(f"invalid experiment: {e}") from None
  ch = res["chosen"]
  print(f"\n== {res['experiment']}: chosen (network, accelerator) pair ==")
  print("network:", json.dumps(ch["model"]))
  print("accelerator:", json.dumps(ch["hw"]))
  m = ch["metrics"]
  print(f"val accuracy {m['accuracy']:.4f}  test accuracy {m.get('test_accuracy', float('nan')):.4f}  "
        f"latency {m['latency_s']:.3e} s  energy {m['energy_j']:.3e} J  area {m['area_mm2']:.2f} mm^2  "
        f"peak power {m['peak_power_w']:.3f} W  objective {ch['performance']:.4f}")
  print("\nbest objective per method at equal budget:")
  for name, s in res["summary"].items():
    print(f"  {name:18s} {s['best_performance']:.4f}  ({s['evaluations']} evaluations, {s['wall_s']:.0f} s)")
  print("\nresults:", pathlib.Path(_WORKDIR.value) / "results.json")
  print("plots:", ", ".join(res["plots"].values()))
  print(f"wall time: {res['wall_s']:.0f} s")


if __name__ == "__main__":
  app.run(main)
