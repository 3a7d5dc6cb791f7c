"""jaxcodesign.problems: benchmark problems for multi-objective search.

* :mod:`jaxcodesign.problems.synthetic`: vector test problems as JAX functions with BoTorch's
  reference points and maximum hypervolumes (BraninCurrin, ZDT1-3, DTLZ2, VehicleSafety, C2-DTLZ2,
  DiscBrake).
* :mod:`jaxcodesign.problems.nas_bench_graph`: NAS-Bench-Graph (Qin et al., NeurIPS 2022 Datasets
  and Benchmarks) table look-ups, single- and bi-objective, on all nine datasets.
* :mod:`jaxcodesign.problems.space_graph`: the project's own graph spaces (CNNBench, FlexiBERT) as
  G-BREATHE problems over a growing pool of legal points, with the user's objectives.
"""

from jaxcodesign.problems.synthetic import (PROBLEMS, Problem, evaluate_batch, get_problem)

__all__ = ["Problem", "PROBLEMS", "get_problem", "evaluate_batch"]
