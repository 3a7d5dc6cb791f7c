"""NAS-Bench-Graph as a search problem (table look-ups; single- and bi-objective; all 9 datasets).

NAS-Bench-Graph (Qin et al., "NAS-Bench-Graph: Benchmarking Graph Neural Architecture Search",
NeurIPS 2022 Datasets and Benchmarks; PyPI ``nas-bench-graph``, whose wheel ships the tables) holds
the trained GNN accuracies and latencies of 26,206 architectures per dataset (2,021 on proteins, with
five operations). An architecture is a DAG of four operation nodes: ``link[i]`` is the input of node
``i + 1`` (0 = the graph input, j = node j), one of the package's 9 canonical ``link_list`` patterns,
and ``ops[i]`` one of ``gnn_list`` (``gnn_list_proteins`` for proteins). Many (link, ops) pairs are the
same network: the table is keyed by the package's own canonicaliser ``Arch(link, ops).valid_hash()``
(skip operations merge up to 25 graphs into one key). We never canonicalise by hand: every proposal
is forced legal by that function, and the candidate set is the canonical decode of the table's keys
(``hash_arch``'s base-10 digits), checked to hash back to the same key.

Objectives (all minimised): ``'accuracy'`` -> ``1 - valid_perf`` (the validation accuracy; search
never sees ``perf``, the test accuracy); ``'accuracy_latency'`` -> ``(1 - valid_perf, latency)`` with
the MEDIAN reference point ``(1 - median valid_perf, median latency)`` over the table (with the
``(1, max latency)`` reference, random search already reaches 0.81-0.99 of the table's HV).
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from jaxcodesign.errors import ConfigError

__all__ = ["DATASETS", "NasBenchGraph", "load_table"]

DATASETS = ("cora", "citeseer", "pubmed", "arxiv", "cs", "physics", "photo", "computers", "proteins")


@functools.lru_cache(maxsize=None)
def load_table(dataset: str) -> dict:
  """The package's light table ``{key: {'valid_perf', 'perf', 'latency', 'para'}}``.

  Raises:
    ConfigError: unknown dataset.
  """
  if dataset not in DATASETS:
    raise ConfigError(f"invalid value for field 'dataset': {dataset!r}; allowed: {list(DATASETS)}")
  from nas_bench_graph import light_read
  return light_read(dataset)


class NasBenchGraph:
  """One dataset's table as a typed-graph search problem.

  Attributes:
    dataset, ops (allowed operation names), links (the 9 link patterns).
    keys: int64[N] canonical keys; link_idx int[N]; op_idx int[N, 4] (indices into ``ops``) -- the
      canonical decode of every table entry.
    valid_perf, perf, latency: float64[N] table values (accuracy in [0, 1], latency in s).
  """

  def __init__(self, dataset: str):
    import nas_bench_graph as nbg
    self.dataset = dataset
    table = load_table(dataset)
    self._arch = nbg.Arch
    self.links = [list(l) for l in nbg.link_list]
    self.gnn_list = list(nbg.gnn_list)  # hash digits index this list (valid_hash's default base)
    self.ops = list(nbg.gnn_list_proteins) if dataset == "proteins" else list(nbg.gnn_list)
    keys = np.array(sorted(table), np.int64)
    self.keys = keys
    digits = np.stack([(keys // 10 ** (3 - i)) % 10 for i in range(4)], 1)
    self.link_idx = (keys // 10 ** 4).astype(int)
    names = np.array(self.gnn_list)[digits]
    self.op_idx = np.vectorize(self.ops.index)(names)
    self.valid_perf = np.array([float(table[k]["valid_perf"]) for k in keys])
    self.perf = np.array([float(table[k]["perf"]) for k in keys])
    self.latency = np.array([float(table[k]["latency"]) for k in keys])
    self._row = {int(k): i for i, k in enumerate(keys)}

  @property
  def size(self) -> int:
    return int(self.keys.shape[0])

  def canonical(self, link_idx: int, op_idx: Sequence[int]) -> int | None:
    """Row of the table holding ``(link, ops)`` via ``Arch.valid_hash`` (None: not in the table)."""
    a = self._arch(list(self.links[int(link_idx)]), [self.ops[int(o)] for o in op_idx])
    return self._row.get(int(a.valid_hash()))

  def objectives(self, rows, kind: str = "accuracy") -> np.ndarray:
    """float64[n, m] minimised objectives of table rows (see the module docstring)."""
    rows = np.asarray(rows, int)
    if kind == "accuracy":
      return (1.0 - self.valid_perf[rows])[:, None]
    if kind == "accuracy_latency":
      return np.stack([1.0 - self.valid_perf[rows], self.latency[rows]], 1)
    raise ConfigError(f"invalid value for field 'objective': {kind!r}; allowed: ['accuracy', "
                      "'accuracy_latency']")

  def reference(self, kind: str = "accuracy_latency") -> np.ndarray:
    """The median reference point (1 - median valid_perf, median latency)."""
    return np.array([1.0 - np.median(self.valid_perf), np.median(self.latency)])

  def features(self, rows) -> np.ndarray:
    """float32[n, 9 + 4 * len(ops)] one-hot (link pattern, op per node) of table rows."""
    rows = np.asarray(rows, int)
    k = len(self.ops)
    f = np.zeros((rows.shape[0], len(self.links) + 4 * k), np.float32)
    f[np.arange(len(rows)), self.link_idx[rows]] = 1.0
    for i in range(4):
      f[np.arange(len(rows)), len(self.links) + i * k + self.op_idx[rows, i]] = 1.0
    return f

  def graphs(self, rows):
    """A ``jraph.GraphsTuple`` of the rows' DAGs: nodes = [input, 4 ops, output] with one-hot
    types (input, each op, output); edges ``link[i] -> i + 1`` and every unused node -> output."""
    import jraph
    rows = np.asarray(rows, int)
    k = len(self.ops)
    nodes, snd, rcv, n_node, n_edge = [], [], [], [], []
    off = 0
    for r in rows:
      link = self.links[self.link_idx[r]]
      t = np.zeros((6, k + 2), np.float32)
      t[0, k] = 1.0
      t[5, k + 1] = 1.0
      for i in range(4):
        t[i + 1, self.op_idx[r, i]] = 1.0
      s = [link[i] for i in range(4)]
      d = [i + 1 for i in range(4)]
      used = set(link)
      for j in range(1, 5):
        if j not in used:
          s.append(j), d.append(5)
      nodes.append(t)
      snd.extend(off + np.asarray(s)), rcv.extend(off + np.asarray(d))
      n_node.append(6), n_edge.append(len(s))
      off += 6
    return jraph.GraphsTuple(nodes=np.concatenate(nodes), edges=None,
                             senders=np.asarray(snd, np.int32), receivers=np.asarray(rcv, np.int32),
                             n_node=np.asarray(n_node, np.int32), n_edge=np.asarray(n_edge, np.int32),
                             globals=None)

  def mutate(self, rng: np.random.Generator, row: int) -> int | None:
    """One random change (an operation of one node, or the link pattern), forced legal by the
    package's canonicaliser; None when the result is not in the table."""
    link, ops = int(self.link_idx[row]), list(self.op_idx[row])
    if rng.random() < 0.2:
      link = int(rng.integers(len(self.links)))
    else:
      ops[int(rng.integers(4))] = int(rng.integers(len(self.ops)))
    return self.canonical(link, ops)

  def crossover(self, rng: np.random.Generator, a: int, b: int) -> int | None:
    """Uniform crossover of two rows' operations; the link pattern of one parent."""
    link = int(self.link_idx[a] if rng.random() < 0.5 else self.link_idx[b])
    pick = rng.random(4) < 0.5
    ops = np.where(pick, self.op_idx[a], self.op_idx[b])
    return self.canonical(link, ops)
