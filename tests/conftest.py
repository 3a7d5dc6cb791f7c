"""Shared pytest fixtures.

``fixtures_dir`` is the path of ``../shared/fixtures``. When it is missing the dependent test fails
under CI (``CI`` set) and is skipped with a clear reason elsewhere.
"""

import os

import pytest

from jaxcodesign import paths


@pytest.fixture(scope="session")
def fixtures_dir():
  path = paths.fixtures_dir()
  if not path.is_dir():
    msg = f"reference fixtures not found at {path} (expected ../shared/fixtures beside the project)"
    if os.environ.get("CI"):
      pytest.fail(msg)
    pytest.skip(msg)
  return path
