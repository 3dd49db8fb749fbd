"""Per-query ranking metrics at a cut-off k, as the paper reports them.

`hits@k` is the paper's metric: the number of relevant tracks among the top k
recommendations (not a 0/1 hit), averaged over queries. Each function takes
one query's ranked predictions and its relevant set and returns a float; the
`score_queries` helper averages them.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Callable, Dict, Iterable, Sequence


def _top(ranked: Sequence[str], k: int) -> list:
  seen, out = set(), []
  for t in ranked:  # a track listed twice counts once
    if t not in seen:
      seen.add(t)
      out.append(t)
      if len(out) == k:
        break
  return out


def hits(ranked, relevant, k):
  rel = set(relevant)
  return float(sum(t in rel for t in _top(ranked, k)))


def hit_rate(ranked, relevant, k):
  return float(hits(ranked, relevant, k) > 0)


def recall(ranked, relevant, k):
  return hits(ranked, relevant, k) / len(set(relevant)) if relevant else 0.0


def precision(ranked, relevant, k):
  return hits(ranked, relevant, k) / k


def ndcg(ranked, relevant, k):
  rel = set(relevant)
  dcg = sum(1.0 / math.log2(i + 2) for i, t in enumerate(_top(ranked, k)) if t in rel)
  ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), k)))
  return dcg / ideal if ideal else 0.0


def mrr(ranked, relevant, k):
  rel = set(relevant)
  for i, t in enumerate(_top(ranked, k)):
    if t in rel:
      return 1.0 / (i + 1)
  return 0.0


def artist_entropy(ranked, artist_of: Dict[str, str], k):
  """Shannon entropy (bits) of the artists of the top-k list (the paper's diversity)."""
  counts = Counter(artist_of.get(t, t) for t in _top(ranked, k))
  n = sum(counts.values())
  return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


RELEVANCE_METRICS: Dict[str, Callable] = {
    "hits": hits, "hit_rate": hit_rate, "recall": recall, "precision": precision,
    "ndcg": ndcg, "mrr": mrr}


def score_queries(predictions: Iterable[Sequence[str]], relevant: Iterable[Sequence[str]],
                  k: int = 10) -> Dict[str, float]:
  """Mean of every relevance metric over queries: {"hits@10": ..., ...}."""
  totals, n = Counter(), 0
  for ranked, rel in zip(predictions, relevant):
    n += 1
    for name, fn in RELEVANCE_METRICS.items():
      totals[f"{name}@{k}"] += fn(ranked, rel, k)
  return {name: value / n for name, value in totals.items()} if n else {}
