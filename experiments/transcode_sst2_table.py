r"""TransCODE with the measured SST-2 table as accuracy oracle, x ELECTOR accelerators.

The accuracy oracle is the table of measured SST-2 dev accuracies of the 2021 FlexiBERT library
(``../shared/fixtures/flexibert_small/library.jsonl``); only measured models are candidates. Each model
is converted to the FlexiBERT 2.0 hetero format for the hardware model (sequence length 128, as in
the measurements).

Command::

  python -m launch.codesign --config=experiments/transcode_sst2_table.py --workdir=/tmp/jcd_sst2

Expected (measured, 2-core CPU, seed 0, budget 20 per method): about 1.5 min; best objective
codesign 0.8849, random_pairs 0.8657, fixed_network 0.8607, fixed_accelerator (Server) 0.8302; the
chosen network has measured SST-2 accuracy 0.8268 (library maximum 0.8314).
"""

from jaxcodesign import codesign
from jaxcodesign import paths


def get_config():
  cfg = codesign.base_config()
  cfg.name = "transcode_sst2_table"
  cfg.model_space = "flexibert_small"
  cfg.hw_space = "elector"
  cfg.oracle.kind = "table"
  cfg.oracle.table_path = str(paths.fixtures_dir() / "flexibert_small" / "library.jsonl")
  cfg.oracle.task = "SST-2"
  cfg.hw.seq_len = 128
  cfg.hw.vocab_size = 30522         # BERT WordPiece table, as in the measurements
  # AccelTran-Edge's 8 MB weight buffer cannot hold a dense BERT embedding table (30,522 x h words at
  # 20 bits): every pair on it violates `fits`, so hardware-aware NAS targets AccelTran-Server here.
  cfg.fixed_accelerator = "server"
  # 90th percentiles of 8 library models x 512 random ELECTOR configs at sequence length 128.
  cfg.objective.references.latency_s = 4.8e-3
  cfg.objective.references.energy_per_sample_j = 2.7e-2
  cfg.objective.references.area_mm2 = 3400.0
  return cfg.lock()
