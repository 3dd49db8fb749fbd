"""`text2tracks experiment` end to end on the tiny world: stages, reports, resume."""

import json

import pytest

from text2tracks_jax import cli
from text2tracks_jax.data.errors import SettingsError

TINY = ["--gin_file=gin_configs/runs/demo.gin",
        "--gin.run_experiment.prepare_options={'preset': 'tiny'}",
        "--gin.run_experiment.strategies=['track-int', 'semantic-ids-cf']",
        "--gin.run_experiment.baselines=['popularity', 'bm25', 'cooccurrence']",
        "--gin.run_experiment.diversity_penalties=[0.0, 1.0]",
        "--gin.run_experiment.best_strategy='semantic-ids-cf'",
        "--gin.run_experiment.best_seeds=2",
        "--gin.train.max_steps=20", "--gin.train.log_every_steps=10",
        "--gin.infer.num_beams=10", "--gin.infer.num_beam_groups=5"]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("exp") / "tinyexp"
  assert cli.main(["experiment", "--workdir", str(workdir)] + TINY) == 0
  return workdir


def test_every_report_is_written(experiment):
  table2 = (experiment / "table2" / "table2.md").read_text()
  for strategy in ("track-int", "semantic-ids-cf"):
    assert strategy in table2
  # semantic IDs decode in 3 steps; track-int IDs take at least one token each.
  row = next(line for line in table2.splitlines() if "semantic-ids-cf" in line)
  assert "| 3.0 / 3 |" in row
  # The query information in the first ID token is measured from the train cache.
  assert "query info in 1st token (nats)" in table2
  float(row.split("|")[8])
  # Query dependence: jaccard@10 and distinct tracks@10 after it, in every report.
  assert "| jaccard@10 | distinct tracks@10 |" in table2
  assert 0.0 <= float(row.split("|")[9]) <= 1.0 and int(row.split("|")[10]) >= 10
  metrics3 = json.loads((experiment / "table3" / "metrics.json").read_text())
  # Table 3 reads the separately trained best model (demo.gin's best_train), named with its
  # budget, and the ensemble of it and a second seed (best_seeds=2), the system shown.
  # demo.gin's model: the MiniLM encoder, top 2 layers trained (its _minilm task).
  label = ("semantic-ids-cf, model_overrides={'encoder': 'minilm', 'frozen_encoder_layers': 4}, "
           "num_epochs=2")
  single = f"text2tracks ({label})"
  best = f"text2tracks ({label}, ensemble of 2 seeds)"
  assert set(metrics3) == {single, best, "popularity", "bm25", "cooccurrence"}
  configs = [json.loads((experiment / "train" / m / "train_config.json").read_text())
             for m in ("semantic-ids-cf+", "semantic-ids-cf+seed1")]
  assert [c["seed"] for c in configs] == [0, 1]
  assert {c["task"] for c in configs} == {"text2tracks_tinyexp_semantic_ids_cf_minilm"}
  assert configs[0]["total_steps"] == configs[1]["total_steps"]
  summary = json.loads((experiment / "predictions" / "semantic-ids-cf+ensemble2.summary.json")
                       .read_text())
  assert summary["workdirs"] == [str(experiment / "train" / m)
                                 for m in ("semantic-ids-cf+", "semantic-ids-cf+seed1")]
  showcase = (experiment / "showcase" / "showcase.md").read_text()
  assert showcase.count(f"**{best}**") == 3 and showcase.count("**cooccurrence**") == 3
  assert f"**{single}**" not in showcase
  assert metrics3["popularity"]["jaccard@10"] == 1.0
  assert metrics3["popularity"]["distinct_tracks@10"] == 10
  assert "| jaccard@10 | distinct_tracks@10 |" in (experiment / "table3" / "table.md").read_text()
  assert "| jaccard@10 | distinct tracks@10 |" in (experiment / "figure3" / "figure3.md").read_text()
  table3 = (experiment / "table3" / "table3.md").read_text()
  assert f"{best}: " in table3 and "x bm25's hits@10" in table3
  assert "x cooccurrence's hits@10" in table3
  assert (experiment / "figure3" / "figure3.png").read_bytes()[:4] == b"\x89PNG"
  metrics3 = json.loads((experiment / "figure3" / "metrics.json").read_text())
  assert set(metrics3) == {"penalty=0", "penalty=1"}
  distinct = (experiment / "distinct" / "distinct.md").read_text()
  assert "distinct on" in distinct and "distinct off" in distinct
  assert "| jaccard@10 | distinct tracks@10 |" in distinct
  summary = json.loads((experiment / "experiment.json").read_text())
  # prepare, 2 x (ids, train, infer), 2 x (train, infer) for best_train's two seeds,
  # the ensemble, 3 baselines, 2 sweep points, the ablation.
  assert len(summary["stage_seconds"]) == 1 + 3 * 2 + 2 * 2 + 1 + 3 + 2 + 1


def test_rerun_skips_completed_stages(experiment, capsys):
  assert cli.main(["experiment", "--workdir", str(experiment)] + TINY) == 0
  err = capsys.readouterr().err  # the stages' progress lines are logged
  assert err.count("skipped") == 1 + 3 * 2 + 2 * 2 + 1 + 3 + 2 + 1
  assert ": running (experiment time" not in err  # no stage ran again


def test_changed_settings_are_refused_not_mixed(experiment):
  with pytest.raises(SettingsError, match="other settings"):
    from text2tracks_jax.experiments import runner  # pylint: disable=import-outside-toplevel
    cli.parse_gin(_Args(TINY + ["--gin.train.max_steps=25"]), ["text2tracks_jax.experiments.runner"])
    runner.run_experiment(workdir=str(experiment))
  assert cli.main(["experiment", "--workdir", str(experiment)] + TINY +
                  ["--gin.train.max_steps=25"]) == cli.EXIT_BAD_INPUT


class _Args:
  def __init__(self, argv):
    rest, self.gin_bindings = cli._split_gin_bindings(argv)  # pylint: disable=protected-access
    self.gin_file = [a.split("=", 1)[1] for a in rest if a.startswith("--gin_file=")]


def test_sweep_report_puts_runs_side_by_side(experiment, tmp_path, capsys):
  from text2tracks_jax.experiments import sweep  # pylint: disable=import-outside-toplevel
  out = tmp_path / "sweep"
  assert sweep.main([str(experiment), "--out", str(out)]) == 0
  text = (out / "sweep.md").read_text()
  assert "| system | 2k tracks (" in text
  row = next(line for line in text.splitlines() if line.startswith("| semantic-ids-cf |"))
  assert "nats)" in row  # ID strategies carry their first-token information
  assert not any(line.startswith("| text2tracks (") for line in text.splitlines())
  assert "| cooccurrence |" in text
  assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
  # Not an experiment workdir: a clear error and exit code 2, nothing written.
  assert sweep.main([str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
  assert "not an experiment workdir" in capsys.readouterr().err
  assert not (tmp_path / "x").exists()


def test_a_rebuilt_id_map_under_a_trained_model_is_refused(experiment, capsys):
  import shutil  # pylint: disable=import-outside-toplevel
  ids = experiment / "ids" / "track-int"
  shutil.copytree(ids, experiment.parent / "track-int.saved")
  try:
    assert cli.main(["build-ids", "--data", str(experiment / "data"), "--strategy", "track-int",
                     "--seed", "1", "--overwrite", "--out", str(ids)]) == 0
    capsys.readouterr()
    # Every stage is complete, so nothing would re-decode: the runner checks anyway.
    assert cli.main(["experiment", "--workdir", str(experiment)] + TINY) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err  # the skipped stages' lines, then the error
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"ID map {ids} changed" in errors[0], err
    assert "Traceback" not in err
  finally:
    shutil.rmtree(ids)
    shutil.copytree(experiment.parent / "track-int.saved", ids)
