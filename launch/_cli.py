"""One error path for every launcher (``python -m launch.<name>``).

Each launcher ends with::

  if __name__ == "__main__":
    define_flags()
    _cli.run(main, name="launch.<name>", resume_hint="re-run the same command to resume")

Expected errors (bad flags, config fields, design points, files, JSON, YAML, ``.npz``) print exactly
one line ``launch.<name>: error: <message>`` on stderr and exit with status 2; the message names the
input and the field (the package's :class:`~jaxcodesign.errors.SpaceError`, ``ConfigError`` and
``DataError`` already do). Ctrl-C prints how to resume (where the launcher can resume) and exits 130.
Unexpected errors (bugs) keep their traceback.
"""

from __future__ import annotations

import json
import sys
import zipfile
from typing import Callable, Sequence

from absl import app, flags

#: Errors a user can cause with their input; anything else is a bug and keeps its traceback.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,            # SpaceError, ConfigError, DataError, json.JSONDecodeError
    OSError,               # FileNotFoundError, PermissionError, IsADirectoryError
    EOFError,              # truncated .npz / pickle-free numpy files
    zipfile.BadZipFile,    # corrupt .npz
    KeyError,              # a missing key in a user-supplied JSON object
    flags.Error,           # IllegalFlagValueError, UnrecognizedFlagError
)


def _expected() -> tuple[type[BaseException], ...]:
  extra: list[type[BaseException]] = []
  try:
    import yaml  # pyyaml is a dependency; imported lazily to keep launchers fast
    extra.append(yaml.YAMLError)
  except ImportError:  # pragma: no cover
    pass
  return EXPECTED_ERRORS + tuple(extra)


def format_error(err: BaseException) -> str:
  """One line: the exception's message, with the file name when the error carries one."""
  if isinstance(err, json.JSONDecodeError):
    return f"not valid JSON at line {err.lineno} column {err.colno}: {err.msg}"
  if isinstance(err, OSError) and getattr(err, "filename", None):
    return f"{err.filename}: {err.strerror or err}"
  if isinstance(err, KeyError):
    return f"missing field {err.args[0]!r}" if err.args else "missing field"
  msg = str(err).strip() or type(err).__name__
  return " ".join(msg.split("\n")[0:1]) if len(msg) > 2000 else " ".join(msg.splitlines())


def fail(name: str, message: str, status: int = 2):
  """Prints ``<name>: error: <message>`` on stderr and exits with ``status``."""
  print(f"{name}: error: {message}", file=sys.stderr)
  sys.exit(status)


def parse_flags_or_fail(name: str) -> Callable[[Sequence[str]], list[str]]:
  """An absl ``flags_parser`` that turns a bad flag into one error line (no help text, exit 2)."""

  def parse(argv: Sequence[str]) -> list[str]:
    try:
      return flags.FLAGS(list(argv))
    except flags.Error as err:
      fail(name, format_error(err))
    except (AttributeError, KeyError) as err:  # ml_collections: unknown --config.<field>
      field = str(err).strip("\"'")
      fail(name, f"unknown config field {field!r} (see --help for the fields and their defaults)")
    return []  # unreachable

  return parse


def run(main: Callable[[list[str]], int | None], name: str, resume_hint: str | None = None,
        flags_parser: Callable[[Sequence[str]], list[str]] | None = None) -> None:
  """``absl.app.run(main)`` with the project's error path.

  Args:
    main: the launcher's ``main(argv)``; its return value is the exit status (None = 0).
    name: the program name printed before each error (``launch.codesign``).
    resume_hint: printed after Ctrl-C, e.g. "re-run the same command to resume"; None when the
      launcher cannot resume.
    flags_parser: a custom absl flag parser; by default :func:`parse_flags_or_fail`.
  """
  expected = _expected()

  def wrapped(argv):
    if len(argv) > 1:
      fail(name, f"unexpected arguments: {' '.join(argv[1:])}")
    try:
      return main(argv)
    except KeyboardInterrupt:
      hint = f"; {resume_hint}" if resume_hint else ""
      print(f"\n{name}: interrupted{hint}", file=sys.stderr)
      sys.exit(130)
    except expected as err:  # noqa: B030 (tuple of classes)
      fail(name, format_error(err))

  app.run(wrapped, flags_parser=flags_parser or parse_flags_or_fail(name))
