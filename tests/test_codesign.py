"""End-to-end tests of the co-design job on tiny configurations of each experiment (seconds each).

Recorded metrics are checked against independent recomputations: the oracle and the accelerator
model called directly on the chosen pair, per-inference values computed by hand from the config's
batch size, and the nested sweep's choice against a brute-force scoring of every candidate through
the per-config path.
"""

import importlib
import json
import pathlib

import jax
import numpy as np
import pytest

from jaxcodesign import codesign
from jaxcodesign.errors import ConfigError, SpaceError
from jaxcodesign.search import objectives


def tiny_transcode(methods=("codesign", "fixed_accelerator", "random_pairs")):
  cfg = codesign.load_config("transcode_digits")
  cfg.model_space_kwargs = dict(layers=(2,), hidden=(16, 32), heads=(2,), ff_depths=(1,),
                                ff_widths=(32,), custom_values=True)
  cfg.budget = 4
  cfg.search.init_design = 2
  cfg.search.surrogate_epochs = 5
  cfg.search.gobi_restarts = 2
  cfg.oracle.epochs = 2
  cfg.accelerator_sweep = 64
  cfg.methods = methods
  return cfg


@pytest.fixture(scope="module")
def transcode_run(tmp_path_factory):
  cfg = tiny_transcode()
  wd = tmp_path_factory.mktemp("transcode")
  return cfg, wd, codesign.run(cfg, wd, progress=False)


def test_recorded_metrics_equal_direct_oracle_and_simulator(transcode_run):
  cfg, _, res = transcode_run
  from jaxcodesign.hardware import api as hw_api
  from jaxcodesign.models.oracles import TrainingOracle
  from jaxcodesign.spaces import get_space
  space = get_space("flexibert2", **cfg.model_space_kwargs.to_dict())
  ch = res["chosen"]
  m = ch["metrics"]
  # the accuracy is the validation accuracy of a real training with the experiment's settings
  oracle = TrainingOracle("flexibert", train_config=dict(
      epochs=cfg.oracle.epochs, batch_size=cfg.oracle.batch_size,
      learning_rate=cfg.oracle.learning_rate, patience=cfg.oracle.patience), seed=cfg.seed, space=space)
  direct = oracle.evaluate([ch["model"]])[0]
  assert m["accuracy"] == direct["val_accuracy"] and m["test_accuracy"] == direct["test_accuracy"]
  assert m["error"] == pytest.approx(1.0 - m["accuracy"])
  # the hardware metrics are those of the chosen accelerator (re-simulated), per inference by hand
  hw = hw_api.simulate_transformer(ch["model"], [ch["hw"]], sparsity=(0.0, 0.0),
                                   seq_len=cfg.hw.seq_len, vocab_size=cfg.hw.vocab_size,
                                   model_space=space)[0]
  for k in ("latency_s", "energy_j", "area_mm2", "cycles", "peak_power_w"):
    assert m[k] == pytest.approx(hw[k], rel=1e-6), k
  b = ch["hw"]["batch_size"]
  assert m["batch_size"] == b
  assert m["latency_per_inference_s"] == pytest.approx(m["latency_s"] / b, rel=1e-6)
  assert m["energy_per_inference_j"] == pytest.approx(m["energy_j"] / b, rel=1e-6)
  # and the objective is the documented formula on the per-inference values
  refs, w = cfg.objective.references, cfg.objective.weights
  c = lambda r: min(max(r, 0.0), 1.0)
  want = (w.accuracy * m["accuracy"]
          + w.latency_per_inference_s * (1 - c(m["latency_per_inference_s"] / refs.latency_per_inference_s))
          + w.energy_per_inference_j * (1 - c(m["energy_per_inference_j"] / refs.energy_per_inference_j))
          + w.area_mm2 * (1 - c(m["area_mm2"] / refs.area_mm2)) - (0.0 if m["fits"] else 1.0))
  assert ch["performance"] == pytest.approx(want, rel=1e-5)


def test_chosen_is_best_under_the_same_objective(transcode_run):
  cfg, wd, res = transcode_run
  obj = codesign.make_constrained_objective(cfg)
  hist = res["evaluations"]["codesign"]
  perf = [float(objectives.scalarise(e["metrics"], obj)) for e in hist]
  np.testing.assert_allclose(perf, [e["performance"] for e in hist], rtol=1e-6)
  assert res["chosen"]["performance"] == pytest.approx(max(perf))
  assert all(len(h) == cfg.budget for h in res["evaluations"].values()) and res["equal_budget"]
  for name in ("convergence", "pareto", "utilisation"):
    assert (wd / res["plots"][name]).stat().st_size > 1000
  on_disk = json.loads((wd / "results.json").read_text())
  assert on_disk["chosen"] == json.loads(json.dumps(res["chosen"]))
  assert on_disk["pareto_metrics"] == ["error", "latency_per_inference_s", "energy_per_inference_j",
                                       "area_mm2"]
  # the Pareto set is exactly the non-dominated feasible pairs (brute force): fitting, within the
  # reticle and within the experiment's edge budget (100 mm^2, 20 W), checked by hand
  entries = [e for hs in on_disk["evaluations"].values() for e in hs]
  cost = np.array([[e["metrics"][k] for k in on_disk["pareto_metrics"]] for e in entries])
  fits = np.array([e["metrics"]["fits"] and e["metrics"]["fits_reticle"]
                   and e["metrics"]["area_mm2"] <= 100.0 and e["metrics"]["peak_power_w"] <= 20.0
                   for e in entries])
  assert fits.any()
  nd = [i for i in range(len(entries)) if fits[i] and not any(
      fits[j] and np.all(cost[j] <= cost[i]) and np.any(cost[j] < cost[i]) for j in range(len(entries)))]
  key = lambda e: json.dumps([e["model"], e["hw"]], sort_keys=True)
  assert sorted({key(entries[i]) for i in nd}) == sorted({key(e) for e in on_disk["pareto_set"]})


def test_nested_sweep_choice_equals_brute_force(transcode_run):
  cfg, _, _ = transcode_run
  exp = codesign.build_experiment(cfg)
  hws = exp.hw_space.sample(jax.random.key(5), 48) + [exp.fixed_hw]
  nested = codesign.NestedAcceleratorEvaluator(exp.evaluator, exp.objective, hws)
  model = exp.model_space.sample(jax.random.key(6), 1)[0]
  rows = [codesign.hardware_metrics(r, h) for r, h in zip(exp.evaluator.hardware_sweep(model, hws), hws)]
  brute = [float(objectives.scalarise(dict(r, accuracy=0.0), exp.objective)) for r in rows]
  np.testing.assert_allclose(nested.scores(model), brute, rtol=1e-5, atol=1e-7)
  assert nested.best_accelerator(model) == hws[int(np.argmax(brute))]


def test_killed_and_resumed_run_equals_uninterrupted(tmp_path, capsys):
  cfg = tiny_transcode(methods=("codesign",))
  cfg.budget = 5
  full = codesign.run(cfg, tmp_path / "full", progress=False)
  codesign.run(cfg, tmp_path / "killed", progress=False, max_rounds=1)   # "killed" after round 1
  capsys.readouterr()
  resumed = codesign.run(cfg, tmp_path / "killed", progress=False)
  assert "resuming: 3 of 5 evaluations found" in capsys.readouterr().err
  assert (tmp_path / "full" / "results.json").read_bytes() == \
      (tmp_path / "killed" / "results.json").read_bytes()
  assert resumed["chosen"] == full["chosen"]


def test_codebench_tiny(tmp_path):
  cfg = codesign.load_config("codebench_digits")
  cfg.budget = 3
  cfg.search.init_design = 2
  cfg.search.surrogate_epochs = 5
  cfg.search.gobi_restarts = 2
  cfg.oracle.epochs = 2
  cfg.accelerator_sweep = 32
  cfg.methods = ("codesign", "random_pairs")
  res = codesign.run(cfg, tmp_path, progress=False)
  from jaxcodesign.hardware import api as hw_api
  from jaxcodesign.spaces import get_space
  ms = get_space("cnnbench", **cfg.model_space_kwargs.to_dict())
  ch = res["chosen"]
  hw = hw_api.simulate_cnn(ch["model"], [ch["hw"]], tuple(ms.input_shape), ms.num_classes,
                           sparsity=(0.0, 0.0))[0]
  m = ch["metrics"]
  for k in ("latency_s", "energy_j", "area_mm2"):
    assert m[k] == pytest.approx(hw[k], rel=1e-6), k
  assert m["latency_per_inference_s"] == pytest.approx(m["latency_s"] / ch["hw"]["batch_size"], rel=1e-6)
  assert 0.0 <= m["accuracy"] <= 1.0 and m["error"] == pytest.approx(1 - m["accuracy"])


def test_sst2_table_tiny(tmp_path, fixtures_dir):
  cfg = codesign.load_config("transcode_sst2_table")
  cfg.oracle.table_path = str(fixtures_dir / "flexibert_small" / "library.jsonl")
  cfg.budget = 4
  cfg.search.init_design = 2
  cfg.search.surrogate_epochs = 5
  cfg.search.gobi_restarts = 2
  cfg.accelerator_sweep = 32
  cfg.methods = ("codesign", "fixed_accelerator")
  res = codesign.run(cfg, tmp_path, progress=False)
  table = {}
  for line in (fixtures_dir / "flexibert_small" / "library.jsonl").read_text().splitlines():
    row = json.loads(line)
    if "SST-2" in row["accuracy"]:
      table[json.dumps(row["model_dict"], sort_keys=True)] = row["accuracy"]["SST-2"]
  for h in res["evaluations"].values():
    for e in h:   # the oracle returns the measured accuracy, and only measured models are queried
      assert e["metrics"]["accuracy"] == table[json.dumps(e["model"], sort_keys=True)]


def test_bad_inputs_stop_before_training(tmp_path):
  cfg = tiny_transcode()
  with pytest.raises(AttributeError):
    cfg.no_such_field = 1          # configs are locked: unknown fields are rejected
  cfg.oracle.dataset = str(tmp_path / "bad.npz")
  np.savez(tmp_path / "bad.npz", x_train=np.zeros((10, 3)), y_train=np.zeros(9),
           x_val=np.zeros((4, 3)), y_val=np.zeros(4), x_test=np.zeros((4, 3)), y_test=np.zeros(4))
  with pytest.raises(ValueError, match="y_train"):
    codesign.build_experiment(cfg, tmp_path)
  for field, value, match in (("model_space", "nope", "model_space"), ("hw_space", "nope", "hw_space"),
                              ("methods", ("codesign", "nope"), "methods"),
                              ("fixed_network", "{bad json", "fixed_network"),
                              ("fixed_accelerator", "nope", "fixed_accelerator")):
    cfg = tiny_transcode()
    setattr(cfg, field, value)
    with pytest.raises(ConfigError, match=match):
      codesign.build_experiment(cfg, tmp_path)
  cfg = tiny_transcode()
  cfg.objective.weights.accuracy = -1.0
  with pytest.raises(ConfigError, match="accuracy"):
    codesign.build_experiment(cfg, tmp_path)
  cfg = tiny_transcode()
  cfg.hw_space = "accelbench"          # a CNN accelerator for transformers
  with pytest.raises(ConfigError, match="hw_space"):
    codesign.build_experiment(cfg, tmp_path)


def test_pair_evaluator_validates_both_halves(transcode_run):
  cfg, _, _ = transcode_run
  exp = codesign.build_experiment(cfg)
  good = {"model": exp.fixed_model, "hw": exp.fixed_hw}
  bad_model = dict(good, model=dict(exp.fixed_model, h=[100] * exp.fixed_model["l"]))
  with pytest.raises(SpaceError, match="h"):
    exp.evaluator.evaluate([bad_model])
  with pytest.raises(SpaceError, match="pe"):
    exp.evaluator.evaluate([dict(good, hw=dict(exp.fixed_hw, pe=3))])
  with pytest.raises(SpaceError, match="pair"):
    exp.evaluator.evaluate([{"model": exp.fixed_model}])


def test_space_where_nothing_fits_stops_before_work(tmp_path, fixtures_dir):
  # The embedding is a gather (no table in the weight buffer), so capacity fails on activations: at
  # N = 4096 one head's softmax tile exceeds a 4 MB activation buffer; no pair can fit, and the
  # experiment must stop before any search.
  cfg = codesign.load_config("transcode_sst2_table")
  cfg.oracle.table_path = str(fixtures_dir / "flexibert_small" / "library.jsonl")
  cfg.hw_space_kwargs = dict(activation_buffer_size=(4,))
  cfg.hw.seq_len = 4096
  with pytest.raises(ConfigError, match="fits"):
    codesign.build_experiment(cfg, tmp_path)
  assert not (tmp_path / "evaluations.jsonl").exists()


def test_register_method_and_hardware(tmp_path):
  calls = []

  def first_points(exp, workdir, budget, key):
    calls.append((workdir.name, budget, jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)))
    pts = exp.model_space.sample(key, budget)
    ms = exp.evaluator.evaluate([{"model": p, "hw": exp.fixed_hw} for p in pts])
    return [{"model": p, "hw": exp.fixed_hw, "metrics": m, "kind": "sample",
             "performance": float(objectives.scalarise(m, exp.objective))} for p, m in zip(pts, ms)]

  codesign.register_method("test_samples", first_points)
  with pytest.raises(ConfigError, match="already registered"):
    codesign.register_method("test_samples", lambda *a: [])
  cfg = tiny_transcode(methods=("test_samples",))
  cfg.budget = 3
  res = codesign.run(cfg, tmp_path, progress=False)
  assert calls == [("test_samples", 3, True)] and res["summary"]["test_samples"]["evaluations"] == 3
  # a hardware half registered under a new name is used for cfg.hw_space = name
  made = []

  def elector_again(cfg, model_space):
    made.append(cfg.hw_space)
    return codesign.HARDWARE["elector"](cfg, model_space)

  codesign.register_hardware("test_elector", elector_again)
  cfg = tiny_transcode()
  cfg.hw_space = "test_elector"
  exp = codesign.build_experiment(cfg)
  assert made == ["test_elector"] and exp.hw_space.name == "elector"


def test_budgets_penalise_rank_and_bound_the_pareto_set():
  run_lib = importlib.import_module("jaxcodesign.codesign.run")  # (codesign.run is the function)
  cfg = codesign.load_config("transcode_digits")
  obj = codesign.make_constrained_objective(cfg)
  assert {(c.name, c.limit) for c in obj.constraints} == {
      ("fits", 1.0), ("fits_reticle", 1.0), ("area_mm2", 100.0), ("peak_power_w", 20.0)}
  base = dict(accuracy=0.9, latency_per_inference_s=1.5e-6, energy_per_inference_j=2.5e-5,
              area_mm2=50.0, peak_power_w=10.0, fits=1.0, fits_reticle=1.0)
  # by hand: 0.6 * 0.9 + 0.15 * (1 - 0.5) + 0.15 * (1 - 0.5) + 0.1 * (1 - 0.5) = 0.74
  assert float(objectives.scalarise(base, obj)) == pytest.approx(0.74, abs=1e-6)
  over = dict(base, area_mm2=120.0)  # area ratio clipped at 1 -> 0.69, then the budget's penalty
  assert float(objectives.scalarise(over, obj)) == pytest.approx(0.69 - 1.0, abs=1e-6)
  assert run_lib.feasible(base, obj) and not run_lib.feasible(over, obj)
  assert not run_lib.feasible(dict(base, peak_power_w=20.5), obj)
  # a die over the reticle is infeasible by default (hw.reticle_constraint), and can be allowed
  assert float(objectives.scalarise(dict(base, fits_reticle=0.0), obj)) == pytest.approx(0.74 - 1.0,
                                                                                        abs=1e-6)
  c = codesign.load_config("transcode_digits")
  c.unlock()
  c.hw.reticle_constraint = False
  assert "fits_reticle" not in {k.name for k in codesign.make_constrained_objective(c).constraints}
  entries = [{"metrics": dict(base, error=0.1)}, {"metrics": dict(over, error=0.05)}]
  _, mask = run_lib.pareto_set(entries, objective=obj)
  assert mask.tolist() == [True, False]  # the better-error pair is over budget: never Pareto
  for bad, msg in (({"bogus": 1.0}, "bogus"), ({"area_mm2": -1.0}, "area_mm2")):
    c = codesign.load_config("transcode_digits")
    c.unlock()
    c.objective.constraints = bad
    with pytest.raises(ConfigError, match=msg):
      codesign.make_constrained_objective(c)


def test_method_hypervolumes_and_term_spread_by_hand():
  run_lib = importlib.import_module("jaxcodesign.codesign.run")  # (codesign.run is the function)
  obj = objectives.Objective(terms=(objectives.ObjectiveTerm("accuracy", 0.5),
                                    objectives.ObjectiveTerm("latency_s", 0.5, 2.0, minimise=True)),
                             constraints=(objectives.Constraint("fits", 1.0, "min"),), clip=True)
  def e(err, lat, fits=1.0):
    return {"metrics": {"error": err, "latency_s": lat, "accuracy": 1 - err, "fits": fits}}
  hist = {"a": [e(0.0, 1.0), e(1.0, 0.0)], "b": [e(0.5, 0.5), e(0.0, 0.0, fits=0.0)]}
  hv = run_lib.method_hypervolumes(hist, ("error", "latency_s"), obj)
  # normalised by the feasible min/max (0..1 each), reference (1.1, 1.1):
  # a: two corners -> 1.1*0.1 + 0.1*1.1 - 0.1*0.1 = 0.21; b: (0.5, 0.5) -> 0.6 * 0.6 = 0.36
  assert hv["per_method"]["a"] == pytest.approx(0.21)
  assert hv["per_method"]["b"] == pytest.approx(0.36)  # its infeasible (0, 0) pair does not count
  sp = run_lib.term_spread([x for v in hist.values() for x in v], obj)
  # accuracy terms 0.5 * {1, 0, 0.5, 1}; latency terms 0.5 * (1 - clip(lat / 2)) = {0.25, 0.5, 0.375, 0.5}
  assert sp["accuracy"]["min"] == 0.0 and sp["accuracy"]["max"] == 0.5
  assert sp["latency_s"]["min"] == pytest.approx(0.25) and sp["latency_s"]["median"] == pytest.approx(0.4375)


def test_seed_summary_mean_se_and_paired_comparison_by_hand():
  from benchmarks import codesign_seeds as cs
  def res(c, f):
    return {"summary": {"codesign": {"best_performance": c, "hypervolume": c / 2, "evaluations": 4},
                        "fixed_network": {"best_performance": f, "hypervolume": f / 2,
                                          "evaluations": 4}}}
  out = cs.summarise({0: res(0.9, 0.8), 1: res(0.7, 0.75), 2: res(0.8, 0.6)})
  m, se = out["methods"]["codesign"]["best_mean_se"]
  assert m == pytest.approx(0.8) and se == pytest.approx(0.1 / np.sqrt(3))  # std(0.9, 0.7, 0.8) = 0.1
  p = out["codesign_minus"]["fixed_network"]["best"]
  # differences 0.1, -0.05, 0.2: mean 0.0833, sample std 0.1258, t = 1.147 with 2 dof -> p = 0.370
  assert p["mean_diff"] == pytest.approx(0.25 / 3) and p["wins"] == 2 and p["n"] == 3
  assert p["se_diff"] == pytest.approx(np.std([0.1, -0.05, 0.2], ddof=1) / np.sqrt(3))
  assert p["t_test_p"] == pytest.approx(0.370, abs=2e-3)
  assert "wilcoxon_p" not in p  # fewer than 5 seeds


def test_config_file_errors_name_the_file_and_help_survives(tmp_path):
  from launch import codesign as launch_codesign
  broken = tmp_path / "broken.py"
  broken.write_text("def get_config():\n  return {}['missing']\n")
  with pytest.raises(ConfigError, match=r"broken.py.*failed to load: KeyError") as info:
    codesign.load_config(str(broken))
  assert isinstance(info.value.__cause__, KeyError)
  (tmp_path / "syntax.py").write_text("def get_config(:\n")
  with pytest.raises(ConfigError, match="failed to load: SyntaxError"):
    codesign.load_config(str(tmp_path / "syntax.py"))
  (tmp_path / "empty.py").write_text("x = 1\n")
  with pytest.raises(ConfigError, match="defines no get_config"):
    codesign.load_config(str(tmp_path / "empty.py"))
  text = launch_codesign._config_help(["prog", f"--config={broken}"])
  assert "unavailable" in text and "KeyError" in text
