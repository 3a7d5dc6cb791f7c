"""A synthetic evaluation of fixed cost, for backend benchmarks and fault-tolerance checks.

:class:`FixedCostEvaluation` stands in for an expensive candidate evaluation (a training run, a device
profile) whose cost is wall time, not CPU: it sleeps ``cost_s`` seconds and returns deterministic
metrics of the point (the Branin function of its first two coordinates, scaled into [0, 1]^2 ->
[-5, 10] x [0, 15]; Branin, "Towards global optimisation 2", 1978), so the local and the Ray backend
must give identical results. It is picklable (a plain class at module level) and optionally:

* writes one marker file per invocation into ``marker_dir`` (count how often a point really ran);
* ``fail_on``: raises ``RuntimeError`` for points whose ``"id"`` is listed (every attempt);
* ``crash_on``: kills its worker process with ``os._exit(3)`` (every attempt);
* ``crash_once_on``: kills its worker on the first attempt only (a marker remembers it), so the
  retry succeeds.

Points are dicts ``{"id": str | int, "x": [floats in [0, 1]]}``.
"""

from __future__ import annotations

import math
import os
import pathlib
import time
import uuid
from typing import Any, Iterable, Mapping

__all__ = ["branin", "FixedCostEvaluation"]


def branin(x1: float, x2: float) -> float:
  """Branin function on [-5, 10] x [0, 15] (minimum 0.397887 at (-pi, 12.275), (pi, 2.275),
  (9.42478, 2.475))."""
  a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
  return a * (x2 - b * x1 ** 2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


class FixedCostEvaluation:
  """``fn(point) -> {"branin": f, "accuracy": 1 / (1 + f)}`` after sleeping ``cost_s`` s."""

  def __init__(self, cost_s: float = 0.5, marker_dir: str | os.PathLike | None = None,
               fail_on: Iterable = (), crash_on: Iterable = (), crash_once_on: Iterable = ()):
    self.cost_s = float(cost_s)
    self.marker_dir = None if marker_dir is None else str(marker_dir)
    self.fail_on = {str(v) for v in fail_on}
    self.crash_on = {str(v) for v in crash_on}
    self.crash_once_on = {str(v) for v in crash_once_on}

  def _marker(self, kind: str, pid: str) -> pathlib.Path | None:
    if self.marker_dir is None:
      return None
    d = pathlib.Path(self.marker_dir)
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{kind}-{pid}-{uuid.uuid4().hex}"

  def invocations(self, point_id) -> int:
    """Number of times ``fn`` started on the point (needs ``marker_dir``)."""
    if self.marker_dir is None:
      return 0
    return len(list(pathlib.Path(self.marker_dir).glob(f"run-{point_id}-*")))

  def __call__(self, point: Mapping[str, Any]) -> dict:
    pid = str(point["id"])
    m = self._marker("run", pid)
    if m is not None:
      m.touch()
    if pid in self.crash_on:
      os._exit(3)
    if pid in self.crash_once_on and self.marker_dir is not None:
      flag = pathlib.Path(self.marker_dir) / f"crashed-{pid}"
      if not flag.exists():
        flag.touch()
        os._exit(3)
    if self.cost_s > 0:
      time.sleep(self.cost_s)
    if pid in self.fail_on:
      raise RuntimeError(f"evaluation of point {pid} failed (injected)")
    x = list(point["x"])
    f = branin(-5.0 + 15.0 * float(x[0]), 15.0 * float(x[1]))
    return {"branin": f, "accuracy": 1.0 / (1.0 + f)}
