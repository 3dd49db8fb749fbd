"""Paired t-tests, the Bonferroni correction and the significance letters."""

import warnings

import numpy as np
import pytest
from scipy import stats

from text2tracks_jax.evaluation import significance as sig


def _with_pvalue(p: float, n: int = 30):
  """Two per-query score arrays whose paired t-test gives exactly p (x better)."""
  e = np.tile([1.0, -1.0], n // 2) * np.linspace(0.5, 1.5, n)  # zero-mean noise
  e -= e.mean()
  t = stats.t.isf(p / 2, n - 1)
  shift = t * e.std(ddof=1) / np.sqrt(n)
  y = np.linspace(0.0, 2.0, n)
  return y + shift + e, y


def test_pvalue_is_scipys_paired_ttest():
  rng = np.random.default_rng(0)
  x, y = rng.normal(size=40), rng.normal(size=40)
  assert sig.paired_ttest(x, y) == pytest.approx(stats.ttest_rel(x, y).pvalue)


def test_degenerate_cases_do_not_warn_or_nan():
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    assert sig.paired_ttest([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0  # identical
    assert sig.paired_ttest([0.1 + 0.2] * 3, [0.3] * 3) == 1.0  # float noise only
    assert sig.paired_ttest([2.0, 3.0, 4.0], [1.0, 2.0, 3.0]) == 0.0  # constant gain
    assert sig.paired_ttest([1.0], [0.0]) is None  # one query: no test
    (record,) = sig.pairwise({"a": np.array([1.0]), "b": np.array([0.0])})
  assert record["pvalue"] is None and not record["significant"] and record["better"] is None


def test_clearly_better_system_is_marked_and_equal_ones_are_not():
  rng = np.random.default_rng(1)
  base = rng.integers(0, 3, size=50).astype(float)
  scores = {"bm25": base, "bm25-copy": base.copy(), "t5": base + rng.integers(1, 4, size=50)}
  records = sig.pairwise(scores)
  assert [(r["a"], r["b"]) for r in records] == [("bm25", "bm25-copy"), ("bm25", "t5"),
                                                 ("bm25-copy", "t5")]
  assert records[0]["pvalue"] == 1.0 and not records[0]["significant"]
  assert sig.better_than(records, list(scores)) == {
      "bm25": [], "bm25-copy": [], "t5": ["bm25", "bm25-copy"]}


def test_bonferroni_is_applied_over_the_pairs():
  x, y = _with_pvalue(0.03)  # 0.05 / 3 < 0.03 < 0.05
  assert stats.ttest_rel(x, y).pvalue == pytest.approx(0.03)
  two = sig.pairwise({"x": x, "y": y})
  assert two[0]["significant"] and two[0]["better"] == "x"  # one pair: 0.03 < 0.05
  three = sig.pairwise({"x": x, "y": y, "z": y + 100.0})
  xy = three[0]
  assert (xy["a"], xy["b"]) == ("x", "y")
  assert xy["pvalue_bonferroni"] == pytest.approx(0.09)  # 3 pairs
  assert not xy["significant"]
  assert sig.better_than(three, ["x", "y", "z"]) == {"x": [], "y": [], "z": ["x", "y"]}


def test_worse_system_is_never_marked():
  x, y = _with_pvalue(1e-6)
  records = sig.pairwise({"worse": y, "better": x})
  assert records[0]["better"] == "better"
  assert sig.better_than(records, ["worse", "better"]) == {"worse": [], "better": ["worse"]}


def test_system_letters():
  letters = sig.system_letters(28)
  assert letters[:3] == ["a", "b", "c"] and letters[25:] == ["z", "aa", "ab"]
  assert sig.system_letters(0) == []
