"""Shared pytest fixtures.

``fixtures_dir`` is the path of ``../shared/fixtures``. When it is missing the dependent test fails
under CI (``CI`` set) and is skipped with a clear reason elsewhere.
"""

import os
import pathlib
import tempfile

import jax
import pytest

from jaxcodesign import paths

# Many tests compile the same programs (surrogate fits, GOBI, accelerator models) through freshly
# built jit wrappers; a persistent compilation cache lets identical programs compile once per run.
jax.config.update("jax_compilation_cache_dir",
                  os.environ.get("JAXCODESIGN_TEST_JIT_CACHE",
                                 str(pathlib.Path(tempfile.gettempdir()) / "jaxcodesign_jit_cache")))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


@pytest.fixture(scope="session")
def fixtures_dir():
  path = paths.fixtures_dir()
  if not path.is_dir():
    msg = f"reference fixtures not found at {path} (expected ../shared/fixtures beside the project)"
    if os.environ.get("CI"):
      pytest.fail(msg)
    pytest.skip(msg)
  return path


@pytest.fixture
def run_launcher():
  """Runs a launcher's ``main`` in-process with its absl flags, then removes the flags it defined.

  absl keeps one global flag registry per process; launchers define flags of the same names
  (``--output``, ``--predict``), so each in-process run must leave the registry as it found it.
  Usage: ``run_launcher(module, "prog", ["--flag=value", ...])`` returns ``main``'s return value.
  """
  from absl import flags

  def run(module, prog, argv):
    before = set(flags.FLAGS)
    module.define_flags()
    added = set(flags.FLAGS) - before
    flags.FLAGS.unparse_flags()
    try:
      flags.FLAGS([prog, *argv])
      return module.main([])
    finally:
      flags.FLAGS.unparse_flags()
      for name in added:
        if name in flags.FLAGS:
          delattr(flags.FLAGS, name)

  return run
