"""The latent world behind the synthetic playlists, and how playlists are drawn.

`build_world(config, seed)` runs, in order (each stage with its own random stream,
so e.g. changing `n_train` leaves the catalog unchanged):

1. facets: per subgenre its genre, energy/valence, era profile and mood and
   activity affinities (lexicon positions plus seeded jitter);
2. scenes: hidden listening scenes, each a mix of subgenres from 2-4 genres with
   an era lean; they never appear in titles;
3. artists: home subgenre, era, scene, Zipf popularity, mood/activity leanings;
4. tracks: per artist a Zipf-sized discography; each track gets its artist's
   subgenre (sometimes a sibling), era, two moods and two activities drawn
   from the artist's leanings, and popularity = artist x within-artist Zipf;
5. playlists: train/validation by users (intent + hidden scene, noisy titles),
   test by editors (canonical popular tracks, clean titles never seen in train).
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np

from text2tracks_jax.data.dataset import normalize_query
from text2tracks_jax.data.synthetic import names
from text2tracks_jax.data.synthetic.lexicon import Lexicon
from text2tracks_jax.data.synthetic.titles import TitleWriter

# Intent patterns (facets read off a seed track) and how often users / editors
# make each. Editors favour descriptive multi-facet playlists.
PATTERNS = ("genre", "sub", "mood", "act", "era", "artist",
            "genre+mood", "sub+mood", "genre+act", "sub+act", "mood+act", "act+era",
            "genre+era", "sub+era", "mood+era",
            "mood+act+genre", "mood+act+sub", "genre+era+mood", "act+mood+era", "genre+era+act")
USER_PATTERN_WEIGHTS = (7, 8, 8, 8, 3, 4,
                        7, 5, 6, 3, 8, 3,
                        5, 2, 3,
                        5, 2, 3, 2, 2)
EDITORIAL_PATTERN_WEIGHTS = (3, 4, 2, 3, 3, 2,
                             8, 7, 7, 5, 7, 4,
                             7, 4, 4,
                             6, 3, 5, 3, 3)
ERA_PRIOR = np.array([.02, .04, .07, .10, .12, .14, .15, .19, .17])  # share of artists per decade


@dataclasses.dataclass(frozen=True)
class WorldConfig:
  """Knobs of the synthetic world (a preset fixes them; overrides change any)."""

  n_tracks: int = 40_000
  n_artists: int = 1_500
  n_scenes: int = 60             # hidden listening scenes (taste clusters)
  n_train: int = 7_000           # user playlists in train
  n_validation: int = 700        # user playlists in validation (titles unseen in train)
  n_test: int = 300              # editorial playlists in test
  train_len_mean: float = 14.0   # mean user playlist length (lognormal)
  train_len_sigma: float = 0.5
  min_len: int = 3
  max_len: int = 80
  test_len_mean: float = 5.0     # editorial playlists: about 5 tracks (paper: 2,500 / 513)
  artist_zipf: float = 0.9       # artist popularity ~ rank ** -artist_zipf
  track_zipf: float = 1.0        # within an artist, track popularity ~ rank ** -track_zipf
  pop_exponent: float = 1.0      # user draws weight tracks by popularity ** pop_exponent
  scene_share: float = 0.25      # share of a user playlist taken from the user's hidden scene
  scene_boost: float = 0.35      # share of intent draws restricted to intent and scene
  scene_seed: float = 0.5        # probability that the seed track comes from the user's scene
  crossover: float = 0.05        # weight of a scene that does not contain an artist's subgenre
  tail_share: float = 0.45       # share of intent draws that go to not-yet-used tracks (train)
  sub_drift: float = 0.1         # probability that a track sits in a sibling subgenre
  min_pool: int = 12             # intents with fewer matching tracks drop a facet
  editorial_pool: int = 25       # editors pick among the intent's N most popular tracks
  editorial_exponent: float = 1.5
  slang_per_sub: int = 2         # invented scene words per subgenre
  title_noise: float = 1.0       # scales typo / emoji / filler / casing rates
  plain_titles: float = 0.3      # share of user titles written the bare common way
  # Share of all user playlists whose title is too short to be a prompt (the
  # MPD loader's filter: < 3 words). They are not examples; only their
  # co-occurrence is kept, for CF. In the MPD ("stats.txt") 1,000,000 playlists
  # have 92,944 distinct titles, the most common being single words (country,
  # chill, rap, workout, ...): at most ~9% of playlists can hold a title no other
  # playlist shares, and most 3+-word titles are such; 0.9 models that.
  short_title_share: float = 0.9


# The catalog-size sweep keeps about 2.35 train pairs per catalog track, as in demo.
PRESETS = {
    "tiny": WorldConfig(n_tracks=2_000, n_artists=150, n_scenes=12, n_train=500,
                        n_validation=80, n_test=60, train_len_mean=10.0, min_pool=6,
                        editorial_pool=15),
    "demo": WorldConfig(),
    "scale-20k": WorldConfig(n_tracks=20_000, n_artists=800, n_scenes=40, n_train=3_500,
                             n_validation=400, n_test=300),
    "scale-60k": WorldConfig(n_tracks=60_000, n_artists=2_300, n_scenes=80, n_train=10_500,
                             n_validation=800, n_test=400),
    "scale-150k": WorldConfig(n_tracks=150_000, n_artists=10_000, n_scenes=150,
                              n_train=26_000, n_validation=1_500, n_test=513),
    # The paper's scale: 500k tracks, ~75k unique train queries (out of 90k user
    # playlists), ~1M train pairs, 513 editorial test queries with ~2.5k pairs.
    "paper": WorldConfig(n_tracks=500_000, n_artists=70_000, n_scenes=400, n_train=90_000,
                         n_validation=3_000, n_test=513, train_len_mean=11.2,
                         tail_share=0.6, min_pool=15, plain_titles=0.4),
}


# -- tables --------------------------------------------------------------------------
@dataclasses.dataclass
class Facets:
  """Numeric view of the lexicon for one world. Shapes: [n_subs, ...]."""

  sub_genre: np.ndarray       # [n_subs] genre index
  sub_weight: np.ndarray      # [n_subs] share of artists
  sub_era_logits: np.ndarray  # [n_subs, n_eras]
  mood_logits: np.ndarray     # [n_subs, n_moods]
  act_logits: np.ndarray      # [n_subs, n_acts]


@dataclasses.dataclass
class Scenes:
  subs: np.ndarray     # [n_scenes, n_subs] bool: subgenres the scene mixes
  era: np.ndarray      # [n_scenes] decade index it leans to
  weight: np.ndarray   # [n_scenes] share of users


@dataclasses.dataclass
class Artists:
  ids: list
  names: list
  sub: np.ndarray      # [n_artists]
  era: np.ndarray
  scene: np.ndarray
  pop: np.ndarray      # float, Zipf-like


@dataclasses.dataclass
class Tracks:
  ids: list
  titles: list
  artist: np.ndarray   # [n_tracks]
  sub: np.ndarray
  genre: np.ndarray
  era: np.ndarray
  scene: np.ndarray
  moods: np.ndarray    # [n_tracks, 2]
  acts: np.ndarray     # [n_tracks, 2]
  pop: np.ndarray      # float; the generative popularity, not the train count

  def __len__(self):
    return len(self.ids)


@dataclasses.dataclass(frozen=True)
class Playlist:
  query_id: str
  title: str
  tracks: tuple        # track indices, playlist order
  intent: tuple        # ((facet, value), ...)
  scene: int           # the user's hidden scene; -1 for editorial playlists


@dataclasses.dataclass
class World:
  config: WorldConfig
  seed: int
  lexicon: Lexicon
  facets: Facets
  scenes: Scenes
  artists: Artists
  tracks: Tracks
  slang: tuple
  playlists: dict      # split -> [Playlist]


# -- random helpers ---------------------------------------------------------------------
def gumbel_top_k(rng: np.random.Generator, logits: np.ndarray, k: int, chunk: int = 16384):
  """Samples k distinct categories per row with probabilities softmax(logits).

  logits: [n, c] -> [n, k] int (Gumbel top-k: sampling without replacement).
  """
  out = np.empty((logits.shape[0], k), np.int64)
  for s in range(0, logits.shape[0], chunk):
    z = logits[s:s + chunk] + rng.gumbel(size=logits[s:s + chunk].shape)
    top = np.argpartition(-z, k - 1, axis=1)[:, :k] if k < z.shape[1] else np.argsort(-z, 1)
    order = np.argsort(-np.take_along_axis(z, top, 1), axis=1)
    out[s:s + chunk] = np.take_along_axis(top, order, 1)
  return out


def _ev_affinity(ev_a: np.ndarray, ev_b: np.ndarray, width=(.22, .28)) -> np.ndarray:
  """[n, 2] x [m, 2] (energy, valence) -> [n, m] Gaussian log-affinity."""
  d = ev_a[:, None, :] - ev_b[None, :, :]
  return -(d[..., 0] ** 2 / (2 * width[0] ** 2) + d[..., 1] ** 2 / (2 * width[1] ** 2))


# -- stages --------------------------------------------------------------------------------
def make_facets(lex: Lexicon, rng: np.random.Generator) -> Facets:
  sub_genre = np.asarray(lex.sub_genre)
  genre_ev = np.asarray(lex.genre_ev)
  jitter = rng.normal(0, .08, (len(lex.subs), 2))
  sub_ev = np.clip(np.array([ev if ev else genre_ev[g] + j for ev, g, j in
                             zip(lex.sub_ev, sub_genre, jitter)]), 0, 1)
  n_in_genre = np.bincount(sub_genre)
  sub_weight = (np.asarray(lex.genre_share)[sub_genre] / n_in_genre[sub_genre]
                * rng.lognormal(0, .5, len(lex.subs)))
  n_eras = len(lex.decades)
  dist = np.abs(np.arange(n_eras)[None, :] - np.asarray(lex.sub_peak)[:, None])
  era_logits = -dist / 0.9 + np.log(ERA_PRIOR)[None, :]
  too_early = np.arange(n_eras)[None, :] < np.asarray(lex.genre_start)[sub_genre][:, None]
  era_logits[too_early] = -np.inf

  def boosts(boost_lists):
    b = np.zeros((len(lex.genres), len(boost_lists)))
    for j, genres in enumerate(boost_lists):
      b[list(genres), j] = 1.5
    return b[sub_genre]

  mood_logits = (_ev_affinity(sub_ev, np.asarray(lex.mood_ev)) + boosts(lex.mood_boost)
                 + rng.normal(0, .6, (len(lex.subs), len(lex.moods))))
  act_logits = (_ev_affinity(sub_ev, np.asarray(lex.act_ev), (.25, .35)) + boosts(lex.act_boost)
                + rng.normal(0, .6, (len(lex.subs), len(lex.acts))))
  return Facets(sub_genre, sub_weight / sub_weight.sum(), era_logits, mood_logits, act_logits)


def make_scenes(cfg: WorldConfig, lex: Lexicon, facets: Facets,
                rng: np.random.Generator) -> Scenes:
  """Hidden scenes: each mixes 1-2 subgenres from each of 2-4 genres."""
  n_subs, n_genres = len(lex.subs), len(lex.genres)
  share = np.asarray(lex.genre_share) / np.sum(lex.genre_share)
  subs = np.zeros((cfg.n_scenes, n_subs), bool)
  for s in range(cfg.n_scenes):
    genres = rng.choice(n_genres, size=rng.integers(2, 5), replace=False, p=share)
    for g in genres:
      members = np.flatnonzero(facets.sub_genre == g)
      w = facets.sub_weight[members] / facets.sub_weight[members].sum()
      subs[s, rng.choice(members, size=min(len(members), rng.integers(1, 3)), replace=False,
                         p=w)] = True
  for k in np.flatnonzero(~subs.any(0)):  # every subgenre lives in some scene
    subs[rng.integers(cfg.n_scenes), k] = True
  era = np.array([rng.choice(np.asarray(lex.sub_peak)[np.flatnonzero(row)]) for row in subs])
  era = np.clip(era + rng.integers(-1, 2, cfg.n_scenes), 0, len(lex.decades) - 1)
  weight = (np.arange(1, cfg.n_scenes + 1) ** -0.6)[rng.permutation(cfg.n_scenes)]
  return Scenes(subs, era, weight / weight.sum())


def make_artists(cfg: WorldConfig, lex: Lexicon, facets: Facets, scenes: Scenes,
                 rng: np.random.Generator, rnd: random.Random):
  """Artists and their [n_artists, n_moods] / [n_artists, n_acts] leaning logits."""
  n = cfg.n_artists
  sub = rng.choice(len(lex.subs), size=n, p=facets.sub_weight)
  era = gumbel_top_k(rng, facets.sub_era_logits[sub], 1)[:, 0]
  scene = np.empty(n, np.int64)
  log_w = np.log(scenes.weight)
  log_cross = np.log(cfg.crossover)
  for s in range(0, n, 8192):
    a_sub, a_era = sub[s:s + 8192], era[s:s + 8192]
    logits = (log_w[None, :] + np.where(scenes.subs[:, a_sub].T, 0.0, log_cross)
              - 0.5 * np.abs(a_era[:, None] - scenes.era[None, :]))
    scene[s:s + 8192] = gumbel_top_k(rng, logits, 1)[:, 0]
  rank = rng.permutation(n)
  pop = (rank + 1.0) ** -cfg.artist_zipf * rng.lognormal(0, .25, n)
  mood_lean = facets.mood_logits[sub] + rng.normal(0, .8, (n, facets.mood_logits.shape[1]))
  act_lean = facets.act_logits[sub] + rng.normal(0, .8, (n, facets.act_logits.shape[1]))
  ids = [f"a{i:06d}" for i in rng.permutation(n)]
  artists = Artists(ids, names.artist_names(rnd, n), sub, era, scene, pop)
  return artists, mood_lean, act_lean


def make_tracks(cfg: WorldConfig, lex: Lexicon, facets: Facets, artists: Artists,
                mood_lean: np.ndarray, act_lean: np.ndarray, rng: np.random.Generator,
                rnd: random.Random) -> Tracks:
  n, n_art = cfg.n_tracks, len(artists.ids)
  if n < n_art:
    raise ValueError(f"n_tracks ({n}) must be at least n_artists ({n_art})")
  w = artists.pop ** 0.4 * rng.lognormal(0, .6, n_art)
  counts = 1 + rng.multinomial(n - n_art, w / w.sum())
  artist = np.repeat(np.arange(n_art), counts)
  starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
  rank = np.arange(n) - starts[artist]
  sub = artists.sub[artist].copy()
  drift = np.flatnonzero(rng.random(n) < cfg.sub_drift)
  genre_of = facets.sub_genre
  order = np.argsort(genre_of, kind="stable")
  bounds = np.searchsorted(genre_of[order], np.arange(len(lex.genres) + 1))
  g = genre_of[sub[drift]]
  pick = bounds[g] + (rng.random(len(drift)) * (bounds[g + 1] - bounds[g])).astype(np.int64)
  sub[drift] = order[pick]
  era = artists.era[artist].copy()
  later = rng.random(n) < 0.2
  era[later] = np.minimum(era[later] + 1, len(lex.decades) - 1)
  moods = gumbel_top_k(rng, mood_lean[artist].astype(np.float32), 2)
  acts = gumbel_top_k(rng, act_lean[artist].astype(np.float32), 2)
  pop = artists.pop[artist] * (rank + 1.0) ** -cfg.track_zipf * rng.lognormal(0, .3, n)
  ids = [f"t{i:07d}" for i in rng.permutation(n)]
  titles = names.track_titles(rnd, n, artists.names)
  return Tracks(ids, titles, artist, sub, genre_of[sub], era, artists.scene[artist],
                moods.astype(np.int16), acts.astype(np.int16), pop)


# -- intent pools ----------------------------------------------------------------------------
class _Pool:
  """Tracks matching one intent, sorted by scene, with cumulative draw weights."""

  __slots__ = ("tracks", "scenes", "cum", "perm", "ptr")

  def __init__(self, tracks: np.ndarray, scenes: np.ndarray, weights: np.ndarray):
    order = np.argsort(scenes, kind="stable")
    self.tracks = tracks[order].astype(np.int32)
    self.scenes = scenes[order].astype(np.int32)
    self.cum = np.cumsum(weights[order])
    self.perm = None
    self.ptr = 0


class Sampler:
  """Draws playlists: candidate pools per intent (cached), scene and tail draws."""

  def __init__(self, cfg: WorldConfig, world_tracks: Tracks, artists: Artists,
               rng: np.random.Generator):
    self.cfg, self.t, self.artists, self.rng = cfg, world_tracks, artists, rng
    self.weight = world_tracks.pop ** cfg.pop_exponent
    n = len(world_tracks)
    two = np.arange(n).repeat(2)
    self.index = {"sub": self._group(world_tracks.sub), "genre": self._group(world_tracks.genre),
                  "era": self._group(world_tracks.era), "scene": self._group(world_tracks.scene),
                  "artist": self._group(world_tracks.artist),
                  "mood": self._group(world_tracks.moods.reshape(-1), two),
                  "act": self._group(world_tracks.acts.reshape(-1), two)}
    self.used = np.zeros(n, bool)
    self._pools = {}

  @staticmethod
  def _group(values: np.ndarray, items: np.ndarray | None = None):
    order = np.argsort(values, kind="stable")
    bounds = np.searchsorted(values[order], np.arange(int(values.max()) + 2))
    items = order if items is None else items[order]
    return items, bounds

  def members(self, facet: str, v: int) -> np.ndarray:
    items, bounds = self.index[facet]
    return items[bounds[v]:bounds[v + 1]] if v + 1 < len(bounds) else items[:0]

  def _matches(self, facet: str, v: int, cand: np.ndarray) -> np.ndarray:
    t = self.t
    if facet == "mood":
      return (t.moods[cand, 0] == v) | (t.moods[cand, 1] == v)
    if facet == "act":
      return (t.acts[cand, 0] == v) | (t.acts[cand, 1] == v)
    return getattr(t, facet)[cand] == v

  def candidates(self, intent) -> tuple:
    """Track indices matching every facet of `intent`, and their draw weights."""
    if not intent:
      return np.arange(len(self.t)), self.weight
    if intent[0][0] == "artist":  # "artist radio": the artist, then its scene-mates
      a = intent[0][1]
      own = self.members("artist", a)
      mates = self.members("sub", self.artists.sub[a])
      mates = mates[self.t.scene[mates] == self.artists.scene[a]]
      cand = np.union1d(own, mates)
      return cand, self.weight[cand] * np.where(self.t.artist[cand] == a, 4.0, 1.0)
    sizes = [len(self.members(f, v)) for f, v in intent]
    first = int(np.argmin(sizes))
    cand = self.members(*intent[first])
    for i, (f, v) in enumerate(intent):
      if i != first:
        cand = cand[self._matches(f, v, cand)]
    return cand, self.weight[cand]

  def pool(self, intent) -> _Pool:
    p = self._pools.get(intent)
    if p is None:
      cand, w = self.candidates(intent)
      p = self._pools[intent] = _Pool(cand, self.t.scene[cand], w)
    return p

  def resolve(self, intent, rnd: random.Random) -> tuple:
    """Drops random facets until at least `min_pool` tracks match."""
    while len(intent) > 1 and len(self.pool(intent).tracks) < self.cfg.min_pool:
      drop = rnd.randrange(len(intent))
      intent = intent[:drop] + intent[drop + 1:]
    return intent

  # -- draws ---------------------------------------------------------------------------------
  def draw(self, pool: _Pool, k: int, scene: int | None = None) -> np.ndarray:
    """k draws (with replacement) by weight; restricted to one scene if given."""
    if k <= 0 or not len(pool.tracks):
      return pool.tracks[:0]
    lo, hi = 0, len(pool.tracks)
    if scene is not None:
      lo, hi = np.searchsorted(pool.scenes, (scene, scene + 1))
      if lo == hi:
        return pool.tracks[:0]
    base = pool.cum[lo - 1] if lo else 0.0
    u = base + self.rng.random(k) * (pool.cum[hi - 1] - base)
    idx = np.clip(np.searchsorted(pool.cum, u, side="right"), lo, hi - 1)
    return pool.tracks[idx]

  def draw_tail(self, pool: _Pool, k: int) -> np.ndarray:
    """k tracks of the pool nobody has put in a train playlist yet, else uniform."""
    if k <= 0:
      return pool.tracks[:0]
    if pool.perm is None:
      pool.perm = self.rng.permutation(pool.tracks)
    out, need = [], k
    while need and pool.ptr < len(pool.perm):
      chunk = pool.perm[pool.ptr:pool.ptr + 4 * need + 16]
      free = np.flatnonzero(~self.used[chunk])
      take = free[:need]
      out.append(chunk[take])
      need -= len(take)
      pool.ptr += int(take[-1]) + 1 if len(take) and not need else len(chunk)
    if need:
      out.append(pool.tracks[self.rng.integers(0, len(pool.tracks), need)])
    return np.concatenate(out)

  def seed_track(self, scene: int) -> int:
    """The track a playlist starts from: from the user's scene, else by popularity."""
    if self.rng.random() < self.cfg.scene_seed:
      drawn = self.draw(self.pool((("scene", scene),)), 1)
      if len(drawn):  # a scene no artist joined has no tracks
        return int(drawn[0])
    return int(self.draw(self.pool(()), 1)[0])

  def user_playlist(self, pattern: tuple, scene: int, length: int, rnd: random.Random,
                    train: bool):
    """(intent, [track indices]) for one user playlist."""
    cfg, rng = self.cfg, self.rng
    seed = self.seed_track(scene)
    intent = self.resolve(intent_from_seed(pattern, seed, self.t, rnd), rnd)
    pool = self.pool(intent)
    n_scene = rng.binomial(length - 1, cfg.scene_share)
    n_rest = length - 1 - n_scene
    n_tail = rng.binomial(n_rest, cfg.tail_share) if train else 0
    n_boost = rng.binomial(n_rest - n_tail, cfg.scene_boost)
    n_pop = n_rest - n_tail - n_boost
    seen = {seed: None}
    _add(seen, self.draw(pool, 2 * n_boost + 2, scene), n_boost)
    _add(seen, self.draw(pool, 2 * n_pop + 2), 1 + n_boost + n_pop - len(seen))
    _add(seen, self.draw_tail(pool, n_tail), n_tail)
    _add(seen, self.draw(self.pool((("scene", scene),)), 2 * n_scene + 2), n_scene)
    tracks = list(seen)
    rnd.shuffle(tracks)
    return intent, tracks

  def editorial_playlist(self, pattern: tuple, length: int, rnd: random.Random):
    """(intent, [track indices]): canonical, most popular tracks of the intent."""
    seed = int(self.draw(self.pool(()), 1)[0])
    intent = self.resolve(intent_from_seed(pattern, seed, self.t, rnd), rnd)
    pool = self.pool(intent)
    top_n = min(len(pool.tracks), self.cfg.editorial_pool)
    w = self.t.pop[pool.tracks]
    top = pool.tracks[np.argsort(-w, kind="stable")[:top_n]]
    p = self.t.pop[top] ** self.cfg.editorial_exponent
    k = min(length, top_n)
    return intent, [int(x) for x in self.rng.choice(top, size=k, replace=False, p=p / p.sum())]


def _add(seen: dict, draws: np.ndarray, quota: int):
  """Adds up to `quota` new tracks from `draws` to the ordered set `seen`."""
  added = 0
  for x in draws.tolist():
    if added >= quota:
      break
    if x not in seen:
      seen[x] = None
      added += 1


def intent_from_seed(pattern: tuple, t: int, tracks: Tracks, rnd: random.Random) -> tuple:
  """Reads the pattern's facets off seed track t: ('mood', 'sub') -> (('sub', 4), ('mood', 9))."""
  facets = []
  for f in ("artist", "sub", "genre", "mood", "act", "era"):
    if f not in pattern:
      continue
    if f == "mood":
      v = tracks.moods[t, 0 if rnd.random() < 0.65 else 1]
    elif f == "act":
      v = tracks.acts[t, 0 if rnd.random() < 0.65 else 1]
    else:
      v = getattr(tracks, f)[t]
    facets.append((f, int(v)))
  return tuple(facets)


# -- the world -------------------------------------------------------------------------------
def build_world(cfg: WorldConfig, seed: int = 0) -> World:
  """Builds the catalog and all three splits for `cfg` and `seed` (deterministic)."""
  lex = Lexicon.load()
  streams = np.random.SeedSequence([seed, 0x7E47]).spawn(6)
  rngs = [np.random.default_rng(s) for s in streams]
  rnds = [random.Random(int(s.generate_state(1)[0])) for s in streams]
  facets = make_facets(lex, rngs[0])
  scenes = make_scenes(cfg, lex, facets, rngs[1])
  artists, mood_lean, act_lean = make_artists(cfg, lex, facets, scenes, rngs[2], rnds[2])
  tracks = make_tracks(cfg, lex, facets, artists, mood_lean, act_lean, rngs[3], rnds[3])
  slang_words = names.invented_words(rnds[1], len(lex.subs) * cfg.slang_per_sub)
  slang = tuple(tuple(slang_words[i * cfg.slang_per_sub:(i + 1) * cfg.slang_per_sub])
                for i in range(len(lex.subs)))
  sampler = Sampler(cfg, tracks, artists, rngs[4])
  writer = TitleWriter(lex, slang, artists.names, rnds[4], cfg.title_noise, cfg.plain_titles)
  playlists = sample_playlists(cfg, sampler, writer, scenes, rngs[5], rnds[5])
  return World(cfg, seed, lex, facets, scenes, artists, tracks, slang, playlists)


def _lengths(rng: np.random.Generator, n: int, mean: float, sigma: float, lo: int, hi: int):
  mu = np.log(mean) - sigma ** 2 / 2
  return np.clip(np.round(rng.lognormal(mu, sigma, n)), lo, hi).astype(int)


def sample_playlists(cfg: WorldConfig, sampler: Sampler, writer: TitleWriter, scenes: Scenes,
                     rng: np.random.Generator, rnd: random.Random) -> dict:
  """Train and validation user playlists, test editorial playlists, then the
  short-title playlists kept only for co-occurrence (key "cooccurrence")."""
  patterns = [tuple(p.split("+")) for p in PATTERNS]
  user_p = np.asarray(USER_PATTERN_WEIGHTS, float) / sum(USER_PATTERN_WEIGHTS)
  out = {"train": [], "validation": [], "test": []}
  seen_titles = {"train": set(), "validation": set(), "test": set()}

  def user(split, n, train, forbidden):
    kinds = rng.choice(len(patterns), size=4 * n + 64, p=user_p)
    users = rng.choice(len(scenes.weight), size=4 * n + 64, p=scenes.weight)
    lengths = _lengths(rng, 4 * n + 64, cfg.train_len_mean, cfg.train_len_sigma,
                       cfg.min_len, cfg.max_len)
    for i in range(len(kinds)):
      if len(out[split]) >= n:
        break
      scene = int(users[i])
      intent, tracks = sampler.user_playlist(patterns[kinds[i]], scene, int(lengths[i]), rnd, train)
      mention = max(tracks, key=lambda x: sampler.t.pop[x])
      title = _fresh_title(lambda: writer.user(intent, int(sampler.t.artist[mention])), forbidden)
      if title is None:
        continue
      if train:
        sampler.used[tracks] = True
      seen_titles[split].add(normalize_query(title))
      out[split].append(Playlist(f"{split[:2]}{len(out[split]):07d}", title, tuple(tracks),
                                 intent, scene))

  user("train", cfg.n_train, True, set())
  user("validation", cfg.n_validation, False, seen_titles["train"])
  ed_p = np.asarray(EDITORIAL_PATTERN_WEIGHTS, float) / sum(EDITORIAL_PATTERN_WEIGHTS)
  kinds = rng.choice(len(patterns), size=20 * cfg.n_test + 64, p=ed_p)
  lengths = np.clip(rng.poisson(cfg.test_len_mean - 2, len(kinds)) + 2, 2, 20)
  forbidden = seen_titles["train"] | seen_titles["validation"] | seen_titles["test"]
  for kind, length in zip(kinds, lengths):
    if len(out["test"]) >= cfg.n_test:
      break
    intent, tracks = sampler.editorial_playlist(patterns[kind], int(length), rnd)
    title = _fresh_title(lambda: writer.editorial(intent), forbidden)
    if title is None:
      continue
    forbidden.add(normalize_query(title))
    out["test"].append(Playlist(f"ed{len(out['test']):05d}", title, tuple(tracks), intent, -1))
  # Last, so the three splits do not depend on it: playlists whose titles the
  # filter drops, drawn like user playlists (no tail quota: that only makes
  # train cover the catalog).
  share = cfg.short_title_share
  n_short = int(round(cfg.n_train * share / (1 - share))) if share < 1 else 0
  kinds = rng.choice(len(patterns), size=n_short, p=user_p)
  users = rng.choice(len(scenes.weight), size=n_short, p=scenes.weight)
  lengths = _lengths(rng, n_short, cfg.train_len_mean, cfg.train_len_sigma, cfg.min_len,
                     cfg.max_len)
  out["cooccurrence"] = []
  for i in range(n_short):
    intent, tracks = sampler.user_playlist(patterns[kinds[i]], int(users[i]), int(lengths[i]),
                                           rnd, train=False)
    out["cooccurrence"].append(Playlist(f"co{i:07d}", writer.short(intent), tuple(tracks),
                                        intent, int(users[i])))
  return out


def _fresh_title(render, forbidden: set, tries: int = 12):
  """A rendered title whose normalized form is not in `forbidden`, or None."""
  for _ in range(tries):
    title = render()
    if normalize_query(title) not in forbidden:
      return title
  return None
