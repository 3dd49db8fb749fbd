"""Per-query ranking metrics at a cut-off k, as the paper reports them.

Definitions, for one query with ranked predictions `ranked` and relevant set R
(binary relevance). A track listed twice counts once: the top-k list T is the
first k *distinct* tracks of `ranked` (fewer when the list is shorter), and
`hits@k` is the paper's metric, the NUMBER of relevant tracks in T (not 0/1)::

  hits@k        = |T ∩ R|
  hit_rate@k    = 1 if |T ∩ R| > 0 else 0
  recall@k      = |T ∩ R| / |R|                      (0 when R is empty)
  precision@k   = |T ∩ R| / k                        (k, even when |T| < k)
  ndcg@k        = DCG / IDCG, DCG = sum_{i: T_i in R} 1 / log2(i + 1) over ranks
                  i = 1..|T|, IDCG = sum_{i=1}^{min(|R|, k)} 1 / log2(i + 1)
                  (0 when R is empty)
  mrr@k         = 1 / (rank of the first relevant track in T), 0 if none
  artist_entropy@k = -sum_a p_a log2 p_a, p_a = share of T by artist a (bits;
                  0 for an empty list; a track missing from the catalog counts
                  as its own artist)

Each function returns one query's float; `score_queries` averages over queries.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Callable, Dict, Iterable, Mapping, Sequence

QUALITY = ("hits", "hit_rate", "recall", "precision", "ndcg", "mrr")
DIVERSITY = ("artist_entropy",)


def top_k(ranked: Sequence[str], k: int) -> list:
  """The first k distinct tracks of `ranked` (a repeated track counts once)."""
  seen, out = set(), []
  for t in ranked:
    if len(out) == k:
      break
    if t not in seen:
      seen.add(t)
      out.append(t)
  return out


def hits(ranked, relevant, k):
  rel = set(relevant)
  return float(sum(t in rel for t in top_k(ranked, k)))


def hit_rate(ranked, relevant, k):
  return float(hits(ranked, relevant, k) > 0)


def recall(ranked, relevant, k):
  rel = set(relevant)
  return hits(ranked, rel, k) / len(rel) if rel else 0.0


def precision(ranked, relevant, k):
  return hits(ranked, relevant, k) / k


def ndcg(ranked, relevant, k):
  rel = set(relevant)
  dcg = sum(1.0 / math.log2(i + 2) for i, t in enumerate(top_k(ranked, k)) if t in rel)
  ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), k)))
  return dcg / ideal if ideal else 0.0


def mrr(ranked, relevant, k):
  rel = set(relevant)
  for i, t in enumerate(top_k(ranked, k)):
    if t in rel:
      return 1.0 / (i + 1)
  return 0.0


def artist_entropy(ranked, artist_of: Mapping[str, str], k):
  """Shannon entropy (bits) of the artists of the top-k list (the paper's diversity)."""
  counts = Counter(artist_of.get(t, t) for t in top_k(ranked, k))
  n = sum(counts.values())
  return max(0.0, -sum(c / n * math.log2(c / n) for c in counts.values())) if n else 0.0


RELEVANCE_METRICS: Dict[str, Callable] = {
    "hits": hits, "hit_rate": hit_rate, "recall": recall, "precision": precision,
    "ndcg": ndcg, "mrr": mrr}


def metric_names(k: int) -> list:
  """Column names in report order: ["hits@k", ..., "mrr@k", "artist_entropy@k"]."""
  return [f"{name}@{k}" for name in QUALITY + DIVERSITY]


def query_scores(ranked: Sequence[str], relevant: Sequence[str],
                 artist_of: Mapping[str, str], k: int) -> Dict[str, float]:
  """Every metric of one query: {"hits@k": ..., ..., "artist_entropy@k": ...}."""
  top, rel = top_k(ranked, k), set(relevant)  # computed once, not once per metric
  scores = {f"{name}@{k}": fn(top, rel, k) for name, fn in RELEVANCE_METRICS.items()}
  scores[f"artist_entropy@{k}"] = artist_entropy(top, artist_of, k)
  return scores


def score_queries(predictions: Iterable[Sequence[str]], relevant: Iterable[Sequence[str]],
                  k: int = 10) -> Dict[str, float]:
  """Mean of every relevance metric over queries: {"hits@10": ..., ...}."""
  totals, n = Counter(), 0
  for ranked, rel in zip(predictions, relevant):
    n += 1
    for name, fn in RELEVANCE_METRICS.items():
      totals[f"{name}@{k}"] += fn(ranked, rel, k)
  return {name: value / n for name, value in totals.items()} if n else {}
