"""The query vocabulary of a pretrained-encoder task against BERT's own tokenizer."""

import tensorflow as tf
import transformers

from tasks import model_input, wordpiece
from text2tracks_jax.data import prepare
from text2tracks_jax.data.dataset import PreparedDataset
from text2tracks_jax.ids import embeddings

VOCAB = embeddings.default_model_path() / "vocab.txt"
TRICKY = ["Café del Mar — Ibiza Chill", "don't stop (80's) remix!!", "深夜のジャズ 🎷 Canción",
          "lofi\tbeats\nto   study", "x" * 150 + " ok", "ÀÉÎÕÜ naïve façade", "r&b/soul vibes",
          "supercalifragilisticexpialidocious", "", "   "]


def test_encode_equals_bert_tokenizer_on_titles_and_odd_text(tmp_path):
  prepare.prepare("synthetic", tmp_path / "data", preset="tiny")
  data = PreparedDataset.load(tmp_path / "data")
  titles = sorted({q for s in ("train", "validation", "test")
                   for q in data.split(s, ["query"]).column("query").to_pylist()})
  vocab = wordpiece.WordPieceVocabulary(VOCAB)
  reference = transformers.BertTokenizer(str(VOCAB), do_lower_case=True)
  for text in titles + [model_input(t) for t in titles] + TRICKY:
    want = reference(text, add_special_tokens=False)["input_ids"]
    assert vocab.encode(text) == [reference.cls_token_id] + want, text
  assert vocab.eos_id == reference.sep_token_id and vocab.pad_id == reference.pad_token_id == 0
  assert vocab.unk_id == reference.unk_token_id
  assert vocab.vocab_size == reference.vocab_size


def test_tf_ops_match_python_and_decode_inverts():
  vocab = wordpiece.WordPieceVocabulary(VOCAB)
  texts = ["dark techno for the gym", "Café del Mar", "r&b/soul vibes"]
  ragged = vocab.encode_tf(tf.constant(texts))
  assert ragged.to_list() == [vocab.encode(t) for t in texts]
  assert vocab.encode_tf(tf.constant(texts[0])).numpy().tolist() == vocab.encode(texts[0])
  ids = vocab.encode(texts[0]) + [vocab.eos_id, 0, 0]
  assert vocab.decode(ids) == texts[0]
  assert vocab.decode_tf(tf.constant([ids])).numpy()[0].decode() == texts[0]
  assert vocab.decode(vocab.encode("supercalifragilistic")) == "supercalifragilistic"


def test_a_vocab_without_pad_at_zero_is_refused(tmp_path):
  bad = tmp_path / "vocab.txt"
  bad.write_text("[UNK]\n[PAD]\n[CLS]\n[SEP]\nhello\n")
  try:
    wordpiece.WordPieceVocabulary(bad)
  except ValueError as e:
    assert "[PAD] must be id 0" in str(e)
  else:
    raise AssertionError("a vocab with [PAD] at id 1 was accepted")
