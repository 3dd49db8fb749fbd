"""What a trained model is bound to: its task, model config and input artifacts.

`text2tracks train` records in WORKDIR/train_config.json, under
"fingerprints", the SHA-256 of each artifact the model depends on, with its
path:

  data         the prepared dataset (from its manifest: the hashes of its files)
  id_map       the task's ID map (from its manifest: the hashes of the map
               itself, track -> ID, ID -> tracks and the new tokens)
  vocabulary   the task's SentencePiece model (the file's hash)
  input_vocabulary  the query vocabulary where it is not that model (a
               pretrained encoder's WordPiece vocab.txt; the file's hash)

`check_inputs` recomputes them: `infer`, `recommend` and the experiment
runner refuse a model whose inputs changed since it was trained (an ID map
rebuilt with another seed decodes to other tracks). `check_workdir` refuses,
before anything is written, to train into a workdir that holds a model of
another task, model config or vocabulary. Both also compare the form in which
the model reads queries ("input_form", `tasks.INPUT_FORM`): a model trained on
queries as written (before the field existed) is refused, not fed casefolded
ones.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from etils import epath

from text2tracks_jax.data import outputs
from text2tracks_jax.data.errors import InputError, SettingsError

TRAIN_CONFIG = "train_config.json"
LABELS = {"data": "prepared dataset", "id_map": "ID map", "vocabulary": "vocabulary",
          "input_vocabulary": "input vocabulary"}
# The files of an ID map that decide what a generated ID means (stats.json
# holds timings and differs on every build).
ID_MAP_FILES = ("id_map.parquet", "id_to_tracks.parquet", "new_tokens.json")
# Numerics that do not change what a model computes: free to differ on resume.
RUNTIME_FIELDS = ("dtype", "remat_policy", "float32_logits")


def _digest(obj) -> str:
  return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _manifest(path) -> dict:
  return json.loads((Path(path) / "manifest.json").read_text())


def sha256(name: str, path) -> str:
  """The fingerprint of input `name` (a key of LABELS) at `path`."""
  if name == "data":
    return _digest(_manifest(path)["outputs"])
  if name == "id_map":
    files = _manifest(path)["files"]
    return _digest({f: files[f] for f in ID_MAP_FILES if f in files})
  if name in ("vocabulary", "input_vocabulary"):
    return outputs.file_sha256(path)
  raise ValueError(f"unknown input {name!r}; expected one of {sorted(LABELS)}")


def record(**paths) -> dict:
  """{name: {"path", "sha256"}} for inputs given as name=path (None: skipped)."""
  return {name: {"path": str(Path(p).absolute()), "sha256": sha256(name, p)}
          for name, p in paths.items() if p is not None}


def read_train_config(workdir) -> dict:
  """WORKDIR/train_config.json; `InputError` if it is not a training workdir."""
  path = epath.Path(workdir) / TRAIN_CONFIG
  if not path.exists():
    raise InputError(workdir, None, None, f"no {TRAIN_CONFIG}: not a `text2tracks train` "
                     "workdir (train first)")
  return json.loads(path.read_text())


def input_form() -> str:
  """How models read queries now: `tasks.INPUT_FORM` (see `tasks.model_input`)."""
  import tasks  # pylint: disable=import-outside-toplevel  # lazy: TensorFlow (~4 s)
  return tasks.INPUT_FORM


def _form_change(recorded) -> list:
  now = input_form()
  return [] if recorded == now else [
      f"queries were read {recorded or 'as written'} at training, {now} now"]


def check_inputs(workdir, info: dict) -> None:
  """Raises `SettingsError` (one line, what changed) if an input of the model in
  `workdir` (its train_config `info`), or the form it reads queries in,
  differs from when it was trained.

  Input files of models trained before fingerprints were recorded are not checked.
  """
  changed = _form_change(info.get("input_form"))
  for name, rec in sorted((info.get("fingerprints") or {}).items()):
    label = LABELS.get(name, name)
    try:
      now = sha256(name, rec["path"])
    except (OSError, KeyError, ValueError):
      changed.append(f"the {label} {rec['path']} is gone or unreadable")
      continue
    if now != rec["sha256"]:
      changed.append(f"the {label} {rec['path']} changed (sha256 {rec['sha256'][:12]} at "
                     f"training, {now[:12]} now)")
  if changed:
    raise SettingsError(f"{workdir}: the model was trained on other inputs: "
                        + "; ".join(changed) + "; retrain it (new workdir) or restore them")


def check_workdir(workdir, task: str, model_config: dict, fingerprints: dict) -> None:
  """Raises `SettingsError` if `workdir` holds a model of another task, model
  config, input artifacts (vocabulary, ID map, data) or query form than this run's."""
  path = epath.Path(workdir) / TRAIN_CONFIG
  if not path.exists():
    return
  old = json.loads(path.read_text())
  diffs = _form_change(old.get("input_form"))
  if old.get("task") != task:
    diffs.append(f"task {old.get('task')!r} -> {task!r}")
  old_config = old.get("model_config") or {}
  for field in sorted(set(old_config) & set(model_config) - set(RUNTIME_FIELDS)):
    if old_config[field] != model_config[field]:
      diffs.append(f"model_config.{field} {old_config[field]} -> {model_config[field]}")
  old_prints = old.get("fingerprints") or {}
  for name in sorted(set(old_prints) & set(fingerprints)):
    if old_prints[name]["sha256"] != fingerprints[name]["sha256"]:
      diffs.append(f"{LABELS.get(name, name)} {fingerprints[name]['path']} (sha256 "
                   f"{old_prints[name]['sha256'][:12]} -> {fingerprints[name]['sha256'][:12]})")
  if diffs:
    raise SettingsError(f"{workdir}: holds a trained model of another run; this run "
                        "differs in " + ", ".join(diffs) + ": use a new workdir")
