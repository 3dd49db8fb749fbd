"""Popularity: the most frequent train tracks, the same list for every query.

score(t) = number of train (query, track) pairs holding t (the catalog's
`popularity` column); ties go to the smaller track id (see `ranking.top_k`).
"""

from __future__ import annotations

import gin
import numpy as np

from text2tracks_jax.baselines.ranking import Ranker
from text2tracks_jax.ids.inputs import IdInputs


@gin.configurable(denylist=["inputs", "seed"])
def popularity(inputs: IdInputs, *, seed: int = 0) -> Ranker:
  """Ranks the catalog by train popularity, whatever the query."""
  del seed  # nothing random
  counts = inputs.popularity.astype(np.float64)

  def score(queries):
    return np.broadcast_to(counts, (len(queries), len(counts)))

  return Ranker(score, settings={}, info={"train_tracks": int((counts > 0).sum())})
