"""`experiments.intent_match`: list vs the hidden intent of each synthetic playlist."""

import json

import pytest

from text2tracks_jax.data import synthetic
from text2tracks_jax.data.dataset import PreparedDataset
from text2tracks_jax.data.prepare import prepare
from text2tracks_jax.experiments import intent_match


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("intent")
  prepare("synthetic", tmp / "data", preset="tiny")
  return tmp


def _write(path, lists):
  path.write_text("".join(json.dumps({"query_id": q, "track_ids": t}) + "\n"
                          for q, t in lists.items()))
  return path


def test_relevant_tracks_match_the_intent_and_its_top_pool(data):
  dataset = PreparedDataset.load(data / "data")
  relevance = dataset.relevance("test")
  cat = dataset.catalog(["track_id", "popularity"]).to_pydict()
  popular = [t for _, t in sorted(zip(cat["popularity"], cat["track_id"]),
                                  key=lambda x: (-x[0], x[1]))][:10]
  oracle = _write(data / "oracle.jsonl", {q: list(r)[:10] for q, r in relevance.items()})
  pop = _write(data / "pop.jsonl", {q: popular for q in relevance})
  out = intent_match.intent_match(data / "data", {"oracle": oracle, "popularity": pop})
  world = synthetic.build_world(synthetic.config_for("tiny"), 0)
  assert out["pool"] == world.config.editorial_pool
  o, p = out["systems"]["oracle"], out["systems"]["popularity"]
  assert o["queries"] == p["queries"] == len(relevance)
  # Editorial playlists are drawn from their intent's most popular tracks: all match.
  assert o["in_top_pool_share"] == 1.0
  want = sum(min(len(r), 10) for r in relevance.values()) / (10 * len(relevance))
  assert o["intent_share"] == pytest.approx(want)
  assert o["hits"] == pytest.approx(sum(min(len(r), 10) for r in relevance.values())
                                    / len(relevance))
  assert p["intent_share"] < o["intent_share"]


def test_cli_table_and_bad_input(data, tmp_path, capsys):
  oracle = _write(tmp_path / "o.jsonl", {q: list(r)[:10] for q, r in
                                         PreparedDataset.load(data / "data").relevance("test").items()})
  assert intent_match.main([str(data / "data"), f"oracle={oracle}", "--out",
                            str(tmp_path / "t.md")]) == 0
  assert "| oracle |" in (tmp_path / "t.md").read_text()
  assert intent_match.main([str(data / "data"), "no-equals-sign"]) == 2
  assert "expected NAME=PREDICTIONS.jsonl" in capsys.readouterr().err
  assert intent_match.main([str(tmp_path), f"oracle={oracle}"]) == 2  # not a dataset
  assert "not a prepared dataset" in capsys.readouterr().err
