"""Orbax checkpoints of a whole search-loop state (dataset, surrogate, PRNG key, counters).

One checkpoint step per round, written with ``orbax.checkpoint.CheckpointManager`` (keeping the last
``keep`` steps) as a composite of

* ``arrays``: a flat dict of arrays (``StandardSave``): the loop key's raw data and every leaf of the
  surrogate state (parameters and optimiser states) as ``leaf_00000``, ...;
* ``meta``: JSON (``JsonSave``): the dataset (JSON-able points, metric dicts, performances), counters,
  the pickled (base64) tree structure of the surrogate state and the Python type of every leaf, so the
  restored state is the same pytree with the same leaf types (Python ints stay ints, typed PRNG keys
  stay keys).

The tree structure is pickled, so restoring needs the surrogate's state classes to be importable (they
are module-level classes of :mod:`jaxcodesign.surrogates`).
"""

from __future__ import annotations

import base64
import pathlib
import pickle
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp


def _encode_tree(tree) -> tuple[dict, dict]:
  leaves, treedef = jax.tree_util.tree_flatten(tree)
  arrays, kinds, scalars = {}, [], {}
  for i, leaf in enumerate(leaves):
    name = f"leaf_{i:05d}"
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      arrays[name] = np.asarray(jax.random.key_data(leaf))
      kinds.append(["key", str(jax.random.key_impl(leaf))])
    elif isinstance(leaf, (bool, int, float, str)) or leaf is None:
      scalars[name] = leaf
      kinds.append([type(leaf).__name__, None])
    else:
      arrays[name] = np.asarray(leaf)
      kinds.append(["array", None])
  meta = {"treedef": base64.b64encode(pickle.dumps(treedef)).decode("ascii"), "kinds": kinds,
          "scalars": scalars, "n": len(leaves)}
  return arrays, meta


def _decode_tree(arrays: dict, meta: dict):
  treedef = pickle.loads(base64.b64decode(meta["treedef"]))
  leaves = []
  for i, (kind, impl) in enumerate(meta["kinds"]):
    name = f"leaf_{i:05d}"
    if kind == "key":
      leaves.append(jax.random.wrap_key_data(jax.numpy.asarray(arrays[name]), impl=impl))
    elif kind == "array":
      leaves.append(jax.numpy.asarray(arrays[name]))
    else:
      leaves.append(meta["scalars"][name])
  return jax.tree_util.tree_unflatten(treedef, leaves)


class LoopCheckpointer:
  """Saves / restores ``(key, surrogate_state, meta)`` per round under ``directory``.

  Args:
    directory: work directory (created); checkpoints live in ``directory/checkpoints``.
    keep: number of most recent steps kept.
  """

  def __init__(self, directory, keep: int = 3):
    self.directory = pathlib.Path(directory).resolve() / "checkpoints"
    self.directory.mkdir(parents=True, exist_ok=True)
    self.manager = ocp.CheckpointManager(
        self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, key, surrogate_state: Any, meta: dict) -> None:
    """Writes step ``step`` synchronously (the loop continues only after it is on disk)."""
    arrays, tree_meta = _encode_tree(surrogate_state)
    arrays = {"surrogate": arrays, "key": np.asarray(jax.random.key_data(key))}
    full_meta = dict(meta, _surrogate_tree=tree_meta,
                     _key_impl=str(jax.random.key_impl(key)) if _is_typed_key(key) else None)
    self.manager.save(step, args=ocp.args.Composite(arrays=ocp.args.StandardSave(arrays),
                                                    meta=ocp.args.JsonSave(full_meta)))
    self.manager.wait_until_finished()

  def restore(self, step: int | None = None) -> tuple[Any, Any, dict] | None:
    """``(key, surrogate_state, meta)`` of ``step`` (default latest), or None if none saved."""
    step = self.latest_step() if step is None else step
    if step is None:
      return None
    out = self.manager.restore(step, args=ocp.args.Composite(arrays=ocp.args.StandardRestore(),
                                                             meta=ocp.args.JsonRestore()))
    arrays, meta = out["arrays"], dict(out["meta"])
    key_data = jax.numpy.asarray(np.asarray(arrays["key"]))
    impl = meta.pop("_key_impl")
    key = jax.random.wrap_key_data(key_data, impl=impl) if impl else key_data.astype(jax.numpy.uint32)
    state = _decode_tree(arrays.get("surrogate", {}) or {}, meta.pop("_surrogate_tree"))
    return key, state, meta

  def close(self):
    self.manager.close()


def _is_typed_key(key) -> bool:
  return isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
