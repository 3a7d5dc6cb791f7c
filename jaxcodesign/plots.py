"""Matplotlib figures of co-design and search results (Agg backend, PNG files).

One place for the project's plots: convergence of the best objective versus queries (curves from
:func:`jaxcodesign.search.baselines.best_so_far`), Pareto fronts of trade-offs, and per-module
utilisation of an accelerator.

Hardware axes are per inference (latency per inference in s, energy per inference in J), so that
accelerators of different batch sizes are comparable (:data:`PARETO_LABELS`).
"""

from __future__ import annotations

import pathlib
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

#: Axis labels of the co-design Pareto plot, in the order of ``codesign.PARETO_METRICS``.
PARETO_LABELS = ("validation error", "latency per inference (s)", "energy per inference (J)",
                 "area (mm^2)")


def _save(fig, path) -> pathlib.Path:
  """Writes ``fig`` as a PNG at ``path`` (parents created) and closes it."""
  fig.tight_layout()
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def plot_convergence(curves: Mapping[str, Sequence[float]], path, ylabel="best objective so far",
                     title=None, stderr: Mapping[str, Sequence[float]] | None = None) -> pathlib.Path:
  """Plots one best-so-far curve per method against the number of queries (1-based)."""
  fig, ax = plt.subplots(figsize=(6, 4))
  for name, ys in curves.items():
    ys = np.asarray(ys, dtype=np.float64)
    xs = np.arange(1, len(ys) + 1)
    ax.plot(xs, ys, label=name, lw=2 if name == "codesign" else 1.3)
    if stderr and name in stderr:
      se = np.asarray(stderr[name], dtype=np.float64)
      ax.fill_between(xs, ys - se, ys + se, alpha=0.2)
  ax.set_xlabel("queries (evaluations)")
  ax.set_ylabel(ylabel)
  if title:
    ax.set_title(title)
  ax.grid(alpha=0.3)
  ax.legend()
  return _save(fig, path)


def plot_pareto(points: np.ndarray, front_mask: np.ndarray, labels: Sequence[str], path,
                chosen: int | None = None, title=None, groups: Sequence[str] | None = None) -> pathlib.Path:
  """Pairwise scatter of a [n, m] objective matrix, Pareto-optimal points highlighted.

  Args:
    points: float[n, m] objective values (all minimised, e.g. error, latency, energy, area).
    front_mask: bool[n], True for points on the Pareto front.
    labels: m axis labels (with units).
    chosen: index of the chosen point, drawn as a star.
    groups: optional method name per point (coloured separately).
  """
  points = np.asarray(points, dtype=np.float64)
  m = points.shape[1]
  pairs = [(0, j) for j in range(1, m)] or [(0, 0)]
  fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 3.8), squeeze=False)
  group_names = sorted(set(groups)) if groups is not None else [None]
  for ax, (i, j) in zip(axes[0], pairs):
    for g in group_names:
      sel = np.ones(len(points), bool) if g is None else np.array([x == g for x in groups])
      ax.scatter(points[sel, j], points[sel, i], s=14, alpha=0.5, label=g)
    f = np.asarray(front_mask, bool)
    ax.scatter(points[f, j], points[f, i], s=40, facecolors="none", edgecolors="k", label="Pareto set")
    if chosen is not None:
      ax.scatter(points[chosen, j], points[chosen, i], marker="*", s=200, c="red", label="chosen")
    ax.set_xlabel(labels[j])
    ax.set_ylabel(labels[i])
    if np.all(points[:, j] > 0) and points[:, j].max() / max(points[:, j].min(), 1e-300) > 50:
      ax.set_xscale("log")
    ax.grid(alpha=0.3)
  axes[0][-1].legend(fontsize=7)
  if title:
    fig.suptitle(title)
  return _save(fig, path)


def plot_utilisation(utilisation: Mapping[str, float], path, title=None) -> pathlib.Path:
  """Horizontal bar chart of per-module utilisation fractions (0..1) of one accelerator run."""
  names = list(utilisation)
  vals = [float(utilisation[k]) for k in names]
  fig, ax = plt.subplots(figsize=(6, 0.4 * len(names) + 1.2))
  ax.barh(names, vals, color="tab:blue")
  ax.set_xlim(0, max(1.0, max(vals, default=0) * 1.05))
  ax.set_xlabel("utilisation (fraction of cycles busy)")
  if title:
    ax.set_title(title)
  ax.grid(alpha=0.3, axis="x")
  return _save(fig, path)
