"""Bad input for every file source: a clear InputError, or skip-and-count; never silent.

Each case writes a small input with exactly one bad record and states where the
error must point (file, line, field) and its kind. Every case runs three ways:
on_error="raise" (InputError, nothing written), on_error="skip" (the record
skipped and counted in the manifest, the good records kept), and through the
CLI (exit code 2, `file:line: field` on stderr, no output directory).
"""

import dataclasses
import json
from typing import Callable

import pytest

from text2tracks_jax import cli
from text2tracks_jax.data import mpd
from text2tracks_jax.data.errors import ErrorPolicy, InputError
from text2tracks_jax.data.prepare import format_stats, prepare

import mpd_fixtures  # tests/mpd_fixtures.py (pytest.ini: pythonpath = tests)

ANY_LINE = object()


@dataclasses.dataclass
class Case:
  source: str
  write: Callable  # tmp_path -> (options, path of the bad file)
  line: object  # int, None (MPD: one JSON document) or ANY_LINE
  field: object
  kind: str
  kept: int  # examples left with on_error="skip"


def _lines(path, lines):
  """Writes JSONL from dicts (json-encoded) and bytes (written as they are)."""
  path.write_bytes(b"".join(
      (x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines))
  return path


# -- generic JSONL: catalog t0..t7; queries on lines 1, 2, 4 are good ---------
CATALOG = [{"track_id": f"t{i}", "title": f"Song {i}", "artist_id": f"a{i}",
            "artist_name": f"Artist {i}"} for i in range(8)]
GOOD_QUERIES = [{"query": "rainy sunday songs", "tracks": ["t1", "t2"], "query_id": "q1",
                 "split": "train"},
                {"query": "gym motivation", "tracks": ["t3"], "split": "train"},
                {"query": "late night focus", "tracks": ["t4", "t5"], "split": "validation"}]


def jsonl_query(bad):
  def write(tmp_path):
    catalog = _lines(tmp_path / "catalog.jsonl", CATALOG)
    queries = _lines(tmp_path / "queries.jsonl", GOOD_QUERIES[:2] + [bad] + GOOD_QUERIES[2:])
    return {"input_path": queries, "catalog_path": catalog}, queries
  return write


def jsonl_catalog(bad):
  def write(tmp_path):
    catalog = _lines(tmp_path / "catalog.jsonl", CATALOG + [bad])
    queries = _lines(tmp_path / "queries.jsonl", GOOD_QUERIES)
    return {"input_path": queries, "catalog_path": catalog}, catalog
  return write


def q(**fields):
  return {"query": "songs for a road trip", "tracks": ["t6", "t7"], "split": "train", **fields}


def track(**fields):
  return {"track_id": "t9", "title": "Song 9", "artist_id": "a9", "artist_name": "Artist 9",
          **fields}


JSONL_CASES = {
    "jsonl_malformed_json": Case("jsonl", jsonl_query(b'{"query": "x", "tracks": ["t1"'),
                                 3, None, "malformed_json", 3),
    "jsonl_not_an_object": Case("jsonl", jsonl_query(b'["t1", "t2"]'),
                                3, None, "invalid_type", 3),
    "jsonl_missing_query": Case("jsonl", jsonl_query({"tracks": ["t1"]}),
                                3, "query", "missing_field", 3),
    "jsonl_missing_tracks": Case("jsonl", jsonl_query({"query": "songs for a road trip"}),
                                 3, "tracks", "missing_field", 3),
    "jsonl_tracks_not_a_list": Case("jsonl", jsonl_query(q(tracks="t1")),
                                    3, "tracks", "invalid_type", 3),
    "jsonl_empty_query": Case("jsonl", jsonl_query(q(query=" \t ")),
                              3, "query", "empty_query", 3),
    "jsonl_no_tracks": Case("jsonl", jsonl_query(q(tracks=[])), 3, "tracks", "no_tracks", 3),
    "jsonl_track_twice": Case("jsonl", jsonl_query(q(tracks=["t6", "t7", "t6"])),
                              3, "tracks[2]", "duplicate_track", 3),
    "jsonl_test_track_not_in_catalog": Case(
        "jsonl", jsonl_query(q(tracks=["t6", "t99"], split="test")),
        3, "tracks[1]", "unknown_track", 3),
    "jsonl_train_track_not_in_catalog": Case(
        "jsonl", jsonl_query(q(tracks=["nope"])), 3, "tracks[0]", "unknown_track", 3),
    "jsonl_invalid_utf8": Case(
        "jsonl", jsonl_query(b'{"query": "caf\xe9 songs", "tracks": ["t1"]}'),
        3, None, "invalid_utf8", 3),
    "jsonl_lone_surrogate": Case(
        "jsonl", jsonl_query(b'{"query": "bad \\ud800 text", "tracks": ["t1"]}'),
        3, "query", "invalid_utf8", 3),
    "jsonl_duplicate_query_id": Case("jsonl", jsonl_query(q(query_id="q1")),
                                     3, "query_id", "duplicate_id", 3),
    "jsonl_unknown_split": Case("jsonl", jsonl_query(q(split="dev")),
                                3, "split", "invalid_value", 3),
    "catalog_malformed_json": Case("jsonl", jsonl_catalog(b'{"track_id": "t9",'),
                                   9, None, "malformed_json", 3),
    "catalog_missing_title": Case("jsonl", jsonl_catalog(
        {"track_id": "t9", "artist_id": "a", "artist_name": "A"}),
        9, "title", "missing_field", 3),
    "catalog_empty_title": Case("jsonl", jsonl_catalog(track(title="")),
                                9, "title", "empty_field", 3),
    "catalog_duplicate_track_id": Case("jsonl", jsonl_catalog(track(track_id="t1")),
                                       9, "track_id", "duplicate_id", 3),
    "catalog_invalid_utf8": Case("jsonl", jsonl_catalog(
        b'{"track_id": "t9", "title": "\xff\xfe", "artist_id": "a", "artist_name": "A"}'),
        9, None, "invalid_utf8", 3),
}


# -- MPD: slice 0-2 is good; in slice 3-5 playlist [1] (pid 4) is bad -----------
def _mpd_playlists(start):
  return [mpd_fixtures.make_playlist(pid, f"songs for mood {pid}",
                                     range(pid * 10, pid * 10 + 5))
          for pid in range(start, start + 3)]


def mpd_playlist(mutate):
  """A case whose second slice has playlist [1] changed by `mutate(playlist)`."""
  def write(tmp_path):
    raw = tmp_path / "mpd"
    raw.mkdir()
    mpd_fixtures.write_slice(raw / "mpd.slice.0-2.json", _mpd_playlists(0), 0)
    playlists = _mpd_playlists(3)
    mutate(playlists[1])
    bad = mpd_fixtures.write_slice(raw / "mpd.slice.3-5.json", playlists, 3)
    return {"input_path": raw, "progress": False}, bad
  return write


def mpd_file(make_bytes):
  """A case whose second slice file is the bytes `make_bytes(good_json_text)`."""
  def write(tmp_path):
    raw = tmp_path / "mpd"
    raw.mkdir()
    mpd_fixtures.write_slice(raw / "mpd.slice.0-2.json", _mpd_playlists(0), 0)
    text = json.dumps({"info": {}, "playlists": _mpd_playlists(3)}, indent=1)
    bad = raw / "mpd.slice.3-5.json"
    bad.write_bytes(make_bytes(text))
    return {"input_path": raw, "progress": False}, bad
  return write


def _both(first, second):
  return lambda playlist: (first(playlist), second(playlist))


def _set(*keys_and_value):
  *keys, value = keys_and_value

  def mutate(playlist):
    target = playlist
    for key in keys[:-1]:
      target = target[key]
    if value is KeyError:
      del target[keys[-1]]
    else:
      target[keys[-1]] = value
  return mutate


def _duplicate_track(playlist):
  playlist["tracks"][3] = dict(playlist["tracks"][0], pos=3)


def _invalid_utf8(text):
  """The slice with a raw 0xff byte in playlist [1]'s name."""
  return text.replace("songs for mood 4", "songs for mood \udcff", 1).encode(
      "utf-8", "surrogateescape")


def _line_of(needle):
  text = json.dumps({"info": {}, "playlists": _mpd_playlists(3)}, indent=1)
  return text[:text.index(needle)].count("\n") + 1

MPD_CASES = {
    "mpd_malformed_json": Case("mpd", mpd_file(lambda t: t[:len(t) // 2].encode()),
                               ANY_LINE, None, "malformed_json", 3),
    "mpd_invalid_utf8": Case("mpd", mpd_file(_invalid_utf8),
                             _line_of("songs for mood 4"), None, "invalid_utf8", 3),
    "mpd_not_an_object": Case("mpd", mpd_file(lambda t: b"[1, 2]"),
                              None, None, "invalid_type", 3),
    "mpd_missing_playlists": Case("mpd", mpd_file(lambda t: b'{"info": {}}'),
                                  None, "playlists", "missing_field", 3),
    "mpd_missing_name": Case("mpd", mpd_playlist(_set("name", KeyError)),
                             None, "playlists[1].name", "missing_field", 5),
    "mpd_missing_pid": Case("mpd", mpd_playlist(_set("pid", KeyError)),
                            None, "playlists[1].pid", "missing_field", 5),
    "mpd_pid_not_an_int": Case("mpd", mpd_playlist(_set("pid", "4")),
                               None, "playlists[1].pid", "invalid_type", 5),
    "mpd_missing_track_uri": Case("mpd", mpd_playlist(_set("tracks", 3, "track_uri", KeyError)),
                                  None, "playlists[1].tracks[3].track_uri", "missing_field", 5),
    "mpd_track_name_not_a_string": Case("mpd", mpd_playlist(_set("tracks", 2, "track_name", 5)),
                                        None, "playlists[1].tracks[2].track_name",
                                        "invalid_type", 5),
    "mpd_missing_tracks": Case("mpd", mpd_playlist(_set("tracks", KeyError)),
                               None, "playlists[1].tracks", "missing_field", 5),
    "mpd_no_tracks": Case("mpd", mpd_playlist(_set("tracks", [])),
                          None, "playlists[1].tracks", "no_tracks", 5),
    "mpd_empty_title": Case("mpd", mpd_playlist(_set("name", "   ")),
                            None, "playlists[1].name", "empty_query", 5),
    "mpd_track_twice": Case("mpd", mpd_playlist(_duplicate_track),
                            None, "playlists[1].tracks[3].track_uri", "duplicate_track", 5),
    "mpd_pid_seen_before": Case("mpd", mpd_playlist(_set("pid", 0)),
                                None, "playlists[1].pid", "duplicate_id", 5),
    # a playlist kept only for co-occurrence (title too short) is checked too
    "mpd_short_title_missing_track_uri": Case(
        "mpd", mpd_playlist(_both(_set("name", "chill"), _set("tracks", 3, "track_uri", KeyError))),
        None, "playlists[1].tracks[3].track_uri", "missing_field", 5),
    "mpd_lone_surrogate": Case("mpd", mpd_playlist(_set("name", "mood \ud800 songs")),
                               None, "playlists[1].name", "invalid_utf8", 5),
}


# -- CPCD: three conversations of two liked turns each; line 2 is bad -----------
def cpcd_conversation(cid, first="hello, I need a playlist"):
  tracks = {t: {"track_ids": t, "track_titles": f"Song {t}", "track_release_titles": "R",
                "track_artists": ["Band"], "track_canonical_ids": t,
                "track_cluster_ids": f"c{t}"} for t in ("t1", "t2", "t3")}
  turns = [{"user_query": f"{first} for {cid}", "system_response": "sure",
            "search_queries": [], "search_results": [], "liked_results": ["t1"],
            "disliked_results": []},
           {"user_query": "something slower", "system_response": "ok",
            "search_queries": [], "search_results": [], "liked_results": ["t2", "t3"],
            "disliked_results": []}]
  return {"id": cid, "turns": turns, "tracks": tracks, "goal_playlist": ["t1", "t2", "t3"]}


def cpcd_case(mutate_or_bytes):
  def write(tmp_path):
    bad = cpcd_conversation("c2")
    if isinstance(mutate_or_bytes, bytes):
      bad = mutate_or_bytes
    else:
      mutate_or_bytes(bad)
    path = _lines(tmp_path / "cpcd_v1.dialogs.dev.jsonl",
                  [cpcd_conversation("c1"), bad, cpcd_conversation("c3")])
    return {"input_path": path, "split_fractions": (1.0, 0.0, 0.0)}, path
  return write


CPCD_CASES = {
    "cpcd_malformed_json": Case("cpcd", cpcd_case(b'{"id": "c2", "turns": [}'),
                                2, None, "malformed_json", 4),
    "cpcd_invalid_utf8": Case("cpcd", cpcd_case(
        b'{"id": "c2", "turns": [{"user_query": "caf\xe9"}], "tracks": {}}'),
        2, None, "invalid_utf8", 4),
    "cpcd_missing_user_query": Case("cpcd", cpcd_case(
        _set("turns", 1, "user_query", KeyError)),
        2, "turns[1].user_query", "missing_field", 4),
    "cpcd_missing_liked_results": Case("cpcd", cpcd_case(
        _set("turns", 0, "liked_results", KeyError)),
        2, "turns[0].liked_results", "missing_field", 4),
    "cpcd_missing_tracks_map": Case("cpcd", cpcd_case(_set("tracks", KeyError)),
                                    2, "tracks", "missing_field", 4),
    "cpcd_empty_user_query": Case("cpcd", cpcd_case(_set("turns", 1, "user_query", "")),
                                  2, "turns[1].user_query", "empty_query", 4),
    "cpcd_track_missing_title": Case("cpcd", cpcd_case(
        _set("tracks", "t2", "track_titles", KeyError)),
        2, "tracks['t2'].track_titles", "missing_field", 4),
    "cpcd_track_id_differs_from_key": Case("cpcd", cpcd_case(
        _set("tracks", "t2", "track_ids", "t9")),
        2, "tracks['t2'].track_ids", "invalid_value", 4),
    "cpcd_liked_twice": Case("cpcd", cpcd_case(
        _set("turns", 1, "liked_results", ["t2", "t2"])),
        2, "turns[1].liked_results[1]", "duplicate_track", 5),
    "cpcd_liked_track_unknown": Case("cpcd", cpcd_case(
        _set("turns", 1, "liked_results", ["t404", "t2"])),
        2, "turns[1].liked_results[0]", "unknown_track", 5),
    "cpcd_conversation_id_reused": Case("cpcd", cpcd_case(_set("id", "c1")),
                                        2, "id", "duplicate_id", 4),
}

CASES = {**JSONL_CASES, **MPD_CASES, **CPCD_CASES}


def _check_location(error: InputError, case: Case, bad_path):
  assert error.path == str(bad_path)
  if case.line is ANY_LINE:
    assert isinstance(error.line, int) and error.line >= 1
  else:
    assert error.line == case.line
  assert error.field == case.field
  assert error.kind == case.kind


def _nothing_written(parent):
  return not parent.exists() or list(parent.iterdir()) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_raise_names_file_line_and_field(tmp_path, name):
  case = CASES[name]
  options, bad_path = case.write(tmp_path)
  out = tmp_path / "prepared" / "ds"
  with pytest.raises(InputError) as info:
    prepare(case.source, out, on_error="raise", **options)
  _check_location(info.value, case, bad_path)
  assert str(bad_path) in str(info.value)
  if case.field:
    assert f"field '{case.field}'" in str(info.value)
  assert _nothing_written(out.parent)


@pytest.mark.parametrize("name", sorted(CASES))
def test_skip_drops_the_record_and_counts_it(tmp_path, name):
  case = CASES[name]
  options, bad_path = case.write(tmp_path)
  manifest = prepare(case.source, tmp_path / "ds", on_error="skip", **options)
  assert manifest["errors"]["on_error"] == "skip"
  assert manifest["errors"]["skipped"] == {case.kind: 1}
  assert str(bad_path) in manifest["errors"]["first_skipped"][case.kind]
  kept = sum(manifest["counts"][s]["queries"] for s in ("train", "validation", "test"))
  assert kept == case.kept


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_exits_2_with_the_location_on_stderr(tmp_path, capsys, name):
  case = CASES[name]
  options, bad_path = case.write(tmp_path)
  out = tmp_path / "prepared" / "ds"
  argv = ["prepare", "--source", case.source, "--input", str(options["input_path"]),
          "--out", str(out)]
  if "catalog_path" in options:
    argv += ["--catalog", str(options["catalog_path"])]
  assert cli.main(argv) == 2
  err = capsys.readouterr().err
  where = f"{bad_path}:" if case.line in (None, ANY_LINE) else f"{bad_path}:{case.line}:"
  assert f"error: {where}" in err
  if case.field:
    assert f"field '{case.field}'" in err
  assert _nothing_written(out.parent)
  assert not out.exists()


def test_jsonl_without_catalog_is_an_input_error(tmp_path, capsys):
  queries = _lines(tmp_path / "queries.jsonl", GOOD_QUERIES)
  assert cli.main(["prepare", "--source", "jsonl", "--input", str(queries),
                   "--out", str(tmp_path / "ds")]) == 2
  assert "--catalog" in capsys.readouterr().err
  assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize("source", ["mpd", "cpcd", "jsonl"])
def test_missing_input_path_is_an_input_error(tmp_path, capsys, source):
  argv = ["prepare", "--source", source, "--input", str(tmp_path / "nope"),
          "--out", str(tmp_path / "ds")]
  if source == "jsonl":
    argv += ["--catalog", str(tmp_path / "nope.jsonl")]
  assert cli.main(argv) == 2
  assert "no such file or directory" in capsys.readouterr().err


def test_mpd_directory_without_slices(tmp_path):
  (tmp_path / "mpd").mkdir()
  (tmp_path / "mpd" / "notes.json").write_text("{}")
  with pytest.raises(InputError, match="no mpd.slice"):
    prepare("mpd", tmp_path / "ds", input_path=tmp_path / "mpd")


def test_skip_counts_several_kinds_at_once(tmp_path):
  catalog = _lines(tmp_path / "catalog.jsonl", CATALOG)
  queries = _lines(tmp_path / "queries.jsonl", GOOD_QUERIES + [
      b"{oops", q(query=""), q(tracks=["t1", "t1"]), q(tracks=["zz"]), b"\xff"])
  m = prepare("jsonl", tmp_path / "ds", on_error="skip", input_path=queries,
              catalog_path=catalog)
  assert m["errors"]["skipped"] == {"malformed_json": 1, "empty_query": 1,
                                    "duplicate_track": 1, "unknown_track": 1,
                                    "invalid_utf8": 1}
  assert m["counts"]["train"]["queries"] == 2


def test_mpd_dedupe_tracks_keeps_the_first_occurrence(tmp_path):
  options, _ = MPD_CASES["mpd_track_twice"].write(tmp_path)
  m = prepare("mpd", tmp_path / "ds", dedupe_tracks=True, **options)
  assert m["errors"]["skipped"] == {}
  assert m["config"]["duplicate_tracks_dropped"] == 1
  assert sum(m["counts"][s]["queries"] for s in ("train", "validation", "test")) == 6
  assert sum(m["counts"][s]["pairs"] for s in ("train", "validation", "test")) == 29


@pytest.mark.parametrize("name, lost", [("mpd_malformed_json", 3), ("mpd_invalid_utf8", 3),
                                        ("mpd_missing_playlists", 3), ("mpd_missing_name", 1)])
def test_mpd_skip_counts_the_playlists_lost_not_the_file(tmp_path, capsys, name, lost):
  """A truncated slice is one bad record but all of its playlists (by its name,
  mpd.slice.3-5.json: 3) are lost; the manifest and the printed summary say both."""
  options, _ = MPD_CASES[name].write(tmp_path)
  assert cli.main(["prepare", "--source", "mpd", "--input", str(options["input_path"]),
                   "--out", str(tmp_path / "ds"), "--on-error", "skip"]) == 0
  out = capsys.readouterr()
  manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
  assert manifest["errors"]["skipped"] == {MPD_CASES[name].kind: 1}
  assert manifest["errors"]["playlists_lost"] == lost
  assert f"playlists lost: {lost}" in out.out
  assert f"({lost} playlists lost)" in out.err


def test_mpd_a_bad_file_of_unknown_size_is_counted_as_such(tmp_path):
  """A single slice file named otherwise: its playlists are lost, how many is unknown."""
  _, bad = MPD_CASES["mpd_malformed_json"].write(tmp_path)
  mine = bad.rename(bad.with_name("mine.json"))
  assert mpd.slice_size(mine) is None and mpd.slice_size("mpd.slice.1000-1999.json") == 1000
  policy = ErrorPolicy("skip", unit=mpd.RECORD_UNIT)
  mpd._load_slice(mine, None, policy)  # pylint: disable=protected-access
  errors = policy.summary()
  assert errors["skipped"] == {"malformed_json": 1}
  assert errors["playlists_lost"] == 0 and errors["playlists_lost_unknown"] == 1
  manifest = prepare("mpd", tmp_path / "ds", on_error="skip", input_path=tmp_path / "mpd")
  assert "playlists lost: 0 (and those of 1 bad file(s) whose size is unknown)" in format_stats(
      {**manifest, "errors": errors})


def test_sources_without_a_record_unit_keep_their_errors_summary(tmp_path):
  options, _ = JSONL_CASES["jsonl_malformed_json"].write(tmp_path)
  m = prepare("jsonl", tmp_path / "ds", on_error="skip", **options)
  assert set(m["errors"]) == {"on_error", "skipped", "first_skipped"}
