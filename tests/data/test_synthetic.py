"""The synthetic playlist world: determinism, split hygiene, realism, hardness."""

import collections
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from text2tracks_jax import cli
from text2tracks_jax.data import dataset as ds
from text2tracks_jax.data import prepare as prepare_lib
from text2tracks_jax.data import synthetic
from text2tracks_jax.data.synthetic import titles as titles_lib
from text2tracks_jax.data.synthetic import world as world_lib

_WORD = re.compile(r"[^\W_]+")


def _words(text):
  return set(_WORD.findall(text.lower()))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  out = tmp_path_factory.mktemp("syn") / "tiny"
  manifest = prepare_lib.prepare("synthetic", out, preset="tiny", seed=0)
  return ds.PreparedDataset.load(out), manifest


@pytest.fixture(scope="module")
def mid_world():
  """A tiny catalog with demo-like playlist counts (still about a second)."""
  return synthetic.build_world(synthetic.config_for("tiny", n_train=4000, n_validation=300,
                                                    n_test=200), seed=0)


def test_same_seed_same_bytes_other_seed_differs(tmp_path, tiny):
  _, first = tiny
  # another process with another hash seed: no set/dict-order dependence
  code = ("import sys, json; from text2tracks_jax.data import prepare; "
          "print(json.dumps(prepare.prepare('synthetic', sys.argv[1], preset='tiny')['outputs']))")
  out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "again")], check=True,
                       capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "123"})
  assert json.loads(out.stdout.splitlines()[-1]) == first["outputs"]
  other = prepare_lib.prepare("synthetic", tmp_path / "other", preset="tiny", seed=1)
  for name in ("catalog.parquet", "train.parquet", "test.parquet"):
    assert other["outputs"][name] != first["outputs"][name]


def test_splits_are_clean_and_tracks_in_catalog(tiny):
  prepared, manifest = tiny
  catalog = set(prepared.catalog(["track_id"]).column("track_id").to_pylist())
  queries = {}
  for split in ds.SPLITS:
    table = prepared.split(split).to_pydict()
    queries[split] = {ds.normalize_query(q) for q in table["query"]}
    for tracks in table["track_ids"]:
      assert tracks and set(tracks) <= catalog and len(set(tracks)) == len(tracks)
  assert not queries["test"] & queries["train"]
  assert not queries["test"] & queries["validation"]
  assert not queries["validation"] & queries["train"]
  assert manifest["stats"]["validation_queries_in_train"] == 0
  c = manifest["counts"]
  assert c["tracks"] == 2000 and c["artists"] == 150
  assert (c["train"]["queries"], c["validation"]["queries"], c["test"]["queries"]) == (500, 80, 60)
  assert c["train_tracks"] >= 0.8 * c["tracks"]  # the tail pass covers most of the catalog
  assert manifest["config"]["world"]["n_tracks"] == 2000


def test_ids_names_and_overrides():
  world = synthetic.build_world(synthetic.config_for("tiny", n_tracks=900, n_artists=60,
                                                     n_train=50, n_validation=5, n_test=5))
  assert len(world.tracks) == 900 and len(set(world.tracks.ids)) == 900
  assert all(re.fullmatch(r"t\d{7}", t) for t in world.tracks.ids)
  assert all(re.fullmatch(r"a\d{6}", a) for a in world.artists.ids)
  assert len({n.casefold() for n in world.artists.names}) == 60
  assert all(re.search(r"[aeiouy]", n.lower()) for n in world.artists.names + world.tracks.titles)
  with pytest.raises(ValueError, match="unknown synthetic world options"):
    synthetic.config_for("tiny", n_trakcs=5)
  with pytest.raises(ValueError, match="unknown synthetic preset"):
    synthetic.config_for("huge")


def test_titles_use_a_rich_vocabulary(mid_world):
  train = mid_world.playlists["train"]
  vocab = collections.Counter(w for p in train for w in _WORD.findall(p.title.lower()))
  assert len(vocab) >= 1700  # measured 1,9xx for this world; demo ~2,700, paper ~10k
  # the same facet is written many ways: sad playlists alone use dozens of words
  sad = mid_world.lexicon.moods.index("sad")
  sad_words = {w for p in train if ("mood", sad) in p.intent and len(p.intent) == 1
               for w in _words(p.title)}
  assert len(sad_words) >= 25
  # users share common titles verbatim, as on Spotify ("chill vibes")
  counts = collections.Counter(ds.normalize_query(p.title) for p in train)
  assert counts.most_common(1)[0][1] >= 3
  editorial = [p.title for p in mid_world.playlists["test"]]
  assert len(set(editorial)) == len(editorial)
  assert not {ds.normalize_query(t) for t in editorial} & set(counts)


def test_popularity_is_skewed_and_editors_pick_canonical_tracks(tiny):
  prepared, manifest = tiny
  pop = manifest["stats"]["popularity"]
  assert pop["top10pct_share"] > 0.3 and pop["top1pct_share"] > 0.05 and pop["gini"] > 0.4
  cat = prepared.catalog(["track_id", "popularity"]).to_pydict()
  count = dict(zip(cat["track_id"], cat["popularity"]))
  test_counts = np.array([count[t] for ts in prepared.relevance("test").values() for t in ts])
  catalog_counts = np.array(cat["popularity"])
  # editorial tracks are the intent's hits: in the catalog's top quarter on average
  percentile = (test_counts[:, None] > catalog_counts[None, :]).mean(1)
  assert percentile.mean() > 0.7 and test_counts.mean() > 2.5 * catalog_counts.mean()


def _scene_cooccurrence_lift(world):
  """(co-occurrence rate of same-scene, different-genre pairs) / (different-scene ones)."""
  t = world.tracks
  co = collections.Counter()
  for p in world.playlists["train"]:
    idx = np.asarray(p.tracks)
    iu = np.triu_indices(len(idx), 1)
    same_scene = (t.scene[idx][:, None] == t.scene[idx][None, :])[iu]
    diff_genre = (t.genre[idx][:, None] != t.genre[idx][None, :])[iu]
    co["same"] += int((same_scene & diff_genre).sum())
    co["diff"] += int((~same_scene & diff_genre).sum())

  def pairs(counts):
    counts = np.asarray(counts, float)
    return (counts.sum() ** 2 - (counts ** 2).sum()) / 2

  n_scenes, n_genres = t.scene.max() + 1, len(world.lexicon.genres)
  by_sg = np.zeros((n_scenes, n_genres))
  np.add.at(by_sg, (t.scene, t.genre), 1)
  same_possible = sum(pairs(row) for row in by_sg)
  diff_possible = pairs(by_sg.sum(0)) - same_possible
  return (co["same"] / same_possible) / (co["diff"] / diff_possible)


def test_cooccurrence_carries_scene_signal_the_titles_do_not(mid_world):
  """Hidden scenes make tracks of *different genres* co-occur; an ablation without
  scenes shows how much of that facet correlation alone would explain."""
  cfg = mid_world.config
  no_scene = world_lib.build_world(
      synthetic.config_for("tiny", n_train=cfg.n_train, n_validation=10, n_test=10,
                           scene_share=0.0, scene_boost=0.0, scene_seed=0.0), seed=0)
  with_scenes, without = _scene_cooccurrence_lift(mid_world), _scene_cooccurrence_lift(no_scene)
  assert with_scenes > 3.0, with_scenes
  assert with_scenes > 2.0 * without, (with_scenes, without)  # measured 3.9 vs 1.05


def _word_overlap_hits(world, k=10):
  """Scores each track by the title words its train playlists share with the query."""
  train = world.playlists["train"]
  by_word = collections.defaultdict(list)
  for i, p in enumerate(train):
    for w in _words(p.title):
      by_word[w].append(i)
  hits = []
  for q in world.playlists["test"]:
    score = collections.Counter()
    for w in _words(q.title):
      for i in by_word.get(w, ()):
        score.update(train[i].tracks)
    hits.append(_hits([t for t, _ in score.most_common(k)], q.tracks, k))
  return float(np.mean(hits))


def _hits(ranked, relevant, k=10):
  return len(set(ranked[:k]) & set(relevant)) / min(k, len(relevant))


def _oracle_hits(world, k=10):
  """Knows each test query's true intent; ranks its matching tracks by train count."""
  count = np.bincount(np.concatenate([p.tracks for p in world.playlists["train"]]),
                      minlength=len(world.tracks))
  sampler = world_lib.Sampler(world.config, world.tracks, world.artists, np.random.default_rng())
  hits = []
  for q in world.playlists["test"]:
    pool = sampler.pool(q.intent).tracks
    hits.append(_hits(list(pool[np.argsort(-count[pool], kind="stable")]), q.tracks, k))
  return float(np.mean(hits)), count


def test_word_overlap_alone_does_not_solve_it(mid_world, monkeypatch):
  overlap = _word_overlap_hits(mid_world)
  oracle, count = _oracle_hits(mid_world)
  popular = list(np.argsort(-count, kind="stable")[:10])
  pop = np.mean([_hits(popular, q.tracks) for q in mid_world.playlists["test"]])
  # titles carry signal, yet counting shared words is far from what knowing the
  # intent gives (measured: popularity 0.05, word overlap 0.32, intent oracle 0.87)
  assert pop < overlap < 0.5 * oracle, (pop, overlap, oracle)
  # the same world written with one canonical name per facet and no noise (a few
  # hundred words) is easier to match word for word
  monkeypatch.setattr(titles_lib, "_weighted", lambda rnd, options, decay: options[0])
  cfg = mid_world.config
  canonical = synthetic.build_world(synthetic.config_for(
      "tiny", n_train=cfg.n_train, n_validation=cfg.n_validation, n_test=cfg.n_test,
      title_noise=0.0, plain_titles=1.0))
  vocab = {w for p in canonical.playlists["train"] for w in _words(p.title)}
  assert len(vocab) < 600
  assert _word_overlap_hits(canonical) > overlap + 0.04


def test_prepare_cli(tmp_path, capsys):
  out = tmp_path / "d"
  assert cli.main(["prepare", "--source", "synthetic", "--preset", "tiny", "--out", str(out)]) == 0
  manifest = json.loads((out / "manifest.json").read_text())
  assert manifest["source"] == "synthetic" and manifest["config"]["preset"] == "tiny"
  assert "top 10% hold" in capsys.readouterr().out


def test_presets_cover_the_paper_scale():
  paper = synthetic.PRESETS["paper"]
  assert paper.n_tracks == 500_000 and paper.n_test == 513
  assert 70_000 <= paper.n_train <= 100_000 and 900_000 <= paper.n_train * paper.train_len_mean
  demo = synthetic.PRESETS["demo"]
  assert 30_000 <= demo.n_tracks <= 50_000 and 1_000 <= demo.n_artists <= 2_000
  assert {"tiny", "demo", "paper"} <= set(synthetic.PRESETS)


def test_short_title_playlists_feed_cooccurrence_only(tmp_path, tiny):
  prepared, manifest = tiny
  cfg = synthetic.config_for("tiny")
  cooc = prepared.cooccurrence().to_pydict()
  expected = round(cfg.n_train * cfg.short_title_share / (1 - cfg.short_title_share))
  assert manifest["stats"]["cooccurrence"]["playlists_read"] == expected
  assert len(cooc["query_id"]) == manifest["stats"]["cooccurrence"]["playlists"] > 0.95 * expected
  assert all(len(t.split()) < 3 for t in cooc["query"])
  # generated last: the splits and the catalog do not depend on it
  none = prepare_lib.prepare("synthetic", tmp_path / "none", preset="tiny", seed=0,
                             short_title_share=0.0)
  for name in ("catalog.parquet", "train.parquet", "validation.parquet", "test.parquet"):
    assert none["outputs"][name] == manifest["outputs"][name]
  assert none["stats"]["cooccurrence"]["playlists"] == 0
  # they follow the same hidden structure: tracks of one playlist share scenes
  # far more often than random pairs (what word2vec can learn from)
  world = synthetic.build_world(cfg, seed=0)
  scene = world.tracks.scene
  same = np.mean([np.mean(scene[list(p.tracks)] == scene[p.tracks[0]])
                  for p in world.playlists["cooccurrence"]])
  assert same > 3 * np.mean(scene[:, None] == scene[None, :])
