r"""TransCODE with the measured SST-2 table as accuracy oracle, x ELECTOR accelerators.

The accuracy oracle is the table of measured SST-2 dev accuracies of the 2021 FlexiBERT library
(``../shared/fixtures/flexibert_small/library.jsonl``); only measured models are candidates. Each model
is converted to the FlexiBERT 2.0 hetero format for the hardware model (sequence length 128, as in
the measurements).

Command::

  python -m launch.codesign --config=experiments/transcode_sst2_table.py --workdir=/tmp/jcd_sst2

Expected: see README ("Measured results").
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
  cfg.fixed_accelerator = "edge"
  cfg.objective.references.latency_s = 1e-2
  cfg.objective.references.energy_j = 1e-2
  cfg.objective.references.area_mm2 = 500.0
  return cfg.lock()
