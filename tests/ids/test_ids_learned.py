"""Learned semantic IDs end to end on a world with two planted clusters."""

import itertools
import re

import numpy as np
import pytest

from text2tracks_jax.ids import build_ids, load_array
from text2tracks_jax.ids.embeddings import ARTIST_MEAN, GLOBAL_MEAN, LEARNED, cf_embeddings
from text2tracks_jax.ids.inputs import load_inputs
from text2tracks_jax.ids.learned import disambiguation_suffix

CF = dict(workers=1, vector_size=16, epochs=30, window=10, sample=0, dictionary_size=8,
          fit_samples=64, batch_size=16)


def _cluster(track_id):
  return int(track_id[1]) if track_id.startswith("c") else None


def _first_token_sharing(id_map):
  """P(same first token) for pairs within a cluster and across the two."""
  tracks = [t for t in id_map.track_to_id if _cluster(t) is not None]
  first = {t: id_map.pieces(id_map.track_to_id[t])[0] for t in tracks}
  same, cross = [], []
  for a, b in itertools.combinations(tracks, 2):
    (same if _cluster(a) == _cluster(b) else cross).append(first[a] == first[b])
  return float(np.mean(same)), float(np.mean(cross))


@pytest.fixture(scope="module")
def cf_map(cluster_data, tmp_path_factory):
  return build_ids(cluster_data, "semantic-ids-cf", tmp_path_factory.mktemp("cf") / "ids", **CF)


def test_cf_ids_share_first_token_within_planted_clusters(cf_map):
  within, across = _first_token_sharing(cf_map)
  assert within > 0.12 and across < 0.05 and within > 5 * across, (within, across)
  assert cf_map.stats["prefix_sharing"]["ratio"] > 1.5


def test_cf_ids_are_three_signed_tokens(cf_map):
  for id_string in cf_map.id_to_tracks:
    pieces = cf_map.pieces(id_string)
    assert len(pieces) == 3 and "".join(pieces) == id_string
    assert all(re.fullmatch(r"<[+-][0-7]>", p) for p in pieces)
  assert cf_map.new_tokens == [f"<+{i}>" for i in range(8)] + [f"<-{i}>" for i in range(8)]
  assert cf_map.stats["tokens_per_id"]["mean"] == 3.0
  assert cf_map.manifest["stats_spm"] == {"needed": False}


def test_unseen_tracks_get_ids_from_fallbacks(cf_map):
  assert set(cf_map.track_to_id) >= {"u0", "u1", "u2"}
  source = load_array(cf_map.path, "embedding_source")
  row = {t: i for i, t in enumerate(cf_map.track_to_id)}
  assert source[row["u0"]] == ARTIST_MEAN and source[row["u1"]] == ARTIST_MEAN
  assert source[row["u2"]] == GLOBAL_MEAN  # artist a9 has no train track
  assert source[row["c0-00"]] == LEARNED
  # Same artist, no data: same vector, same ID; it sorts after the popular ones.
  assert cf_map.track_to_id["u0"] == cf_map.track_to_id["u1"]
  sources = cf_map.stats["strategy"]["embedding"]["sources"]
  assert (sources["artist_mean"], sources["global_mean"]) == (2, 1)
  assert cf_map.stats["unseen_tracks"] == 3


def test_collisions_come_back_sorted_by_popularity(cf_map):
  popularity = dict(zip(*[cf_map.manifest and [], []])) or None
  import pyarrow.parquet as pq
  table = pq.read_table(cf_map.path / "id_map.parquet").to_pydict()
  popularity = dict(zip(table["track_id"], table["popularity"]))
  groups = [v for v in cf_map.id_to_tracks.values() if len(v) > 1]
  assert groups, "the tiny dictionary must produce collisions"
  for tracks in groups:
    keys = [(-popularity[t], t) for t in tracks]
    assert keys == sorted(keys)


def test_same_seed_same_ids(cluster_data, tmp_path, cf_map):
  again = build_ids(cluster_data, "semantic-ids-cf", tmp_path / "again", **CF)
  assert again.track_to_id == cf_map.track_to_id
  other = build_ids(cluster_data, "semantic-ids-cf", tmp_path / "other", seed=7, **CF)
  assert other.track_to_id != cf_map.track_to_id


def test_disambiguation_suffix_makes_ids_unique(cluster_data, tmp_path, cf_map):
  m = build_ids(cluster_data, "semantic-ids-cf", tmp_path / "d", disambiguate=True, **CF)
  assert len(m.id_to_tracks) == len(m.track_to_id)
  for track_id, id_string in cf_map.track_to_id.items():
    group = cf_map.id_to_tracks[id_string]
    if len(group) == 1:
      assert m.track_to_id[track_id] == id_string
    else:  # rank by popularity: the group's first track gets <d0>
      assert m.track_to_id[track_id] == f"{id_string}<d{group.index(track_id)}>"
  assert m.new_tokens[-1].startswith("<d") and "<d0>" in m.new_tokens
  assert m.stats["collisions"]["ids_with_collision"] == 0.0


def test_disambiguation_suffix_function():
  ids = np.array(["x", "y", "x", "x"], dtype=object)
  out, tokens = disambiguation_suffix(ids, np.array([1, 5, 9, 1]),
                                      np.array(["t3", "t1", "t2", "t0"], dtype=object))
  assert out.tolist() == ["x<d2>", "y", "x<d0>", "x<d1>"]  # pop 9, then tie by id t0 < t3
  assert tokens == ["<d0>", "<d1>", "<d2>"]


@pytest.mark.parametrize("discretizer,pattern", [("kmeans", r"<a[0-3]><b[0-3]><c[0-3]>"),
                                                 ("residual-kmeans", r"<a[0-3]><b[0-3]><c[0-3]>")])
def test_kmeans_discretizers_end_to_end(cluster_data, tmp_path, discretizer, pattern):
  size = {"kmeans": {"branching": 4}, "residual-kmeans": {"codebook_size": 4}}[discretizer]
  m = build_ids(cluster_data, "semantic-ids-cf", tmp_path / discretizer,
                discretizer=discretizer, levels=3, workers=1, vector_size=16, epochs=30, sample=0,
                window=10, **size)
  assert all(re.fullmatch(pattern, i) for i in m.track_to_id.values())
  within, across = _first_token_sharing(m)
  assert within > 3 * across, (within, across)
  assert len(m.new_tokens) == 12


def test_unknown_options_are_refused(cluster_data, tmp_path):
  with pytest.raises(TypeError, match="dictionary_sise"):
    build_ids(cluster_data, "semantic-ids-cf", tmp_path / "x", dictionary_sise=8)
  with pytest.raises(TypeError, match="branching"):  # a k-means option with sparse coding
    build_ids(cluster_data, "semantic-ids-cf", tmp_path / "x", branching=8)
  with pytest.raises(ValueError, match="unknown ID strategy"):
    build_ids(cluster_data, "semantic-ids", tmp_path / "x")
  assert not (tmp_path / "x").exists()


def test_cf_learns_from_cooccurrence_only_playlists(cluster_parts, make_dataset):
  """The unseen tracks u0/u1 co-occur with cluster c1 in short-title playlists
  only: with them word2vec learns their vectors, near c1's; without, they fall
  back to their artist's mean, as before."""
  tracks, train = cluster_parts
  cooc = [("metal", ["u0", "u1", f"c1-{j:02d}", f"c1-{j + 1:02d}"]) for j in range(0, 18, 2)]
  data = make_dataset(tracks, train, cooccurrence=cooc * 20)
  inputs = load_inputs(data)
  assert np.diff(inputs.cooccurrence_offsets).tolist() == [4] * 180
  row = {t: i for i, t in enumerate(inputs.track_ids)}
  kw = dict(seed=0, vector_size=16, epochs=30, window=10, sample=0, workers=1)
  with_cooc = cf_embeddings(inputs, **kw)
  without = cf_embeddings(inputs, cooccurrence=False, **kw)
  assert with_cooc.source[row["u0"]] == LEARNED and without.source[row["u0"]] == ARTIST_MEAN
  assert with_cooc.info["playlists"] == 160 + 180 and without.info["playlists"] == 160
  assert with_cooc.config["cooccurrence"] and not without.config["cooccurrence"]
  v = with_cooc.vectors
  c0 = [row[f"c0-{j:02d}"] for j in range(20)]
  c1 = [row[f"c1-{j:02d}"] for j in range(20)]
  u0 = v[row["u0"]]
  assert (v[c1] @ u0).mean() > (v[c0] @ u0).mean() + 0.2
