"""Generic JSONL source: your own (query, tracks) pairs and track catalog.

Input (`text2tracks prepare --source jsonl --input queries.jsonl --catalog
catalog.jsonl`), UTF-8, one JSON object per line, blank lines ignored::

  catalog.jsonl   {"track_id": "t1", "title": "Song", "artist_id": "a1",
                   "artist_name": "Artist"}
  queries.jsonl   {"query": "songs for a rainy sunday", "tracks": ["t1", "t7"],
                   "query_id": "q42",     # optional, default "line-<n>"
                   "split": "test"}       # optional: train | validation | test

Every catalog track goes into the prepared catalog (also tracks no query
mentions: they are candidates). A query's tracks keep their order. Queries
without "split" are split by a hash of the normalised query text
(`split_for_query`), so equal query texts always share a split; with explicit
splits, a test query text that also occurs in train stops `commit`.

Bad records (each an `InputError` naming file, 1-based line and field, sent
through the `ErrorPolicy`; with on_error="skip" the whole line is skipped and
counted by kind): invalid UTF-8, malformed JSON, a missing or mistyped field,
an empty query or title, a query listing a track twice, a track missing from
the catalog, a query id or catalog track id used twice.

This module also holds the line reader and field checks that the CPCD loader
shares.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

from text2tracks_jax.data.dataset import SPLITS, split_for_query
from text2tracks_jax.data.errors import ErrorPolicy, InputError

DEFAULT_SPLIT_FRACTIONS = (0.9, 0.05, 0.05)
_BOM = b"\xef\xbb\xbf"


# -- shared helpers ----------------------------------------------------------
def clean_text(text: str) -> str:
  """Collapses runs of whitespace (newlines included) to one space; strips."""
  return " ".join(text.split())


def decode_utf8(raw: bytes, path, line=None) -> str:
  """Decodes bytes strictly; invalid UTF-8 is an `InputError` naming the byte."""
  try:
    return raw.decode("utf-8")
  except UnicodeDecodeError as e:
    if line is None:  # a whole file: name the line the bad byte is on
      line = raw.count(b"\n", 0, e.start) + 1
      column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
    else:
      column = e.start + 1
    raise InputError(path, line, None,
                     f"invalid UTF-8 (byte 0x{raw[e.start]:02x} at column {column}): "
                     f"{e.reason}", kind="invalid_utf8") from None


def parse_json(text: str, path, line=None):
  """json.loads with errors as `InputError(kind="malformed_json")`."""
  try:
    return json.loads(text)
  except json.JSONDecodeError as e:
    where = line if line is not None else e.lineno
    raise InputError(path, where, None,
                     f"malformed JSON: {e.msg} (column {e.colno})",
                     kind="malformed_json") from None
  except RecursionError:
    raise InputError(path, line, None, "malformed JSON: nested too deeply",
                     kind="malformed_json") from None


def iter_jsonl(path, policy: ErrorPolicy) -> Iterator[tuple]:
  """Yields (1-based line number, JSON object) for each non-blank line.

  Lines that are not valid UTF-8, not valid JSON or not an object are
  reported through `policy` (raised, or skipped and counted).
  """
  with open(path, "rb") as f:
    for line_no, raw in enumerate(f, start=1):
      if line_no == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM):]
      if not raw.strip():
        continue
      try:
        record = parse_json(decode_utf8(raw, path, line_no), path, line_no)
        if not isinstance(record, dict):
          raise InputError(path, line_no, None,
                           f"expected a JSON object, got {type(record).__name__}",
                           kind="invalid_type")
      except InputError as e:
        policy.report(e)
        continue
      yield line_no, record


_TYPE_NAMES = {str: "a string", list: "a list", dict: "an object", int: "an integer"}


def get_field(record: dict, key: str, kind_of: type, path, line, where: str = ""):
  """record[key] checked for presence and type; `where` prefixes the field name."""
  name = f"{where}{key}"
  if key not in record or record[key] is None:
    raise InputError(path, line, name, "missing", kind="missing_field")
  value = record[key]
  if not isinstance(value, kind_of) or (kind_of is int and isinstance(value, bool)):
    raise InputError(path, line, name,
                     f"expected {_TYPE_NAMES.get(kind_of, kind_of.__name__)}, "
                     f"got {type(value).__name__}", kind="invalid_type")
  return value


def get_text(record: dict, key: str, path, line, where: str = "", *,
             empty_kind: str = "empty_field") -> str:
  """A non-blank string field, whitespace-collapsed; also rejects lone surrogates."""
  value = clean_text(get_field(record, key, str, path, line, where))
  if not value:
    raise InputError(path, line, f"{where}{key}", "is empty", kind=empty_kind)
  check_encodable(value, path, line, f"{where}{key}")
  return value


def check_encodable(value: str, path, line, field: str):
  """JSON escapes can smuggle lone surrogates ("\\ud800") that UTF-8 cannot hold."""
  try:
    value.encode("utf-8")
  except UnicodeEncodeError:
    raise InputError(path, line, field, "holds a lone surrogate escape (not valid UTF-8)",
                     kind="invalid_utf8") from None


def get_id_list(record: dict, key: str, path, line, where: str = "") -> list:
  """A non-empty list of distinct non-empty string ids (order kept)."""
  values = get_field(record, key, list, path, line, where)
  if not values:
    raise InputError(path, line, f"{where}{key}", "is empty", kind="no_tracks")
  first_at = {}
  for i, value in enumerate(values):
    if not isinstance(value, str) or not value:
      raise InputError(path, line, f"{where}{key}[{i}]",
                       f"expected a non-empty string id, got {value!r}", kind="invalid_type")
    if value in first_at:
      raise InputError(path, line, f"{where}{key}[{i}]",
                       f"track {value!r} listed twice (also at [{first_at[value]}])",
                       kind="duplicate_track")
    first_at[value] = i
  return values


def check_fractions(fractions: Sequence[float]) -> tuple:
  """Validates (train, validation, test) split fractions."""
  fractions = tuple(float(f) for f in fractions)
  if len(fractions) != 3 or min(fractions) < 0 or fractions[0] <= 0:
    raise ValueError(f"split_fractions must be 3 non-negative numbers with train > 0, "
                     f"got {fractions}")
  return fractions


def input_error_path(path) -> InputError:
  """The error for an input path that does not exist."""
  return InputError(path, None, None, "no such file or directory", kind="missing_file")


# -- the generic JSONL source ------------------------------------------------
def load(writer, policy: ErrorPolicy, *, input_path, catalog_path=None, seed: int = 0,
         split_fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS) -> list:
  """Fills `writer` from queries.jsonl + catalog.jsonl; returns the paths read."""
  fractions = check_fractions(split_fractions)
  input_path = Path(input_path)
  if catalog_path is None:
    raise InputError(input_path, None, "catalog_path",
                     "--source jsonl needs a track catalog: --catalog catalog.jsonl",
                     kind="missing_file")
  catalog_path = Path(catalog_path)
  for p in (input_path, catalog_path):
    if not p.is_file():
      raise input_error_path(p)
  writer.config.update(split_fractions=list(fractions))
  _load_catalog(writer, policy, catalog_path)
  explicit = _load_queries(writer, policy, input_path, fractions, seed)
  writer.config["filtered"] = {}
  writer.config["explicit_splits"] = explicit
  return [input_path, catalog_path]


def _load_catalog(writer, policy: ErrorPolicy, path: Path):
  first_line = {}
  for line, record in iter_jsonl(path, policy):
    try:
      track_id = get_text(record, "track_id", path, line)
      title = get_text(record, "title", path, line)
      artist_id = get_text(record, "artist_id", path, line)
      artist_name = get_text(record, "artist_name", path, line)
      if track_id in first_line:
        raise InputError(path, line, "track_id",
                         f"track {track_id!r} already defined on line {first_line[track_id]}",
                         kind="duplicate_id")
    except InputError as e:
      policy.report(e)
      continue
    first_line[track_id] = line
    writer.add_track(track_id, title, artist_id, artist_name)


def _load_queries(writer, policy: ErrorPolicy, path: Path, fractions, seed) -> int:
  """Adds one example per valid line; returns how many had an explicit split."""
  first_line, explicit = {}, 0
  for line, record in iter_jsonl(path, policy):
    try:
      query, track_ids, query_id, split = _parse_query(record, path, line, writer)
      if query_id in first_line:
        raise InputError(path, line, "query_id",
                         f"query id {query_id!r} already used on line {first_line[query_id]}",
                         kind="duplicate_id")
    except InputError as e:
      policy.report(e)
      continue
    first_line[query_id] = line
    explicit += split is not None
    split = split or split_for_query(query, fractions, seed)
    writer.add_example(split, query_id, query, track_ids)
  return explicit


def _parse_query(record: dict, path, line, writer) -> tuple:
  query = get_text(record, "query", path, line, empty_kind="empty_query")
  track_ids = get_id_list(record, "tracks", path, line)
  for i, track_id in enumerate(track_ids):
    if not writer.has_track(track_id):
      raise InputError(path, line, f"tracks[{i}]",
                       f"track {track_id!r} is not in the catalog", kind="unknown_track")
  query_id = f"line-{line}"
  if record.get("query_id") is not None:
    raw = record["query_id"]
    if isinstance(raw, bool) or not isinstance(raw, (str, int)) or not str(raw).strip():
      raise InputError(path, line, "query_id",
                       f"expected a non-empty string or integer, got {raw!r}",
                       kind="invalid_type")
    query_id = str(raw).strip()
  split = record.get("split")
  if split is not None and split not in SPLITS:
    raise InputError(path, line, "split", f"{split!r} is not one of {list(SPLITS)}",
                     kind="invalid_value")
  return query, track_ids, query_id, split
