"""A model with the pretrained MiniLM encoder, end to end through the CLI:
train (encoder frozen, warm-started) -> infer -> recommend, and the refusals."""

import json

import jax
import numpy as np
import pytest

from text2tracks_jax import cli
from text2tracks_jax.models import bert
from text2tracks_jax.serving.recommender import Recommender
from text2tracks_jax.training import checkpoints

TRAIN = ["train", "--gin_file=gin_configs/runs/train_tiny.gin",
         "--gin_file=gin_configs/models/minilm_t5.gin", "--gin.train.max_steps=20",
         "--gin.train.log_every_steps=10", "--gin.train.inputs_length=24"]


@pytest.fixture(scope="module")
def trained(world):
  workdir = world.parent / "train-minilm"
  assert cli.main(TRAIN + [f"--gin.train.run_dir='{world}'",
                           "--gin.train.task='text2tracks_world_semantic_ids_cf_minilm'",
                           f"--gin.train.workdir='{workdir}'"]) == 0
  return world, workdir


def test_the_frozen_encoder_is_the_checkpoint_and_is_recorded(trained):
  _, workdir = trained
  info = json.loads((workdir / "train_config.json").read_text())
  assert info["model_config"]["encoder"] == "minilm"
  assert info["model_config"]["frozen_encoder_layers"] == 6
  assert info["fingerprints"]["input_vocabulary"]["path"].endswith("vocab.txt")
  params = checkpoints.load_trained(workdir)[1]
  pretrained = bert.load_checkpoint("minilm")
  for a, b in zip(jax.tree.leaves(params["encoder"]["bert"]), jax.tree.leaves(pretrained)):
    np.testing.assert_array_equal(np.asarray(a), b)


def test_infer_and_recommend_read_wordpiece_queries(trained, capsys):
  run, workdir = trained
  out = workdir / "pred.jsonl"
  assert cli.main(["infer", "--workdir", str(workdir), "--split", "test", "--out", str(out)]) == 0
  rows = [json.loads(line) for line in out.read_text().splitlines()]
  assert rows and all(len(r["track_ids"]) == 10 and r["invalid_ids"] == 0 for r in rows)
  rec = Recommender.load(workdir)
  tokens = rec.encode_queries(["Dark Techno for the Gym"])[0]
  assert tokens[0] == 101 and list(tokens[tokens > 0])[-1] == 102  # [CLS] ... [SEP]
  capsys.readouterr()
  assert cli.main(["recommend", "--workdir", str(workdir), "chill lofi vibes to focus"]) == 0
  assert len(capsys.readouterr().out.splitlines()) == 11


def test_a_task_in_the_other_vocabulary_is_refused(world, tmp_path, capsys):
  code = cli.main(TRAIN + [f"--gin.train.run_dir='{world}'",
                           "--gin.train.task='text2tracks_world_semantic_ids_cf'",
                           f"--gin.train.workdir='{tmp_path / 'w'}'"])
  assert code == cli.EXIT_BAD_INPUT
  assert "text2tracks_world_semantic_ids_cf_minilm" in capsys.readouterr().err
  assert not (tmp_path / "w").exists()
