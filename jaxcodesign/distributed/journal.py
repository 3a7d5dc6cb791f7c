"""Append-only evaluation journal: every finished evaluation on disk before the search uses it.

One JSON object per line (JSONL), written with ``flush`` + ``os.fsync`` before :meth:`Journal.record`
returns, so a driver killed at ANY point (SIGKILL, node loss) loses at most the evaluations that had
not finished. Re-running with the same journal answers every journaled point from it and evaluates
only the rest: nothing finished is repeated, nothing is lost.

A record is keyed by :func:`content_hash` of ``{"point": point, "settings": settings}``: the point
AND everything else that changes its result (training epochs, seed, dataset, simulator options), so
a result is reused only when all of it is identical. Records::

  {"key": str, "status": "ok" | "failed", "result": {...} | null, "error": str | null,
   "attempts": int, "wall_s": float, "point": ..., "time": unix s}

A torn last line (the process died inside ``write``) is cut off on load (a complete record that
only lacks its newline is kept), so the next record starts on a fresh line; a later record with the same key replaces an earlier one (e.g. a failed evaluation
retried on purpose with ``retry_failed=True``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import threading
import time
from typing import Any, Iterator, Mapping

import numpy as np

from jaxcodesign.errors import ConfigError, DataError

__all__ = ["canonical_json", "content_hash", "Journal"]


def _plain(obj: Any) -> Any:
  """JSON-able copy: NumPy / JAX arrays and scalars to lists / Python numbers, tuples to lists."""
  if isinstance(obj, Mapping):
    return {str(k): _plain(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [_plain(v) for v in obj]
  if isinstance(obj, (np.generic,)):
    return obj.item()
  if hasattr(obj, "__array__") and not isinstance(obj, (str, bytes)):
    return _plain(np.asarray(obj).tolist())
  if isinstance(obj, float) and not np.isfinite(obj):
    return repr(obj)  # 'nan' / 'inf': JSON has no literal for them
  return obj


def canonical_json(obj: Any) -> str:
  """Deterministic JSON text of ``obj`` (sorted keys, no whitespace, arrays as lists)."""
  return json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"))


def content_hash(point: Any, settings: Mapping[str, Any] | None = None) -> str:
  """sha256 hex digest of the canonical JSON of ``{"point": point, "settings": settings}``.

  Raises:
    ConfigError: when the point or settings are not JSON-serialisable (name the offending type).
  """
  try:
    text = canonical_json({"point": point, "settings": dict(settings or {})})
  except TypeError as e:
    raise ConfigError(f"invalid value for field 'point': not JSON-serialisable ({e}); allowed: "
                      "dicts, lists, numbers, strings, NumPy arrays") from None
  return hashlib.sha256(text.encode()).hexdigest()


class Journal:
  """An append-only JSONL journal of finished evaluations (thread-safe appends).

  Args:
    path: the ``.jsonl`` file (created with its parent directories; an existing one is loaded).
    settings: everything besides the point that changes a result; part of every key.

  Raises:
    ConfigError: if ``path`` is a directory or its parent cannot be created / written.
    DataError: a line other than the last one that is not a journal record.
  """

  def __init__(self, path, settings: Mapping[str, Any] | None = None):
    self.path = pathlib.Path(path)
    self.settings = dict(settings or {})
    if self.path.is_dir():
      raise ConfigError(f"invalid value for field 'journal': {str(self.path)!r} is a directory; "
                        "allowed: a file path")
    try:
      self.path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
      raise ConfigError(f"invalid value for field 'journal': cannot create {self.path.parent} ({e})")
    if not os.access(self.path.parent, os.W_OK):
      raise ConfigError(f"invalid value for field 'journal': {self.path.parent} is not writable")
    self._lock = threading.Lock()
    self._records: dict[str, dict] = {}
    self._torn = False
    if self.path.exists():
      self._load()

  def _load(self):
    data = self.path.read_bytes()
    end = data.rfind(b"\n") + 1
    lines = data[:end].decode("utf-8").split("\n")
    tail = data[end:]
    for i, line in enumerate(lines):
      if not line.strip():
        continue
      try:
        rec = json.loads(line)
        if not isinstance(rec, dict) or "key" not in rec or "status" not in rec:
          raise ValueError("not a record")
      except ValueError:
        raise DataError(f"{self.path}: line {i + 1}: not a journal record (field 'key'/'status')") \
            from None
      self._records[rec["key"]] = rec
    if tail:
      # a write torn by a killed process (no newline yet): complete JSON is kept, anything else is
      # cut off so that the next record starts on a fresh line
      try:
        rec = json.loads(tail)
        if isinstance(rec, dict) and "key" in rec and "status" in rec:
          self._records[rec["key"]] = rec
          self._torn = True  # complete record, newline missing
          return
      except ValueError:
        pass
      os.truncate(self.path, end)

  def key(self, point: Any) -> str:
    """:func:`content_hash` of the point with this journal's settings."""
    return content_hash(point, self.settings)

  def get(self, key: str) -> dict | None:
    """The latest record for ``key`` (a copy), or None."""
    rec = self._records.get(key)
    return None if rec is None else json.loads(json.dumps(rec))

  def __contains__(self, key: str) -> bool:
    return key in self._records

  def __len__(self) -> int:
    return len(self._records)

  def records(self) -> Iterator[dict]:
    """Latest record per key, in first-journaled order."""
    return iter([json.loads(json.dumps(r)) for r in self._records.values()])

  def record(self, key: str, point: Any, *, status: str, result: Mapping[str, Any] | None = None,
             error: str | None = None, attempts: int = 1, wall_s: float | None = None) -> dict:
    """Appends one record and fsyncs it to disk before returning it.

    Raises:
      ConfigError: unknown ``status`` (allowed 'ok', 'failed').
    """
    if status not in ("ok", "failed"):
      raise ConfigError(f"invalid value for field 'status': {status!r}; allowed: ['ok', 'failed']")
    rec = {"key": key, "status": status, "result": None if result is None else _plain(dict(result)),
           "error": error, "attempts": int(attempts),
           "wall_s": None if wall_s is None else float(wall_s), "point": _plain(point),
           "time": time.time()}
    line = json.dumps(rec, sort_keys=True) + "\n"
    with self._lock:
      with open(self.path, "a", encoding="utf-8") as f:
        if self._torn:
          f.write("\n")  # start after the torn line, never glued onto it
          self._torn = False
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
      self._records[key] = rec
    return json.loads(line)
