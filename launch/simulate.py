"""Transformer-accelerator simulation launcher (AccelTran reference model; legacy TransCODE model).

Usage:
  python -m launch.simulate --model_dict=bert_tiny --accelerator=edge            # one pair, metrics
  python -m launch.simulate --model_dict=bert_tiny --accelerator=edge --sparsity=0.5,0.5
  python -m launch.simulate --model_dict=bert_tiny --accelerator=edge --mode=training
  python -m launch.simulate --model_dict=PATH.json --accelerator=PATH.yaml --legacy
  python -m launch.simulate --pairs=IN.jsonl --output=OUT.jsonl [--legacy]
  python -m launch.simulate --model_dict=bert_base --sweep=4096 --output_dir=DIR [--seed=0]

``--pairs`` input: JSON lines, each ``{"model_dict": {...}, "config": {...}}`` or
``{"model_dict": {...}, "acc_embedding": [12 values]}`` (TransCODE's raw ELECTOR embedding), with an
optional ``key``; a ``.json`` file holding one object keyed by pair id (the
``transcode/simulate_fast_sample.json`` format) is read too, in file order. Output: one JSON line per
input pair, in input order: ``key`` (if any) and :data:`OUTPUT_KEYS` (cycles, latency_s,
latency_per_inference_s, throughput_per_s, energy_j, energy_dynamic_j, energy_leakage_j,
main_memory_energy_j, area_mm2, peak_power_w (on-chip), main_memory_power_w (off-chip), avg_power_w,
fits, fits_reticle, roofline_compute_cycles, roofline_memory_cycles, batch_size, mode); the single
pair also prints utilisation and energy components. Sparsity: dense by default (as the CNN model);
``--sparsity=0.5,0.5`` gives AccelTran's activation / weight sparsity; ``--mode=training`` simulates
one training step (gradient sparsity ``--gradient_sparsity``, default 0.9 as in ELECTOR).
With ``--legacy`` the legacy numbers (``energy_*`` converted from nJ to J as TransCODE summed them;
power, reticle and roofline fields null: the legacy model has none) plus ``legacy``: the raw
``simulate_fast`` dict in its original units (area mm^2, cycles, energies nJ), comparable 1:1 with the
fixture's ``logs_fast``. A legacy pair that does not fit has ``fits: false`` and null metrics.

``--sweep=N`` samples N ELECTOR accelerators (uniform over allowed values, PRNG key ``--seed``) for one
model and writes ``DIR/sweep_<model>.csv`` and ``DIR/sweep_<model>.png`` (left: latency vs energy per
inference coloured by area, the 3-objective latency/energy/area Pareto front (per inference) of the
fitting configs marked;
right: utilisation against the roofline: cycles vs the larger roofline bound, coloured by MAC
utilisation, with the bound itself as the diagonal).

Errors (bad flags, counts < 1, files, JSON, configs outside the space) print one line
``launch.simulate: error: ...`` and exit 2 (``launch/_cli.py``).
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
from typing import Any, Iterable

from absl import flags

from launch import _cli

FLAGS = flags.FLAGS


def define_flags():
  """Defines the launcher's absl flags (only when run as a program, so that importing this module
  for its functions never clashes with other launchers' flags in one process)."""
  flags.DEFINE_string("model_dict", None, "model dict JSON path or a NAMED_MODELS name (bert_tiny..)")
  flags.DEFINE_string("accelerator", "edge", "accelerator config YAML/JSON path or edge|server")
  flags.DEFINE_bool("legacy", False, "use the quirk-exact legacy TransCODE simulator (nJ units)")
  flags.DEFINE_string("pairs", None, "JSONL (or fixture JSON) of (model_dict, config|acc_embedding)")
  flags.DEFINE_string("output", None, "output JSONL for --pairs (default: stdout)")
  flags.DEFINE_integer("sweep", None, "sample this many ELECTOR accelerators for --model_dict",
                       lower_bound=1)
  flags.DEFINE_string("output_dir", "sweep_out", "directory for the --sweep CSV and PNG")
  flags.DEFINE_integer("seed", 0, "PRNG seed of --sweep")
  flags.DEFINE_integer("seq_len", 128, "sequence length (reference model only)", lower_bound=1)
  flags.DEFINE_string("sparsity", None, "activation[,weight] sparsity in [0, 1); default dense "
                      "(0, 0); AccelTran's figures: --sparsity=0.5,0.5")
  flags.DEFINE_enum("mode", "inference", ["inference", "training"],
                    "inference (one batch) or training (one training step: forward, backward, update)")
  flags.DEFINE_float("gradient_sparsity", None, "training: DynaProp gradient sparsity (default 0.9)")


OUTPUT_KEYS = ("cycles", "latency_s", "latency_per_inference_s", "throughput_per_s", "energy_j",
               "energy_per_inference_j", "energy_dynamic_j", "energy_leakage_j", "main_memory_energy_j", "area_mm2",
               "peak_power_w", "main_memory_power_w", "avg_power_w", "fits", "fits_reticle",
               "roofline_compute_cycles", "roofline_memory_cycles", "batch_size", "mode")


def _load_structured(path: str) -> Any:
  p = pathlib.Path(path)
  if not p.exists():
    raise FileNotFoundError(f"{path}: no such file")
  text = p.read_text()
  if p.suffix in (".yaml", ".yml"):
    import yaml
    return yaml.safe_load(text)
  return json.loads(text)


def load_model(arg: str) -> dict:
  """A model dict from a JSON path or a ``NAMED_MODELS`` name."""
  from jaxcodesign.hardware.api import resolve_model
  if arg.endswith((".json", ".yaml", ".yml")) or os.path.sep in arg:
    return resolve_model(_load_structured(arg))
  return resolve_model(arg)


def load_accelerator(arg: str) -> dict:
  """An AccelTran config from a YAML/JSON path or a ``NAMED_ACCELERATORS`` name (edge, server)."""
  from jaxcodesign.errors import SpaceError
  from jaxcodesign.spaces.accelerators import NAMED_ACCELERATORS
  if arg in NAMED_ACCELERATORS:
    return NAMED_ACCELERATORS[arg]
  if arg.endswith((".json", ".yaml", ".yml")) or os.path.sep in arg:
    return _load_structured(arg)
  raise SpaceError("accelerator", arg, sorted(NAMED_ACCELERATORS) + ["<path>.yaml|.json"])


def read_pairs(path: str) -> list[dict]:
  """Pairs ``{"key"?, "model_dict", "config"}`` in input order (configs decoded from embeddings)."""
  from jaxcodesign.errors import ConfigError
  from jaxcodesign.spaces.accelerators import ElectorSpace
  text = pathlib.Path(path).read_text()
  rows: list[dict] = []
  stripped = text.lstrip()
  if stripped.startswith("{") and "\n{" not in stripped.rstrip():
    obj = json.loads(stripped)  # one JSON object: a single pair, or a fixture keyed by pair id
    if "model_dict" in obj:
      rows = [obj]
    else:
      rows = [dict(v, key=k) for k, v in obj.items()]
  else:
    for i, line in enumerate(text.splitlines()):
      if line.strip():
        try:
          rows.append(json.loads(line))
        except json.JSONDecodeError as e:
          raise ConfigError(f"pairs: line {i + 1} of {path} is not JSON ({e})") from e
  space = ElectorSpace()
  pairs = []
  for i, r in enumerate(rows):
    if "model_dict" not in r:
      raise ConfigError(f"pairs: entry {i} has no 'model_dict'; allowed keys: model_dict, config | "
                        "acc_embedding, key")
    if "config" in r:
      cfg = r["config"]
    elif "acc_embedding" in r:
      cfg = space.decode(r["acc_embedding"])
    else:
      raise ConfigError(f"pairs: entry {i} has neither 'config' nor 'acc_embedding'")
    pairs.append({"key": r.get("key"), "model_dict": r["model_dict"], "config": cfg})
  return pairs


def parse_sparsity(text: str | None):
  """``None`` (dense), ``"0.5"`` (both) or ``"0.5,0.3"`` (activation, weight); ConfigError otherwise."""
  from jaxcodesign.errors import ConfigError
  if text is None or text == "":
    return None
  try:
    vals = [float(x) for x in text.split(",")]
  except ValueError:
    vals = []
  if len(vals) not in (1, 2) or not all(0.0 <= v < 1.0 for v in vals):
    raise ConfigError(f"invalid value for flag --sparsity: {text!r}; allowed: 'a' or 'a,w' with "
                      "values in [0, 1), e.g. 0.5,0.5")
  return (vals[0], vals[-1])


def legacy_row(res: dict) -> dict:
  """The output row of a legacy ``simulate_fast`` result (J from nJ; raw dict under ``legacy``)."""
  from jaxcodesign.hardware import constants as C
  from jaxcodesign.hardware.legacy import transcode_energies
  row = {k: None for k in OUTPUT_KEYS}
  row.update(area_mm2=res.get("area"), fits=bool(res.get("fits", False)), mode="inference",
             legacy=res)
  if not row["fits"]:
    return row
  dyn, leak = transcode_energies(res)
  row.update(cycles=res["cycles"], latency_s=res["cycles"] / (C.CLOCK_MHZ * 1e6),
             energy_j=(dyn + leak) * 1e-9, energy_dynamic_j=dyn * 1e-9,
             energy_leakage_j=leak * 1e-9)
  return row


def simulate_pairs(pairs: list[dict], legacy: bool = False, sparsity=None, seq_len: int = 128,
                   mode: str = "inference", gradient_sparsity=None) -> list[dict]:
  """Output rows (input order) for ``read_pairs`` pairs; pairs of one model share one simulation."""
  from jaxcodesign.hardware.api import simulate_transformer
  out: list[dict | None] = [None] * len(pairs)
  if legacy:
    from jaxcodesign.hardware.legacy import simulate_fast
    for i, p in enumerate(pairs):
      out[i] = legacy_row(simulate_fast(p["model_dict"], p["config"]))
  else:
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
      groups.setdefault(json.dumps(p["model_dict"], sort_keys=True), []).append(i)
    for idx in groups.values():
      res = simulate_transformer(pairs[idx[0]]["model_dict"], [pairs[i]["config"] for i in idx],
                                 sparsity=sparsity, seq_len=seq_len, mode=mode,
                                 gradient_sparsity=gradient_sparsity)
      for i, r in zip(idx, res):
        out[i] = {k: r[k] for k in OUTPUT_KEYS}
  for p, row in zip(pairs, out):
    if p.get("key") is not None:
      row["key"] = p["key"]
  return out  # type: ignore[return-value]


def write_jsonl(rows: Iterable[dict], path: str | None):
  lines = [json.dumps(r) for r in rows]
  if path:
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(path).write_text("\n".join(lines) + ("\n" if lines else ""))
  else:
    print("\n".join(lines))


def run_sweep(model: dict, n: int, output_dir: str, seed: int, name: str, sparsity=None,
              seq_len: int = 128, mode: str = "inference", gradient_sparsity=None) -> dict:
  """Samples ``n`` ELECTOR configs, simulates, writes CSV + PNG; returns paths and Pareto count."""
  import jax
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  import numpy as np

  from jaxcodesign.hardware.api import simulate_transformer
  from jaxcodesign.search.pareto import pareto_mask
  from jaxcodesign.spaces.accelerators import ElectorSpace
  space = ElectorSpace()
  configs = space.sample(jax.random.key(seed), n)
  res = simulate_transformer(model, configs, sparsity=sparsity, seq_len=seq_len, mode=mode,
                             gradient_sparsity=gradient_sparsity)
  # per inference: accelerators of different batch sizes compare fairly
  lat = np.array([r["latency_per_inference_s"] for r in res])
  en = np.array([r["energy_per_inference_j"] for r in res])
  area = np.array([r["area_mm2"] for r in res])
  fits = np.array([r["fits"] for r in res])
  front = np.zeros(n, bool)
  if fits.any():
    front[np.flatnonzero(fits)] = pareto_mask(np.stack([lat, en, area], 1)[fits])
  out_dir = pathlib.Path(output_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  csv_path = out_dir / f"sweep_{name}.csv"
  with csv_path.open("w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["acc_embedding", "hash"] + list(OUTPUT_KEYS) + ["pareto"])
    for c, r, p in zip(configs, res, front):
      w.writerow([json.dumps([int(x) for x in space.encode(c)]), space.hash(c)]
                 + [r[k] for k in OUTPUT_KEYS] + [bool(p)])
  png_path = out_dir / f"sweep_{name}.png"
  fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 5))
  sc = ax.scatter(lat[fits] * 1e3, en[fits] * 1e3, c=area[fits], s=6, cmap="viridis", norm="log",
                  label="fits")
  if (~fits).any():
    ax.scatter(lat[~fits] * 1e3, en[~fits] * 1e3, s=6, c="lightgray", marker="x", label="does not fit")
  ax.scatter(lat[front] * 1e3, en[front] * 1e3, s=30, facecolors="none", edgecolors="red",
             label="Pareto (latency, energy, area)")
  fig.colorbar(sc, ax=ax, label="area (mm$^2$)")
  ax.set(xscale="log", yscale="log", xlabel="latency per inference (ms, 700 MHz)",
         ylabel="energy per inference (mJ)", title=f"{name}: {n} ELECTOR accelerators ({mode})")
  ax.legend(loc="best", fontsize=8)
  # utilisation against the roofline: how far each design is from its bound
  cyc = np.array([r["cycles"] for r in res], np.float64)
  bound = np.array([max(r["roofline_compute_cycles"], r["roofline_memory_cycles"]) for r in res])
  mem_bound = np.array([r["roofline_memory_cycles"] >= r["roofline_compute_cycles"] for r in res])
  util = np.array([r["utilisation"]["mac"] for r in res])
  sc2 = ax2.scatter(bound, cyc, c=util, s=6, cmap="plasma", vmin=0, vmax=1)
  ax2.scatter(bound[~mem_bound], cyc[~mem_bound], s=14, facecolors="none", edgecolors="k",
              linewidths=0.5, label="compute-bound")
  lo, hi = max(min(bound.min(), cyc.min()), 1.0), max(bound.max(), cyc.max())
  ax2.plot([lo, hi], [lo, hi], "k--", lw=1, label="roofline (cycles = bound)")
  fig.colorbar(sc2, ax=ax2, label="MAC utilisation")
  ax2.set(xscale="log", yscale="log", xlabel="roofline bound max(compute, memory) (cycles)",
          ylabel="simulated cycles (one batch)", title="distance from the roofline")
  ax2.legend(loc="best", fontsize=8)
  fig.tight_layout()
  fig.savefig(png_path, dpi=120)
  plt.close(fig)
  return {"csv": str(csv_path), "png": str(png_path), "pareto": int(front.sum()),
          "fits": int(fits.sum()),
          "median_cycles_over_bound": float(np.median(cyc / np.maximum(bound, 1.0)))}


def _check_output_file(path: str | None):
  """Fails early (before any simulation) when ``path``'s directory cannot be written."""
  if not path:
    return
  parent = pathlib.Path(path).resolve().parent
  existing = next((p for p in [parent, *parent.parents] if p.exists()), None)
  if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
    raise PermissionError(13, "cannot write the output here", str(path))
  if pathlib.Path(path).is_dir():
    raise IsADirectoryError(21, "is a directory", str(path))


def main(argv):
  del argv
  from jaxcodesign.errors import ConfigError
  sparsity = parse_sparsity(FLAGS.sparsity)
  mode, g = FLAGS.mode, FLAGS.gradient_sparsity
  if g is not None and not 0.0 <= g < 1.0:
    raise ConfigError(f"invalid value for flag --gradient_sparsity: {g}; allowed: [0, 1)")
  if FLAGS.legacy and (sparsity not in (None, (0.5, 0.5)) or FLAGS.seq_len != 128
                       or mode != "inference"):
    raise ConfigError("--legacy fixes seq_len 128, sparsity 0.5/0.5 and mode inference")
  if FLAGS.pairs:
    _check_output_file(FLAGS.output)
    rows = simulate_pairs(read_pairs(FLAGS.pairs), legacy=FLAGS.legacy, sparsity=sparsity,
                          seq_len=FLAGS.seq_len, mode=mode, gradient_sparsity=g)
    write_jsonl(rows, FLAGS.output)
    if FLAGS.output:
      print(f"wrote {len(rows)} rows to {FLAGS.output}")
    return 0
  if not FLAGS.model_dict:
    raise ConfigError("--model_dict is required (a JSON path or bert_tiny|bert_mini|bert_small|"
                      "bert_medium|bert_base) unless --pairs is given")
  model = load_model(FLAGS.model_dict)
  name = pathlib.Path(FLAGS.model_dict).stem
  if FLAGS.sweep is not None:
    if FLAGS.legacy:
      raise ConfigError("--sweep uses the reference model; drop --legacy")
    _check_output_file(os.path.join(FLAGS.output_dir, f"sweep_{name}.csv"))
    info = run_sweep(model, FLAGS.sweep, FLAGS.output_dir, FLAGS.seed, name, sparsity,
                     FLAGS.seq_len, mode, g)
    print(json.dumps(info))
    return 0
  cfg = load_accelerator(FLAGS.accelerator)
  if FLAGS.legacy:
    row = simulate_pairs([{"model_dict": model, "config": cfg}], legacy=True)[0]
  else:
    from jaxcodesign.hardware.api import simulate_transformer
    full = simulate_transformer(model, [cfg], sparsity=sparsity, seq_len=FLAGS.seq_len, mode=mode,
                                gradient_sparsity=g)[0]
    row = {k: full[k] for k in OUTPUT_KEYS}
    row["utilisation"] = full["utilisation"]
    row["energy_components"] = full["energy_components"]
  print(json.dumps(row, indent=1))
  return 0


if __name__ == "__main__":
  define_flags()
  _cli.run(main, name="launch.simulate")
