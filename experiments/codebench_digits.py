r"""CODEBench on digits: CNNBench networks x AccelBench accelerators.

The CNNBench op vocabulary is reduced to ops that make sense on 8x8 inputs
(``cnnbench.SMALL_BASE_OPS``: padded 3x3 and 1x1 convolutions with batch-norm and ReLU, a depthwise
conv, padded pooling, one stride-2 pooling), up to 4 modules (one per stack) and a head of at most 6
vertices with small dense layers. Networks are trained for real on scikit-learn's digits as
8x8x1 images; hardware metrics come from the AccelBench model
(``jaxcodesign.hardware.accelbench.simulate_cnn``).

Command::

  python -m launch.codesign --config=experiments/codebench_digits.py --workdir=/tmp/jcd_cnn

Results: the objective now uses latency and energy per inference and the hardware models
changed (issue 8), so the figures measured before no longer apply and are not quoted here;
re-measure with the command above (``results.json`` holds every figure).
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
  # default budget (override with --budget=N) and 8 epochs. Measured: 35 of the 48 evaluations took
  # 30 min wall on a 2-core machine shared with one other job (20-120 s per CNN training), so a
  # full run takes about 40 minutes there.
  cfg.budget = 12
  cfg.search.init_design = 5
  cfg.oracle.epochs = 8
  cfg.oracle.kind = "training"
  cfg.oracle.dataset = "digits"
  cfg.fixed_accelerator = "spring"
  # 90th percentiles of 8 random networks x 512 random AccelBench configs, per image
  # (python -m benchmarks.objective_references).
  cfg.objective.references.latency_per_inference_s = 1.35e-4
  cfg.objective.references.energy_per_inference_j = 1.5e-3
  cfg.objective.references.area_mm2 = 290.0
  return cfg.lock()
