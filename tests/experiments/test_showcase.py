"""`experiments.showcase`: prompts, top-k tables, hidden facets of the synthetic world."""

import json
import re
import shutil

import pytest

from text2tracks_jax.data import synthetic
from text2tracks_jax.data.dataset import PreparedDataset
from text2tracks_jax.data.prepare import prepare
from text2tracks_jax.experiments.showcase import showcase

N_PROMPTS, TOP = 3, 4


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
  """tiny dataset, its world, and two systems: popularity (all queries), oracle (half)."""
  tmp = tmp_path_factory.mktemp("showcase")
  prepare("synthetic", tmp / "data", preset="tiny")
  dataset = PreparedDataset.load(tmp / "data")
  cat = dataset.catalog(["track_id", "popularity"]).to_pydict()
  popular = [t for _, t in sorted(zip(cat["popularity"], cat["track_id"]),
                                  key=lambda x: (-x[0], x[1]))][:30]
  relevance = dataset.relevance("test")
  preds = {"popularity": {q: popular for q in relevance},
           # the relevant tracks first, then popular non-relevant ones
           "oracle": {q: list(r) + [t for t in popular if t not in r]
                      for q, r in list(relevance.items())[::2]}}
  systems = {}
  for name, lists in preds.items():
    systems[name] = tmp / f"{name}.jsonl"
    systems[name].write_text("".join(json.dumps({"query_id": q, "track_ids": t}) + "\n"
                                     for q, t in lists.items()))
  world = synthetic.build_world(synthetic.config_for("tiny"), 0)
  return tmp, systems, preds, relevance, world


def parse(text):
  """{query_id: {"intent": line or None, system: [row cells, ...]}}."""
  out = {}
  for section in text.split("\n## ")[1:]:
    qid = re.search(r"\((ed\d+), \d+ relevant tracks\)", section).group(1)
    entry = out[qid] = {"intent": None}
    system = None
    for line in section.splitlines():
      if line.startswith("Intent it was drawn from: "):
        entry["intent"] = line
      elif line.startswith("**") and line.endswith("**"):
        system = line.strip("*")
        entry[system] = []
      elif line.startswith("| ") and not line.startswith("| rank"):
        entry[system].append([c.strip() for c in line.strip("|").split(" | ")])
  return out


def test_tables_relevance_and_facets(setup):
  tmp, systems, preds, relevance, world = setup
  text = showcase(tmp / "data", systems, n_prompts=N_PROMPTS, top=TOP, seed=1,
                  out_dir=tmp / "out")
  shown = parse(text)
  assert len(shown) == N_PROMPTS == text.count("\n## ")
  assert set(shown) <= set(preds["oracle"])  # queries every system predicted come first
  lex, tracks = world.lexicon, world.tracks
  index = {t: i for i, t in enumerate(tracks.ids)}
  playlists = {p.query_id: p for p in world.playlists["test"]}
  header = "| rank | track | artist | relevant | genre | subgenre | moods | activities | era |"
  assert text.count(header) == N_PROMPTS * len(systems)
  for qid, entry in shown.items():
    names = {"genre": lex.genres, "sub": lex.subs, "mood": lex.moods, "act": lex.acts,
             "era": [f"{d}s" for d in lex.decades], "artist": world.artists.names}
    for facet, value in playlists[qid].intent:
      assert names[facet][value] in entry["intent"]
    for system in systems:
      rows = entry[system]
      assert len(rows) == TOP
      for rank, row in enumerate(rows, 1):
        tid = preds[system][qid][rank - 1]
        i = index[tid]
        assert row[0] == str(rank)
        assert row[1] == tracks.titles[i]
        assert (row[3] == "✓") == (tid in relevance[qid])
        plain = [c.replace("**", "") for c in row[4:]]
        assert plain == [lex.genres[tracks.genre[i]], lex.subs[tracks.sub[i]],
                         ", ".join(lex.moods[m] for m in tracks.moods[i]),
                         ", ".join(lex.acts[a] for a in tracks.acts[i]),
                         f"{lex.decades[tracks.era[i]]}s"]
    # the oracle lists its relevant tracks first: exactly those rows are marked
    marks = [row[3] == "✓" for row in entry["oracle"]]
    assert marks == [r <= len(relevance[qid]) for r in range(1, TOP + 1)]
  written = (tmp / "out" / "showcase.md").read_text(encoding="utf-8")
  assert written == text
  assert [p.name for p in (tmp / "out").iterdir()] == ["showcase.md"]
  again = showcase(tmp / "data", systems, n_prompts=N_PROMPTS, top=TOP, seed=1)
  assert again == text
  others = {tuple(parse(showcase(tmp / "data", systems, n_prompts=N_PROMPTS, top=TOP, seed=s)))
            for s in range(2, 6)}
  assert len(others | {tuple(shown)}) > 1  # the seed picks the prompts


def test_more_prompts_than_common_queries_and_one_facet_row(setup):
  tmp, systems, preds, relevance, world = setup
  n = len(preds["oracle"]) + 2
  text = showcase(tmp / "data", systems, n_prompts=n, top=1)
  shown = parse(text)
  assert len(shown) == n and set(preds["oracle"]) < set(shown)
  assert text.count("(no prediction for this query)") == 2
  # one track checked by hand against the world
  qid = next(iter(shown))
  tid = preds["popularity"][qid][0]
  i = world.tracks.ids.index(tid)
  row = shown[qid]["popularity"][0]
  assert row[4].replace("**", "") == world.lexicon.genres[world.tracks.genre[i]]
  assert row[8].replace("**", "") == f"{world.lexicon.decades[world.tracks.era[i]]}s"


def test_non_synthetic_dataset_has_no_facet_columns(setup, tmp_path):
  tmp, systems, preds, relevance, _ = setup
  data = tmp_path / "data"
  shutil.copytree(tmp / "data", data)
  manifest = json.loads((data / "manifest.json").read_text())
  manifest["source"] = "jsonl"
  (data / "manifest.json").write_text(json.dumps(manifest))
  text = showcase(data, systems, n_prompts=2, top=3)
  assert "| rank | track | artist | relevant |\n" in text
  assert "genre" not in text and "Intent" not in text
  assert len(re.findall(r"^✓: a relevant track. No facet columns: source 'jsonl'", text,
                        re.M)) == 1
  for entry in parse(text).values():
    for system in systems:
      assert len(entry[system]) == 3 and all(len(row) == 4 for row in entry[system])
