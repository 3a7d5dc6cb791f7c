"""End-to-end tests of the co-design job on tiny configurations of each experiment (seconds each)."""

import json
import pathlib

import numpy as np
import pytest

from jaxcodesign import codesign
from jaxcodesign.errors import ConfigError
from jaxcodesign.search import objectives





def tiny_transcode(methods=codesign.METHODS):
  cfg = codesign.load_config("transcode_digits")
  cfg.model_space_kwargs = dict(layers=(2,), hidden=(16, 32), heads=(2,), ff_depths=(1,),
                                ff_widths=(32,), custom_values=True)
  cfg.budget = 4
  cfg.search.init_design = 2
  cfg.search.surrogate_epochs = 5
  cfg.search.gobi_restarts = 2
  cfg.oracle.epochs = 2
  cfg.methods = methods
  return cfg


@pytest.fixture(scope="module")
def transcode_run(tmp_path_factory):
  cfg = tiny_transcode()
  wd = tmp_path_factory.mktemp("transcode")
  return cfg, wd, codesign.run(cfg, wd, progress=False)


def test_transcode_accuracies_are_real_and_vary(transcode_run):
  _, _, res = transcode_run
  accs = {}
  for hist in res["evaluations"].values():
    for e in hist:
      accs[json.dumps(e["model"], sort_keys=True)] = e["metrics"]["accuracy"]
      assert 0.0 <= e["metrics"]["test_accuracy"] <= 1.0
  assert len(accs) >= 2
  assert max(accs.values()) > 0.2, accs          # chance on 10 digit classes is 0.1
  assert len(set(np.round(list(accs.values()), 6))) >= 2, accs


def test_transcode_chosen_is_best_under_the_same_objective(transcode_run):
  cfg, wd, res = transcode_run
  obj = codesign.make_constrained_objective(cfg)
  hist = res["evaluations"]["codesign"]
  perf = [float(objectives.scalarise(e["metrics"], obj)) for e in hist]
  np.testing.assert_allclose(perf, [e["performance"] for e in hist], rtol=1e-6)
  assert res["chosen"]["performance"] == pytest.approx(max(perf))
  assert all(len(h) == cfg.budget for h in res["evaluations"].values())
  for name in ("convergence", "pareto", "utilisation"):
    assert pathlib.Path(res["plots"][name]).stat().st_size > 1000
  on_disk = json.loads((wd / "results.json").read_text())
  assert on_disk["chosen"]["performance"] == pytest.approx(res["chosen"]["performance"])
  assert on_disk["versions"]["jax"]
  assert on_disk["pareto_set"], "the Pareto set of fitting pairs cannot be empty"


def test_killed_and_resumed_run_equals_uninterrupted(tmp_path):
  cfg = tiny_transcode(methods=("codesign",))
  cfg.budget = 5
  full = codesign.run(cfg, tmp_path / "full", progress=False)
  codesign.run(cfg, tmp_path / "killed", progress=False, max_rounds=1)   # "killed" after round 1
  resumed = codesign.run(cfg, tmp_path / "killed", progress=False)
  a = full["evaluations"]["codesign"]
  b = resumed["evaluations"]["codesign"]
  assert [json.dumps([e["model"], e["hw"]], sort_keys=True) for e in a] == \
         [json.dumps([e["model"], e["hw"]], sort_keys=True) for e in b]
  np.testing.assert_allclose([e["performance"] for e in a], [e["performance"] for e in b])


def test_codebench_tiny(tmp_path):
  cfg = codesign.load_config("codebench_digits")
  cfg.budget = 3
  cfg.search.init_design = 2
  cfg.search.surrogate_epochs = 5
  cfg.search.gobi_restarts = 2
  cfg.oracle.epochs = 2
  cfg.methods = ("codesign", "random_pairs")
  res = codesign.run(cfg, tmp_path, progress=False)
  accs = [e["metrics"]["accuracy"] for h in res["evaluations"].values() for e in h]
  assert max(accs) > 0.2
  m = res["chosen"]["metrics"]
  assert m["latency_s"] > 0 and m["energy_j"] > 0 and m["area_mm2"] > 0


def test_sst2_table_tiny(tmp_path, fixtures_dir):
  cfg = codesign.load_config("transcode_sst2_table")
  cfg.oracle.table_path = str(fixtures_dir / "flexibert_small" / "library.jsonl")
  cfg.budget = 4
  cfg.search.init_design = 2
  cfg.search.surrogate_epochs = 5
  cfg.search.gobi_restarts = 2
  cfg.methods = ("codesign", "fixed_accelerator")
  res = codesign.run(cfg, tmp_path, progress=False)
  table = {}
  for line in (fixtures_dir / "flexibert_small" / "library.jsonl").read_text().splitlines():
    row = json.loads(line)
    if "SST-2" in row["accuracy"]:
      table[json.dumps(row["model_dict"], sort_keys=True)] = row["accuracy"]["SST-2"]
  for h in res["evaluations"].values():
    for e in h:   # the oracle returns the measured accuracy, and only measured models are queried
      assert e["metrics"]["accuracy"] == pytest.approx(table[json.dumps(e["model"], sort_keys=True)])


def test_bad_inputs_stop_before_training(tmp_path):
  cfg = tiny_transcode()
  with pytest.raises(AttributeError):
    cfg.no_such_field = 1          # configs are locked: unknown fields are rejected
  cfg.oracle.dataset = str(tmp_path / "bad.npz")
  np.savez(tmp_path / "bad.npz", x_train=np.zeros((10, 3)), y_train=np.zeros(9),
           x_val=np.zeros((4, 3)), y_val=np.zeros(4), x_test=np.zeros((4, 3)), y_test=np.zeros(4))
  with pytest.raises(ValueError, match="y_train"):
    codesign.build_experiment(cfg, tmp_path)
  cfg = tiny_transcode()
  cfg.model_space = "nope"
  with pytest.raises(ConfigError, match="model_space"):
    codesign.build_experiment(cfg, tmp_path)
  cfg = tiny_transcode()
  cfg.objective.weights.accuracy = -1.0
  with pytest.raises(ConfigError, match="accuracy"):
    codesign.build_experiment(cfg, tmp_path)


def test_space_where_nothing_fits_stops_before_work(tmp_path, fixtures_dir):
  # Every library model has h >= 128 and a 30,522-word embedding table (> 8 MB at 20 bits), so with
  # the weight buffer restricted to 8 MB no pair can fit: the experiment must stop before any search.
  cfg = codesign.load_config("transcode_sst2_table")
  cfg.oracle.table_path = str(fixtures_dir / "flexibert_small" / "library.jsonl")
  cfg.hw_space_kwargs = dict(weight_buffer_size=(8,))
  with pytest.raises(ConfigError, match="fits"):
    codesign.build_experiment(cfg, tmp_path)
  assert not (tmp_path / "evaluations.jsonl").exists()
