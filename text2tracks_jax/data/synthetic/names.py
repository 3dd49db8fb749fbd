"""Pronounceable generated names: invented words, artist names, track titles.

Invented words are 2-3 syllables of onset + nucleus + coda from the lexicon's
syllable tables ("velora", "solane"). Artist names and track titles fill the
lexicon's name forms ("{I} {I}", "the {W}s", "{w} of {w}") with invented words
{I}/{W} and English title words {w}. Everything is drawn from the `random.Random`
passed in, so a seed fixes every name.
"""

from __future__ import annotations

import random
import re

from text2tracks_jax.data.synthetic import lexicon

_SLOT = re.compile(r"\{(\w)\}")
_ONSETS = lexicon.split(lexicon.ONSETS)
_INNER = lexicon.split(lexicon.INNER_ONSETS)
_NUCLEI = lexicon.split(lexicon.NUCLEI)
_CODAS = lexicon.split(lexicon.CODAS)
_TITLE_WORDS = lexicon.split(lexicon.TITLE_WORDS)


def invented_word(rnd: random.Random, min_syllables: int = 2, max_syllables: int = 3) -> str:
  """One pronounceable lowercase word, e.g. 'velora'."""
  n = rnd.randint(min_syllables, max_syllables)
  parts = [rnd.choice(_ONSETS), rnd.choice(_NUCLEI)]
  for _ in range(n - 1):
    parts += [rnd.choice(_INNER), rnd.choice(_NUCLEI[:15])]
  parts.append(rnd.choice(_CODAS))
  word = "".join(parts)
  return word if len(word) >= 3 else word + rnd.choice(("ra", "n", "el", "ix"))


def invented_words(rnd: random.Random, n: int, exclude=frozenset()) -> list:
  """`n` distinct invented words not in `exclude` (generation order kept)."""
  out, seen = [], set(exclude)
  while len(out) < n:
    w = invented_word(rnd)
    if w not in seen:
      seen.add(w)
      out.append(w)
  return out


def _forms(text: str, weights_decay: float) -> tuple:
  forms = lexicon.split(text)
  weights = [1.0 / (i + 1) ** weights_decay for i in range(len(forms))]
  return forms, weights


def _fill(form: str, fill) -> str:
  return _SLOT.sub(lambda m: fill(m.group(1)), form)


def capitalize(word: str) -> str:
  """Upper-cases the first letter, after any leading punctuation: '(neon' -> '(Neon'."""
  for i, ch in enumerate(word):
    if ch.isalpha():
      return word[:i] + ch.upper() + word[i + 1:]
  return word


def artist_names(rnd: random.Random, n: int) -> list:
  """`n` distinct artist names, e.g. 'Velora Kin', 'The Paper Wolves', 'DJ Tramo'."""
  forms, weights = _forms(lexicon.ARTIST_FORMS, 0.6)
  small = {"the", "and", "x", "&", "mc", "dj"}

  def fill(slot):
    if slot == "I":
      return invented_word(rnd, 1 if rnd.random() < 0.35 else 2, 3).capitalize()
    if slot == "W":
      return rnd.choice(_TITLE_WORDS).capitalize()
    if slot == "V":  # a plural: "The Paper Wolves" style band names
      w = rnd.choice(_TITLE_WORDS)
      return (w if w.endswith("s") else w[:-1] + "ies" if w.endswith("y") else w + "s").capitalize()
    return str(rnd.randint(2, 99))  # {D}

  out, seen = [], set()
  while len(out) < n:
    name = _fill(rnd.choices(forms, weights)[0], fill)
    words = name.split(" ")
    name = " ".join(w.upper() if w in ("dj", "mc") else (w if w in small and i else capitalize(w))
                    for i, w in enumerate(words))
    key = name.casefold()
    if key not in seen:
      seen.add(key)
      out.append(name)
  return out


def track_titles(rnd: random.Random, n: int, featured: list) -> list:
  """`n` track titles (repeats allowed, as in real catalogs), e.g. 'Midnight Solane'.

  `featured` is a list of artist names used by "(feat. X)" forms.
  """
  forms, weights = _forms(lexicon.TITLE_FORMS, 0.35)
  picks = rnd.choices(range(len(forms)), weights, k=n)
  small = {"of", "in", "and", "on", "for", "the", "a"}

  def fill(slot):
    if slot == "w":
      return rnd.choice(_TITLE_WORDS)
    if slot == "I":
      return invented_word(rnd, 2, 3)
    return rnd.choice(featured)  # {P}

  out = []
  for k in picks:
    title = _fill(forms[k], fill)
    words = title.split(" ")
    out.append(" ".join(w if i and w in small else capitalize(w) for i, w in enumerate(words)))
  return out
