"""Vocabulary with an ID strategy's tokens: whole tokens, exact round trips, reuse."""

import pytest

from tasks import vocabularies

TEXTS = ([f"chill lofi vibes to focus {i} 🎧" for i in range(200)]
         + ["old classics for slow dancing", "Canción de amor", "深夜のジャズ",
            "Velora Kin Midnight Solane", "workout bangers 2010s"] * 40)
NEW = ["<+12>", "<-3>", "<+7>", "<1001>", "<1002>"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
  d = tmp_path_factory.mktemp("vocab")
  base = vocabularies.train_base_model(TEXTS, d / "base", vocab_size=400)
  return base, vocabularies.build_id_model(base, NEW, d / "ids" / "spiece.model")


def test_new_tokens_are_single_ids_after_the_base_vocabulary(models):
  base, ids_model = models
  n = vocabularies.base_size(ids_model)
  assert n == vocabularies.base_size(base)
  vocab = vocabularies.target_vocabulary(ids_model)
  assert vocab.vocab_size == n + len(NEW)
  for i, token in enumerate(NEW):
    assert vocab.encode(token) == [n + i]
  assert vocab.encode("<+12><-3><+7>") == [n, n + 1, n + 2]  # a semantic ID: 3 steps


@pytest.mark.parametrize("text", ["<+12><-3><+7>", "<1001>1001", "1001_1002",
                                  "hello <+12> world", "Velora Kin Midnight Solane",
                                  "chill vibes 🎧 深夜のジャズ <1002>", "<-3> ends with a word"])
def test_encode_decode_are_exact_inverses(models, text):
  vocab = vocabularies.target_vocabulary(models[1])
  assert vocab.decode(vocab.encode(text)) == text


def test_tf_encoding_matches_python(models):
  tf = pytest.importorskip("tensorflow")
  vocab = vocabularies.target_vocabulary(models[1])
  for text in ["<+12><-3><+7>", "hello <1001> world"]:
    assert vocab.encode_tf(tf.constant(text)).numpy().tolist() == vocab.encode(text)


def test_inputs_keep_the_base_tokenisation(models):
  base, ids_model = models
  query = "old classics for slow dancing"
  assert (vocabularies.input_vocabulary(ids_model).encode(query)
          == vocabularies.input_vocabulary(base).encode(query))


def test_trained_model_is_reused_not_retrained(tmp_path):
  first = vocabularies.train_base_model(TEXTS, tmp_path, vocab_size=400)
  stamp = first.stat().st_mtime_ns
  again = vocabularies.train_base_model(TEXTS, tmp_path, vocab_size=400)
  assert again == first and again.stat().st_mtime_ns == stamp
  changed = vocabularies.train_base_model(TEXTS + ["a brand new query"], tmp_path, vocab_size=400)
  assert changed.stat().st_mtime_ns != stamp


def test_sentinels_come_before_new_tokens(models, tmp_path):
  base, _ = models
  path = vocabularies.build_id_model(base, NEW, tmp_path / "m.model", num_extra_ids=3)
  vocab = vocabularies.target_vocabulary(path)
  n = vocabularies.base_size(path)
  assert vocab.encode("<+12>") == [n + 3]
  assert vocab.vocab_size == n + 3 + len(NEW)


def test_bad_new_tokens_are_refused(models, tmp_path):
  base, _ = models
  with pytest.raises(ValueError, match="whitespace"):
    vocabularies.build_id_model(base, ["<a b>"], tmp_path / "m.model")
  with pytest.raises(ValueError, match="already a piece"):
    vocabularies.build_id_model(base, ["<+1>", "<+1>"], tmp_path / "m.model")
