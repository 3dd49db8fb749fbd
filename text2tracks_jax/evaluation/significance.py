"""Paired two-sided Student t-tests between systems, Bonferroni-corrected.

As in the paper: for one metric, every pair of systems (A, B) is tested on
their per-query scores with `scipy.stats.ttest_rel`; with P = m (m - 1) / 2
pairs among m systems, the corrected p-value is min(1, P p) and the difference
is significant when it is below alpha (0.05, i.e. 0.95 confidence). A is
"significantly better" than B when the difference is significant and A's mean
is higher. Letters a, b, c, ... name the systems in the table.
"""

from __future__ import annotations

import itertools
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
from scipy import stats

_TIE = 1e-12  # per-query differences this small are float noise, not a difference


def paired_ttest(x: np.ndarray, y: np.ndarray) -> Optional[float]:
  """Two-sided p-value of the paired t-test of mean(x - y) = 0.

  Args:
    x, y: [num_queries] per-query scores of two systems, same query order.
  Returns:
    The p-value; None when the test is undefined (fewer than 2 queries). When
    the differences have no variance scipy divides by zero, so: 1.0 if they
    are all 0 (identical systems), 0.0 if they are all the same non-zero
    value (the limit of t -> infinity).
  """
  d = np.asarray(x, np.float64) - np.asarray(y, np.float64)
  if d.size < 2:
    return None
  if np.all(np.abs(d) <= _TIE):
    return 1.0
  if np.ptp(d) <= _TIE:
    return 0.0
  return float(stats.ttest_rel(x, y).pvalue)


def system_letters(n: int) -> List[str]:
  """a, b, ..., z, aa, ab, ... for n systems."""
  letters = []
  for i in range(n):
    s, i = "", i + 1
    while i:
      i, r = divmod(i - 1, 26)
      s = chr(ord("a") + r) + s
    letters.append(s)
  return letters


def pairwise(scores: Mapping[str, np.ndarray], alpha: float = 0.05) -> List[dict]:
  """Tests every pair of systems on one metric.

  Args:
    scores: system -> [num_queries] per-query scores, in report order.
    alpha: family-wise significance level over the pairs.
  Returns:
    One record per pair (a before b in `scores` order): {"a", "b", "mean_a",
    "mean_b", "pvalue", "pvalue_bonferroni", "significant", "better"}, where
    `better` is the significantly better system's name or None.
  """
  names = list(scores)
  n_pairs = len(names) * (len(names) - 1) // 2
  records = []
  for a, b in itertools.combinations(names, 2):
    p = paired_ttest(scores[a], scores[b])
    p_corr = None if p is None else min(1.0, p * n_pairs)
    mean_a, mean_b = float(np.mean(scores[a])), float(np.mean(scores[b]))
    significant = p_corr is not None and p_corr < alpha and mean_a != mean_b
    better = (a if mean_a > mean_b else b) if significant else None
    records.append({"a": a, "b": b, "mean_a": mean_a, "mean_b": mean_b, "pvalue": p,
                    "pvalue_bonferroni": p_corr, "significant": significant,
                    "better": better})
  return records


def better_than(records: Sequence[dict], names: Sequence[str]) -> Dict[str, List[str]]:
  """system -> the systems it is significantly better than (in `names` order)."""
  beaten = {n: set() for n in names}
  for r in records:
    if r["better"] is not None:
      beaten[r["better"]].add(r["b"] if r["better"] == r["a"] else r["a"])
  return {n: [m for m in names if m in beaten[n]] for n in names}
