"""Side by side with the peers (issue 9 part 8): our AccelBench model vs SCALE-Sim v3 and ZigZag on the
same GEMM and conv layers and one configuration all three can express.

    pip install scalesim zigzag-dse          # optional [bench] extra
    python benchmarks/peer_cost_models.py [--scalesim_max_cycles=100000] [--zigzag_lpf=4]

Configuration: a 2-D array of 8 x 16 MACs, output channels (K) along one side and input channels (C)
along the other, weight-stationary; 1 MB buffers; off-chip link 16 GB/s. In AccelBench terms
``Pib = Pix = Piy = Pkx = Pky = 1, Pof = 8, Pif = 16`` (one PE, 8 lanes of 16 multipliers); in SCALE-Sim
a 16-row x 8-column systolic array, dataflow ``ws`` (rows hold the C*R*S contraction, columns the
filters), 1024 kB SRAMs, bandwidth CALC (no stalls: its cycles are compute cycles); in ZigZag an
operational array D1 = 8 (K) x D2 = 16 (C) with a register per MAC, a 2 MB SRAM and a DRAM port.

Layers: BERT-Tiny and BERT-Base encoder GEMMs (sequence 128: QKV projection, one head's scores,
FF1, FF2; M x K x N) and ResNet-18 convolutions (conv1 7x7/2, one 3x3 conv per stage, the FC).
GEMMs are 1x1 convolutions over M pixels in all three tools.

Reported per layer: compute cycles of each tool and the ratio ours / theirs (ZigZag: its
``ideal_temporal_cycle``, the compute cycles of its best temporal mapping with spatial
under-use counted and memory stalls not; its ``latency_total2`` with stalls and on/off-loading is
printed next to our ``cycles``), and the evaluations per second of each tool on this machine
in this run (CPU seconds, ``time.process_time``; our model also batched over 1,024 configs).
SCALE-Sim simulates cycle by cycle (~3.5 k simulated cycles per CPU second here): layers whose
estimated cycles exceed ``--scalesim_max_cycles`` are skipped and marked so. A peer that is not
installed or fails is reported as such; the others still run. Results: docs/peers.md.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROWS_C, COLS_K = 16, 8  # contraction x filters


def layers():
  """(name, C, K, H_in (padded), R, stride, OH): convs; GEMM (M, K, N) = 1x1 conv, H_in = OH = M."""
  g = lambda name, m, k, n: (name, k, n, m, 1, 1, m)
  out = [g("bert_tiny.qkv", 128, 128, 128), g("bert_tiny.scores", 128, 64, 128),
         g("bert_tiny.ff1", 128, 128, 512), g("bert_tiny.ff2", 128, 512, 128),
         g("bert_base.qkv", 128, 768, 768), g("bert_base.scores", 128, 64, 128),
         g("bert_base.ff1", 128, 768, 3072), g("bert_base.ff2", 128, 3072, 768)]
  out += [("resnet18.conv1", 3, 64, 229, 7, 2, 112), ("resnet18.conv2", 64, 64, 58, 3, 1, 56),
          ("resnet18.conv3", 128, 128, 30, 3, 1, 28), ("resnet18.conv4", 256, 256, 16, 3, 1, 14),
          ("resnet18.conv5", 512, 512, 9, 3, 1, 7), ("resnet18.fc", 512, 1000, 1, 1, 1, 1)]
  return out


# ---------------------------------------------------------------------------------------------------
def ours(lays, n_batch=1024):
  from jaxcodesign.hardware import accelbench as A
  from jaxcodesign.hardware import cnn_workload as W
  from jaxcodesign.spaces.cnnbench import LayerShape
  cfg = dict(Pib=1, Pif=16, Pix=1, Piy=1, Pof=8, Pkx=1, Pky=1, batch_size=1, activation_buffer_size=1,
             weight_buffer_size=1, mask_buffer_size=1,
             main_memory={"type": "dram", "banks": 16, "ranks": 2, "channels": 2})
  arrays = A.cnn_config_arrays([cfg])
  many = A.cnn_config_arrays([cfg] * n_batch)
  res, tables = {}, []
  for name, c, k, h, r, s, oh in lays:
    params = r * r * c * k
    row = LayerShape(0, 1, name, "conv", c, k, (h, 1 if r == 1 else h), (oh, 1 if r == 1 else oh), r,
                     s, 1, params, params * oh * (1 if r == 1 else oh))
    tables.append((name, W.lower_layers([row])))
  for name, t in tables:  # warm up (compile) outside the timing
    A.simulate_cnn_arrays(t, arrays)
  t0 = time.process_time()
  for name, t in tables:
    out = A.simulate_cnn_arrays(t, arrays)
    res[name] = float(out["compute_cycles"][0])
    res[name + "#total"] = float(out["cycles"][0])
  single = len(tables) / (time.process_time() - t0)
  for name, t in tables[:1]:
    A.simulate_cnn_arrays(t, many)
  t0 = time.process_time()
  for name, t in tables:
    A.simulate_cnn_arrays(t, many)
  batched = len(tables) * n_batch / (time.process_time() - t0)
  return res, {"per call (1 config)": single, f"batched ({n_batch} configs)": batched}


# ---------------------------------------------------------------------------------------------------
def scalesim_run(lays, max_cycles, workdir):
  import builtins
  import scalesim.memory.double_buffered_scratchpad_mem as dbsp
  from scalesim.scale_sim import scalesim
  # SCALE-Sim 3.0.0 calls int() on a list of 1-element arrays, which NumPy 2 refuses; this module-level
  # max() returns a scalar instead (no change to its results)
  dbsp.max = lambda *a: (np.max(np.asarray(a[0])) if len(a) == 1 else
                         builtins.max(*[np.asarray(x).reshape(-1)[0] if np.ndim(x) else x for x in a]))
  cfg = Path(workdir) / "peer.cfg"
  cfg.write_text(f"""[general]
run_name = peer

[architecture_presets]
ArrayHeight = {ROWS_C}
ArrayWidth = {COLS_K}
IfmapSramSzkB = 1024
FilterSramSzkB = 1024
OfmapSramSzkB = 1024
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Dataflow = ws
Bandwidth = 10
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 8
RandomNumberGeneratorSeed = 40

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False
""")
  res, cpu, n = {}, 0.0, 0
  for name, c, k, h, r, s, oh in lays:
    ow = 1 if r == 1 else oh
    est = math.ceil(c * r * r / ROWS_C) * math.ceil(k / COLS_K) * (ROWS_C + COLS_K + oh * ow)
    if est > max_cycles:
      res[name] = f"skipped (~{est:,} cycles)"
      continue
    w = 1 if r == 1 else h
    topo = Path(workdir) / f"{name}.csv"
    topo.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
                    f"Num Filter, Strides,\n{name}, {h}, {w}, {r}, {r}, {c}, {k}, {s},\n")
    lay = Path(workdir) / f"{name}_layout.csv"
    lay.write_text(f"Layer name, a, b,\n{name}, 1, 1,\n")
    out = Path(workdir) / f"out_{name}"
    t0 = time.process_time()
    devnull = open(os.devnull, "w")
    old = sys.stderr
    sys.stderr = devnull  # its progress bar
    try:
      sim = scalesim(save_disk_space=True, verbose=False, config=str(cfg), topology=str(topo),
                     layout=str(lay))
      sim.run_scale(top_path=str(out))
    finally:
      sys.stderr = old
    cpu += time.process_time() - t0
    n += 1
    rep = next(out.rglob("COMPUTE_REPORT.csv"))
    hdr, vals = [line.split(",") for line in rep.read_text().strip().splitlines()[:2]]
    d = {a.strip(): b.strip() for a, b in zip(hdr, vals)}
    res[name] = float(d["Total Cycles"]) - float(d.get("Stall Cycles", 0) or 0)
  return res, ({"per layer": n / cpu} if n else {})


# ---------------------------------------------------------------------------------------------------
def zigzag_run(lays, lpf, workdir):
  import logging
  import yaml
  from zigzag.api import get_hardware_performance_zigzag
  logging.disable(logging.CRITICAL)

  def port(name, kind, bw, alloc):
    return {"name": name, "type": kind, "bandwidth_min": bw, "bandwidth_max": bw, "allocation": alloc}

  acc = {"name": "peer_8x16", "memories": {
      "w_reg": {"size": 16, "r_cost": 0.02, "w_cost": 0.02, "area": 0, "latency": 1, "operands": ["I2"],
                "ports": [port("r_port_1", "read", 16, ["I2, tl"]), port("w_port_1", "write", 16, ["I2, fh"])],
                "served_dimensions": []},
      "o_reg": {"size": 32, "r_cost": 0.02, "w_cost": 0.02, "area": 0, "latency": 1, "operands": ["O"],
                "ports": [port("r_port_1", "read", 32, ["O, tl"]), port("r_port_2", "read", 32, ["O, th"]),
                          port("w_port_1", "write", 32, ["O, fh"]), port("w_port_2", "write", 32, ["O, fl"])],
                "served_dimensions": []},
      "sram": {"size": 16 * 2 ** 20, "r_cost": 400.0, "w_cost": 380.0, "area": 0, "latency": 1,
               "operands": ["I1", "I2", "O"],
               "ports": [port("r_port_1", "read", 1024, ["I1, tl", "I2, tl", "O, tl", "O, th"]),
                         port("w_port_1", "write", 1024, ["I1, fh", "I2, fh", "O, fh", "O, fl"])],
               "served_dimensions": ["D1", "D2"]},
      "dram": {"size": 10 ** 10, "r_cost": 700.0, "w_cost": 750.0, "area": 0, "latency": 1,
               "operands": ["I1", "I2", "O"],
               "ports": [port("rw_port_1", "read_write", 196,
                              ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"])],
               "served_dimensions": ["D1", "D2"]}},
      "operational_array": {"unit_energy": 0.04, "unit_area": 1, "dimensions": ["D1", "D2"],
                            "sizes": [COLS_K, ROWS_C]}}
  mapping = [{"name": "default", "spatial_mapping": {"D1": [f"K, {COLS_K}"], "D2": [f"C, {ROWS_C}"]},
              "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]
  acc_path, map_path = Path(workdir) / "acc.yaml", Path(workdir) / "map.yaml"
  acc_path.write_text(yaml.safe_dump(acc, sort_keys=False))
  map_path.write_text(yaml.safe_dump(mapping, sort_keys=False))
  res, cpu, n = {}, 0.0, 0
  for i, (name, c, k, h, r, s, oh) in enumerate(lays):
    ow = 1 if r == 1 else oh
    layer = [{"id": 0, "name": name, "operator_type": "Conv",
              "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
              "dimension_relations": [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"],
              "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
              "loop_sizes": [1, k, c, oh, ow, r, r],
              "operand_precision": {"W": 16, "I": 16, "O": 32, "O_final": 16},
              "operand_source": {"I": 0}}]
    t0 = time.process_time()
    try:
      _, _, cmes = get_hardware_performance_zigzag(
          layer, str(acc_path), str(map_path), opt="latency", dump_folder=str(Path(workdir) / f"zz_{i}"),
          lpf_limit=lpf, loma_show_progress_bar=False)
    except Exception as e:  # a peer failure is reported, the others still run
      res[name] = f"failed: {type(e).__name__}: {str(e)[:80]}"
      continue
    cpu += time.process_time() - t0
    n += 1
    cme = cmes[0][0]
    res[name] = float(cme.ideal_temporal_cycle)
    res[name + "#total"] = float(cme.latency_total2)
  return res, ({"per layer": n / cpu} if n else {})


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--scalesim_max_cycles", type=int, default=100000)
  ap.add_argument("--zigzag_lpf", type=int, default=4)
  ap.add_argument("--only", default="", help="comma-separated layer-name prefixes")
  args = ap.parse_args()
  lays = [l for l in layers() if not args.only or any(l[0].startswith(p) for p in args.only.split(","))]
  work = tempfile.mkdtemp(prefix="peers_")
  results, rates = {}, {}
  results["ours"], rates["ours (jaxcodesign)"] = ours(lays)
  for tool, fn in (("scalesim", lambda: scalesim_run(lays, args.scalesim_max_cycles, work)),
                   ("zigzag", lambda: zigzag_run(lays, args.zigzag_lpf, work))):
    try:
      results[tool], rates[tool] = fn()
    except ImportError as e:
      print(f"{tool}: not installed ({e}); pip install {'scalesim' if tool == 'scalesim' else 'zigzag-dse'}")
      results[tool], rates[tool] = {}, {}
    except Exception as e:  # reported, never hidden
      print(f"{tool}: failed: {type(e).__name__}: {e}")
      results[tool], rates[tool] = {}, {}
  fmt = lambda v: f"{v:,.0f}" if isinstance(v, float) else (v or "n/a")
  ratio = lambda a, b: f"{a / b:.2f}" if isinstance(a, float) and isinstance(b, float) and b > 0 else "-"
  print("\nCompute cycles (and, for ours and ZigZag, total cycles with memory):\n"
        "| layer | dims (C, K, H_in, R, stride, OH) | ours | SCALE-Sim (ws) | ours/SCALE-Sim | ZigZag "
        "| ours/ZigZag | ours total | ZigZag total (latency_total2) |\n|---|---|---|---|---|---|---|---|---|")
  for name, *dims in lays:
    o, s, z = (results[t].get(name) for t in ("ours", "scalesim", "zigzag"))
    ot, zt = results["ours"].get(name + "#total"), results["zigzag"].get(name + "#total")
    print(f"| {name} | {tuple(dims)} | {fmt(o)} | {fmt(s)} | {ratio(o, s)} | {fmt(z)} | {ratio(o, z)} "
          f"| {fmt(ot)} | {fmt(zt)} |")
  print("\nEvaluations per CPU second (this run, shared 2-core machine):")
  for tool, r in rates.items():
    for k, v in r.items():
      print(f"  {tool:20s} {k:28s} {v:,.1f} layer evaluations/s")
  return 0


if __name__ == "__main__":
  sys.exit(main())
