r"""CODEBench on digits: CNNBench networks x AccelBench accelerators.

The CNNBench op vocabulary is reduced to ops that make sense on 8x8 inputs
(``cnnbench.SMALL_BASE_OPS``: padded 3x3 and 1x1 convolutions with batch-norm and ReLU, a depthwise
conv, padded pooling, one stride-2 pooling), up to 4 modules (one per stack) and a head of at most 6
vertices with small dense layers. Networks are trained for real on scikit-learn's digits as
8x8x1 images; hardware metrics come from the AccelBench model
(``jaxcodesign.hardware.accelbench.simulate_cnn``).

Command::

  python -m launch.codesign --config=experiments/codebench_digits.py --workdir=/tmp/jcd_cnn

Expected (measured, 2-core AMD EPYC CPU, seed 0, budget 12 per method): about 21 min (convolutions
train slowly on 2 cores); best objective codesign 0.9909, random_pairs 0.9796, fixed_network 0.9655,
fixed_accelerator (SPRING, 230 mm^2) 0.9144; chosen CNN val/test accuracy 1.000/0.989 on a 20 mm^2
AccelBench accelerator.
"""

from jaxcodesign import codesign
from jaxcodesign.spaces import cnnbench


def get_config():
  cfg = codesign.base_config()
  cfg.name = "codebench_digits"
  cfg.model_space = "cnnbench"
  cfg.model_space_kwargs = dict(
      base_ops=cnnbench.SMALL_BASE_OPS, dense_ops=cnnbench.SMALL_DENSE_OPS, input_shape=(1, 8, 8),
      num_classes=10, max_modules=4, modules_per_stack=1, head_vertices=6)
  cfg.hw_space = "accelbench"
  cfg.search.init_method = "uniform"   # CNNBench graphs have no Latin-hypercube sampler
  # Convolutions train several times slower than the tiny transformers on a 2-core CPU: a smaller
  # default budget (override with --budget=N) and 8 epochs keep the run near 20 minutes.
  cfg.budget = 12
  cfg.search.init_design = 5
  cfg.oracle.epochs = 8
  cfg.oracle.kind = "training"
  cfg.oracle.dataset = "digits"
  cfg.fixed_accelerator = "spring"
  # 90th percentiles of 8 random networks x 512 random AccelBench configs (latency per batch of up
  # to 512 images; energy per image).
  cfg.objective.references.latency_s = 2.7e-2
  cfg.objective.references.energy_per_sample_j = 1.7e-3
  cfg.objective.references.area_mm2 = 300.0
  return cfg.lock()
