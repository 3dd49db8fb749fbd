"""`generate`: diverse beam search over our `network.T5Model`, one jitted call.

The encoder runs once per query; the decoder cache is created for the B
queries as a beam-slot cache (`network.init_decode_cache(..., num_beams)`:
cross-attention keys/values projected once, num_beams self-attention slots
per query), the first step runs on those B rows, and from then on only the
small `kv_beam` table (which slot holds each beam's key/value at each
position) has B * num_beams rows and is reordered by beam origin after every
step; no key or value is copied per beam or moved when beams are reordered
(`network.BEAM_SLOT_PER_QUERY_CACHE_KEYS`; each step attends with each
query's beams folded into its query positions). With
`lm_head="candidates"` under a trie, the LM head is a matmul against the
columns of the tokens that may follow a prefix of the current length (e.g.
the 256 codes of one semantic-ID level) instead of the whole vocabulary::

  out = generate(model, params, encoder_input_tokens, num_beams=10,
                 num_beam_groups=5, diversity_penalty=0.5, max_new_tokens=4,
                 constraint=trie)
  out.sequences  # [B, 10, 4] int32, best first, EOS included, 0 after it
  out.scores     # [B, 10] float32 (HF sequences_scores); -inf = filler
  out.leaves     # [B, 10] int32 trie leaf of each sequence (-1: not a valid ID)

`params` may also be a list of parameter trees of the same architecture (e.g.
seeds of one recipe): an ensemble whose next-token distribution is the
normalised geometric mean of its members' (their logits averaged; each
member's normaliser is a per-row constant, so this is exact under "vocab" and
"legal" normalisation alike). Each member encodes the query and keeps its own
decoder cache.
"""

from __future__ import annotations

import functools
from typing import Optional, Union

import flax
import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from text2tracks_jax.decoding import beam_search
from text2tracks_jax.ids import prefix_trie
from text2tracks_jax.models import network, partitioning

# Cache entries kept at B rows (one per query) for the whole search: the
# cross-attention entries and the beam-slot self-attention keys/values.
PER_QUERY_CACHE_KEYS = network.BEAM_SLOT_PER_QUERY_CACHE_KEYS


def _member(i: int) -> str:
  return f"member_{i}"


def make_tokens_to_logits(model: network.T5Model, params):
  """T5X-style `tokens_to_logits(DecodingState) -> (logits [R, V or C], cache)`.

  `DecodingState.candidate_ids` [R, C] gathers each row's LM-head columns
  (`network.candidate_logits`); [1, C] (shared by all rows) is one matmul
  against those C columns.
  """
  def tokens_to_logits(state: beam_search.DecodingState):
    ids = state.candidate_ids
    if ids is not None and ids.shape[0] == 1:
      hidden, cache = network.decode_step(model, params, state.cache, state.cur_token,
                                          return_hidden=True)
      kernel = jnp.take(network.lm_head_kernel(params), ids[0], axis=1)
      return network.dense_logits(hidden[:, 0], kernel, model.config.float32_logits), cache
    logits, cache = network.decode_step(model, params, state.cache, state.cur_token,
                                        candidate_ids=ids)
    return logits[:, 0], cache
  return tokens_to_logits


def make_ensemble_tokens_to_logits(model: network.T5Model, members):
  """`tokens_to_logits` of a log-linear ensemble: the members' logits averaged.

  The cache is {"member_i": member i's cache}, so the search's cache rules
  (matched on leaf paths) apply to every member.
  """
  fns = [make_tokens_to_logits(model, p) for p in members]

  def tokens_to_logits(state: beam_search.DecodingState):
    logits, cache = [], {}
    for i, fn in enumerate(fns):
      member_logits, cache[_member(i)] = fn(state.replace(cache=state.cache[_member(i)]))
      logits.append(member_logits.astype(jnp.float32))
    return sum(logits) / len(logits), cache
  return tokens_to_logits


@functools.partial(jax.jit, static_argnames=(
    "model", "num_beams", "num_beam_groups", "early_stopping", "max_new_tokens",
    "num_return_sequences", "distinct", "lm_head", "normalize", "eos_id",
    "mesh", "rules"))
def _generate(params, encoder_input_tokens, constraint, catalog_mask, diversity_penalty,
              length_penalty, *, model, num_beams, num_beam_groups, early_stopping,
              max_new_tokens, num_return_sequences, distinct, lm_head,
              normalize, eos_id, mesh, rules):
  with partitioning.axis_rules(mesh, rules):  # the network's activation constraints
    tokens = encoder_input_tokens.astype(jnp.int32)
    if isinstance(params, tuple):  # an ensemble: one encoding and cache per member
      cache = {_member(i): flax.core.unfreeze(_init_cache(model, p, tokens, max_new_tokens,
                                                          num_beams))
               for i, p in enumerate(params)}
      tokens_to_logits = make_ensemble_tokens_to_logits(model, params)
    else:
      cache = _init_cache(model, params, tokens, max_new_tokens, num_beams)
      tokens_to_logits = make_tokens_to_logits(model, params)
    return beam_search.search(
        jnp.zeros((tokens.shape[0], max_new_tokens), jnp.int32), cache,
        tokens_to_logits, eos_id, num_beams,
        num_beam_groups=num_beam_groups, diversity_penalty=diversity_penalty,
        length_penalty=length_penalty, early_stopping=early_stopping,
        max_decode_len=max_new_tokens, num_return_sequences=num_return_sequences,
        constraint=constraint, catalog_mask=catalog_mask,
        distinct=distinct,
        lm_head=lm_head, normalize=normalize,
        expand_first_step=False, per_query_cache_keys=PER_QUERY_CACHE_KEYS)


def _init_cache(model, params, tokens, max_new_tokens, num_beams):
  encoded = model.apply({"params": params}, tokens, enable_dropout=False,
                        method=network.T5Model.encode)
  return network.init_decode_cache(model, params, encoded, tokens, max_new_tokens, num_beams)


def generate(model: network.T5Model, params, encoder_input_tokens, *, num_beams: int,
             num_beam_groups: int = 1, diversity_penalty: float = 0.0,
             length_penalty: float = 1.0, early_stopping: Union[bool, str] = False,
             max_new_tokens: int, num_return_sequences: Optional[int] = None,
             constraint: Optional[prefix_trie.PrefixTrie] = None,
             catalog_mask=None, distinct: bool = False,
             lm_head: str = "dense", normalize: Optional[str] = None,
             eos_id: int = 1,
             mesh: Optional[Mesh] = None) -> beam_search.DecodeResult:
  """Diverse beam search from encoder tokens, one jitted call.

  Compiled once per shapes and structural settings; `diversity_penalty` and
  `length_penalty` are traced (changing them does not recompile).

  Args:
    model, params: a `network.T5Model` and its parameters, or a list of
      parameter trees of that model: an ensemble (module docstring).
    encoder_input_tokens: [B, S] int, 0 = padding (mixed lengths are fine).
    num_beams, num_beam_groups, diversity_penalty, length_penalty,
      early_stopping, max_new_tokens, num_return_sequences: as Hugging Face
      `generate` (see `beam_search.search`).
    constraint: a `prefix_trie.PrefixTrie` of the valid IDs (or None). Every
      finite-score result is then a complete valid ID, provided
      `max_new_tokens >= constraint.max_length` (checked).
    catalog_mask: [B, num_leaves] bool, IDs allowed per query, or
      [num_leaves] for one filter shared by all queries (cheaper); or a
      `prefix_trie.CatalogFilter` built once (`prefix_trie.catalog_filter`)
      for filters reused across calls (cheapest at millions of IDs).
    distinct: no two returned hypotheses are the same sequence.
    lm_head: "dense" (logits over the vocabulary) or "candidates" (logits of
      the legal next tokens only; needs `constraint`; log-probs normalised
      over the legal tokens).
    normalize: "vocab" or "legal" (see `beam_search.search`); default "vocab"
      for the dense head (HF semantics) and "legal" for candidates.
    eos_id: end token.
    mesh: the `data` x `model` mesh that `params` and the tokens live on: the
      search is traced under its logical axis rules
      (`partitioning.axis_rules`, rules `standard_logical_axis_rules()`), so
      the network's activation constraints apply. None: unconstrained.
  Returns:
    `DecodeResult`: sequences [B, n, max_new_tokens], scores [B, n], leaves
    [B, n] (None without a constraint), best first; n = num_return_sequences
    (default num_beams).
  """
  if lm_head not in beam_search.LM_HEADS:
    raise ValueError(f"lm_head must be one of {beam_search.LM_HEADS}, got {lm_head!r}")
  if constraint is not None and max_new_tokens < constraint.max_length:
    raise ValueError(f"max_new_tokens={max_new_tokens} is shorter than the longest valid ID "
                     f"({constraint.max_length} tokens with EOS)")
  if catalog_mask is not None and not isinstance(catalog_mask, prefix_trie.CatalogFilter):
    catalog_mask = jnp.asarray(catalog_mask, bool)
  if diversity_penalty < 0:
    raise ValueError(f"diversity_penalty must be >= 0, got {diversity_penalty}")
  if isinstance(params, (list, tuple)):
    if not params:
      raise ValueError("an ensemble needs at least one parameter tree")
    params = tuple(params) if len(params) > 1 else params[0]
  return _generate(params, jnp.asarray(encoder_input_tokens), constraint, catalog_mask,
                   jnp.float32(diversity_penalty), jnp.float32(length_penalty),
                   model=model, num_beams=num_beams, num_beam_groups=num_beam_groups,
                   early_stopping=early_stopping,
                   max_new_tokens=int(max_new_tokens),
                   num_return_sequences=num_return_sequences,
                   distinct=bool(distinct), lm_head=lm_head,
                   normalize=normalize, eos_id=int(eos_id),
                   mesh=mesh,
                   rules=partitioning.standard_logical_axis_rules() if mesh is not None else None)
