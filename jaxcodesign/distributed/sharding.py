"""Device-sharded sweeps: the leading (candidate / config / member / restart) axis over every device.

Cheap, vectorised work in jaxcodesign (accelerator sweeps, surrogate ensembles, GOBI restarts) is
written as ``jax.vmap`` over a leading axis inside one ``jax.jit``. To run it on all devices of a host
(or of every host), we do NOT rewrite those functions: we *place their inputs* with a
``NamedSharding(mesh, PartitionSpec('batch'))`` on a 1-D :class:`jax.sharding.Mesh` and call the
existing jitted function; XLA's sharding propagation (GSPMD) partitions the vmapped computation so
that each device computes its slice of the batch, and the outputs come back sharded the same way.

Steps, each a helper here:

1. :func:`batch_mesh` -- a 1-D mesh named ``'batch'`` over all devices (``jax.devices()``: the local
   devices of a single process, every host's devices after :func:`initialize_multihost`).
2. :func:`shard_batch` -- pad the leading axis to a multiple of the device count
   (:func:`jaxcodesign.padding.round_up` / :func:`~jaxcodesign.padding.pad_rows`, ``mode='edge'`` so
   padded rows are valid inputs) and place every leaf with :func:`batch_sharding`.
3. call the jitted function; :func:`unpad` (or :func:`to_host`) cuts the padding off again.

Applications (all results equal to the single-device call; see ``docs/scale_out.md`` for where the
equality is bitwise):

* :func:`simulate_transformer_sweep` / :func:`simulate_cnn_sweep` -- accelerator sweeps: configs axis.
* :func:`fit_surrogate_sharded` / :func:`predict_sharded` -- surrogate ensembles: members axis.
* :func:`gobi_sharded` -- GOBI: restarts axis of ``x0``.

Multi-host: :func:`initialize_multihost` wraps :func:`jax.distributed.initialize` behind a flag
(argument or ``JAXCODESIGN_MULTIHOST=1``); every process must then run the same program with the same
(full) inputs: :func:`shard_batch` builds global arrays with :func:`jax.make_array_from_callback`, each
process supplying only its own devices' rows, and :func:`to_host` gathers sharded outputs with
``multihost_utils.process_allgather``. Multi-host is documented (``launch/slurm/``), not tested here.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxcodesign.errors import ConfigError
from jaxcodesign.padding import pad_rows, round_up

__all__ = ["AXIS", "batch_mesh", "batch_sharding", "replicated", "padded_size", "shard_batch",
           "replicate", "unpad", "to_host", "is_batch_sharded", "initialize_multihost",
           "simulate_transformer_sweep", "simulate_cnn_sweep", "fit_surrogate_sharded",
           "predict_sharded", "gobi_sharded"]

#: name of the one mesh axis
AXIS = "batch"

#: environment flag that turns on :func:`initialize_multihost` when it is called without ``enabled``
MULTIHOST_ENV = "JAXCODESIGN_MULTIHOST"


# ---------------------------------------------------------------------------------------------------
# Mesh, placement, padding


def batch_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh with axis ``'batch'`` over ``devices`` (default ``jax.devices()``: all local devices
  of a single process; every process's devices after :func:`initialize_multihost`).

  Raises:
    ConfigError: for an empty device list.
  """
  devices = list(jax.devices() if devices is None else devices)
  if not devices:
    raise ConfigError("invalid value for field 'devices': []; allowed: at least one device")
  return Mesh(np.asarray(devices, dtype=object), (AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """``NamedSharding(mesh, PartitionSpec('batch'))``: the leading axis split over the mesh, every
  trailing axis replicated (valid for arrays of any rank >= 1)."""
  return NamedSharding(mesh, PartitionSpec(AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
  """``NamedSharding(mesh, PartitionSpec())``: a full copy on every device."""
  return NamedSharding(mesh, PartitionSpec())


def padded_size(n: int, mesh: Mesh, minimum: int = 1) -> int:
  """Rows after padding ``n`` (at least ``minimum``) to a multiple of the mesh's device count."""
  return round_up(max(int(n), int(minimum)), int(mesh.devices.size))


def _leading(tree) -> int:
  sizes = {int(np.shape(a)[0]) for a in jax.tree.leaves(tree) if np.ndim(a) >= 1}
  if len(sizes) != 1:
    raise ConfigError(f"invalid value for field 'batch': leading sizes {sorted(sizes)}; allowed: "
                      "every array leaf with the same number of rows (>= 1 leaf)")
  return sizes.pop()


def _place(a, sharding: NamedSharding):
  if np.ndim(a) == 0:
    return jax.device_put(a, replicated(sharding.mesh))
  if jax.process_count() == 1:
    return jax.device_put(a, sharding)
  # multi-host: every process holds the full array and contributes its own devices' rows
  host = np.asarray(a)
  return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def shard_batch(tree: Any, mesh: Mesh | None = None, size: int | None = None,
                mode: str = "edge") -> tuple[Any, int]:
  """Pads the leading axis of every array leaf and places it with :func:`batch_sharding`.

  Args:
    tree: an array ``[n, ...]`` or a pytree of them (same ``n``); 0-d leaves are replicated.
    mesh: default :func:`batch_mesh`.
    size: rows after padding (default :func:`padded_size`); must be a multiple of the device count.
    mode: :func:`jaxcodesign.padding.pad_rows` mode (``'edge'`` repeats the last row, so padded
      rows are valid inputs; ``'zeros'``).

  Returns:
    ``(sharded tree, n)``: ``jax.Array`` leaves of ``size`` rows whose ``.sharding`` splits the rows
    evenly over the mesh, and the number of real rows (for :func:`unpad`).

  Raises:
    ConfigError: leaves with different leading sizes, or ``size`` not a multiple of the devices.
  """
  mesh = batch_mesh() if mesh is None else mesh
  n = _leading(tree)
  size = padded_size(n, mesh) if size is None else int(size)
  if size % mesh.devices.size or size < n:
    raise ConfigError(f"invalid value for field 'size': {size}; allowed: a multiple of the "
                      f"{mesh.devices.size} devices >= {n} rows")
  sharding = batch_sharding(mesh)
  padded = pad_rows(jax.tree.map(lambda a: a if isinstance(a, jax.Array) else np.asarray(a), tree),
                    size, mode=mode)
  return jax.tree.map(lambda a: _place(a, sharding), padded), n


def replicate(tree: Any, mesh: Mesh | None = None) -> Any:
  """Places every leaf of ``tree`` fully replicated on the mesh (e.g. surrogate weights used by all
  GOBI restarts), so that the jitted call sees committed, mesh-consistent inputs."""
  mesh = batch_mesh() if mesh is None else mesh
  rep = replicated(mesh)
  if jax.process_count() == 1:
    return jax.tree.map(lambda a: jax.device_put(a, rep), tree)
  return jax.tree.map(lambda a: jax.make_array_from_callback(
      np.shape(a), rep, lambda idx, h=np.asarray(a): h[idx]), tree)


def unpad(tree: Any, n: int) -> Any:
  """The first ``n`` rows of every array leaf (0-d leaves unchanged); stays on device."""
  return jax.tree.map(lambda a: a if np.ndim(a) == 0 else a[:n], tree)


def to_host(tree: Any, n: int | None = None) -> Any:
  """NumPy copy of a (sharded) result, cut to ``n`` rows; gathers across processes when the arrays
  are not fully addressable (multi-host)."""
  def one(a):
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
      from jax.experimental import multihost_utils
      a = multihost_utils.process_allgather(a, tiled=True)
    a = np.asarray(a)
    return a if (n is None or a.ndim == 0) else a[:n]
  return jax.tree.map(one, tree)


def is_batch_sharded(a, n_devices: int | None = None) -> bool:
  """True when ``a`` is a ``jax.Array`` whose leading axis is split over ``n_devices`` distinct
  devices (default: all devices), each holding ``rows / n_devices`` rows (not a replicated copy)."""
  if not isinstance(a, jax.Array) or a.ndim == 0:
    return False
  n_devices = len(jax.devices()) if n_devices is None else int(n_devices)
  shards = a.addressable_shards if jax.process_count() == 1 else a.global_shards
  devices = {s.device for s in shards}
  rows = {s.data.shape[0] if s.data is not None else None for s in shards}
  if n_devices == 1:
    return len(devices) == 1
  return (len(devices) == n_devices and rows == {a.shape[0] // n_devices}
          and not a.sharding.is_fully_replicated)


def initialize_multihost(enabled: bool | None = None, coordinator_address: str | None = None,
                         num_processes: int | None = None, process_id: int | None = None,
                         local_device_ids: Sequence[int] | None = None) -> bool:
  """Joins a multi-host JAX job (``jax.distributed.initialize``) when enabled.

  Args:
    enabled: True / False; None reads the environment flag ``JAXCODESIGN_MULTIHOST`` (``1``/``true``).
    coordinator_address, num_processes, process_id, local_device_ids: passed on; left None, JAX
      detects them on SLURM, Open MPI, Cloud TPU and Kubernetes (see ``launch/slurm/jax_multihost.sbatch``).

  Returns:
    True if this call initialised the distributed runtime (afterwards ``jax.devices()`` lists every
    host's devices and :func:`batch_mesh` spans them), False when disabled or already initialised.

  Call it before any other JAX call in the process (JAX's own requirement).
  """
  if enabled is None:
    enabled = os.environ.get(MULTIHOST_ENV, "").strip().lower() in ("1", "true", "yes")
  if not enabled:
    return False
  if jax.distributed.is_initialized():
    return False
  kw = dict(coordinator_address=coordinator_address, num_processes=num_processes,
            process_id=process_id, local_device_ids=local_device_ids)
  jax.distributed.initialize(**{k: v for k, v in kw.items() if v is not None})
  return True


# ---------------------------------------------------------------------------------------------------
# Accelerator sweeps (configs axis)


def simulate_transformer_sweep(model_dict, configs: Sequence[Mapping[str, Any]], *, sparsity=None,
                               seq_len: int | None = None, batch_size: int | None = None,
                               space=None, op_table=None, vocab_size: int | None = None,
                               mesh: Mesh | None = None) -> tuple[dict, int]:
  """One transformer on ``n`` AccelTran / ELECTOR configs, the configs axis sharded over all local
  devices, through the hardware model's own jitted batch function
  (:func:`jaxcodesign.hardware.acceltran.simulate_batch` with ``shard=True``, which places the config
  arrays on a mesh over ``jax.local_devices()``).

  Args: as :func:`jaxcodesign.hardware.api.simulate_transformer` (``sparsity`` None = dense, as
    there); ``mesh`` only decides the device count used for padding (the model's own
    mesh spans the local devices).

  Returns:
    ``(out, n)``: the :func:`acceltran.simulate_one` dict with a leading axis of ``n_pad`` rows
    (``n_pad`` = the config bucket rounded up to a multiple of the devices) still SHARDED on the
    devices, and ``n``, the number of real configs. Cut with :func:`unpad` / :func:`to_host`. Values equal
    :func:`api.simulate_transformer`'s for the real rows (float32 math per config, no cross-config
    reduction: bitwise; tested in ``tests/test_sharding.py``).

  Raises:
    SpaceError / ConfigError as ``simulate_transformer``.
  """
  from jaxcodesign.hardware import acceltran as A
  from jaxcodesign.hardware import api
  from jaxcodesign.hardware import workload as W
  configs = list(configs)
  if not configs:
    raise ConfigError("configs: an empty list; give at least one accelerator config")
  ndev = len(jax.local_devices()) if mesh is None else int(mesh.devices.size)
  table = op_table if op_table is not None else W.lower_transformer(
      api.resolve_model(model_dict), seq_len=W.DEFAULT_SEQ_LEN if seq_len is None else seq_len,
      batch_size=batch_size, vocab_size=W.VOCAB_SIZE if vocab_size is None else vocab_size)
  arrays = A.config_arrays(configs, space=space)
  n = len(configs)
  size = round_up(A.config_bucket(n), ndev)
  cfg = pad_rows(arrays, size)
  # per-config sparsities ([n] or [n, n_ops], the api's rule: leading size n) are padded like configs
  s_a, s_w = (pad_rows(np.asarray(s, np.float32), size)
              if s is not None and np.ndim(s) >= 1 and np.shape(s)[0] == n and n > 1 else s
              for s in api.sparsity_pair(sparsity))
  out = A.simulate_batch(table, cfg, s_a, s_w, shard=ndev > 1)
  return dict(out), n


_cnn_jit_cache: dict = {}


def _cnn_jit():
  if "fn" not in _cnn_jit_cache:
    from jaxcodesign.hardware import accelbench
    _cnn_jit_cache["fn"] = jax.jit(accelbench.simulate_batch,
                                   static_argnames=("activations", "table_batch",
                                                    "im2col_power_scale"))
  return _cnn_jit_cache["fn"]


def simulate_cnn_sweep(op_table, config_arrays: Mapping[str, Any], sparsity=None,
                       im2col_power_scale: float | None = None, mesh: Mesh | None = None
                       ) -> tuple[dict, int]:
  """One CNN on ``n`` AccelBench configs, the configs axis sharded over the mesh: the pure batch
  model :func:`jaxcodesign.hardware.accelbench.simulate_batch`, jitted, called with inputs placed by
  :func:`shard_batch` (op table replicated).

  Args:
    op_table: ``cnn_workload.lower_cnn`` output; config_arrays: ``cnn_config_arrays`` output ([n]
      per key); sparsity: as ``accelbench.sparsity_arrays`` (default dense); im2col_power_scale:
      default ``accelbench.IM2COL_POWER_SCALE``; mesh: default :func:`batch_mesh`.

  Returns:
    ``(out, n)``: dict of arrays with ``round_up(n, devices)`` rows, SHARDED over the mesh, and the
    number of real configs. Equal to :func:`accelbench.simulate_cnn_arrays` on the real rows:
    bitwise in cycles, latency, area and fits; energies (float32 sums over the ops, which XLA
    vectorises by the per-device batch) to ~1 ulp (tested: relative difference <= 1e-6).

  Raises:
    ConfigError: missing config keys or bad sparsity.
  """
  from jaxcodesign.hardware import accelbench
  mesh = batch_mesh() if mesh is None else mesh
  missing = [k for k in accelbench.CONFIG_KEYS if k not in config_arrays]
  if missing:
    raise ConfigError(f"config_arrays: missing keys {missing}; required: {list(accelbench.CONFIG_KEYS)}")
  cfg = {k: np.asarray(config_arrays[k], np.float32) for k in accelbench.CONFIG_KEYS}
  n = _leading(cfg)
  sp = accelbench.sparsity_arrays(sparsity, n)
  (cfg_s, sp_s), _ = shard_batch((cfg, sp), mesh)
  scale = accelbench.IM2COL_POWER_SCALE if im2col_power_scale is None else im2col_power_scale
  out = _cnn_jit()(replicate(op_table.arrays(), mesh), cfg_s, sp_s,
                   activations=tuple(op_table.activations) or ("relu",),
                   table_batch=int(op_table.batch_size), im2col_power_scale=float(scale))
  return dict(out), n


# ---------------------------------------------------------------------------------------------------
# Surrogate ensembles (members axis)


def fit_surrogate_sharded(key: jax.Array, x, y, config=None, mesh: Mesh | None = None):
  """:func:`jaxcodesign.surrogates.fit_surrogate` with the ensemble-members axis sharded.

  The members are padded to a multiple of the devices (``n_members`` rounded up), their initial
  parameters are built exactly as ``fit_surrogate`` builds them (``vmap`` of the member init over
  ``split(kinit, M)``; with ``jax_threefry_partitionable`` the first ``M`` keys of a longer split are
  the same keys) and placed member-sharded, then passed to ``fit_surrogate`` as ``init`` (which uses
  the same ``kfit`` split): the vmapped, early-stopped training loop then runs each member on its own
  device. Padded members are dropped from the returned state (a member's loop freezes once it has
  stopped, so extra members do not change the real ones).

  Returns:
    a :class:`SurrogateState` with ``config.n_members`` members, equal to
    ``fit_surrogate(key, x, y, config)``: bitwise through a 1-device mesh; on 8 devices to ~1e-6
    (XLA:CPU picks its matmul kernel by the batch a device sees: 8 members vs 1 per device round
    differently; no cross-member reduction in training). Its ``params`` stay sharded over the devices when
    ``n_members`` is a multiple of the device count.

  Raises:
    ConfigError: as ``fit_surrogate``.
  """
  from jaxcodesign.surrogates import surrogate as S
  config = S.SurrogateConfig() if config is None else config
  mesh = batch_mesh() if mesh is None else mesh
  m = config.n_members
  m_pad = padded_size(m, mesh)
  cfg_pad = dataclasses.replace(config, n_members=m_pad)
  xa, _, split = S._prepare_x(x, config)
  if S._is_graph(xa):
    n_real = int(np.asarray(y).reshape(-1).shape[0])
    sample_x, _ = S._pad_graphs(xa, n_real, config.min_bucket)
    width = 1
  else:
    sample_x = np.zeros((1, xa.shape[1]), np.float32)
    width = xa.shape[1]
  kinit, _ = jax.random.split(key)
  # the same (eager, vmapped) member init as fit_surrogate, then placed member-sharded
  params = jax.vmap(lambda k: S._init_member(k, cfg_pad, split, sample_x))(
      jax.random.split(kinit, m_pad))
  params, _ = shard_batch(params, mesh, size=m_pad)
  zeros = jnp.zeros((width,), jnp.float32)
  init = S.SurrogateState(params=params, x_shift=zeros, x_scale=zeros + 1, y_shift=jnp.float32(0),
                          y_scale=jnp.float32(1), n_train=jnp.int32(0),
                          epochs=jnp.zeros((m_pad,), jnp.int32),
                          val_loss=jnp.zeros((m_pad, 3), jnp.float32), config=cfg_pad, split=split)
  state = S.fit_surrogate(key, x, y, cfg_pad, init=init)
  if m_pad == m:
    return state.replace(config=config)
  return state.replace(params=unpad(state.params, m), epochs=state.epochs[:m],
                       val_loss=state.val_loss[:m], config=config)


def predict_sharded(state, x, mesh: Mesh | None = None):
  """:func:`jaxcodesign.surrogates.predict` with the state's member axis sharded (members must be a
  multiple of the devices, else the state is used as it is).

  Equality: the member average is a cross-device reduction (all-reduce), whose float32 summation
  order may differ from the single-device sum: equal to ~1 ulp, not guaranteed bitwise.
  """
  from jaxcodesign.surrogates import surrogate as S
  mesh = batch_mesh() if mesh is None else mesh
  if state.config.n_members % mesh.devices.size == 0:
    params, _ = shard_batch(state.params, mesh, size=state.config.n_members)
    state = state.replace(params=params)
  return S.predict(state, x)


# ---------------------------------------------------------------------------------------------------
# GOBI (restarts axis)


def gobi_sharded(key: jax.Array, acq: Callable, x0, lower, upper, config=None,
                 mesh: Mesh | None = None):
  """:func:`jaxcodesign.search.gobi.gobi` with the K restarts sharded over the mesh.

  ``x0`` is padded (edge rows) to a multiple of the devices and placed with :func:`batch_sharding`;
  the acquisition's pytree (surrogate weights) is replicated. ``gobi`` splits its key into one key
  per restart; with ``jax_threefry_partitionable`` (JAX's default) the first K keys of a longer split
  are unchanged, and a restart's loop freezes once it has converged, so padded restarts do not change
  the real ones.

  Returns:
    ``GOBIResult(x[K, d], value[K], steps[K])``, cut to the K real restarts (still on device; sharded
    when K is a multiple of the devices). Equal to ``gobi``: bitwise through a 1-device mesh; sharded over 8
    devices to ~1 ulp per step (the per-device batch changes XLA:CPU's matmul kernel: even on one
    device ``gobi(x[:1])`` and ``gobi(x[:8])[0]`` differ by 1 ulp); the same steps.
  """
  from jaxcodesign.search import gobi as G
  config = G.GOBIConfig() if config is None else config
  mesh = batch_mesh() if mesh is None else mesh
  x0 = np.asarray(x0, np.float32)
  if x0.ndim != 2:
    raise ConfigError(f"gobi: x0 must be float32[K, d], got shape {x0.shape}")
  x0s, k = shard_batch(x0, mesh)
  if isinstance(acq, jax.tree_util.Partial):
    acq = replicate(acq, mesh)
  res = G.gobi(key, acq, x0s, lower, upper, config)
  return G.GOBIResult(*unpad(tuple(res), k))
