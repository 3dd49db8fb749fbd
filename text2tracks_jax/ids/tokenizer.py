"""Counting the decoding steps of an ID: SentencePiece plus whole new tokens.

An ID string mixes two kinds of pieces: *new tokens* that an ID strategy adds
to the vocabulary as single, indivisible entries (`<+12>`, `<1001>`, `<a3>`),
and *text* that the SentencePiece model splits as usual ("1001_1001", an
artist name). `TokenSplitter` finds the new tokens in an ID; `count_tokens`
encodes the text pieces with a SentencePiece model and counts each new token
as one. The same splitting is what a `seqio.Vocabulary` wrapper needs: encode
text pieces with SentencePiece, map new tokens to ids appended after it.

`train_sentencepiece` trains the fallback model used when no pretrained one
(e.g. Flan-T5's `spiece.model`) is given: unigram, deterministic.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import sentencepiece as spm

# New tokens of every built-in strategy look like this: "<" + no spaces or
# angle brackets + ">". A generic pattern plus a set lookup is much faster than
# an alternation over 50k artist tokens.
_BRACKETED = re.compile(r"<[^<>\s]+>")


class TokenSplitter:
  """Splits an ID string into whole new tokens and SentencePiece text."""

  def __init__(self, new_tokens: Iterable[str]):
    self.new_tokens = frozenset(new_tokens)
    self._index = {t: i for i, t in enumerate(sorted(self.new_tokens))}
    odd = [t for t in self.new_tokens if not _BRACKETED.fullmatch(t)]
    if odd:  # arbitrary tokens: exact alternation, longest first
      alternatives = sorted(self.new_tokens, key=lambda t: (-len(t), t))
      self._pattern = re.compile("|".join(map(re.escape, alternatives)))
    else:
      self._pattern = _BRACKETED

  def split(self, text: str) -> list:
    """Returns [(piece, is_new_token)] covering `text` in order; no empty pieces.

    E.g. with new token "<1001>": "<1001>1001" -> [("<1001>", True), ("1001", False)].
    Bracketed text that is not a new token (a title "<intro>") stays text.
    """
    pieces, pos = [], 0
    for m in self._pattern.finditer(text):
      if m.group() not in self.new_tokens:
        continue
      if m.start() > pos:
        pieces.append((text[pos:m.start()], False))
      pieces.append((m.group(), True))
      pos = m.end()
    if pos < len(text):
      pieces.append((text[pos:], False))
    return pieces

  def pieces(self, text: str) -> list:
    """Just the piece strings of `split`."""
    return [p for p, _ in self.split(text)]

  def token_index(self, token: str) -> int:
    """A stable index of a new token (position in the sorted token set)."""
    return self._index[token]


def has_text_pieces(ids: Sequence[str], new_tokens: Iterable[str]) -> bool:
  """Whether any ID has text for SentencePiece (learned IDs have none)."""
  splitter = TokenSplitter(new_tokens)
  return any(not is_new for text in ids for _, is_new in splitter.split(text))


def load_sentencepiece(spm_path):
  return spm.SentencePieceProcessor(model_file=str(spm_path))


def count_tokens(ids: Sequence[str], spm_path, new_tokens: Iterable[str]):
  """Tokens per ID with new tokens counted as one each (no EOS).

  Args:
    ids: [N] ID strings.
    spm_path: a SentencePiece model file (None: IDs must be new tokens only).
    new_tokens: the strategy's new whole tokens.

  Returns:
    (lengths [N] int32, first [N] int64): the number of tokens of each ID and
    a code of its first token (>= 0: a SentencePiece id; < 0: -1 - the index
    of a new token), used for the prefix-sharing statistic.
  """
  splitter = TokenSplitter(new_tokens)
  lengths = np.zeros(len(ids), np.int32)
  first = np.full(len(ids), np.iinfo(np.int64).min, np.int64)
  texts, owners, is_first = [], [], []
  for i, text in enumerate(ids):
    pieces = splitter.split(text)
    for j, (piece, is_new) in enumerate(pieces):
      if is_new:
        lengths[i] += 1
        if j == 0:
          first[i] = -1 - splitter.token_index(piece)
      else:
        texts.append(piece)
        owners.append(i)
        is_first.append(j == 0)
  if texts:
    if spm_path is None:
      raise ValueError(f"ID {ids[owners[0]]!r} has text pieces: counting them needs a "
                       "SentencePiece model")
    encoded = load_sentencepiece(spm_path).encode(texts, num_threads=os.cpu_count() or 1)
    owners = np.asarray(owners)
    sizes = np.fromiter((len(e) for e in encoded), np.int32, len(encoded))
    np.add.at(lengths, owners, sizes)
    for k in np.flatnonzero(np.asarray(is_first) & (sizes > 0)):
      first[owners[k]] = encoded[k][0]
  return lengths, first


def train_sentencepiece(texts: Iterable[str], out_path, *, vocab_size: int = 8000,
                        seed: int = 0, max_sentences: int = 1_000_000,
                        character_coverage: float = 0.9995,
                        byte_fallback: bool = False) -> Path:
  """Trains a unigram SentencePiece model on `texts`; writes `out_path`.

  Deterministic: sentences are deduplicated and, above `max_sentences`,
  subsampled with a seeded generator; SentencePiece's own generator is
  seeded and its input shuffling is off. `vocab_size` is a soft limit
  (`hard_vocab_limit=false`), so small corpora get a smaller vocabulary
  instead of an error. Ids follow T5: pad 0, eos 1, unk 2, no bos.
  `byte_fallback` (256 byte pieces, so `vocab_size` must exceed them) keeps
  emoji and rare scripts out of UNK; the task vocabularies use it.
  """
  sentences = sorted({t.strip() for t in texts if t and t.strip()})
  if not sentences:
    raise ValueError("no text to train a SentencePiece model on")
  if len(sentences) > max_sentences:
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(sentences), max_sentences, replace=False))
    sentences = [sentences[i] for i in keep]
  spm.set_random_generator_seed(seed)
  model = io.BytesIO()
  spm.SentencePieceTrainer.train(
      sentence_iterator=iter(sentences), model_writer=model, model_type="unigram",
      vocab_size=vocab_size, hard_vocab_limit=False, character_coverage=character_coverage,
      pad_id=0, eos_id=1, unk_id=2, bos_id=-1, byte_fallback=byte_fallback, input_sentence_size=0,
      shuffle_input_sentence=False, num_threads=os.cpu_count() or 1,
      minloglevel=2)
  out_path = Path(out_path)
  out_path.parent.mkdir(parents=True, exist_ok=True)
  out_path.write_bytes(model.getvalue())
  return out_path
