"""Error types shared by the whole package.

Every malformed input raises a subclass of ``ValueError`` whose message names the offending field and
the allowed values, so that a user never gets a silent wrong answer.
"""

from __future__ import annotations

from typing import Any, Iterable


class SpaceError(ValueError):
  """A design point (model dict, accelerator config, embedding, graph) is outside its design space."""

  def __init__(self, field: str, value: Any, allowed: Any = None, reason: str | None = None):
    self.field = field
    self.value = value
    self.allowed = allowed
    msg = f"invalid value for field {field!r}: {value!r}"
    if reason:
      msg += f" ({reason})"
    if allowed is not None:
      msg += f"; allowed: {format_allowed(allowed)}"
    super().__init__(msg)


class ConfigError(ValueError):
  """An experiment / launcher configuration is invalid (unknown field, wrong shapes, empty space)."""


def format_allowed(allowed: Any) -> str:
  """Formats a collection of allowed values compactly for error messages."""
  if isinstance(allowed, str):
    return allowed
  if isinstance(allowed, Iterable):
    items = list(allowed)
    if len(items) > 20:
      return "[" + ", ".join(repr(x) for x in items[:10]) + f", ... ({len(items)} values)]"
    return "[" + ", ".join(repr(x) for x in items) + "]"
  return repr(allowed)


def check_in(field: str, value: Any, allowed: Iterable[Any]) -> Any:
  """Returns ``value`` if it is one of ``allowed``, else raises :class:`SpaceError` naming the field."""
  allowed = list(allowed)
  if value not in allowed:
    raise SpaceError(field, value, allowed)
  return value


class DataError(ValueError):
  """A data file or table is malformed: unreadable, empty, non-numeric column, values out of range.

  The message names the file (or table) and the field, e.g.
  ``data.csv: column 'age': non-numeric value 'abc' in row 3``.
  """
