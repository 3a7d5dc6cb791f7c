"""Safe work directories: the issue's silent-wrong cases (``--seed=1`` into a seed-0 workdir,
``--budget=22`` after 20, a changed ``oracle.epochs``) now stop with the differing fields named;
``--overwrite`` starts afresh; the same command and seed give byte-identical ``results.json``;
the launcher's error path (one line, exit 2, nothing before it) and ``--help``."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from jaxcodesign import codesign
from jaxcodesign.codesign import workdir as workdir_lib
from jaxcodesign.errors import ConfigError

ROOT = pathlib.Path(__file__).resolve().parent.parent


def tiny():
  cfg = codesign.load_config("transcode_digits")
  cfg.model_space_kwargs = dict(layers=(2,), hidden=(16,), heads=(2,), ff_depths=(1,),
                                ff_widths=(32,), custom_values=True)
  cfg.budget = 3
  cfg.search.init_design = 2
  cfg.search.surrogate_epochs = 5
  cfg.search.gobi_restarts = 2
  cfg.oracle.epochs = 1
  cfg.accelerator_sweep = 16
  cfg.methods = ("codesign", "random_pairs")
  return cfg


@pytest.fixture(scope="module")
def seed0(tmp_path_factory):
  wd = tmp_path_factory.mktemp("seed0")
  return wd, codesign.run(tiny(), wd, progress=False)


@pytest.mark.parametrize("field,value,old", [("seed", 1, 0), ("budget", 4, 3),
                                             ("oracle.epochs", 2, 1)])
def test_other_settings_are_refused_naming_the_field(seed0, field, value, old):
  wd, _ = seed0
  before = {p: (wd / p).read_bytes() for p in ("results.json", "evaluations.jsonl", "progress.jsonl")}
  cfg = tiny()
  node, leaf = (cfg, field) if "." not in field else (getattr(cfg, field.split(".")[0]),
                                                      field.split(".")[1])
  setattr(node, leaf, value)
  with pytest.raises(workdir_lib.WorkdirMismatch) as e:
    codesign.run(cfg, wd, progress=False)
  assert f"{field} (workdir: {old!r}, now: {value!r})" in str(e.value)
  assert "--overwrite" in str(e.value)
  assert before == {p: (wd / p).read_bytes() for p in before}   # nothing touched


def test_same_command_and_seed_give_the_same_results_json(seed0, tmp_path):
  wd, _ = seed0
  codesign.run(tiny(), tmp_path, progress=False)
  assert (tmp_path / "results.json").read_bytes() == (wd / "results.json").read_bytes()
  res = json.loads((tmp_path / "results.json").read_text())
  assert "wall_s" not in json.dumps(res)     # wall times live in timings.json
  assert json.loads((tmp_path / "timings.json").read_text())["wall_s"] > 0


def test_overwrite_moves_the_old_run_aside_and_starts_afresh(seed0, tmp_path):
  wd, _ = seed0
  shutil.copytree(wd, tmp_path / "w")
  (tmp_path / "w" / "notes.txt").write_text("mine")
  cfg = tiny()
  cfg.seed = 1
  res = codesign.run(cfg, tmp_path / "w", progress=False, overwrite=True)
  assert res["config"]["seed"] == 1
  aside = list((tmp_path / "w").glob("overwritten-*"))
  assert len(aside) == 1 and (aside[0] / "results.json").read_bytes() == (wd / "results.json").read_bytes()
  assert (tmp_path / "w" / "notes.txt").read_text() == "mine"   # not ours: left alone
  fresh = codesign.run(cfg, tmp_path / "fresh", progress=False)
  assert (tmp_path / "w" / "results.json").read_bytes() == (tmp_path / "fresh" / "results.json").read_bytes()
  # the seed-1 chosen pair is recorded with its own metrics, not the seed-0 cache's
  assert fresh["chosen"] == res["chosen"]


def test_unrecorded_or_unwritable_workdirs_are_refused(tmp_path):
  legacy = tmp_path / "legacy"
  (legacy / "checkpoints").mkdir(parents=True)
  with pytest.raises(workdir_lib.WorkdirMismatch, match="no workdir.json"):
    workdir_lib.prepare(legacy, tiny())
  blocker = tmp_path / "file"
  blocker.write_text("x")
  for bad in (blocker, blocker / "sub"):
    with pytest.raises(ConfigError, match="workdir"):
      codesign.run(tiny(), bad, progress=False)
  if os.geteuid() != 0:   # root may write anywhere; the permission check needs a normal user
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(ValueError, match="not writable"):
      workdir_lib.prepare(ro, tiny())


def test_cache_key_holds_everything_that_changes_a_result():
  base = tiny()
  salt = workdir_lib.cache_salt(base)
  for field, value in (("seed", 1), ("oracle.epochs", 2), ("oracle.learning_rate", 1e-3),
                       ("hw.seq_len", 16), ("hw.weight_sparsity", 0.5), ("oracle.dataset", "x.npz")):
    cfg = tiny()
    node, leaf = (cfg, field) if "." not in field else (getattr(cfg, field.split(".")[0]),
                                                        field.split(".")[1])
    setattr(node, leaf, value)
    assert workdir_lib.cache_salt(cfg) != salt, field
  cfg = tiny()
  cfg.search.alpha = 0.3          # changes which pairs are chosen, not the metrics of a pair
  assert workdir_lib.cache_salt(cfg) == salt


def test_default_workdir_is_per_experiment():
  a = codesign.default_workdir("transcode_digits")
  b = codesign.default_workdir("codebench_digits")
  assert a != b and a.name == "transcode_digits" and a.parent == b.parent


def _launch(*args, timeout=300):
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  return subprocess.run([sys.executable, "-m", "launch.codesign", *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout)


def test_launcher_help_lists_config_fields_with_defaults():
  out = _launch("--help")
  text = " ".join((out.stdout + out.stderr).split())   # absl wraps help lines
  assert "Try --helpfull" in text          # absl printed its help (and exits 1, its convention)
  assert "--config.oracle.epochs=8" in text and "training epochs per network" in text
  assert "--config.budget=16" in text and "--overwrite" in text


def test_launcher_errors_are_one_line_before_any_work(tmp_path):
  cfg = codesign.load_config("transcode_digits")
  workdir_lib.prepare(tmp_path / "w", cfg)              # a seed-0 record of the default experiment
  out = _launch(f"--workdir={tmp_path / 'w'}", "--seed=1")
  lines = out.stderr.strip().splitlines()
  assert out.returncode == 2, out.stderr
  assert lines[-1].startswith("launch.codesign: error: workdir") and "seed (workdir: 0, now: 1)" in lines[-1]
  assert not any("eval/s" in l or "USAGE" in l or "flags:" in l for l in lines)   # no bar, no help
  assert not (tmp_path / "w" / "evaluations.jsonl").exists()
  (tmp_path / "f").write_text("x")
  out = _launch(f"--workdir={tmp_path / 'f'}")
  assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith(
      "launch.codesign: error: invalid value for field 'workdir'")
