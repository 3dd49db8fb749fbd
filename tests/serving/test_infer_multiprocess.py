"""Batch inference under N processes: each decodes its share, process 0 merges the
parts into one predictions file in query order, equal to a 1-process run. The
model is trained by 2 processes (validation decoding included), so its
checkpoint is read back by 1 and by 2 processes."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from text2tracks_jax.serving import inference, recommender

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("n,world", [(37, 2), (40, 4), (3, 4), (0, 2), (5, 1)])
def test_shard_bounds_cover_queries_in_order_evenly(n, world):
  bounds = [inference.shard_bounds(n, r, world) for r in range(world)]
  assert [i for lo, hi in bounds for i in range(lo, hi)] == list(range(n))
  sizes = [hi - lo for lo, hi in bounds]
  assert max(sizes) - min(sizes) <= 1


def _env():
  env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
  env.pop("XLA_FLAGS", None)
  return env


@pytest.fixture(scope="module")
def trained(world):
  """A tiny run trained by 2 processes, with validation decoding during training."""
  run = world
  workdir = run.parent / "train"
  cmd = [sys.executable, "-m", "launch.local", "--num_processes", "2", "--",
         sys.executable, "-m", "text2tracks_jax.cli", "train",
         "--gin_file=gin_configs/runs/train_tiny.gin", f"--gin.train.run_dir='{run}'",
         "--gin.train.task='text2tracks_world_semantic_ids_cf'",
         f"--gin.train.workdir='{workdir}'", "--gin.train.max_steps=20",
         "--gin.train.log_every_steps=10", "--gin.train.eval_every_steps=10",
         "--gin.train.eval_queries=16"]
  proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)
  assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
  for rank in (0, 1):  # every process decoded the validation queries
    assert f"[{rank}] step 20: validation hits@10" in proc.stdout
  # ... and both report the same validation loss over all validation pairs
  losses = {rank: re.search(rf"\[{rank}\] step 20: validation loss ([0-9.]+)", proc.stdout)
            for rank in (0, 1)}
  assert all(losses.values()) and losses[0].group(1) == losses[1].group(1)
  return workdir


def _infer(workdir, out, processes, devices):
  cmd = [sys.executable, "-m", "launch.local", "--num_processes", str(processes),
         "--devices_per_process", str(devices), "--",
         sys.executable, "-m", "text2tracks_jax.cli", "infer", "--workdir", str(workdir),
         "--split", "test", "--out", str(out), "--gin.infer.max_queries=37",
         "--gin.infer.batch_size=8", "--gin.infer.num_beams=10",
         "--gin.infer.num_beam_groups=5"]
  proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
  return proc.stdout


def test_two_processes_write_what_one_process_writes(trained, tmp_path):
  _infer(trained, tmp_path / "one.jsonl", processes=1, devices=1)
  # 2 processes x 2 devices: shares of 19 and 18 queries, batches split over 2 devices.
  out = _infer(trained, tmp_path / "two.jsonl", processes=2, devices=2)
  assert "[0] wrote" in out and "[1] wrote" not in out  # process 0 merges
  one = (tmp_path / "one.jsonl").read_text().splitlines()
  two = (tmp_path / "two.jsonl").read_text().splitlines()
  assert len(one) == 37
  rows_one, rows_two = [json.loads(l) for l in one], [json.loads(l) for l in two]
  assert [r["query_id"] for r in rows_two] == [r["query_id"] for r in rows_one]
  for a, b in zip(rows_one, rows_two):
    assert a["track_ids"] == b["track_ids"] and a["generated_ids"] == b["generated_ids"]
    assert a["scores"] == pytest.approx(b["scores"], rel=1e-5, abs=1e-5)
  summary = json.loads((tmp_path / "two.summary.json").read_text())
  assert summary["queries"] == 37 and summary["processes"] == 2
  assert sorted(p.name for p in tmp_path.iterdir()) == [
      "one.jsonl", "one.summary.json", "two.jsonl", "two.summary.json"]  # no parts left


@pytest.mark.slow
def test_task_trie_for_t5x_is_the_recommenders_trie(trained):
  """`recommender.task_trie` (the constraint bound in gin_configs/t5x/) equals the
  trie `text2tracks infer` decodes under."""
  import jax  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  rec = recommender.Recommender.load(trained)
  info = json.loads((trained / "train_config.json").read_text())
  trie = recommender.task_trie(info["run_dir"], info["task"], rec.model.config.vocab_size)
  assert trie.num_leaves == len(rec.id_map.id_to_tracks)
  for a, b in zip(jax.tree.leaves(trie), jax.tree.leaves(rec.trie)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
