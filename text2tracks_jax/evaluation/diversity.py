"""How much a system's lists depend on the query: system-level measures.

For the top-k lists T_1..T_N of the N queries of a split (T_q: the first k
distinct tracks, `metrics.top_k`; a query without a prediction has T_q = [])::

  jaccard@k         = mean over sampled query pairs (q, r) of |T_q ∩ T_r| / |T_q ∪ T_r|
                      (0 when both lists are empty: an empty list shares no track)
  distinct_tracks@k = |T_1 ∪ ... ∪ T_N|

A system that gives every query the same list (popularity) has jaccard@k = 1
and distinct_tracks@k = k; lists that share no track give 0 and N * k. The
pairs are a fixed sample (`query_pairs`, seeded) that depends only on N, so
every system of a report is measured on the same pairs. These are one number
per system, not means of per-query scores: there is no paired test for them.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

MAX_PAIRS = 2000
SEED = 0


def names(k: int) -> list:
  """Column names in report order: ["jaccard@k", "distinct_tracks@k"]."""
  return [f"jaccard@{k}", f"distinct_tracks@{k}"]


def query_pairs(n: int, max_pairs: int = MAX_PAIRS, seed: int = SEED) -> np.ndarray:
  """Distinct unordered query pairs: all of them when there are at most `max_pairs`.

  Args:
    n: number of queries.
    max_pairs: how many pairs to draw when n (n - 1) / 2 is larger.
    seed: seed of `np.random.default_rng`; the sample depends only on n,
      max_pairs and seed.
  Returns:
    [num_pairs, 2] int64 array of (i, j), 0 <= i < j < n, sorted by j then i.
  """
  total = n * (n - 1) // 2
  if total <= max_pairs:
    r = np.arange(total, dtype=np.int64)
  else:
    r = np.sort(np.random.default_rng(seed).choice(total, size=max_pairs, replace=False))
  # Pair number r -> (i, j) with r = j (j - 1) / 2 + i; the float root is corrected exactly.
  j = ((1 + np.sqrt(1 + 8 * r.astype(np.float64))) // 2).astype(np.int64)
  j -= j * (j - 1) // 2 > r
  j += (j + 1) * j // 2 <= r
  return np.stack([r - j * (j - 1) // 2, j], axis=1)


def jaccard(a: Sequence[str], b: Sequence[str]) -> float:
  """|A ∩ B| / |A ∪ B| of two track lists as sets; 0 when both are empty."""
  a, b = set(a), set(b)
  union = len(a | b)
  return len(a & b) / union if union else 0.0


def mean_jaccard(lists: Sequence[Sequence[str]], pairs: np.ndarray) -> float:
  """Mean `jaccard` of lists[i] and lists[j] over the (i, j) rows of `pairs` (0 if none)."""
  sets = [set(t) for t in lists]
  values = [jaccard(sets[i], sets[j]) for i, j in pairs.tolist()]
  return float(np.mean(values)) if values else 0.0


def distinct_tracks(lists: Sequence[Sequence[str]]) -> int:
  """Number of distinct tracks over all lists."""
  return len(set().union(*lists))


def system_scores(top_lists: Sequence[Sequence[str]], pairs: np.ndarray,
                  k: int) -> Dict[str, float]:
  """{"jaccard@k": ..., "distinct_tracks@k": ...} of one system's top-k lists (query order)."""
  jac, dist = names(k)
  return {jac: mean_jaccard(top_lists, pairs), dist: distinct_tracks(top_lists)}
