"""The prepared dataset: a track catalog plus (query, [track ids]) splits.

On disk (one directory, written atomically)::

  catalog.parquet       track_id, title, artist_id, artist_name, popularity
  train.parquet         query_id, query, track_ids (list, playlist order kept)
  validation.parquet    same columns
  test.parquet          same columns
  cooccurrence.parquet  playlists that are not examples (the loader's title
                        filter dropped them), kept only as co-occurrence for
                        collaborative filtering (semantic-ids-cf's word2vec);
                        same columns, tracks restricted to the catalog
  manifest.json         source, config, seed, counts, stats, skipped records,
                        input and output fingerprints; written last

`popularity` is the number of train (query, track) pairs a track is in. A
directory without `manifest.json` is not a dataset: `DatasetWriter` writes into
a temporary sibling and renames it into place only when everything is written.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from text2tracks_jax.data import outputs
from text2tracks_jax.data.errors import UserError

SPLITS = ("train", "validation", "test")
COOCCURRENCE = "cooccurrence"  # not a split: never a query, a label or a pair
FORMAT_VERSION = 1
CATALOG_SCHEMA = pa.schema([
    ("track_id", pa.string()), ("title", pa.string()),
    ("artist_id", pa.string()), ("artist_name", pa.string()),
    ("popularity", pa.int64())])
SPLIT_SCHEMA = pa.schema([
    ("query_id", pa.string()), ("query", pa.string()),
    ("track_ids", pa.list_(pa.string()))])
_SPACES = re.compile(r"\s+")


class DatasetError(UserError):
  """A prepared dataset that is missing, incomplete or inconsistent."""


@dataclasses.dataclass(frozen=True)
class Example:
  query_id: str
  query: str
  track_ids: tuple


def normalize_query(text: str) -> str:
  """Case- and whitespace-insensitive form used for split leakage checks."""
  return _SPACES.sub(" ", text).strip().casefold()


def split_for_query(query: str, fractions: Sequence[float], seed: int = 0) -> str:
  """Deterministic split by a hash of the normalised query text.

  All records with the same (normalised) query land in the same split, so no
  test query text ever appears in train.
  """
  digest = hashlib.blake2b(f"{seed}\x00{normalize_query(query)}".encode(),
                           digest_size=8).digest()
  u = int.from_bytes(digest, "little") / 2.0**64
  edges = np.cumsum(fractions) / np.sum(fractions)
  return SPLITS[min(int(np.searchsorted(edges, u, side="right")), 2)]


def input_fingerprint(paths: Iterable) -> list:
  """Path, size and modification time of each input file (cheap for 30 GB MPD)."""
  out = []
  for p in paths:
    st = os.stat(p)
    out.append({"path": str(p), "bytes": st.st_size, "mtime": int(st.st_mtime)})
  return out


class DatasetWriter:
  """Streams a prepared dataset to a temporary directory, then renames it.

  Memory is bounded by the catalog: examples are flushed to Parquet in row
  groups of `flush_rows`. Use as a context manager; an exception inside the
  block removes the temporary directory and leaves any existing `out_dir`
  untouched. An existing `out_dir` must be a prepared dataset, replaced only
  with `overwrite` (`outputs.check_output_dir`), checked before anything is read.
  """

  def __init__(self, out_dir, *, source: str, config: dict, seed: int,
               flush_rows: int = 65536, overwrite: bool = True):
    self.out_dir = outputs.check_output_dir(out_dir, "prepared dataset", overwrite)
    self.tmp_dir = outputs.make_temp_dir(self.out_dir)
    self.source, self.config, self.seed = source, config, seed
    self.flush_rows = flush_rows
    self._track_index: dict = {}
    self._catalog = {k: [] for k in ("track_id", "title", "artist_id", "artist_name")}
    self._train_counts = collections.Counter()
    self._buffers = {s: {"query_id": [], "query": [], "track_ids": []} for s in SPLITS}
    self._writers = {}
    self._counts = {s: {"queries": 0, "pairs": 0} for s in SPLITS}
    self._queries = {s: set() for s in SPLITS}
    self._tracks_per_query = {s: [] for s in SPLITS}
    self._query_ids = set()
    self._cooc = {"query_id": [], "query": [], "track_ids": []}
    self._cooc_ids = set()
    self._cooc_writer = None
    self._started = time.time()

  # -- building --------------------------------------------------------------
  def has_track(self, track_id: str) -> bool:
    return track_id in self._track_index

  @property
  def num_tracks(self) -> int:
    return len(self._track_index)

  def add_track(self, track_id: str, title: str, artist_id: str, artist_name: str):
    if track_id in self._track_index:
      raise ValueError(f"track {track_id!r} added twice")
    self._track_index[track_id] = len(self._track_index)
    for key, value in (("track_id", track_id), ("title", title),
                       ("artist_id", artist_id), ("artist_name", artist_name)):
      self._catalog[key].append(value)

  def add_example(self, split: str, query_id: str, query: str, track_ids: Sequence[str]):
    """Adds one (query, relevant tracks) example. Loaders validate first."""
    if split not in SPLITS:
      raise ValueError(f"unknown split {split!r}")
    if not track_ids:
      raise ValueError(f"example {query_id!r} has no tracks")
    if query_id in self._query_ids:
      raise ValueError(f"query id {query_id!r} added twice")
    missing = [t for t in track_ids if t not in self._track_index]
    if missing:
      raise ValueError(f"example {query_id!r}: tracks not in catalog: {missing[:5]}")
    if len(set(track_ids)) != len(track_ids):
      raise ValueError(f"example {query_id!r} lists a track twice")
    self._query_ids.add(query_id)
    buf = self._buffers[split]
    buf["query_id"].append(query_id)
    buf["query"].append(query)
    buf["track_ids"].append(list(track_ids))
    self._counts[split]["queries"] += 1
    self._counts[split]["pairs"] += len(track_ids)
    self._queries[split].add(normalize_query(query))
    self._tracks_per_query[split].append(len(track_ids))
    if split == "train":
      self._train_counts.update(track_ids)
    if len(buf["query_id"]) >= self.flush_rows:
      self._flush(split)

  def add_cooccurrence(self, playlist_id: str, title: str, track_ids: Sequence[str]):
    """Adds a playlist that is not an example (e.g. its title is too short to
    be a prompt): collaborative filtering may learn from its co-occurrence.

    Its tracks need not be in the catalog yet; at `commit` those that are not
    are dropped, then playlists left with fewer than 2 tracks (no co-occurrence),
    both counted in the manifest under stats.cooccurrence.
    """
    if playlist_id in self._cooc_ids:
      raise ValueError(f"co-occurrence playlist id {playlist_id!r} added twice")
    self._cooc_ids.add(playlist_id)
    for key, value in (("query_id", playlist_id), ("query", title),
                       ("track_ids", list(track_ids))):
      self._cooc[key].append(value)
    if len(self._cooc["query_id"]) >= self.flush_rows:
      self._flush_cooccurrence()

  def _flush_cooccurrence(self):
    if self._cooc_writer is None:
      self._cooc_writer = pq.ParquetWriter(self.tmp_dir / "cooccurrence.raw.parquet",
                                           SPLIT_SCHEMA)
    if self._cooc["query_id"]:
      self._cooc_writer.write_table(pa.table(self._cooc, schema=SPLIT_SCHEMA))
    for v in self._cooc.values():
      v.clear()

  def _write_cooccurrence(self) -> dict:
    """Restricts the buffered co-occurrence playlists to catalog tracks and
    writes cooccurrence.parquet (always, possibly empty); returns its counts."""
    self._flush_cooccurrence()
    self._cooc_writer.close()
    raw = self.tmp_dir / "cooccurrence.raw.parquet"
    catalog = pa.array(self._catalog["track_id"], pa.string())
    counts = collections.Counter()
    with pq.ParquetWriter(self.tmp_dir / f"{COOCCURRENCE}.parquet", SPLIT_SCHEMA) as out:
      for batch in pq.ParquetFile(raw).iter_batches(65536):
        lists = batch.column(2)
        flat = lists.flatten()
        in_catalog = pc.is_in(flat, value_set=catalog).to_numpy(zero_copy_only=False)
        parent = pc.list_parent_indices(lists).to_numpy()
        lengths = np.bincount(parent[in_catalog], minlength=len(lists))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        kept = pa.ListArray.from_arrays(pa.array(offsets), flat.filter(pa.array(in_catalog)))
        rows = pa.array(lengths >= 2)
        table = pa.table([batch.column(0), batch.column(1), kept], schema=SPLIT_SCHEMA)
        out.write_table(table.filter(rows))
        counts["playlists_read"] += len(lists)
        counts["tracks_not_in_catalog"] += int((~in_catalog).sum())
        counts["playlists_under_2_tracks"] += int((lengths < 2).sum())
        counts["playlists"] += int((lengths >= 2).sum())
        counts["entries"] += int(lengths[lengths >= 2].sum())
    raw.unlink()
    keys = ("playlists", "entries", "playlists_read", "tracks_not_in_catalog",
            "playlists_under_2_tracks")
    return {k: int(counts[k]) for k in keys}

  def _flush(self, split: str):
    buf = self._buffers[split]
    if split not in self._writers:
      self._writers[split] = pq.ParquetWriter(self.tmp_dir / f"{split}.parquet", SPLIT_SCHEMA)
    if buf["query_id"]:
      self._writers[split].write_table(pa.table(buf, schema=SPLIT_SCHEMA))
    for v in buf.values():
      v.clear()

  # -- finishing -------------------------------------------------------------
  def commit(self, *, inputs: Sequence = (), skipped: dict | None = None) -> dict:
    """Checks invariants, writes catalog and manifest, renames into place."""
    leaks = {s: len(self._queries[s] & self._queries["train"]) for s in ("validation", "test")}
    if leaks["test"]:
      example = next(iter(self._queries["test"] & self._queries["train"]))
      raise DatasetError(f"{leaks['test']} test queries also occur in train, e.g. {example!r}")
    if not self._counts["train"]["queries"]:
      raise DatasetError("no train examples: nothing to learn from")
    for split in SPLITS:
      self._flush(split)
      self._writers[split].close()
    cooccurrence = self._write_cooccurrence()
    popularity = np.zeros(len(self._track_index), np.int64)
    for track_id, count in self._train_counts.items():
      popularity[self._track_index[track_id]] = count
    catalog = pa.table({**self._catalog, "popularity": popularity}, schema=CATALOG_SCHEMA)
    pq.write_table(catalog, self.tmp_dir / "catalog.parquet")
    stats = self._stats(popularity, leaks)
    stats["cooccurrence"] = cooccurrence
    manifest = {
        "format_version": FORMAT_VERSION, "source": self.source, "config": self.config,
        "seed": self.seed, "counts": stats["counts"], "stats": stats,
        "errors": skipped or {"on_error": "raise", "skipped": {}},
        "inputs": input_fingerprint(inputs),
        "outputs": {p.name: outputs.file_sha256(p) for p in sorted(self.tmp_dir.glob("*.parquet"))},
        "created_unix": int(time.time()), "seconds": round(time.time() - self._started, 2),
    }
    (self.tmp_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    replace_dir(self.tmp_dir, self.out_dir)
    return manifest

  def abort(self):
    for w in [*self._writers.values(), self._cooc_writer]:
      if w is None:
        continue
      try:
        w.close()
      except Exception:  # pylint: disable=broad-except
        pass
    shutil.rmtree(self.tmp_dir, ignore_errors=True)

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc, tb):
    if exc_type is not None:
      self.abort()
    elif self.tmp_dir.exists():
      self.abort()  # left without commit(): never publish a partial dataset
    return False

  def _stats(self, popularity: np.ndarray, leaks: dict) -> dict:
    counts = {s: dict(self._counts[s], unique_queries=len(self._queries[s])) for s in SPLITS}
    counts["tracks"] = len(self._track_index)
    counts["artists"] = len(set(self._catalog["artist_id"]))
    counts["train_tracks"] = int((popularity > 0).sum())
    return {"counts": counts,
            "tracks_per_query": {s: _describe(self._tracks_per_query[s]) for s in SPLITS},
            "popularity": popularity_concentration(popularity),
            "validation_queries_in_train": leaks["validation"]}


def _describe(values) -> dict:
  if not values:
    return {"mean": 0.0, "median": 0.0, "max": 0}
  a = np.asarray(values)
  return {"mean": round(float(a.mean()), 3), "median": float(np.median(a)), "max": int(a.max())}


def popularity_concentration(popularity: np.ndarray) -> dict:
  """Share of train pairs held by the top 1%/10% of tracks, and the Gini index."""
  p = np.sort(np.asarray(popularity, np.float64))[::-1]
  total = p.sum()
  if total == 0:
    return {"top1pct_share": 0.0, "top10pct_share": 0.0, "gini": 0.0}
  n = len(p)
  share = lambda frac: float(p[:max(1, int(round(n * frac)))].sum() / total)
  asc = p[::-1]
  gini = float((2 * np.arange(1, n + 1) - n - 1) @ asc / (n * total))
  return {"top1pct_share": round(share(0.01), 4), "top10pct_share": round(share(0.10), 4),
          "gini": round(gini, 4)}


def replace_dir(src: Path, dst: Path):
  """Renames src to dst; an existing dst is swapped out, then deleted."""
  old = None
  if dst.exists():
    old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
    os.rename(dst, old)
  os.rename(src, dst)
  if old is not None:
    shutil.rmtree(old, ignore_errors=True)


# -- reading -----------------------------------------------------------------
@dataclasses.dataclass
class PreparedDataset:
  """A prepared dataset on disk; tables are loaded lazily with pyarrow."""

  path: Path
  manifest: dict

  @classmethod
  def load(cls, path) -> "PreparedDataset":
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
      raise DatasetError(f"{path}: not a prepared dataset (no manifest.json); "
                         "run `text2tracks prepare` first")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format_version") != FORMAT_VERSION:
      raise DatasetError(f"{manifest_path}: format_version "
                         f"{manifest.get('format_version')} != {FORMAT_VERSION}")
    return cls(path, manifest)

  def catalog(self, columns=None) -> pa.Table:
    return pq.read_table(self.path / "catalog.parquet", columns=columns)

  def split(self, name: str, columns=None) -> pa.Table:
    if name not in SPLITS:
      raise DatasetError(f"unknown split {name!r}; expected one of {SPLITS}")
    return pq.read_table(self.path / f"{name}.parquet", columns=columns)

  def cooccurrence(self, columns=None) -> pa.Table:
    """Playlists kept for co-occurrence only (empty for datasets made before)."""
    path = self.path / f"{COOCCURRENCE}.parquet"
    if not path.exists():
      return SPLIT_SCHEMA.empty_table().select(columns or SPLIT_SCHEMA.names)
    return pq.read_table(path, columns=columns)

  def examples(self, name: str) -> Iterator[Example]:
    for batch in pq.ParquetFile(self.path / f"{name}.parquet").iter_batches(65536):
      d = batch.to_pydict()
      for qid, q, tids in zip(d["query_id"], d["query"], d["track_ids"]):
        yield Example(qid, q, tuple(tids))

  def relevance(self, name: str) -> dict:
    """query id -> list of relevant track ids (the scorer's labels)."""
    t = self.split(name, ["query_id", "track_ids"]).to_pydict()
    return dict(zip(t["query_id"], t["track_ids"]))
