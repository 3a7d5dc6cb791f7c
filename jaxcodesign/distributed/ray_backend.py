"""Ray as the evaluation backend: candidate evaluations as Ray tasks, retried, journaled.

Expensive, independent evaluations (training a candidate network, profiling a device, running a
user's simulator) are sent as Ray tasks: :class:`RayEvaluator` implements the Evaluator protocol
(:mod:`jaxcodesign.evaluation`: ``evaluate(points: list) -> list[dict]``) for any picklable callable
``fn(point) -> dict``. A batch of q proposals (BOSHNAS / BOSHCODE / BREATHE with q > 1) runs
concurrently, each task with its resource request (``num_cpus`` / ``num_gpus`` per task), and results
are taken as they finish (``ray.wait``).

Failures: a task that raises, or whose worker process dies (``os._exit``, OOM kill, node loss), is
retried by Ray up to ``max_retries`` times (``max_retries`` with ``retry_exceptions=True``); after that
it is recorded as FAILED with its error -- never dropped, never fatal to the search. A failed point's
result is ``{"failed": True, "error": "...", "attempts": n}`` (see :func:`is_failed`).

Journal: each finished evaluation (ok or failed) is appended to a :class:`~.journal.Journal` (JSONL,
fsync) BEFORE it is returned to the search or passed to ``on_result``; keys are a content hash of the
point plus ``settings`` (everything else that changes a result). Re-running with the same journal
answers journaled points from it without calling ``fn``, so a driver killed at any point resumes
without losing or repeating finished work. Duplicate points in a batch are evaluated once.

:class:`LocalEvaluator` has the same semantics in the calling process (exceptions retried and
recorded; a dying process cannot be survived there), so ``backend='local' | 'ray'``
(:func:`make_evaluator`) are interchangeable and give the same results for a deterministic ``fn``.

Ray is imported only when a :class:`RayEvaluator` is built (``pip install jaxcodesign[distributed]``).
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any, Callable, Iterator, Mapping, Sequence

from jaxcodesign.distributed.journal import Journal
from jaxcodesign.errors import ConfigError

__all__ = ["FAILED", "is_failed", "failure", "init_ray", "LocalEvaluator", "RayEvaluator",
           "make_evaluator", "BACKENDS", "PrefetchedCall", "remote_problem"]

#: key set in the result dict of an evaluation that failed after its retries
FAILED = "failed"
BACKENDS = ("local", "ray")


def is_failed(result: Mapping[str, Any]) -> bool:
  """True for the result dict of a failed evaluation."""
  return bool(result.get(FAILED, False))


def failure(error: str, attempts: int) -> dict:
  """The result dict of a failed evaluation: ``{"failed": True, "error": error, "attempts": n}``."""
  return {FAILED: True, "error": str(error), "attempts": int(attempts)}


def _error_text(exc: BaseException) -> str:
  return f"{type(exc).__name__}: {exc}"


class _JournaledBase:
  """Shared logic: keys, journal look-ups, de-duplication, ordering, ``on_result``."""

  name = "journaled"

  def __init__(self, fn: Callable[[Any], Mapping[str, Any]], *, journal=None,
               settings: Mapping[str, Any] | None = None, max_retries: int = 2,
               retry_failed: bool = False, on_result: Callable[[int, Any, dict], None] | None = None,
               name: str | None = None):
    if not callable(fn):
      raise ConfigError(f"invalid value for field 'fn': {type(fn).__name__}; allowed: a callable "
                        "fn(point) -> dict")
    if int(max_retries) < 0:
      raise ConfigError(f"invalid value for field 'max_retries': {max_retries}; allowed: >= 0")
    self.fn = fn
    self.settings = dict(settings or {})
    if journal is None or isinstance(journal, Journal):
      self.journal = journal
    else:
      self.journal = Journal(journal, self.settings)
    if self.journal is not None and settings is not None and self.journal.settings != self.settings:
      raise ConfigError("journal settings differ from the evaluator's settings; pass one of them")
    self.max_retries = int(max_retries)
    self.retry_failed = bool(retry_failed)
    self.on_result = on_result
    self.name = name or self.name
    self.calls = 0        # evaluations actually run (fn called, or Ray task submitted) here
    self.reused = 0       # answered from the journal

  # -- helpers ------------------------------------------------------------------------------------
  def _key(self, point) -> str:
    from jaxcodesign.distributed.journal import content_hash
    return self.journal.key(point) if self.journal is not None else content_hash(point,
                                                                                 self.settings)

  def _from_journal(self, key):
    if self.journal is None:
      return None
    rec = self.journal.get(key)
    if rec is None or (rec["status"] == "failed" and self.retry_failed):
      return None
    if rec["status"] == "ok":
      return dict(rec["result"])
    return failure(rec["error"], rec["attempts"])

  def _finish(self, key, point, result: dict | None, error: str | None, attempts: int,
              wall_s: float) -> dict:
    out = dict(result) if error is None else failure(error, attempts)
    if self.journal is not None:  # on disk BEFORE the search sees it
      self.journal.record(key, point, status="ok" if error is None else "failed",
                          result=result if error is None else None, error=error,
                          attempts=attempts, wall_s=wall_s)
    return out

  def _plan(self, points: Sequence) -> tuple[list, dict, dict]:
    """Keys per point, answers already known, and {key: first index} still to evaluate."""
    keys = [self._key(p) for p in points]
    known, todo = {}, {}
    for i, k in enumerate(keys):
      if k in known or k in todo:
        continue
      r = self._from_journal(k)
      if r is not None:
        known[k] = r
        self.reused += 1
      else:
        todo[k] = i
    return keys, known, todo

  def evaluate(self, points: list) -> list[dict]:
    """One result dict per point, in order (failed points: :func:`failure` dicts)."""
    points = list(points)
    out: list = [None] * len(points)
    for i, r in self.evaluate_as_completed(points):
      out[i] = r
    return out

  def evaluate_as_completed(self, points: list) -> Iterator[tuple[int, dict]]:
    """Yields ``(index, result)`` as evaluations finish (journaled first; journal hits first of all).
    Every index of ``points`` is yielded exactly once (duplicates get copies of one evaluation)."""
    points = list(points)
    keys, known, todo = self._plan(points)
    by_key: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
      by_key.setdefault(k, []).append(i)
    for k, r in known.items():
      for i in by_key[k]:
        yield self._emit(i, points[i], r)
    for k, r in self._run(points, todo):
      for i in by_key[k]:
        yield self._emit(i, points[i], r)

  def _emit(self, i, point, r):
    r = dict(r)
    if self.on_result is not None:
      self.on_result(i, point, r)
    return i, r

  def _run(self, points, todo: Mapping[str, int]) -> Iterator[tuple[str, dict]]:
    raise NotImplementedError


class LocalEvaluator(_JournaledBase):
  """The local backend: ``fn`` called in this process, one point after another, with the same
  journal, retry and failure semantics as :class:`RayEvaluator` (an exception is retried
  ``max_retries`` times, then recorded as failed; a crash of this process is not survivable here,
  but the journal still makes the re-run resume).

  Args:
    fn: ``fn(point) -> dict`` of metrics.
    journal: a :class:`Journal`, a path (``.jsonl``) or None (no journal).
    settings: what else changes a result (epochs, seed, ...); part of the journal key.
    max_retries: extra attempts after a failure (default 2).
    retry_failed: re-evaluate points journaled as failed (default False: the failure is reused).
    on_result: ``on_result(index, point, result)`` called after each result is journaled.
  """

  name = "local"

  def _run(self, points, todo):
    for k, i in todo.items():
      t0, err, res, attempts = time.perf_counter(), None, None, 0
      for attempts in range(1, self.max_retries + 2):
        self.calls += 1
        try:
          res, err = dict(self.fn(points[i])), None
          break
        except Exception as e:  # noqa: BLE001 -- recorded, never fatal (the issue's contract)
          err = _error_text(e)
      yield k, self._finish(k, points[i], res, err, attempts, time.perf_counter() - t0)


def init_ray(address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None,
             **kwargs):
  """Connects to Ray once per process: an existing cluster (``address``, e.g. ``'auto'`` or
  ``'ray://head:10001'``) or a new local instance with ``num_cpus`` / ``num_gpus``. Reuses an
  already initialised Ray. A local start that times out (an overloaded host) is retried
  ``start_attempts`` times (kwarg, default 3). Returns the ``ray`` module.

  Raises:
    ConfigError: when Ray is not installed (``pip install 'jaxcodesign[distributed]'``).
  """
  try:
    import ray
  except ImportError:  # pragma: no cover - ray is a test dependency
    raise ConfigError("backend 'ray' needs the ray package: pip install 'jaxcodesign[distributed]'") \
        from None
  if ray.is_initialized():
    return ray
  kw = dict(include_dashboard=False, logging_level="warning", log_to_driver=False)
  kw.update(kwargs)
  attempts = max(1, int(kw.pop("start_attempts", 3)))
  for attempt in range(1, attempts + 1):
    try:
      if address:
        ray.init(address=address, **kw)
      else:  # 'local': a new instance even where `ray start` left one (connect with 'auto')
        ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, **kw)
      return ray
    except Exception as e:  # noqa: BLE001
      # On an overloaded host the raylet gives up waiting (16 s, fixed in Ray) for its Python agents
      # to start; a new start usually succeeds. Clean up the half-started node before retrying.
      if "timed out during startup" not in str(e) or attempt == attempts:
        _kill_failed_session(kw.get("_temp_dir"))
        raise
      _kill_failed_session(kw.get("_temp_dir"))
      ray.shutdown()
  return ray


def _kill_failed_session(temp_dir: str | None = None) -> None:
  """Ends the processes of a local Ray node whose start failed inside ``ray.init`` (Ray leaves its
  GCS, dashboard and monitors running then). Only processes whose command line names this
  driver's own session directory (``session_<date>_<this pid>``) are signalled, by process id."""
  import glob
  import signal
  root = temp_dir or os.path.join(tempfile.gettempdir(), "ray")
  sessions = [s for s in glob.glob(os.path.join(root, f"session_*_{os.getpid()}"))]
  if not sessions or not os.path.isdir("/proc"):
    return
  names = [os.path.basename(s) for s in sessions]
  for pid_dir in glob.glob("/proc/[0-9]*"):
    try:
      pid = int(os.path.basename(pid_dir))
      with open(os.path.join(pid_dir, "cmdline"), "rb") as f:
        cmd = f.read().decode(errors="replace")
    except (OSError, ValueError):
      continue
    if pid != os.getpid() and any(n in cmd for n in names):
      try:
        os.kill(pid, signal.SIGKILL)
      except OSError:
        pass


def _run_task(fn, point):
  return dict(fn(point))


class RayEvaluator(_JournaledBase):
  """The Ray backend: each evaluation a Ray task; q points run concurrently; retried; journaled.

  Args:
    fn: picklable ``fn(point) -> dict`` (a module-level function or a picklable callable object;
      shipped once with ``ray.put``).
    journal, settings, max_retries, retry_failed, on_result: as :class:`LocalEvaluator`; retries
      are Ray's own (``max_retries`` re-runs after a worker death, and ``retry_exceptions=True``
      after an exception), so a failure is recorded with ``attempts = max_retries + 1``.
    num_cpus, num_gpus: resource request per task (Ray schedules at most as many concurrent tasks
      as the cluster has resources for).
    max_in_flight: tasks submitted at once (default: all points of the batch).
    address: an existing Ray cluster (``'auto'``, ``'ray://host:10001'``); None starts or reuses a
      local instance (``init_kwargs`` passed to ``ray.init``, e.g. ``num_cpus=2``).
    timeout_s: per-batch wall limit; tasks still running then are cancelled and recorded as failed
      (None: no limit).

  Raises:
    ConfigError: negative resources or ``max_in_flight < 1``; Ray missing.
  """

  name = "ray"

  def __init__(self, fn, *, journal=None, settings=None, max_retries: int = 2,
               retry_failed: bool = False, on_result=None, num_cpus: float = 1.0,
               num_gpus: float = 0.0, max_in_flight: int | None = None, address: str | None = None,
               init_kwargs: Mapping[str, Any] | None = None, timeout_s: float | None = None,
               name: str | None = None):
    super().__init__(fn, journal=journal, settings=settings, max_retries=max_retries,
                     retry_failed=retry_failed, on_result=on_result, name=name)
    if num_cpus < 0 or num_gpus < 0:
      raise ConfigError(f"invalid resources num_cpus={num_cpus}, num_gpus={num_gpus}; allowed: >= 0")
    if max_in_flight is not None and int(max_in_flight) < 1:
      raise ConfigError(f"invalid value for field 'max_in_flight': {max_in_flight}; allowed: >= 1")
    self.num_cpus, self.num_gpus = float(num_cpus), float(num_gpus)
    self.max_in_flight = None if max_in_flight is None else int(max_in_flight)
    self.timeout_s = timeout_s
    self._ray = init_ray(address, **dict(init_kwargs or {}))
    self._task = self._ray.remote(_run_task).options(
        num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=self.max_retries,
        retry_exceptions=True)
    self._fn_ref = self._ray.put(fn)

  def _run(self, points, todo):
    ray = self._ray
    queue = list(todo.items())
    pending: dict = {}  # ObjectRef -> (key, index, t0)
    limit = self.max_in_flight or max(1, len(queue))
    deadline = None if self.timeout_s is None else time.monotonic() + float(self.timeout_s)
    attempts = self.max_retries + 1
    while queue or pending:
      while queue and len(pending) < limit:
        k, i = queue.pop(0)
        self.calls += 1
        pending[self._task.remote(self._fn_ref, points[i])] = (k, i, time.perf_counter())
      wait = None if deadline is None else max(0.0, deadline - time.monotonic())
      done, _ = ray.wait(list(pending), num_returns=1, timeout=wait)
      if not done:  # deadline passed: cancel and record what is left
        for ref, (k, i, t0) in list(pending.items()):
          ray.cancel(ref, force=True)
          del pending[ref]
          yield k, self._finish(k, points[i], None, f"TimeoutError: not finished within "
                                f"{self.timeout_s} s", 1, time.perf_counter() - t0)
        for k, i in queue:
          yield k, self._finish(k, points[i], None, "TimeoutError: not started before the batch "
                                "deadline", 0, 0.0)
        return
      for ref in done:
        k, i, t0 = pending.pop(ref)
        try:
          res, err = ray.get(ref), None
        except ray.exceptions.RayError as e:  # RayTaskError (the task raised), WorkerCrashedError, ...
          res, err = None, _ray_error_text(e)
        yield k, self._finish(k, points[i], res, err, 1 if err is None else attempts,
                              time.perf_counter() - t0)


def _ray_error_text(e: BaseException) -> str:
  cause = getattr(e, "cause", None)
  if cause is not None and not isinstance(cause, type(e)):
    return f"{type(cause).__name__}: {cause}"
  text = str(e).strip().splitlines()
  return f"{type(e).__name__}: {text[-1] if text else ''}"


def make_evaluator(backend: str, fn: Callable[[Any], Mapping[str, Any]], **kwargs):
  """``'local'`` -> :class:`LocalEvaluator`, ``'ray'`` -> :class:`RayEvaluator` (kwargs passed on;
  Ray-only ones -- ``num_cpus``, ``num_gpus``, ``address``, ``max_in_flight``, ``init_kwargs``,
  ``timeout_s`` -- are dropped for 'local').

  Raises:
    ConfigError: unknown backend.
  """
  if backend == "local":
    for k in ("num_cpus", "num_gpus", "address", "max_in_flight", "init_kwargs", "timeout_s"):
      kwargs.pop(k, None)
    return LocalEvaluator(fn, **kwargs)
  if backend == "ray":
    return RayEvaluator(fn, **kwargs)
  raise ConfigError(f"invalid value for field 'backend': {backend!r}; allowed: {list(BACKENDS)}")


class _ArrayCall:
  """Picklable ``fn(x: list[float]) -> {"outputs": [...]}`` around ``f(np.ndarray) -> tuple of
  arrays`` (a problem's ``evaluate``)."""

  def __init__(self, f):
    self.f = f

  def __call__(self, x) -> dict:
    import numpy as np
    out = self.f(np.asarray(x, np.float64))
    return {"outputs": [np.asarray(o, np.float64).tolist() for o in out]}


class PrefetchedCall:
  """A callable ``f(x)`` whose evaluations go through an evaluator, with a batch prefetch.

  ``prefetch(xs)`` evaluates all ``xs`` concurrently (e.g. the q points of a BREATHE round on Ray);
  ``call(x)`` then returns the stored result (evaluating ``x`` alone if it was not prefetched), as
  the tuple of float64 arrays ``f`` returns.

  Raises (from ``call``):
    ConfigError: the evaluation failed after its retries (the message holds its error); the
      failure is journaled, so the launcher stops with one line and a re-run resumes.
  """

  def __init__(self, evaluator):
    self.evaluator = evaluator
    self._cache: dict[str, dict] = {}

  def _point(self, x):
    import numpy as np
    return [float(v) for v in np.asarray(x, np.float64).reshape(-1)]

  def prefetch(self, xs) -> None:
    pts = [self._point(x) for x in xs]
    todo = [p for p in pts if self.evaluator._key(p) not in self._cache]
    for p, r in zip(todo, self.evaluator.evaluate(todo)):
      self._cache[self.evaluator._key(p)] = r

  def __call__(self, x):
    import numpy as np
    p = self._point(x)
    k = self.evaluator._key(p)
    if k not in self._cache:
      self.prefetch([p])
    r = self._cache[k]
    if is_failed(r):
      raise ConfigError(f"evaluation of x={p} failed after {r['attempts']} attempt(s): "
                        f"{r['error']}")
    return tuple(np.asarray(o, np.float64) for o in r["outputs"])


def remote_problem(problem, backend: str = "ray", *, address: str | None = None, workdir=None,
                   identity=None, **kwargs):
  """A copy of a ``launch.breathe`` problem whose ``evaluate`` runs through ``backend``
  (:class:`PrefetchedCall` over :func:`make_evaluator`; journal ``workdir/ray_journal.jsonl`` keyed
  by the point and ``identity``, the problem's identity). ``evaluate.prefetch(xs)`` evaluates a
  round's points concurrently.

  Raises:
    ConfigError: unknown backend; Ray missing.
  """
  import copy
  import pathlib
  journal = pathlib.Path(workdir) / "ray_journal.jsonl" if workdir is not None else None
  ev = make_evaluator(backend, _ArrayCall(problem.evaluate), journal=journal,
                      settings={"problem": identity if identity is not None else
                                getattr(problem, "identity", None)},
                      address=address or None, **kwargs)
  out = copy.copy(problem)
  out.evaluate = PrefetchedCall(ev)
  return out
