"""Splitting IDs into whole new tokens and SentencePiece text; counting tokens."""

import numpy as np
import pytest
import sentencepiece as spm

from text2tracks_jax.ids.tokenizer import (TokenSplitter, count_tokens, has_text_pieces,
                                           train_sentencepiece)


def test_splitter_keeps_new_tokens_whole():
  s = TokenSplitter(["<1001>", "<+12>", "<-3>"])
  assert s.split("<1001>1001") == [("<1001>", True), ("1001", False)]
  assert s.pieces("<+12><-3><+12>") == ["<+12>", "<-3>", "<+12>"]
  # bracketed text that is not a new token stays text, and is merged with neighbours
  assert s.split("x<intro>y<-3>") == [("x<intro>y", False), ("<-3>", True)]
  assert s.pieces("") == []


def test_splitter_with_arbitrary_tokens_prefers_longest():
  s = TokenSplitter(["ab", "abc", "z"])
  assert s.split("abcabz") == [("abc", True), ("ab", True), ("z", True)]


def test_train_sentencepiece_is_deterministic(tmp_path):
  texts = [f"chill vibes for a rainy {w} number {i}" for i, w in
           enumerate(["day", "night", "week", "morning"] * 40)]
  a = train_sentencepiece(texts, tmp_path / "a.model", vocab_size=120)
  b = train_sentencepiece(list(reversed(texts)), tmp_path / "b.model", vocab_size=120)
  assert a.read_bytes() == b.read_bytes()
  sp = spm.SentencePieceProcessor(model_file=str(a))
  assert sp.piece_to_id("</s>") == 1 and sp.pad_id() == 0
  # the size is a soft limit: a tiny corpus gets fewer pieces instead of an error
  c = train_sentencepiece(["tiny corpus"], tmp_path / "c.model", vocab_size=8000)
  assert spm.SentencePieceProcessor(model_file=str(c)).get_piece_size() < 8000


def test_count_tokens_counts_new_tokens_as_one(spm_model):
  sp = spm.SentencePieceProcessor(model_file=str(spm_model))
  new = ["<+1>", "<-2>", "<+3>", "<1001>"]
  ids = ["<+1><-2><+3>", "<1001>1002", "1001_1003", "Artist A0 - Song 0 1"]
  lengths, first = count_tokens(ids, spm_model, new)
  expected = [3, 1 + len(sp.encode("1002")), len(sp.encode("1001_1003")),
              len(sp.encode("Artist A0 - Song 0 1"))]
  assert lengths.tolist() == expected
  order = sorted(new)
  assert first[0] == -1 - order.index("<+1>") and first[1] == -1 - order.index("<1001>")
  assert first[2] == sp.encode("1001_1003")[0]


def test_learned_ids_need_no_sentencepiece():
  new = ["<+1>", "<-2>"]
  assert not has_text_pieces(["<+1><-2>"], new)
  assert has_text_pieces(["<+1>x"], new)
  lengths, _ = count_tokens(["<+1><-2>", "<-2>"], None, new)
  assert lengths.tolist() == [2, 1]
  with pytest.raises(ValueError, match="SentencePiece"):
    count_tokens(["<+1>x"], None, new)
