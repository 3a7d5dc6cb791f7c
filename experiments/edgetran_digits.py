r"""EdgeTran on digits: FlexiBERT 2.0 transformers x the 7 profiled edge devices (device-aware co-search).

Tuli & Jha, "EdgeTran: Device-Aware Co-Search of Transformers for Efficient Inference on Mobile
Edge Platforms", IEEE TMC 2024. Every queried network is really trained on scikit-learn's digits
(8 tokens of 8 features; early stopping on a fixed validation split, test accuracy only reported).
Its latency, energy and peak power on each device come from the ProTran device surrogates
(``jaxcodesign.surrogates.devices``, fitted once per run on the measurement rows of the 7 devices:
A100, M1 Pro CPU / GPU, Raspberry Pi, Intel NCS, Jetson Nano CPU / GPU) at the measured sequence
length of 128 tokens, with their predictive std (``jaxcodesign.edgetran.cosearch``).

Networks are restricted to the measured range and to sizes that train in seconds: 2 or 4 layers,
hidden 128, 2 or 4 heads of all 7 types, FF stacks of 1-2 layers of width 256 or 512.

Deployment constraints, at the scale of the data: a peak-power envelope of 15 W and a latency
budget of 10 s per sequence, both on the upper confidence bound mean + 1 std of the surrogate. On
64 random networks of this space they leave two devices: the M1 Pro GPU (median 7 ms, 0.04 J,
11 W) and the Raspberry Pi (4.0 s, 10.5 J, 4.2 W); the A100 (72 W) and the M1 Pro CPU (16 W) exceed
the power budget, the Jetson Nano CPU / GPU and the NCS the latency budget's upper bound (their
predicted latency std is as large as their median). The objective, on the feasible pairs, trades
validation accuracy against latency, energy and peak power per sequence, with references at the
budgets (10 s, 15 W) and 15 J.

The one-sided baselines: ``fixed_accelerator`` keeps the Raspberry Pi 4 (``cpu_rpi``, the cheapest
board) and searches networks; ``fixed_network`` keeps one sampled network and searches devices;
``random_pairs`` samples pairs. All at the same budget of trainings, except that
``fixed_network`` stops after the 7 distinct devices.

The measurement rows are read from ``hw_space_kwargs.measurements`` (``''``: ProTran's, from the
shared fixtures, ``$JAXCODESIGN_FIXTURES/protran/measurements.jsonl``); rows of your own machine
from ``python -m launch.profile_device`` join them.

Command (from the project root)::

  python -m launch.codesign --config=experiments/edgetran_digits.py --workdir=/tmp/jcd_edgetran

Results (seed 0, 9 min 46 s wall on a quiet 2-core machine; docs/edgetran.md has the table): best
objective co-design 0.9234 (M1 Pro GPU, validation accuracy 0.997, 6.6 ms, 0.034 J, 11.2 W per
sequence), fixed network 0.8857 (7 evaluations: the 7 devices), fixed Raspberry Pi 0.8142, random
pairs 0.8093; hypervolume 0.251 vs 0.040 / 0.135 / 0.073. One seed, no spread claimed.
"""

from jaxcodesign import codesign


def get_config():
  cfg = codesign.base_config()
  cfg.name = "edgetran_digits"
  cfg.model_space = "flexibert2"
  cfg.model_space_kwargs = dict(layers=(2, 4), hidden=(128,), heads=(2, 4), ff_depths=(1, 2),
                                ff_widths=(256, 512))
  cfg.hw_space = "devices"
  cfg.hw_space_kwargs = dict(measurements="", devices=(), latency_budget_s=10.0,
                             power_budget_w=15.0, k_std=1.0,
                             surrogate={})  # {} = DeviceSurrogateConfig's measured-best defaults
  cfg.hw.seq_len = 128
  cfg.oracle.kind = "training"
  cfg.oracle.dataset = "digits"
  cfg.fixed_accelerator = "cpu_rpi"
  cfg.accelerator_sweep = 64  # sampled devices, de-duplicated: all 7 with near certainty
  cfg.oracle.epochs = 6  # hidden-128 networks: 10-25 s per training on 2 cores
  cfg.oracle.patience = 3
  cfg.budget = 12
  cfg.search.init_design = 5
  cfg.objective.weights = dict(accuracy=0.6, latency_per_inference_s=0.15,
                               energy_per_inference_j=0.15, peak_power_w=0.1)
  cfg.objective.references = dict(latency_per_inference_s=10.0, energy_per_inference_j=15.0,
                                  peak_power_w=15.0)
  return cfg.lock()
