"""Iterated neighbourhood (Weisfeiler-Lehman style) graph hash of the original tools.

Reproduces, bit for bit, the hashes of CNNBench, the 2021 FlexiBERT library and FlexiBERT 1.0/2.0
(``docs/graph_hashes.md`` (FlexiBERT, JAIR 2023; CODEBench, ACM TECS 2023), section 2). The value depends only on the labelled graph, not on
the vertex numbering; it is not a canonical form (collisions are possible in principle).
"""

from __future__ import annotations

import hashlib
from typing import Callable, Sequence

import numpy as np

HASH_FUNCTIONS = {"md5": hashlib.md5, "sha256": hashlib.sha256}


def hex_digest(text: str, algo: str = "md5") -> str:
  """Lower-case hex digest of the UTF-8 bytes of ``text`` under ``algo`` ('md5' or 'sha256')."""
  if algo not in HASH_FUNCTIONS:
    raise ValueError(f"invalid value for field 'algo': {algo!r}; allowed: {sorted(HASH_FUNCTIONS)}")
  return HASH_FUNCTIONS[algo](text.encode("utf-8")).hexdigest()


def wl_hash(adjacency, labels: Sequence[str], algo: str = "md5", rounds: int | None = None) -> str:
  """Iterated neighbourhood hash ``WL(A, labels, H, R)`` of ``docs/graph_hashes.md`` section 2.

  Args:
    adjacency: [V, V] 0/1 matrix, ``A[v, w] = 1`` for an edge v -> w (any integer array-like).
    labels: V text labels (used via ``repr``, i.e. Python's ``str`` quoting).
    algo: 'md5' or 'sha256'.
    rounds: number of synchronous rounds R; defaults to V.

  Returns:
    The hex fingerprint (32 characters for md5, 64 for sha256).

  Raises:
    ValueError: if the matrix is not square or does not match the number of labels.
  """
  a = np.asarray(adjacency, dtype=np.int64)
  if a.ndim != 2 or a.shape[0] != a.shape[1]:
    raise ValueError(f"invalid value for field 'adjacency': shape {a.shape}; allowed: a square [V, V] matrix")
  v = a.shape[0]
  if len(labels) != v:
    raise ValueError(f"invalid value for field 'labels': {len(labels)} labels; allowed: exactly V={v}")
  r = v if rounds is None else int(rounds)
  out_deg = a.sum(axis=1)
  in_deg = a.sum(axis=0)
  x = [hex_digest(f"({int(out_deg[i])}, {int(in_deg[i])}, {labels[i]!r})", algo) for i in range(v)]
  ins = [np.nonzero(a[:, i])[0] for i in range(v)]
  outs = [np.nonzero(a[i, :])[0] for i in range(v)]
  for _ in range(r):
    x = [
        hex_digest(
            "".join(sorted(x[w] for w in ins[i])) + "|" + "".join(sorted(x[w] for w in outs[i])) + "|" + x[i],
            algo,
        )
        for i in range(v)
    ]
  return hex_digest(str(sorted(x)), algo)
