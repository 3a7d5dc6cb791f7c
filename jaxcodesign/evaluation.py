"""The Evaluator protocol: the one interface through which searches obtain metrics for design points.

An :class:`Evaluator` has a ``name`` and ``evaluate(points: list) -> list[dict]`` returning one metric
dict per point, in order (e.g. ``{"accuracy": 0.81}`` or the hardware metrics of
``jaxcodesign.hardware.api``). Searches (BOSHNAS, baselines, co-design) only see this interface, so a
training oracle, a simulator and a table of real measurements are interchangeable.

This module is neutral: it imports nothing from ``search/``, ``models/`` or ``hardware/``, so that
oracles (``models/oracles.py``), searches and co-design all depend on it and not on each other.
:class:`TableEvaluator` (measured metrics looked up by hash) lives here for the same reason: the
table oracle of ``models/`` and the searches both use it.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping, Protocol, runtime_checkable

from jaxcodesign.errors import SpaceError

__all__ = ["Evaluator", "TableEvaluator"]


@runtime_checkable
class Evaluator(Protocol):
  """Protocol: ``name`` and ``evaluate(points) -> list[dict]`` (one metric dict per point, in order)."""

  name: str

  def evaluate(self, points: list) -> list[dict]:
    ...


class TableEvaluator:
  """Looks up measured metrics by ``space.hash(point)`` in ``table: dict[hash -> metric dict]``.

  Args:
    table: measured metric dicts keyed by design hash.
    space: any object with ``hash(point) -> str`` (a design space).
    name: the evaluator's name (used in error messages).

  Raises:
    SpaceError: (field 'point') for a point whose hash is not in the table -- never a made-up value.
  """

  def __init__(self, table: Mapping[str, Mapping[str, Any]], space, name: str = "table"):
    self.table = dict(table)
    self.space = space
    self.name = name

  def evaluate(self, points: list) -> list[dict]:
    out = []
    for p in points:
      h = self.space.hash(p)
      if h not in self.table:
        raise SpaceError("point", h, reason=f"no measurement in table {self.name!r} "
                         f"({len(self.table)} measured designs)")
      out.append(copy.deepcopy(dict(self.table[h])))
    return out
