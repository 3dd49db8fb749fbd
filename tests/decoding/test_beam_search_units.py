"""Pieces of the beam search that need no model."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from text2tracks_jax.decoding import beam_search


@pytest.mark.parametrize("shape, k", [((6, 8192), 12), ((5, 1000), 4), ((3, 700), 40)])
def test_top_k_wide_equals_lax_top_k_with_ties(shape, k):
  rng = np.random.default_rng(0)
  x = np.round(rng.normal(size=shape), 1).astype(np.float32)  # many ties
  x[0, 50:300] = 9.0
  x[1] = -np.inf
  x[1, shape[1] - 1] = 0.0
  got, row_max = jax.jit(lambda x: beam_search._top_k_wide(x, k))(x)
  np.testing.assert_array_equal(got, lax.top_k(x, k)[1])
  np.testing.assert_array_equal(row_max, x.max(axis=-1, keepdims=True))


@pytest.mark.parametrize("c", [4096, 300])  # chunked selection, and plain top-k
@pytest.mark.parametrize("keep", [None, 1])
def test_top_slots_returns_the_best_valid_slots_and_the_row_maximum(c, keep):
  rng = np.random.default_rng(1)
  values = rng.normal(size=(4, c)).astype(np.float32)
  valid = rng.random((4, c)) < 0.7
  values[0, 1] = 50.0  # the kept slot is the row maximum
  valid[0, 1] = True
  valid[2, 5] = False
  values[2, 5] = 99.0  # an invalid maximum is no maximum
  index, row_max = jax.jit(lambda v, ok: beam_search._top_slots(v, ok, 6, keep))(values, valid)
  masked = np.where(valid, values, -np.inf)
  np.testing.assert_array_equal(row_max, masked.max(axis=-1, keepdims=True))
  ranked = masked.copy()
  if keep is not None:
    ranked[:, keep] = -np.inf
  want = np.sort(np.argsort(-ranked, axis=-1, kind="stable")[:, :6], axis=-1)
  if keep is not None:
    want = np.sort(np.concatenate([want, np.full((4, 1), keep)], -1), axis=-1)
  np.testing.assert_array_equal(index, want)


def test_merge_keeps_best_and_prefers_held_on_ties():
  old = beam_search._Hyps(seqs=jnp.array([[[1], [2]]]), scores=jnp.array([[-1.0, -3.0]]),
                          valid=jnp.array([[True, True]]), nodes=jnp.zeros((1, 2), jnp.int32))
  merged = beam_search._merge_hyps(old, jnp.array([[[3], [4], [5]]]),
                                   jnp.array([[-3.0, -0.5, -9.0]]),
                                   jnp.array([[True, True, False]]), jnp.zeros((1, 3), jnp.int32))
  assert merged.seqs[0, :, 0].tolist() == [4, 1]
  merged = beam_search._merge_hyps(old, jnp.array([[[3]]]), jnp.array([[-3.0]]),
                                   jnp.array([[True]]), jnp.zeros((1, 1), jnp.int32))
  assert merged.seqs[0, :, 0].tolist() == [1, 2]  # equal score: the held one stays
  empty = old.replace(valid=jnp.array([[False, False]]))
  merged = beam_search._merge_hyps(empty, jnp.array([[[3]]]), jnp.array([[-np.inf]]),
                                   jnp.array([[True]]), jnp.zeros((1, 1), jnp.int32))
  assert merged.valid[0].tolist() == [True, False]  # any hypothesis beats an empty slot


def _config(**changes):
  fields = dict(batch=2, groups=1, group_size=3, max_len=4, eos_id=1, pad_id=0,
                diversity_penalty=0.0, length_penalty=1.0, alpha=None, early_stopping=False,
                distinct=False, normalize="vocab", lm_head="dense",
                expand_first_step=True, cache_offset=0, expand_index=False)
  return beam_search._Config(**{**fields, **changes})


def test_cache_expand_and_gather_follow_t5x_rules():
  cache = {"decoder": {
      "cache_index": jnp.array(0),
      "layers_0": {"self_attention": {"cached_key": jnp.arange(2.0)[:, None]},
                   "encoder_decoder_attention": {"cached_key": jnp.arange(2.0)[:, None]}}}}
  expanded = beam_search.expand_cache(flax.core.freeze(cache), 3)
  assert isinstance(expanded, flax.core.FrozenDict)
  layer = expanded["decoder"]["layers_0"]
  assert layer["self_attention"]["cached_key"][:, 0].tolist() == [0, 0, 0, 1, 1, 1]
  assert layer["encoder_decoder_attention"]["cached_key"][:, 0].tolist() == [0, 0, 0, 1, 1, 1]
  assert expanded["decoder"]["cache_index"].shape == ()
  rows = jnp.array([2, 0, 1, 5, 5, 3])
  gathered = beam_search.gather_cache(expanded, rows)["decoder"]["layers_0"]
  for leaf in ("self_attention", "encoder_decoder_attention"):
    assert gathered[leaf]["cached_key"][:, 0].tolist() == [0, 0, 0, 1, 1, 1]
  # Scanned layers: the batch is axis 1; a prefill index vector is expanded too.
  scanned = {"cached_key": jnp.zeros((4, 2, 5)), "cache_index": jnp.zeros((2,), jnp.int32)}
  out = beam_search.expand_cache(scanned, 3, cache_offset=1, expand_index=True)
  assert out["cached_key"].shape == (4, 6, 5) and out["cache_index"].shape == (2,)
  out = beam_search.expand_cache({"cache_index": jnp.zeros((2,), jnp.int32)}, 3,
                                 expand_index=True)
  assert out["cache_index"].shape == (6,)
  # Per-query leaves keep one row per query: never expanded nor gathered.
  per_query = dict(per_query_cache_keys=("encoder_decoder_attention",))
  expanded = beam_search.expand_cache(cache, 3, **per_query)["decoder"]["layers_0"]
  assert expanded["self_attention"]["cached_key"].shape == (6, 1)
  assert expanded["encoder_decoder_attention"]["cached_key"].shape == (2, 1)
  gathered = beam_search.gather_cache({"decoder": {"layers_0": expanded}}, rows, **per_query)
  assert gathered["decoder"]["layers_0"]["encoder_decoder_attention"]["cached_key"] is expanded[
      "encoder_decoder_attention"]["cached_key"]


def test_length_penalties():
  hf = _config(length_penalty=2.0)
  assert float(hf.length_norm(3)) == pytest.approx(9.0)
  t5x = _config(alpha=0.6)
  assert float(t5x.length_norm(3)) == pytest.approx(((5 + 3) / 6) ** 0.6)
