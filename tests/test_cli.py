"""The console script: verbs exist, --help is fast, gin flags parse."""

import os
import subprocess
import sys

import pytest

from text2tracks_jax import cli

VERBS = ["prepare", "build-ids", "train", "infer", "evaluate", "baseline", "recommend",
         "experiment"]


def _help_in_a_fresh_process(modules) -> tuple:
  """(what `text2tracks --help` prints, which of `modules` it imported)."""
  code = ("import sys\nfrom text2tracks_jax import cli\n"
          "try:\n  cli.main(['--help'])\nexcept SystemExit: pass\n"
          f"print(sorted(m for m in {tuple(modules)!r} if m in sys.modules))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True, env={**os.environ}).stdout
  return out, out.splitlines()[-1]


def test_help_is_fast_and_imports_no_heavy_library():
  out, imported = _help_in_a_fresh_process(("tensorflow", "torch", "jax"))
  assert imported == "[]", out
  for verb in VERBS:
    assert verb in out


def test_gin_bindings_are_split_out():
  rest, bindings = cli._split_gin_bindings(
      ["train", "--gin_file=a.gin", "--gin.train.lr=0.1", "--gin.MODEL", "'small'"])
  assert rest == ["train", "--gin_file=a.gin"]
  assert bindings == ["train.lr = 0.1", "MODEL = 'small'"]


def test_prepare_requires_input_for_file_sources(tmp_path, capsys):
  assert cli.main(["prepare", "--source", "mpd", "--out", str(tmp_path / "d")]) == 2
  assert "needs --input" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--source", "jsonl", "--input", "q.jsonl", "--max_slices", "2"],
                                   ["--source", "synthetic", "--catalog", "c.jsonl"],
                                   ["--source", "cpcd", "--input", "x", "--dedupe_tracks"]])
def test_prepare_rejects_flags_of_other_sources(tmp_path, capsys, flags):
  assert cli.main(["prepare", "--out", str(tmp_path / "d")] + flags) == 2
  assert "is not used with --source" in capsys.readouterr().err
  assert not (tmp_path / "d").exists()


def test_build_ids_without_a_strategy_and_a_gin_flag_without_value_exit_2(tmp_path, capsys):
  assert cli.main(["build-ids", "--data", str(tmp_path), "--out", str(tmp_path / "ids")]) == 2
  assert "needs --strategy" in capsys.readouterr().err
  assert cli.main(["train", "--gin.train.task"]) == 2
  assert "--gin.train.task needs a value" in capsys.readouterr().err


@pytest.mark.parametrize("error", ["FlagError", "SettingsError", "InputError"])
def test_every_user_error_exits_2_with_one_line(error, capsys, monkeypatch):
  from text2tracks_jax.data import dataset, errors  # pylint: disable=import-outside-toplevel
  assert issubclass(dataset.DatasetError, errors.UserError)
  made = {"FlagError": lambda: errors.FlagError("--k: must be at least 1, got 0"),
          "SettingsError": lambda: errors.SettingsError("runs/x: stage changed"),
          "InputError": lambda: errors.InputError("q.jsonl", 3, "query", "missing")}[error]

  def fail(_):
    raise made()

  monkeypatch.setattr(cli, "_cmd_list", fail)
  assert cli.main(["list", "."]) == cli.EXIT_BAD_INPUT
  assert capsys.readouterr().err.splitlines() == [f"error: {made()}"]


def test_a_bug_is_not_a_user_error(monkeypatch):
  def fail(_):
    raise ValueError("a bug")

  monkeypatch.setattr(cli, "_cmd_list", fail)
  with pytest.raises(ValueError, match="a bug"):
    cli.main(["list", "."])


def test_name_choices_come_from_the_registries_and_load_only_when_used():
  # --help must not import the registries (numpy, gin); a verb's choices are theirs.
  out, imported = _help_in_a_fresh_process(("numpy", "gin", "text2tracks_jax.ids",
                                            "text2tracks_jax.baselines"))
  assert imported == "[]", out
  from text2tracks_jax import baselines, ids  # pylint: disable=import-outside-toplevel
  assert list(cli.ID_STRATEGIES) == sorted(ids.STRATEGIES)
  assert tuple(cli.BASELINES) == baselines.NAMES


@pytest.mark.parametrize("argv", [["build-ids", "--data", "d", "--out", "o", "--strategy", "nope"],
                                  ["baseline", "--data", "d", "--out", "o", "--name", "nope"]])
def test_unknown_strategy_or_baseline_names_the_registry(argv, capsys):
  with pytest.raises(SystemExit) as e:
    cli.main(argv)
  assert e.value.code == 2
  err = capsys.readouterr().err
  assert "invalid choice: 'nope'" in err and ("'track-int'" in err or "'bm25'" in err), err


def test_build_ids_verb_writes_an_id_map(tmp_path):
  from text2tracks_jax import ids  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.data import prepare  # pylint: disable=import-outside-toplevel
  prepare.prepare("synthetic", tmp_path / "data", preset="tiny")
  assert cli.main(["build-ids", "--data", str(tmp_path / "data"), "--strategy", "track-int",
                   "--out", str(tmp_path / "ids"), "--gin.build_ids.seed=3"]) == 0
  id_map = ids.load_id_map(tmp_path / "ids")
  assert id_map.strategy == "track-int"
  assert min(int(v) for v in id_map.track_to_id.values()) == 1000
