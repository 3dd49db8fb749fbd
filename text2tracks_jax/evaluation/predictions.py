"""Reading and checking predictions JSONL, the format `infer` and the baselines write.

One line per query::

  {"query_id": "q1", "query": "chill vibes", "track_ids": ["t3", "t9", ...],
   "generated_ids": [...], "scores": [...], "invalid_ids": 2}

`query_id` (string) and `track_ids` (ranked list of strings) are required;
`invalid_ids` (the number of generated IDs that match no track, or their list)
is optional and averaged when present; other fields are not read. Any bad
record stops the run with an `InputError` naming file, line and field.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Dict, Mapping, Optional

from text2tracks_jax.data.errors import InputError


@dataclasses.dataclass(frozen=True)
class Prediction:
  track_ids: tuple          # ranked
  invalid_ids: Optional[int]  # None when the file does not say
  line: int


def _check_record(record, path, line) -> Prediction:
  if not isinstance(record, dict):
    raise InputError(path, line, None, f"expected a JSON object, got {type(record).__name__}")
  for field in ("query_id", "track_ids"):
    if field not in record:
      raise InputError(path, line, field, "missing")
  if not isinstance(record["query_id"], str) or not record["query_id"]:
    raise InputError(path, line, "query_id",
                     f"must be a non-empty string, got {record['query_id']!r}")
  track_ids = record["track_ids"]
  if not isinstance(track_ids, list):
    raise InputError(path, line, "track_ids",
                     f"must be a list of track id strings, got {type(track_ids).__name__}")
  for i, t in enumerate(track_ids):
    if not isinstance(t, str):
      raise InputError(path, line, "track_ids", f"element {i} is {t!r}, not a string")
  invalid = record.get("invalid_ids")
  if isinstance(invalid, list):
    invalid = len(invalid)
  elif invalid is not None and (isinstance(invalid, bool) or not isinstance(invalid, int)
                                or invalid < 0):
    raise InputError(path, line, "invalid_ids",
                     f"must be a count >= 0 or a list, got {record['invalid_ids']!r}")
  return Prediction(tuple(track_ids), invalid, line)


def load(path) -> Dict[str, Prediction]:
  """query id -> `Prediction`, in file order. Raises `InputError` on any bad line."""
  path = Path(path)
  if not path.is_file():
    raise InputError(path, None, None, "no such predictions file")
  out: Dict[str, Prediction] = {}
  with open(path, encoding="utf-8") as f:
    for line_no, text in enumerate(f, 1):
      if not text.strip():
        continue
      try:
        record = json.loads(text)
      except json.JSONDecodeError as e:
        raise InputError(path, line_no, None, f"invalid JSON ({e.msg} at column {e.colno})") from e
      pred = _check_record(record, path, line_no)
      qid = record["query_id"]
      if qid in out:
        raise InputError(path, line_no, "query_id",
                         f"duplicate query id {qid!r} (first on line {out[qid].line})")
      out[qid] = pred
  if not out:
    raise InputError(path, None, None, "no predictions in file")
  return out


def check_known_queries(predictions: Mapping[str, Prediction], labels: Mapping, path,
                        split: str) -> None:
  """Raises `InputError` at the first predicted query that has no label in `split`."""
  unknown = [q for q in predictions if q not in labels]
  if unknown:
    first = unknown[0]
    raise InputError(path, predictions[first].line, "query_id",
                     f"query id {first!r} is not in the {split} split "
                     f"({len(unknown)} of {len(predictions)} predicted queries are not); "
                     "wrong --data or --split?")
