"""BERT's uncased WordPiece as a `seqio.Vocabulary`: the query side of a model
whose encoder is a pretrained BERT (`T5Config.encoder = "minilm"`).

A query is encoded as BERT reads it: `[CLS] pieces`, and the task's
`add_eos=True` appends `eos_id` = `[SEP]`, so the model sees
`[CLS] pieces [SEP]` padded with `[PAD]` = 0 (T5X's padding id too, so the
encoder mask `tokens > 0` holds unchanged). The tokenizer is BERT's
(`BasicTokenizer` + greedy longest-match WordPiece, lower-cased, accents
stripped), written here so that nothing at run time needs `transformers`;
tests/tasks/test_wordpiece.py checks it against `transformers.BertTokenizer`
on the demo world's titles.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path
from typing import List, Sequence

import numpy as np
import seqio
import tensorflow as tf

MAX_CHARS_PER_WORD = 100  # BERT's: a longer word is [UNK]


def _is_punctuation(ch: str) -> bool:
  cp = ord(ch)
  if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
    return True
  return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
  return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
          or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
          or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_words(text: str) -> List[str]:
  """BERT's `BasicTokenizer(do_lower_case=True)`: clean, split CJK characters,
  lower-case, strip accents, split on whitespace and punctuation."""
  chars = []
  for ch in text:
    cp = ord(ch)
    if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch).startswith("C")
                                  and ch not in "\t\n\r"):
      continue
    if ch.isspace() or unicodedata.category(ch) == "Zs":
      chars.append(" ")
    elif _is_cjk(cp):
      chars.append(f" {ch} ")
    else:
      chars.append(ch)
  words = []
  for token in "".join(chars).split():
    token = unicodedata.normalize("NFD", token.lower())
    token = "".join(c for c in token if unicodedata.category(c) != "Mn")
    current = []
    for ch in token:
      if _is_punctuation(ch):
        if current:
          words.append("".join(current))
          current = []
        words.append(ch)
      else:
        current.append(ch)
    if current:
      words.append("".join(current))
  return words


class WordPieceVocabulary(seqio.Vocabulary):
  """BERT uncased WordPiece from a `vocab.txt` (one piece per line, id = line).

  `encode(s)` = [CLS] + pieces of s; `eos_id` is [SEP] (appended by a Feature
  with `add_eos=True`), `pad_id` 0 is [PAD], `unk_id` [UNK].
  """

  def __init__(self, vocab_file):
    self.vocab_file = str(vocab_file)
    pieces = Path(self.vocab_file).read_text(encoding="utf-8").split("\n")
    if pieces and pieces[-1] == "":
      pieces = pieces[:-1]
    self._pieces = pieces
    self._ids = {p: i for i, p in enumerate(pieces)}
    for special in ("[PAD]", "[UNK]", "[CLS]", "[SEP]"):
      if special not in self._ids:
        raise ValueError(f"{vocab_file}: no {special} piece; not a BERT vocab.txt")
    if self._ids["[PAD]"] != 0:
      raise ValueError(f"{vocab_file}: [PAD] must be id 0 (the padding id), "
                       f"is {self._ids['[PAD]']}")
    self.cls_id = self._ids["[CLS]"]
    super().__init__(extra_ids=0)

  @property
  def eos_id(self) -> int:
    return self._ids["[SEP]"]

  @property
  def unk_id(self) -> int:
    return self._ids["[UNK]"]

  @property
  def _base_vocab_size(self) -> int:
    return len(self._pieces)

  def _word_pieces(self, word: str) -> List[int]:
    if len(word) > MAX_CHARS_PER_WORD:
      return [self.unk_id]
    out, start = [], 0
    while start < len(word):
      end = len(word)
      while end > start:
        piece = word[start:end] if start == 0 else "##" + word[start:end]
        if piece in self._ids:
          out.append(self._ids[piece])
          break
        end -= 1
      if end == start:  # no piece matches: the whole word is unknown
        return [self.unk_id]
      start = end
    return out

  @functools.lru_cache(maxsize=1 << 16)
  def _encode_cached(self, s: str) -> tuple:
    return (self.cls_id,) + tuple(i for w in basic_words(s) for i in self._word_pieces(w))

  def _encode(self, s: str) -> Sequence[int]:
    return list(self._encode_cached(s))

  def _decode(self, ids) -> str:
    specials = {0, self.cls_id, self.eos_id}
    words = []
    for i in ids:
      i = int(i)
      if i in specials or not 0 <= i < len(self._pieces):
        continue
      piece = self._pieces[i]
      if piece.startswith("##") and words:
        words[-1] += piece[2:]
      else:
        words.append(piece)
    return " ".join(words)

  def _encode_tf(self, s: tf.Tensor) -> tf.Tensor:
    """A string scalar -> [n] int32, or a string vector -> ragged [B, None]."""
    def flat(strings):
      rows = [self._encode(x.decode("utf-8")) for x in np.atleast_1d(strings)]
      return (np.asarray([i for r in rows for i in r], np.int32),
              np.asarray([len(r) for r in rows], np.int64))
    values, lengths = tf.numpy_function(flat, [s], (tf.int32, tf.int64), stateful=False)
    values.set_shape([None])
    if s.shape.rank == 0:
      return values
    return tf.RaggedTensor.from_row_lengths(values, tf.reshape(lengths, [-1]))

  def _decode_tf(self, ids: tf.Tensor) -> tf.Tensor:
    def run(x):
      x = np.asarray(x)
      if x.ndim == 1:
        return np.asarray(self._decode(x).encode("utf-8"), object)
      return np.asarray([self._decode(r).encode("utf-8") for r in x], object)
    return tf.numpy_function(run, [ids], tf.string, stateful=False)

  def __eq__(self, other):
    return isinstance(other, WordPieceVocabulary) and other.vocab_file == self.vocab_file

  def __hash__(self):
    return hash(self.vocab_file)
