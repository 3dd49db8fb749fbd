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

from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from text2tracks_jax.data.dataset import normalize_query
from text2tracks_jax.ids.inputs import IdInputs


def _join(offsets: np.ndarray, strings: list, separator: str) -> np.ndarray:
  """Joins strings[offsets[n]:offsets[n + 1]] per row. -> [N] object array."""
  lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int64()),
                                   pa.array(strings, pa.string()))
  return np.asarray(pc.binary_join(lists, separator).to_pylist(), dtype=object)


def track_documents(inputs: IdInputs, *, distinct: bool = False,
                    max_titles: Optional[int] = None, separator: str = ", ") -> np.ndarray:
  """One document per catalog track. -> [N] object array of str ("" if not in train)."""
  pair_query = inputs.pair_queries()
  pair_track = inputs.tracks.astype(np.int64)
  n = inputs.num_tracks
  if not distinct:
    order = np.lexsort((pair_query, pair_track))
    track, query = pair_track[order], pair_query[order]
    strings = [inputs.queries[q] for q in query.tolist()]
  else:
    normalized = pa.array([normalize_query(q) for q in inputs.queries], pa.string())
    encoded = pc.dictionary_encode(normalized)
    code_of_query = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    num_codes = max(len(encoded.dictionary), 1)
    # The first spelling of each normalised title (queries are in file order).
    _, first_query = np.unique(code_of_query, return_index=True)
    pair_code = code_of_query[pair_query]
    key = pair_track * num_codes + pair_code
    uniq, first, counts = np.unique(key, return_index=True, return_counts=True)
    track, code = uniq // num_codes, uniq % num_codes
    order = np.lexsort((first, -counts, track))
    track, code = track[order], code[order]
    if max_titles:
      per_track = np.bincount(track, minlength=n)
      starts = np.repeat(np.r_[0, np.cumsum(per_track)][:-1], per_track)
      keep = np.arange(len(track)) - starts < max_titles
      track, code = track[keep], code[keep]
    strings = [inputs.queries[q] for q in first_query[code].tolist()]
  offsets = np.r_[0, np.cumsum(np.bincount(track, minlength=n))].astype(np.int64)
  return _join(offsets, [s.strip() for s in strings], separator)
