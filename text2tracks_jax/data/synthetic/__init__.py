"""`--source synthetic`: a seeded playlist world standing in for the paper's data.

The paper trains on Spotify playlists whose descriptive titles act as prompts
("chill lofi vibes to focus") and tests on editorial playlists. This source
generates a world with the same shape, from latent structure down to noisy
titles, so every stage of the pipeline can run (and be measured) offline.

Latent structure (`world.py`, data in `lexicon.py`):

- Facets: 32 top-level genres with 190 subgenres, 48 moods, 49 activities and
  9 eras (1940s-2020s). Genres, moods and activities sit on an
  energy/valence plane; a subgenre's mood and activity affinities come from
  distances on it, hand-set genre boosts (workout -> hip hop, edm, metal) and
  seeded jitter; each subgenre has a peak decade.
- Scenes: `n_scenes` hidden listening scenes (taste clusters), each mixing 1-2
  subgenres from each of 2-4 genres with an era lean. Scenes never appear in
  titles; they are what collaborative filtering can learn beyond the text.
- Artists: a home subgenre (by genre share), an era near the subgenre's peak,
  one scene (mostly one that contains the home subgenre; `crossover` weights
  the others), Zipf popularity (`artist_zipf`) and noisy mood/activity leanings.
- Tracks: each artist gets a discography (more tracks for popular artists);
  a track keeps its artist's subgenre (a sibling with prob. `sub_drift`), era
  (sometimes the next decade), gets two moods and two activities drawn from
  the artist's leanings, and popularity = artist popularity x
  rank**-`track_zipf` within the artist. Names are invented, pronounceable
  words ("Velora Kin", "Midnight Solane"); ids are `t0000123` / `a000045`,
  assigned in a random order so they carry no structure.

Playlists:

- An intent is 1-3 facets read off a seed track (genre, subgenre, mood,
  activity, era, or an artist "radio"): e.g. mood+activity+genre. The seed
  comes from the user's scene with prob. `scene_seed`, else by popularity.
  Intents matching fewer than `min_pool` tracks drop a facet.
- A user (train/validation) playlist has a lognormal length
  (`train_len_mean`): the seed, intent tracks drawn by popularity (a share
  `scene_boost` of them restricted to the user's scene), `tail_share` of them
  deep cuts of the intent nobody has used yet (this covers the catalog, as in
  the paper where the catalog is the set of train tracks), and a share
  `scene_share` of tracks from the user's scene that the title does not
  describe.
- User titles come from templates per facet pattern filled with one of many
  phrasings per facet (thousands of distinct words in all: synonyms, slang,
  invented scene words per subgenre, years, artist names), plus fillers
  ("my", "playlist", "vibes"), first names, text-speak, typos, elongations,
  random casing and emoji; a share `plain_titles` is the bare common form
  ("chill vibes"), which many users share verbatim. Validation titles never
  occur (normalized) in train.
- Short-title playlists (`short_title_share` of all user playlists, 0.9 as in
  the MPD; see `WorldConfig`): drawn like user playlists after everything
  else (so the splits do not change with it), titled with one bare facet
  word ("chill"), and written to the dataset's co-occurrence file only: CF
  learns from them, nothing is trained or scored on them.
- Test playlists are editorial: multi-facet intents, clean Title Case
  editorial templates with canonical phrasings ("Essential 80s Synth Pop"),
  about `test_len_mean` tracks drawn from the intent's `editorial_pool` most
  popular tracks; their normalized titles never occur in train or validation.

Presets (`PRESETS`): `tiny` (2k tracks, tests), `demo` (40k tracks, 1.5k
artists, 7k train playlists, ~95k pairs), `scale-20k`/`scale-60k`/
`scale-150k` (catalog-size sweep), `paper` (500k tracks, 70k artists, ~75k
unique train queries, ~1M train pairs, 513 test queries with ~2.5k pairs).
Every `WorldConfig` field can be overridden: `load(..., n_tracks=5000)`. Same
seed, same dataset (byte-identical Parquet files).
"""

from __future__ import annotations

import dataclasses

from text2tracks_jax.data.synthetic.world import PRESETS, World, WorldConfig, build_world

__all__ = ["PRESETS", "World", "WorldConfig", "build_world", "config_for", "load"]


def config_for(preset: str = "demo", **overrides) -> WorldConfig:
  """The preset's `WorldConfig` with `overrides` applied (unknown names raise)."""
  if preset not in PRESETS:
    raise ValueError(f"unknown synthetic preset {preset!r}; expected one of {sorted(PRESETS)}")
  fields = {f.name for f in dataclasses.fields(WorldConfig)}
  unknown = sorted(set(overrides) - fields)
  if unknown:
    raise ValueError(f"unknown synthetic world options {unknown}; known: {sorted(fields)}")
  return dataclasses.replace(PRESETS[preset], **overrides)


def load(writer, policy, *, seed: int = 0, preset: str = "demo", **overrides) -> list:
  """Generates the world and fills `writer`; returns [] (no input files).

  `policy` is unused: generated records are valid by construction. The resolved
  world config is recorded in the manifest under config["world"].
  """
  del policy
  cfg = config_for(preset, **overrides)
  world = build_world(cfg, seed)
  writer.config["world"] = dataclasses.asdict(cfg)
  write_world(world, writer)
  return []


def write_world(world: World, writer) -> None:
  """Adds the world's catalog (in track-id order) and its three splits to `writer`."""
  tracks, artists = world.tracks, world.artists
  for i in sorted(range(len(tracks)), key=tracks.ids.__getitem__):
    a = int(tracks.artist[i])
    writer.add_track(tracks.ids[i], tracks.titles[i], artists.ids[a], artists.names[a])
  ids = tracks.ids
  for split in ("train", "validation", "test"):
    for p in world.playlists[split]:
      writer.add_example(split, p.query_id, p.title, [ids[t] for t in p.tracks])
  for p in world.playlists.get("cooccurrence", ()):
    writer.add_cooccurrence(p.query_id, p.title, [ids[t] for t in p.tracks])
