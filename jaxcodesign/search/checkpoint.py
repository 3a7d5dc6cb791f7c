"""Orbax checkpoints of a whole search-loop state (dataset, surrogate, PRNG key, counters).

One checkpoint step per round, written with ``orbax.checkpoint.CheckpointManager`` (keeping the last
``keep`` steps) as a composite of

* ``arrays`` (``StandardSave``): ``{"key": raw key data uint32[...], "surrogate": the surrogate
  state pytree}`` (parameters, optimiser states, normalisers), stored by orbax itself;
* ``meta`` (``JsonSave``): the dataset (JSON-able points, metric dicts, performances), counters,
  the PRNG implementation name of the loop key and whether a surrogate state was saved.

Restoring never unpickles anything: the caller gives an *abstract target* (a pytree of
``jax.ShapeDtypeStruct`` with the surrogate state's structure, e.g. from ``jax.eval_shape`` of the
fit function on the restored dataset), and orbax restores the arrays into it
(``StandardRestore(target)``), so the state comes back as the same pytree type with the same
static fields. Typed PRNG keys are re-wrapped with ``jax.random.wrap_key_data`` and their
implementation name.
"""

from __future__ import annotations

import pathlib
from typing import Any, Callable

import jax
import numpy as np
import orbax.checkpoint as ocp

__all__ = ["LoopCheckpointer"]


def _is_typed_key(key) -> bool:
  return isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)


def _abstract(tree):
  """A ShapeDtypeStruct pytree (leaves that are already abstract pass through)."""
  def leaf(x):
    if isinstance(x, jax.ShapeDtypeStruct):
      return x
    a = np.asarray(x)
    return jax.ShapeDtypeStruct(a.shape, a.dtype)
  return jax.tree.map(leaf, tree)


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
        self.directory, item_names=("arrays", "meta"),
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, key, surrogate_state: Any, meta: dict) -> None:
    """Writes step ``step`` synchronously (the loop continues only after it is on disk)."""
    typed = _is_typed_key(key)
    arrays = {"key": np.asarray(jax.random.key_data(key) if typed else key)}
    if surrogate_state is not None:
      arrays["surrogate"] = surrogate_state
    full_meta = dict(meta, _key_impl=str(jax.random.key_impl(key)) if typed else None,
                     _key_shape=list(arrays["key"].shape), _key_dtype=str(arrays["key"].dtype),
                     _has_surrogate=surrogate_state is not None)
    self.manager.save(step, args=ocp.args.Composite(arrays=ocp.args.StandardSave(arrays),
                                                    meta=ocp.args.JsonSave(full_meta)))
    self.manager.wait_until_finished()

  def restore_meta(self, step: int | None = None) -> dict | None:
    """The JSON part of ``step`` (default latest), or None if none saved."""
    step = self.latest_step() if step is None else step
    if step is None:
      return None
    out = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
    return dict(out["meta"])

  def restore(self, target_fn: Callable[[dict], Any] | None = None, step: int | None = None
              ) -> tuple[Any, Any, dict] | None:
    """``(key, surrogate_state, meta)`` of ``step`` (default latest), or None if none saved.

    Args:
      target_fn: ``target_fn(meta, key) -> abstract surrogate state`` (ShapeDtypeStructs, or a
        concrete state of the same structure); ``key`` is a template key of the saved key's type
        (typed or raw uint32), for tracing the fit with the loop's key type. Needed when a
        surrogate state was saved.
      step: the step (default latest).

    Raises:
      ValueError: a surrogate state was saved but no ``target_fn`` given.
    """
    step = self.latest_step() if step is None else step
    if step is None:
      return None
    meta = self.restore_meta(step)
    impl = meta.pop("_key_impl", None)
    has_surrogate = bool(meta.pop("_has_surrogate", False))
    shape, dtype = tuple(meta.pop("_key_shape")), np.dtype(meta.pop("_key_dtype"))
    target = {"key": jax.ShapeDtypeStruct(shape, dtype)}
    if has_surrogate:
      if target_fn is None:
        raise ValueError("this checkpoint holds a surrogate state: give target_fn(meta, key) -> its "
                         "abstract structure")
      zeros = jax.numpy.zeros(shape, dtype)
      template_key = jax.random.wrap_key_data(zeros, impl=impl) if impl else zeros
      target["surrogate"] = _abstract(target_fn(meta, template_key))
    out = self.manager.restore(step, args=ocp.args.Composite(
        arrays=ocp.args.StandardRestore(target)))["arrays"]
    key_data = jax.numpy.asarray(np.asarray(out["key"]))
    key = jax.random.wrap_key_data(key_data, impl=impl) if impl else key_data
    state = None
    if has_surrogate:  # uncommitted device arrays, so that jitted consumers see one signature
      state = jax.tree.map(lambda a: jax.numpy.asarray(np.asarray(a)), out["surrogate"])
    return key, state, meta

  def close(self):
    self.manager.close()
