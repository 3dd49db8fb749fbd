"""Our diverse beam search gives Hugging Face `generate`'s sequences and scores.

Same tiny random weights on both sides (HF model saved with save_pretrained,
imported with our hf_import). HF runs `_group_beam_search` for
num_beam_groups > 1 and `_beam_search` for one group.
"""

import os

os.environ.setdefault("USE_TF", "0")

import jax  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
import pytest  # pylint: disable=wrong-import-position

from text2tracks_jax.decoding import generation  # pylint: disable=wrong-import-position
from text2tracks_jax.ids import prefix_trie  # pylint: disable=wrong-import-position

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


def _hf_generate(hf, enc, num_beams, max_new_tokens, **kwargs):
  """HF sequences [B, n, max_new_tokens] (no start token, 0 after EOS) and scores [B, n]."""
  with torch.no_grad():
    out = hf.generate(input_ids=torch.tensor(enc), attention_mask=torch.tensor(enc > 0).long(),
                      num_beams=num_beams, num_return_sequences=num_beams,
                      max_new_tokens=max_new_tokens, output_scores=True,
                      return_dict_in_generate=True, do_sample=False, **kwargs)
  seqs = out.sequences.numpy()[:, 1:].copy()
  for row in seqs:  # one group pads with EOS, groups pad with 0: normalise
    ends = np.nonzero(row == 1)[0]
    if len(ends):
      row[ends[0] + 1:] = 0
  seqs = np.pad(seqs, ((0, 0), (0, max_new_tokens - seqs.shape[1])))
  batch = enc.shape[0]
  return (seqs.reshape(batch, num_beams, max_new_tokens),
          out.sequences_scores.numpy().reshape(batch, num_beams))


# (num_beams, num_beam_groups, diversity_penalty, length_penalty, early_stopping).
# Settings sharing (beams, groups, early_stopping) share one compilation.
SETTINGS = [
    (6, 3, 0.3, 2.0, False),
    (6, 3, 1.0, 1.0, False),
    (6, 3, 1.5, 0.0, False),
    (6, 3, 0.2, -0.5, False),
    (4, 1, 0.0, 1.0, False),
    (4, 1, 0.0, 0.5, False),
]
SLOW_SETTINGS = [
    (4, 2, 0.5, 1.0, False),
    (6, 3, 0.5, 1.0, True),
    (6, 3, 0.5, 1.0, "never"),
    (4, 1, 0.0, 1.0, "never"),
    (6, 6, 0.7, 1.0, False),
    (8, 2, 0.4, 1.0, False),
]


def _check_setting(hf_and_ours, encoder_tokens, setting, max_new_tokens=6):
  hf, model, params = hf_and_ours
  beams, groups, penalty, length_penalty, early_stopping = setting
  hf_kwargs = dict(length_penalty=length_penalty, early_stopping=early_stopping)
  if groups > 1:
    hf_kwargs.update(num_beam_groups=groups, diversity_penalty=penalty)
  want_seqs, want_scores = _hf_generate(hf, encoder_tokens, beams, max_new_tokens, **hf_kwargs)
  got = generation.generate(model, params, encoder_tokens, num_beams=beams,
                            num_beam_groups=groups, diversity_penalty=penalty,
                            length_penalty=length_penalty, early_stopping=early_stopping,
                            max_new_tokens=max_new_tokens)
  np.testing.assert_array_equal(np.asarray(got.sequences), want_seqs)
  np.testing.assert_allclose(np.asarray(got.scores), want_scores, atol=1e-4, rtol=0)
  return want_seqs


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_matches_hf_generate(hf_and_ours, encoder_tokens, setting):
  seqs = _check_setting(hf_and_ours, encoder_tokens, setting)
  ended = (seqs == 1).any(-1)
  assert ended.any() and not ended.all()  # EOS handling and max length both exercised


@pytest.mark.slow
@pytest.mark.parametrize("setting", SLOW_SETTINGS, ids=str)
def test_matches_hf_generate_more_settings(hf_and_ours, encoder_tokens, setting):
  _check_setting(hf_and_ours, encoder_tokens, setting, max_new_tokens=8)


def test_constrained_matches_hf_prefix_allowed_tokens_fn(hf_and_ours, encoder_tokens, id_trie):
  """Under the trie, the dense LM head (selecting over each beam's children
  window) equals HF with `prefix_allowed_tokens_fn`."""
  hf, model, params = hf_and_ours
  _, trie = id_trie
  numpy_trie = jax.tree.map(np.asarray, trie)

  def allowed(batch_id, prefix):
    del batch_id
    node = 0
    for token in prefix.tolist()[1:]:
      node = int(prefix_trie.find_child(numpy_trie, np.array(node), np.array(token), xp=np))
    lo, hi = trie.row_ptr[node], trie.row_ptr[node + 1]
    return trie.child_token[lo:hi].tolist() or [0]  # off the trie: any (score is -inf)

  want_seqs, want_scores = _hf_generate(hf, encoder_tokens, 6, 6, num_beam_groups=3,
                                        diversity_penalty=0.5, prefix_allowed_tokens_fn=allowed)
  got = generation.generate(model, params, encoder_tokens, num_beams=6, num_beam_groups=3,
                            diversity_penalty=0.5, max_new_tokens=6, constraint=trie)
  finite = np.isfinite(want_scores)
  assert finite.mean() > 0.5
  np.testing.assert_array_equal(np.isfinite(np.asarray(got.scores)), finite)
  np.testing.assert_array_equal(np.asarray(got.sequences)[finite], want_seqs[finite])
  np.testing.assert_allclose(np.asarray(got.scores)[finite], want_scores[finite], atol=1e-4)
  assert (prefix_trie.lookup_leaves(trie, want_seqs[finite]) >= 0).all()
