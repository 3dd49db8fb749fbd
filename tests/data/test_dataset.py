"""The prepared-dataset writer/reader: atomicity, invariants, stats."""

import json

import numpy as np
import pytest

from text2tracks_jax.data import dataset as ds


def _write(path, *, test_query="jazz night", crash=False):
  with ds.DatasetWriter(path, source="jsonl", config={"k": 1}, seed=3, flush_rows=2) as w:
    for i in range(6):
      w.add_track(f"t{i}", f"Song {i}", f"a{i % 2}", f"Artist {i % 2}")
    w.add_example("train", "q1", "Chill  Vibes", ["t0", "t1", "t2"])
    w.add_example("train", "q2", "rock anthems", ["t0", "t3"])
    w.add_example("train", "q3", "chill vibes", ["t0"])
    w.add_example("validation", "q4", "indie morning", ["t4"])
    w.add_example("test", "q5", test_query, ["t5", "t1"])
    if crash:
      raise RuntimeError("boom")
    return w.commit()


def test_roundtrip_popularity_and_order(tmp_path):
  manifest = _write(tmp_path / "d")
  prepared = ds.PreparedDataset.load(tmp_path / "d")
  cat = prepared.catalog().to_pydict()
  assert cat["track_id"] == [f"t{i}" for i in range(6)]
  # popularity counts train pairs only: t0 is in 3 train playlists, t5 only in test.
  assert cat["popularity"] == [3, 1, 1, 1, 0, 0]
  train = list(prepared.examples("train"))
  assert [e.query_id for e in train] == ["q1", "q2", "q3"]  # flushed in row groups of 2
  assert train[0].track_ids == ("t0", "t1", "t2")  # playlist order kept
  assert prepared.relevance("test") == {"q5": ["t5", "t1"]}
  c = manifest["counts"]
  assert (c["train"]["queries"], c["train"]["pairs"], c["train"]["unique_queries"]) == (3, 6, 2)
  assert c["tracks"] == 6 and c["artists"] == 2 and c["train_tracks"] == 4
  assert set(manifest["outputs"]) == {"catalog.parquet", "train.parquet",
                                      "validation.parquet", "test.parquet",
                                      "cooccurrence.parquet"}
  assert json.loads((tmp_path / "d" / "manifest.json").read_text()) == manifest


def test_test_query_leak_is_refused_and_nothing_written(tmp_path):
  with pytest.raises(ds.DatasetError, match="test queries also occur in train"):
    _write(tmp_path / "d", test_query="ROCK   anthems")
  assert not (tmp_path / "d").exists()
  assert list(tmp_path.iterdir()) == []  # no temp dir left behind


def test_crash_midway_keeps_previous_dataset(tmp_path):
  first = _write(tmp_path / "d")
  with pytest.raises(RuntimeError):
    _write(tmp_path / "d", crash=True)
  assert ds.PreparedDataset.load(tmp_path / "d").manifest == first
  assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_writer_without_commit_publishes_nothing(tmp_path):
  with ds.DatasetWriter(tmp_path / "d", source="jsonl", config={}, seed=0) as w:
    w.add_track("t0", "x", "a", "A")
  assert list(tmp_path.iterdir()) == []


def test_incomplete_directory_is_not_a_dataset(tmp_path):
  (tmp_path / "d").mkdir()
  (tmp_path / "d" / "catalog.parquet").write_bytes(b"")
  with pytest.raises(ds.DatasetError, match="no manifest.json"):
    ds.PreparedDataset.load(tmp_path / "d")


@pytest.mark.parametrize("bad", [
    dict(split="dev", track_ids=["t0"]), dict(split="train", track_ids=[]),
    dict(split="train", track_ids=["nope"]), dict(split="train", track_ids=["t0", "t0"])])
def test_writer_rejects_invalid_examples(tmp_path, bad):
  with ds.DatasetWriter(tmp_path / "d", source="jsonl", config={}, seed=0) as w:
    w.add_track("t0", "x", "a", "A")
    with pytest.raises(ValueError):
      w.add_example(bad["split"], "q", "query", bad["track_ids"])


def test_split_for_query_is_stable_and_case_insensitive():
  fr = (0.8, 0.1, 0.1)
  assert ds.split_for_query("Chill Vibes", fr) == ds.split_for_query(" chill   vibes ", fr)
  splits = [ds.split_for_query(f"query {i}", fr, seed=1) for i in range(4000)]
  shares = np.array([splits.count(s) for s in ds.SPLITS]) / len(splits)
  np.testing.assert_allclose(shares, fr, atol=0.03)
  assert splits != [ds.split_for_query(f"query {i}", fr, seed=2) for i in range(4000)]


def test_popularity_concentration():
  flat = ds.popularity_concentration(np.full(100, 5))
  assert flat["gini"] == pytest.approx(0.0, abs=1e-9)
  assert flat["top10pct_share"] == pytest.approx(0.1)
  skewed = ds.popularity_concentration(np.r_[np.full(99, 1), 901])
  assert skewed["top1pct_share"] == pytest.approx(0.901)
  assert skewed["gini"] > 0.85


def test_cooccurrence_playlists_keep_catalog_tracks_only(tmp_path):
  with ds.DatasetWriter(tmp_path / "d", source="jsonl", config={}, seed=0, flush_rows=2) as w:
    w.add_cooccurrence("s0", "chill", ["t0", "x9", "t1"])  # before its tracks exist
    for i in range(4):
      w.add_track(f"t{i}", f"Song {i}", "a0", "Artist")
    w.add_example("train", "q1", "rock anthems for driving", ["t0", "t2"])
    w.add_example("test", "q2", "jazz night", ["t3"])
    w.add_cooccurrence("s1", "rap", ["t2", "x8"])          # 1 catalog track: no co-occurrence
    w.add_cooccurrence("s2", "party", ["t3", "t2", "t1"])
    with pytest.raises(ValueError, match="added twice"):
      w.add_cooccurrence("s2", "party", ["t0", "t1"])
    manifest = w.commit()
  prepared = ds.PreparedDataset.load(tmp_path / "d")
  table = prepared.cooccurrence().to_pydict()
  assert table["query_id"] == ["s0", "s2"]
  assert table["track_ids"] == [["t0", "t1"], ["t3", "t2", "t1"]]
  assert manifest["stats"]["cooccurrence"] == {
      "playlists": 2, "entries": 5, "playlists_read": 3, "tracks_not_in_catalog": 2,
      "playlists_under_2_tracks": 1}
  assert "cooccurrence.parquet" in manifest["outputs"]
  assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [
      "catalog.parquet", "cooccurrence.parquet", "manifest.json", "test.parquet",
      "train.parquet", "validation.parquet"]
  # never a pair: popularity counts train pairs only
  assert prepared.catalog().column("popularity").to_pylist() == [1, 0, 1, 0]


def test_dataset_without_cooccurrence_file_reads_as_empty(tmp_path):
  _write(tmp_path / "d")
  (tmp_path / "d" / "cooccurrence.parquet").unlink()  # a dataset made before the file existed
  table = ds.PreparedDataset.load(tmp_path / "d").cooccurrence(["track_ids"])
  assert table.num_rows == 0 and table.column_names == ["track_ids"]
