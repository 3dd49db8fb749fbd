"""Content and integer strategies: the textual forms of the paper's Table 1."""

import re

import numpy as np
import pytest

from text2tracks_jax.ids import build_ids
from text2tracks_jax.ids import integer
from text2tracks_jax.ids.inputs import load_inputs

# Artist B's tracks first appear in train in the order b2, b0, b1; b3 never does.
TRACKS = [("a0", "Alpha", "A", "Band  A"), ("a1", "Beta\tSong", "A", "Band  A"),
          ("b0", "Gamma", "B", " The   B "), ("b1", "Delta", "B", " The   B "),
          ("b2", "Eps", "B", " The   B "), ("b3", "Zeta", "B", " The   B "),
          ("c0", "Eta", "C", "Cee")]
TRAIN = [("first list", ["b2", "a1"]), ("second list", ["b0", "b2", "c0"]),
         ("third list", ["b1", "a0", "b0"]), ("fourth list", ["b0"])]


@pytest.fixture
def data(make_dataset):
  return make_dataset(TRACKS, TRAIN)


def test_artist_name_track_name_form(data, tmp_path, spm_model):
  m = build_ids(data, "artist-name-track-name", tmp_path / "ids", spm_path=spm_model)
  # Whitespace runs collapse to one space, ends trimmed; " - " between the two.
  assert m.track_to_id["a1"] == "Band A - Beta Song"
  assert m.track_to_id["b3"] == "The B - Zeta"
  assert m.new_tokens == [] and m.pieces("The B - Zeta") == ["The B - Zeta"]


def test_track_int_is_a_permutation_from_1000(data, tmp_path, spm_model):
  m = build_ids(data, "track-int", tmp_path / "ids", spm_path=spm_model, seed=3)
  values = sorted(int(v) for v in m.track_to_id.values())
  assert values == list(range(1000, 1000 + len(TRACKS)))
  assert all(re.fullmatch(r"\d{4}", v) for v in m.track_to_id.values())
  again = build_ids(data, "track-int", tmp_path / "ids2", spm_path=spm_model, seed=3)
  other = build_ids(data, "track-int", tmp_path / "ids3", spm_path=spm_model, seed=4)
  assert again.track_to_id == m.track_to_id
  assert other.track_to_id != m.track_to_id


def test_artist_int_track_seq_counts_in_order_of_appearance(data, tmp_path, spm_model):
  m = build_ids(data, "artist-int-track-seq", tmp_path / "ids", spm_path=spm_model)
  split = {t: tuple(int(p) for p in i.split("_")) for t, i in m.track_to_id.items()}
  assert all(re.fullmatch(r"\d{4}_\d{4}", i) for i in m.track_to_id.values())
  artist_ints = {t[2]: split[t[0]][0] for t in TRACKS}
  assert sorted(artist_ints.values()) == [1000, 1001, 1002]
  # B: b2 first, then b0, then b1 in train order; b3 (not in train) comes last.
  assert [split[t][1] for t in ("b2", "b0", "b1", "b3")] == [1000, 1001, 1002, 1003]
  assert [split[t][1] for t in ("a1", "a0")] == [1000, 1001]
  assert split["c0"][1] == 1000
  assert len(set(m.track_to_id.values())) == len(TRACKS)  # unique (Table 1: UI)


def test_unseen_tracks_numbered_after_train_tracks_by_id(make_dataset, tmp_path, spm_model):
  tracks = [("x9", "S", "A", "A"), ("x1", "S", "A", "A"), ("x5", "S", "A", "A")]
  data = make_dataset(tracks, [("q", ["x5"])])
  seq = integer.track_sequence(load_inputs(data), 1000)
  assert dict(zip(["x9", "x1", "x5"], seq.tolist())) == {"x5": 1000, "x1": 1001, "x9": 1002}


def test_artist_iid_only_top_k_artists_become_tokens(data, tmp_path, spm_model):
  plain = build_ids(data, "artist-int-track-seq", tmp_path / "int", spm_path=spm_model)
  m = build_ids(data, "artist-iid-track-seq", tmp_path / "iid", spm_path=spm_model, top_k=1)
  # Artist B has the most train pairs (b0 x3, b2 x2, b1 x1); only it gets a token.
  b_int = plain.track_to_id["b0"].split("_")[0]
  assert m.new_tokens == [f"<{b_int}>"]
  for track_id, artist, *_ in [(t[0], t[2]) for t in TRACKS]:
    a_int, seq = plain.track_to_id[track_id].split("_")
    if artist == "B":
      assert m.track_to_id[track_id] == f"<{a_int}>{seq}"  # Table 1: "<1001>1001"
      assert m.pieces(m.track_to_id[track_id]) == [f"<{a_int}>", seq]
    else:
      assert m.track_to_id[track_id] == f"{a_int}_{seq}"
  two = build_ids(data, "artist-iid-track-seq", tmp_path / "iid2", spm_path=spm_model, top_k=2)
  a_int = plain.track_to_id["a0"].split("_")[0]
  assert two.new_tokens == [f"<{b_int}>", f"<{a_int}>"]  # by train pairs: B 6, A 2, C 1


def test_top_artists_ties_and_zero_frequency(make_dataset):
  tracks = [("t0", "S", "B", "B"), ("t1", "S", "A", "A"), ("t2", "S", "C", "C")]
  data = make_dataset(tracks, [("q", ["t0", "t1"])])
  inputs = load_inputs(data)
  top = integer.top_artists(inputs, 10)
  # A and B tie (one pair each): artist id breaks the tie; C has no train pair.
  assert inputs.artists[top].tolist() == ["A", "B"]


def test_every_catalog_track_gets_an_id(data, tmp_path, spm_model):
  for strategy in ("artist-name-track-name", "track-int", "artist-int-track-seq",
                   "artist-iid-track-seq"):
    m = build_ids(data, strategy, tmp_path / strategy, spm_path=spm_model)
    assert set(m.track_to_id) == {t[0] for t in TRACKS}
    assert m.stats["unseen_tracks"] == 1  # b3
    assert sum(len(v) for v in m.id_to_tracks.values()) == len(TRACKS)


def test_random_integers_do_not_depend_on_row_order():
  rng = lambda: np.random.default_rng(0)
  keys = np.array(["b", "a", "c"], dtype=object)
  v1 = integer.random_integers(keys, rng(), 1000)
  v2 = integer.random_integers(keys[[2, 0, 1]], rng(), 1000)
  assert dict(zip(keys, v1)) == dict(zip(keys[[2, 0, 1]], v2))
