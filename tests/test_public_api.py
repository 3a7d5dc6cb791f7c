"""The public API (issue 8): the top-level package re-exports the main objects, every subpackage has
an ``__all__`` whose names resolve, ``help(jaxcodesign)`` shows them, and the quick-start notebook
runs (executed here with nbclient so that it cannot rot)."""

import importlib
import pathlib
import pydoc

import nbformat
import pytest
from nbclient import NotebookClient

import jaxcodesign

ROOT = pathlib.Path(__file__).resolve().parent.parent
SUBPACKAGES = ["spaces", "hardware", "surrogates", "search", "models", "impute", "search.breathe"]


def test_top_level_names_resolve_to_the_documented_objects():
  from jaxcodesign.hardware import api
  from jaxcodesign.search import gobi as gobi_module, pareto
  assert jaxcodesign.simulate is api.simulate_transformer
  assert jaxcodesign.gobi is gobi_module.gobi
  assert jaxcodesign.hypervolume is pareto.hypervolume
  assert callable(jaxcodesign.codesign.run)
  for name in jaxcodesign.__all__:
    assert getattr(jaxcodesign, name) is not None, name
  with pytest.raises(AttributeError):
    jaxcodesign.no_such_name  # noqa: B018


def test_help_shows_the_api():
  text = pydoc.render_doc(jaxcodesign, renderer=pydoc.plaintext)
  for name in ("get_space", "simulate", "prepare_configs", "simulate_arrays", "fit_surrogate",
               "gobi_search", "boshnas", "pareto_mask", "hypervolume", "codesign", "DINIImputer"):
    assert name in text, name


@pytest.mark.parametrize("sub", SUBPACKAGES)
def test_subpackages_have_resolvable_all(sub):
  mod = importlib.import_module(f"jaxcodesign.{sub}")
  assert mod.__all__, sub
  for name in mod.__all__:
    assert getattr(mod, name) is not None, f"{sub}.{name}"


def test_search_submodules_stay_modules():
  # ``from jaxcodesign.search import gobi`` must give the module (tests and callers rely on it).
  from jaxcodesign.search import gobi
  assert hasattr(gobi, "gobi_search") and callable(gobi.gobi)


def test_quickstart_notebook_runs():
  nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
  NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
                 ).execute()
  outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                    for o in c.get("outputs", []))
  assert "Pareto-optimal configs" in outputs and "held-out Kendall tau" in outputs
  assert "Error" not in outputs
