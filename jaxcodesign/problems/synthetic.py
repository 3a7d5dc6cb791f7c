"""Multi-objective test problems as JAX functions, with BoTorch's reference points and maximum HV.

Every problem minimises all objectives; constraints are feasible when ``g(x) <= 0`` (BoTorch's slack
``s(x) >= 0`` is shipped as ``g = -s``). Definitions, reference points and maximum hypervolumes are
those of BoTorch's ``botorch/test_functions/multi_objective.py`` (github.com/pytorch/botorch, read at
commit e390e135c5327f832275d69ac485d7844e68e234, Oct 2025), which cite:

* BraninCurrin: Belakaria et al., "Max-value entropy search for multi-objective Bayesian
  optimization", NeurIPS 2019 (Branin rescaled to [0, 1]^2 and Currin's exponential function);
  ``_ref_point = [18, 6]``, ``_max_hv = 59.36011874867746`` ("approximated using NSGA-II").
* ZDT1-3: Zitzler, Deb & Thiele, Evolutionary Computation 8(2), 2000; ``_ref_point = [11, 11]``
  (from Yang et al. 2019), ``_max_hv`` = 120 + 2/3, 120 + 1/3, 128.77811613069076.
* DTLZ2: Deb et al., "Scalable test problems for evolutionary multiobjective optimization", 2005;
  ``_ref_point = [1.1] * M``, ``_max_hv = 1.1^M - pi^(M/2) / Gamma(M/2 + 1) / 2^M``.
* VehicleSafety: Tanabe & Ishibuchi, Applied Soft Computing 89, 2020;
  ``_ref_point = [1864.72022, 11.81993945, 0.2903999384]``, ``_max_hv = 246.81607081187002``.
* C2-DTLZ2: Jain & Deb, IEEE TEVC 18(4), 2014 (r = 0.2); ``_max_hv = 0.3996406303723544`` for M = 2
  ("approximate from nsga-ii").
* DiscBrake: Tanabe & Ishibuchi 2020 (RE3-4-? "disc brake design"); ``_ref_point = [5.7771, 3.9651]``
  (BoTorch ships no maximum hypervolume for it).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import jax.numpy as jnp
import numpy as np
from scipy.special import gamma

from jaxcodesign.errors import ConfigError

__all__ = ["Problem", "PROBLEMS", "get_problem", "branin_currin", "zdt1", "zdt2", "zdt3", "dtlz2",
           "vehicle_safety", "c2dtlz2", "disc_brake"]


@dataclasses.dataclass(frozen=True)
class Problem:
  """A box-bounded multi-objective problem (all objectives minimised).

  Attributes:
    name: registry name.
    bounds: float64[d, 2] ``[low, high]`` per input dimension.
    ref_point: float64[m] hypervolume reference point (objective units).
    evaluate: ``f(x: float[d]) -> float[m]``, a JAX-traceable function (vmap it for batches).
    constraints: ``g(x: float[d]) -> float[k]`` (feasible when all ``<= 0``) or None.
    max_hv: the maximum hypervolume w.r.t. ``ref_point`` (None when unknown).
    integers: indices of input dimensions that take integer values.
    source: where the definition, reference point and maximum hypervolume come from.
  """
  name: str
  bounds: np.ndarray
  ref_point: np.ndarray
  evaluate: Callable
  constraints: Callable | None = None
  max_hv: float | None = None
  integers: tuple[int, ...] = ()
  source: str = ""

  @property
  def dim(self) -> int:
    return int(self.bounds.shape[0])

  @property
  def num_objectives(self) -> int:
    return int(self.ref_point.shape[0])

  @property
  def num_constraints(self) -> int:
    if self.constraints is None:
      return 0
    return int(np.asarray(self.constraints(jnp.asarray(self.bounds.mean(1)))).shape[0])


_BOTORCH = "botorch/test_functions/multi_objective.py (BoTorch, commit e390e135)"


def _branin(x0, x1):
  # BoTorch synthetic.Branin on [-5, 10] x [0, 15]
  t1 = x1 - 5.1 / (4 * math.pi ** 2) * x0 ** 2 + 5 / math.pi * x0 - 6
  t2 = 10 * (1 - 1 / (8 * math.pi)) * jnp.cos(x0)
  return t1 ** 2 + t2 + 10


def _branin_currin(x):
  b = _branin(15 * x[0] - 5, 15 * x[1])
  x0, x1 = x[0], x[1]
  factor1 = 1 - jnp.exp(-1 / (2 * x1))
  numer = 2300 * x0 ** 3 + 1900 * x0 ** 2 + 2092 * x0 + 60
  denom = 100 * x0 ** 3 + 500 * x0 ** 2 + 4 * x0 + 20
  return jnp.stack([b, factor1 * numer / denom])


def branin_currin() -> Problem:
  """BraninCurrin (d = 2, m = 2) on [0, 1]^2. Currin is undefined at ``x1 = 0`` (as in BoTorch)."""
  return Problem("branin_currin", np.array([[0.0, 1.0]] * 2), np.array([18.0, 6.0]),
                 _branin_currin, max_hv=59.36011874867746, source=_BOTORCH)


def _zdt_g(x):
  return 1 + 9 * jnp.mean(x[1:])


def _zdt1(x):
  g = _zdt_g(x)
  return jnp.stack([x[0], g * (1 - jnp.sqrt(x[0] / g))])


def _zdt2(x):
  g = _zdt_g(x)
  return jnp.stack([x[0], g * (1 - (x[0] / g) ** 2)])


def _zdt3(x):
  g = _zdt_g(x)
  return jnp.stack([x[0], 1 - jnp.sqrt(x[0] / g) - x[0] / g * jnp.sin(10 * math.pi * x[0])])


def zdt1(dim: int = 6) -> Problem:
  """ZDT1 on [0, 1]^dim (m = 2); convex front ``f1 = 1 - sqrt(f0)``."""
  return Problem("zdt1", np.array([[0.0, 1.0]] * dim), np.array([11.0, 11.0]), _zdt1,
                 max_hv=120 + 2 / 3, source=_BOTORCH)


def zdt2(dim: int = 6) -> Problem:
  """ZDT2 on [0, 1]^dim (m = 2); concave front ``f1 = 1 - f0^2``."""
  return Problem("zdt2", np.array([[0.0, 1.0]] * dim), np.array([11.0, 11.0]), _zdt2,
                 max_hv=120 + 1 / 3, source=_BOTORCH)


def zdt3(dim: int = 6) -> Problem:
  """ZDT3 on [0, 1]^dim (m = 2); disconnected front."""
  return Problem("zdt3", np.array([[0.0, 1.0]] * dim), np.array([11.0, 11.0]), _zdt3,
                 max_hv=128.77811613069076, source=_BOTORCH)


def _dtlz2_fn(m: int):
  def f(x):
    xm = x[m - 1:]
    g1 = 1 + jnp.sum((xm - 0.5) ** 2)
    fs = []
    for i in range(m):
      idx = m - 1 - i
      fi = g1 * jnp.prod(jnp.cos(x[:idx] * math.pi / 2))
      if i > 0:
        fi = fi * jnp.sin(x[idx] * math.pi / 2)
      fs.append(fi)
    return jnp.stack(fs)
  return f


def _dtlz2_max_hv(m: int, ref: float = 1.1) -> float:
  return ref ** m - math.pi ** (m / 2) / gamma(m / 2 + 1) / 2 ** m


def dtlz2(dim: int = 6, num_objectives: int = 2) -> Problem:
  """DTLZ2 on [0, 1]^dim; the front is the positive part of the unit sphere."""
  if dim <= num_objectives:
    raise ConfigError(f"dtlz2: dim must be > num_objectives, got {dim} and {num_objectives}")
  return Problem("dtlz2", np.array([[0.0, 1.0]] * dim), np.full(num_objectives, 1.1),
                 _dtlz2_fn(num_objectives), max_hv=_dtlz2_max_hv(num_objectives), source=_BOTORCH)


def _vehicle_safety(x):
  x1, x2, x3, x4, x5 = x[0], x[1], x[2], x[3], x[4]
  f1 = 1640.2823 + 2.3573285 * x1 + 2.3220035 * x2 + 4.5688768 * x3 + 7.7213633 * x4 + 4.4559504 * x5
  f2 = (6.5856 + 1.15 * x1 - 1.0427 * x2 + 0.9738 * x3 + 0.8364 * x4 - 0.3695 * x1 * x4
        + 0.0861 * x1 * x5 + 0.3628 * x2 * x4 - 0.1106 * x1 ** 2 - 0.3437 * x3 ** 2
        + 0.1764 * x4 ** 2)
  f3 = (-0.0551 + 0.0181 * x1 + 0.1024 * x2 + 0.0421 * x3 - 0.0073 * x1 * x2 + 0.024 * x2 * x3
        - 0.0118 * x2 * x4 - 0.0204 * x3 * x4 - 0.008 * x3 * x5 - 0.0241 * x2 ** 2
        + 0.0109 * x4 ** 2)
  return jnp.stack([f1, f2, f3])


def vehicle_safety() -> Problem:
  """VehicleSafety (d = 5 on [1, 3]^5, m = 3): crash-worthiness response surfaces."""
  return Problem("vehicle_safety", np.array([[1.0, 3.0]] * 5),
                 np.array([1864.72022, 11.81993945, 0.2903999384]), _vehicle_safety,
                 max_hv=246.81607081187002, source=_BOTORCH)


def _c2dtlz2_constraint(m: int, r: float = 0.2):
  f = _dtlz2_fn(m)

  def g(x):
    fx = f(x)
    # BoTorch: slack = -min(min_i[(f_i - 1)^2 + sum_{j != i} f_j^2 - r^2], sum_i (f_i - 1/sqrt(m))^2 - r^2)
    sq = fx ** 2
    term = (fx - 1) ** 2 + (jnp.sum(sq) - sq) - (m - 1) * r ** 2
    min1 = jnp.min(term)
    min2 = jnp.sum((fx - 1 / math.sqrt(m)) ** 2 - r ** 2)
    return jnp.minimum(min1, min2)[None]  # g = -slack
  return g


def c2dtlz2(dim: int = 6, num_objectives: int = 2) -> Problem:
  """C2-DTLZ2 (DTLZ2 with one constraint that keeps only parts of the sphere; r = 0.2).

  BoTorch's maximum hypervolume (0.3996406303723544) is for m = 2; for other m it is None.
  """
  base = dtlz2(dim, num_objectives)
  return dataclasses.replace(base, name="c2dtlz2", constraints=_c2dtlz2_constraint(num_objectives),
                             max_hv=0.3996406303723544 if num_objectives == 2 else None)


def _disc_brake(x):
  x1, x2, x3, x4 = x[0], x[1], x[2], x[3]
  sq = x2 ** 2 - x1 ** 2
  f0 = 4.9e-5 * sq * (x4 - 1.0)
  f1 = 9.82e6 * sq / (x3 * x4 * (x2 ** 3 - x1 ** 3))
  return jnp.stack([f0, f1])


def _disc_brake_g(x):
  x1, x2, x3, x4 = x[0], x[1], x[2], x[3]
  sq = x2 ** 2 - x1 ** 2
  cub = x2 ** 3 - x1 ** 3
  slack = jnp.stack([x2 - x1 - 20.0, 0.4 - x3 / (3.14 * sq),
                     1.0 - (2.22e-3 * x3 * cub) / sq ** 2, (2.66e-2 * x3 * x4 * cub) / sq - 900.0])
  return -slack


def disc_brake() -> Problem:
  """DiscBrake (d = 4, m = 2, k = 4 constraints). No published maximum hypervolume."""
  return Problem("disc_brake", np.array([[55.0, 80.0], [75.0, 110.0], [1000.0, 3000.0],
                                         [11.0, 20.0]]), np.array([5.7771, 3.9651]), _disc_brake,
                 constraints=_disc_brake_g, source=_BOTORCH)


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin_currin": branin_currin, "zdt1": zdt1, "zdt2": zdt2, "zdt3": zdt3, "dtlz2": dtlz2,
    "vehicle_safety": vehicle_safety, "c2dtlz2": c2dtlz2, "disc_brake": disc_brake,
}


def get_problem(name: str, **kwargs) -> Problem:
  """A shipped problem by name (see :data:`PROBLEMS`); ``kwargs`` go to its constructor (e.g. dim).

  Raises:
    ConfigError: unknown name.
  """
  key = name.lower().replace("-", "_")
  if key not in PROBLEMS:
    raise ConfigError(f"invalid value for field 'problem': {name!r}; allowed: {sorted(PROBLEMS)}")
  return PROBLEMS[key](**kwargs)


def evaluate_batch(problem: Problem, x: Sequence) -> tuple[np.ndarray, np.ndarray]:
  """(objectives float64[n, m], constraints float64[n, k]) of ``x`` (float[n, d]) by vmap."""
  import jax
  xa = jnp.asarray(np.asarray(x, np.float32))
  f = np.asarray(jax.vmap(problem.evaluate)(xa), np.float64)
  if problem.constraints is None:
    return f, np.zeros((f.shape[0], 0))
  return f, np.asarray(jax.vmap(problem.constraints)(xa), np.float64)
