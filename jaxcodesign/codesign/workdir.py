"""Work directories that are safe to re-use: a settings record, resume accounting, one result cache.

Layout of a co-design work directory (all names below are ours; nothing else is touched)::

  workdir.json        experiment name + fingerprint of every setting that changes results
  evaluations.jsonl   THE result cache: one row per evaluated (network, accelerator) pair
  progress.jsonl      one row per (method, pair) evaluation, for "resuming: N of M" and the bar
  checkpoints/<m>/    orbax checkpoints of method m's search loop (resume of a killed run)
  results.json        deterministic results (same command + seed -> same bytes, same machine)
  timings.json        wall-clock times (not deterministic, hence not in results.json)
  plots/*.png

Rules (:func:`prepare`):

* the fingerprint is the full flattened config (every field changes some result), the package
  version and the versions of jax, jaxlib, flax, optax, orbax-checkpoint and numpy;
* re-using a directory whose record differs stops with :class:`WorkdirMismatch` naming each differing
  field with both values, unless ``overwrite=True``: then our files are moved aside into
  ``<workdir>/overwritten-<UTC time>/`` (nothing is deleted; other files stay where they are);
* a directory holding our files but no record (written by an older version) is refused the same way;
* the directory must be writable: checked by writing a probe file before any expensive work.

The cache key of a pair (:func:`cache_salt` + model hash + accelerator JSON) contains everything
that changes its metrics, so a cache row can never answer for other settings even if copied.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import pathlib
import shutil
from typing import Any

import ml_collections

from jaxcodesign.codesign.config import flatten
from jaxcodesign.errors import ConfigError

__all__ = ["DEFAULT_ROOT", "OUR_FILES", "WorkdirMismatch", "default_workdir", "versions",
           "data_hashes", "fingerprint", "diff", "check_writable", "prepare", "cache_salt", "Progress"]

#: Root of the default work directories (one per experiment name).
DEFAULT_ROOT = pathlib.Path(os.environ.get("JAXCODESIGN_WORKDIR_ROOT", "/tmp/jaxcodesign"))
RECORD = "workdir.json"
OUR_FILES = (RECORD, "evaluations.jsonl", "progress.jsonl", "checkpoints", "results.json",
             "timings.json", "plots")
#: Packages whose versions can change a result (numerics, training, checkpoint format).
VERSIONED = ("jaxcodesign", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")
FORMAT = 1


class WorkdirMismatch(ConfigError):
  """The work directory holds a run with other settings (the message names the fields)."""


def default_workdir(name: str) -> pathlib.Path:
  """``/tmp/jaxcodesign/<experiment name>`` (root overridable with ``JAXCODESIGN_WORKDIR_ROOT``)."""
  safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name)) or "codesign"
  return DEFAULT_ROOT / safe


def versions() -> dict[str, str | None]:
  """Installed versions of :data:`VERSIONED` (None when not installed)."""
  import importlib.metadata as md
  out = {}
  for pkg in VERSIONED:
    try:
      out[pkg] = md.version(pkg)
    except md.PackageNotFoundError:
      out[pkg] = None
  return out


def data_hashes(cfg: ml_collections.ConfigDict) -> dict[str, str]:
  """``{field: sha256 of the file's bytes}`` for every config field naming a data file that
  changes results: ``oracle.dataset`` (an .npz), ``oracle.table_path`` and, for
  ``hw_space='devices'``, ``hw_space_kwargs.measurements`` (``''`` = the ProTran fixture). A path
  alone is not enough: the same path with other contents must not reuse results. Fields naming no
  existing file are left out (building the experiment reports them)."""
  files = {}
  o = cfg.get("oracle", {})
  for field in ("dataset", "table_path"):
    v = o.get(field, "") if o else ""
    if isinstance(v, str) and v and pathlib.Path(v).is_file():
      files[f"oracle.{field}"] = pathlib.Path(v)
  if cfg.get("hw_space") == "devices":
    from jaxcodesign.edgetran.cosearch import measurements_path
    try:
      files["hw_space_kwargs.measurements"] = measurements_path(
          cfg.hw_space_kwargs.get("measurements", ""))
    except ConfigError:
      pass
  out = {}
  for field, path in sorted(files.items()):
    h = hashlib.sha256()
    with open(path, "rb") as f:
      for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
    out[field] = h.hexdigest()
  return out


def fingerprint(cfg: ml_collections.ConfigDict) -> dict[str, Any]:
  """The settings record of ``cfg``: ``{"format", "experiment", "config": {dotted: value},
  "versions": {...}}`` plus ``"data"`` (:func:`data_hashes`) when the config names data files
  (JSON-normalised, so it compares equal to its own round trip)."""
  from jaxcodesign.codesign.backends import FIELDS as _where  # where trainings run: no result
  rec = {"format": FORMAT, "experiment": str(cfg.name),
         "config": {k: v for k, v in flatten(cfg).items() if k not in _where},
         "versions": versions()}
  data = data_hashes(cfg)
  if data:
    rec["data"] = data
  return json.loads(json.dumps(rec, sort_keys=True, default=str))


def diff(old: dict, new: dict) -> list[str]:
  """``'field (workdir: a, now: b)'`` for every differing field of two records."""
  out = []
  if old.get("experiment") != new.get("experiment"):
    out.append(f"experiment (workdir: {old.get('experiment')!r}, now: {new.get('experiment')!r})")
  for group, prefix in (("config", ""), ("versions", "version of "), ("data", "content of ")):
    a, b = old.get(group, {}) or {}, new.get(group, {}) or {}
    for k in sorted(set(a) | set(b)):
      if a.get(k, "<absent>") != b.get(k, "<absent>"):
        out.append(f"{prefix}{k} (workdir: {a.get(k, '<absent>')!r}, now: {b.get(k, '<absent>')!r})")
  if old.get("format") != new.get("format"):
    out.append(f"record format (workdir: {old.get('format')!r}, now: {new.get('format')!r})")
  return out


def check_writable(path: pathlib.Path) -> None:
  """Creates ``path`` (and parents) and writes / removes a probe file.

  Raises:
    ConfigError: naming the directory, when it cannot be created or written.
  """
  path = pathlib.Path(path)
  try:
    if path.exists() and not path.is_dir():
      raise ConfigError(f"invalid value for field 'workdir': {str(path)!r} exists and is not a "
                        "directory")
    path.mkdir(parents=True, exist_ok=True)
    probe = path / f".write-probe-{os.getpid()}"
    probe.write_text("ok")
    probe.unlink()
  except OSError as e:
    raise ConfigError(f"invalid value for field 'workdir': {str(path)!r} is not writable "
                      f"({e.strerror or e}); choose another --workdir") from None


def _ours(path: pathlib.Path) -> list[pathlib.Path]:
  return [path / n for n in OUR_FILES if (path / n).exists()]


def _move_aside(path: pathlib.Path) -> pathlib.Path | None:
  found = _ours(path)
  if not found:
    return None
  stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
  dest = path / f"overwritten-{stamp}"
  dest.mkdir()
  for p in found:
    shutil.move(str(p), str(dest / p.name))
  return dest


def prepare(path, cfg: ml_collections.ConfigDict, overwrite: bool = False) -> dict[str, Any]:
  """Checks (and claims) the work directory ``path`` for ``cfg``; returns the settings record.

  Raises:
    ConfigError: the directory is not writable.
    WorkdirMismatch: it holds a run with other settings (or one without a record) and
      ``overwrite`` is False.
  """
  path = pathlib.Path(path)
  check_writable(path)
  rec = fingerprint(cfg)
  rec_path = path / RECORD
  if overwrite:
    moved = _move_aside(path)
    if moved is not None:
      print(f"overwrite: moved the previous run's files to {moved}")
  elif rec_path.exists():
    try:
      old = json.loads(rec_path.read_text())
    except json.JSONDecodeError:
      raise WorkdirMismatch(f"workdir {str(path)!r}: {RECORD} is not valid JSON; use --overwrite to "
                            "start afresh (the old files are moved aside)") from None
    d = diff(old, rec)
    if d:
      raise WorkdirMismatch(
          f"workdir {str(path)!r} holds a run of {old.get('experiment')!r} with other settings: "
          + "; ".join(d) + ". Re-run with the same settings to resume, use --overwrite to start "
          "afresh (the old files are moved aside), or choose another --workdir")
    return rec
  elif _ours(path):
    raise WorkdirMismatch(
        f"workdir {str(path)!r} holds co-design files ({', '.join(p.name for p in _ours(path))}) "
        f"but no {RECORD} settings record (an older version wrote them), so they cannot be checked; "
        "use --overwrite to start afresh (the old files are moved aside), or choose another --workdir")
  tmp = rec_path.with_suffix(".tmp")
  tmp.write_text(json.dumps(rec, indent=1, sort_keys=True))
  tmp.replace(rec_path)
  return rec


def cache_salt(cfg: ml_collections.ConfigDict) -> str:
  """sha256 of every setting that changes the metrics of one (network, accelerator) pair: the
  model and accelerator spaces (they define hashes and validation), the oracle (data, training
  settings, table), the accelerator-model settings, the seed (training keys), the versions and the
  contents of the data files the config names (:func:`data_hashes`).
  The objective and the search settings are not in it: they change which pairs are chosen, not the
  metrics of a pair."""
  c = cfg.to_dict()
  key = {k: c.get(k) for k in ("model_space", "model_space_kwargs", "hw_space", "hw_space_kwargs",
                               "oracle", "hw", "seed")}
  key["versions"] = versions()
  data = data_hashes(cfg)
  if data:  # (absent when no data file is named, so older caches stay valid)
    key["data"] = data
  text = json.dumps(key, sort_keys=True, default=str)
  return hashlib.sha256(text.encode()).hexdigest()[:16]


class Progress:
  """``progress.jsonl``: which (method, pair) evaluations exist, and their performance.

  ``found(methods)`` counts them; :meth:`add` appends a new one (returns False for one already
  recorded, e.g. a cached evaluation replayed after a restart).
  """

  def __init__(self, path: pathlib.Path | None):
    self.path = pathlib.Path(path) / "progress.jsonl" if path is not None else None
    self.rows: dict[tuple[str, str], float] = {}
    if self.path is not None and self.path.exists():
      for line in self.path.read_text().splitlines():
        if line.strip():
          try:
            r = json.loads(line)
          except json.JSONDecodeError:  # a line cut by a kill: the evaluation is in the cache anyway
            continue
          self.rows[(r["method"], r["key"])] = float(r["performance"])

  def found(self, methods) -> int:
    return sum(1 for (m, _) in self.rows if m in methods)

  def best(self, method: str) -> float:
    vals = [v for (m, _), v in self.rows.items() if m == method]
    return max(vals) if vals else float("-inf")

  def add(self, method: str, key: str, performance: float) -> bool:
    if (method, key) in self.rows:
      return False
    self.rows[(method, key)] = float(performance)
    if self.path is not None:
      with open(self.path, "a") as f:
        f.write(json.dumps({"method": method, "key": key, "performance": float(performance)}) + "\n")
    return True
