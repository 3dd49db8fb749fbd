"""CPCD: the Conversational Playlist Curation Dataset (Chaganty et al., SIGIR 2023).

Input, in the format of github.com/google-research-datasets/cpcd (`data/`):

- `input_path`: a dialogs file (`cpcd_v1.dialogs.dev.jsonl`, ...) or a
  directory; from a directory every `*dialogs*.jsonl` file is read in name
  order, and `*tracks*.jsonl` is the track file unless `catalog_path` is given.
  One conversation per line::

    {"id": "00079c9c8dd7b55a",
     "turns": [{"user_query": "...", "system_response": "...",
                "search_queries": [...], "search_results": [[...]],
                "liked_results": ["Jx_O6PHdWww", ...], "disliked_results": [...]}, ...],
     "tracks": {"Jx_O6PHdWww": {"track_ids": "Jx_O6PHdWww", "track_titles": "Hey Ya!",
                                "track_artists": ["Outkast"], "track_release_titles": "...",
                                "track_cluster_ids": "bdc9...", "track_canonical_ids": "..."}},
     "goal_playlist": [...]}

- `catalog_path` (optional): `cpcd_v1.tracks.jsonl`, one track object (as in
  "tracks" above) per line. Its tracks join the catalog and resolve liked
  tracks that a conversation's own "tracks" map lacks.

Examples: one per turn that has liked tracks. The query concatenates the
user utterances of turns 0..t (each whitespace-collapsed), joined by
`TURN_SEPARATOR` (" | "); query_id = "cpcd-<conversation id>:<t>" (t 0-based,
as in CPCD's `eval.py` docids); relevant tracks = the tracks liked in turn t.
Turns without liked tracks are filtered ("turns_without_likes"), not errors.

Track clusters: tracks of one `track_cluster_ids` cluster are the same song.
Every track maps to one representative, the smallest track id of its cluster
among the tracks read (CPCD's own `track_canonical_ids` often names a track
that is in no file); catalog and examples hold representatives only, and a
turn's liked tracks are deduplicated after mapping (counted in
config.cpcd.liked_merged_by_cluster). The catalog has one row per cluster:
title from the representative, artist_name = the artists joined by ", ",
artist_id = "cpcd:" + the normalised first artist (CPCD has no artist ids).

Split: by conversation, hashing the normalised first user utterance
(`split_for_query`), so all turns of a conversation share a split. Two
conversations that produce an equal (normalised) query are put in one split,
so no test query text occurs in train. A conversation id met again with the
same content (e.g. `dev.jsonl` next to `dev.train.jsonl`) is counted as
"duplicate_conversation" and read once.

Bad records (`InputError` through the `ErrorPolicy`, located by file, 1-based
line and field): a line that is invalid UTF-8, malformed JSON, lacks a field
or has a mistyped one, has an empty user query or a bad track record skips
the whole conversation; a turn liking a track twice or liking a track in no
"tracks" map nor the track file skips that turn's example; a conversation id
met again with different content is a "duplicate_id".
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Sequence

from text2tracks_jax.data.dataset import normalize_query, split_for_query
from text2tracks_jax.data.errors import ErrorPolicy, InputError
from text2tracks_jax.data.jsonl import (check_fractions, get_field, get_text,
                                        input_error_path, iter_jsonl)

TURN_SEPARATOR = " | "
DEFAULT_SPLIT_FRACTIONS = (0.8, 0.1, 0.1)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Track:
  track_id: str
  title: str
  artists: tuple
  cluster: str


@dataclasses.dataclass
class Conversation:
  """One validated conversation line."""

  conversation_id: str
  path: Path
  line: int
  utterances: list
  liked: list  # per turn: the raw liked track ids
  tracks: dict  # track id -> Track (the conversation's own map)


def find_inputs(input_path, catalog_path=None) -> tuple:
  """(dialog files, track files) named by `input_path` and `catalog_path`."""
  path = Path(input_path)
  if path.is_dir():
    dialogs = sorted(p for p in path.glob("*dialogs*.jsonl") if p.is_file())
    if not dialogs:
      raise InputError(path, None, None, "no *dialogs*.jsonl files in directory",
                       kind="missing_file")
    tracks = sorted(p for p in path.glob("*tracks*.jsonl") if p.is_file())
  elif path.is_file():
    dialogs, tracks = [path], []
  else:
    raise input_error_path(path)
  if catalog_path is not None:
    tracks = [Path(catalog_path)]
    if not tracks[0].is_file():
      raise input_error_path(tracks[0])
  return dialogs, tracks


def parse_track(record: dict, path, line, where: str = "") -> Track:
  """A validated CPCD track record."""
  track_id = get_text(record, "track_ids", path, line, where)
  title = get_text(record, "track_titles", path, line, where)
  artists = get_field(record, "track_artists", list, path, line, where)
  for i, artist in enumerate(artists):
    if not isinstance(artist, str):
      raise InputError(path, line, f"{where}track_artists[{i}]",
                       f"expected a string, got {type(artist).__name__}", kind="invalid_type")
  artists = tuple(a for a in (" ".join(a.split()) for a in artists) if a)
  cluster = record.get("track_cluster_ids")
  if cluster is not None and not isinstance(cluster, str):
    raise InputError(path, line, f"{where}track_cluster_ids",
                     f"expected a string, got {type(cluster).__name__}", kind="invalid_type")
  return Track(track_id, title, artists, cluster or f"track:{track_id}")


def parse_conversation(record: dict, path, line) -> Conversation:
  """A validated conversation; any problem is an `InputError` for the whole line."""
  conversation_id = get_text(record, "id", path, line)
  turns = get_field(record, "turns", list, path, line)
  if not turns:
    raise InputError(path, line, "turns", "no turns", kind="empty_field")
  utterances, liked = [], []
  for t, turn in enumerate(turns):
    where = f"turns[{t}]."
    if not isinstance(turn, dict):
      raise InputError(path, line, f"turns[{t}]",
                       f"expected an object, got {type(turn).__name__}", kind="invalid_type")
    utterances.append(get_text(turn, "user_query", path, line, where, empty_kind="empty_query"))
    ids = get_field(turn, "liked_results", list, path, line, where)
    for i, track_id in enumerate(ids):
      if not isinstance(track_id, str) or not track_id:
        raise InputError(path, line, f"{where}liked_results[{i}]",
                         f"expected a non-empty string id, got {track_id!r}",
                         kind="invalid_type")
    liked.append(ids)
  tracks = {}
  for key, value in get_field(record, "tracks", dict, path, line).items():
    where = f"tracks[{key!r}]"
    if not isinstance(value, dict):
      raise InputError(path, line, where, f"expected an object, got {type(value).__name__}",
                       kind="invalid_type")
    track = parse_track(value, path, line, where + ".")
    if track.track_id != key:
      raise InputError(path, line, f"{where}.track_ids",
                       f"{track.track_id!r} differs from its key", kind="invalid_value")
    tracks[key] = track
  return Conversation(conversation_id, Path(path), line, utterances, liked, tracks)


class _Catalog:
  """All tracks read, their clusters and cluster representatives."""

  def __init__(self):
    self.tracks = {}  # track id -> Track (first record read wins)
    self.conflicts = 0

  def add(self, track: Track):
    known = self.tracks.get(track.track_id)
    if known is None:
      self.tracks[track.track_id] = track
    elif known.cluster != track.cluster:
      self.conflicts += 1

  def representatives(self) -> dict:
    """track id -> the smallest track id of its cluster."""
    smallest = {}
    for track_id, track in self.tracks.items():
      if track.cluster not in smallest or track_id < smallest[track.cluster]:
        smallest[track.cluster] = track_id
    return {tid: smallest[t.cluster] for tid, t in self.tracks.items()}


def _read_inputs(dialog_files, track_files, policy: ErrorPolicy, stats) -> tuple:
  """Pass 1: validated conversations (deduplicated by id) and the catalog."""
  catalog = _Catalog()
  for path in track_files:
    for line, record in iter_jsonl(path, policy):
      try:
        catalog.add(parse_track(record, path, line))
      except InputError as e:
        policy.report(e)
  conversations, fingerprints = [], {}
  for path in dialog_files:
    for line, record in iter_jsonl(path, policy):
      try:
        conversation = parse_conversation(record, path, line)
        fingerprint = hashlib.blake2b(json.dumps(record, sort_keys=True).encode(),
                                      digest_size=16).digest()
        first = fingerprints.get(conversation.conversation_id)
        if first is not None and first[0] != fingerprint:
          raise InputError(path, line, "id",
                           f"conversation {conversation.conversation_id!r} already read "
                           f"from {first[1]} with different content", kind="duplicate_id")
      except InputError as e:
        policy.report(e)
        continue
      if first is not None:
        stats["duplicate_conversation"] += 1
        continue
      fingerprints[conversation.conversation_id] = (fingerprint, f"{path}:{line}")
      for track in conversation.tracks.values():
        catalog.add(track)
      conversations.append(conversation)
  return conversations, catalog


def turn_queries(utterances: Sequence[str], separator: str = TURN_SEPARATOR) -> list:
  """Query for each turn t: user utterances 0..t joined by `separator`."""
  return [separator.join(utterances[:t + 1]) for t in range(len(utterances))]


def _assign_splits(conversations, queries, fractions, seed) -> list:
  """One split per conversation; conversations sharing a query share a split."""
  parent = list(range(len(conversations)))

  def find(i):
    while parent[i] != i:
      parent[i] = parent[parent[i]]
      i = parent[i]
    return i

  owner = {}
  for c, conversation_queries in enumerate(queries):
    for query in conversation_queries:
      key = normalize_query(query)
      if key in owner:
        a, b = find(owner[key]), find(c)
        parent[max(a, b)] = min(a, b)
      else:
        owner[key] = c
  keys = {}
  for c, conversation in enumerate(conversations):
    root, first = find(c), normalize_query(conversation.utterances[0])
    keys[root] = min(keys.get(root, first), first)
  return [split_for_query(keys[find(c)], fractions, seed) for c in range(len(conversations))]


def _turn_tracks(conversation: Conversation, t: int, catalog: _Catalog, rep: dict,
                 stats) -> list:
  """The representatives of the tracks liked in turn t (deduplicated)."""
  out, first_at = [], {}
  for i, track_id in enumerate(conversation.liked[t]):
    field = f"turns[{t}].liked_results[{i}]"
    if track_id in first_at:
      raise InputError(conversation.path, conversation.line, field,
                       f"track {track_id!r} liked twice (also at [{first_at[track_id]}])",
                       kind="duplicate_track")
    first_at[track_id] = i
    if track_id not in catalog.tracks:
      raise InputError(conversation.path, conversation.line, field,
                       f"track {track_id!r} is in no conversation's tracks map nor the "
                       "track file", kind="unknown_track")
    representative = rep[track_id]
    if representative in out:
      stats["liked_merged_by_cluster"] += 1
    else:
      out.append(representative)
  return out


def load(writer, policy: ErrorPolicy, *, input_path, catalog_path=None, seed: int = 0,
         split_fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS,
         turn_separator: str = TURN_SEPARATOR) -> list:
  """Fills `writer` from CPCD dialogs (and track) files; returns the paths read."""
  fractions = check_fractions(split_fractions)
  dialog_files, track_files = find_inputs(input_path, catalog_path)
  stats, filtered = collections.Counter(), collections.Counter()
  conversations, catalog = _read_inputs(dialog_files, track_files, policy, stats)
  rep = catalog.representatives()
  for track_id in sorted(set(rep.values())):
    track = catalog.tracks[track_id]
    first_artist = track.artists[0] if track.artists else ""
    writer.add_track(track_id, track.title, f"cpcd:{normalize_query(first_artist)}",
                     ", ".join(track.artists))
  queries = [turn_queries(c.utterances, turn_separator) for c in conversations]
  splits = _assign_splits(conversations, queries, fractions, seed)
  for conversation, conversation_queries, split in zip(conversations, queries, splits):
    for t, query in enumerate(conversation_queries):
      if not conversation.liked[t]:
        filtered["turns_without_likes"] += 1
        continue
      try:
        track_ids = _turn_tracks(conversation, t, catalog, rep, stats)
      except InputError as e:
        policy.report(e)
        continue
      writer.add_example(split, f"cpcd-{conversation.conversation_id}:{t}", query, track_ids)
  filtered["duplicate_conversation"] = stats.pop("duplicate_conversation", 0)
  writer.config.update(
      split_fractions=list(fractions), turn_separator=turn_separator,
      filtered={k: v for k, v in filtered.items() if v},
      cpcd={"conversations": len(conversations), "tracks_read": len(catalog.tracks),
            "clusters": len(set(rep.values())),
            "liked_merged_by_cluster": stats["liked_merged_by_cluster"],
            "track_cluster_conflicts": catalog.conflicts})
  logger.info(f"cpcd: {len(conversations):,} conversations, {len(catalog.tracks):,} tracks in "
              f"{len(set(rep.values())):,} clusters; filtered {dict(filtered) or 0}; "
              f"bad records {policy.total_skipped:,}")
  return [*dialog_files, *track_files]
