"""Mutation check of the hardware models (issue 8 part 9): mutmut on hardware/acceltran.py and
hardware/accelbench.py against their oracle tests. A benchmark, not a CI job (it takes hours in full).

    pip install mutmut            # optional [bench] extra
    python benchmarks/mutation_hardware.py --targets=jaxcodesign/hardware/accelbench.py \
        --tests=tests/test_cnn_oracles.py --deadline_s=1300

What it does: copies the working tree (tracked and untracked, not ignored files) to ``--workdir``,
adds a ``[tool.mutmut]`` section to the COPY's pyproject.toml (only_mutate = the two model files,
the test selection below, ``process_isolation = "forkserver"`` so that no mutant inherits a jit
cache traced from unmutated code), runs ``mutmut run <sample pattern>`` under a wall-clock deadline,
then prints ``mutmut results`` (killed / survived / timeout / not checked) and the kill rate, and
writes the survivors' diffs (``mutmut show``) to ``<workdir>/survivors.txt``.

Sampling: mutmut names mutants ``<module>.<function>__mutmut_<k>``; the default patterns
``*__mutmut_1,*__mutmut_*37,*__mutmut_*73`` keep the first mutant of every function and every
mutant numbered ...37 or ...73 (a systematic ~2% sample of the large functions). ``--sample='*'``
runs all of them. Mutants not reached before the deadline are reported as
not checked, never as killed. Results: docs/mutation.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = ("jaxcodesign/hardware/acceltran.py", "jaxcodesign/hardware/accelbench.py")
TESTS = ("tests/test_cnn_oracles.py", "tests/test_hardware_accelbench.py",
         "tests/test_hardware_acceltran.py")


def copy_tree(dst: Path) -> None:
  files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.split()
  if dst.exists():
    shutil.rmtree(dst)
  for f in files:
    src = REPO / f
    if src.is_file():
      (dst / f).parent.mkdir(parents=True, exist_ok=True)
      shutil.copy2(src, dst / f)


def configure(dst: Path, tests, targets_: tuple = TARGETS) -> None:
  # mutmut maps tests to the functions they call in one stats run; a jitted model is only called while
  # tracing, so a test that hits the jit cache of an earlier test would not be mapped to it and its
  # mutants would never meet that test. Clearing JAX's caches before every test (in the COPY only)
  # makes every test trace, hence call, the functions it depends on.
  with open(dst / "tests" / "conftest.py", "a") as f:
    f.write("""

@pytest.fixture(autouse=True)
def _mutation_fresh_jax_caches():
  import jax
  jax.clear_caches()
  yield
""")
  toml = dst / "pyproject.toml"
  tests_list = ", ".join(f'"{t}"' for t in tests)
  targets = ", ".join(f'"{t}"' for t in targets_)
  toml.write_text(toml.read_text() + f"""

[tool.mutmut]
source_paths = ["jaxcodesign"]
only_mutate = [{targets}]
pytest_add_cli_args_test_selection = [{tests_list}]
pytest_add_cli_args = ["-q", "-x", "-p", "no:cacheprovider"]
also_copy = ["tests", "launch", "experiments", "benchmarks"]
process_isolation = "forkserver"
forkserver_warmup = "collect"
timeout_multiplier = 10.0
""")


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--workdir", default="/tmp/mutation_hardware")
  ap.add_argument("--sample", default="*__mutmut_1,*__mutmut_*37,*__mutmut_*73",
                  help="fnmatch pattern(s) of mutant names, comma-separated")
  ap.add_argument("--deadline_s", type=float, default=1500.0, help="stop running mutants after this")
  ap.add_argument("--max_children", type=int, default=1)
  ap.add_argument("--tests", default=",".join(TESTS))
  ap.add_argument("--targets", default=",".join(TARGETS), help="files to mutate, comma-separated")
  ap.add_argument("--reuse", action="store_true", help="keep the workdir (and mutmut's state) if present")
  args = ap.parse_args()
  if shutil.which("mutmut") is None:
    print("mutation_hardware: error: mutmut is not installed (pip install mutmut)")
    return 2
  dst = Path(args.workdir)
  if not (args.reuse and dst.exists()):
    copy_tree(dst)
    configure(dst, args.tests.split(","), tuple(args.targets.split(",")))
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(dst))
  patterns = [p for p in args.sample.split(",") if p]
  t0, c0 = time.time(), time.process_time()
  proc = subprocess.Popen(["mutmut", "run", "--max-children", str(args.max_children), *patterns],
                          cwd=dst, env=env, stdout=open(dst / "mutmut_run.log", "w"),
                          stderr=subprocess.STDOUT, start_new_session=True)
  try:
    proc.wait(timeout=args.deadline_s)
    stopped = False
  except subprocess.TimeoutExpired:
    os.killpg(proc.pid, signal.SIGTERM)  # the group we started (mutmut and its workers)
    try:
      proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
      os.killpg(proc.pid, signal.SIGKILL)
      proc.wait()
    stopped = True
  wall = time.time() - t0
  res = subprocess.run(["mutmut", "results", "--all", "true"], cwd=dst, env=env, capture_output=True,
                       text=True).stdout
  status: dict[str, list[str]] = {}
  for line in res.splitlines():
    if ":" in line:
      name, st = line.rsplit(":", 1)
      status.setdefault(st.strip(), []).append(name.strip())
  import fnmatch
  in_sample = lambda n: any(fnmatch.fnmatch(n, p) for p in patterns)
  counts = {st: sum(in_sample(n) for n in names) for st, names in status.items()}
  killed = counts.get("killed", 0)  # timeouts are reported apart, not counted as kills
  checked = killed + counts.get("survived", 0)
  print(f"mutmut on {args.targets}; sample {patterns}; wall {wall:.0f} s"
        f"{' (deadline reached)' if stopped else ''}; shared 2-core machine")
  for st, c in sorted(counts.items()):
    print(f"  {st:12s} {c}")
  print(f"kill rate killed / (killed + survived): {killed}/{checked}"
        + (f" = {killed / checked:.1%}" if checked else ""))
  survivors = [n for n in status.get("survived", []) if in_sample(n)]
  with open(dst / "survivors.txt", "w") as f:
    for n in survivors:
      diff = subprocess.run(["mutmut", "show", n], cwd=dst, env=env, capture_output=True, text=True).stdout
      f.write(f"==== {n}\n{diff}\n")
  print(f"survivors ({len(survivors)}): {dst / 'survivors.txt'}")
  for n in survivors:
    print("  " + n)
  return 0


if __name__ == "__main__":
  sys.exit(main())
