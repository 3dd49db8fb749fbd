"""What every baseline returns: a `Ranker` that scores the whole catalog.

A baseline learns from the catalog and the train split (`IdInputs`, the same
arrays the ID strategies read) and returns a `Ranker`: a function from a batch
of query strings to a dense score matrix over catalog rows. The runner turns
scores into ranked lists with `top_k`, so every baseline shares one
tie-breaking rule: higher score first, then the smaller track id.

A score of -inf means "no evidence for this track" (e.g. a track that never
occurs in train has no text for the bi-encoder): such tracks are never listed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable, Sequence

import numpy as np

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Ranker:
  """A fitted baseline.

  Attributes:
    score: queries [B] str -> scores [B, N] float32/64 over catalog rows.
    settings: the baseline's settings (written to the run summary).
    batch_size: how many queries to score at once.
    info: what fitting measured (seconds, sizes), for the summary.
  """

  score: Callable[[Sequence[str]], np.ndarray]
  settings: dict
  batch_size: int = 256
  info: dict = dataclasses.field(default_factory=dict)


def top_k(scores: np.ndarray, k: int, tiebreak: np.ndarray) -> tuple:
  """Deterministic top-k of each row.

  Args:
    scores: [B, N] float; -inf marks tracks that must not be listed.
    k: list length (clipped to N).
    tiebreak: [N] int, lower wins among equal scores (the track id's rank).

  Returns:
    (rows [B, k] int64, values [B, k] float64); rows whose score is -inf are
    -1 (a list shorter than k).
  """
  b, n = scores.shape
  k = min(k, n)
  rows = np.full((b, k), -1, np.int64)
  values = np.full((b, k), -np.inf)
  if k == 0:
    return rows, values
  kth = np.partition(scores, n - k, axis=1)[:, n - k]  # the k-th largest of each row
  for i in range(b):
    cand = np.flatnonzero(scores[i] >= kth[i])
    order = np.lexsort((tiebreak[cand], -scores[i, cand]))[:k]
    rows[i, :len(order)] = cand[order]
    values[i, :len(order)] = scores[i, cand[order]]
  rows[~np.isfinite(values)] = -1
  return rows, values


class Progress:
  """Logged progress lines with rate and ETA, at most one every `every` seconds."""

  def __init__(self, what: str, total: int, unit: str, every: float = 10.0):
    self.what, self.total, self.unit, self.every = what, total, unit, every
    self.t0 = self.last = time.perf_counter()

  def update(self, done: int, extra: str = "", force: bool = False):
    now = time.perf_counter()
    if not force and now - self.last < self.every and done < self.total:
      return
    self.last = now
    rate = done / max(now - self.t0, 1e-9)
    eta = (self.total - done) / max(rate, 1e-9)
    logger.info(f"{self.what}: {done}/{self.total} {self.unit} ({done / max(self.total, 1):.0%}), "
                f"{rate:,.1f} {self.unit}/s, ETA {eta:.0f}s{extra}")
