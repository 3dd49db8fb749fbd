"""Playlist titles: an intent written the way users, or editors, write it.

An intent is a tuple of (facet, value) pairs, facet one of `artist`, `sub`,
`genre`, `mood`, `act`, `era` (values are indices into the lexicon / artist
table). `TitleWriter.user` picks a template for the intent's facet pattern,
fills each slot with one of the facet's many phrasings (earlier phrasings are
more common), then adds what real users add: filler words, a name, an artist
mention, text-speak, emoji, a typo, random casing. `TitleWriter.editorial`
writes clean Title Case with editorial templates and canonical phrasings.
"""

from __future__ import annotations

import random
import re

from text2tracks_jax.data.synthetic import lexicon
from text2tracks_jax.data.synthetic.names import capitalize

FACET_LETTER = {"sub": "G", "genre": "G", "mood": "M", "act": "A", "era": "E", "artist": "X"}
_SLOT = re.compile(r"\{(\w+)\}")
_SMALL = {"of", "the", "for", "and", "to", "in", "a", "on", "from", "with", "but", "like", "when",
          "x", "at", "by"}
_ACRONYMS = {"edm", "dnb", "r&b", "rnb", "ost", "vgm", "ccm", "aor", "mpb", "ukg", "idm", "ebm",
             "nwobhm", "osdm", "hxc", "mtv", "dj", "mc", "ipod", "y2k", "khh", "wfh", "bbq", "pr"}
_KEYBOARD = dict(zip(  # key -> its neighbours, for fat-finger typos
    "qwertyuiopasdfghjklzxcvbnm",
    "wa qes wrd etf ryg tuh yij uok ipl ol qsz awdx sefc drgv fthb gyjn hukm jil kop asx zsdc "
    "xdfv cfgb vghn bhjm njk".split()))


def pattern_key(intent) -> str:
  """('mood', 3), ('sub', 7) -> 'GM' (template key: facets in G, M, A, E, X order)."""
  letters = {FACET_LETTER[f] for f, _ in intent}
  return "".join(c for c in "GMAEX" if c in letters)


def _weighted(rnd: random.Random, options, decay: float):
  """One of `options`, the i-th with weight 1/(i+1)**decay (canonical first)."""
  if len(options) == 1:
    return options[0]
  weights = _decay_weights(len(options), decay)
  return options[_pick(rnd, weights)]


_WEIGHT_CACHE = {}


def _decay_weights(n: int, decay: float) -> tuple:
  key = (n, decay)
  if key not in _WEIGHT_CACHE:
    w = [1.0 / (i + 1) ** decay for i in range(n)]
    total, acc, cum = sum(w), 0.0, []
    for x in w:
      acc += x / total
      cum.append(acc)
    _WEIGHT_CACHE[key] = tuple(cum)
  return _WEIGHT_CACHE[key]


def _pick(rnd: random.Random, cum) -> int:
  u = rnd.random()
  for i, c in enumerate(cum):
    if u < c:
      return i
  return len(cum) - 1


def title_case(text: str) -> str:
  """Editorial casing: 'dark techno for the gym' -> 'Dark Techno for the Gym'."""
  words = text.split(" ")
  out = []
  for i, w in enumerate(words):
    lw = w.lower()
    if lw in _ACRONYMS:
      out.append(w.upper())
    elif i and lw in _SMALL:
      out.append(lw)
    elif w[:1].isdigit() or w[:1] == "'":
      out.append(lw)  # '80s', "'90s", '2010s'
    else:
      out.append("-".join(capitalize(p) for p in w.split("-")))
  return " ".join(out)


class TitleWriter:
  """Renders intents as user or editorial playlist titles.

  Args:
    lex: the parsed `Lexicon`.
    slang: per subgenre, a tuple of invented scene words (used by {S}).
    artist_names: artist display names (indexed like the world's artists).
    rnd: the `random.Random` every choice is drawn from.
    noise: scales all user noise rates (0 gives clean user titles).
    plain: share of user titles written the bare, common way (no fillers, no
      noise), which many users share verbatim ("chill vibes").
  """

  def __init__(self, lex, slang, artist_names, rnd: random.Random, noise: float = 1.0,
               plain: float = 0.2):
    self.lex, self.slang, self.artist_names, self.rnd = lex, slang, artist_names, rnd
    self.noise, self.plain = noise, plain
    self.user_templates = {k: lexicon.split(v) for k, v in lexicon.USER_TEMPLATES.items()}
    self.editorial_templates = {k: lexicon.split(v) for k, v in lexicon.EDITORIAL_TEMPLATES.items()}
    self.prefixes = lexicon.split(lexicon.USER_PREFIXES)
    self.suffixes = lexicon.split(lexicon.USER_SUFFIXES)
    self.first_names = lexicon.split(lexicon.FIRST_NAMES)
    self.name_forms = lexicon.split(lexicon.NAME_FORMS)
    self.textspeak = {k: lexicon.split(v) for k, v in lexicon.TEXTSPEAK.items()}
    self.generic_emoji = tuple(lexicon.GENERIC_EMOJI.split())
    self.genre_emoji = tuple(lexicon.GENRE_EMOJI.split())
    self.editorial_suffixes = lexicon.split(lexicon.EDITORIAL_SUFFIXES)

  # -- slots -------------------------------------------------------------------
  def _slots(self, intent, decay: float, editorial: bool) -> dict:
    """Phrases for every slot the intent's facets can fill."""
    rnd, lex = self.rnd, self.lex
    slots = {}
    for facet, v in intent:
      if facet == "sub":
        slots["G"] = _weighted(rnd, lex.sub_names[v], decay)
        slots["S"] = rnd.choice(self.slang[v]) if self.slang[v] and not editorial else slots["G"]
      elif facet == "genre":
        slots["G"] = _weighted(rnd, lex.genre_names[v], decay)
        slots["S"] = slots["G"]
      elif facet == "mood":
        slots["M"] = _weighted(rnd, lex.mood_adj[v], decay)
        slots["Mn"] = _weighted(rnd, lex.mood_noun[v], decay)
      elif facet == "act":
        slots["A"] = _weighted(rnd, lex.act_pre[v], decay)
        slots["Af"] = _weighted(rnd, lex.act_for[v], decay)
      elif facet == "era":
        slots["E"] = _weighted(rnd, lex.era_adj[v], decay)
        slots["Ed"] = _weighted(rnd, lex.era_dec[v], decay)
        slots["Ep"] = _weighted(rnd, lex.era_phrase[v], decay)
        year = lex.decades[v] + rnd.randrange(10)
        slots["Y"] = rnd.choice((str(year), str(year), f"'{year % 100:02d}", f"{year % 100:02d}"))
      elif facet == "artist":
        slots["X"] = self.artist_names[v]
    return slots

  # -- user titles ---------------------------------------------------------------
  def user(self, intent, mention: int | None = None) -> str:
    """A user-made title for `intent`; `mention` is an artist that may be named."""
    rnd, noise = self.rnd, self.noise
    if rnd.random() < self.plain:  # the bare, common way: "chill", "sad songs", "80s rock"
      slots = self._slots(intent, 1.5, editorial=False)
      form = rnd.choice(self.user_templates[pattern_key(intent)][:3])
      return _SLOT.sub(lambda m: slots[m.group(1)], form).lower()
    slots = self._slots(intent, 0.6, editorial=False)
    core = _SLOT.sub(lambda m: slots[m.group(1)],
                     rnd.choice(self.user_templates[pattern_key(intent)]))
    if mention is not None and "X" not in slots and rnd.random() < 0.06 * noise:
      name = self.artist_names[mention]
      core = rnd.choice((f"{core} like {name}", f"{core} ft. {name}", f"{core} ({name} vibes)",
                         f"{name} and more {core}", f"{core} a la {name}"))
    r = rnd.random()
    if r < 0.22 * noise:
      core = f"{rnd.choice(self.prefixes)} {core}"
    elif r < 0.55 * noise:
      core = f"{core} {rnd.choice(self.suffixes)}"
    if rnd.random() < 0.05 * noise:
      form = rnd.choice(self.name_forms)
      core = form.replace("{n}", rnd.choice(self.first_names)).replace("{T}", core)
    if rnd.random() < 0.10 * noise:
      core = self._textspeak(core)
    if rnd.random() < 0.07 * noise:
      core = self._typo(core)
    if rnd.random() < 0.03 * noise:
      core = self._elongate(core)
    core = self._case(core)
    if rnd.random() < 0.16 * noise:
      core = self._emoji(core, intent)
    return core.strip() or slots.get("G", "music")

  def short(self, intent) -> str:
    """A title too short to be a prompt, as most real ones are ("chill",
    "country", "workout"): one facet's common phrase, at most two words."""
    slots = self._slots(intent, 1.5, editorial=False)
    key = self.rnd.choice([k for k in ("G", "M", "A", "E", "X") if k in slots])
    return " ".join(slots[key].split()[:2]).lower()

  def _textspeak(self, text: str) -> str:
    words = text.split(" ")
    hits = [i for i, w in enumerate(words) if w.lower() in self.textspeak]
    for i in hits:
      if self.rnd.random() < 0.7:
        words[i] = self.rnd.choice(self.textspeak[words[i].lower()])
    return " ".join(words)

  def _typo(self, text: str) -> str:
    """One character swap, drop, double or neighbouring-key slip in a longer word."""
    rnd = self.rnd
    words = text.split(" ")
    long_words = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long_words:
      return text
    i = rnd.choice(long_words)
    w = words[i]
    j = rnd.randrange(1, len(w) - 1)
    op = rnd.random()
    if op < 0.3:
      w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    elif op < 0.6:
      w = w[:j] + w[j + 1:]
    elif op < 0.8:
      w = w[:j] + w[j] + w[j:]
    else:
      near = _KEYBOARD.get(w[j].lower())
      w = w[:j] + (rnd.choice(near) if near else w[j]) + w[j + 1:]
    words[i] = w
    return " ".join(words)

  def _elongate(self, text: str) -> str:
    words = text.split(" ")
    i = self.rnd.randrange(len(words))
    if words[i][-1:].isalpha():
      words[i] += words[i][-1] * self.rnd.randint(2, 4)
    return " ".join(words)

  def _case(self, text: str) -> str:
    r = self.rnd.random()
    if r < 0.55:
      return text.lower()
    if r < 0.72:
      return text[:1].upper() + text[1:]
    if r < 0.93:
      return " ".join(capitalize(w) for w in text.split(" "))
    return text.upper()

  def _emoji(self, text: str, intent) -> str:
    rnd, lex = self.rnd, self.lex
    pool = list(self.generic_emoji)
    for facet, v in intent:
      if facet == "mood":
        pool += lex.mood_emoji[v] * 3
      elif facet == "act":
        pool += lex.act_emoji[v] * 3
      elif facet == "era":
        pool += lex.era_emoji[v] * 3
      elif facet in ("sub", "genre"):
        pool += self.genre_emoji
    marks = "".join(rnd.choice(pool) for _ in range(rnd.choice((1, 1, 1, 2, 3))))
    return f"{marks} {text}" if rnd.random() < 0.25 else f"{text} {marks}"

  # -- editorial titles --------------------------------------------------------------
  def editorial(self, intent) -> str:
    """A clean editorial title for `intent`, e.g. 'Dark Techno for the Gym'."""
    rnd = self.rnd
    slots = self._slots(intent, 2.0, editorial=True)
    text = _SLOT.sub(lambda m: slots[m.group(1)],
                     rnd.choice(self.editorial_templates[pattern_key(intent)]))
    if rnd.random() < 0.1:
      text += rnd.choice(self.editorial_suffixes)
    return title_case(text)
