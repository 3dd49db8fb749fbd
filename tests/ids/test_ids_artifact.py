"""The ID map artifact: round trip, manifest, atomic writes, collisions, CLI + gin."""

import json
from pathlib import Path

import gin
import numpy as np
import pyarrow.parquet as pq
import pytest

from text2tracks_jax import cli
from text2tracks_jax.ids import build as build_lib
from text2tracks_jax.ids import build_ids, load_id_map
from text2tracks_jax.ids.id_map import IdMapError, group_collisions

REPO = Path(__file__).resolve().parents[2]
GIN_DIR = REPO / "gin_configs" / "ids"


@pytest.fixture(autouse=True)
def _clean_gin():
  gin.clear_config()
  yield
  gin.clear_config()


def test_group_collisions_sorts_by_popularity_then_track_id():
  ids = ["x", "y", "x", "x", "y"]
  pop = np.array([1, 0, 5, 1, 0])
  track_ids = np.array(["t9", "t2", "t4", "t1", "t0"], dtype=object)
  g = group_collisions(ids, pop, track_ids)
  assert g.unique_ids.tolist() == ["x", "y"]
  groups = [track_ids[g.order[a:b]].tolist() for a, b in zip(g.starts[:-1], g.starts[1:])]
  assert groups == [["t4", "t1", "t9"], ["t0", "t2"]]
  assert g.rank().tolist() == [2, 1, 0, 1, 0]


def test_name_collisions_resolved_by_popularity(make_dataset, tmp_path, spm_model):
  # Three releases of one song (same artist and title) and an unrelated track.
  tracks = [("r1", "Hit", "A", "Band"), ("r2", "Hit", "A", "Band"), ("r3", "Hit", "A", "Band"),
            ("o", "Other", "A", "Band")]
  train = [("q1", ["r2", "o"]), ("q2", ["r3", "r2"]), ("q3", ["r3"]), ("q4", ["r2"])]
  m = build_ids(make_dataset(tracks, train), "artist-name-track-name", tmp_path / "ids",
                spm_path=spm_model)
  assert m.id_to_tracks["Band - Hit"] == ["r2", "r3", "r1"]  # 3, 2, 0 train pairs
  assert m.tracks("Band - Hit") == ["r2", "r3", "r1"] and m.tracks("nope") == []
  assert m.stats["collisions"]["ids_with_collision"] == 0.5
  assert m.stats["collisions"]["tracks_per_id"] == {"mean": 2.0, "max": 3}
  loaded = load_id_map(tmp_path / "ids")
  assert loaded.id_to_tracks["Band - Hit"] == ["r2", "r3", "r1"]


def test_artifact_loads_back_identically(cluster_data, tmp_path):
  built = build_ids(cluster_data, "artist-iid-track-seq", tmp_path / "ids", top_k=3)
  loaded = load_id_map(tmp_path / "ids")
  assert loaded == built
  assert loaded.manifest == built.manifest
  assert loaded.track_to_id == built.track_to_id and loaded.new_tokens == built.new_tokens
  manifest = json.loads((tmp_path / "ids" / "manifest.json").read_text())
  data_manifest = json.loads((Path(cluster_data) / "manifest.json").read_text())
  assert manifest["strategy"] == "artist-iid-track-seq" and manifest["seed"] == 0
  assert manifest["dataset"]["fingerprint"] == data_manifest["outputs"]
  assert manifest["config"]["options"] == {"top_k": 3}
  assert manifest["config"]["strategy"]["top_k"] == 3
  assert set(manifest["files"]) == {"id_map.parquet", "id_to_tracks.parquet", "new_tokens.json",
                                    "stats.json", "spiece.model"}
  assert not list(tmp_path.glob(".ids.*"))  # no temp dirs left behind
  # the stats' SentencePiece model is cached in the map and reused next time
  again = build_ids(cluster_data, "artist-iid-track-seq", tmp_path / "ids", top_k=3)
  assert again.manifest["stats_spm"].get("reused") is True
  assert again.track_to_id == built.track_to_id


def test_failed_build_keeps_previous_map(cluster_data, tmp_path, monkeypatch, spm_model):
  first = build_ids(cluster_data, "track-int", tmp_path / "ids", spm_path=spm_model)
  def boom(*a, **k):
    raise RuntimeError("stats failed")
  monkeypatch.setattr(build_lib.stats_lib, "id_stats", boom)
  with pytest.raises(RuntimeError):
    build_ids(cluster_data, "track-int", tmp_path / "ids", spm_path=spm_model, seed=5)
  assert load_id_map(tmp_path / "ids") == first
  assert [p.name for p in tmp_path.iterdir()] == ["ids"]


def test_missing_map_is_a_clear_error(tmp_path):
  with pytest.raises(IdMapError, match="not an ID map"):
    load_id_map(tmp_path)


def test_cli_with_gin_file_and_bindings(cluster_data, tmp_path, spm_model, capsys):
  out = tmp_path / "ids"
  rc = cli.main(["build-ids", "--data", str(cluster_data), "--out", str(out),
                 "--spm_path", str(spm_model),
                 f"--gin_file={GIN_DIR / 'artist_int_track_seq.gin'}",
                 "--gin.artist_int_track_seq.start=5000",
                 "--gin.build_ids.seed", "2"])
  assert rc == 0
  m = load_id_map(out)
  assert m.strategy == "artist-int-track-seq" and m.manifest["seed"] == 2
  assert min(int(i.split("_")[0]) for i in m.track_to_id.values()) == 5000
  assert "artist_int_track_seq.start = 5000" in m.manifest["gin_config"]
  assert "tokens per ID" in capsys.readouterr().out


@pytest.mark.parametrize("gin_file", sorted(p.name for p in GIN_DIR.glob("*.gin")))
def test_gin_files_parse_and_name_a_strategy(gin_file, monkeypatch):
  monkeypatch.chdir(REPO)  # includes are relative to the repository root
  gin.parse_config_files_and_bindings([str(GIN_DIR / gin_file)], [])
  strategy = gin.get_bindings(build_lib.build_ids)["strategy"]
  assert strategy in build_lib.STRATEGIES
  assert strategy.replace("-", "_") in gin_file.replace(".gin", "")
