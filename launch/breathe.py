"""Constrained multi-objective search with V-BREATHE on a shipped problem or your own Python file.

Usage::

  python -m launch.breathe --problem=NAME|FILE.py --budget=N --seed=S --output=OUT.json \
      [--workdir=DIR] [--q=1] [--acquisition=ehvi|hvs_ucb] [--plots] [--progress]

``NAME`` is a shipped problem (:data:`jaxcodesign.problems.PROBLEMS`: branin_currin, zdt1, zdt2,
zdt3, dtlz2, vehicle_safety, c2dtlz2, disc_brake). ``FILE.py`` is plain Python defining:

* ``bounds``: list of ``[low, high]``, one per input dimension (d of them);
* ``ref_point``: list of m floats (all objectives are MINIMISED; the hypervolume reference);
* ``evaluate(x) -> m floats``, called with a float NumPy array of length d inside the bounds;
* optionally ``integers``: dimension indices that take integer values (``x[i]`` is then integral);
* optionally ``constraints(x) -> k floats``: feasible when all are ``<= 0``.

``OUT.json`` holds ``{"evaluations": [{"x", "objectives", "constraints", "feasible"}, ...]}`` in
evaluation order, plus ``hv_trace`` (hypervolume of the feasible points after each evaluation),
``pareto_set`` (indices and points of the feasible non-dominated evaluations), ``hypervolume``,
``timing`` (process CPU s and wall s), ``seed``, ``budget``, ``ref_point`` and, for shipped problems
with a known maximum, ``max_hv`` and ``log10_hv_gap``. No point is evaluated twice: the initial
design skips Sobol points that integer rounding merges, and a space of integer dimensions only
that holds fewer legal points than ``--budget`` stops when all are evaluated
(``"space_exhausted": true``). With ``--workdir`` every evaluation is
checkpointed (``DIR/state.json``); re-running the same command resumes and gives the same result as
an uninterrupted run. ``--plots`` writes ``OUT_front.png`` and ``OUT_hv.png`` next to ``OUT.json``.

Errors in the problem file (missing ``bounds``, lengths that disagree, ``evaluate`` returning the
wrong number of values or NaN, ...) stop the run with one line naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
import runpy
import time
from typing import Callable

from absl import flags
import numpy as np

from jaxcodesign.errors import ConfigError
from launch import _cli

FLAGS = flags.FLAGS
_NAME = "launch.breathe"


def define_flags():
  """Defines the launcher's flags (only when run as a program or by a test). Idempotent."""
  if "budget" in FLAGS and "acquisition" in FLAGS:
    return
  flags.DEFINE_string("problem", None, "shipped problem name or path to a problem FILE.py")
  flags.DEFINE_integer("budget", 100, "total evaluations (initial design included)")
  flags.DEFINE_integer("seed", 0, "random seed")
  flags.DEFINE_string("output", None, "output JSON file")
  flags.DEFINE_string("workdir", None, "checkpoint directory (resume by re-running the command)")
  flags.DEFINE_integer("q", 1, "points proposed per round (batch)")
  flags.DEFINE_integer("n_init", None, "initial Sobol points (default 2 (d + 1), <= budget / 3)")
  flags.DEFINE_enum("acquisition", "ehvi", ["ehvi", "hvs_ucb"], "acquisition function")
  flags.DEFINE_bool("plots", True, "write OUT_front.png and OUT_hv.png")
  flags.DEFINE_bool("progress", True, "show a progress bar")
  flags.DEFINE_enum("backend", "local", ["local", "ray"], "where evaluate(x) runs: local | ray (the "
                    "q points of a round as concurrent Ray tasks, retried, journaled in --workdir)")
  flags.DEFINE_string("ray_address", "", "Ray cluster for --backend=ray ('' = local instance)")


class LoadedProblem:
  """A problem ready to evaluate: ``bounds`` float64[d, 2], ``ref_point`` float64[m],
  ``integers``, ``evaluate(x) -> (objectives float64[m], constraints float64[k])``, ``max_hv``."""

  def __init__(self, name, bounds, ref_point, integers, evaluate, identity, max_hv=None):
    self.name, self.bounds, self.ref_point = name, bounds, ref_point
    self.integers, self.evaluate, self.identity, self.max_hv = integers, evaluate, identity, max_hv


def _floats(value, field: str, where: str, length: int | None = None) -> np.ndarray:
  try:
    a = np.asarray(value, np.float64)
  except (TypeError, ValueError):
    raise ConfigError(f"{where}: field '{field}' must be a list of numbers, got {value!r}") from None
  if a.ndim == 0:
    a = a.reshape(1)
  if a.ndim != 1:
    raise ConfigError(f"{where}: field '{field}' must be a flat list of numbers, got shape {a.shape}")
  if length is not None and a.shape[0] != length:
    raise ConfigError(f"{where}: '{field}' returned {a.shape[0]} values; expected {length}")
  if not np.all(np.isfinite(a)):
    raise ConfigError(f"{where}: field '{field}' has NaN or infinite values: {a.tolist()}")
  return a


def load_problem_file(path: str) -> LoadedProblem:
  """Loads and validates a user's problem file (see the module docstring).

  Raises:
    ConfigError: a missing or malformed field; OSError: the file cannot be read.
  """
  p = pathlib.Path(path)
  if not p.is_file():
    raise ConfigError(f"--problem: {path!r} is neither a shipped problem nor an existing file")
  text = p.read_bytes()
  try:
    ns = runpy.run_path(str(p))
  except SyntaxError as err:
    raise ConfigError(f"{path}: not valid Python: {err.msg} (line {err.lineno})") from None
  where = str(path)
  for field in ("bounds", "ref_point", "evaluate"):
    if field not in ns:
      raise ConfigError(f"{where}: missing field '{field}' (a problem file defines bounds, "
                        "ref_point and evaluate; integers and constraints are optional)")
  try:
    b = np.asarray(ns["bounds"], np.float64)
  except (TypeError, ValueError):
    raise ConfigError(f"{where}: field 'bounds' must be a list of [low, high] pairs") from None
  if b.ndim != 2 or b.shape[1] != 2 or b.shape[0] < 1:
    raise ConfigError(f"{where}: field 'bounds' must be a non-empty list of [low, high] pairs, got "
                      f"shape {b.shape}")
  if not np.all(np.isfinite(b)):
    raise ConfigError(f"{where}: field 'bounds' has NaN or infinite values")
  bad = np.flatnonzero(b[:, 0] > b[:, 1])
  if bad.size:
    raise ConfigError(f"{where}: bounds[{bad[0]}] = {b[bad[0]].tolist()} has low > high")
  ref = _floats(ns["ref_point"], "ref_point", where)
  integers = ns.get("integers", [])
  if not isinstance(integers, (list, tuple)) or not all(
      isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in integers):
    raise ConfigError(f"{where}: field 'integers' must be a list of dimension indices, got "
                      f"{integers!r}")
  integers = [int(i) for i in integers]
  for i in integers:
    if not 0 <= i < b.shape[0]:
      raise ConfigError(f"{where}: integers holds {i}; allowed: dimension indices 0..{b.shape[0] - 1}")
  f, g = ns["evaluate"], ns.get("constraints")
  if not callable(f):
    raise ConfigError(f"{where}: field 'evaluate' must be a function evaluate(x) -> m floats")
  if g is not None and not callable(g):
    raise ConfigError(f"{where}: field 'constraints' must be a function constraints(x) -> k floats")
  m = ref.shape[0]
  n_con: list[int] = []

  def evaluate(x: np.ndarray):
    xs = f"x = {np.asarray(x).tolist()}"
    obj = _floats(f(np.array(x, np.float64)), "evaluate", f"{where} ({xs})", m)
    if g is None:
      return obj, np.zeros(0)
    con = _floats(g(np.array(x, np.float64)), "constraints", f"{where} ({xs})",
                  n_con[0] if n_con else None)
    if not n_con:
      n_con.append(con.shape[0])
    return obj, con

  identity = "file:" + hashlib.sha256(text).hexdigest()
  return LoadedProblem(p.stem, b, ref, integers, evaluate, identity)


def load_problem(spec: str) -> LoadedProblem:
  """A shipped problem by name, or a problem file (``*.py``)."""
  from jaxcodesign.problems import PROBLEMS, get_problem
  if spec is None:
    raise ConfigError("--problem is required: a shipped problem name "
                      f"({sorted(PROBLEMS)}) or a path to a problem FILE.py")
  key = spec.lower().replace("-", "_")
  if key in PROBLEMS:
    import jax
    import jax.numpy as jnp
    prob = get_problem(key)
    fj = jax.jit(prob.evaluate)
    gj = jax.jit(prob.constraints) if prob.constraints is not None else None

    def evaluate(x):
      xx = jnp.asarray(np.asarray(x, np.float32))
      obj = np.asarray(fj(xx), np.float64)
      con = np.asarray(gj(xx), np.float64) if gj is not None else np.zeros(0)
      return obj, con

    return LoadedProblem(prob.name, prob.bounds, prob.ref_point, list(prob.integers), evaluate,
                         "shipped:" + prob.name, prob.max_hv)
  if spec.endswith(".py") or os.path.exists(spec):
    return load_problem_file(spec)
  raise ConfigError(f"invalid value for --problem: {spec!r}; allowed: {sorted(PROBLEMS)} or a path "
                    "to a problem FILE.py")


def _check_output(path: str | None) -> pathlib.Path:
  if not path:
    raise ConfigError("--output is required (the results JSON file)")
  out = pathlib.Path(path)
  if out.is_dir():
    raise ConfigError(f"--output: {path!r} is a directory; give a file name such as OUT.json")
  parent = out.parent if str(out.parent) else pathlib.Path(".")
  if not parent.is_dir():
    raise ConfigError(f"--output: directory {str(parent)!r} does not exist")
  if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
    raise ConfigError(f"--output: {path!r} is not writable")
  return out


def _atomic_write(path: pathlib.Path, obj) -> None:
  tmp = path.with_name(path.name + ".tmp")
  tmp.write_text(json.dumps(obj))
  os.replace(tmp, path)


def run(problem: LoadedProblem, budget: int, seed: int, output: pathlib.Path,
        workdir: pathlib.Path | None = None, q: int = 1, acquisition: str = "ehvi",
        n_init: int | None = None, plots: bool = True, progress: bool = False,
        stop_after: int | None = None) -> dict:
  """Runs (or resumes) a V-BREATHE search and writes ``output``. Returns the output dict.

  ``stop_after`` (tests) raises KeyboardInterrupt after that many evaluations in this call, as a
  Ctrl-C would; the checkpoint is then complete.
  """
  from jaxcodesign.search.breathe import Breathe, BreatheConfig, encoding_from_bounds
  from jaxcodesign.search.pareto import feasible_mask, hypervolume_trace, pareto_mask
  if budget < 1:
    raise ConfigError(f"invalid value for --budget: {budget}; allowed: >= 1")
  if q < 1:
    raise ConfigError(f"invalid value for --q: {q}; allowed: >= 1")
  cfg = BreatheConfig(acquisition=acquisition, q=q, n_init=n_init)
  enc = encoding_from_bounds(problem.bounds, problem.integers)
  drv = Breathe(enc, problem.ref_point, budget, seed, cfg)
  identity = dict(problem=problem.identity, budget=budget, seed=seed, q=q, acquisition=acquisition,
                  n_init=n_init, ref_point=problem.ref_point.tolist())
  evaluations: list[dict] = []
  pending: list = []
  cpu0, wall0 = 0.0, 0.0
  state_path = None
  if workdir is not None:
    workdir.mkdir(parents=True, exist_ok=True)
    state_path = workdir / "state.json"
    if state_path.exists():
      st = json.loads(state_path.read_text())
      if st.get("identity") != identity:
        raise ConfigError(f"--workdir {str(workdir)!r} holds a run with different settings "
                          f"({st.get('identity')}); use a new --workdir or the same flags")
      drv.load_state_dict(st["driver"])
      evaluations = st["evaluations"]
      pending = [np.asarray(v, np.float32) for v in st["pending"]]
      cpu0, wall0 = st["cpu_s"], st["wall_s"]
  t_cpu, t_wall = time.process_time(), time.time()
  bar = None
  if progress:
    from tqdm import tqdm
    bar = tqdm(total=budget, initial=len(evaluations), desc=_NAME, unit="eval")

  def checkpoint():
    if state_path is not None:
      _atomic_write(state_path, dict(identity=identity, driver=drv.state_dict(),
                                     evaluations=evaluations, pending=[p.tolist() for p in pending],
                                     cpu_s=cpu0 + time.process_time() - t_cpu,
                                     wall_s=wall0 + time.time() - t_wall))

  done_here = 0
  try:
    while drv.n < budget:
      if not pending:
        pending = list(drv.ask())
        checkpoint()
        if not pending:  # a finite space (integer dimensions only), every legal point evaluated
          break
      if hasattr(problem.evaluate, "prefetch"):  # --backend=ray: the round's points concurrently
        problem.evaluate.prefetch([np.asarray(enc.decode(p), np.float64) for p in pending])
      feat = pending[0]
      x = np.asarray(enc.decode(feat), np.float64)
      obj, con = problem.evaluate(x)
      drv.tell(feat, obj, con)
      pending = pending[1:]
      evaluations.append(dict(x=x.tolist(), objectives=obj.tolist(), constraints=con.tolist(),
                              feasible=bool(np.all(con <= 0))))
      checkpoint()
      done_here += 1
      if bar is not None:
        bar.update(1)
      if stop_after is not None and done_here >= stop_after and drv.n < budget:
        raise KeyboardInterrupt
  finally:
    if bar is not None:
      bar.close()
  cpu_s = cpu0 + time.process_time() - t_cpu
  wall_s = wall0 + time.time() - t_wall
  f = np.asarray([e["objectives"] for e in evaluations], np.float64)
  g = np.asarray([e["constraints"] for e in evaluations], np.float64).reshape(len(evaluations), -1)
  feas = feasible_mask(g, len(evaluations))
  trace = hypervolume_trace(f, problem.ref_point, feas)
  idx = np.flatnonzero(feas)
  front_idx = idx[pareto_mask(f[idx])] if idx.size else idx
  result = dict(problem=problem.name, budget=budget, seed=seed, q=q, acquisition=acquisition,
                ref_point=problem.ref_point.tolist(), evaluations=evaluations,
                hv_trace=trace.tolist(), hypervolume=float(trace[-1]) if trace.size else 0.0,
                pareto_set=[dict(index=int(i), x=evaluations[i]["x"],
                                 objectives=evaluations[i]["objectives"]) for i in front_idx],
                timing=dict(cpu_s=cpu_s, wall_s=wall_s, cpu_s_per_eval=cpu_s / max(len(f), 1)),
                space_exhausted=bool(drv.exhausted))
  if problem.max_hv is not None:
    gap = problem.max_hv - result["hypervolume"]
    result.update(max_hv=problem.max_hv, log10_hv_gap=math.log10(gap) if gap > 0 else None)
  _atomic_write(output, result)
  if plots and len(f):
    from jaxcodesign import plots as P
    mask = np.zeros(len(f), bool)
    mask[front_idx] = True
    labels = [f"objective {i}" for i in range(f.shape[1])]
    P.plot_pareto(f, mask, labels, output.with_name(output.stem + "_front.png"),
                  title=f"{problem.name}: evaluations (circled: feasible Pareto set)")
    P.plot_convergence({"BREATHE": trace}, output.with_name(output.stem + "_hv.png"),
                       ylabel="hypervolume of feasible points", title=problem.name)
  return result


def enable_compilation_cache() -> str | None:
  """Persistent XLA compilation cache (``$JAXCODESIGN_JAX_CACHE``, default
  ``~/.cache/jaxcodesign/jax``; set it to an empty string to disable): a second run on a problem of
  the same shape skips most of the ~10 CPU s of compilation."""
  import jax
  path = os.environ.get("JAXCODESIGN_JAX_CACHE",
                        str(pathlib.Path.home() / ".cache" / "jaxcodesign" / "jax"))
  if not path:
    return None
  try:
    pathlib.Path(path).mkdir(parents=True, exist_ok=True)
  except OSError:
    return None
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return path


def main(argv):
  del argv
  out = _check_output(FLAGS.output)
  # one thread for XLA's CPU client (set before JAX starts): the rounds are small, and a busy
  # multi-threaded client burnt 10x the CPU time spinning on a shared two-core machine
  os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                        "intra_op_parallelism_threads=1")
  enable_compilation_cache()
  problem = load_problem(FLAGS.problem)
  if FLAGS.budget < 1:
    raise ConfigError(f"invalid value for --budget: {FLAGS.budget}; allowed: >= 1")
  workdir = pathlib.Path(FLAGS.workdir) if FLAGS.workdir else None
  if FLAGS.backend == "ray":
    from jaxcodesign.distributed.ray_backend import remote_problem
    problem = remote_problem(problem, "ray", address=FLAGS.ray_address, workdir=workdir)
  res = run(problem, FLAGS.budget, FLAGS.seed, out, workdir, FLAGS.q, FLAGS.acquisition,
            FLAGS.n_init, FLAGS.plots, FLAGS.progress)
  gap = res.get("log10_hv_gap")
  print(f"{_NAME}: {len(res['evaluations'])} evaluations, {sum(e['feasible'] for e in res['evaluations'])}"
        f" feasible, hypervolume {res['hypervolume']:.6g}"
        + (f", log10 HV gap {gap:.3f}" if gap is not None else "")
        + f", {res['timing']['cpu_s']:.1f} CPU s; wrote {out}"
        + (f" (stopped before --budget={FLAGS.budget}: all {len(res['evaluations'])} legal points "
           "of the space evaluated)" if res["space_exhausted"] and len(res["evaluations"]) < FLAGS.budget
           else ""))
  return 0


if __name__ == "__main__":
  define_flags()
  _cli.run(main, name=_NAME, resume_hint="re-run the same command (with the same --workdir) to "
           "resume")
