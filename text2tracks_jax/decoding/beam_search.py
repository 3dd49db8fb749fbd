"""Diverse beam search (Vijayakumar et al., 2016) with the T5X `decode_fn` contract.

Semantics are those of Hugging Face `generate(num_beams=..., num_beam_groups=...,
diversity_penalty=..., length_penalty=..., early_stopping=...,
num_return_sequences=num_beams)` in transformers 4.55 (`_group_beam_search` +
`BeamSearchScorer` + `HammingDiversityLogitsProcessor`; `_beam_search` when
there is one group), computed with static shapes under `jit`: one
`lax.while_loop` over decoding steps, every beam of every query in one batch,
the decoder's KV cache reordered by beam origin after each step.

One step, per query (B queries, G groups of K = num_beams / G beams each):

* the decoder gives next-token log-probabilities `log_softmax(logits)` for all
  G*K beams (under a prefix-trie constraint, illegal tokens get -inf);
* the groups then choose one after the other: group g's log-probabilities are
  lowered by `diversity_penalty` times the number of beams of groups 0..g-1 that
  chose the same token at this step (the paper's homogeneity penalty), added to
  the beams' running scores, and the top 2K of the K*V continuations are taken;
* an EOS continuation ranked among the top K becomes a finished hypothesis of
  the group, scored `sum_logprobs / length ** length_penalty` where `length`
  counts the generated tokens including EOS (HF's `generated_len` for
  encoder-decoders; the decoder start token is not counted); each group keeps
  its best K hypotheses;
* the first K non-EOS continuations (in rank order) are the group's new beams;
* a group is done (HF `early_stopping=False`) once it holds K hypotheses and
  `worst_hypothesis >= best / length ** length_penalty`, where `best` is the
  group's best candidate of the step (its best new beam with one group, as
  HF's `_beam_search`); a done group emits padding (token 0, which the
  homogeneity penalty of later groups counts, as in HF); the search stops when
  every group of every query is done or after `max_decode_len` steps; then the
  beams of unfinished groups join their hypotheses (length = number of steps).

The result holds every group's K hypotheses, best first (HF's `sequences` and
`sequences_scores`). Scores are sums of the *processed* log-probs, i.e. they
include the homogeneity penalties, as HF's.

Only the choice of tokens is sequential over groups; the rest of a step runs
for all groups at once. Each beam first keeps its best 2K + (G-1)*K next
tokens (one top-k over the vocabulary, on chunk maxima first); the penalty
lowers at most (G-1)*K tokens, so every group's exact top 2K is among them.

Beyond HF: a prefix-trie constraint (`prefix_trie.PrefixTrie`; each beam then
chooses among its node's children), per-query catalog filters over the trie's
leaves, logits for the legal tokens only (`lm_head="candidates"`), and
`distinct` (no two hypotheses of a query are the same sequence;
see `search`).

The T5X contract: `tokens_to_logits(DecodingState) -> (logits [B*beams, V],
new_cache)`; rows are batch-major (row b * num_beams + j is beam j of query b,
T5X's `flat_batch_beam_expand`); `cache` arrives with B rows and is expanded
here. `diverse_beam_search` returns `(sequences [B, num_decodes, L], scores
[B, num_decodes])` sorted by increasing score, as T5X's `beam_search` (so
`EncoderDecoderModel.predict_batch_with_aux` takes `[:, -1]` as the best);
bind it in gin with `EncoderDecoderModel.decode_fn = @diverse_beam_search`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Tuple, Union

import flax
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util
from jax import lax

from text2tracks_jax.ids import prefix_trie

Array = jax.Array
PyTree = Any

# HF's initial score of all but the first beam of each group, so that the beams
# of a group do not all pick the same first token.
INIT_OFFSET = -1e9
NEG_INF = -np.inf
LM_HEADS = ("dense", "candidates")
# Cache leaves never expanded or reordered (as T5X's `cache_map`).
_UNTOUCHED_CACHE_LEAVES = ("cached_bias", "position_embedder_index")


@flax.struct.dataclass
class DecodingState:
  """What `tokens_to_logits` sees (field names of T5X's `DecodingState`).

  Attributes:
    cur_index: [] int32, the step: number of tokens generated so far.
    sequences: [R, max_decode_len + 1] int32 beam prefixes, decoder start
      token (0) at position 0; R = batch * num_beams.
    cur_token: [R, 1] int32, the token to feed (position cur_index).
    cache: the decoder cache, R rows (leaves under `per_query_cache_keys`:
      one row per query).
    candidate_ids: None (return logits over the whole vocabulary, [R, V]), or
      int32 token ids, [R, C] (per row) or [1, C] (the same for every row):
      return their logits only, [R, C]. Only asked for when
      `lm_head="candidates"`; T5X's own `tokens_to_logits` ignores it.
  """
  cur_index: Array
  sequences: Array
  cur_token: Array
  cache: PyTree
  candidate_ids: Optional[Array] = None


@flax.struct.dataclass
class DecodeResult:
  """Output of `search`, best first.

  Attributes:
    sequences: [B, n, L] int32 generated tokens (EOS included, 0 after it);
      no decoder start token.
    scores: [B, n] float32, HF's `sequences_scores` (length-normalised sum of
      the processed log-probabilities). -inf marks filler entries (fewer legal
      completions than beams under a constraint); drop them. Scores near
      -1e9 / length come from HF's initial offset of all but the first beam
      of each group: copies of better sequences, possible only when a group
      has fewer than 2K legal continuations.
    leaves: [B, n] int32 trie leaf (valid ID) of each sequence, -1 if it is not
      a complete valid ID; None without a constraint.
  """
  sequences: Array
  scores: Array
  leaves: Optional[Array] = None


@flax.struct.dataclass
class _Hyps:
  """Each group's best finished hypotheses: [B, G, K, ...]."""
  seqs: Array    # [B, G, K, L] int32
  scores: Array  # [B, G, K] float32 (length-normalised)
  valid: Array   # [B, G, K] bool (slot holds a hypothesis)
  nodes: Array   # [B, G, K] int32 trie node reached (0 without a constraint)


@flax.struct.dataclass
class _State:
  step: Array           # [] int32
  live_seqs: Array      # [B, G, K, L + 1] int32, position 0 = decoder start
  live_scores: Array    # [B, G, K] float32 running sums of processed log-probs
  live_nodes: Array     # [B, G, K] int32 trie nodes
  hyps: _Hyps
  done: Array           # [B, G] bool
  cache: PyTree         # B * G * K rows (B rows before the first step if unexpanded)


@dataclasses.dataclass(frozen=True)
class _Config:
  """Static settings of one search."""
  batch: int
  groups: int
  group_size: int
  max_len: int
  eos_id: int
  pad_id: int
  diversity_penalty: Any    # float or traced scalar
  length_penalty: Any       # float or traced scalar
  alpha: Any                # None, float or traced scalar
  early_stopping: Union[bool, str]
  distinct: bool
  normalize: str            # "vocab" | "legal"
  lm_head: str              # one of LM_HEADS
  expand_first_step: bool
  cache_offset: int
  expand_index: bool
  per_query_cache_keys: Tuple[str, ...] = ()

  @property
  def num_beams(self) -> int:
    return self.groups * self.group_size

  @property
  def hamming(self) -> bool:
    """Homogeneity penalty on (with 0.0 it subtracts zeros: no effect)."""
    return self.groups > 1

  def length_norm(self, length):
    """Divisor of a summed log-prob at `length` generated tokens."""
    length = jnp.asarray(length, jnp.float32)
    if self.alpha is not None:  # T5X / GNMT brevity penalty
      return jnp.power((5.0 + length) / 6.0, self.alpha)
    return jnp.power(length, self.length_penalty)

  @property
  def penalty_grows_with_length(self):
    return (self.alpha if self.alpha is not None else self.length_penalty) > 0.0


# ----------------------------------------------------------------------------
# Cache expansion and reordering (T5X `cache_map` rules).


def _cache_map(fn: Callable, cache: PyTree, cache_offset: int,
               per_query_cache_keys: Tuple[str, ...], expand_index: bool) -> PyTree:
  """Applies `fn` to the cache leaves that hold per-beam data (never to the
  leaves under `per_query_cache_keys`)."""
  frozen = isinstance(cache, flax.core.FrozenDict)
  if frozen:
    cache = flax.core.unfreeze(cache)
  if not isinstance(cache, dict):  # any other pytree: every non-scalar leaf
    return jax.tree.map(lambda x: fn(x) if x.ndim > cache_offset else x, cache)
  flat = traverse_util.flatten_dict(cache)
  out = {}
  for path, x in flat.items():
    keep = (x.ndim <= cache_offset or path[-1] in _UNTOUCHED_CACHE_LEAVES
            or (path[-1] == "cache_index" and not expand_index)
            or any(k in path for k in per_query_cache_keys))
    out[path] = x if keep else fn(x)
  out = traverse_util.unflatten_dict(out)
  return flax.core.freeze(out) if frozen else out


def expand_cache(cache: PyTree, num_beams: int, *, cache_offset: int = 0,
                 per_query_cache_keys: Tuple[str, ...] = (),
                 expand_index: bool = False) -> PyTree:
  """[B, ...] -> [B * num_beams, ...], row b * num_beams + j = row b (T5X's
  `flat_batch_beam_expand`).

  Leaves under `per_query_cache_keys` keep their B rows; the scalar
  `cache_index` (or a [B] prefill index vector unless `expand_index`) and
  relative-position leaves are kept as they are; `cache_offset` is the batch
  axis (1 for scanned layers)."""
  return _cache_map(lambda x: jnp.repeat(x, num_beams, axis=cache_offset), cache,
                    cache_offset, tuple(per_query_cache_keys), expand_index)


def gather_cache(cache: PyTree, rows: Array, *, cache_offset: int = 0,
                 per_query_cache_keys: Tuple[str, ...] = (),
                 expand_index: bool = False) -> PyTree:
  """New row i = old row rows[i], by `expand_cache`'s rules (leaves under
  `per_query_cache_keys` stay: beams move within their query).

  `rows` must be in range (the search's are by construction): mode="clip"
  gathers without the out-of-bounds select of the default mode (faster
  decoding: BENCHMARKS.md, "Decoding")."""
  return _cache_map(lambda x: jnp.take(x, rows, axis=cache_offset, mode="clip"), cache,
                    cache_offset, tuple(per_query_cache_keys), expand_index)


def _cache_rules(cfg: _Config) -> dict:
  return dict(cache_offset=cfg.cache_offset, per_query_cache_keys=cfg.per_query_cache_keys,
              expand_index=cfg.expand_index)


# ----------------------------------------------------------------------------
# Small pure pieces.


def _select_best(scores: Array, valid: Array, k: int) -> Array:
  """Indices [..., k] of the best valid entries of [..., n], stable on ties.

  Valid entries first, by decreasing score; ties keep the earlier entry (so a
  hypothesis already held beats a new one of equal score, as HF's heap).
  """
  n = scores.shape[-1]
  invalid = (~valid).astype(jnp.int32)
  neg = jnp.where(valid, -scores, np.inf)
  index = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), scores.shape)
  _, _, order = lax.sort((invalid, neg, index), dimension=-1, num_keys=2, is_stable=True)
  return order[..., :k]


def _top_k(x: Array, k: int) -> Tuple[Array, Array]:
  """`lax.top_k` behind an optimisation barrier.

  XLA:CPU decomposes top-k into a full sort and turns it back into its fast
  TopK kernel only when the sort is followed by plain slices; inside the
  search, fusion merges those slices into their consumers and the step then
  spends most of its time sorting [B, K*V]. The barrier keeps the pattern.
  """
  return lax.optimization_barrier(lax.top_k(x, k))


_CHUNK = 32


def _top_k_wide(x: Array, k: int, chunk: int = _CHUNK) -> Tuple[Array, Array]:
  """(indices [R, k] of the top k of each row of x [R, C], row maxima [R, 1]),
  for wide rows (C >> k).

  Exact, with `lax.top_k`'s order and ties (lower index first): the top k
  entries lie in the k chunks (of 32) with the largest maxima, so the rows are
  cut into chunks, the k best chunks (by their maxima, lower chunk first on
  ties) are kept in their original order, and top-k runs over those k*32
  entries only. XLA:CPU's TopK kernel costs about O(C log k) per row on one
  thread; the chunk maxima are one vectorised reduction, and the row maxima
  (a log-softmax's shift) come from them instead of another pass over x.
  """
  rows, c = x.shape
  if c < 16 * chunk or k * chunk * 4 > c:
    return _top_k(x, k)[1], jnp.max(x, axis=-1, keepdims=True)
  chunks = -(-c // chunk)
  x = jnp.pad(x, ((0, 0), (0, chunks * chunk - c)), constant_values=NEG_INF)
  x = x.reshape(rows, chunks, chunk)
  # [R, chunks]; the barrier keeps XLA from folding the row maxima below back
  # into a second reduction over x.
  maxima = lax.optimization_barrier(jnp.max(x, axis=-1))
  _, best = _top_k(maxima, k)
  best = jnp.sort(best, axis=-1)  # [R, k] chunk ids, in order
  kept = jnp.take_along_axis(x, best[..., None], axis=1).reshape(rows, k * chunk)
  _, index = _top_k(kept, k)
  index = best[jnp.arange(rows)[:, None], index // chunk] * chunk + index % chunk
  return index, jnp.max(maxima, axis=-1, keepdims=True)


def _merge_hyps(old: _Hyps, seqs: Array, scores: Array, valid: Array, nodes: Array) -> _Hyps:
  """Keeps the best K of `old` [..., K] and the new candidates [..., M]."""
  k = old.scores.shape[-1]
  all_seqs = jnp.concatenate([old.seqs, seqs], axis=-2)
  all_scores = jnp.concatenate([old.scores, scores], axis=-1)
  all_valid = jnp.concatenate([old.valid, valid], axis=-1)
  all_nodes = jnp.concatenate([old.nodes, nodes], axis=-1)
  best = _select_best(all_scores, all_valid, k)
  take = lambda x: jnp.take_along_axis(x, best, axis=-1)
  return _Hyps(seqs=jnp.take_along_axis(all_seqs, best[..., None], axis=-2),
               scores=take(all_scores), valid=take(all_valid), nodes=take(all_nodes))


def _with_token(seqs: Array, t: Array, token: Array) -> Array:
  """Generated-token rows [..., L] with `token` [...] written at position t."""
  positions = jnp.arange(seqs.shape[-1])
  return jnp.where(positions == t, token[..., None], seqs)


# ----------------------------------------------------------------------------
# One decoding step.


@flax.struct.dataclass
class _Scores:
  """Next-token candidates of every beam, [B, G', K', C].

  G' = G, K' = K, except after an unexpanded first step ([B, 1, 1, C], every
  beam of a query alike). Candidate slots are in increasing token order, so
  ties break as over the vocabulary (HF / `lax.top_k`: lower index first).
  """
  lp: Array                     # float32 log-probs, -inf where illegal
  token: Array                  # int32 token of each slot
  node: Optional[Array] = None  # int32 trie child of each slot (under a trie)
  window_node: Optional[Array] = None   # [B, G', K', W] children (for distinct)
  window_valid: Optional[Array] = None

  def group(self, i: Array, k: int) -> "_Scores":
    """Group i's [B, K, ...] slices (i may be traced)."""
    def sel(x):
      if x is None:
        return None
      x = x[:, 0] if x.shape[1] == 1 else lax.dynamic_index_in_dim(x, i, 1, keepdims=False)
      return jnp.broadcast_to(x, (x.shape[0], k) + x.shape[2:])
    return jax.tree.map(sel, self, is_leaf=lambda x: x is None)


def _normalizer(logits: Array, valid: Optional[Array],
                row_max: Optional[Array] = None) -> Tuple[Array, Array]:
  """(shift, log-sum) [R, 1] with log_softmax = logits - shift - log-sum,
  over all entries (valid None) or the valid ones (shift 0 on empty rows);
  `row_max` [R, 1]: those entries' maxima, if already known."""
  if valid is not None:
    logits = jnp.where(valid, logits, NEG_INF)
  shift = jnp.max(logits, axis=-1, keepdims=True) if row_max is None else row_max
  shift = lax.stop_gradient(jnp.where(jnp.isfinite(shift), shift, 0.0))
  return shift, jnp.log(jnp.sum(jnp.exp(logits - shift), axis=-1, keepdims=True))


def _candidate_slots(cfg: _Config, trie) -> Optional[int]:
  """Slots per beam that suffice for an exact step, or None for all.

  A group takes its top 2K of K*C continuations after the homogeneity penalty,
  which lowers at most (G-1)*K tokens: each beam's best 2K + (G-1)*K slots
  before the penalty hold them all. Under `distinct` without a trie, EOS
  (whose score may be masked later) is kept as an extra slot; under a trie,
  `distinct` may mask any slot, so every slot is kept.
  """
  if cfg.distinct and trie is not None:
    return None
  m = 2 * cfg.group_size
  if cfg.hamming:
    m += (cfg.groups - 1) * cfg.group_size
  return m


def _top_slots(values: Array, valid: Optional[Array], m: Optional[int],
               keep: Optional[int]) -> Tuple[Optional[Array], Array]:
  """(indices [R, m (+1)] of each row's m best valid slots (plus slot `keep`),
  in increasing slot order, or None if every slot is kept anyway; each row's
  maximum over its valid slots [R, 1], -inf on empty rows)."""
  c = values.shape[-1]
  if valid is not None:
    values = jnp.where(valid, values, NEG_INF)
  if m is None or m + (keep is not None) >= c:
    return None, jnp.max(values, axis=-1, keepdims=True)
  ranked = values if keep is None else values.at[:, keep].set(NEG_INF)
  index, row_max = _top_k_wide(ranked, m)
  if keep is not None:
    index = jnp.concatenate([index, jnp.full((values.shape[0], 1), keep, index.dtype)], -1)
    row_max = jnp.maximum(row_max, values[:, keep, None])
  return jnp.sort(index, axis=-1), row_max


def _next_token_scores(state: _State, tokens_to_logits, cfg: _Config,
                       trie: Optional[prefix_trie.PrefixTrie],
                       catalog: Optional[prefix_trie.CatalogFilter], first: bool):
  """Runs the decoder; returns (`_Scores`, the decoder cache after the step)."""
  b, g, k = cfg.batch, cfg.groups, cfg.group_size
  unexpanded = first and not cfg.expand_first_step
  rows = b if unexpanded else b * g * k
  shape = (b, 1, 1, -1) if unexpanded else (b, g, k, -1)
  t = state.step
  seqs = state.live_seqs[:, 0, 0] if unexpanded else state.live_seqs.reshape(rows, -1)
  cur = jnp.take(seqs, t, axis=1)[:, None]
  nodes = state.live_nodes[:, 0, 0] if unexpanded else state.live_nodes.reshape(rows)
  m = _candidate_slots(cfg, trie)

  def call(candidate_ids=None):
    ds = DecodingState(cur_index=t, sequences=seqs, cur_token=cur, cache=state.cache,
                       candidate_ids=candidate_ids)
    logits, new_cache = tokens_to_logits(ds)
    return logits.reshape(rows, -1).astype(jnp.float32), new_cache

  def finish(logits, valid, shift, norm, token, node=None, keep=None,
             window=(None, None)) -> _Scores:
    """Log-probs of the kept slots of `logits` [R, C]; token None: slot = token;
    shift None: log-softmax over `logits`' valid slots."""
    index, row_max = _top_slots(logits, valid, m, keep)
    if shift is None:  # the shift is the row maximum the selection found
      shift, norm = _normalizer(logits, valid, row_max)
    if index is not None:
      take = lambda x: None if x is None else jnp.take_along_axis(x, index, axis=-1)
      logits, valid, node = take(logits), take(valid), take(node)
      token = index if token is None else take(token)
    elif token is None:
      token = jnp.broadcast_to(jnp.arange(logits.shape[-1], dtype=jnp.int32), logits.shape)
    lp = logits - shift - norm
    if valid is not None:
      lp = jnp.where(valid, lp, NEG_INF)
    reshape = lambda x: None if x is None else x.reshape(shape)
    return _Scores(reshape(lp), reshape(token), reshape(node), *(reshape(x) for x in window))

  if trie is None:
    logits, new_cache = call()
    keep = cfg.eos_id if cfg.distinct else None
    return finish(logits, None, None, None, None, keep=keep), new_cache

  # At least 2 slots, so that a group always has 2K candidates (extra slots: -inf).
  width = max(2, trie.root_degree if first else trie.max_degree)
  win_tok, win_node, win_valid = prefix_trie.children_window(trie, nodes, width)
  if catalog is not None:  # catalog filter (one shared row, or one per query)
    query = jnp.arange(rows) // (1 if unexpanded else g * k)
    if catalog.words.shape[0] == 1:
      query = jnp.zeros_like(query)
    win_valid &= prefix_trie.subtree_allowed(trie, catalog, win_node, query)
  window = (win_node, win_valid) if cfg.distinct else (None, None)
  legal = cfg.normalize == "legal"

  # Select over each beam's children window: slot j = j-th child (by token).
  depth_width = trie.root_degree if first else trie.depth_vocab_width
  if cfg.lm_head == "candidates" and depth_width <= min(4 * width, trie.vocab_size // 4):
    # Logits of the tokens that may follow any prefix of this length, shared by
    # all rows (one small matmul), then each beam's children by rank.
    depth_tokens = lax.dynamic_index_in_dim(jnp.asarray(trie.depth_vocab), t, 0, False)
    logits, new_cache = call(depth_tokens[None, :depth_width])  # [R, Wd]
    ranks = prefix_trie.children_ranks(trie, nodes, width)
    logits = jnp.take_along_axis(logits, ranks, axis=-1)
    shift, norm = None, None  # over the window's legal tokens
  elif cfg.lm_head == "candidates" and width <= trie.vocab_size // 4:
    logits, new_cache = call(win_tok)  # [R, W]: each row's legal tokens' logits
    shift, norm = None, None
  else:  # dense LM head (or a window too wide for gathering LM-head rows)
    logits, new_cache = call()
    shift, norm = (None, None) if legal else _normalizer(logits, None)
    logits = jnp.take_along_axis(logits, win_tok, axis=-1)
  return finish(logits, win_valid, shift, norm, win_tok, win_node, window=window), new_cache


def _catalog_filter(catalog_mask, num_leaves: int, batch: int) -> prefix_trie.CatalogFilter:
  """A `CatalogFilter` as given, or built from a [B or 1, L] / [L] bool mask; shape-checked."""
  if isinstance(catalog_mask, prefix_trie.CatalogFilter):
    catalog, what = catalog_mask, f"a CatalogFilter of {catalog_mask.words.shape[0]} queries"
    ok = (catalog.words.shape[0] in (1, batch)
          and catalog.num_words == num_leaves // 32 + 1)
    shape = f"words {catalog.words.shape}"
  else:
    mask = jnp.asarray(catalog_mask, bool)
    mask = mask[None] if mask.ndim == 1 else mask
    ok, shape = mask.shape in ((1, num_leaves), (batch, num_leaves)), f"shape {mask.shape}"
    catalog, what = (prefix_trie.catalog_filter(mask) if ok else None), "catalog_mask"
  if not ok:
    raise ValueError(f"{what} has {shape}; expected a mask of [{batch}, {num_leaves}] or "
                     f"[{num_leaves}] leaves")
  return catalog


def _exhausted(trie, catalog: Optional[prefix_trie.CatalogFilter], nodes: Array, taken: Array,
               reserved: Array) -> Array:
  """Whether the allowed leaves below each node are all spoken for.

  A leaf is spoken for when a hypothesis holds it; a beam of an earlier group
  that moved to the same node at this step reserves one more.

  Args:
    catalog: `CatalogFilter` of B or 1 queries, or None (all allowed).
    nodes: [B, K, W] int nodes; taken: [B, M] leaf ids of held hypotheses,
      -1 for none (distinct, and allowed by the catalog); reserved: [B, M']
      nodes of earlier groups' new beams (the sink for none).
  Returns:
    [B, K, W] bool.
  """
  lo = jnp.asarray(trie.leaf_lo)[nodes]
  hi = jnp.asarray(trie.leaf_hi)[nodes]
  if catalog is None:
    allowed = hi - lo
  else:
    b = nodes.shape[0]
    q = jnp.arange(b) if catalog.words.shape[0] > 1 else jnp.zeros(b, jnp.int32)
    allowed = prefix_trie.allowed_leaves(catalog, q[:, None, None], lo, hi)
  leaf = taken[:, None, None, :]
  held = jnp.sum((leaf >= lo[..., None]) & (leaf < hi[..., None]), axis=-1)
  held += jnp.sum(reserved[:, None, None, :] == nodes[..., None], axis=-1)
  return held >= allowed


def _group_select(cfg: _Config, trie, t: Array, sc: _Scores, live_seqs: Array,
                  live_scores: Array, chosen: Array, all_hyps: _Hyps,
                  catalog: Optional[prefix_trie.CatalogFilter],
                  reserved: Optional[Array]) -> Tuple[Array, Array]:
  """The top 2K continuations of one group (vectorised over queries).

  Args:
    sc: the group's `_Scores`, [B, K, C] (before the homogeneity penalty).
    live_seqs [B, K, L + 1], live_scores [B, K].
    chosen: [B, G*K] int32 tokens chosen by the earlier groups at this step
      (-1: none).
    all_hyps: every group's hypotheses [B, G*K, ...] (for `distinct`).
    catalog: `CatalogFilter` of B or 1 queries, or None.
    reserved: [B, G*K] trie nodes of the earlier groups' new beams at this
      step (the sink for none), for `distinct` under a trie.
  Returns:
    scores [B, 2K] and flat indices [B, 2K] into the group's K*C candidates.
  """
  lp = sc.lp
  b, k, c = lp.shape
  if cfg.hamming:  # times each token was chosen by the earlier groups
    penalty = jnp.sum(sc.token[..., None] == chosen[:, None, None, :], axis=-1)
    lp = lp - cfg.diversity_penalty * penalty.astype(jnp.float32)
  if cfg.distinct and trie is not None:
    # Prune children whose allowed leaves are all held by hypotheses or taken
    # by earlier groups' beams (every window slot is a candidate here).
    taken = jnp.where(all_hyps.valid & jnp.isfinite(all_hyps.scores),
                      jnp.asarray(trie.terminal_leaf)[all_hyps.nodes], -1)
    blocked = sc.window_valid & _exhausted(trie, catalog, sc.window_node, taken, reserved)
    lp = jnp.where(blocked, NEG_INF, lp)
  elif cfg.distinct:  # EOS may not complete a sequence some hypothesis holds
    completed = _with_token(live_seqs[..., 1:], t, jnp.full((b, k), cfg.eos_id, jnp.int32))
    same = jnp.all(completed[:, :, None, :] == all_hyps.seqs[:, None, :, :], axis=-1)
    held = jnp.any(same & all_hyps.valid[:, None, :], axis=-1)  # [B, K]
    lp = jnp.where(held[..., None] & (sc.token == cfg.eos_id), NEG_INF, lp)
  return _top_k((lp + live_scores[..., None]).reshape(b, k * c), 2 * k)


def _live_pick(is_eos: Array, k: int) -> Array:
  """Positions [..., K] of the first K non-EOS candidates among [..., 2K]."""
  rank = jnp.arange(2 * k)
  return jnp.argsort(jnp.where(is_eos, rank + 2 * k, rank), axis=-1, stable=True)[..., :k]


def _group_update(cfg: _Config, trie, t: Array, sc: _Scores, top_scores: Array,
                  top_index: Array, live_seqs: Array, live_nodes: Array, done: Array,
                  hyps: _Hyps):
  """Applies groups' selections; any leading dims `...` ([B] or [B, G]).

  Args:
    sc: `_Scores` [..., K, C]; top_scores, top_index: [..., 2K] from
      `_group_select`; live_seqs [..., K, L + 1]; live_nodes [..., K];
      done [...]; hyps: [..., K, ...].
  Returns:
    (new live tokens [..., K], scores, origin beam, nodes), new hypotheses,
    new done flags [...].
  """
  k, c = sc.lp.shape[-2:]
  lead = sc.lp.shape[:-2]
  eos = cfg.eos_id
  flat = lambda x: x.reshape(lead + (k * c,))
  beam = top_index // c
  token = jnp.take_along_axis(flat(sc.token), top_index, axis=-1)
  rank = jnp.arange(2 * k)
  is_eos = token == eos

  live_pick = _live_pick(is_eos, k)
  pick = lambda x: jnp.take_along_axis(x, live_pick, axis=-1)
  new_scores, new_tokens, new_beam = pick(top_scores), pick(token), pick(beam)

  def child_nodes(beams, tokens, index):
    if trie is None:
      return jnp.zeros_like(tokens)
    if sc.node is None:
      return prefix_trie.find_child(trie, jnp.take_along_axis(live_nodes, beams, -1), tokens)
    return jnp.take_along_axis(flat(sc.node), index, axis=-1)

  new_nodes = child_nodes(new_beam, new_tokens, pick(top_index))

  # Finished hypotheses: EOS candidates ranked within the top K. (HF would
  # also keep -inf ones, possible only under a constraint; they are filler.)
  gen = live_seqs[..., 1:]
  hyp_ok = is_eos & (rank < k) & ~done[..., None] & jnp.isfinite(top_scores)
  hyp_seqs = _with_token(jnp.take_along_axis(gen, beam[..., None], axis=-2), t, token)
  if cfg.distinct:  # two beams with the same prefix (HF's filler beams)
    same = jnp.all(hyp_seqs[..., :, None, :] == hyp_seqs[..., None, :, :], axis=-1)
    earlier = rank[None, :] < rank[:, None]  # [i, j]: j ranked before i
    hyp_ok &= ~jnp.any(same & earlier & hyp_ok[..., None, :], axis=-1)
  hyp_scores = top_scores / cfg.length_norm(t + 1)
  new_hyps = _merge_hyps(hyps, hyp_seqs, hyp_scores, hyp_ok, child_nodes(beam, token, top_index))

  # Done? (HF BeamHypotheses.is_done; `_beam_search`'s variant for one group.)
  full = jnp.all(new_hyps.valid, axis=-1)
  if cfg.early_stopping is True:
    finished = full
  else:
    best = top_scores[..., 0] if cfg.groups > 1 else new_scores[..., 0]
    length = t + 1
    if cfg.early_stopping == "never":
      length = jnp.where(cfg.penalty_grows_with_length, cfg.max_len, length)
    worst = jnp.min(jnp.where(new_hyps.valid, new_hyps.scores, np.inf), axis=-1)
    finished = full & (worst >= best / cfg.length_norm(length))

  # A group that was already done emits padding (HF: pad token, score 0).
  dead = done[..., None]
  new_tokens = jnp.where(dead, cfg.pad_id, new_tokens)
  new_scores = jnp.where(dead, 0.0, new_scores)
  new_beam = jnp.where(dead, jnp.arange(k), new_beam)
  new_nodes = jnp.where(dead, 0 if trie is None else trie.sink, new_nodes)
  return (new_tokens, new_scores, new_beam, new_nodes), new_hyps, done | finished


def _step(state: _State, tokens_to_logits, cfg: _Config, trie, catalog, first: bool) -> _State:
  """One decoding step for every group of every query."""
  b, g, k = cfg.batch, cfg.groups, cfg.group_size
  t = state.step
  scores, new_cache = _next_token_scores(state, tokens_to_logits, cfg, trie, catalog, first)
  chosen = jnp.full((b, g * k), -1, jnp.int32)
  flat = lambda hyps: jax.tree.map(lambda x: x.reshape((b, g * k) + x.shape[3:]), hyps)
  take = lambda x, i: lax.dynamic_index_in_dim(x, i, axis=1, keepdims=False)
  put = lambda x, y, i: lax.dynamic_update_index_in_dim(x, y, i, axis=1)

  if not cfg.distinct:
    # Groups choose one after the other, but only the choice is sequential
    # (through the homogeneity penalty); the rest runs for all groups at once.
    def select_body(i, carry):
      chosen, tops = carry
      sc = scores.group(i, k)
      top_scores, top_index = _group_select(cfg, trie, t, sc, take(state.live_seqs, i),
                                            take(state.live_scores, i), chosen, None,
                                            catalog, None)
      token = jnp.take_along_axis(sc.token.reshape(b, -1), top_index, axis=-1)
      new = jnp.take_along_axis(token, _live_pick(token == cfg.eos_id, k), axis=-1)
      new = jnp.where(take(state.done, i)[:, None], cfg.pad_id, new)
      chosen = lax.dynamic_update_slice_in_dim(chosen, new, i * k, axis=1)
      return chosen, (put(tops[0], top_scores, i), put(tops[1], top_index, i))

    tops = (jnp.zeros((b, g, 2 * k), jnp.float32), jnp.zeros((b, g, 2 * k), jnp.int32))
    _, tops = lax.fori_loop(0, g, select_body, (chosen, tops))
    full = lambda x: jnp.broadcast_to(x, (b, g, k) + x.shape[3:])
    sc = jax.tree.map(lambda x: None if x is None else full(x), scores,
                      is_leaf=lambda x: x is None)
    out, all_hyps, done = _group_update(cfg, trie, t, sc, tops[0], tops[1], state.live_seqs,
                                        state.live_nodes, state.done, state.hyps)
    tokens, new_scores, beams, nodes = out
  else:
    reserved = None if trie is None else jnp.full((b, g * k), trie.sink, jnp.int32)

    def group_body(i, carry):  # each group sees the hypotheses of the earlier ones
      hyps, chosen, reserved, outs = carry
      sc = scores.group(i, k)
      top_scores, top_index = _group_select(cfg, trie, t, sc, take(state.live_seqs, i),
                                            take(state.live_scores, i), chosen, flat(hyps),
                                            catalog, reserved)
      out, new_hyps, new_done = _group_update(
          cfg, trie, t, sc, top_scores, top_index, take(state.live_seqs, i),
          take(state.live_nodes, i), take(state.done, i), jax.tree.map(lambda x: take(x, i), hyps))
      hyps = jax.tree.map(lambda x, y: put(x, y, i), hyps, new_hyps)
      if reserved is not None:
        reserved = lax.dynamic_update_slice_in_dim(reserved, out[3], i * k, axis=1)
      chosen = lax.dynamic_update_slice_in_dim(chosen, out[0], i * k, axis=1)
      outs = tuple(put(o, v, i) for o, v in zip(outs, out + (new_done,)))
      return hyps, chosen, reserved, outs

    outs = (jnp.zeros((b, g, k), jnp.int32), jnp.zeros((b, g, k), jnp.float32),
            jnp.zeros((b, g, k), jnp.int32), jnp.zeros((b, g, k), jnp.int32), state.done)
    all_hyps, _, _, outs = lax.fori_loop(0, g, group_body,
                                         (state.hyps, chosen, reserved, outs))
    tokens, new_scores, beams, nodes, done = outs

  live_seqs = jnp.take_along_axis(state.live_seqs, beams[..., None], axis=2)
  live_seqs = jnp.where(jnp.arange(cfg.max_len + 1) == t + 1, tokens[..., None], live_seqs)
  if first and not cfg.expand_first_step:  # every beam of a query holds the same prefix
    cache = expand_cache(new_cache, cfg.num_beams, **_cache_rules(cfg))
  else:
    origin = (jnp.arange(b)[:, None, None] * (g * k) + jnp.arange(g)[None, :, None] * k
              + beams).reshape(-1)
    cache = gather_cache(new_cache, origin, **_cache_rules(cfg))
  return _State(step=t + 1, live_seqs=live_seqs, live_scores=new_scores, live_nodes=nodes,
                hyps=all_hyps, done=done, cache=cache)


def _finalize(state: _State, cfg: _Config, trie, num_return: int) -> DecodeResult:
  """Unfinished groups add their beams; the best `num_return` hypotheses, best first."""
  b, g, k = cfg.batch, cfg.groups, cfg.group_size
  joins = ~state.done[..., None] & jnp.isfinite(state.live_scores)  # [B, G, K]
  live = state.live_seqs[..., 1:]
  final_scores = state.live_scores / cfg.length_norm(state.step)
  if not cfg.distinct:
    hyps = _merge_hyps(state.hyps, live, final_scores, joins, state.live_nodes)
  else:  # group by group, skipping sequences another hypothesis holds
    hyps = state.hyps
    for i in range(g):
      held = jax.tree.map(lambda x: x.reshape((b, g * k) + x.shape[3:]), hyps)
      same = jnp.all(live[:, i, :, None, :] == held.seqs[:, None, :, :], axis=-1)
      fresh = joins[:, i] & ~jnp.any(same & held.valid[:, None, :], axis=-1)
      twin = jnp.all(live[:, i, :, None, :] == live[:, i, None, :, :], axis=-1)
      earlier = jnp.arange(k)[None, :] < jnp.arange(k)[:, None]
      fresh &= ~jnp.any(twin & earlier[None] & joins[:, i, None, :], axis=-1)
      merged = _merge_hyps(jax.tree.map(lambda x: x[:, i], hyps), live[:, i],
                           final_scores[:, i], fresh, state.live_nodes[:, i])
      hyps = jax.tree.map(lambda x, y: x.at[:, i].set(y), hyps, merged)
  flat = jax.tree.map(lambda x: x.reshape((b, g * k) + x.shape[3:]), hyps)
  best = _select_best(flat.scores, flat.valid, num_return)
  seqs = jnp.take_along_axis(flat.seqs, best[..., None], axis=1)
  scores = jnp.take_along_axis(flat.scores, best, axis=1)
  valid = jnp.take_along_axis(flat.valid, best, axis=1)
  scores = jnp.where(valid, scores, NEG_INF)
  leaves = None
  if trie is not None:
    nodes = jnp.take_along_axis(flat.nodes, best, axis=1)
    leaves = jnp.where(valid & jnp.isfinite(scores),
                       jnp.asarray(trie.terminal_leaf)[nodes], -1)
  return DecodeResult(sequences=seqs, scores=scores, leaves=leaves)


# ----------------------------------------------------------------------------
# Public entry points.


def search(inputs: Array, cache: PyTree, tokens_to_logits: Callable, eos_id: int,
           num_decodes: int = 4, *, num_beam_groups: int = 1,
           diversity_penalty: float = 0.0, length_penalty: float = 1.0,
           alpha: Optional[float] = None, early_stopping: Union[bool, str] = False,
           max_decode_len: Optional[int] = None, num_return_sequences: Optional[int] = None,
           cache_offset: int = 0, initial_index: Optional[Array] = None,
           constraint: Optional[prefix_trie.PrefixTrie] = None,
           catalog_mask: Optional[Array] = None, distinct: bool = False,
           lm_head: str = "dense", normalize: Optional[str] = None,
           pad_id: int = 0, expand_first_step: bool = True,
           per_query_cache_keys: Tuple[str, ...] = ()) -> DecodeResult:
  """Diverse beam search; returns a `DecodeResult`, best first.

  Args:
    inputs: [B, max_decode_len] int32; only its shape is used (decoding starts
      from the decoder start token 0; decoder prompts are not supported).
    cache: decoder cache with B rows (on axis `cache_offset`).
    tokens_to_logits: `DecodingState -> (logits [R, V] (or [R, 1, V]), cache)`.
    eos_id: end token.
    num_decodes: number of beams (HF `num_beams`).
    num_beam_groups: HF `num_beam_groups`; must divide `num_decodes`.
    diversity_penalty: HF `diversity_penalty` (homogeneity penalty), >= 0.
    length_penalty: HF `length_penalty`: scores are sum_logprobs / length**lp.
    alpha: if given, T5X's brevity penalty ((5 + length) / 6)**alpha instead.
    early_stopping: HF `early_stopping`: False (heuristic), True or "never".
    max_decode_len: number of decoding steps (HF `max_new_tokens`); default
      `inputs.shape[1]`. Output length.
    num_return_sequences: hypotheses returned per query (default all).
    cache_offset: batch axis of the cache leaves (1 for scanned layers).
    initial_index: T5X prefill lengths; only zeros (no prompt) are supported;
      when given, `cache_index` leaves are expanded per beam too.
    constraint: a `prefix_trie.PrefixTrie`: only tokens that extend a valid ID
      prefix are allowed, EOS only after a complete ID.
    catalog_mask: [B, num_leaves] or [num_leaves] (shared: cheaper) bool: the
      IDs each query may return (needs `constraint`), packed into a bitset
      per call (reads num_leaves bits per row); or a prebuilt
      `prefix_trie.CatalogFilter` of B or 1 queries, which costs two word
      reads per checked node whatever the catalog size.
    distinct: no two hypotheses of a query are the same
      sequence: a group may not complete (EOS) a sequence another hypothesis
      holds (earlier groups at this step, or any group before), nor, when the
      search ends, keep an unfinished beam equal to one. Under a trie it is
      stronger: a beam may not enter a subtree whose allowed IDs are all held
      by hypotheses or already entered by an earlier group's beam at this
      step, so beams do not run into dead ends; N beams then give N distinct
      IDs unless fewer are reachable (filler entries, score -inf). Off to
      match HF.
    lm_head: "dense" (`tokens_to_logits` returns logits over the vocabulary)
      or "candidates" (it is asked for the logits of the legal next tokens
      only, `DecodingState.candidate_ids`; log-probs are then normalised over
      the legal tokens, `normalize="legal"`).
    normalize: under a constraint, "vocab" (default with dense logits: log
      softmax over the whole vocabulary, then mask, as HF's
      `prefix_allowed_tokens_fn`) or "legal" (mask, then log softmax).
    pad_id: token emitted by finished groups (HF pad token, counted by the
      homogeneity penalty).
    expand_first_step: run the first step on B * num_beams rows (T5X
      contract). False runs it on the B unexpanded rows (every beam of a query
      is the same then) and expands the cache afterwards; needs a
      `tokens_to_logits` that works for any number of rows.
    per_query_cache_keys: names in cache paths whose leaves keep one row per
      query (B rows, on axis `cache_offset`): never expanded nor reordered,
      so `tokens_to_logits` must broadcast them over each query's beams
      (rows b * num_beams + j), as `network.T5Model` does for its
      cross-attention keys/values. Saves copying them num_beams times and
      reading them once per beam at every step.
  """
  if num_decodes % num_beam_groups:
    raise ValueError(f"num_beam_groups={num_beam_groups} must divide num_decodes={num_decodes}")
  if isinstance(diversity_penalty, (int, float)) and diversity_penalty < 0:
    raise ValueError(f"diversity_penalty must be >= 0, got {diversity_penalty}")
  if early_stopping not in (True, False, "never"):
    raise ValueError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")
  if normalize is None:
    normalize = "legal" if lm_head == "candidates" else "vocab"
  if normalize not in ("vocab", "legal"):
    raise ValueError(f"normalize must be 'vocab' or 'legal', got {normalize!r}")
  if lm_head not in LM_HEADS:
    raise ValueError(f"lm_head must be one of {LM_HEADS}, got {lm_head!r}")
  if constraint is None and (lm_head == "candidates" or catalog_mask is not None):
    raise ValueError("lm_head='candidates' and catalog_mask need a constraint")
  if lm_head == "candidates" and normalize == "vocab":
    raise ValueError("lm_head='candidates' normalises over the legal tokens (normalize='legal')")
  max_len = int(inputs.shape[1] if max_decode_len is None else max_decode_len)
  if max_len < 1:
    raise ValueError(f"max_decode_len must be >= 1, got {max_len}")
  num_return = num_decodes if num_return_sequences is None else int(num_return_sequences)
  if not 1 <= num_return <= num_decodes:
    raise ValueError(f"num_return_sequences must be in [1, {num_decodes}], got {num_return}")
  batch = int(inputs.shape[0])
  cfg = _Config(batch=batch, groups=num_beam_groups, group_size=num_decodes // num_beam_groups,
                max_len=max_len, eos_id=int(eos_id), pad_id=int(pad_id),
                diversity_penalty=diversity_penalty, length_penalty=length_penalty,
                alpha=alpha, early_stopping=early_stopping,
                distinct=bool(distinct), normalize=normalize,
                lm_head=lm_head,
                expand_first_step=bool(expand_first_step), cache_offset=int(cache_offset),
                expand_index=initial_index is not None,
                per_query_cache_keys=tuple(per_query_cache_keys))
  catalog = None
  if catalog_mask is not None:
    catalog = _catalog_filter(catalog_mask, constraint.num_leaves, batch)

  g, k = cfg.groups, cfg.group_size
  init_scores = jnp.where(jnp.arange(k) == 0, 0.0, INIT_OFFSET).astype(jnp.float32)
  state = _State(
      step=jnp.array(0, jnp.int32),
      live_seqs=jnp.zeros((batch, g, k, max_len + 1), jnp.int32),
      live_scores=jnp.broadcast_to(init_scores, (batch, g, k)),
      live_nodes=jnp.zeros((batch, g, k), jnp.int32),
      hyps=_Hyps(seqs=jnp.zeros((batch, g, k, max_len), jnp.int32),
                 scores=jnp.full((batch, g, k), NEG_INF, jnp.float32),
                 valid=jnp.zeros((batch, g, k), bool),
                 nodes=jnp.zeros((batch, g, k), jnp.int32)),
      done=jnp.zeros((batch, g), bool),
      cache=(expand_cache(cache, cfg.num_beams, **_cache_rules(cfg)) if cfg.expand_first_step
             else cache))

  state = _step(state, tokens_to_logits, cfg, constraint, catalog, first=True)
  if max_len > 1:
    state = lax.while_loop(
        lambda s: (s.step < max_len) & ~jnp.all(s.done),
        lambda s: _step(s, tokens_to_logits, cfg, constraint, catalog, first=False),
        state)
  return _finalize(state, cfg, constraint, num_return)


def diverse_beam_search(inputs: Array, cache: PyTree, tokens_to_logits: Callable,
                        eos_id: int, num_decodes: int = 4, *,
                        num_beam_groups: int = 1, diversity_penalty: float = 0.0,
                        length_penalty: float = 1.0, alpha: Optional[float] = None,
                        early_stopping: Union[bool, str] = False,
                        max_decode_len: Optional[int] = None,
                        decode_rng: Optional[Array] = None, cache_offset: int = 0,
                        initial_index: Optional[Array] = None,
                        **kwargs) -> Tuple[Array, Array]:
  """T5X `decode_fn`: (sequences [B, num_decodes, L], scores [B, num_decodes]).

  Sorted by increasing score (the best is `[:, -1]`), as T5X's `beam_search`.
  `decode_rng` is unused (deterministic search). Other keyword arguments are
  those of `search` (constraint, catalog_mask, distinct, ...).
  """
  del decode_rng
  result = search(inputs, cache, tokens_to_logits, eos_id, num_decodes,
                  num_beam_groups=num_beam_groups, diversity_penalty=diversity_penalty,
                  length_penalty=length_penalty, alpha=alpha, early_stopping=early_stopping,
                  max_decode_len=max_decode_len, cache_offset=cache_offset,
                  initial_index=initial_index, **kwargs)
  return result.sequences[:, ::-1], result.scores[:, ::-1]
