"""What an ID strategy phi may read: the catalog, the train split and the
co-occurrence playlists (those that are not examples), as arrays.

Validation and test examples are never loaded here, so no ID can depend on
them. Everything is indexed by catalog row (N tracks, A artists, Q train
queries, P train (query, track) pairs).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from text2tracks_jax.data.dataset import DatasetError, PreparedDataset


@dataclasses.dataclass(frozen=True)
class IdInputs:
  """The catalog and the train playlists of a prepared dataset.

  Attributes:
    track_ids: [N] str (object array), catalog order.
    titles, artist_names: [N] str.
    artist_index: [N] int32, index into `artists`.
    artists: [A] str, the distinct artist ids, sorted.
    popularity: [N] int64, train (query, track) pairs per track.
    queries: [Q] str, the train queries in file order.
    offsets: [Q + 1] int64; the tracks of train query q are
      `tracks[offsets[q]:offsets[q + 1]]`, in playlist order.
    tracks: [P] int32 catalog rows.
    cooccurrence_offsets: [C + 1] int64 and cooccurrence_tracks: [E] int32,
      the same for the dataset's C co-occurrence-only playlists (CF may learn
      from them; nothing else reads them).
    fingerprint: the dataset manifest's `outputs` (file -> sha256).
  """

  track_ids: np.ndarray
  titles: np.ndarray
  artist_names: np.ndarray
  artist_index: np.ndarray
  artists: np.ndarray
  popularity: np.ndarray
  queries: list
  offsets: np.ndarray
  tracks: np.ndarray
  fingerprint: dict
  dataset_path: str = ""
  cooccurrence_offsets: np.ndarray = dataclasses.field(
      default_factory=lambda: np.zeros(1, np.int64))
  cooccurrence_tracks: np.ndarray = dataclasses.field(
      default_factory=lambda: np.zeros(0, np.int32))

  @property
  def num_tracks(self) -> int:
    return len(self.track_ids)

  @property
  def num_artists(self) -> int:
    return len(self.artists)

  @property
  def in_train(self) -> np.ndarray:
    """[N] bool: the track occurs in at least one train example."""
    return self.popularity > 0

  def pair_queries(self) -> np.ndarray:
    """[P] int64: the train query of each (query, track) pair."""
    return np.repeat(np.arange(len(self.queries)), np.diff(self.offsets))

  def track_rank(self) -> np.ndarray:
    """[N] int64: rank of each track id in sorted order (deterministic ties)."""
    rank = np.empty(self.num_tracks, np.int64)
    rank[np.argsort(self.track_ids, kind="stable")] = np.arange(self.num_tracks)
    return rank


def _strings(column) -> np.ndarray:
  return np.asarray(column.to_pylist(), dtype=object)


def _playlists(table: pa.Table, track_col, what: str, data_dir) -> tuple:
  """A table's track_ids lists as (offsets [Q + 1] int64, tracks [P] int32 rows)."""
  lists = table.column("track_ids").combine_chunks()
  if isinstance(lists, pa.ChunkedArray):  # empty table
    lists = pa.array([], pa.list_(pa.string()))
  tracks = pc.index_in(lists.flatten(), value_set=track_col)
  if tracks.null_count:
    raise DatasetError(f"{data_dir}: {tracks.null_count} {what} entries name tracks "
                       "missing from the catalog")
  lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
  offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
  return offsets, tracks.to_numpy(zero_copy_only=False).astype(np.int32)


def load_inputs(data_dir) -> IdInputs:
  """Reads catalog, train split and co-occurrence playlists into `IdInputs`."""
  ds = PreparedDataset.load(data_dir)
  catalog = ds.catalog()
  train = ds.split("train", ["query", "track_ids"])
  track_col = catalog.column("track_id").combine_chunks()
  offsets, tracks = _playlists(train, track_col, "train pair", data_dir)
  cooc_offsets, cooc_tracks = _playlists(ds.cooccurrence(["track_ids"]), track_col,
                                         "co-occurrence", data_dir)
  artist_ids = _strings(catalog.column("artist_id"))
  artists, artist_index = np.unique(artist_ids.astype(str), return_inverse=True)
  return IdInputs(
      track_ids=_strings(track_col),
      titles=_strings(catalog.column("title")),
      artist_names=_strings(catalog.column("artist_name")),
      artist_index=artist_index.astype(np.int32),
      artists=artists.astype(object),
      popularity=catalog.column("popularity").to_numpy().astype(np.int64),
      queries=train.column("query").to_pylist(),
      offsets=offsets,
      tracks=tracks,
      fingerprint=dict(ds.manifest.get("outputs", {})),
      dataset_path=str(ds.path),
      cooccurrence_offsets=cooc_offsets,
      cooccurrence_tracks=cooc_tracks)
