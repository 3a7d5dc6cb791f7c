"""jaxcodesign: differentiable hardware-software co-design of deep neural networks in JAX.

Sub-packages:
  spaces      design spaces (FlexiBERT 1.0/2.0, CNNBench, ELECTOR/AccelTran, AccelBench, generic).
  hardware    workload lowering and jitted, vmappable accelerator models (AccelTran, AccelBench).
  surrogates  Flax teacher / student / NPN surrogates with MLP and jraph GNN encoders.
  search      GOBI, BOSHNAS / BOSHCODE active learning, Pareto sets, baselines.
  models      Flax FlexiBERT 2.0 and CNNBench networks and real-training accuracy oracles.
"""

__version__ = "0.1.0"
