"""Nothing lost, nothing silently wrong, one-line errors (issue 14), through the CLI.

`--out` never deletes what is not an artifact of its kind and replaces one only
with `--overwrite`; a trained model is pinned to the fingerprints of its data,
ID map and vocabulary, and a workdir to its task; failed commands leave
nothing behind; user mistakes exit 2 with one line on stderr.
"""

import contextlib
import io
import json
import os
import re
import subprocess
import sys

import pytest

import tasks
from text2tracks_jax import cli
from text2tracks_jax.data.errors import SettingsError
from text2tracks_jax.training import fingerprints

TASK = "text2tracks_world_track_int"
TRAIN_OUTPUT = {}  # what the fixture's `train` printed: out, err


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
  out, err = io.StringIO(), io.StringIO()
  with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    assert cli.main(_train(run, workdir)) == 0
  TRAIN_OUTPUT.update(out=out.getvalue(), err=err.getvalue())
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


def test_a_model_that_read_queries_in_another_form_is_refused(trained, capsys):
  """A model trained before the casefolding (no "input_form") would get other
  tokens for the same prompt: recommend refuses it, and so does training into it."""
  _, workdir = trained
  path = workdir / "train_config.json"
  original = path.read_text()
  info = json.loads(original)
  assert info["input_form"] == tasks.INPUT_FORM
  del info["input_form"]
  path.write_text(json.dumps(info))
  try:
    rc, err = _run(capsys, ["recommend", "--workdir", str(workdir), "jazz"])
    line = _one_error_line(err)
    assert rc == 2 and "queries were read as written at training, normalize_query now" in line
    with pytest.raises(SettingsError, match="queries were read as written"):
      fingerprints.check_workdir(workdir, info["task"], info["model_config"],
                                 info["fingerprints"])
  finally:
    path.write_text(original)
  fingerprints.check_inputs(workdir, info | {"input_form": tasks.INPUT_FORM})


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


# -- C: a CLI that guides -------------------------------------------------------------
def test_train_says_what_it_does_and_ends_with_a_summary(trained):
  run, workdir = trained
  out = TRAIN_OUTPUT["err"]  # progress and the summary are logged (stderr)
  assert TRAIN_OUTPUT["out"] == ""
  order = [f"building the train examples of {TASK}", "built 4,535 train examples",
           "compiling the train step", "first step (compilation included) took",
           f"checkpoint step 2: {workdir}/checkpoints/2", "done: 2 steps", "final loss",
           f"checkpoint: {workdir}/checkpoints/2", f"text2tracks infer --workdir {workdir}",
           f"text2tracks recommend --workdir {workdir} \""]
  positions = [out.find(text) for text in order]
  assert -1 not in positions and positions == sorted(positions), out
  assert re.search(r"4,535 train pairs of [\d,]+ distinct queries and [\d,]+ distinct IDs",
                   out), out  # the fast path: each distinct query and ID tokenized once
  summary = json.loads((workdir / "train_summary.json").read_text())
  assert summary["step"] == 2 and isinstance(summary["final_loss"], float)
  assert f"final loss {summary['final_loss']:.4f}" in out
  assert TRAIN_OUTPUT["err"].count("I0000") == 0


def test_rerunning_a_finished_run_says_it_is_complete(trained, capsys):
  run, workdir = trained
  before = sorted(p.name for p in (workdir / "checkpoints").iterdir())
  config = (workdir / "train_config.json").read_bytes()
  assert cli.main(_train(run, workdir)) == 0
  out = capsys.readouterr().err
  assert f"{workdir} is complete: checkpoint step 2 of 2, nothing to train" in out
  assert "resumed from" not in out and "compiling" not in out
  assert f"from the cache {workdir}/cache/" in out  # examples not rebuilt
  assert "done: 2 steps" in out and f"text2tracks infer --workdir {workdir}" in out
  assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == before
  assert (workdir / "train_config.json").read_bytes() == config


def test_recommend_reads_prompts_from_stdin_and_compiles_once(trained, capsys, monkeypatch,
                                                             tmp_path):
  from text2tracks_jax.decoding import generation  # pylint: disable=import-outside-toplevel
  _, workdir = trained
  monkeypatch.setattr(sys, "stdin", io.StringIO("rainy sunday jazz\n\nsongs for the gym\n"))
  before = generation._generate._cache_size()  # pylint: disable=protected-access
  assert cli.main(["recommend", "--workdir", str(workdir), "--top_n", "3",
                   "--compilation_cache", str(tmp_path / "cache"),
                   "--gin.recommend.diversity_penalty=0.5"]) == 0
  assert generation._generate._cache_size() - before <= 1  # pylint: disable=protected-access
  out = capsys.readouterr().out
  assert out.count("  track  ") == 2, out  # one table per non-blank prompt
  assert "\nrainy sunday jazz\n" in out and "\nsongs for the gym\n" in out
  assert len([line for line in out.splitlines() if re.match(r"\s+[123]  ", line)]) == 6
  assert list((tmp_path / "cache").iterdir())  # the persistent compilation cache is written


def test_jax_verbs_print_no_tensorflow_startup_lines(trained, tmp_path):
  """`recommend` as a process, TF_CPP_MIN_LOG_LEVEL=2 as users set it: stderr is empty
  (TF's absl start-up lines and `failed call to cuInit` are gone)."""
  _, workdir = trained
  proc = subprocess.run([sys.executable, "-m", "text2tracks_jax.cli", "recommend", "--workdir",
                         str(workdir), "--compilation_cache", "none", "jazz for a rainy day"],
                        cwd=tmp_path, capture_output=True, text=True, timeout=300,
                        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
  assert proc.returncode == 0 and proc.stderr == "", proc.stderr
  assert proc.stdout.count("\n") == 11  # header + 10 tracks


def test_list_shows_datasets_id_maps_tasks_models_and_predictions(trained, capsys):
  run, workdir = trained
  assert cli.main(["baseline", "--name", "popularity", "--data", str(run / "data"),
                   "--out", str(run.parent / "popularity.test.jsonl")]) == 0
  capsys.readouterr()
  assert cli.main(["list", str(run.parent)]) == 0
  out = capsys.readouterr().out
  sections = {title: body for title, body in
              zip(*[iter(re.split(r"\n\n(datasets|ID maps|trained models|predictions)\n",
                                  out)[1:])] * 2)}
  assert set(sections) == {"datasets", "ID maps", "trained models", "predictions"}, out
  assert re.search(r"world/data\s+synthetic\s+500 \(4,535\)\s+80 \(652\)\s+60 \(281\)"
                   r"\s+2,000", sections["datasets"]), out
  assert re.search(rf"world/ids/track-int\s+track-int\s+2,000\s+2,000\s+{TASK}\b",
                   sections["ID maps"]), out
  loss = json.loads((workdir / "train_summary.json").read_text())["final_loss"]
  assert re.search(rf"train\s+{TASK}\s+2/2\s+{loss:.4f}\s+-\s+train/checkpoints/2",
                   sections["trained models"]), out
  assert re.search(r"popularity.test.jsonl\s+popularity\s+test\s+60", sections["predictions"])


def test_list_task_names_are_the_tasks_packages():
  import tasks  # pylint: disable=import-outside-toplevel
  for dataset, strategy in (("world", "track-int"), ("my-run.2", "semantic-ids-cf")):
    assert cli.task_name(dataset, strategy) == tasks.task_name(dataset, strategy)


def test_build_ids_shows_word2vec_and_dictionary_learning_progress(trained, tmp_path, capsys,
                                                                  monkeypatch):
  from text2tracks_jax.ids import discretizers  # pylint: disable=import-outside-toplevel
  run, _ = trained
  monkeypatch.setattr(discretizers, "PROGRESS_EVERY_S", 0.0)
  assert cli.main(["build-ids", "--data", str(run / "data"), "--strategy", "semantic-ids-cf",
                   "--out", str(tmp_path / "ids"), "--gin.sparse_coding.batch_size=128"]) == 0
  err = capsys.readouterr().err
  assert re.search(r"word2vec: EPOCH 9: training on \d+ raw words .* effective words/s", err)
  assert re.search(r"word2vec: \d+ tracks from \d+ playlists", err)
  assert "sparse coding: fitting 512 atoms on" in err
  assert re.search(r"sparse coding: mini-batch \d+/\d+, [\d.]+/s, ETA \d+s", err), err
  assert "sparse coding: dictionary fitted in" in err


def test_help_names_required_bindings_presets_and_each_verbs_own_bindings(capsys):
  def help_of(*verb):
    with pytest.raises(SystemExit):
      cli.main([*verb, "--help"])
    return re.sub(r"\s+", " ", capsys.readouterr().out)
  train = help_of("train")
  for binding in ("train.workdir", "train.task", "train.model_config", "train.run_dir"):
    assert f"{binding} " in train
  assert "~29k steps" in train and "max_steps" in train
  for verb, own in (("infer", "--gin.infer."), ("recommend", "--gin.recommend."),
                    ("baseline", "--gin.bm25."), ("build-ids", "--gin.sparse_coding.")):
    text = help_of(verb)
    assert own in text and "--gin.train." not in text.replace("--gin.train.task=", ""), verb
  prepare = help_of("prepare")
  assert "tiny, demo, scale-20k, scale-60k, scale-150k, paper (default demo" in prepare
  assert "stdin" in help_of("recommend")


def test_every_flag_has_help_and_the_preset_list_is_the_worlds():
  from text2tracks_jax.data.synthetic import PRESETS  # pylint: disable=import-outside-toplevel
  assert cli.SYNTHETIC_PRESETS == list(PRESETS)
  parser = cli.build_parser()
  verbs = next(a for a in parser._actions if a.dest == "verb").choices  # pylint: disable=protected-access
  missing = [f"{verb} {'/'.join(a.option_strings) or a.dest}"
             for verb, sub in verbs.items() for a in sub._actions  # pylint: disable=protected-access
             if a.dest != "help" and not a.help]
  assert not missing, missing


def test_train_model_overrides_change_the_model_and_unknown_fields_are_refused(
    trained, tmp_path, capsys):
  run, workdir = trained
  base = json.loads((workdir / "train_config.json").read_text())
  rc, err = _run(capsys, _train(run, tmp_path / "wide", TASK,
                                "--gin.train.model_overrides={'d_model': 64, 'd_ff': 96}"))
  assert rc == 0, err
  info = json.loads((tmp_path / "wide" / "train_config.json").read_text())
  assert (info["model_config"]["d_model"], info["model_config"]["d_ff"]) == (64, 96)
  assert info["num_params"] < base["num_params"]
  rc, err = _run(capsys, _train(run, tmp_path / "typo", TASK,
                                "--gin.train.model_overrides={'d_modle': 64}"))
  assert rc == 2 and "unknown T5Config fields ['d_modle']" in _one_error_line(err)
  assert not (tmp_path / "typo").exists()


def test_compilation_cache_takes_effect_after_an_earlier_compile(tmp_path):
  """In a process that compiled before (a notebook, this test suite), the
  directory given last is the one written."""
  code = ("import os, sys, jax, jax.numpy as jnp; from text2tracks_jax import cli; "
          "cli.enable_compilation_cache(sys.argv[1]); jax.jit(lambda x: x * 2)(jnp.ones(3)); "
          "cli.enable_compilation_cache(sys.argv[2]); jax.jit(lambda x: x * 3 + 1)(jnp.ones(4)); "
          "print(len(os.listdir(sys.argv[2])))")
  out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a"), str(tmp_path / "b")],
                       capture_output=True, text=True, check=True)
  assert int(out.stdout.split()[-1]) > 0
