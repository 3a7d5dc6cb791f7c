"""jaxcodesign.search: GOBI, BOSHNAS / BOSHCODE, BREATHE, baselines, objectives and Pareto tools.

Modules: ``gobi`` (gradient-based optimisation of a surrogate's input, AdaHessian, vmapped restarts),
``adahessian`` (the optax transformation), ``boshnas`` (BOSHNAS / BOSHCODE active learning with
checkpoints), ``breathe`` (BREATHE multi-objective search over vector and graph spaces),
``baselines`` (random search, regularised evolution, GP-BO), ``objectives`` (the one scalarisation),
``pareto`` (Pareto sets, exact hypervolume via moocore), ``evaluators``, ``checkpoint``.
Attributes are imported lazily.
"""

from __future__ import annotations

import importlib

_FROM = {
    "gobi_search": "gobi", "GOBIConfig": "gobi", "GOBIResult": "gobi",
    "hutchinson_diag": "adahessian",
    "run_boshnas": "boshnas", "BoshnasConfig": "boshnas", "BoshnasResult": "boshnas",
    "random_search": "baselines", "regularized_evolution": "baselines", "gp_bo": "baselines",
    "best_so_far": "baselines",
    "Objective": "objectives", "ObjectiveTerm": "objectives", "scalarise": "objectives",
    "pareto_mask": "pareto", "pareto_front": "pareto", "hypervolume": "pareto",
    "hypervolume_trace": "pareto", "feasible_mask": "pareto",
}
_MODULES = ("gobi", "adahessian", "boshnas", "breathe", "baselines", "objectives", "pareto",
            "evaluators", "checkpoint")

__all__ = sorted(set(_FROM) | set(_MODULES))


def __getattr__(name):
  # ``search.gobi`` and ``search.adahessian`` are the modules (``from jaxcodesign.search import gobi``
  # must keep giving the module); their functions are ``jaxcodesign.gobi`` / ``search.gobi.gobi``.
  if name in _FROM:
    return getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)
  if name in _MODULES:
    return importlib.import_module(f"{__name__}.{name}")
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
  return sorted(set(globals()) | set(__all__))
