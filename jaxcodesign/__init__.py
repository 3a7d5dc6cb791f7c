"""jaxcodesign: differentiable hardware-software co-design of deep neural networks in JAX.

The main objects, importable from the top level (loaded lazily on first use)::

  import jax, jaxcodesign as jcd
  space = jcd.get_space("flexibert2")                       # design spaces by name
  model = space.sample(jax.random.key(0), 1)[0]
  rows = jcd.simulate("bert_tiny", [jcd.NAMED_ACCELERATORS["edge"]])   # one pair
  prepared = jcd.prepare_configs(configs)                   # vectorised sweep: validate once,
  out = jcd.simulate_arrays(model, prepared)                #   one jitted call, arrays out
  mask = jcd.pareto_mask(costs); hv = jcd.hypervolume(costs[mask], ref)
  state = jcd.fit_surrogate(key, x, y, jcd.SurrogateConfig())
  res = jcd.gobi_search(key, space, state, starts, maximise=True)
  result = jcd.codesign.run(jcd.codesign.load_config("transcode_digits"), workdir)

Spaces: ``get_space``, ``SPACE_NAMES``, ``NAMED_MODELS``, ``NAMED_ACCELERATORS``.
Accelerator models: ``simulate`` (= ``simulate_transformer``), ``simulate_cnn``,
``prepare_configs``, ``simulate_arrays``, ``simulate_fast`` (the quirk-exact legacy TransCODE model).
Surrogates: ``SurrogateConfig``, ``fit_surrogate``, ``predict``, ``acquisition_fn``.
Search: ``gobi``, ``gobi_search``, ``GOBIConfig``, ``boshnas`` (= ``run_boshnas``), ``BoshnasConfig``,
``pareto_mask``, ``pareto_front``, ``hypervolume``, ``scalarise``, ``Objective``, ``ObjectiveTerm``,
``random_search``, ``regularized_evolution``, ``gp_bo``, ``breathe`` (BREATHE multi-objective search).
Imputation: ``DINIImputer`` (scikit-learn estimator).
Sub-packages: ``spaces``, ``hardware``, ``surrogates``, ``search``, ``models``, ``codesign``,
``impute``, ``problems``, ``edgetran``, ``distributed``, and ``padding``, ``errors``.
Errors: ``SpaceError``, ``ConfigError``, ``DataError`` (all ``ValueError``; the message names the
field and the allowed values).
"""

from __future__ import annotations

import importlib

__version__ = "0.2.1"

#: public name -> (module, attribute or None for the module itself)
_EXPORTS = {
    # spaces
    "get_space": ("jaxcodesign.spaces", "get_space"),
    "SPACE_NAMES": ("jaxcodesign.spaces", "SPACE_NAMES"),
    "NAMED_MODELS": ("jaxcodesign.spaces.flexibert", "NAMED_MODELS"),
    "NAMED_ACCELERATORS": ("jaxcodesign.spaces.accelerators", "NAMED_ACCELERATORS"),
    # accelerator models
    "simulate": ("jaxcodesign.hardware.api", "simulate_transformer"),
    "simulate_transformer": ("jaxcodesign.hardware.api", "simulate_transformer"),
    "simulate_cnn": ("jaxcodesign.hardware.api", "simulate_cnn"),
    "prepare_configs": ("jaxcodesign.hardware.api", "prepare_configs"),
    "simulate_arrays": ("jaxcodesign.hardware.api", "simulate_arrays"),
    "simulate_fast": ("jaxcodesign.hardware.legacy", "simulate_fast"),
    # surrogates
    "SurrogateConfig": ("jaxcodesign.surrogates", "SurrogateConfig"),
    "fit_surrogate": ("jaxcodesign.surrogates", "fit_surrogate"),
    "predict": ("jaxcodesign.surrogates", "predict"),
    "acquisition_fn": ("jaxcodesign.surrogates", "acquisition_fn"),
    # search
    "gobi": ("jaxcodesign.search.gobi", "gobi"),
    "gobi_search": ("jaxcodesign.search.gobi", "gobi_search"),
    "GOBIConfig": ("jaxcodesign.search.gobi", "GOBIConfig"),
    "boshnas": ("jaxcodesign.search.boshnas", "run_boshnas"),
    "run_boshnas": ("jaxcodesign.search.boshnas", "run_boshnas"),
    "BoshnasConfig": ("jaxcodesign.search.boshnas", "BoshnasConfig"),
    "pareto_mask": ("jaxcodesign.search.pareto", "pareto_mask"),
    "pareto_front": ("jaxcodesign.search.pareto", "pareto_front"),
    "hypervolume": ("jaxcodesign.search.pareto", "hypervolume"),
    "scalarise": ("jaxcodesign.search.objectives", "scalarise"),
    "Objective": ("jaxcodesign.search.objectives", "Objective"),
    "ObjectiveTerm": ("jaxcodesign.search.objectives", "ObjectiveTerm"),
    "random_search": ("jaxcodesign.search.baselines", "random_search"),
    "regularized_evolution": ("jaxcodesign.search.baselines", "regularized_evolution"),
    "gp_bo": ("jaxcodesign.search.baselines", "gp_bo"),
    "breathe": ("jaxcodesign.search.breathe", None),
    # imputation
    "DINIImputer": ("jaxcodesign.impute", "DINIImputer"),
    # errors
    "SpaceError": ("jaxcodesign.errors", "SpaceError"),
    "ConfigError": ("jaxcodesign.errors", "ConfigError"),
    "DataError": ("jaxcodesign.errors", "DataError"),
}
_SUBPACKAGES = ("spaces", "hardware", "surrogates", "search", "models", "codesign", "impute",
                "problems", "edgetran", "distributed", "padding", "errors", "evaluation", "paths")

__all__ = sorted(_EXPORTS) + list(_SUBPACKAGES)


def __getattr__(name):
  if name in _EXPORTS:
    module, attr = _EXPORTS[name]
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
  elif name in _SUBPACKAGES:
    value = importlib.import_module(f"{__name__}.{name}")
  else:
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
  globals()[name] = value  # later look-ups are plain attribute reads
  return value


def __dir__():
  return sorted(set(globals()) | set(__all__))
