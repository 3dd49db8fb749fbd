"""Per-query metrics against hand-computed values (and ranx, when installed)."""

import math
import random

import pytest

from text2tracks_jax.evaluation import metrics as m

L2, L3, L4 = math.log2(2), math.log2(3), math.log2(4)


def test_repeated_track_counts_once_and_takes_no_slot():
  ranked, relevant = ["x", "a", "a", "b", "y", "c"], ["a", "b", "c", "d"]
  assert m.top_k(ranked, 3) == ["x", "a", "b"]
  assert m.hits(ranked, relevant, 3) == 2.0  # a once, b; c is at distinct rank 5
  assert m.hit_rate(ranked, relevant, 3) == 1.0
  assert m.recall(ranked, relevant, 3) == 2 / 4
  assert m.precision(ranked, relevant, 3) == 2 / 3
  dcg = 1 / L3 + 1 / L4  # relevant at ranks 2 and 3
  idcg = 1 / L2 + 1 / L3 + 1 / L4  # min(|R| = 4, k = 3) relevant at the top
  assert m.ndcg(ranked, relevant, 3) == pytest.approx(dcg / idcg)
  assert m.mrr(ranked, relevant, 3) == 0.5


def test_k_smaller_than_the_list():
  ranked, relevant = ["a", "x", "y", "b"], ["a", "b"]
  assert m.hits(ranked, relevant, 2) == 1.0  # b at rank 4 is cut off
  assert m.precision(ranked, relevant, 2) == 0.5
  assert m.recall(ranked, relevant, 2) == 0.5
  assert m.ndcg(ranked, relevant, 2) == pytest.approx(1 / (1 + 1 / L3))
  assert m.mrr(ranked, relevant, 2) == 1.0
  assert m.hits(ranked, relevant, 4) == 2.0


def test_list_shorter_than_k_divides_precision_by_k():
  assert m.precision(["a"], ["a"], 10) == 0.1
  assert m.recall(["a"], ["a"], 10) == 1.0
  assert m.ndcg(["a"], ["a"], 10) == 1.0


def test_hits_counts_relevant_tracks_not_a_zero_one_hit():
  ranked, relevant = ["a", "b", "c", "x"], ["a", "b", "c"]
  assert m.hits(ranked, relevant, 10) == 3.0
  assert m.hit_rate(ranked, relevant, 10) == 1.0
  assert m.ndcg(ranked, relevant, 10) == pytest.approx(1.0)


def test_empty_relevant_set_and_empty_list_score_zero():
  for fn in m.RELEVANCE_METRICS.values():
    assert fn(["a", "b"], [], 10) == 0.0
    assert fn([], ["a"], 10) == 0.0
  assert m.artist_entropy([], {}, 10) == 0.0


def test_artist_entropy_in_bits():
  artist = {"a": "A1", "b": "A1", "c": "A2", "d": "A3", "e": "A4"}
  assert m.artist_entropy(["a", "b"], artist, 10) == 0.0  # one artist
  assert m.artist_entropy(["a", "c", "d", "e"], artist, 10) == pytest.approx(2.0)  # 4 artists
  p = [2 / 3, 1 / 3]  # A1 twice, A2 once; the repeated "a" counts once
  expected = -sum(q * math.log2(q) for q in p)
  assert m.artist_entropy(["a", "a", "b", "c"], artist, 10) == pytest.approx(expected)
  assert m.artist_entropy(["a", "b", "c", "d"], artist, 3) == pytest.approx(expected)  # top 3
  # a track missing from the catalog is its own artist
  assert m.artist_entropy(["a", "zz"], artist, 10) == pytest.approx(1.0)


def test_query_scores_and_score_queries():
  scores = m.query_scores(["a", "x"], ["a"], {"a": "A", "x": "B"}, 2)
  assert list(scores) == m.metric_names(2)
  assert scores["hits@2"] == 1.0 and scores["artist_entropy@2"] == 1.0
  mean = m.score_queries([["a"], ["x"]], [["a"], ["a"]], k=5)
  assert mean["hits@5"] == 0.5 and mean["mrr@5"] == 0.5
  assert m.score_queries([], [], k=5) == {}


@pytest.mark.slow  # ranx compiles its numba kernels on first use (about a minute on 2 cores)
def test_agrees_with_ranx():
  ranx = pytest.importorskip("ranx")
  rng = random.Random(0)
  tracks = [f"t{i}" for i in range(30)]
  qrels, run, ours = {}, {}, []
  for q in range(50):
    relevant = rng.sample(tracks, rng.randint(1, 6))
    ranked = rng.sample(tracks, rng.randint(1, 15))
    qrels[f"q{q:02d}"] = {t: 1 for t in relevant}
    run[f"q{q:02d}"] = {t: float(len(ranked) - i) for i, t in enumerate(ranked)}
    ours.append((ranked, relevant))
  names = ["hits", "hit_rate", "recall", "precision", "ndcg", "mrr"]
  for k in (1, 5, 10):
    theirs = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), [f"{n}@{k}" for n in names],
                           return_mean=False)
    for n in names:
      mine = [m.RELEVANCE_METRICS[n](ranked, rel, k) for ranked, rel in ours]
      assert mine == pytest.approx(list(theirs[f"{n}@{k}"])), (n, k)
