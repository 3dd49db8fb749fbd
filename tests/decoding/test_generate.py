"""`generate` features: constraints, candidate logits, catalog filters, distinct
results, the T5X decode_fn contract, mixed input lengths.

Settings (6 beams in 3 groups, 6 new tokens) repeat on purpose: calls with the
same static settings share one compilation (also with test_beam_search_hf.py).
"""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from text2tracks_jax.decoding import beam_search, generation
from text2tracks_jax.ids import prefix_trie
from text2tracks_jax.models import network

SETTINGS = dict(num_beams=6, num_beam_groups=3, diversity_penalty=0.5, max_new_tokens=6)


def _run(hf_and_ours, enc, **kwargs):
  _, model, params = hf_and_ours
  params = kwargs.pop("params", params)
  out = generation.generate(model, params, enc, **{**SETTINGS, **kwargs})
  return jax.tree.map(np.asarray, out)


def test_constraint_keeps_every_result_a_valid_id(hf_and_ours, encoder_tokens, id_trie):
  _, trie = id_trie
  free = _run(hf_and_ours, encoder_tokens)
  assert free.leaves is None
  assert prefix_trie.invalid_share(trie, free.sequences, free.scores) > 0.5
  out = _run(hf_and_ours, encoder_tokens, constraint=trie)
  assert out.sequences.shape == (3, 6, 6) and out.scores.shape == (3, 6)
  assert np.isfinite(out.scores).all()
  assert (np.diff(out.scores, axis=1) <= 0).all()  # best first
  assert prefix_trie.invalid_share(trie, out.sequences, out.scores) == 0.0
  np.testing.assert_array_equal(out.leaves, prefix_trie.lookup_leaves(trie, out.sequences))


def test_candidate_logits_equal_dense_masked_path_under_catalog_filter(
    hf_and_ours, encoder_tokens, id_trie):
  ids, trie = id_trie
  rng = np.random.default_rng(3)
  allowed = rng.random((3, trie.num_leaves)) < 0.3
  allowed[2] = prefix_trie.leaf_mask(trie, ids[:4])  # very few IDs: filler results
  dense = _run(hf_and_ours, encoder_tokens, constraint=trie, catalog_mask=allowed,
               normalize="legal")
  cand = _run(hf_and_ours, encoder_tokens, constraint=trie, catalog_mask=allowed,
              lm_head="candidates")
  np.testing.assert_array_equal(cand.sequences, dense.sequences)
  np.testing.assert_allclose(cand.scores, dense.scores, atol=1e-5, rtol=0)
  np.testing.assert_array_equal(cand.leaves, dense.leaves)
  for out in (dense, cand):
    for q in range(3):
      for leaf, score in zip(out.leaves[q], out.scores[q]):
        assert leaf >= 0 and allowed[q, leaf], (q, leaf, score)
  # The same compiled function with another filter: still only allowed IDs.
  allowed = np.zeros((3, trie.num_leaves), bool)
  allowed[:, ::7] = True
  out = _run(hf_and_ours, encoder_tokens, constraint=trie, catalog_mask=allowed,
             normalize="legal")
  assert all(allowed[q, l] for q in range(3) for l in out.leaves[q])


@pytest.mark.slow
def test_prebuilt_catalog_filter_equals_the_mask(hf_and_ours, encoder_tokens, id_trie):
  """A CatalogFilter built once decodes as its mask does, per query and shared;
  one of another catalog size is refused."""
  _, trie = id_trie
  rng = np.random.default_rng(5)
  for allowed in (rng.random((3, trie.num_leaves)) < 0.3, rng.random(trie.num_leaves) < 0.3):
    want = _run(hf_and_ours, encoder_tokens, constraint=trie, catalog_mask=allowed,
                distinct=True)
    got = _run(hf_and_ours, encoder_tokens, constraint=trie, distinct=True,
               catalog_mask=prefix_trie.catalog_filter(allowed))
    np.testing.assert_array_equal(got.sequences, want.sequences)
    np.testing.assert_array_equal(got.scores, want.scores)
  with pytest.raises(ValueError, match="CatalogFilter of 1 queries has words"):
    _run(hf_and_ours, encoder_tokens, constraint=trie,
         catalog_mask=prefix_trie.catalog_filter(np.ones(trie.num_leaves + 32, bool)))


@pytest.mark.slow
def test_shared_catalog_mask(hf_and_ours, encoder_tokens, id_trie):
  ids, trie = id_trie
  allowed = prefix_trie.leaf_mask(trie, ids[::5])
  out = _run(hf_and_ours, encoder_tokens, constraint=trie, catalog_mask=allowed)
  assert np.isfinite(out.scores).all() and all(allowed[l] for l in out.leaves.ravel())
  with pytest.raises(ValueError, match="catalog_mask has shape"):
    _run(hf_and_ours, encoder_tokens, constraint=trie, catalog_mask=allowed[:-1])


def test_distinct_gives_distinct_ids(hf_and_ours, encoder_tokens, id_trie):
  _, trie = id_trie
  plain = _run(hf_and_ours, encoder_tokens, constraint=trie)
  assert any(len(set(row)) < 6 for row in plain.leaves.tolist())  # HF semantics repeat IDs
  out = _run(hf_and_ours, encoder_tokens, constraint=trie, distinct=True)
  assert np.isfinite(out.scores).all()
  for row in out.leaves.tolist():
    assert len(set(row)) == 6 and min(row) >= 0


@pytest.mark.slow
def test_distinct_without_constraint(hf_and_ours, encoder_tokens):
  out = _run(hf_and_ours, encoder_tokens, distinct=True, max_new_tokens=4)
  for row in out.sequences:
    assert len({tuple(s) for s in row.tolist()}) == 6


def test_mixed_input_lengths_do_not_interact(hf_and_ours, encoder_tokens):
  """Each query's result is independent of the other (differently padded) rows."""
  out = _run(hf_and_ours, encoder_tokens)
  order = [2, 0, 1]
  perm = _run(hf_and_ours, encoder_tokens[order])
  np.testing.assert_array_equal(perm.sequences, out.sequences[order])
  np.testing.assert_allclose(perm.scores, out.scores[order], atol=1e-5)


def test_t5x_decode_fn_contract(hf_and_ours, encoder_tokens):
  """`diverse_beam_search` under T5X's calling convention: cache for B rows,
  `tokens_to_logits(DecodingState) -> ([R, V], cache)`, results sorted by
  increasing score (best last)."""
  _, model, params = hf_and_ours
  signature = inspect.signature(beam_search.diverse_beam_search).parameters
  for name in ("inputs", "cache", "tokens_to_logits", "eos_id", "num_decodes", "decode_rng",
               "cache_offset", "initial_index", "max_decode_len"):
    assert name in signature

  @jax.jit
  def predict(params, enc):
    encoded = model.apply({"params": params}, enc, enable_dropout=False,
                          method=network.T5Model.encode)
    cache = network.init_decode_cache(model, params, encoded, enc, 6)

    def tokens_to_logits(state):  # what T5X's _compute_logits_from_slice does
      logits, new_cache = network.decode_step(model, params, state.cache, state.cur_token)
      return logits[:, 0], new_cache

    return beam_search.diverse_beam_search(
        jnp.zeros((enc.shape[0], 6), jnp.int32), cache, tokens_to_logits, eos_id=1,
        num_decodes=6, num_beam_groups=3, diversity_penalty=0.5, decode_rng=None)

  seqs, scores = jax.tree.map(np.asarray, predict(params, jnp.asarray(encoder_tokens)))
  assert seqs.shape == (3, 6, 6) and scores.shape == (3, 6)
  assert (np.diff(scores, axis=1) >= 0).all()
  best_first = _run(hf_and_ours, encoder_tokens)
  np.testing.assert_array_equal(seqs[:, ::-1], best_first.sequences)
  np.testing.assert_allclose(scores[:, ::-1], best_first.scores, atol=1e-5)


def _teacher_forced_log_probs(model, params, enc, sequences):
  """log_softmax of the decoder's logits for `sequences` [B, n, T], [B, n, T, V]."""
  b, n, t = sequences.shape
  enc = np.repeat(enc, n, axis=0)
  targets = sequences.reshape(b * n, t)
  inputs = np.concatenate([np.zeros((b * n, 1), targets.dtype), targets[:, :-1]], axis=1)
  encoded = model.apply({"params": params}, enc, enable_dropout=False,
                        method=network.T5Model.encode)
  logits = model.apply({"params": params}, encoded, enc, inputs, enable_dropout=False,
                       method=network.T5Model.decode)
  return np.asarray(logits).reshape(b, n, t, -1)


def test_ensemble_is_the_log_linear_mixture_of_its_members(hf_and_ours, encoder_tokens):
  """Each result's score is the sum of its tokens' log-probs under the
  renormalised mean of the members' logits (each member with its own encoder)."""
  _, model, params = hf_and_ours
  leaves, treedef = jax.tree.flatten(params)
  rng = np.random.default_rng(5)
  other = jax.tree.unflatten(treedef, [x + 0.3 * rng.standard_normal(x.shape).astype(x.dtype)
                                       for x in leaves])
  # No length normalisation and no diversity penalty (HF's scores include it).
  out = _run(hf_and_ours, encoder_tokens, length_penalty=0.0, diversity_penalty=0.0,
             params=[params, other])
  assert out.sequences.shape == (3, 6, 6)
  mean = sum(_teacher_forced_log_probs(model, p, encoder_tokens, out.sequences)
             for p in (params, other)) / 2
  lp = np.asarray(jax.nn.log_softmax(mean, axis=-1))
  seqs = out.sequences
  token_lp = np.take_along_axis(lp, seqs[..., None], axis=-1)[..., 0]
  # Tokens after EOS (0 filler) carry no score.
  alive = np.cumsum(seqs == 1, axis=-1) - (seqs == 1) == 0
  np.testing.assert_allclose(out.scores, (token_lp * alive).sum(-1), rtol=1e-4, atol=1e-4)
  single = [_run(hf_and_ours, encoder_tokens, length_penalty=0.0, diversity_penalty=0.0, params=p)
            for p in (params, other)]
  assert all(not np.array_equal(s.sequences, out.sequences) for s in single)


def test_ensemble_of_one_model_twice_is_that_model(hf_and_ours, encoder_tokens, id_trie):
  _, trie = id_trie
  _, _, params = hf_and_ours
  one = _run(hf_and_ours, encoder_tokens, constraint=trie, lm_head="candidates")
  two = _run(hf_and_ours, encoder_tokens, constraint=trie, lm_head="candidates",
             params=[params, params])
  np.testing.assert_array_equal(two.sequences, one.sequences)
  np.testing.assert_allclose(two.scores, one.scores, atol=1e-5, rtol=0)
  np.testing.assert_array_equal(two.leaves, one.leaves)


def test_argument_checks(hf_and_ours, encoder_tokens, id_trie):
  _, trie = id_trie
  with pytest.raises(ValueError, match="must divide"):
    _run(hf_and_ours, encoder_tokens, num_beam_groups=4)
  with pytest.raises(ValueError, match="shorter than the longest valid ID"):
    _run(hf_and_ours, encoder_tokens, constraint=trie, max_new_tokens=3)
  with pytest.raises(ValueError, match="need a constraint"):
    _run(hf_and_ours, encoder_tokens, lm_head="candidates")
  with pytest.raises(ValueError, match="lm_head"):
    _run(hf_and_ours, encoder_tokens, lm_head="sparse")
  with pytest.raises(ValueError, match="normalize='legal'"):
    _run(hf_and_ours, encoder_tokens, constraint=trie, lm_head="candidates", normalize="vocab")
  with pytest.raises(ValueError, match="diversity_penalty"):
    _run(hf_and_ours, encoder_tokens, diversity_penalty=-1.0)
  with pytest.raises(ValueError, match="at least one"):
    _run(hf_and_ours, encoder_tokens, params=[])
