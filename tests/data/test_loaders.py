"""The file-source loaders (MPD slices, CPCD conversations, generic JSONL) on good input."""

import json
import logging

import pytest

from text2tracks_jax import cli
from text2tracks_jax.data import cpcd, mpd
from text2tracks_jax.data.dataset import DatasetError, PreparedDataset, split_for_query
from text2tracks_jax.data.prepare import prepare

import mpd_fixtures  # tests/mpd_fixtures.py (pytest.ini: pythonpath = tests)

ALL_TRAIN = (1.0, 0.0, 0.0)


def _rows(ds, split):
  return list(ds.examples(split))


def _all_examples(ds):
  return {e.query_id: (split, e) for split in ("train", "validation", "test")
          for e in ds.examples(split)}


# -- MPD ---------------------------------------------------------------------
def test_write_mpd_slices_is_deterministic_and_mpd_shaped(tmp_path):
  a = mpd_fixtures.write_mpd_slices(tmp_path / "a", 25, playlists_per_slice=10, seed=3,
                                    n_tracks=500, tracks_per_playlist=8)
  b = mpd_fixtures.write_mpd_slices(tmp_path / "b", 25, playlists_per_slice=10, seed=3,
                                    n_tracks=500, tracks_per_playlist=8)
  assert [p.name for p in a] == ["mpd.slice.0-9.json", "mpd.slice.10-19.json",
                                 "mpd.slice.20-24.json"]
  assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
  doc = json.loads(a[2].read_text())
  assert doc["info"]["slice"] == "20-24"
  playlist = doc["playlists"][0]
  assert playlist["pid"] == 20 and playlist["num_tracks"] == len(playlist["tracks"])
  track = playlist["tracks"][0]
  assert set(track) == {"pos", "artist_name", "track_uri", "artist_uri", "track_name",
                        "album_uri", "duration_ms", "album_name"}
  assert track["track_uri"].startswith("spotify:track:") and len(track["track_uri"]) == 36
  for p in doc["playlists"]:
    uris = [t["track_uri"] for t in p["tracks"]]
    assert len(set(uris)) == len(uris) and 4 <= len(uris) <= 12


def test_mpd_reads_slices_in_numeric_order_and_builds_catalog(tmp_path, caplog):
  raw = tmp_path / "mpd"
  mpd_fixtures.write_mpd_slices(raw, 12, playlists_per_slice=2, n_tracks=200,
                                tracks_per_playlist=6, title_words=(3, 5))
  (raw / "README.md").write_text("not a slice")
  caplog.set_level(logging.INFO, logger="text2tracks_jax")
  m = prepare("mpd", tmp_path / "ds", input_path=raw, split_fractions=ALL_TRAIN)
  ds = PreparedDataset.load(tmp_path / "ds")
  # mpd.slice.10-11.json sorts before mpd.slice.2-3.json as text, not as a number.
  assert [e.query_id for e in _rows(ds, "train")] == [f"mpd-{i}" for i in range(12)]
  assert [p["path"].rsplit("/", 1)[1] for p in m["inputs"]][:3] == [
      "mpd.slice.0-1.json", "mpd.slice.2-3.json", "mpd.slice.4-5.json"]
  first = json.loads((raw / "mpd.slice.0-1.json").read_text())["playlists"][0]
  example = _rows(ds, "train")[0]
  assert example.query == " ".join(first["name"].split())
  assert list(example.track_ids) == [t["track_uri"] for t in first["tracks"]]
  catalog = ds.catalog().to_pydict()
  row = catalog["track_id"].index(first["tracks"][0]["track_uri"])
  assert catalog["title"][row] == first["tracks"][0]["track_name"]
  assert catalog["artist_id"][row] == first["tracks"][0]["artist_uri"]
  assert catalog["artist_name"][row] == first["tracks"][0]["artist_name"]
  assert len(set(catalog["track_id"])) == len(catalog["track_id"]) == m["counts"]["tracks"]
  assert m["config"]["filtered"] == {} and m["config"]["playlists_kept"] == 12
  assert m["errors"]["skipped"] == {}
  assert "mpd: 12 playlists in 6 slice(s), kept 12" in caplog.text


def test_mpd_max_slices_and_single_file(tmp_path):
  raw = tmp_path / "mpd"
  paths = mpd_fixtures.write_mpd_slices(raw, 30, playlists_per_slice=10, n_tracks=300,
                                        tracks_per_playlist=5, title_words=(3, 3))
  m = prepare("mpd", tmp_path / "a", input_path=raw, max_slices=2, progress=False)
  assert len(m["inputs"]) == 2 and m["config"]["playlists_seen"] == 20
  m = prepare("mpd", tmp_path / "b", input_path=paths[1], progress=False)
  assert len(m["inputs"]) == 1 and m["config"]["playlists_seen"] == 10
  ids = _all_examples(PreparedDataset.load(tmp_path / "b"))
  assert sorted(ids) == sorted(f"mpd-{i}" for i in range(10, 20))


def _playlists(names, descriptions=None, tracks_per=4):
  descriptions = descriptions or [None] * len(names)
  return [mpd_fixtures.make_playlist(pid, name, range(pid, pid + tracks_per),
                                     description=d)
          for pid, (name, d) in enumerate(zip(names, descriptions))]


def test_mpd_title_filter_is_counted_not_an_error(tmp_path):
  raw = tmp_path / "mpd"
  raw.mkdir()
  names = ["chill", "road trip", "songs for rainy days", "old school hip hop",
           "  late   night\tdrive "]
  mpd_fixtures.write_slice(raw / "mpd.slice.0-4.json", _playlists(names))
  m = prepare("mpd", tmp_path / "ds", input_path=raw, split_fractions=ALL_TRAIN,
              progress=False)
  assert m["config"]["filtered"] == {"short_title": 2}
  assert m["config"]["min_title_words"] == 3
  assert m["errors"]["skipped"] == {}
  queries = [e.query for e in _rows(PreparedDataset.load(tmp_path / "ds"), "train")]
  assert queries == ["songs for rainy days", "old school hip hop", "late night drive"]
  # the short-title playlists are kept for CF, restricted to catalog tracks
  # (tracks 2-7 come from kept playlists; "chill" lists 0-3, "road trip" 1-4)
  cooc = PreparedDataset.load(tmp_path / "ds").cooccurrence().to_pydict()
  assert cooc["query_id"] == ["mpd-0", "mpd-1"] and cooc["query"] == ["chill", "road trip"]
  catalog = PreparedDataset.load(tmp_path / "ds").catalog().column("track_id").to_pylist()
  assert [len(t) for t in cooc["track_ids"]] == [2, 3]
  assert all(t in catalog for tracks in cooc["track_ids"] for t in tracks)
  assert m["stats"]["cooccurrence"]["tracks_not_in_catalog"] == 3
  m = prepare("mpd", tmp_path / "ds1", input_path=raw, min_title_words=1,
              split_fractions=ALL_TRAIN, progress=False)
  assert m["config"]["filtered"] == {} and m["counts"]["train"]["queries"] == 5


def test_mpd_description_joins_query_when_asked(tmp_path):
  raw = tmp_path / "mpd"
  raw.mkdir()
  mpd_fixtures.write_slice(raw / "mpd.slice.0-1.json", _playlists(
      ["songs for rainy days", "old school hip hop"], ["cozy &amp; slow", None]))
  prepare("mpd", tmp_path / "a", input_path=raw, split_fractions=ALL_TRAIN, progress=False)
  prepare("mpd", tmp_path / "b", input_path=raw, use_description=True,
          split_fractions=ALL_TRAIN, progress=False)
  assert _rows(PreparedDataset.load(tmp_path / "a"), "train")[0].query == "songs for rainy days"
  queries = [e.query for e in _rows(PreparedDataset.load(tmp_path / "b"), "train")]
  assert queries == ["songs for rainy days. cozy & slow", "old school hip hop"]


def test_mpd_split_is_a_hash_of_the_normalised_title(tmp_path):
  raw = tmp_path / "mpd"
  names = [f"playlist number {i % 40}" for i in range(200)]
  names[1] = "  PLAYLIST   number 0 "  # same normalised title as names[0]
  raw.mkdir()
  mpd_fixtures.write_slice(raw / "mpd.slice.0-199.json", _playlists(names, tracks_per=2))
  m = prepare("mpd", tmp_path / "ds", input_path=raw, split_fractions=(0.5, 0.25, 0.25),
              seed=7, progress=False)
  examples = _all_examples(PreparedDataset.load(tmp_path / "ds"))
  for pid, name in enumerate(names):
    split, example = examples[f"mpd-{pid}"]
    assert split == split_for_query(name, (0.5, 0.25, 0.25), seed=7)
  assert examples["mpd-0"][0] == examples["mpd-1"][0]
  assert all(m["counts"][s]["queries"] > 0 for s in ("train", "validation", "test"))
  assert m["config"]["split_fractions"] == [0.5, 0.25, 0.25]


# -- CPCD --------------------------------------------------------------------
def cpcd_track(track_id, title, artists=("Artist",), cluster=None):
  return {"track_ids": track_id, "track_titles": title, "track_release_titles": "Album",
          "track_artists": list(artists), "track_canonical_ids": track_id,
          "track_cluster_ids": cluster or f"c-{track_id}"}


def cpcd_turn(query, liked=()):
  return {"user_query": query, "system_response": "ok", "search_queries": [],
          "search_results": [], "liked_results": list(liked), "disliked_results": []}


def cpcd_conversation(cid, turns, tracks):
  return {"id": cid, "turns": turns, "tracks": {t["track_ids"]: t for t in tracks},
          "goal_playlist": sorted({x for t in turns for x in t["liked_results"]})}


def _write_jsonl(path, records):
  path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
  return path


def test_cpcd_one_example_per_turn_with_likes(tmp_path):
  tracks = [cpcd_track("b", "Hey Ya", ["Outkast"], cluster="hey"),
            cpcd_track("a", "Hey Ya! (Radio Mix)", ["Outkast"], cluster="hey"),
            cpcd_track("c", "Uptown Funk", ["Mark Ronson", "Bruno Mars"]),
            cpcd_track("d", "Unliked Song")]
  conversation = cpcd_conversation("conv1", [
      cpcd_turn("I want a dance   party playlist"),
      cpcd_turn("upbeat please", liked=["b", "c"]),
      cpcd_turn("more like the first", liked=["a", "b"]),  # one cluster: one example track
  ], tracks)
  path = _write_jsonl(tmp_path / "cpcd_v1.dialogs.dev.jsonl", [conversation])
  m = prepare("cpcd", tmp_path / "ds", input_path=path, split_fractions=ALL_TRAIN)
  ds = PreparedDataset.load(tmp_path / "ds")
  rows = _rows(ds, "train")
  assert [e.query_id for e in rows] == ["cpcd-conv1:1", "cpcd-conv1:2"]
  assert rows[0].query == "I want a dance party playlist | upbeat please"
  assert rows[1].query == ("I want a dance party playlist | upbeat please | "
                           "more like the first")
  assert rows[0].track_ids == ("a", "c")  # b is represented by a, its cluster's smallest id
  assert rows[1].track_ids == ("a",)
  catalog = ds.catalog().to_pydict()
  assert catalog["track_id"] == ["a", "c", "d"]  # one row per cluster
  assert catalog["artist_name"][1] == "Mark Ronson, Bruno Mars"
  assert catalog["artist_id"][1] == "cpcd:mark ronson"
  assert m["config"]["filtered"] == {"turns_without_likes": 1}
  assert m["config"]["cpcd"]["liked_merged_by_cluster"] == 1
  assert m["config"]["turn_separator"] == " | "
  assert m["errors"]["skipped"] == {}


def _many_conversations(n, first_query=lambda i: f"playlist idea number {i}"):
  tracks = [cpcd_track(f"t{i}", f"Song {i}") for i in range(10)]
  return [cpcd_conversation(f"conv{i}", [
      cpcd_turn(first_query(i), liked=[f"t{i % 10}"]),
      cpcd_turn("more of that", liked=[f"t{(i + 1) % 10}"]),
      cpcd_turn("and something calmer", liked=[f"t{(i + 2) % 10}", f"t{(i + 3) % 10}"])],
      tracks) for i in range(n)]


def test_cpcd_split_by_conversation_never_leaks_test_queries(tmp_path):
  # Half of the conversations share their first utterance ("hi"), so their turn
  # queries coincide: they must all land in one split.
  conversations = _many_conversations(
      60, first_query=lambda i: "Hi!" if i % 2 else f"playlist idea number {i}")
  path = _write_jsonl(tmp_path / "dialogs.jsonl", conversations)
  m = prepare("cpcd", tmp_path / "ds", input_path=path, split_fractions=(0.5, 0.25, 0.25))
  examples = _all_examples(PreparedDataset.load(tmp_path / "ds"))
  for i in range(60):
    splits = {examples[f"cpcd-conv{i}:{t}"][0] for t in range(3)}
    assert len(splits) == 1
  assert len({examples[f"cpcd-conv{i}:0"][0] for i in range(1, 60, 2)}) == 1
  assert all(m["counts"][s]["queries"] > 0 for s in ("train", "validation", "test"))


def test_cpcd_directory_with_tracks_file_and_duplicate_dev_files(tmp_path):
  conversations = _many_conversations(6)
  extra = cpcd_track("zz", "Only In The Track File")
  conversations[0]["turns"][1]["liked_results"] = ["zz"]  # resolved by the track file
  _write_jsonl(tmp_path / "cpcd_v1.dialogs.dev.jsonl", conversations[:4])
  _write_jsonl(tmp_path / "cpcd_v1.dialogs.dev.train.jsonl", conversations[:3])
  _write_jsonl(tmp_path / "cpcd_v1.dialogs.test.jsonl", conversations[4:])
  _write_jsonl(tmp_path / "cpcd_v1.tracks.jsonl", [extra, cpcd_track("t1", "Song 1")])
  m = prepare("cpcd", tmp_path / "ds", input_path=tmp_path, split_fractions=ALL_TRAIN)
  assert len(m["inputs"]) == 4
  assert m["config"]["filtered"] == {"duplicate_conversation": 3}
  assert m["config"]["cpcd"]["conversations"] == 6
  assert m["counts"]["train"]["queries"] == 18
  examples = _all_examples(PreparedDataset.load(tmp_path / "ds"))
  assert examples["cpcd-conv0:1"][1].track_ids == ("zz",)
  catalog = PreparedDataset.load(tmp_path / "ds").catalog().to_pydict()
  assert "zz" in catalog["track_id"] and len(catalog["track_id"]) == 11


# -- generic JSONL -----------------------------------------------------------
CATALOG = [{"track_id": f"t{i}", "title": f"Song {i}", "artist_id": f"a{i % 3}",
            "artist_name": f"Artist {i % 3}"} for i in range(8)]


def test_jsonl_explicit_and_hashed_splits(tmp_path):
  catalog = _write_jsonl(tmp_path / "catalog.jsonl", CATALOG)
  queries = [{"query": "rainy sunday songs", "tracks": ["t1", "t2"], "query_id": "q1",
              "split": "train"},
             {"query": "gym motivation", "tracks": ["t3"], "split": "test"},
             {"query": "focus music", "tracks": ["t4", "t0"], "query_id": 7}]
  queries += [{"query": f"query {i}", "tracks": [f"t{i % 8}"]} for i in range(40)]
  path = _write_jsonl(tmp_path / "queries.jsonl", queries)
  m = prepare("jsonl", tmp_path / "ds", input_path=path, catalog_path=catalog)
  examples = _all_examples(PreparedDataset.load(tmp_path / "ds"))
  assert examples["q1"][0] == "train" and examples["q1"][1].track_ids == ("t1", "t2")
  assert examples["line-2"][0] == "test"
  assert examples["7"][1].query == "focus music"
  for i in range(40):
    split, example = examples[f"line-{i + 4}"]
    assert split == split_for_query(example.query, (0.9, 0.05, 0.05), seed=0)
  assert m["config"]["explicit_splits"] == 2
  assert m["counts"]["tracks"] == 8  # catalog tracks that no query names stay candidates
  assert m["errors"]["skipped"] == {}


def test_jsonl_explicit_split_leak_is_refused(tmp_path):
  catalog = _write_jsonl(tmp_path / "catalog.jsonl", CATALOG)
  path = _write_jsonl(tmp_path / "queries.jsonl", [
      {"query": "Gym  motivation", "tracks": ["t1"], "split": "train"},
      {"query": "gym motivation", "tracks": ["t2"], "split": "test"}])
  with pytest.raises(DatasetError, match="test queries also occur in train"):
    prepare("jsonl", tmp_path / "ds", input_path=path, catalog_path=catalog)
  assert not (tmp_path / "ds").exists()


def test_jsonl_through_the_cli(tmp_path, capsys):
  catalog = _write_jsonl(tmp_path / "catalog.jsonl", CATALOG)
  path = _write_jsonl(tmp_path / "queries.jsonl", [
      {"query": f"query number {i}", "tracks": [f"t{i % 8}"], "split": "train"}
      for i in range(5)])
  rc = cli.main(["prepare", "--source", "jsonl", "--input", str(path), "--catalog",
                 str(catalog), "--out", str(tmp_path / "ds")])
  assert rc == 0
  assert "wrote" in capsys.readouterr().out
  assert PreparedDataset.load(tmp_path / "ds").manifest["counts"]["train"]["queries"] == 5


def test_mpd_and_cpcd_through_the_cli(tmp_path):
  raw = tmp_path / "mpd"
  mpd_fixtures.write_mpd_slices(raw, 20, playlists_per_slice=5, n_tracks=100,
                                tracks_per_playlist=4)
  assert cli.main(["prepare", "--source", "mpd", "--input", str(raw), "--max_slices", "3",
                   "--min_title_words", "1", "--out", str(tmp_path / "m")]) == 0
  m = PreparedDataset.load(tmp_path / "m").manifest
  assert m["config"]["playlists_seen"] == 15 and m["config"]["min_title_words"] == 1
  path = _write_jsonl(tmp_path / "dialogs.jsonl", _many_conversations(12))
  assert cli.main(["prepare", "--source", "cpcd", "--input", str(path),
                   "--out", str(tmp_path / "c")]) == 0


def test_cpcd_turn_queries_separator():
  assert cpcd.turn_queries(["a", "b c", "d"]) == ["a", "a | b c", "a | b c | d"]
  assert cpcd.turn_queries(["a", "b"], separator=" [SEP] ") == ["a", "a [SEP] b"]


def test_mpd_find_slices_orders_numerically(tmp_path):
  for start in (2000, 0, 10000, 1000):
    (tmp_path / f"mpd.slice.{start}-{start + 999}.json").write_text("{}")
  (tmp_path / "challenge_set.json").write_text("{}")
  assert [p.name for p in mpd.find_slices(tmp_path)] == [
      "mpd.slice.0-999.json", "mpd.slice.1000-1999.json", "mpd.slice.2000-2999.json",
      "mpd.slice.10000-10999.json"]
  assert len(mpd.find_slices(tmp_path, max_slices=2)) == 2
