"""Shared fixtures: one tiny random Hugging Face T5, saved and imported into ours."""

import os

os.environ.setdefault("USE_TF", "0")

import numpy as np  # pylint: disable=wrong-import-position
import pytest  # pylint: disable=wrong-import-position

from text2tracks_jax.ids import prefix_trie  # pylint: disable=wrong-import-position
from text2tracks_jax.models import hf_import, network  # pylint: disable=wrong-import-position

VOCAB = 100
HF_CONFIG = dict(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                 num_decoder_layers=2, num_heads=4, feed_forward_proj="gated-gelu",
                 tie_word_embeddings=False, dropout_rate=0.0, decoder_start_token_id=0,
                 pad_token_id=0, eos_token_id=1)


@pytest.fixture(scope="session")
def hf_and_ours(tmp_path_factory):
  """(HF T5ForConditionalGeneration, our T5Model, our params): the same weights.

  Weights are larger than HF's init so that the distribution is peaked and
  EOS (boosted a little) ends sequences at varied lengths.
  """
  torch = pytest.importorskip("torch")
  transformers = pytest.importorskip("transformers")
  transformers.logging.set_verbosity_error()
  torch.manual_seed(0)
  hf = transformers.T5ForConditionalGeneration(transformers.T5Config(**HF_CONFIG)).eval()
  with torch.no_grad():
    for name, p in hf.named_parameters():
      if "layer_norm" in name:
        p.copy_(1.0 + 0.2 * torch.randn_like(p))
      elif "relative_attention_bias" in name or name == "shared.weight":
        p.normal_(0.0, 1.0)
      else:
        p.normal_(0.0, 0.3)
    hf.lm_head.weight[1] += 0.5
  path = tmp_path_factory.mktemp("hf_tiny")
  hf.save_pretrained(path)
  config, params = hf_import.load_hf_checkpoint(path)
  return hf, network.T5Model(config), params


@pytest.fixture(scope="session")
def encoder_tokens():
  """[3, 7] with mixed lengths (padding 0 at the end of rows 1 and 2)."""
  enc = np.random.default_rng(0).integers(2, VOCAB, (3, 7))
  enc[1, 4:] = 0
  enc[2, 2:] = 0
  return enc


@pytest.fixture(scope="session")
def id_trie():
  """(ids, trie): 120 IDs of 1-3 tokens, many sharing prefixes."""
  rng = np.random.default_rng(1)
  ids = set()
  while len(ids) < 120:
    first = int(rng.integers(2, 14))
    length = int(rng.choice([1, 2, 3], p=[0.1, 0.4, 0.5]))
    ids.add((first,) + tuple(int(x) for x in rng.integers(2, VOCAB, length - 1)))
  ids = sorted(ids)
  return ids, prefix_trie.build_trie(ids, vocab_size=VOCAB)
