"""Writes synthetic input in the MPD slice format, for tests and `benchmarks/bench_data.py`.

The files have the fields and layout of the public `mpd.slice.<start>-<end>.json`
files (compactly encoded: the real ones are indented, which only makes them
bigger). Track popularity follows a power law over a fixed pool of tracks, so
the catalog a loader builds is realistic in size and skew.

  paths = write_mpd_slices("/tmp/mpd", n_playlists=20_000)   # 20 slices
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WORDS = (
    "chill summer vibes road trip songs for a rainy day late night drive old school "
    "hip hop classics sad indie love workout gym party dance throwback country feel "
    "good morning coffee study focus sleep acoustic covers rock anthems jazz dinner "
    "beach sunset winter christmas running happy mellow 90s 80s pop punk emo feels "
    "songs to cry to sing in the car shower jams bedroom slow dancing with my friends"
).split()


@functools.lru_cache(maxsize=1 << 20)
def spotify_uri(kind: str, index: int) -> str:
  """A deterministic 22-character base62 Spotify URI, e.g. spotify:track:0000...1."""
  digits = []
  for _ in range(22):
    index, r = divmod(index, 62)
    digits.append(_BASE62[r])
  return f"spotify:{kind}:{''.join(reversed(digits))}"


def make_track(pos: int, index: int, n_artists: int = 1000) -> dict:
  """One MPD track record for pool track `index`."""
  artist = (index * 7919) % n_artists
  return {"pos": pos, "artist_name": f"Artist {artist}",
          "track_uri": spotify_uri("track", index),
          "artist_uri": spotify_uri("artist", artist),
          "track_name": f"Track {index}", "album_uri": spotify_uri("album", index // 12),
          "duration_ms": 180_000 + (index * 104_729) % 120_000,
          "album_name": f"Album {index // 12}"}


def make_playlist(pid: int, name: str, track_indices, *, description: str | None = None,
                  n_artists: int = 1000) -> dict:
  """One MPD playlist record holding the pool tracks `track_indices` in order."""
  tracks = [make_track(pos, int(i), n_artists) for pos, i in enumerate(track_indices)]
  playlist = {"name": name, "collaborative": "false", "pid": pid,
              "modified_at": 1_500_000_000 + pid, "num_tracks": len(tracks),
              "num_albums": len({t["album_uri"] for t in tracks}), "num_followers": 1,
              "tracks": tracks, "num_edits": 1,
              "duration_ms": sum(t["duration_ms"] for t in tracks),
              "num_artists": len({t["artist_uri"] for t in tracks})}
  if description is not None:
    playlist["description"] = description
  return playlist


def write_slice(path, playlists: list, start: int = 0) -> Path:
  """Writes one slice file: {"info": {...}, "playlists": [...]}."""
  path = Path(path)
  info = {"generated_on": "2017-12-03 08:41:42.057563",
          "slice": f"{start}-{start + max(len(playlists), 1) - 1}", "version": "v1"}
  path.write_text(json.dumps({"info": info, "playlists": playlists}), encoding="ascii")
  return path


def slice_name(start: int, size: int) -> str:
  return f"mpd.slice.{start}-{start + size - 1}.json"


def write_mpd_slices(out_dir, n_playlists: int, playlists_per_slice: int = 1000,
                     seed: int = 0, *, n_tracks: int = 200_000,
                     tracks_per_playlist: int = 60, n_artists: int = 20_000,
                     title_words: tuple = (1, 8), zipf_exponent: float = 0.8,
                     description_every: int = 10) -> list:
  """Writes `n_playlists` playlists as `mpd.slice.*.json` files under `out_dir`.

  Args:
    out_dir: directory to write into (created).
    n_playlists: total playlists; pids are 0..n_playlists-1.
    playlists_per_slice: playlists per file (the real MPD has 1000).
    seed: random seed; the same arguments write the same bytes.
    n_tracks: size of the track pool (the catalog is the tracks actually drawn).
    tracks_per_playlist: mean playlist length (lengths are uniform in
      [mean/2, 3*mean/2], distinct tracks).
    n_artists: number of artists in the pool.
    title_words: (min, max) words per title, uniform.
    zipf_exponent: track popularity p(rank) ~ rank^-exponent.
    description_every: every k-th playlist has a description (0: none).

  Returns:
    The slice paths, in order.
  """
  out_dir = Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(seed)
  cdf = np.cumsum(np.arange(1, n_tracks + 1, dtype=np.float64) ** -zipf_exponent)
  cdf /= cdf[-1]
  perm = rng.permutation(n_tracks)  # popular tracks are not the low indices
  lo, hi = max(1, tracks_per_playlist // 2), max(1, (3 * tracks_per_playlist) // 2)
  paths = []
  for start in range(0, n_playlists, playlists_per_slice):
    size = min(playlists_per_slice, n_playlists - start)
    playlists = []
    for pid in range(start, start + size):
      length = min(int(rng.integers(lo, hi + 1)), n_tracks)
      tracks = _draw_tracks(rng, cdf, perm, length)
      words = rng.choice(len(WORDS), int(rng.integers(title_words[0], title_words[1] + 1)))
      name = " ".join(WORDS[w] for w in words)
      description = None
      if description_every and pid % description_every == 0:
        description = f"my {WORDS[int(words[0])]} mix &amp; more"
      playlists.append(make_playlist(pid, name, tracks, description=description,
                                     n_artists=n_artists))
    paths.append(write_slice(out_dir / slice_name(start, size), playlists, start))
  return paths


def _draw_tracks(rng, cdf: np.ndarray, perm: np.ndarray, length: int) -> np.ndarray:
  """`length` distinct pool indices drawn by popularity, in draw order."""
  out = np.empty(0, np.int64)
  while len(out) < length:
    draw = np.concatenate([out, perm[np.searchsorted(cdf, rng.random(2 * length))]])
    _, first = np.unique(draw, return_index=True)
    out = draw[np.sort(first)]
  return out[:length]
