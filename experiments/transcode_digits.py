r"""TransCODE on digits: FlexiBERT 2.0 transformers x ELECTOR accelerators (the default experiment).

Every queried network is really trained (optax, jitted steps, early stopping on a fixed validation
split) on scikit-learn's handwritten digits, read as 8 tokens of 8 features; test accuracy is reported
and never used for selection. Hardware metrics come from the jitted AccelTran model
(``jaxcodesign.hardware.api.simulate_transformer``) at the task's sequence length (8 tokens).

The FlexiBERT 2.0 space is restricted to models that train in seconds on a 2-core CPU: 2 or 4
layers, hidden 16/32/64, 2 or 4 heads of all 7 types, FF stacks of 1-2 layers of width 32-128.

Command (from the project root)::

  python -m launch.codesign --config=experiments/transcode_digits.py --workdir=/tmp/jcd

Results: the objective now uses latency and energy per inference and the hardware models
changed (issue 8), so the figures measured before no longer apply and are not quoted here;
re-measure with the command above (``results.json`` holds every figure).
"""

from jaxcodesign import codesign


def get_config():
  cfg = codesign.base_config()
  cfg.name = "transcode_digits"
  cfg.model_space = "flexibert2"
  cfg.model_space_kwargs = dict(
      layers=(2, 4), hidden=(16, 32, 64), heads=(2, 4),
      ff_depths=(1, 2), ff_widths=(32, 64, 128),
      custom_values=True)  # tiny models outside the published FlexiBERT 2.0 values, on purpose
  cfg.hw_space = "elector"
  cfg.oracle.kind = "training"
  cfg.oracle.dataset = "digits"
  cfg.fixed_accelerator = "edge"
  return cfg.lock()
