"""End-to-end hardware-software co-design (TransCODE for transformers, CODEBench for CNNs).

One experiment = a model space x an accelerator space (a *hardware half*), an accuracy oracle (real
training on real data, or a table of measurements), and one objective. ``codesign.run(cfg, workdir)``
searches the pair space with nested co-design and, at the same budget, the one-sided and naive
baselines (see :mod:`jaxcodesign.codesign.run`).

Modules: :mod:`~jaxcodesign.codesign.config` (defaults, field help, objective),
:mod:`~jaxcodesign.codesign.evaluators` (hardware halves, pair evaluator and its cache, nested
sweep), :mod:`~jaxcodesign.codesign.workdir` (settings record, resume, overwrite),
:mod:`~jaxcodesign.codesign.run` (assembly, methods, results). Extension points:
:func:`register_method` and :func:`register_hardware` (``docs/codesign.md``).
"""

from jaxcodesign.codesign.config import (DEFAULT_METHODS, FIELD_HELP, METHODS, OBJECTIVE_METRICS,
                                         base_config, config_help, load_config,
                                         make_constrained_objective, make_objective)
from jaxcodesign.codesign.evaluators import (HARDWARE, HW_METRICS, FixedHalf, HardwareHalf,
                                             NestedAcceleratorEvaluator, PairEvaluator,
                                             hardware_metrics, make_hardware, make_oracle,
                                             register_hardware)
from jaxcodesign.codesign.run import (METHOD_FNS, PARETO_METRICS, Experiment, boshnas_config,
                                      build_experiment, pareto_set, register_method, run,
                                      run_method)
from jaxcodesign.codesign.workdir import WorkdirMismatch, default_workdir

__all__ = [
    "DEFAULT_METHODS", "FIELD_HELP", "METHODS", "OBJECTIVE_METRICS", "base_config", "config_help",
    "load_config", "make_constrained_objective", "make_objective", "HARDWARE", "HW_METRICS",
    "FixedHalf", "HardwareHalf", "NestedAcceleratorEvaluator", "PairEvaluator", "hardware_metrics",
    "make_hardware", "make_oracle", "register_hardware", "METHOD_FNS", "PARETO_METRICS",
    "Experiment", "boshnas_config", "build_experiment", "pareto_set", "register_method", "run",
    "run_method", "WorkdirMismatch", "default_workdir",
]

# registers the multi-objective method "breathe" (jaxcodesign/codesign/breathe_method.py)
from jaxcodesign.codesign import breathe_method  # noqa: E402,F401
