"""Content-based phi: the track's own text metadata as its ID.

artist-name-track-name: phi(t) = artist name + separator + track title, e.g.
"Velora Kin - Midnight Solane". Table 1 of the paper writes the two values
side by side ("artist name track name"); we put " - " between them, the form
"Artist - Title" is written in on the web (what the LM backbone has seen in
pre-training) and it keeps the boundary readable. Normalisation: every run of
whitespace (tabs, newlines) becomes one space and both ends are trimmed; case,
punctuation and accents are kept. A track without an artist name is just its
title (and without a title, its track id). No new tokens: the SentencePiece
model splits the text (~15 tokens per ID in the paper).
"""

from __future__ import annotations

import gin
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from text2tracks_jax.ids.id_map import Assignment
from text2tracks_jax.ids.inputs import IdInputs


def normalize_text(values) -> pa.Array:
  """Collapses whitespace runs to one space and trims: [N] str -> [N] str."""
  arr = pa.array(list(values), pa.string())
  arr = pc.fill_null(arr, "")
  return pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\s+", " "))


def name_texts(artist_names, titles, track_ids, separator: str = " - ") -> np.ndarray:
  """[N] "artist - title" strings (vectorized); see the module docstring."""
  artist = normalize_text(artist_names)
  title = normalize_text(titles)
  title = pc.if_else(pc.equal(title, ""), pa.array(list(track_ids), pa.string()), title)
  joined = pc.binary_join_element_wise(artist, title, separator)
  joined = pc.if_else(pc.equal(artist, ""), title, joined)
  return np.asarray(joined.to_pylist(), dtype=object)


@gin.configurable
def artist_name_track_name(inputs: IdInputs, *, seed: int = 0,
                           separator: str = " - ") -> Assignment:
  """phi(t) = concat(artist name, separator, track name); no new tokens."""
  del seed  # deterministic
  ids = name_texts(inputs.artist_names, inputs.titles, inputs.track_ids, separator)
  return Assignment(ids=ids, new_tokens=[], config={"separator": separator})
