"""Query dependence of a system's lists: jaccard@k over query pairs, distinct tracks."""

import itertools

import numpy as np
import pytest

from text2tracks_jax.evaluation import diversity as d


def test_all_pairs_when_few_queries():
  pairs = d.query_pairs(5)
  assert sorted(map(tuple, pairs.tolist())) == list(itertools.combinations(range(5), 2))
  assert d.query_pairs(1).shape == (0, 2) and d.query_pairs(0).shape == (0, 2)
  # 64 queries have 2016 pairs: more than 2000, so these are sampled
  assert len(d.query_pairs(63)) == 63 * 62 // 2 == 1953
  assert len(d.query_pairs(64)) == 2000


@pytest.mark.parametrize("n", [64, 1000, 200_000])
def test_sampled_pairs_are_distinct_valid_and_deterministic(n):
  pairs = d.query_pairs(n)
  assert pairs.shape == (d.MAX_PAIRS, 2) and pairs.dtype == np.int64
  i, j = pairs[:, 0], pairs[:, 1]
  assert ((0 <= i) & (i < j) & (j < n)).all()
  assert len(set(map(tuple, pairs.tolist()))) == d.MAX_PAIRS
  np.testing.assert_array_equal(pairs, d.query_pairs(n))  # same pairs every call
  assert not np.array_equal(pairs, d.query_pairs(n, seed=1))
  np.testing.assert_array_equal(d.query_pairs(n, max_pairs=50), d.query_pairs(n, max_pairs=50))


def test_pair_numbering_covers_every_pair_once():
  # the exhaustive branch goes through the same r -> (i, j) mapping as the sampled one
  n = 300
  pairs = d.query_pairs(n, max_pairs=n * n)
  assert len(pairs) == n * (n - 1) // 2
  assert set(map(tuple, pairs.tolist())) == set(itertools.combinations(range(n), 2))


def test_same_list_everywhere_is_one_and_k_tracks():
  top = [f"t{i}" for i in range(10)]
  lists = [list(top) for _ in range(50)]
  scores = d.system_scores(lists, d.query_pairs(50), 10)
  assert scores == {"jaccard@10": 1.0, "distinct_tracks@10": 10}


def test_disjoint_lists_are_zero_and_n_times_k():
  n, k = 70, 5  # 70 queries: 2415 pairs, a sample of 2000 of them
  lists = [[f"t{q}_{r}" for r in range(k)] for q in range(n)]
  scores = d.system_scores(lists, d.query_pairs(n), k)
  assert scores == {"jaccard@5": 0.0, "distinct_tracks@5": n * k}


def test_hand_computed_case():
  lists = [["a", "b", "c"], ["b", "c", "d"], ["x"], []]
  # (0,1): {b,c}/{a,b,c,d} = 1/2; (0,2), (1,2): 0; (0,3), (1,3), (2,3): empty vs a list = 0
  assert d.mean_jaccard(lists, d.query_pairs(4)) == pytest.approx(0.5 / 6)
  assert d.mean_jaccard(lists, np.array([[0, 1], [1, 2]])) == pytest.approx(0.25)
  assert d.distinct_tracks(lists) == 5
  assert d.jaccard(["a", "b"], ["b", "a", "a"]) == 1.0  # as sets
  assert d.jaccard(["a"], ["a", "b", "c"]) == pytest.approx(1 / 3)


def test_two_empty_lists_count_as_no_overlap():
  assert d.jaccard([], []) == 0.0
  assert d.mean_jaccard([[], [], ["a"], ["a"]], d.query_pairs(4)) == pytest.approx(1 / 6)
  assert d.system_scores([[], []], d.query_pairs(2), 10) == {"jaccard@10": 0.0,
                                                             "distinct_tracks@10": 0}
  assert d.mean_jaccard([["a"]], d.query_pairs(1)) == 0.0  # one query: no pair
