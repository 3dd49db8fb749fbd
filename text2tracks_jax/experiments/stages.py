"""Resumable experiment stages: each one skips itself when its artifact is complete.

A stage writes its artifact atomically (the dataset writer, the ID map
builder, the predictions writers all do), then a small JSON marker
`WORKDIR/stages/NAME.json` with the stage's settings and timing. On a re-run a
stage whose marker exists with the same settings is skipped; one whose
settings changed is an error (delete the marker and the artifact, or use a new
workdir), so results from two different configurations never mix silently.
Training is the exception that resumes inside a stage: the trainer restarts
from its latest Orbax checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable, Optional

from text2tracks_jax.data import outputs
from text2tracks_jax.data.errors import SettingsError

logger = logging.getLogger(__name__)


class StageRunner:
  """Runs named stages in order, with logged progress lines and skip-if-done."""

  def __init__(self, workdir: Path, total: int):
    self.workdir = Path(workdir)
    self.markers = self.workdir / "stages"
    self.markers.mkdir(parents=True, exist_ok=True)
    self.total = total
    self.index = 0
    self.started = time.time()
    self.records = {}

  def marker(self, name: str) -> Path:
    return self.markers / (name.replace("/", "__") + ".json")

  def done(self, name: str) -> Optional[dict]:
    path = self.marker(name)
    return json.loads(path.read_text()) if path.exists() else None

  def run(self, name: str, settings: dict, fn: Callable[[], Optional[dict]]) -> dict:
    """Runs `fn` unless stage `name` already completed with equal `settings`."""
    self.index += 1
    prefix = f"[stage {self.index}/{self.total}] {name}"
    settings = json.loads(json.dumps(settings, default=str))  # compare as stored
    previous = self.done(name)
    if previous is not None:
      if previous["settings"] != settings:
        raise SettingsError(f"{self.marker(name)}: field 'settings': stage {name} was "
                            f"completed with other settings ({previous['settings']}) than now "
                            f"({settings}); delete that marker and the stage's output, or use "
                            "a new --workdir")
      logger.info(f"{prefix}: done earlier ({previous['seconds']:.0f}s), skipped")
      self.records[name] = previous
      return previous
    logger.info(f"{prefix}: running (experiment time so far {self._elapsed()})")
    start = time.time()
    result = fn() or {}
    record = {"settings": settings, "seconds": round(time.time() - start, 2), "result": result}
    outputs.atomic_write(self.marker(name), json.dumps(record, indent=2, default=str) + "\n")
    logger.info(f"{prefix}: finished in {record['seconds']:.0f}s")
    self.records[name] = record
    return record

  def _elapsed(self) -> str:
    s = int(time.time() - self.started)
    return f"{s // 60}m{s % 60:02d}s"
