"""Output directories of the artifact writers: what `--out` may replace.

A prepared dataset or an ID map is written into a hidden sibling
`.NAME.tmp-PID-XXXXXX` of its directory NAME and renamed into place when
complete (`dataset.replace_dir`). Before any work starts, `check_output_dir`
decides whether NAME may be replaced:

  missing or empty          written
  an artifact of the kind   replaced only with `overwrite` (`--overwrite`)
  anything else             refused: never deleted

It also removes what a killed writer of the same NAME left behind (temporary
siblings whose process is gone). Temporary directories get the mode the
umask gives a new directory, not `mkdtemp`'s 0700, since they become the
artifact.

Single files (predictions, summaries, markers, reports, figures) are written
the same way, through a hidden sibling `.NAME.tmp-PID` renamed onto NAME
(`atomic_write`, `atomic_path`): a reader sees the old file or the new one,
never a part of one, and a failed write leaves nothing behind. `file_sha256`
is the content fingerprint the manifests record.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from text2tracks_jax.data.errors import InputError

# What marks a directory as an artifact of a kind: keys of its manifest.json.
KINDS = {"prepared dataset": ("source", "outputs"), "ID map": ("strategy", "files")}
# `.tmp-PID-XXXXXX` / `.old-PID`; a bare `.tmp-XXXXXXXX` is from an older writer.
_LEFTOVER = re.compile(r"\.(?:tmp|old)-(?:(\d+)(?:-|$))?")


def artifact_kind(path) -> str | None:
  """The kind of artifact directory `path` holds (a key of KINDS), or None."""
  try:
    manifest = json.loads((Path(path) / "manifest.json").read_text())
  except (OSError, ValueError):
    return None
  if not isinstance(manifest, dict):
    return None
  return next((kind for kind, keys in KINDS.items() if all(k in manifest for k in keys)), None)


def check_output_dir(out_dir, kind: str, overwrite: bool = False) -> Path:
  """Raises `InputError` unless `out_dir` may receive a new `kind` artifact.

  Call it before any work; it also removes stale temporary siblings of
  `out_dir` left by a killed writer. Returns `out_dir` as a Path.
  """
  if kind not in KINDS:
    raise ValueError(f"unknown artifact kind {kind!r}; expected one of {sorted(KINDS)}")
  out_dir = Path(out_dir)
  remove_stale_siblings(out_dir)
  if not out_dir.exists() and not out_dir.is_symlink():
    return out_dir
  if not out_dir.is_dir():
    raise InputError(out_dir, None, None, f"exists and is not a directory; refusing to "
                     f"replace it with {_a(kind)}: choose another --out")
  if not any(out_dir.iterdir()):
    return out_dir
  found = artifact_kind(out_dir)
  if found != kind:
    what = _a(found) if found else "no artifact manifest"
    raise InputError(out_dir, None, None, f"exists and is not {_a(kind)} ({what}); refusing "
                     "to replace it: choose another --out or remove it yourself")
  if not overwrite:
    raise InputError(out_dir, None, None, f"{_a(kind)} is already there; pass --overwrite to "
                     "replace it")
  return out_dir


def make_temp_dir(out_dir) -> Path:
  """A new hidden sibling `.NAME.tmp-PID-XXXXXX` of `out_dir`, mode as umask allows."""
  out_dir = Path(out_dir)
  out_dir.parent.mkdir(parents=True, exist_ok=True)
  tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-{os.getpid()}-", dir=out_dir.parent))
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(tmp, 0o777 & ~umask)
  return tmp


def remove_stale_siblings(out_dir) -> list:
  """Removes `.NAME.tmp-PID-*` / `.NAME.old-PID` siblings of `out_dir` whose
  process PID is not running (a killed writer), and PID-less ones of older
  versions; returns what it removed."""
  out_dir = Path(out_dir)
  if not out_dir.parent.is_dir():
    return []
  prefix = f".{out_dir.name}."
  removed = []
  for p in out_dir.parent.iterdir():
    if not p.name.startswith(prefix):
      continue
    m = _LEFTOVER.match(p.name[len(prefix) - 1:])
    if m is None or (m.group(1) and _running(int(m.group(1)))):
      continue
    if p.is_dir() and not p.is_symlink():
      shutil.rmtree(p, ignore_errors=True)
    else:
      p.unlink(missing_ok=True)
    removed.append(p)
  return removed


def atomic_write(path, data: str | bytes):
  """Writes `data` (text as UTF-8) to `path` by a rename of a hidden sibling.

  `path` may be a `pathlib.Path`, a string or an `etils.epath.Path` (gs://...).
  """
  with atomic_path(path) as tmp:
    tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


@contextlib.contextmanager
def atomic_path(path, suffix: str = ""):
  """Yields the hidden sibling `.NAME.tmp-PID<suffix>` of `path` for any writer
  (`open`, `savefig`, `np.savez`, which want `suffix` ".png" / ".npz"); renames
  it onto `path` when the block ends, removes it if the block raises."""
  path = path if hasattr(path, "with_name") else Path(path)
  tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")
  try:
    yield tmp
    tmp.replace(path)
  finally:
    if tmp.exists():
      tmp.unlink()


def file_sha256(path) -> str:
  """Hex SHA-256 of the file at `path`, read in 1 MiB blocks."""
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      h.update(block)
  return h.hexdigest()


def _a(kind: str) -> str:
  return f"an {kind}" if kind[0] in "AEIOU" else f"a {kind}"


def _running(pid: int) -> bool:
  if pid == os.getpid():
    return True
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True
