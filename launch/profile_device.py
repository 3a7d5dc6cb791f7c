"""ProTran profiler: measure FlexiBERT 2.0 models on THIS machine, picked by active learning.

Usage::

  python -m launch.profile_device --device_name=my_laptop --budget=10 --output=my_rows.jsonl \
      [--reference=../shared/fixtures/protran/measurements.jsonl] [--layers=2,4] [--hidden=128,256] \
      [--batch_size=1 --seq_len=128 --runs=5 --warmup=2 --meter=auto --seed=0]

Writes rows in the measurements format (``device`` = ``--device_name``) to ``--output``, one per
profiled model, appended and flushed one by one: re-running the same command resumes (rows already
there count towards ``--budget``). Latency is always measured (wall clock, jitted Flax inference,
warm-up excluded, median of ``--runs``); energy and peak power come from RAPL or NVML where readable
and are ``null`` otherwise (never invented). Then, e.g.::

  cat ../shared/fixtures/protran/measurements.jsonl my_rows.jsonl > rows.jsonl
  python -m launch.edgetran --train=rows.jsonl --predict=queries.jsonl --output=preds.jsonl

See :mod:`jaxcodesign.edgetran.profiler` for the method.
"""

from __future__ import annotations

from absl import flags

FLAGS = flags.FLAGS


def define_flags():
  """Defines the launcher's absl flags (only when run as a program). Idempotent."""
  if "device_name" in FLAGS:
    return
  flags.DEFINE_string("device_name", None, "name of this device in the rows (new, not one of the 7)")
  flags.DEFINE_integer("budget", 10, "rows of this device to reach (resumed rows count)")
  flags.DEFINE_string("output", None, "JSON-lines file the rows are appended to")
  flags.DEFINE_string("reference", "", "rows of other devices the surrogate borrows from "
                      "(default: the shared ProTran measurements when present; 'none' for none)")
  flags.DEFINE_list("layers", [], "restrict the sampled layer counts (default: FlexiBERT 2.0's)")
  flags.DEFINE_list("hidden", [], "restrict the sampled hidden sizes")
  flags.DEFINE_integer("candidates", 64, "candidate pool size")
  flags.DEFINE_integer("n_init", 3, "models picked by MACs spread before the surrogate is used")
  flags.DEFINE_integer("batch_size", 1, "sequences per call")
  flags.DEFINE_integer("seq_len", 128, "tokens per sequence")
  flags.DEFINE_integer("runs", 5, "timed calls per model")
  flags.DEFINE_integer("warmup", 2, "untimed calls first (the first compiles)")
  flags.DEFINE_enum("meter", "auto", ["auto", "rapl", "nvml", "none"], "energy sensor")
  flags.DEFINE_integer("seed", 0, "PRNG seed (candidate pool, fits)")


def _ints(field, values):
  from jaxcodesign.errors import ConfigError
  try:
    return tuple(int(v) for v in values)
  except ValueError as e:
    raise ConfigError(f"invalid value for flag --{field}: {values!r}; allowed: integers") from e


def main(argv):
  del argv
  import jax
  from jaxcodesign.edgetran import profiler
  from jaxcodesign.errors import ConfigError
  from jaxcodesign.paths import fixtures_dir
  from jaxcodesign.spaces import get_space
  from jaxcodesign.surrogates import devices as dv
  from launch.edgetran import check_output_path
  if not FLAGS.device_name:
    raise ConfigError("--device_name is required (a new name for this machine, e.g. my_laptop)")
  if not FLAGS.output:
    raise ConfigError("--output is required (JSON-lines file; re-run to resume)")
  out = check_output_path(FLAGS.output)
  ref_path = FLAGS.reference
  if not ref_path:
    default = fixtures_dir() / "protran" / "measurements.jsonl"
    ref_path = str(default) if default.exists() else "none"
  reference = [] if ref_path == "none" else dv.read_rows(ref_path, need_targets=True)
  kw = {}
  if FLAGS.layers:
    kw["layers"] = _ints("layers", FLAGS.layers)
  if FLAGS.hidden:
    kw["hidden"] = _ints("hidden", FLAGS.hidden)
  space = get_space("flexibert2", **kw)
  for f, allowed in (("layers", dv._space().layers), ("hidden", dv._space().hidden)):
    bad = [v for v in kw.get(f, ()) if v not in allowed]
    if bad:
      raise ConfigError(f"invalid value for flag --{f}: {bad}; allowed: {list(allowed)} (the "
                        "surrogate's FlexiBERT 2.0 space)")
  cfg = profiler.ProfileConfig(budget=FLAGS.budget, n_candidates=FLAGS.candidates,
                               n_init=FLAGS.n_init, batch_size=FLAGS.batch_size,
                               seq_len=FLAGS.seq_len, runs=FLAGS.runs, warmup=FLAGS.warmup)
  meter = profiler.detect_meter(FLAGS.meter)
  print(f"launch.profile_device: device {FLAGS.device_name!r} on JAX backend "
        f"{jax.default_backend()}; energy sensor: "
        + (meter.name if meter else "none readable (energy and peak power reported as null)"),
        flush=True)
  rows = profiler.profile_device(jax.random.key(FLAGS.seed), FLAGS.device_name, out, cfg,
                                 space=space, reference_rows=reference, meter=meter,
                                 log=lambda s: print(s, flush=True))
  print(f"launch.profile_device: {len(rows)} rows of {FLAGS.device_name!r} in {out}")
  return 0


if __name__ == "__main__":
  from launch import _cli
  define_flags()
  _cli.run(main, name="launch.profile_device", resume_hint="re-run the same command to resume")
