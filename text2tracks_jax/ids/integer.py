"""Integer-based phi: random integers, optionally following artist -> track.

Counts start at 1000 (paper, footnote 1, after Hua et al.). Randomness comes
from one `numpy.random.default_rng(seed)` and is applied to tracks (artists)
sorted by id, so the IDs do not depend on the catalog's row order.

- track-int: a random permutation of 1000 .. 1000+N-1 over all catalog tracks,
  e.g. "1001". No new tokens.
- artist-int-track-seq: "<artist int>_<track seq>", e.g. "1001_1001". The
  artist integer is a random permutation of 1000 .. 1000+A-1; the track number
  counts the artist's tracks from 1000 in order of first appearance in the
  train split (file order, then playlist order). Catalog tracks never seen in
  train continue the artist's count after its train tracks, in track id order.
- artist-iid-track-seq: as artist-int-track-seq, but the `top_k` artists with
  the most train (query, track) pairs (ties: artist id) write their integer as
  one new whole token and drop the separator, since the token already ends
  there: "<1001>1001". Other artists keep "1002_1001". The artist integers are
  the same as artist-int-track-seq's for the same seed. New tokens are listed
  most popular artist first.
"""

from __future__ import annotations

import gin
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from text2tracks_jax.ids.id_map import Assignment
from text2tracks_jax.ids.inputs import IdInputs


def random_integers(keys: np.ndarray, rng: np.random.Generator, start: int) -> np.ndarray:
  """[K] distinct integers start..start+K-1, randomly assigned by sorted key."""
  order = np.argsort(keys, kind="stable")
  values = np.empty(len(keys), np.int64)
  values[order] = start + rng.permutation(len(keys))
  return values


def first_appearance(inputs: IdInputs) -> np.ndarray:
  """[N] int64 sort key: position of a track's first train pair; unseen tracks
  come after every train track, in track id order."""
  key = len(inputs.tracks) + inputs.track_rank()
  uniq, first = np.unique(inputs.tracks, return_index=True)
  key[uniq] = first
  return key


def track_sequence(inputs: IdInputs, start: int) -> np.ndarray:
  """[N] int64: a track's number within its artist, from `start`, counted in
  order of first appearance in train (see `first_appearance`)."""
  order = np.lexsort((first_appearance(inputs), inputs.artist_index))
  artist_sorted = inputs.artist_index[order]
  group_start = np.r_[0, np.flatnonzero(np.diff(artist_sorted)) + 1]
  sizes = np.diff(np.r_[group_start, len(order)])
  rank = np.arange(len(order)) - np.repeat(group_start, sizes)
  seq = np.empty(len(order), np.int64)
  seq[order] = start + rank
  return seq


def artist_frequency(inputs: IdInputs) -> np.ndarray:
  """[A] int64: train (query, track) pairs per artist."""
  return np.bincount(inputs.artist_index, weights=inputs.popularity,
                     minlength=inputs.num_artists).astype(np.int64)


def top_artists(inputs: IdInputs, k: int) -> np.ndarray:
  """Indices of the k most frequent train artists (ties: artist id), most
  frequent first; artists without train pairs never qualify."""
  freq = artist_frequency(inputs)
  order = np.lexsort((np.arange(inputs.num_artists), -freq))  # artists are sorted by id
  order = order[freq[order] > 0]
  return order[:max(0, k)]


def _str(values) -> pa.Array:
  return pc.cast(pa.array(np.asarray(values)), pa.string())


def _to_numpy(arr: pa.Array) -> np.ndarray:
  return np.asarray(arr.to_pylist(), dtype=object)


@gin.configurable
def track_int(inputs: IdInputs, *, seed: int = 0, start: int = 1000) -> Assignment:
  """phi(t) = a random integer, e.g. "1001"; split by the tokenizer."""
  rng = np.random.default_rng(seed)
  values = random_integers(inputs.track_ids, rng, start)
  return Assignment(ids=_to_numpy(_str(values)), new_tokens=[], config={"start": start})


def _artist_track(inputs: IdInputs, seed: int, start: int):
  rng = np.random.default_rng(seed)
  artist_int = random_integers(inputs.artists, rng, start)
  return artist_int, track_sequence(inputs, start)


@gin.configurable
def artist_int_track_seq(inputs: IdInputs, *, seed: int = 0, start: int = 1000,
                         separator: str = "_") -> Assignment:
  """phi(t) = artist integer + separator + track sequence, e.g. "1001_1001"."""
  artist_int, seq = _artist_track(inputs, seed, start)
  ids = pc.binary_join_element_wise(_str(artist_int[inputs.artist_index]), _str(seq), separator)
  return Assignment(ids=_to_numpy(ids), new_tokens=[],
                    config={"start": start, "separator": separator})


@gin.configurable
def artist_iid_track_seq(inputs: IdInputs, *, seed: int = 0, start: int = 1000,
                         separator: str = "_", top_k: int = 50_000) -> Assignment:
  """Top-K artists as whole tokens: "<1001>1001"; the rest "1002_1001"."""
  artist_int, seq = _artist_track(inputs, seed, start)
  top = top_artists(inputs, top_k)
  is_top = np.zeros(inputs.num_artists, bool)
  is_top[top] = True
  artist_text = _str(artist_int[inputs.artist_index])
  token = pc.binary_join_element_wise("<", artist_text, ">", "")
  with_token = pc.binary_join_element_wise(token, _str(seq), "")
  plain = pc.binary_join_element_wise(artist_text, _str(seq), separator)
  ids = pc.if_else(pa.array(is_top[inputs.artist_index]), with_token, plain)
  new_tokens = [f"<{v}>" for v in artist_int[top]]
  return Assignment(ids=_to_numpy(ids), new_tokens=new_tokens,
                    config={"start": start, "separator": separator, "top_k": top_k},
                    info={"token_artists": len(top),
                          "tracks_with_artist_token": int(is_top[inputs.artist_index].sum())})
