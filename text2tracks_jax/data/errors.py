"""User errors (the root of what the CLI reports in one line, exit code 2):
input errors that name file, line and field, flag and settings errors; and the
skip/raise policy for bad input records.

Every loader reports bad records through an `ErrorPolicy`: with `on_error="raise"`
(the default) the first bad record stops the run with an `InputError`; with
`on_error="skip"` the record is skipped and counted by kind, and the counts end
up in the prepared dataset's manifest and stats summary. Nothing is dropped
silently. A source whose bad record can hold many source records (an MPD slice
file holds 1,000 playlists) names that unit, and the policy also counts the
source records lost (`<unit>_lost`), not just the bad records.
"""

from __future__ import annotations

import collections
import dataclasses


class UserError(ValueError):
  """Something the user can fix: the CLI prints `error: <message>` (one line) and
  exits 2, no traceback. A ValueError, as the errors it replaces were."""


class FlagError(UserError):
  """A command-line flag or --gin binding the command cannot use; the message
  names it (`--top_n: must be at least 1, got 0`)."""


class SettingsError(UserError):
  """An artifact made with other settings or inputs than this run's (a completed
  experiment stage, a trained model): `path: what differs`, and how to go on."""


class InputError(UserError):
  """A bad input record: `path:line: field 'f': message`."""

  def __init__(self, path, line, field, message, kind="invalid"):
    self.path, self.line, self.field, self.kind = str(path), line, field, kind
    self.message = message
    where = self.path if line is None else f"{self.path}:{line}"
    what = f" field '{field}':" if field else ""
    super().__init__(f"{where}:{what} {message}")


@dataclasses.dataclass
class ErrorPolicy:
  """Raises on the first bad record, or skips and counts them by kind."""

  on_error: str = "raise"
  skipped: collections.Counter = dataclasses.field(
      default_factory=collections.Counter)
  first_examples: dict = dataclasses.field(default_factory=dict)
  unit: str | None = None  # e.g. "playlists": count the source records lost too
  lost: int = 0
  lost_unknown: int = 0  # bad records whose number of source records is unknown

  def __post_init__(self):
    if self.on_error not in ("raise", "skip"):
      raise ValueError(f"on_error must be 'raise' or 'skip', got {self.on_error!r}")

  def report(self, error: InputError, lost: int | None = 1) -> None:
    """Raises `error`, or records it as one skipped record.

    `lost`: how many source records (of `unit`) the bad record held; None when
    it cannot be known (e.g. an unparseable file of unknown size).
    """
    if self.on_error == "raise":
      raise error
    self.skipped[error.kind] += 1
    self.first_examples.setdefault(error.kind, str(error))
    if lost is None:
      self.lost_unknown += 1
    else:
      self.lost += lost

  @property
  def total_skipped(self) -> int:
    return sum(self.skipped.values())

  def summary(self) -> dict:
    out = {"on_error": self.on_error, "skipped": dict(self.skipped),
           "first_skipped": dict(self.first_examples)}
    if self.unit:
      out[f"{self.unit}_lost"] = self.lost
      if self.lost_unknown:
        out[f"{self.unit}_lost_unknown"] = self.lost_unknown
    return out
