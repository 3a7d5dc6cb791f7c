"""Accuracy oracles as Evaluators (``evaluate(points) -> list[dict]``, :mod:`jaxcodesign.evaluation`).

* :class:`TrainingOracle` trains every queried design for real (``models/train.py``) on a fixed split
  (default: scikit-learn digits) and reports ``accuracy`` = the validation accuracy of the selected
  epoch (what searches optimise), plus ``test_accuracy`` (reported only, never used for selection),
  ``params``, ``macs``, ``train_steps``, ``epochs``, ``best_epoch``, ``wall_s`` (s) and
  ``transferred`` (units initialised from a neighbour). Results are cached by the point's hash;
  each design is trained from a PRNG key derived from ``seed`` and its hash, so the result of a design
  does not depend on the order of queries (unless weight transfer is on: then the neighbour does).
* :class:`TableOracle` looks measured accuracies up in the FlexiBERT 2021 library
  (``flexibert_small/library.jsonl``: GLUE dev accuracies, fractions in [0, 1], per task); an
  unmeasured design raises :class:`jaxcodesign.errors.SpaceError`, never a made-up value.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Mapping

import jax

from jaxcodesign.errors import ConfigError, DataError, SpaceError
from jaxcodesign.models import transfer as transfer_lib
from jaxcodesign.models.cnnbench import build_cnn, cnn_cost
from jaxcodesign.models.data import Dataset, load_dataset
from jaxcodesign.models.flexibert import FlexiBERT, flexibert_param_count, model_macs
from jaxcodesign.models.train import TrainConfig, init_model, train_model
from jaxcodesign.evaluation import TableEvaluator
from jaxcodesign.spaces.graph_hash import hex_digest
from jaxcodesign.spaces.flexibert import parse_op, small_hash, to_hetero

KINDS = transfer_lib.KINDS
_LAYOUT = {"flexibert": "sequence", "cnnbench": "image"}


def point_key(point) -> str:
  """Fallback identity of a point when no space is given: sha256 of its canonical JSON."""
  return hex_digest(json.dumps(point, sort_keys=True, default=str), "sha256")


class TrainingOracle:
  """Trains each queried design on a fixed data split; an :class:`~jaxcodesign.evaluation.Evaluator`.

  Args:
    kind: 'flexibert' (points: FlexiBERT model dicts, any format accepted by ``to_hetero``; input =
      token sequences, digits: 8 tokens x 8 features) or 'cnnbench' (points: CNNBench graphs; input =
      NHWC images).
    dataset: 'digits', a path to an ``.npz`` (validated before any training) or a ``Dataset``.
    train_config: :class:`TrainConfig` or dict of its fields.
    seed: split seed (digits) and base of the per-design training keys.
    space: optional design space: ``space.validate`` and ``space.hash`` are used when given
      (recommended; otherwise the hash is the sha256 of the point's JSON).
    transfer: initialise each new design from its nearest trained neighbour (``models/transfer.py``).
    default_channels: CNNBench conv width for labels without ``-c``.

  Raises:
    ConfigError: unknown kind / invalid dataset or train config.
  """

  def __init__(self, kind: str = "cnnbench", dataset: Any = "digits", train_config=None, seed: int = 0,
               space=None, transfer: bool = False, default_channels: int | None = None):
    if kind not in KINDS:
      raise ConfigError(f"invalid value for field 'kind': {kind!r}; allowed: {list(KINDS)}")
    self.kind = kind
    self.name = f"training({kind})"
    self.seed = int(seed)
    self.space = space
    self.transfer = bool(transfer)
    self.config = TrainConfig.from_dict(train_config)
    self.data: Dataset = load_dataset(dataset, seed=self.seed, layout=_LAYOUT[kind])
    self.default_channels = default_channels
    if kind == "flexibert" and len(self.data.input_shape) != 2:
      raise ConfigError(f"dataset {self.data.name}: x shape {self.data.x_train.shape}; "
                        "expected [N, T, F] token features for kind 'flexibert'")
    if kind == "cnnbench" and len(self.data.input_shape) != 3:
      raise ConfigError(f"dataset {self.data.name}: x shape {self.data.x_train.shape}; "
                        "expected [N, H, W, C] images for kind 'cnnbench'")
    self.cache: dict[str, dict] = {}
    self._trained: list[tuple[Any, Any]] = []  # (point, variables) in training order

  def hash(self, point) -> str:
    return self.space.hash(point) if self.space is not None else point_key(point)

  def build(self, point):
    """(Flax model, params formula / infer_shapes count, macs per example) of one design."""
    if self.kind == "flexibert":
      t, f = self.data.input_shape
      model = FlexiBERT(to_hetero(point), self.data.num_classes, max_len=t)
      return model, flexibert_param_count(point, self.data.num_classes, t, input_dim=f), model_macs(point, t, f)
    kw = {} if self.default_channels is None else {"default_channels": self.default_channels}
    cost = cnn_cost(point, self.data.input_shape, self.data.num_classes, **kw)
    return build_cnn(point, self.data.num_classes, **kw), cost["params"], cost["macs"]

  def train_one(self, point) -> dict:
    """Trains one design (no cache) and returns its metric dict."""
    if self.space is not None:
      point = self.space.validate(point)
    h = self.hash(point)
    model, n_params, macs = self.build(point)
    key = jax.random.fold_in(jax.random.key(self.seed), int(hex_digest(h, "md5")[:7], 16))
    init, units = None, []
    if self.transfer and self._trained:
      idx, k = transfer_lib.nearest_neighbour(self.kind, point, [p for p, _ in self._trained])
      if idx >= 0:
        fresh = init_model(model, jax.random.split(key)[0], self.data.x_train[:1])
        init, units = transfer_lib.transfer_variables(self.kind, self._trained[idx][0], self._trained[idx][1],
                                                      point, fresh)
    r = train_model(model, self.data, self.config, key, init_variables=init, macs=macs)
    if r["params"] != n_params:  # the documented formula / infer_shapes must describe the real network
      raise AssertionError(f"parameter count {r['params']} != documented count {n_params} for {h}")
    if self.transfer:
      self._trained.append((point, r["variables"]))
    return {"accuracy": r["val_accuracy"], "val_accuracy": r["val_accuracy"],
            "test_accuracy": r["test_accuracy"], "params": r["params"], "macs": r["macs"],
            "train_steps": r["train_steps"], "epochs": r["epochs"], "best_epoch": r["best_epoch"],
            "wall_s": r["wall_s"], "transferred": units}

  def evaluate(self, points: list) -> list[dict]:
    """One metric dict per point, in order (cached by hash; duplicates are trained once)."""
    out = []
    for p in points:
      h = self.hash(p)
      if h not in self.cache:
        self.cache[h] = self.train_one(p)
      out.append(dict(self.cache[h]))
    return out


def hetero_to_small(md: Mapping) -> dict:
  """A FlexiBERT hetero dict as a 2021 small-library dict ``{l, a, h, s, f}``, where representable
  (every layer: identical ``sa_sdp``/``sa_wma`` heads, one FF width). Small dicts pass through.

  Raises:
    SpaceError: the design is not in the small library's format.
  """
  if "a" in md:
    return {k: (list(md[k]) if k != "l" else int(md[k])) for k in ("l", "a", "h", "s", "f")}
  hd = to_hetero(md)
  a, s, f = [], [], []
  for j, ops in enumerate(hd["o"]):
    kinds = {parse_op(o).kind for o in ops}
    if len(kinds) != 1 or next(iter(kinds)) not in ("sa_sdp", "sa_wma") or len(set(ops)) != 1:
      raise SpaceError(f"o[{j}]", ops, reason="the small library has only homogeneous sa_sdp / sa_wma layers")
    if len(hd["f"][j]) != 1:
      raise SpaceError(f"f[{j}]", hd["f"][j], reason="the small library has exactly one FF layer per layer")
    a.append(len(ops))
    s.append(parse_op(ops[0]).param)
    f.append(hd["f"][j][0])
  return {"l": hd["l"], "a": a, "h": list(hd["h"]), "s": s, "f": f}


class _SmallHasher:
  """``hash(point)`` for the table: a hash string passes through, dicts use ``small_hash``."""

  @staticmethod
  def hash(point) -> str:
    if isinstance(point, str):
      return point
    return small_hash(hetero_to_small(point))


class TableOracle:
  """Measured accuracy of a FlexiBERT 2021 library model for one GLUE task (an Evaluator).

  Args:
    path: the ``library.jsonl`` (default: ``paths.fixture('flexibert_small', 'library.jsonl')``).
    task: a task measured in the file ('SST-2' or 'QNLI' in the fixture).

  ``evaluate(points)``: points are small dicts ``{l, a, h, s, f}``, equivalent hetero dicts, or hash
  strings; returns ``{"accuracy": fraction in [0, 1], "task": task}``.

  Raises:
    ConfigError: missing file or a task not in the file. DataError: a row that is not JSON or an
      accuracy outside [0, 1] (e.g. in percent). SpaceError (from evaluate): a design that was
      not measured on this task (or is held back), or that is not a small-library design.
  """

  def __init__(self, path=None, task: str = "SST-2"):
    if path is None:
      from jaxcodesign.paths import fixture
      path = fixture("flexibert_small", "library.jsonl")
    p = pathlib.Path(path)
    if not p.is_file():
      raise ConfigError(f"invalid value for field 'path': {str(path)!r}; the file does not exist")
    rows = []
    for i, line in enumerate(p.read_text().splitlines(), 1):
      if line.strip():
        try:
          rows.append(json.loads(line))
        except json.JSONDecodeError as e:
          raise DataError(f"{p}: line {i}: not valid JSON ({e.msg})") from None
    tasks = sorted({t for r in rows for t in r.get("accuracy", {})})
    if task not in tasks:
      raise ConfigError(f"invalid value for field 'task': {task!r}; allowed: {tasks}")
    self.task = task
    self.name = f"table({p.name}:{task})"
    table = {}
    for i, r in enumerate(rows, 1):
      if task not in r.get("accuracy", {}):
        continue
      acc = r["accuracy"][task]
      # Accuracies are fractions: a value such as 83.1 (percent) would outrank every real fraction.
      if not isinstance(acc, (int, float)) or not (0.0 <= float(acc) <= 1.0):
        raise DataError(f"{p}: row {i} (hash {r.get('hash')!r}): field 'accuracy.{task}' = {acc!r}; "
                        "allowed: a fraction in [0, 1] (not percent)")
      table[r["hash"]] = {"accuracy": float(acc), "task": task}
    self.models = {r["hash"]: r["model_dict"] for r in rows}
    self._inner = TableEvaluator(table, _SmallHasher(), name=self.name)

  @property
  def table(self) -> dict:
    return self._inner.table

  def evaluate(self, points: list) -> list[dict]:
    return self._inner.evaluate(points)
