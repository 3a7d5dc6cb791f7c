r"""CODEBench on digits: CNNBench networks x AccelBench accelerators.

The CNNBench op vocabulary is reduced to ops that make sense on 8x8 inputs (small 3x3 and 1x1
convolutions with batch-norm and ReLU/SiLU, one stride-preserving pooling, dropout), two stacks of
modules and a global-pool + dense head. Networks are trained for real on scikit-learn's digits as
8x8x1 images; hardware metrics come from the AccelBench model
(``jaxcodesign.hardware.accelbench.simulate_cnn``).

Command::

  python -m launch.codesign --config=experiments/codebench_digits.py --workdir=/tmp/jcd_cnn

Expected: see README ("Measured results").
"""

from jaxcodesign import codesign


def get_config():
  cfg = codesign.base_config()
  cfg.name = "codebench_digits"
  cfg.model_space = "cnnbench"
  cfg.model_space_kwargs = dict(
      base_ops=("conv3x3-c16-bn-relu", "conv3x3-c32-bn-relu", "conv1x1-c16-bn-relu",
                "conv1x1-c32-bn-silu", "maxpool3x3", "avgpool3x3", "dropout-p1"),
      input_shape=(1, 8, 8), num_classes=10)
  cfg.hw_space = "accelbench"
  cfg.oracle.kind = "training"
  cfg.oracle.dataset = "digits"
  cfg.fixed_accelerator = "spring"
  cfg.objective.references.latency_s = 1e-3
  cfg.objective.references.energy_j = 1e-3
  cfg.objective.references.area_mm2 = 300.0
  return cfg.lock()
