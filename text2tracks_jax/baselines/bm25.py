"""BM25 over track documents (the paper's sparse baseline).

Each track's document is the concatenation of the titles of every train
playlist holding it (`texts.track_documents`, repeats kept); tracks never in
train get an empty document. Documents and queries go through bm25s's own
tokenizer with its defaults (lowercase, `\\b\\w\\w+\\b` tokens, English stopwords
removed, no stemming) and are scored by `bm25s.BM25` with its default
parameters (Lucene variant, k1 = 1.5, b = 0.75). The paper used PyTerrier's
BM25 (k1 = 1.2, Porter stemming); BM25 parameters are gin settings.

A query none of whose tokens is in the index scores 0 everywhere, so its list
is the first tracks by id; a track with an empty document scores 0 for every
query and so never outranks a track that matches.
"""

from __future__ import annotations

import logging
import time

import gin
import numpy as np

from text2tracks_jax.baselines.ranking import Ranker
from text2tracks_jax.baselines.texts import track_documents
from text2tracks_jax.ids.inputs import IdInputs

logger = logging.getLogger(__name__)


@gin.configurable(denylist=["inputs", "seed"])
def bm25(inputs: IdInputs, *, seed: int = 0, k1: float = 1.5, b: float = 0.75,
         method: str = "lucene", stopwords: str = "english") -> Ranker:
  """Indexes the track documents with bm25s; scores queries against all tracks."""
  # lazy: bm25s is optional (the `baselines` extra) and takes ~0.9 s to import
  import bm25s  # pylint: disable=import-outside-toplevel
  del seed  # deterministic
  start = time.perf_counter()
  docs = track_documents(inputs)
  corpus = bm25s.tokenize(docs.tolist(), stopwords=stopwords, show_progress=False)
  index = bm25s.BM25(k1=k1, b=b, method=method)
  index.index(corpus, show_progress=False)
  seconds = time.perf_counter() - start
  logger.info(f"bm25: indexed {len(docs)} track documents ({len(corpus.vocab)} terms) "
              f"in {seconds:.1f}s")
  n = inputs.num_tracks

  def score(queries):
    tokens = bm25s.tokenize(list(queries), stopwords=stopwords, return_ids=False,
                            show_progress=False)
    out = np.zeros((len(queries), n), np.float32)
    for i, words in enumerate(tokens):
      if words:  # bm25s cannot score an empty query
        out[i] = index.get_scores(words)
    return out

  return Ranker(score, settings=dict(k1=k1, b=b, method=method, stopwords=stopwords),
                info={"terms": len(corpus.vocab), "index_seconds": round(seconds, 2)})
