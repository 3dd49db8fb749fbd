"""`seqio.cache_tasks_main` caches a task with Apache Beam's DirectRunner, and the
cached task reads back the same examples (needs the `cache` extra)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_cache_tasks_main_round_trip(tmp_path):
  pytest.importorskip("apache_beam")
  import seqio  # pylint: disable=import-outside-toplevel
  from text2tracks_jax import ids  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.data import prepare  # pylint: disable=import-outside-toplevel
  import tasks  # pylint: disable=import-outside-toplevel
  run_dir = tmp_path / "cachetest"
  prepare.prepare("synthetic", run_dir / "data", preset="tiny")
  ids.build_ids(run_dir / "data", "track-int", run_dir / "ids" / "track-int")
  (name,) = tasks.register_run(run_dir)
  env = {**os.environ, "TEXT2TRACKS_RUN_DIRS": str(run_dir),
         "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
  subprocess.run([sys.executable, "-m", "seqio.scripts.cache_tasks_main", "--module_import=tasks",
                  f"--tasks={name}", f"--output_cache_dir={tmp_path / 'cache'}",
                  "--pipeline_options=--runner=DirectRunner"], env=env, check=True,
                 capture_output=True, timeout=900)
  seqio.add_global_cache_dirs([str(tmp_path / "cache")])
  task = seqio.get_mixture_or_task(name)
  fresh = sorted((r["query_id"], r["track_id"]) for r in
                 task.get_dataset(None, split="train", shuffle=False).as_numpy_iterator())
  cached = sorted((r["query_id"], r["track_id"]) for r in task.get_dataset(
      None, split="train", shuffle=False, use_cached=True).as_numpy_iterator())
  assert cached == fresh and len(fresh) > 1000
