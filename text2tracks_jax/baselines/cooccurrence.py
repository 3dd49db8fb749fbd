"""Co-occurrence: a popularity-aware naive-Bayes lexical baseline.

BM25 over concatenated titles cannot tell a hit from an obscure track with the
same titles. This baseline can: it reads each query as words drawn from the
titles of the playlists a track is in, and multiplies by the track's prior.
With c(w, t) the number of times word w occurs in the titles of the train
playlists holding track t (one count per (playlist, track) pair and word
occurrence), c(t) = sum_w c(w, t), and pop(t) the track's train pairs:

  score(t | q) = log P(t) + sum_{w in q} n_q(w) log P(w | t)
  P(t)         = pop(t) / sum_t' pop(t')
  P(w | t)     = (c(w, t) + alpha P(w)) / (c(t) + alpha)     (Dirichlet smoothing)
  P(w)         = sum_t c(w, t) / sum_t c(t)                  (the collection's words)

n_q(w) counts word w in the query. Words are `normalize_query`'d (casefolded)
runs of letters and digits: punctuation and emoji are dropped. Query words
never seen in train titles are skipped (they would shift every track's score
by the same amount). Tracks never in train have P(t) = 0 and are not listed.

Vectorised as a sparse [V, N] matrix S with S[w, t] = log(1 + c(w, t) /
(alpha P(w))), nonzero only where c(w, t) > 0:

  score(t | q) = log P(t) - |q| log(c(t) + alpha) + sum_w n_q(w) log(alpha P(w))
                 + (n_q @ S)[t]

so scoring a batch of queries is one sparse product plus two dense vectors.
The reported score is this unnormalised log P(t, q).

alpha is a pseudo-count of title words, so its best value grows with how many
words a track's playlists hold. The default, 300, was picked on the demo
world's validation split (hits@10: 0.34 at alpha 1, 0.43 at 10, 0.78 at 100,
0.87 at 300, 0.89 at 500, 0.83 at 1000; popularity alone 0.21); the test split
played no part. Small alphas let a tail track whose one playlist title matches
the query outrank the tracks that playlists of that kind usually hold.
"""

from __future__ import annotations

import logging
import re
import time

import gin
import numpy as np
import scipy.sparse as sp

from text2tracks_jax.data.dataset import normalize_query
from text2tracks_jax.baselines.ranking import Ranker
from text2tracks_jax.ids.inputs import IdInputs

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list:
  """Lowercased runs of letters/digits: "Chill-Vibes 🌙 pt.2" -> [chill, vibes, pt, 2]."""
  return _WORD.findall(normalize_query(text))


def bag_of_words(texts, vocab: dict, grow: bool = False) -> sp.csr_matrix:
  """Word counts [len(texts), V]; unknown words are added when `grow`, else dropped."""
  rows, cols = [], []
  for i, text in enumerate(texts):
    for w in words(text):
      j = vocab.get(w)
      if j is None:
        if not grow:
          continue
        j = vocab[w] = len(vocab)
      rows.append(i)
      cols.append(j)
  data = np.ones(len(rows), np.float64)
  return sp.csr_matrix((data, (rows, cols)), shape=(len(texts), len(vocab)))


def word_track_counts(inputs: IdInputs) -> tuple:
  """(vocab {word: row}, counts [V, N] csr: c(w, t)) from the train playlists."""
  vocab: dict = {}
  query_words = bag_of_words(inputs.queries, vocab, grow=True)  # [Q, V]
  pair_query = inputs.pair_queries()
  membership = sp.csr_matrix(
      (np.ones(len(pair_query)), (pair_query, inputs.tracks.astype(np.int64))),
      shape=(len(inputs.queries), inputs.num_tracks))  # [Q, N]
  counts = (query_words.T @ membership).tocsr()  # [V, N]
  counts.sum_duplicates()
  return vocab, counts


@gin.configurable(denylist=["inputs", "seed"])
def cooccurrence(inputs: IdInputs, *, seed: int = 0, alpha: float = 300.0) -> Ranker:
  """Fits the word-track counts; scores = log P(t) + sum_w log P(w | t)."""
  del seed  # deterministic
  if alpha <= 0:
    raise ValueError(f"cooccurrence: alpha must be > 0, got {alpha}")
  start = time.perf_counter()
  vocab, counts = word_track_counts(inputs)
  word_total = np.asarray(counts.sum(axis=1)).ravel()  # [V]
  track_total = np.asarray(counts.sum(axis=0)).ravel()  # [N] c(t)
  p_word = word_total / max(word_total.sum(), 1.0)  # [V] P(w)
  smooth = alpha * p_word  # [V]
  s = counts.copy()
  s.data = np.log1p(s.data / np.repeat(smooth, np.diff(s.indptr)))
  s = s.tocsr()
  pop = inputs.popularity.astype(np.float64)
  with np.errstate(divide="ignore"):
    log_prior = np.log(pop / max(pop.sum(), 1.0))  # -inf where pop == 0
    log_smooth = np.log(smooth)
  log_length = np.log(track_total + alpha)  # [N]
  seconds = time.perf_counter() - start
  logger.info(f"cooccurrence: {len(vocab)} words x {inputs.num_tracks} tracks, "
              f"{counts.nnz} nonzero counts, fitted in {seconds:.1f}s")

  def score(queries):
    q = bag_of_words(queries, vocab)  # [B, V]
    length = np.asarray(q.sum(axis=1)).ravel()  # [B] in-vocabulary words
    const = q @ log_smooth  # [B]
    out = (q @ s).toarray()  # [B, N]
    out += log_prior[None, :] - length[:, None] * log_length[None, :] + const[:, None]
    return out

  return Ranker(score, settings=dict(alpha=alpha),
                info={"words": len(vocab), "nonzero_counts": int(counts.nnz),
                      "fit_seconds": round(seconds, 2)})
