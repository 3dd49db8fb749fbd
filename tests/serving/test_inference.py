"""End to end through the CLI: prepare -> build-ids -> train -> infer / recommend."""

import json

import pytest

from text2tracks_jax import cli
from text2tracks_jax.data.dataset import PreparedDataset
from text2tracks_jax.serving.recommender import Recommender


@pytest.fixture(scope="module")
def trained(world):
  run = world
  workdir = run.parent / "train"
  assert cli.main(["train", "--gin_file=gin_configs/runs/train_tiny.gin",
                   f"--gin.train.run_dir='{run}'",
                   "--gin.train.task='text2tracks_world_semantic_ids_cf'",
                   f"--gin.train.workdir='{workdir}'", "--gin.train.max_steps=30",
                   "--gin.train.log_every_steps=10"]) == 0
  return run, workdir


def test_infer_writes_one_line_per_query_with_real_distinct_tracks(trained, capsys):
  run, workdir = trained
  out = workdir / "pred.jsonl"
  assert cli.main(["infer", "--workdir", str(workdir), "--split", "test", "--out", str(out),
                   "--gin.infer.num_beams=20", "--gin.infer.num_beam_groups=5"]) == 0
  prepared = PreparedDataset.load(run / "data")
  catalog = set(prepared.catalog(["track_id"]).column("track_id").to_pylist())
  rows = [json.loads(line) for line in out.read_text().splitlines()]
  assert [r["query_id"] for r in rows] == list(prepared.relevance("test"))
  for r in rows:
    assert len(r["track_ids"]) == 10 and len(set(r["track_ids"])) == 10
    assert set(r["track_ids"]) <= catalog
    assert len(set(r["generated_ids"])) == len(r["generated_ids"]) >= 10  # distinct IDs
    assert r["invalid_ids"] == 0
    assert r["scores"] == sorted(r["scores"], reverse=True)
  summary = json.loads(out.with_suffix(".summary.json").read_text())
  assert summary["queries"] == len(rows) and summary["invalid_id_share"] == 0
  assert "queries/s" in capsys.readouterr().err  # infer's progress and summary are logged


def test_recommend_reads_prompts_casefolded_as_the_model_was_trained(trained):
  _, workdir = trained
  rec = Recommender.load(workdir)
  tokens = rec.encode_queries(["Dark TECHNO  for the Gym", "dark techno for the gym"])
  assert (tokens[0] == tokens[1]).all()
  assert (tokens[0] != rec.encode_queries(["dark jazz for the gym"])[0]).any()


def test_recommend_handles_scripts_emoji_long_and_empty_prompts(trained, capsys):
  _, workdir = trained
  assert cli.main(["recommend", "--workdir", str(workdir), "深夜のジャズ 🎷 Canción"]) == 0
  printed = capsys.readouterr().out.splitlines()
  assert printed[0].split()[:3] == ["#", "track", "artist"] and len(printed) == 11
  assert cli.main(["recommend", "--workdir", str(workdir), "chill " * 200]) == 0
  assert "truncated" in capsys.readouterr().err
  assert cli.main(["recommend", "--workdir", str(workdir), "   "]) == cli.EXIT_BAD_INPUT
  assert "empty prompt" in capsys.readouterr().err


def test_infer_ensemble_of_two_models_and_mismatched_members(trained, tmp_path, capsys):
  run, workdir = trained
  other = tmp_path / "seed1"
  assert cli.main(["train", "--gin_file=gin_configs/runs/train_tiny.gin",
                   f"--gin.train.run_dir='{run}'",
                   "--gin.train.task='text2tracks_world_semantic_ids_cf'",
                   f"--gin.train.workdir='{other}'", "--gin.train.max_steps=30",
                   "--gin.train.seed=1", "--gin.train.log_every_steps=10"]) == 0

  def infer(*workdirs, out):
    flags = [f for w in workdirs for f in ("--workdir", str(w))]
    assert cli.main(["infer", *flags, "--split", "test", "--out", str(out)]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]

  # (generate's own tests check the mixture itself, and that a model twice is that model.)
  single = infer(workdir, out=tmp_path / "a.jsonl")
  both = infer(workdir, other, out=tmp_path / "ab.jsonl")
  assert all(len(r["track_ids"]) == 10 and r["invalid_ids"] == 0 for r in both)
  # Not the first member's lists: the ensemble decodes with both models' logits.
  assert [r["track_ids"] for r in both] != [r["track_ids"] for r in single]
  summary = json.loads((tmp_path / "ab.summary.json").read_text())
  assert summary["workdirs"] == [str(workdir), str(other)]

  config = json.loads((other / "train_config.json").read_text())
  (other / "train_config.json").write_text(json.dumps({**config, "inputs_length": 7}))
  capsys.readouterr()
  out = tmp_path / "bad.jsonl"
  assert cli.main(["infer", "--workdir", str(workdir), "--workdir", str(other),
                   "--out", str(out)]) == cli.EXIT_BAD_INPUT
  err = capsys.readouterr().err
  assert "field 'inputs_length'" in err and "ensemble" in err and not out.exists()
