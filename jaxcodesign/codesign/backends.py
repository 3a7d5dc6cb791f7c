"""Where co-design's expensive evaluations run: ``cfg.backend = 'local' | 'ray'``.

The accuracy oracle (a training run per candidate network) is the expensive half of a co-design
evaluation; the accelerator half is a vectorised model call and stays in the driver. With
``backend='ray'`` the oracle is wrapped in :class:`RayOracle`: every candidate network is trained as
a Ray task (:class:`jaxcodesign.distributed.ray_backend.RayEvaluator`, resources
``ray_num_cpus`` / ``ray_num_gpus`` per task), the networks of one batch (the initial design, a
random-search batch, q proposals) train concurrently, a task that raises or whose worker dies is
retried ``ray_max_retries`` times, and every finished training is journaled in
``WORKDIR/ray_journal.jsonl`` (fsync, keyed by the network and :func:`workdir.cache_salt`) before
the search uses it, so a killed driver resumes without repeating finished trainings.

Config fields (:data:`FIELDS`, added to ``base_config`` by :func:`add_fields`):

* ``backend``: ``'local'`` (default: the oracle runs in this process, exactly as before) or ``'ray'``;
* ``ray_address``: ``''`` = start / reuse a local Ray instance; else an existing cluster
  (``'auto'``, ``'HOST:6379'``, ``'ray://HOST:10001'``; see ``launch/slurm/ray_cluster.sbatch``);
* ``ray_num_cpus``, ``ray_num_gpus``: resources of one training task;
* ``ray_max_retries``: re-runs after an exception or a dead worker.

Failure policy: a training that still fails after its retries is NOT dropped: its metrics carry
``failed: True``, ``failure`` (the exception; ``error`` stays the metric 1 - accuracy) and
``attempts``, with ``accuracy = 0.0`` (below any real
classifier), so it is recorded in ``results.json``, never chosen while any evaluation succeeded, and
the search steers away from it instead of stopping.

These fields do not change any result (``workdir.cache_salt`` ignores them), only where the
trainings run. Weight transfer (``oracle.weight_transfer``) needs the weights of earlier trainings
in one process and is refused with ``backend='ray'``.
"""

from __future__ import annotations

import pathlib
from typing import Any, Mapping

from jaxcodesign.errors import ConfigError

__all__ = ["FIELDS", "FIELD_HELP", "BACKENDS", "FAILED_ACCURACY", "add_fields", "validate",
           "RayOracle", "wrap_oracle", "JOURNAL"]

BACKENDS = ("local", "ray")
#: accuracy given to a training that failed after its retries (flagged ``failed: True``)
FAILED_ACCURACY = 0.0
#: journal file inside the work directory
JOURNAL = "ray_journal.jsonl"

FIELDS: dict[str, Any] = {"backend": "local", "ray_address": "", "ray_num_cpus": 1.0,
                          "ray_num_gpus": 0.0, "ray_max_retries": 2}

FIELD_HELP: dict[str, str] = {
    "backend": "where trainings run: local (this process) | ray (one Ray task per network, "
               "concurrent, retried, journaled; docs/scale_out.md)",
    "ray_address": "Ray cluster for backend=ray: '' = local instance, 'auto', HOST:6379 or "
                   "ray://HOST:10001",
    "ray_num_cpus": "CPUs requested by one training task (backend=ray)",
    "ray_num_gpus": "GPUs requested by one training task (backend=ray)",
    "ray_max_retries": "re-runs of a training that raised or whose worker died (backend=ray)",
}


def add_fields(cfg) -> None:
  """Adds the backend fields with their defaults to ``cfg`` (an ``ml_collections.ConfigDict``)
  where they are missing."""
  for k, v in FIELDS.items():
    if k not in cfg:
      setattr(cfg, k, v)


def validate(cfg) -> None:
  """Raises ConfigError (naming the field and the allowed values) for bad backend settings."""
  backend = cfg.get("backend", "local")
  if backend not in BACKENDS:
    raise ConfigError(f"invalid value for field 'backend': {backend!r}; allowed: {list(BACKENDS)}")
  for f in ("ray_num_cpus", "ray_num_gpus"):
    if not float(cfg.get(f, 0.0)) >= 0:
      raise ConfigError(f"invalid value for field {f!r}: {cfg.get(f)!r}; allowed: >= 0")
  if int(cfg.get("ray_max_retries", 0)) < 0:
    raise ConfigError(f"invalid value for field 'ray_max_retries': {cfg.get('ray_max_retries')!r}; "
                      "allowed: >= 0")
  if backend == "ray" and cfg.get("oracle") is not None and bool(
      cfg.oracle.get("weight_transfer", False)):
    raise ConfigError("invalid value for field 'oracle.weight_transfer': True with backend 'ray'; "
                      "allowed: False (transfer needs earlier trainings' weights in one process)")


class _OracleTask:
  """Picklable ``fn(model) -> metric dict``: one training by the wrapped oracle (in a Ray worker)."""

  def __init__(self, oracle):
    self.oracle = oracle

  def __call__(self, model) -> dict:
    return dict(self.oracle.evaluate([model])[0])


class RayOracle:
  """An accuracy oracle whose trainings run as Ray tasks (an Evaluator over networks).

  Args:
    oracle: the local oracle (``models.oracles.TrainingOracle``; shipped to the workers, so it
      must be picklable).
    journal: path of the journal (None: no journal).
    settings: everything besides the network that changes its metrics (``cache_salt``).
    address, num_cpus, num_gpus, max_retries: see :class:`RayEvaluator`.
    init_kwargs: passed to ``ray.init`` for a local instance.

  ``evaluate(models)`` returns one metric dict per model, in order; the new models of one call are
  trained concurrently. :meth:`prefetch` trains a batch ahead of the per-pair calls of
  ``PairEvaluator``.
  """

  def __init__(self, oracle, *, journal=None, settings: Mapping[str, Any] | None = None,
               address: str | None = None, num_cpus: float = 1.0, num_gpus: float = 0.0,
               max_retries: int = 2, init_kwargs: Mapping[str, Any] | None = None):
    from jaxcodesign.distributed.ray_backend import RayEvaluator
    self.inner = oracle
    self.name = f"ray({getattr(oracle, 'name', 'oracle')})"
    self.evaluator = RayEvaluator(_OracleTask(oracle), journal=journal, settings=settings,
                                  max_retries=max_retries, num_cpus=num_cpus, num_gpus=num_gpus,
                                  address=address or None, init_kwargs=init_kwargs,
                                  name=self.name)
    self._cache: dict[str, dict] = {}

  def __getattr__(self, name):  # table / training attributes (models, table, data, ...) of the oracle
    if name == "inner":
      raise AttributeError(name)
    return getattr(self.inner, name)

  def _key(self, model) -> str:
    return self.evaluator._key(model)

  def evaluate(self, models: list) -> list[dict]:
    from jaxcodesign.distributed.ray_backend import is_failed
    models = list(models)
    keys = [self._key(m) for m in models]
    todo, seen = [], set()
    for m, k in zip(models, keys):
      if k not in self._cache and k not in seen:
        todo.append((k, m))
        seen.add(k)
    if todo:
      for (k, _), r in zip(todo, self.evaluator.evaluate([m for _, m in todo])):
        if is_failed(r):
          r = {"accuracy": FAILED_ACCURACY, "failed": True, "error": r["error"],
               "attempts": r["attempts"]}
        self._cache[k] = r
    return [dict(self._cache[k]) for k in keys]

  def prefetch(self, models: list) -> None:
    """Trains the not yet known ``models`` concurrently (results kept for :meth:`evaluate`)."""
    self.evaluate(models)


def wrap_oracle(cfg, oracle, workdir=None):
  """The oracle for ``cfg.backend``: unchanged for ``'local'``, a :class:`RayOracle` for ``'ray'``
  (journal ``workdir/ray_journal.jsonl`` when a work directory is given).

  Raises:
    ConfigError: invalid backend settings (:func:`validate`); Ray not installed.
  """
  validate(cfg)
  if cfg.get("backend", "local") == "local":
    return oracle
  from jaxcodesign.codesign import workdir as workdir_lib
  journal = pathlib.Path(workdir) / JOURNAL if workdir is not None else None
  return RayOracle(oracle, journal=journal, settings={"salt": workdir_lib.cache_salt(cfg)},
                   address=str(cfg.get("ray_address", "")) or None,
                   num_cpus=float(cfg.get("ray_num_cpus", 1.0)),
                   num_gpus=float(cfg.get("ray_num_gpus", 0.0)),
                   max_retries=int(cfg.get("ray_max_retries", 2)))
