"""Small prepared datasets for the ID strategy tests, written with DatasetWriter."""

import numpy as np
import pytest

from text2tracks_jax.data.dataset import DatasetWriter

CLUSTER_SIZE = 20
UNSEEN = ["u0", "u1", "u2"]  # catalog tracks that never occur in train


def write_dataset(path, tracks, train, *, validation=(), test=None, cooccurrence=()):
  """tracks: [(track_id, title, artist_id, artist_name)]; train, validation,
  test, cooccurrence: [(query or title, [track ids])]."""
  with DatasetWriter(path, source="jsonl", config={"fixture": True}, seed=0) as w:
    for t in tracks:
      w.add_track(*t)
    for i, (query, track_ids) in enumerate(train):
      w.add_example("train", f"q{i}", query, track_ids)
    for i, (query, track_ids) in enumerate(validation):
      w.add_example("validation", f"v{i}", query, track_ids)
    test = test or [("held out editorial query", [tracks[0][0]])]
    for i, (query, track_ids) in enumerate(test):
      w.add_example("test", f"e{i}", query, track_ids)
    for i, (title, track_ids) in enumerate(cooccurrence):
      w.add_cooccurrence(f"s{i}", title, track_ids)
    w.commit()
  return path


def cluster_world(seed=0, playlists=160, length=6):
  """Two planted co-occurrence clusters: tracks c0-* only ever share playlists
  with c0-*, c1-* with c1-*. Each cluster spans 4 artists; queries describe
  the cluster ("rainy jazz ..." vs "heavy metal ..."). Three more tracks (of
  artist a0 and a new artist) are in the catalog but never in train."""
  rng = np.random.default_rng(seed)
  tracks = []
  for c in range(2):
    for j in range(CLUSTER_SIZE):
      artist = f"a{c * 4 + j % 4}"
      tracks.append((f"c{c}-{j:02d}", f"Song {c} {j}", artist, f"Artist {artist.upper()}"))
  tracks += [("u0", "Lost Song", "a0", "Artist A0"), ("u1", "Other Lost Song", "a0", "Artist A0"),
             ("u2", "Lonely Song", "a9", "Artist A9")]
  words = [["rainy jazz", "coffee shop jazz", "slow piano evening", "soft jazz for reading"],
           ["heavy metal gym", "thrash workout", "metal riffs for lifting", "loud metal"]]
  train = []
  weights = 1.0 / np.arange(1, CLUSTER_SIZE + 1)  # Zipf popularity inside a cluster
  for i in range(playlists):
    c = i % 2
    members = rng.choice(CLUSTER_SIZE, length, replace=False, p=weights / weights.sum())
    query = f"{words[c][i % 4]} {i}"
    train.append((query, [f"c{c}-{m:02d}" for m in members]))
  return tracks, train


@pytest.fixture
def cluster_parts():
  """(tracks, train) of `cluster_world()`, to write with more in it."""
  return cluster_world()


@pytest.fixture(scope="session")
def cluster_data(tmp_path_factory):
  tracks, train = cluster_world()
  return write_dataset(tmp_path_factory.mktemp("cluster") / "data", tracks, train)


@pytest.fixture(scope="session")
def spm_model(tmp_path_factory, cluster_data):
  """A tiny SentencePiece model shared by tests that only need some model."""
  from text2tracks_jax.ids.build import spm_training_texts
  from text2tracks_jax.ids.inputs import load_inputs
  from text2tracks_jax.ids.tokenizer import train_sentencepiece
  texts = spm_training_texts(load_inputs(cluster_data)) + [str(i) for i in range(1000, 1100)]
  return train_sentencepiece(texts, tmp_path_factory.mktemp("spm") / "spiece.model",
                             vocab_size=200)


def cluster_of(track_id: str) -> int:
  return int(track_id[1]) if track_id.startswith("c") else -1


@pytest.fixture
def make_dataset(tmp_path):
  """make_dataset(tracks, train, name="data", **kw) -> path (see write_dataset)."""
  def make(tracks, train, name="data", **kw):
    return write_dataset(tmp_path / name, tracks, train, **kw)
  return make
