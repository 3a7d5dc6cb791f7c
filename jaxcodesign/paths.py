"""Where the reference data of the original works lives (read by tests, benchmarks and table oracles).

The package never ships those files: they are read by path from ``../shared/fixtures`` next to the
project checkout, or from the directory named by the ``JAXCODESIGN_FIXTURES`` environment variable.
"""

from __future__ import annotations

import os
import pathlib

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent


def fixtures_dir() -> pathlib.Path:
  """Path of the shared fixtures directory (it may not exist; callers decide what to do then)."""
  env = os.environ.get("JAXCODESIGN_FIXTURES")
  if env:
    return pathlib.Path(env)
  return PROJECT_ROOT.parent / "shared" / "fixtures"


def fixture(*parts: str) -> pathlib.Path:
  """Path of one fixture file; raises ``FileNotFoundError`` with a clear message when missing."""
  path = fixtures_dir().joinpath(*parts)
  if not path.exists():
    raise FileNotFoundError(
        f"reference data {path} not found: clone the project next to its shared/ folder "
        "(../shared/fixtures) or set JAXCODESIGN_FIXTURES")
  return path
