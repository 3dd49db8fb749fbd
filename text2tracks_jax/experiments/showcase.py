"""What a person would check first: a few prompts and every system's top tracks.

  showcase(data_dir, {"text2tracks": preds.jsonl, "cooccurrence": other.jsonl},
           n_prompts=3, top=5, out_dir=wd)

Picks `n_prompts` queries of the split (seeded; queries that every system
predicted first) and shows, per query, its prompt, how many tracks are relevant
and, per system, a Markdown table of the top `top` tracks: rank, title, artist,
✓ when the track is relevant. On a synthetic dataset the tables add each track's
hidden facets (genre, subgenre, moods, activities, era), read off the world that
the manifest describes (rebuilt from its config and seed), and each prompt shows
the intent its playlist was drawn from; facet values that match the intent are
bold. Returns the Markdown; with `out_dir`, also writes `out_dir/showcase.md`.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Mapping, Optional

from text2tracks_jax.data import outputs, synthetic
from text2tracks_jax.data.dataset import PreparedDataset
from text2tracks_jax.evaluation import predictions as predictions_lib

FACETS = ("genre", "subgenre", "moods", "activities", "era")
INTENT_NAMES = {"genre": "genre", "sub": "subgenre", "mood": "mood", "act": "activity",
                "era": "era", "artist": "artist"}


def rebuild_world(manifest: dict) -> Optional[synthetic.World]:
  """The synthetic world a prepared dataset was generated from; None if not synthetic."""
  if manifest.get("source") != "synthetic":
    return None
  config = dict(manifest.get("config", {}))
  world_cfg = config.pop("world", None)
  if world_cfg is not None:  # the resolved config: preset and overrides applied
    fields = {f.name for f in dataclasses.fields(synthetic.WorldConfig)}
    cfg = synthetic.WorldConfig(**{k: v for k, v in world_cfg.items() if k in fields})
  else:
    cfg = synthetic.config_for(**config)
  return synthetic.build_world(cfg, int(manifest.get("seed", 0)))


def track_facets(world: synthetic.World, index: int) -> dict:
  """Hidden facets of track `index`: column -> [(intent facet, value id, name), ...]."""
  t, lex = world.tracks, world.lexicon
  sub, era = int(t.sub[index]), int(t.era[index])
  return {"genre": [("genre", int(t.genre[index]), lex.genres[int(t.genre[index])])],
          "subgenre": [("sub", sub, lex.subs[sub])],
          "moods": [("mood", int(m), lex.moods[int(m)]) for m in t.moods[index]],
          "activities": [("act", int(a), lex.acts[int(a)]) for a in t.acts[index]],
          "era": [("era", era, f"{lex.decades[era]}s")]}


def intent_names(world: synthetic.World, intent) -> list:
  """((facet, value id), ...) -> ['genre: pop', 'era: 1980s', ...]."""
  lex = world.lexicon
  names = {"genre": lex.genres, "sub": lex.subs, "mood": lex.moods, "act": lex.acts,
           "era": [f"{d}s" for d in lex.decades], "artist": world.artists.names}
  return [f"{INTENT_NAMES[f]}: {names[f][v]}" for f, v in intent]


def pick_queries(query_ids, preds: Mapping[str, Mapping], n: int, seed: int) -> list:
  """n query ids (split order), drawn with `seed`: those every system predicted first."""
  everywhere = [q for q in query_ids if all(q in p for p in preds.values())]
  common = set(everywhere)
  rest = [q for q in query_ids if q not in common]
  rng = random.Random(seed)
  chosen = rng.sample(everywhere, min(n, len(everywhere)))
  chosen += rng.sample(rest, min(n - len(chosen), len(rest)))
  position = {q: i for i, q in enumerate(query_ids)}
  return sorted(chosen, key=position.__getitem__)


def _cell(text) -> str:
  return str(text).replace("|", "\\|").replace("\n", " ")


def _facet_cell(values, intent: set) -> str:
  return ", ".join(f"**{name}**" if (f, v) in intent else name for f, v, name in values)


def showcase(data_dir, systems: Mapping[str, Path], *, split: str = "test", n_prompts: int = 3,
             top: int = 5, seed: int = 0, out_dir=None) -> str:
  """Markdown: `n_prompts` prompts of `split`, each with every system's top `top` tracks."""
  dataset = PreparedDataset.load(data_dir)
  queries = dataset.split(split, ["query_id", "query", "track_ids"]).to_pydict()
  text_of = dict(zip(queries["query_id"], queries["query"]))
  relevant = {q: set(t) for q, t in zip(queries["query_id"], queries["track_ids"])}
  cat = dataset.catalog(["track_id", "title", "artist_name"]).to_pydict()
  catalog = {t: (title, artist) for t, title, artist in
             zip(cat["track_id"], cat["title"], cat["artist_name"])}
  preds = {name: predictions_lib.load(path) for name, path in systems.items()}
  chosen = pick_queries(queries["query_id"], preds, n_prompts, seed)

  world = rebuild_world(dataset.manifest)
  why_not = f"source {dataset.manifest.get('source')!r} has no synthetic world to read them from"
  if world and dict(zip(world.tracks.ids, world.tracks.titles)) != {
      t: title for t, (title, _) in catalog.items()}:
    world, why_not = None, "the rebuilt world does not match the catalog (generator changed?)"
  index = {t: i for i, t in enumerate(world.tracks.ids)} if world else {}
  playlists = {p.query_id: p for p in world.playlists.get(split, ())} if world else {}
  lines = [f"# What to check first: top {top} tracks of {len(systems)} systems "
           f"for {len(chosen)} {split} prompts", ""]
  if world:
    preset = dataset.manifest["config"].get("preset", "custom")
    lines.append(f"Synthetic world (preset {preset}, seed {world.seed}), rebuilt from "
                 f"{Path(data_dir).name}/manifest.json. ✓: a relevant track. Facet columns are "
                 "the world's hidden labels (no system sees them); **bold**: matches the "
                 "prompt's intent.")
  else:
    lines.append(f"✓: a relevant track. No facet columns: {why_not}.")
  header = ["rank", "track", "artist", "relevant"] + (list(FACETS) if world else [])
  for n, qid in enumerate(chosen, 1):
    lines += ["", f"## {n}. \"{_cell(text_of[qid])}\" ({qid}, "
                  f"{len(relevant[qid])} relevant tracks)"]
    playlist = playlists.get(qid)
    intent = set()
    if playlist is not None and playlist.title == text_of[qid]:
      intent = set(playlist.intent)
      lines += ["", f"Intent it was drawn from: {', '.join(intent_names(world, playlist.intent))}"]
    for name, pred in preds.items():
      lines += ["", f"**{_cell(name)}**", ""]
      if qid not in pred:
        lines.append("(no prediction for this query)")
        continue
      lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
      for rank, tid in enumerate(pred[qid].track_ids[:top], 1):
        title, artist = catalog.get(tid, (f"{tid} (not in catalog)", ""))
        i = index.get(tid)
        artist = _cell(artist)
        if i is not None and ("artist", int(world.tracks.artist[i])) in intent:
          artist = f"**{artist}**"
        row = [str(rank), _cell(title), artist, "✓" if tid in relevant[qid] else ""]
        if world:
          facets = track_facets(world, i) if i is not None else {}
          row += [_facet_cell(facets.get(c, ()), intent) for c in FACETS]
        lines.append("| " + " | ".join(row) + " |")
  text = "\n".join(lines) + "\n"
  if out_dir is not None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    outputs.atomic_write(out / "showcase.md", text)
  return text
