"""The TFDS builder reads a prepared dataset offline."""

import pytest

from text2tracks_jax.data import dataset as ds

tfds = pytest.importorskip("tensorflow_datasets")


def _prepared(path, source="jsonl"):
  with ds.DatasetWriter(path, source=source, config={}, seed=0) as w:
    for i in range(4):
      w.add_track(f"t{i}", f"Song {i}", "a1", "Artist")
    w.add_example("train", "q1", "chill vibes", ["t0", "t1"])
    w.add_example("train", "q2", "Canción de cuna 🎵", ["t2"])
    w.add_example("validation", "q3", "rock", ["t3"])
    w.add_example("test", "q4", "jazz", ["t3", "t0"])
    w.commit()
  return path


def test_tfds_load_matches_parquet(tmp_path):
  from text2tracks_jax.data import tfds_builder
  prepared = _prepared(tmp_path / "d")
  rows = list(tfds.as_numpy(tfds_builder.load(prepared, "train")))
  got = sorted((r["query_id"].decode(), r["query"].decode(), [t.decode() for t in r["track_ids"]])
               for r in rows)
  assert got == [("q1", "chill vibes", ["t0", "t1"]), ("q2", "Canción de cuna 🎵", ["t2"])]
  # The standard tfds.load path works too, with the prepared dir as manual dir.
  test = tfds.load("text2tracks_playlists/jsonl", split="test", data_dir=str(tmp_path / "tf2"),
                   download_and_prepare_kwargs={"download_config": tfds.download.DownloadConfig(
                       manual_dir=str(prepared))})
  assert [[t.decode() for t in r["track_ids"]] for r in tfds.as_numpy(test)] == [["t3", "t0"]]


def test_tfds_config_must_match_source(tmp_path):
  from text2tracks_jax.data import tfds_builder
  prepared = _prepared(tmp_path / "d", source="mpd")
  b = tfds_builder.Text2tracksPlaylists(config="jsonl", data_dir=str(tmp_path / "tf"))
  with pytest.raises(ds.DatasetError, match="builder config is 'jsonl'"):
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(prepared)))
