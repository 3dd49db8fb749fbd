"""Spotify Million Playlist Dataset (MPD) source.

Input: the public `mpd.slice.<start>-<end>.json` files, as a directory (read in
order of their start index, numerically: 0-999, 1000-1999, ...; other files are
ignored) or a single slice file. Each file is one JSON document::

  {"info": {...}, "playlists": [
     {"pid": 0, "name": "Throwbacks", "description": "optional",
      "tracks": [{"pos": 0, "track_uri": "spotify:track:...", "track_name": "...",
                  "artist_uri": "spotify:artist:...", "artist_name": "...",
                  "album_uri": ..., "album_name": ..., "duration_ms": ...}, ...],
      ...}, ...]}

Every playlist whose title is prompt-like becomes one example:
query = the title, whitespace-collapsed (plus ". " and the HTML-unescaped
description when `use_description=True`); query_id = "mpd-<pid>"; relevant
tracks = the playlist's tracks in playlist order. The catalog is built from
the tracks of kept playlists as they are met (track_id = track_uri,
artist_id = artist_uri). Split: a hash of the normalised query
(`split_for_query`), so playlists with the same title share a split.

Filtering (not an error; counted in the manifest under config.filtered):
a title with fewer than `min_title_words` words ("short_title"). Such a
playlist is not an example, but its tracks are kept as co-occurrence for
collaborative filtering (the dataset's cooccurrence.parquet; in the real MPD
most titles are this short), as the paper's CF embeddings learn from playlists,
not from the prompt pairs. Its records are validated like any other.

Bad records (`InputError` through the `ErrorPolicy`; with on_error="skip" the
record is skipped and counted by kind): a slice file that is not valid UTF-8
or not valid JSON, or has no "playlists" list, is one bad record (the whole
file, located by file:line; its playlists count as lost: end - start + 1 by
the file's name, unknown for a file named otherwise); a playlist with a
missing or mistyped name, pid or track field, an empty title, no tracks, a track listed twice, or a pid
seen before is one bad record, located by file and field path, e.g.
`mpd.slice.0-999.json: field 'playlists[12].tracks[3].track_uri'`.
With `dedupe_tracks=True` a repeated track is not an error: its repeats are
dropped (first position kept) and counted in config.duplicate_tracks_dropped.

Files are read one at a time, so memory is bounded by the catalog and one
slice, not by the number of playlists.
"""

from __future__ import annotations

import collections
import html
import logging
import re
import sys
from pathlib import Path
from typing import Sequence

import tqdm

from text2tracks_jax.data.dataset import split_for_query
from text2tracks_jax.data.errors import ErrorPolicy, InputError
from text2tracks_jax.data.jsonl import (check_encodable, check_fractions, clean_text,
                                        decode_utf8, input_error_path, parse_json)

DEFAULT_SPLIT_FRACTIONS = (0.98, 0.01, 0.01)
DEFAULT_MIN_TITLE_WORDS = 3
DESCRIPTION_SEPARATOR = ". "
SLICE_PATTERN = re.compile(r"^mpd\.slice\.(\d+)-(\d+)\.json$")
_TRACK_FIELDS = ("track_uri", "track_name", "artist_uri", "artist_name")
RECORD_UNIT = "playlists"  # the errors summary counts playlists lost, not just bad files

logger = logging.getLogger(__name__)


def find_slices(input_path, max_slices: int | None = None) -> list:
  """The slice files to read, ordered by their start index."""
  path = Path(input_path)
  if path.is_file():
    files = [path]
  elif path.is_dir():
    found = [(int(m.group(1)), p) for p in path.iterdir()
             if (m := SLICE_PATTERN.match(p.name)) and p.is_file()]
    files = [p for _, p in sorted(found)]
    if not files:
      raise InputError(path, None, None, "no mpd.slice.<start>-<end>.json files in directory",
                       kind="missing_file")
  else:
    raise input_error_path(path)
  if max_slices is not None:
    if max_slices < 1:
      raise ValueError(f"max_slices must be >= 1, got {max_slices}")
    files = files[:max_slices]
  return files


def slice_size(path) -> int | None:
  """Playlists a slice file holds by its name (`mpd.slice.0-999.json`: 1000); None if unnamed."""
  m = SLICE_PATTERN.match(Path(path).name)
  return int(m.group(2)) - int(m.group(1)) + 1 if m and int(m.group(2)) >= int(m.group(1)) \
      else None


def read_slice(path) -> list:
  """The "playlists" list of one slice file; a bad file is an `InputError`."""
  doc = parse_json(decode_utf8(Path(path).read_bytes(), path), path)
  if not isinstance(doc, dict):
    raise InputError(path, None, None, f"expected a JSON object, got {type(doc).__name__}",
                     kind="invalid_type")
  playlists = doc.get("playlists")
  if playlists is None:
    raise InputError(path, None, "playlists", "missing", kind="missing_field")
  if not isinstance(playlists, list):
    raise InputError(path, None, "playlists", f"expected a list, got "
                     f"{type(playlists).__name__}", kind="invalid_type")
  return playlists


class _Playlists:
  """Turns MPD playlists into examples; holds the loader's running counts."""

  def __init__(self, writer, *, min_title_words: int, use_description: bool,
               fractions: tuple, seed: int, dedupe_tracks: bool = False):
    self.writer = writer
    self.min_title_words = min_title_words
    self.use_description = use_description
    self.fractions, self.seed = fractions, seed
    self.dedupe_tracks = dedupe_tracks
    self.pids = set()  # pids of kept playlists
    self.seen = 0
    self.kept = 0
    self.repeats_dropped = 0
    self.filtered = collections.Counter()

  def add(self, playlist, index: int, path):
    """Adds one playlist, or counts it as filtered; bad records raise `InputError`."""
    self.seen += 1
    where = f"playlists[{index}]"
    if not isinstance(playlist, dict):
      raise InputError(path, None, where, f"expected an object, got {type(playlist).__name__}",
                       kind="invalid_type")
    title = _title(playlist, path, where)
    pid = playlist.get("pid")
    if pid is None:
      raise InputError(path, None, f"{where}.pid", "missing", kind="missing_field")
    if type(pid) is not int:  # pylint: disable=unidiomatic-typecheck
      raise InputError(path, None, f"{where}.pid", f"expected an integer, got {pid!r}",
                       kind="invalid_type")
    short = len(title.split()) < self.min_title_words
    try:
      query = title if short else self._query(title, playlist, path, where)
      new_tracks, track_ids = _tracks(playlist, path, where, self.writer, self.dedupe_tracks)
      if pid in self.pids:
        raise InputError(path, None, f"{where}.pid", "seen before", kind="duplicate_id")
    except InputError as e:  # name the playlist by pid too
      raise InputError(e.path, e.line, e.field, f"{e.message} (pid {pid})", e.kind) from None
    self.pids.add(pid)
    self.repeats_dropped += len(playlist["tracks"]) - len(track_ids)
    if short:  # not a prompt, but its co-occurrence is what CF learns from
      self.filtered["short_title"] += 1
      self.writer.add_cooccurrence(f"mpd-{pid}", title, track_ids)
      return
    for track in new_tracks:
      self.writer.add_track(*track)
    split = split_for_query(query, self.fractions, self.seed)
    self.writer.add_example(split, f"mpd-{pid}", query, track_ids)
    self.kept += 1

  def _query(self, title: str, playlist: dict, path, where: str) -> str:
    if not self.use_description:
      return title
    description = playlist.get("description")
    if description is None:
      return title
    if not isinstance(description, str):
      raise InputError(path, None, f"{where}.description",
                       f"expected a string, got {type(description).__name__}",
                       kind="invalid_type")
    description = clean_text(html.unescape(description))
    check_encodable(description, path, None, f"{where}.description")
    return f"{title}{DESCRIPTION_SEPARATOR}{description}" if description else title


def _title(playlist: dict, path, where: str) -> str:
  name = playlist.get("name")
  if name is None:
    raise InputError(path, None, f"{where}.name", "missing", kind="missing_field")
  if not isinstance(name, str):
    raise InputError(path, None, f"{where}.name",
                     f"expected a string, got {type(name).__name__}", kind="invalid_type")
  title = clean_text(name)
  if not title:
    raise InputError(path, None, f"{where}.name", "empty title", kind="empty_query")
  check_encodable(title, path, None, f"{where}.name")
  return title


def _tracks(playlist: dict, path, where: str, writer, dedupe: bool = False) -> tuple:
  """(catalog rows for tracks not yet in `writer`, track ids in playlist order).

  A track listed twice is an `InputError`, or with `dedupe` its repeats are
  dropped (the first position is kept).
  """
  tracks = playlist.get("tracks")
  if tracks is None:
    raise InputError(path, None, f"{where}.tracks", "missing", kind="missing_field")
  if not isinstance(tracks, list):
    raise InputError(path, None, f"{where}.tracks",
                     f"expected a list, got {type(tracks).__name__}", kind="invalid_type")
  if not tracks:
    raise InputError(path, None, f"{where}.tracks", "no tracks", kind="no_tracks")
  # pylint: disable=unidiomatic-typecheck  (exact type tests: the hot loop)
  uris = []
  for j, track in enumerate(tracks):
    try:
      uri = track["track_uri"]
      ok = (type(uri) is str and uri and type(track["track_name"]) is str
            and type(track["artist_name"]) is str
            and type(track["artist_uri"]) is str and track["artist_uri"])
    except (KeyError, TypeError):
      ok = False
    if not ok:
      raise _track_error(track, path, f"{where}.tracks[{j}]")
    uris.append(uri)
  positions = range(len(uris))
  if len(set(uris)) != len(uris):
    if not dedupe:
      raise _duplicate_error(uris, path, where)
    first_at = {}
    for j, uri in enumerate(uris):
      first_at.setdefault(uri, j)
    positions = list(first_at.values())
    uris = list(first_at)
  has_track, new = writer.has_track, []
  for j, uri in zip(positions, uris):
    if not has_track(uri):
      track = tracks[j]
      for key in ("track_name", "artist_name"):
        check_encodable(track[key], path, None, f"{where}.tracks[{j}].{key}")
      new.append((uri, clean_text(track["track_name"]), track["artist_uri"],
                  clean_text(track["artist_name"])))
  return new, uris


def _duplicate_error(uris: list, path, where: str) -> InputError:
  first_at = {}
  for j, uri in enumerate(uris):
    if uri in first_at:
      return InputError(path, None, f"{where}.tracks[{j}].track_uri",
                        f"track {uri!r} listed twice (also at tracks[{first_at[uri]}]); "
                        "--dedupe_tracks keeps such playlists",
                        kind="duplicate_track")
    first_at[uri] = j
  raise AssertionError("no duplicate")


def _track_error(track, path, where: str) -> InputError:
  """The precise error for a track record that failed the fast checks."""
  if not isinstance(track, dict):
    return InputError(path, None, where, f"expected an object, got {type(track).__name__}",
                      kind="invalid_type")
  for key in _TRACK_FIELDS:
    if track.get(key) is None:
      return InputError(path, None, f"{where}.{key}", "missing", kind="missing_field")
    if not isinstance(track[key], str):
      return InputError(path, None, f"{where}.{key}",
                        f"expected a string, got {type(track[key]).__name__}",
                        kind="invalid_type")
  key = "track_uri" if not track["track_uri"] else "artist_uri"
  return InputError(path, None, f"{where}.{key}", "is empty", kind="empty_field")


def _load_slice(path, builder: _Playlists, policy: ErrorPolicy):
  """Adds the playlists of one slice file; bad records go through `policy`."""
  try:
    playlists = read_slice(path)
  except InputError as e:
    policy.report(e, lost=slice_size(path))  # the whole file's playlists
    return
  for index, playlist in enumerate(playlists):
    try:
      builder.add(playlist, index, path)
    except InputError as e:
      policy.report(e)


def load(writer, policy: ErrorPolicy, *, input_path, seed: int = 0,
         max_slices: int | None = None,
         min_title_words: int = DEFAULT_MIN_TITLE_WORDS,
         use_description: bool = False,
         split_fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS,
         dedupe_tracks: bool = False,
         progress: bool = True) -> list:
  """Fills `writer` from MPD slice files; returns the slice paths read.

  Args:
    writer: the `DatasetWriter` to fill.
    policy: bad-record policy (raise, or skip and count).
    input_path: a directory of `mpd.slice.*.json` files, or one slice file.
    seed: split hash seed.
    max_slices: read only the first N slices (by start index).
    min_title_words: keep playlists whose title has at least this many words.
    use_description: append the playlist description (when present) to the query.
    split_fractions: (train, validation, test) shares of distinct queries.
    dedupe_tracks: keep only the first occurrence of a track a playlist lists
      twice (counted in config.duplicate_tracks_dropped) instead of treating
      the playlist as a bad record.
    progress: show a tqdm bar (slices, playlists/s, ETA) on stderr.
  """
  fractions = check_fractions(split_fractions)
  if isinstance(min_title_words, bool) or not isinstance(min_title_words, int) \
      or min_title_words < 0:
    raise ValueError(f"min_title_words must be >= 0, got {min_title_words}")
  files = find_slices(input_path, max_slices)
  builder = _Playlists(writer, min_title_words=min_title_words,
                       use_description=use_description, fractions=fractions, seed=seed,
                       dedupe_tracks=dedupe_tracks)
  with tqdm.tqdm(files, desc="mpd slices", unit="slice", file=sys.stderr,
                 disable=not progress, mininterval=2.0, dynamic_ncols=True) as bar:
    for path in bar:
      _load_slice(path, builder, policy)
      rate = builder.seen / max(bar.format_dict["elapsed"], 1e-9)
      bar.set_postfix(playlists=f"{builder.seen:,}", kept=f"{builder.kept:,}",
                      rate=f"{rate:,.0f}/s", refresh=False)
  writer.config.update(
      min_title_words=min_title_words, use_description=use_description,
      split_fractions=list(fractions), dedupe_tracks=dedupe_tracks,
      slices_read=len(files), playlists_seen=builder.seen, playlists_kept=builder.kept,
      filtered=dict(builder.filtered), duplicate_tracks_dropped=builder.repeats_dropped)
  logger.info(f"mpd: {builder.seen:,} playlists in {len(files)} slice(s), kept {builder.kept:,}; "
              f"filtered {dict(builder.filtered) or 0}; bad records {policy.total_skipped:,} "
              f"({policy.lost:,} playlists lost"
              + (f", and those of {policy.lost_unknown} file(s) of unknown size)"
                 if policy.lost_unknown else ")"))
  return files
