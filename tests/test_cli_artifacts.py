"""Nothing lost, nothing silently wrong, one-line errors (issue 14), through the CLI.

`--out` never deletes what is not an artifact of its kind and replaces one only
with `--overwrite`; a trained model is pinned to the fingerprints of its data,
ID map and vocabulary, and a workdir to its task; failed commands leave
nothing behind; user mistakes exit 2 with one line on stderr.
"""

import json
import os
import re
import subprocess
import sys

import pytest

from text2tracks_jax import cli
from text2tracks_jax.training import fingerprints

TASK = "text2tracks_world_track_int"


def _run(capsys, argv):
  """(exit code, stderr) of `text2tracks ARGV` run in-process."""
  rc = cli.main(argv)
  return rc, capsys.readouterr().err


def _one_error_line(err: str) -> str:
  lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
  assert len(lines) == 1 and "Traceback" not in err, err
  return lines[0]


def _prepare(out, *flags):
  return ["prepare", "--source", "synthetic", "--preset", "tiny", "--out", str(out), *flags]


def _build_ids(run, *flags):
  return ["build-ids", "--data", str(run / "data"), "--strategy", "track-int",
          "--out", str(run / "ids" / "track-int"), *flags]


def _train(run, workdir, task=TASK, *flags):
  return ["train", "--gin_file=gin_configs/runs/train_tiny.gin", f"--gin.train.run_dir='{run}'",
          f"--gin.train.task='{task}'", f"--gin.train.workdir='{workdir}'",
          "--gin.train.max_steps=2", "--gin.train.batch_size=8", *flags]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """(run dir, workdir) of a 2-step track-int model on the tiny world."""
  run = tmp_path_factory.mktemp("pinned") / "world"
  assert cli.main(_prepare(run / "data")) == 0
  assert cli.main(_build_ids(run)) == 0
  workdir = run.parent / "train"
  assert cli.main(_train(run, workdir)) == 0
  return run, workdir


def _listing(path):
  return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# -- A1: --out ------------------------------------------------------------------
def test_prepare_refuses_a_directory_that_is_not_a_dataset(tmp_path, capsys):
  out = tmp_path / "x"
  out.mkdir()
  (out / "notes.txt").write_text("hi")
  rc, err = _run(capsys, _prepare(out, "--overwrite"))
  assert rc == 2 and str(out) in _one_error_line(err) and "not a prepared dataset" in err
  assert _listing(out) == ["notes.txt"] and (out / "notes.txt").read_text() == "hi"
  assert [p.name for p in tmp_path.iterdir()] == ["x"]  # no temporary left either


def test_prepare_replaces_a_dataset_only_with_overwrite_and_respects_umask(tmp_path, capsys):
  old = os.umask(0o022)
  try:
    out = tmp_path / "data"
    assert cli.main(_prepare(out)) == 0
    assert out.stat().st_mode & 0o777 == 0o755  # not mkdtemp's 0700
    manifest = (out / "manifest.json").read_text()
    rc, err = _run(capsys, _prepare(out, "--seed", "1"))
    assert rc == 2 and "--overwrite" in _one_error_line(err)
    assert (out / "manifest.json").read_text() == manifest
    assert cli.main(_prepare(out, "--seed", "1", "--overwrite")) == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 1
    assert out.stat().st_mode & 0o777 == 0o755
  finally:
    os.umask(old)


def test_build_ids_refuses_other_content_and_needs_overwrite(trained, tmp_path, capsys):
  run, _ = trained
  data = _listing(run / "data")
  rc, err = _run(capsys, ["build-ids", "--data", str(run / "data"), "--strategy", "track-int",
                          "--out", str(run / "data"), "--overwrite"])
  assert rc == 2 and "not an ID map (a prepared dataset)" in _one_error_line(err)
  assert _listing(run / "data") == data
  notes = tmp_path / "notes"
  notes.mkdir()
  (notes / "n.txt").write_text("hi")
  rc, err = _run(capsys, ["build-ids", "--data", str(run / "data"), "--strategy", "track-int",
                          "--out", str(notes), "--overwrite"])
  assert rc == 2 and str(notes) in _one_error_line(err) and _listing(notes) == ["n.txt"]
  rc, err = _run(capsys, _build_ids(run))
  assert rc == 2 and "pass --overwrite" in _one_error_line(err)


# -- A5: leftovers ------------------------------------------------------------------
def test_leftovers_of_a_killed_prepare_are_removed_on_the_next_run(tmp_path):
  dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                        capture_output=True, text=True, check=True).stdout.strip()
  stale = [tmp_path / f".data.tmp-{dead}-k1ll3d", tmp_path / ".data.tmp-0ldst4le",
           tmp_path / f".data.old-{dead}"]
  kept = [tmp_path / f".data.tmp-{os.getpid()}-alive", tmp_path / f".other.tmp-{dead}-x"]
  for d in stale + kept:
    d.mkdir()
    (d / "train.parquet").write_bytes(b"partial")
  assert cli.main(_prepare(tmp_path / "data")) == 0
  assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["data"] + [d.name for d in kept])


def test_train_with_an_unknown_task_lists_the_runs_tasks_and_writes_nothing(trained, tmp_path,
                                                                           capsys):
  run, _ = trained
  rc, err = _run(capsys, _train(run, tmp_path / "wd", task="text2tracks_world_nope"))
  line = _one_error_line(err)
  assert rc == 2 and "unknown task 'text2tracks_world_nope'" in line and TASK in line
  assert not (tmp_path / "wd").exists()


def test_infer_and_recommend_without_a_model_exit_2_and_write_nothing(trained, tmp_path, capsys):
  _, workdir = trained
  empty = tmp_path / "empty"
  empty.mkdir()
  for argv in (["infer", "--workdir", str(empty)], ["recommend", "--workdir", str(empty), "jazz"]):
    rc, err = _run(capsys, argv)
    assert rc == 2 and "no train_config.json" in _one_error_line(err)
  assert _listing(empty) == []
  (empty / "train_config.json").write_text((workdir / "train_config.json").read_text())
  for argv in (["infer", "--workdir", str(empty)], ["recommend", "--workdir", str(empty), "jazz"]):
    rc, err = _run(capsys, argv)
    assert rc == 2 and "no complete checkpoint" in _one_error_line(err)
  assert _listing(empty) == ["train_config.json"]  # no empty checkpoints/


# -- A2, A3: a model is pinned to its workdir and its inputs ---------------------------
def test_train_refuses_a_workdir_of_another_task_before_writing(trained, capsys):
  run, workdir = trained
  assert cli.main(["build-ids", "--data", str(run / "data"), "--strategy",
                   "artist-int-track-seq", "--out", str(run / "ids" / "artist-int-track-seq")]) == 0
  before = {p: p.read_bytes() for p in workdir.rglob("*") if p.is_file()}
  rc, err = _run(capsys, _train(run, workdir, task="text2tracks_world_artist_int_track_seq"))
  line = _one_error_line(err)
  assert rc == 2 and f"task '{TASK}' -> 'text2tracks_world_artist_int_track_seq'" in line
  assert {p: p.read_bytes() for p in workdir.rglob("*") if p.is_file()} == before


def test_a_rebuilt_id_map_is_refused_by_infer_and_recommend(trained, capsys):
  run, workdir = trained
  info = json.loads((workdir / "train_config.json").read_text())
  assert set(info["fingerprints"]) == {"data", "id_map", "vocabulary"}
  assert cli.main(_build_ids(run, "--seed", "1", "--overwrite")) == 0
  try:
    for argv in (["infer", "--workdir", str(workdir)],
                 ["recommend", "--workdir", str(workdir), "jazz"]):
      rc, err = _run(capsys, argv)
      line = _one_error_line(err)
      assert rc == 2 and f"ID map {run / 'ids' / 'track-int'} changed" in line, line
    assert not list(workdir.glob("predictions*"))
  finally:  # the same build as the fixture's gives the same fingerprint back
    assert cli.main(_build_ids(run, "--overwrite")) == 0
  fingerprints.check_inputs(workdir, info)


# -- B: one-line errors -----------------------------------------------------------
def test_unknown_preset(tmp_path, capsys):
  rc, err = _run(capsys, ["prepare", "--source", "synthetic", "--preset", "huge",
                          "--out", str(tmp_path / "d")])
  line = _one_error_line(err)
  assert rc == 2 and "unknown synthetic preset 'huge'" in line and "tiny" in line
  assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag, expected", [
    ("--gin.train.nope=1", "doesn't have a parameter named 'nope'"),
    ("--gin.nosuch.fn=1", "No configurable matching 'nosuch'"),
    ("--gin_file=gin_configs/runs/nope.gin", "no such gin file"),
    ("--gin.train.task=text2tracks_world_track_int",
     "--gin.train.task=\"'text2tracks_world_track_int'\""),
])
def test_bad_gin_flags(tmp_path, capsys, flag, expected):
  argv = ["train", "--gin_file=gin_configs/runs/train_tiny.gin", flag,
          f"--gin.train.workdir='{tmp_path / 'wd'}'"]
  rc, err = _run(capsys, argv)
  assert rc == 2 and expected in _one_error_line(err)
  assert not (tmp_path / "wd").exists()


def test_baseline_out_must_not_be_a_directory(trained, tmp_path, capsys):
  run, _ = trained
  rc, err = _run(capsys, ["baseline", "--name", "popularity", "--data", str(run / "data"),
                          "--out", str(tmp_path)])
  assert rc == 2 and "is a directory" in _one_error_line(err)
  assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("top_n", ["-1", "0", "21"])
def test_recommend_top_n_out_of_range(tmp_path, capsys, top_n):
  rc, err = _run(capsys, ["recommend", "--workdir", str(tmp_path), "--top_n", top_n, "jazz"])
  assert rc == 2 and "between 1 and the number of beams (20)" in _one_error_line(err)


def test_build_ids_resolves_gin_files_from_outside_the_repository(trained, tmp_path,
                                                                  monkeypatch):
  run, _ = trained
  monkeypatch.chdir(tmp_path)
  assert cli.main(["build-ids", "--data", str(run / "data"),
                   "--gin_file=gin_configs/ids/track_int.gin", "--out", "ids"]) == 0
  assert json.loads((tmp_path / "ids" / "manifest.json").read_text())["strategy"] == "track-int"


def test_train_from_outside_the_repository_fails_in_one_line_as_a_process(trained, tmp_path):
  """The console script: exit code 2, one line (TF's C++ start-up lines aside), and
  no gin "Path not found" for the search paths an include is not in."""
  run, _ = trained
  argv = _train(run, tmp_path / "wd", task="text2tracks_world_nope")
  proc = subprocess.run([sys.executable, "-m", "text2tracks_jax.cli", *argv], cwd=tmp_path,
                        capture_output=True, text=True, timeout=300,
                        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  lines = [line for line in proc.stderr.splitlines()
           if not re.match(r"[IWEF]\d{4} |WARNING: All log messages", line)]
  assert proc.returncode == 2 and len(lines) == 1, proc.stderr
  assert lines[0].startswith("error: train.task: unknown task") and TASK in lines[0]
  assert sorted(p.name for p in tmp_path.iterdir()) == []
