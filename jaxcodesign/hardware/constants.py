"""Hardware constants of the AccelTran (transformer) and AccelBench (CNN) accelerators.

All values are carried over in code (the package never reads the reference fixtures at run time);
each carries its source:

- ``acceltran/constants/constants.yaml`` (the AccelTran repository's
  ``simulator/constants/constants.yaml``): key path given as ``yaml:<key.path>``.
- the AccelBench / SPRING module table (CODEBench, Tuli et al., ACM TECS 2023; summarised in
  ``docs/accelerator_model.md`` section 10, "area/power"): ``spec:accelbench``.
- Synthesis reports of the AccelTran / AccelBench modules (Synopsys Design Compiler, 14 nm FinFET,
  0.8 V, 700 MHz; AccelTran, Tuli & Jha, IEEE TCAD 2023, and CODEBench), kept as reference data under
  ``fixtures/synthesis_14nm/<module>/report_{area,power,timing}.txt`` and FinCACTI outputs
  ``fixtures/synthesis_14nm/fincacti_{activation,weight,mask}_buffer.txt``: ``synth:<path>``.

Units: area um^2 (per module, or per MB for buffers), power mW, energy nJ, clock MHz. Per-cycle energy
of a module in nJ is ``power_mW / CLOCK_MHZ`` (mW / MHz = nJ).

Timing caveat: at 700 MHz two AccelTran modules miss timing in their synthesis reports:
``mac_lane`` (slack -143.24 ps, synth:mac_lane/report_timing.txt) and ``ln_forward_16`` (slack
-165.11 ps, synth:ln_forward_16/report_timing.txt); also ``mac_lane_one`` (-92.56 ps) and
``ln_forward_8`` (-30.69 ps); AccelBench's ``pooling`` (-138.51 ps), ``global_avg_pooling``
(-211.18 ps), ``mul`` (-34.80 ps) and ``adder_tree`` (-8.79 ps). Every latency quoted at 700 MHz is
therefore optimistic (a -165 ps slack on a 1428.6 ps period means ~624 MHz is the reachable clock).
The layer-norm / softmax tile-32 values have no synthesis report (extrapolated upstream).

Bandwidths: the original converted GB/s to "bits per cycle" as
``GB/s * 2**30 * (IL + FL) / f_MHz * 1e-6`` (bytes/s times bits per *element*), which is 2.5x too
high (20 / 8). The correct link rate is ``GB/s * 2**30 bytes * 8 bits / (f_MHz * 1e6)``:
25.6 GB/s = 314.146 bits/cycle, 256 GB/s = 3141.46, 370 GB/s = 4540.39 at 700 MHz. (With 1e9 bytes
per GB the figures would be 292.6 / 2925.7 / 4228.6, which do not match the spec's 314.1 / 3141.5 /
4540.4, so GB here means 2**30 bytes, as in the original.) The legacy constants 785.365 / 7853.65 /
11350.98 are kept in ``LEGACY_BANDWIDTH_BITS_PER_CYCLE`` for the legacy simulator ONLY.
"""

from __future__ import annotations

from typing import NamedTuple

# ---------------------------------------------------------------------------------------------------
# Global AccelTran constants.

CLOCK_MHZ = 700.0  # yaml:clock_frequency
BITS_IL = 4  # yaml:bits.IL
BITS_FL = 16  # yaml:bits.FL
BITS_PER_ELEMENT = BITS_IL + BITS_FL  # 20-bit fixed point
SPARSITY_ACTIVATION = 0.5  # yaml:sparsity.activation
SPARSITY_WEIGHT = 0.5  # yaml:sparsity.weight
SPARSITY_GRADIENT = 0.9  # yaml:sparsity.gradient (training only)
OVERLAP_FACTOR = 0.8  # yaml:overlap_factor
SEQ_LEN = 128  # docs/accelerator_model.md §10 fast-model 1.4 (hard-coded upstream)
VOCAB_SIZE = 30522  # docs/accelerator_model.md §10 fast-model 1.4 (BERT WordPiece vocabulary)
BLOCK_SIZE_BYTES = 64  # yaml:{weight,activation,mask}_buffer.block_size, yaml:main_memory.block_size
FIFO_DEPTH = 32  # yaml:fifo.depth


class ModuleConstants(NamedTuple):
  """Synthesised figures of one hardware module: area (um^2), dynamic and leakage power (mW)."""
  area_um2: float
  dynamic_mw: float
  leakage_mw: float
  source: str


class BufferConstants(NamedTuple):
  """AccelTran on-chip buffer figures per MB.

  ``area_um2_per_mb`` um^2 per MB; ``energy_nj`` nJ per 64-byte block access, to be multiplied by
  sqrt(size in MB) (yaml comment: "(read + write) / 2 * sqrt(size / reference size)", where the
  1/sqrt(reference size) factor is already folded in); ``leakage_mw_per_mb`` mW per MB;
  ``legacy_bandwidth`` the 2.5x-too-high link rate of the original in "bits per cycle".
  """
  area_um2_per_mb: float
  energy_nj: float
  leakage_mw_per_mb: float
  ddr_bandwidth_gbps: float
  legacy_bandwidth: float
  source: str


# ---------------------------------------------------------------------------------------------------
# AccelTran per-module constants (yaml), keyed as the yaml is.

ACCELTRAN_LANE = {
    # (mac_per_lane, non_linearity) -> constants
    (1, "relu"): ModuleConstants(597.964253, 0.2756146, 0.0223711,
                                 "yaml:lane.mac_per_lane_1.relu; synth:mac_lane_one"),
    (1, "gelu"): ModuleConstants(1209.955838, 0.6705926, 0.0419121,
                                 "yaml:lane.mac_per_lane_1.gelu"),
    # NB: the yaml rounds this leakage to 0.3003 mW; the AccelBench table has 0.3003308 mW.
    (16, "relu"): ModuleConstants(8819.484999, 4.8926, 0.3003,
                                  "yaml:lane.mac_per_lane_16.relu; synth:mac_lane"),
    (16, "gelu"): ModuleConstants(9418.667591, 5.1955, 0.3189685,
                                  "yaml:lane.mac_per_lane_16.gelu; synth:mac_lane/report_power.txt"),
}

ACCELTRAN_SOFTMAX = {
    8: ModuleConstants(22008.079435, 9.1386, 0.6824872, "yaml:softmax.tile_8; synth:softmax_8"),
    16: ModuleConstants(87573.326116, 34.6343, 2.6696, "yaml:softmax.tile_16; synth:softmax_16"),
    32: ModuleConstants(348466.9006, 131.2602298481, 10.4423,
                        "yaml:softmax.tile_32 (extrapolated upstream, no report)"),
}

ACCELTRAN_LAYER_NORM = {
    8: ModuleConstants(20631.005754, 12.6646, 0.6594879,
                       "yaml:layer_norm.tile_8; synth:ln_forward_8"),
    16: ModuleConstants(81104.126482, 43.8378, 2.5753,
                        "yaml:layer_norm.tile_16; synth:ln_forward_16"),
    32: ModuleConstants(318834.6362, 151.4800, 10.03566,
                        "yaml:layer_norm.tile_32 (extrapolated upstream, no report)"),
}

ACCELTRAN_STOCHASTIC_ROUNDING = ModuleConstants(79.043665, 0.0216570, 0.0040125,
                                                "yaml:stochastic_rounding; synth:stochastic_rounding")
ACCELTRAN_DATAFLOW = ModuleConstants(75946.982008, 11.3711, 2.7312, "yaml:dataflow; synth:dataflow")
ACCELTRAN_DMA = ModuleConstants(144.636242, 0.0335287, 0.0063819, "yaml:dma; synth:dma_axi64")
ACCELTRAN_FIFO = ModuleConstants(484.379110, 0.0563909, 0.0140774, "yaml:fifo; synth:fifo")
ACCELTRAN_PRE_SPARSITY = ModuleConstants(6216.896914, 0.2852968, 0.1507329,
                                         "yaml:pre_sparsity; synth:sparsity")
ACCELTRAN_POST_SPARSITY = ModuleConstants(1181.201447, 0.2613971, 0.0324301,
                                          "yaml:post_sparsity; synth:post_sparsity")

# Legacy link rate (bits/cycle) of the original: 370 * 2**30 * 20 / 700 * 1e-6 = 11350.98 (2.5x high).
ACCELTRAN_BUFFERS = {
    "activation": BufferConstants(303305.83, 0.079275099, 247.918667, 370.0, 11350.98,
                                  "yaml:activation_buffer; synth:fincacti_activation_buffer.txt"),
    "weight": BufferConstants(294100.83, 0.0856588, 210.40467, 370.0, 11350.98,
                              "yaml:weight_buffer; synth:fincacti_weight_buffer.txt"),
    "mask": BufferConstants(302565.0, 0.08200675, 238.196, 370.0, 11350.98,
                            "yaml:mask_buffer; synth:fincacti_mask_buffer.txt"),
}

# Main-memory access energy (nJ per 64-byte block), key "{type}_{banks}_{ranks}_{channels}".
# Source yaml:main_memory.energy. NB dram_32_2_1 is 13.43777522 here but 53.43777522 in the
# AccelBench table (ACCELBENCH_MAIN_MEMORY_ENERGY); both are kept as published.
ACCELTRAN_MAIN_MEMORY_ENERGY = {
    "rram_16_2_2": 17.321165,
    "rram_8_2_4": 32.655499,
    "rram_4_2_8": 69.3328008,
    "rram_2_2_16": 149.0564671,
    "rram_32_2_1": 8.63281599,
    "rram_1_2_32": 340.9690911,
    "dram_16_2_2": 69.00706337,
    "dram_8_2_4": 200.2819855,
    "dram_32_2_1": 13.43777522,
    "dram_16_4_1": 38.28777884,
    "hbm_32_1_4": 26.5569841,
}

# Link rates in GB/s (GB = 2**30 bytes). yaml:main_memory.ddr_bandwidth gives lb 25.6 (LPDDR3) and
# hb 256; the original used mode "lb" for DRAM and "hb" for RRAM and HBM (docs/accelerator_model.md
# §10 fast-model 2). ASSUMPTION (no per-type figure in yaml or spec): RRAM and
# HBM both run at the "hb" 256 GB/s, DRAM at the "lb" 25.6 GB/s. On-chip buffers: 370 GB/s
# (yaml:*_buffer.ddr_bandwidth).
MAIN_MEMORY_MODE_GBPS = {"lb": 25.6, "hb": 256.0}
MAIN_MEMORY_TYPE_MODE = {"dram": "lb", "rram": "hb", "hbm": "hb"}
MAIN_MEMORY_TYPE_GBPS = {t: MAIN_MEMORY_MODE_GBPS[m] for t, m in MAIN_MEMORY_TYPE_MODE.items()}
BUFFER_GBPS = 370.0

# LEGACY ONLY (2.5x too high; bytes/s times 20 bits per element): yaml:main_memory.bandwidth and
# yaml:*_buffer.bandwidth. Used by jaxcodesign.hardware.legacy exclusively.
LEGACY_BANDWIDTH_BITS_PER_CYCLE = {"lb": 785.365, "hb": 7853.65, "buffer": 11350.98}


def gbps_to_bits_per_cycle(gbps: float, clock_mhz: float = CLOCK_MHZ) -> float:
  """Correct link rate in bits per clock cycle: ``gbps * 2**30 bytes * 8 bits / (clock_mhz * 1e6)``.

  25.6 -> 314.146, 256 -> 3141.46, 370 -> 4540.39 at 700 MHz (docs/accelerator_model.md §10 area/power).
  """
  return gbps * float(2 ** 30) * 8.0 / (clock_mhz * 1e6)


def legacy_gbps_to_bits_per_cycle(gbps: float, clock_mhz: float = CLOCK_MHZ) -> float:
  """The original's (2.5x too high) conversion: ``gbps * 2**30 * 20 / clock_mhz * 1e-6``. Legacy only."""
  return gbps * 1024 * 1024 * 1024 * BITS_PER_ELEMENT / clock_mhz * 1e-6


MAIN_MEMORY_BITS_PER_CYCLE = {t: gbps_to_bits_per_cycle(g) for t, g in MAIN_MEMORY_TYPE_GBPS.items()}
BUFFER_BITS_PER_CYCLE = gbps_to_bits_per_cycle(BUFFER_GBPS)

# ---------------------------------------------------------------------------------------------------
# Main memory from its organisation (issue 9 part 2). The design spaces emit a memory *organisation*
# (type, banks, ranks, channels; spaces.accelerators.MAIN_MEMORY_TABLE) and nothing else; the
# hardware models look up its figures here.
#
# Bandwidth = channels x per-channel rate. Banks and ranks add parallelism *within* a channel (bank
# interleaving hides row activations) but share the channel's data bus, so the sustained rate of a
# channel is bounded by its bus: bandwidth scales with channels only. Per-channel rates (GB, 2**30
# bytes, per second):
#
# - dram 6.4: LPDDR3-1600, a x32 channel at 1600 MT/s = 6.4 GB/s (JEDEC JESD209-3, LPDDR3; AccelTran,
#   Tuli & Jha, IEEE TCAD 2023, uses LPDDR3 for its DRAM). Four channels give 25.6 GB/s, the
#   yaml:main_memory.ddr_bandwidth.lb figure, i.e. the yaml's figure is our dram_8_2_4 option.
# - hbm 32.0: HBM2, a 128-bit channel at 2.0 Gb/s per pin = 32 GB/s (JEDEC JESD235A); our only HBM
#   option has 4 channels = 128 GB/s, half of the yaml's "hb" 256 GB/s (a full 8-channel stack).
# - rram 8.0: NO PUBLISHED FIGURE. AccelTran's monolithic-3D RRAM is quoted only as a whole-memory
#   rate (yaml "hb" 256 GB/s). ASSUMPTION: that rate belongs to the widest organisation of the space
#   (32 channels), so one channel carries 256 / 32 = 8 GB/s. It is a parameter: pass
#   ``channel_gbps={"rram": ...}`` to ``hardware.api.prepare_configs``.
#
# Access energy: ACCELTRAN_MAIN_MEMORY_ENERGY / ACCELBENCH_MAIN_MEMORY_ENERGY (nJ per 64-byte
# block, published per organisation in yaml:main_memory.energy and the AccelBench table). No
# main-memory leakage or background (refresh) power is published for these organisations: none is
# modelled (main-memory power is access energy / time).
MAIN_MEMORY_CHANNEL_GBPS = {"dram": 6.4, "hbm": 32.0, "rram": 8.0}
MAIN_MEMORY_CHANNEL_SOURCE = {
    "dram": "JEDEC JESD209-3 LPDDR3-1600 x32 channel: 1600 MT/s * 4 bytes",
    "hbm": "JEDEC JESD235A HBM2 128-bit channel at 2.0 Gb/s/pin",
    "rram": "no published figure: assumed 256 GB/s (yaml hb) over the 32-channel organisation",
}
MEMORY_TYPE_ORDER = ("rram", "dram", "hbm")  # = spaces.accelerators.MEMORY_TYPES (type index)


def main_memory_figures(organisations, energy_table: str = "acceltran",
                        channel_gbps=None) -> dict:
  """Per-option figures of main-memory organisations (one entry per option, in the given order).

  Args:
    organisations: sequence of ``(type, banks, ranks, channels)`` (e.g.
      ``spaces.accelerators.MAIN_MEMORY_TABLE``).
    energy_table: ``"acceltran"`` (yaml:main_memory.energy) or ``"accelbench"`` (the AccelBench
      table, which differs in dram_32_2_1).
    channel_gbps: per-channel rates overriding :data:`MAIN_MEMORY_CHANNEL_GBPS` (GB/s per type).

  Returns:
    ``{"energy_nj": [k], "gbps": [k], "bits_per_cycle": [k], "type_bits_per_cycle": [k]}`` lists of
    floats: access energy (nJ per 64-byte block), bandwidth (GB/s = channels x per-channel rate),
    its link rate in bits per 700 MHz cycle, and the old per-type rate (constants
    MAIN_MEMORY_BITS_PER_CYCLE; kept for the AccelBench model until it switches).

  Raises:
    KeyError-free: ValueError (ConfigError) naming the field for an unknown type or table.
  """
  from jaxcodesign.errors import ConfigError
  tables = {"acceltran": ACCELTRAN_MAIN_MEMORY_ENERGY, "accelbench": ACCELBENCH_MAIN_MEMORY_ENERGY}
  if energy_table not in tables:
    raise ConfigError(f"invalid value for field 'energy_table': {energy_table!r}; allowed: "
                      f"{sorted(tables)}")
  rates = dict(MAIN_MEMORY_CHANNEL_GBPS)
  for t, v in dict(channel_gbps or {}).items():
    if t not in rates:
      raise ConfigError(f"invalid value for field 'channel_gbps': {t!r}; allowed: {sorted(rates)}")
    if not float(v) > 0:
      raise ConfigError(f"invalid value for field 'channel_gbps.{t}': {v!r}; allowed: > 0 GB/s")
    rates[t] = float(v)
  out: dict[str, list] = {"energy_nj": [], "gbps": [], "bits_per_cycle": [], "type_bits_per_cycle": []}
  for mtype, banks, ranks, channels in organisations:
    gbps = rates[mtype] * int(channels)
    out["energy_nj"].append(tables[energy_table][memory_key(mtype, banks, ranks, channels)])
    out["gbps"].append(gbps)
    out["bits_per_cycle"].append(gbps_to_bits_per_cycle(gbps))
    out["type_bits_per_cycle"].append(MAIN_MEMORY_BITS_PER_CYCLE[mtype])
  return out

# ---------------------------------------------------------------------------------------------------
# AccelBench / SPRING (CNN accelerator) module table: spec:accelbench (docs/accelerator_model.md §10 area/power)
# with the synthesis reports named. Count multipliers: PE = Pib*Pix*Piy, Lane = Pof*Pkx*Pky per PE.

ACCELBENCH_LANE = {
    # (Pif, activation key) -> constants; activation key "relu", "silu" or "both".
    (16, "relu"): ModuleConstants(8819.484999, 4.8926, 0.3003308, "spec:accelbench; synth:mac_lane"),
    (16, "silu"): ModuleConstants(9418.667591, 5.1955, 0.3189685, "spec:accelbench; synth:mac_lane"),
    (16, "both"): ModuleConstants(9435.567886, 5.3176, 0.3241016, "spec:accelbench"),
    (1, "relu"): ModuleConstants(597.964253, 0.2756146, 0.0223711,
                                 "spec:accelbench; synth:mac_lane_one"),
    (1, "silu"): ModuleConstants(1209.955838, 0.6705926, 0.0419121, "spec:accelbench"),
    (1, "both"): ModuleConstants(1199.509430, 0.6896749, 0.0415079, "spec:accelbench"),
}

# name -> (constants, count rule); count rule in {"PE", "PE*Lane", "PE*Lane*Pif*2"}.
ACCELBENCH_MODULES = {
    "dataflow": (ModuleConstants(75946.982008, 11.3711, 2.7312, "spec:accelbench; synth:dataflow"),
                 "PE"),
    "dma": (ModuleConstants(144.636242, 0.0335287, 0.0063819, "spec:accelbench; synth:dma_axi64"),
            "PE"),
    "fifo": (ModuleConstants(484.379110, 0.0563909, 0.0140774, "spec:accelbench; synth:fifo"),
             "PE*Lane*Pif*2"),
    "batch_norm": (ModuleConstants(14654.491357, 8.3914, 0.5323004,
                                   "spec:accelbench; synth:forward"), "PE"),
    # im2col dynamic power is an HLS floating-point block, not clock-scaled (spec note).
    "im2col": (ModuleConstants(14307.182942, 423.0658, 0.3963450,
                               "spec:accelbench; synth:im2col_cpu"), "PE*Lane"),
    "pooling": (ModuleConstants(3395.049675, 1.1430, 0.1281938, "spec:accelbench; synth:pooling"),
                "PE"),
    "global_avg_pooling": (ModuleConstants(0.0, 1.2148, 0.0848479,
                                           "spec:accelbench (area inside pooling); "
                                           "synth:global_avg_pooling"), "PE"),
    "upsampling": (ModuleConstants(749.704715, 0.1503713, 0.0293699,
                                   "spec:accelbench; synth:upsample"), "PE"),
    "pre_sparsity": (ModuleConstants(6216.896914, 0.2852968, 0.1507329,
                                     "spec:accelbench; synth:sparsity"), "PE*Lane"),
    "post_sparsity": (ModuleConstants(1181.201447, 0.2613971, 0.0324301,
                                      "spec:accelbench; synth:post_sparsity"), "PE*Lane"),
}


class FinCactiBuffer(NamedTuple):
  """A FinCACTI 14 nm SRAM reference: size (MB), banks, access energy (nJ per access at the reference
  size, scaled by sqrt(size / ref)), leakage per bank (mW, scaled linearly with size), area (mm^2,
  scaled linearly with size)."""
  ref_mb: float
  banks: int
  energy_nj: float
  leakage_mw_per_bank: float
  area_mm2: float
  source: str


ACCELBENCH_BUFFERS = {
    "activation": FinCactiBuffer(12.0, 16, 0.274617, 185.939, 3.63967,
                                 "spec:accelbench; synth:fincacti_activation_buffer.txt"),
    "weight": FinCactiBuffer(24.0, 16, 0.41964, 315.607, 7.05842,
                             "spec:accelbench; synth:fincacti_weight_buffer.txt"),
    "mask": FinCactiBuffer(4.0, 8, 0.1640135, 119.098, 1.21026,
                           "spec:accelbench; synth:fincacti_mask_buffer.txt"),
}

# Main-memory energy per access (nJ), spec:accelbench. Same keys as the AccelTran table.
ACCELBENCH_MAIN_MEMORY_ENERGY = dict(ACCELTRAN_MAIN_MEMORY_ENERGY, dram_32_2_1=53.43777522)
# (identical to the AccelTran table except dram_32_2_1, as published in the AccelBench table)

# The original AccelBench used one fixed link for every memory type (legacy only).
ACCELBENCH_LEGACY_LINK_BITS_PER_CYCLE = 479  # spec:accelbench ("one fixed 479 bit/cycle link")
ACCELBENCH_LEGACY_SPARSITY_FACTOR = 0.5 * 0.5 * 0.8  # spec:accelbench (compute scaling, legacy)


def memory_key(mem_type: str, banks: int, ranks: int, channels: int) -> str:
  """The main-memory table key ``"{type}_{banks}_{ranks}_{channels}"`` (yaml:main_memory.energy)."""
  return f"{mem_type}_{int(banks)}_{int(ranks)}_{int(channels)}"


def per_cycle_nj(power_mw: float, clock_mhz: float = CLOCK_MHZ) -> float:
  """Energy per cycle in nJ of a module drawing ``power_mw`` mW at ``clock_mhz`` MHz (mW/MHz = nJ)."""
  return power_mw / clock_mhz


def peak_tops(pe: int, lanes_per_pe: int, mac_per_lane: int, clock_mhz: float = CLOCK_MHZ) -> float:
  """Peak throughput in TOPS (2 ops per MAC): Edge 16,384 MACs -> 22.9, Server 262,144 -> 367."""
  return 2.0 * pe * lanes_per_pe * mac_per_lane * clock_mhz * 1e6 / 1e12


def main_memory_arrays(mem_index, energy_table: str = "acceltran", channel_gbps=None,
                       bandwidth: str = "organisation") -> dict:
  """Main-memory figures of configs from the organisation index the design space emits.

  Args:
    mem_index: int array ``[n]`` into ``spaces.accelerators.MAIN_MEMORY_TABLE`` (the
      ``mem_index`` of ``config_arrays``).
    energy_table, channel_gbps: see :func:`main_memory_figures`.
    bandwidth: ``"organisation"`` (channels x per-channel rate, issue 9 part 2) or ``"type"`` (the
      earlier one rate per memory type, MAIN_MEMORY_BITS_PER_CYCLE).

  Returns:
    ``{"mm_energy_nj": float32[n], "mm_bits_per_cycle": float32[n]}``.
  """
  import numpy as np
  from jaxcodesign.errors import ConfigError
  from jaxcodesign.spaces.accelerators import MAIN_MEMORY_TABLE
  if bandwidth not in ("organisation", "type"):
    raise ConfigError(f"invalid value for field 'bandwidth': {bandwidth!r}; allowed: "
                      "['organisation', 'type']")
  fig = main_memory_figures(MAIN_MEMORY_TABLE, energy_table, channel_gbps)
  idx = np.asarray(mem_index, np.int64)
  rate = fig["bits_per_cycle"] if bandwidth == "organisation" else fig["type_bits_per_cycle"]
  return {"mm_energy_nj": np.asarray(fig["energy_nj"], np.float32)[idx],
          "mm_bits_per_cycle": np.asarray(rate, np.float32)[idx]}
