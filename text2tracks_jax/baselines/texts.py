"""Track documents: the titles of the train playlists a track appears in.

The paper represents each track for BM25 and the bi-encoders by "the titles of
playlists they appear in the train set" joined with ", " (a track in "rock",
"metal" and "guitar solos" reads "rock, metal, guitar solos"). Tracks that
never occur in train get an empty document.

`track_documents(inputs)` keeps every occurrence, in train file order (a title
shared by three playlists counts three times, as BM25's term frequency should).
`track_documents(inputs, distinct=True, max_titles=K)` keeps each distinct
title once (compared case- and whitespace-insensitively, first spelling kept),
most frequent first (ties: first appearance), at most K: the form for encoders
that truncate long inputs, so that what survives the truncation is what
describes the track best.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from text2tracks_jax.data.dataset import normalize_query
from text2tracks_jax.ids.inputs import IdInputs


@dataclasses.dataclass(frozen=True)
class TitleLists:
  """The titles of each track, as codes into `titles`.

  Attributes:
    titles: [U] str, the title strings.
    offsets: [N + 1] int64; track n's titles are
      `titles[codes[offsets[n]:offsets[n + 1]]]`, in document order.
    codes: [K] int64.
    query_codes: [Q] int64, the code of each train query's own title.
  """

  titles: np.ndarray
  offsets: np.ndarray
  codes: np.ndarray
  query_codes: np.ndarray

  def documents(self, max_titles: Optional[int] = None, separator: str = ", ") -> np.ndarray:
    """Each track's first `max_titles` titles joined. -> [N] object array of str."""
    counts = np.diff(self.offsets)
    codes = self.codes
    if max_titles:
      starts = np.repeat(self.offsets[:-1], counts)
      codes = codes[np.arange(len(codes)) - starts < max_titles]
      counts = np.minimum(counts, max_titles)
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int64()),
                                     pa.array(self.titles[codes].tolist(), pa.string()))
    return np.asarray(pc.binary_join(lists, separator).to_pylist(), dtype=object)


def title_lists(inputs: IdInputs, *, distinct: bool) -> TitleLists:
  """Every title occurrence in file order, or distinct titles most frequent first."""
  pair_query = inputs.pair_queries()
  pair_track = inputs.tracks.astype(np.int64)
  n = inputs.num_tracks
  stripped = [q.strip() for q in inputs.queries]
  if not distinct:
    order = np.lexsort((pair_query, pair_track))
    track, code = pair_track[order], pair_query[order]
    titles = np.asarray(stripped, dtype=object)
    query_codes = np.arange(len(stripped), dtype=np.int64)
  else:
    normalized = pa.array([normalize_query(q) for q in inputs.queries], pa.string())
    encoded = pc.dictionary_encode(normalized)
    query_codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    num_codes = max(len(encoded.dictionary), 1)
    # The first spelling of each normalised title (queries are in file order).
    _, first_query = np.unique(query_codes, return_index=True)
    titles = np.asarray(stripped, dtype=object)[first_query]
    key = pair_track * num_codes + query_codes[pair_query]
    uniq, first, counts = np.unique(key, return_index=True, return_counts=True)
    track, code = uniq // num_codes, uniq % num_codes
    order = np.lexsort((first, -counts, track))
    track, code = track[order], code[order]
  offsets = np.r_[0, np.cumsum(np.bincount(track, minlength=n))].astype(np.int64)
  return TitleLists(titles, offsets, code.astype(np.int64), query_codes)


def track_documents(inputs: IdInputs, *, distinct: bool = False,
                    max_titles: Optional[int] = None, separator: str = ", ") -> np.ndarray:
  """One document per catalog track. -> [N] object array of str ("" if not in train)."""
  return title_lists(inputs, distinct=distinct).documents(max_titles, separator)
