"""EdgeTran device surrogates: train on measured rows, predict latency / energy / peak power.

Usage::

  python -m launch.edgetran --train=ROWS.jsonl --predict=IN.jsonl --output=OUT.jsonl [--seed=0]

``--train`` rows are in the ProTran measurements format (``../shared/fixtures/protran/
measurements.jsonl``): ``model_dict`` (FlexiBERT 2.0 hetero dict), ``device``,
``latency_s_per_seq`` (s/sequence), ``energy_j_per_seq`` (J/sequence), ``peak_power_w`` (W); energy
and power may be null (a device without a readable sensor). ``--predict`` rows need ``model_dict``
and ``device`` (other fields are ignored). For each input line, in order, one output line::

  {"latency_s_per_seq", "energy_j_per_seq", "peak_power_w",
   "latency_s_per_seq_std", "energy_j_per_seq_std", "peak_power_w_std"}

(point predictions in the same units, the log-normal median ``exp(E[log y])``, and predictive
stds; see :mod:`jaxcodesign.surrogates.devices`). A target the device has no training rows for is
``null``. Rows profiled on your own machine (``python -m launch.profile_device``) can be appended
to the training rows under a new device name.

Errors (one line, exit 2) BEFORE any training: unreadable / malformed files, a row without
``model_dict`` / ``device``, an invalid model dict (naming file:line and the field), a prediction
device with no training rows (naming the known devices), an output path that cannot be written.
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile

from absl import flags

FLAGS = flags.FLAGS


def define_flags():
  """Defines the launcher's absl flags (only when run as a program). Idempotent."""
  if "predict" in FLAGS:
    return
  flags.DEFINE_string("train", None, "training rows, JSON lines in the measurements format")
  flags.DEFINE_string("predict", None, "rows to predict (model_dict, device), JSON lines")
  flags.DEFINE_string("output", None, "output JSON lines (one per --predict row, same order)")
  flags.DEFINE_integer("seed", 0, "PRNG seed of the surrogate fit")
  flags.DEFINE_float("nn_weight", None, "override the network weight of the surrogate ([0, 1]; "
                     "default: the configuration measured best, docs/edgetran.md)")


def check_output_path(path: str) -> pathlib.Path:
  """The output path, after checking that its folder exists and is writable (OSError otherwise)."""
  out = pathlib.Path(path)
  if out.is_dir():
    raise IsADirectoryError(21, "is a directory", str(out))
  parent = out.parent if str(out.parent) else pathlib.Path(".")
  if not parent.is_dir():
    raise FileNotFoundError(2, "output folder does not exist", str(parent))
  if not os.access(parent, os.W_OK):
    raise PermissionError(13, "output folder is not writable", str(parent))
  return out


def write_jsonl(path: pathlib.Path, lines: list[dict]):
  """Writes JSON lines atomically (a temporary file in the same folder, then rename)."""
  fd, tmp = tempfile.mkstemp(dir=str(path.parent or "."), prefix=path.name + ".", suffix=".tmp")
  try:
    with os.fdopen(fd, "w") as fh:
      for line in lines:
        fh.write(json.dumps(line) + "\n")
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def main(argv):
  del argv
  from jaxcodesign.errors import ConfigError, SpaceError
  from jaxcodesign.surrogates import devices as dv
  for name in ("train", "predict", "output"):
    if not getattr(FLAGS, name):
      raise ConfigError(f"--{name} is required (usage: python -m launch.edgetran --train=ROWS.jsonl "
                        "--predict=IN.jsonl --output=OUT.jsonl)")
  out = check_output_path(FLAGS.output)
  train = dv.read_rows(FLAGS.train, need_targets=True)
  queries = dv.read_rows(FLAGS.predict, need_targets=False)
  known = sorted({r["device"] for r in train})
  for i, q in enumerate(queries):
    if q["device"] not in known:
      raise SpaceError(f"{FLAGS.predict}: row {i + 1}: device", q["device"], known,
                       reason="no training rows for this device")
  cfg = dv.DeviceSurrogateConfig() if FLAGS.nn_weight is None else \
      dv.DeviceSurrogateConfig(nn_weight=FLAGS.nn_weight)
  import jax
  print(f"launch.edgetran: {len(train)} training rows on {len(known)} devices; fitting ...",
        flush=True)
  sur = dv.fit_device_surrogate(jax.random.key(FLAGS.seed), train, cfg)
  preds = dv.predict_rows(sur, [q["model_dict"] for q in queries], [q["device"] for q in queries])
  write_jsonl(out, preds)
  print(f"launch.edgetran: wrote {len(preds)} predictions to {out}")
  return 0


if __name__ == "__main__":
  from launch import _cli
  define_flags()
  _cli.run(main, name="launch.edgetran")
