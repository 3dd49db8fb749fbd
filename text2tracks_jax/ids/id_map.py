"""The ID map artifact: phi(t) for every catalog track, and its inverse.

On disk (one directory, written to a temporary sibling and renamed into place;
no pickles)::

  id_map.parquet        track_id, id, popularity (catalog order)
  id_to_tracks.parquet  id, track_ids (list): the tracks sharing an ID, most
                        train-popular first, ties by track id; sorted by id
  new_tokens.json       whole tokens the strategy adds to the vocabulary, in
                        the order they should be appended
  stats.json            tokens per ID, collisions, prefix sharing, timings
  *.npy                 strategy arrays (codes, dictionary, codebooks, ...)
  spiece.model          the SentencePiece model the stats used, when trained
  manifest.json         strategy, config, seed, dataset fingerprint, file
                        hashes, versions; written last

A directory without `manifest.json` is not an ID map.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from text2tracks_jax.data import outputs
from text2tracks_jax.data.dataset import replace_dir
from text2tracks_jax.ids.tokenizer import TokenSplitter

FORMAT_VERSION = 1


class IdMapError(ValueError):
  """An ID map directory that is missing, incomplete or inconsistent."""


@dataclasses.dataclass
class Assignment:
  """What a strategy phi returns: one ID string per catalog track.

  Attributes:
    ids: [N] str, catalog order.
    new_tokens: whole tokens to append to the vocabulary.
    config: the strategy's effective parameters (recorded in the manifest).
    info: strategy statistics (unseen-track fallbacks, timings, ...).
    arrays: name -> array, saved as `name.npy` next to the map.
  """

  ids: np.ndarray
  new_tokens: list
  config: dict
  info: dict = dataclasses.field(default_factory=dict)
  arrays: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Collisions:
  """IDs grouped: `order[starts[m]:starts[m + 1]]` are the catalog rows whose
  ID is `unique_ids[m]`, most popular first (ties: track id).

  Shapes: unique_ids [M], order [N], starts [M + 1], id_index [N] (the group of
  each row).
  """

  unique_ids: np.ndarray
  order: np.ndarray
  starts: np.ndarray
  id_index: np.ndarray

  @property
  def sizes(self) -> np.ndarray:
    return np.diff(self.starts)

  def rank(self) -> np.ndarray:
    """[N] int64: each row's position within its group (0 = most popular)."""
    rank = np.empty(len(self.order), np.int64)
    rank[self.order] = np.arange(len(self.order)) - np.repeat(self.starts[:-1], self.sizes)
    return rank


def group_collisions(ids: Sequence[str], popularity: np.ndarray,
                     track_ids: np.ndarray) -> Collisions:
  """Groups rows by ID; within a group, popularity descending, then track id."""
  unique_ids, id_index = np.unique(np.asarray(ids, dtype=object).astype(str),
                                   return_inverse=True)
  track_rank = np.empty(len(track_ids), np.int64)
  track_rank[np.argsort(np.asarray(track_ids, dtype=object), kind="stable")] = (
      np.arange(len(track_ids)))
  order = np.lexsort((track_rank, -np.asarray(popularity), id_index))
  counts = np.bincount(id_index, minlength=len(unique_ids))
  starts = np.r_[0, np.cumsum(counts)].astype(np.int64)
  return Collisions(unique_ids.astype(object), order, starts, id_index.ravel())


@dataclasses.dataclass
class IdMap:
  """phi and its inverse for one (dataset, strategy).

  `track_to_id[t]` is the ID string of track t; `id_to_tracks[id]` lists the
  tracks written that way, most train-popular first; `pieces(id)` splits an
  ID into whole new tokens and text (for learned IDs: ["<+12>", "<-3>", "<+7>"]).
  """

  strategy: str
  track_to_id: dict
  id_to_tracks: dict
  new_tokens: list
  stats: dict
  manifest: dict = dataclasses.field(default_factory=dict, compare=False)
  path: Path | None = dataclasses.field(default=None, compare=False)

  @functools.cached_property
  def splitter(self) -> TokenSplitter:
    return TokenSplitter(self.new_tokens)

  def pieces(self, id_string: str) -> list:
    """New whole tokens and text pieces of an ID, in order."""
    return self.splitter.pieces(id_string)

  def tracks(self, id_string: str) -> list:
    """Tracks written as `id_string` (most popular first); [] if none."""
    return self.id_to_tracks.get(id_string, [])

  def __len__(self) -> int:
    return len(self.track_to_id)


def rank_tracks(decoded, id_to_tracks: dict, top_n: Optional[int]) -> dict:
  """phi^-1 for one query's decodes: (ID string, score) pairs, best first ->
  {"track_ids" (each ID's tracks in order, collisions by popularity, no
  repeats, at most `top_n`; None: all), "generated_ids", "scores", "invalid_ids" (IDs
  that name no track)}: a line of the predictions JSONL, less the query."""
  ranked, generated, scores, invalid = [], [], [], 0
  for id_string, score in decoded:
    generated.append(id_string)
    scores.append(float(score))
    tracks = id_to_tracks.get(id_string)
    if tracks is None:
      invalid += 1
      continue
    ranked.extend(t for t in tracks if t not in ranked)
  return {"track_ids": ranked[:top_n], "generated_ids": generated, "scores": scores,
          "invalid_ids": invalid}


def id_map_from_arrays(strategy: str, track_ids: np.ndarray, ids: np.ndarray,
                       collisions: Collisions, new_tokens: list, stats: dict,
                       manifest: dict | None = None, path=None) -> IdMap:
  track_ids = list(track_ids)
  sorted_tracks = np.asarray(track_ids, dtype=object)[collisions.order].tolist()
  starts = collisions.starts.tolist()
  id_to_tracks = {i: sorted_tracks[a:b] for i, a, b in
                  zip(collisions.unique_ids.tolist(), starts[:-1], starts[1:])}
  return IdMap(strategy=strategy, track_to_id=dict(zip(track_ids, list(ids))),
               id_to_tracks=id_to_tracks, new_tokens=list(new_tokens), stats=stats,
               manifest=manifest or {}, path=Path(path) if path else None)


def _json_default(o):
  if isinstance(o, np.integer):
    return int(o)
  if isinstance(o, np.floating):
    return float(o)
  if isinstance(o, np.ndarray):
    return o.tolist()
  if isinstance(o, Path):
    return str(o)
  raise TypeError(f"not JSON serializable: {type(o).__name__}")


def dump_json(obj, path: Path):
  Path(path).write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")


def write_id_map(out_dir, *, track_ids: np.ndarray, ids: np.ndarray, popularity: np.ndarray,
                 collisions: Collisions, new_tokens: list, stats: dict, manifest: dict,
                 arrays: dict | None = None, extra_files: dict | None = None,
                 overwrite: bool = True) -> dict:
  """Writes the artifact atomically; returns the manifest as written.

  `extra_files` maps a file name in the artifact to a source path to copy
  (e.g. the SentencePiece model the stats were counted with). An existing
  `out_dir` must be an ID map, replaced only with `overwrite`
  (`outputs.check_output_dir`).
  """
  out_dir = outputs.check_output_dir(out_dir, "ID map", overwrite)
  tmp = outputs.make_temp_dir(out_dir)
  try:
    pq.write_table(pa.table({
        "track_id": pa.array(list(track_ids), pa.string()),
        "id": pa.array(list(ids), pa.string()),
        "popularity": pa.array(np.asarray(popularity, np.int64))}), tmp / "id_map.parquet")
    sorted_tracks = pa.array(np.asarray(track_ids, dtype=object)[collisions.order].tolist(),
                             pa.string())
    lists = pa.ListArray.from_arrays(pa.array(collisions.starts, pa.int32()), sorted_tracks)
    pq.write_table(pa.table({"id": pa.array(collisions.unique_ids.tolist(), pa.string()),
                             "track_ids": lists}), tmp / "id_to_tracks.parquet")
    dump_json(list(new_tokens), tmp / "new_tokens.json")
    dump_json(stats, tmp / "stats.json")
    for name, array in (arrays or {}).items():
      np.save(tmp / f"{name}.npy", np.asarray(array), allow_pickle=False)
    for name, src in (extra_files or {}).items():
      shutil.copyfile(src, tmp / name)
    manifest = dict(manifest, format_version=FORMAT_VERSION,
                    files={p.name: outputs.file_sha256(p) for p in sorted(tmp.iterdir())})
    dump_json(manifest, tmp / "manifest.json")
    replace_dir(tmp, out_dir)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return manifest


def read_manifest(path) -> dict:
  path = Path(path)
  manifest_path = path / "manifest.json"
  if not manifest_path.exists():
    raise IdMapError(f"{path}: not an ID map (no manifest.json); run `text2tracks build-ids`")
  manifest = json.loads(manifest_path.read_text())
  if manifest.get("format_version") != FORMAT_VERSION:
    raise IdMapError(f"{manifest_path}: format_version {manifest.get('format_version')} "
                     f"!= {FORMAT_VERSION}")
  return manifest


def load_id_map(path) -> IdMap:
  """Reads an ID map directory written by `build_ids`."""
  path = Path(path)
  manifest = read_manifest(path)
  table = pq.read_table(path / "id_map.parquet").to_pydict()
  inverse = pq.read_table(path / "id_to_tracks.parquet").to_pydict()
  return IdMap(strategy=manifest["strategy"],
               track_to_id=dict(zip(table["track_id"], table["id"])),
               id_to_tracks=dict(zip(inverse["id"], inverse["track_ids"])),
               new_tokens=json.loads((path / "new_tokens.json").read_text()),
               stats=json.loads((path / "stats.json").read_text()),
               manifest=manifest, path=path)


def load_array(path, name: str) -> np.ndarray:
  """One of the strategy arrays saved with the map (e.g. "codes")."""
  return np.load(Path(path) / f"{name}.npy", allow_pickle=False)
