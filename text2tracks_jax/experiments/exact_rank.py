"""Search error vs model error: every ID of the catalog scored exactly.

Beam search under the prefix trie keeps a few prefixes per step, so a track
whose ID starts with a token the model finds unlikely is never reached, even
when its whole ID is likely. To tell that *search error* from *model error*,
this scores every ID of the catalog exactly for each query, by teacher
forcing::

  log p(ID | query) = sum_t log_softmax(decoder(query, ID_<t))[ID_t]

over the ID's tokens including EOS, ranks the IDs by it (each ID expands to
its tracks in the ID map's order, collisions by train popularity, as
`ids.id_map.rank_tracks` does), and compares that exact ranking with the beam
search ranking of the same model (`Recommender.recommend`, default settings:
20 beams in 5 groups, homogeneity penalty 0.25, trie-constrained, distinct):

  exact hit, beam miss  -> search error (prefix pruning lost a relevant ID);
  both miss             -> model error (the model does not rank it high).

How the scoring shares work through the trie (`exact_scores`). Each query is
encoded once, and its decoder cache (cross-attention keys/values) is created
once. The trie's leaves (IDs) are grouped by length and cut into chunks of C
IDs (`chunk_plan`); one jitted call per (query batch, chunk) runs the decoder
teacher-forced over the chunk's [C, Tc] ID tokens for the Q queries at once
(Q*C rows; each query's C rows fold into the query positions of its
cross-attention, so the encoder output is never copied per ID). The expensive
part, the LM head over the whole vocabulary for the log-softmax normaliser,
runs once per (query, trie node) instead of once per (query, ID, position): a
node's normaliser is computed at the first position that leaves from it,
kept in a [Q, N + 1] table, and read by every later ID below that node. The
logit of each ID's own next token is one dot product. So per query the cost
is (sum of ID lengths) decoder positions plus (number of internal trie nodes)
LM-head rows; peak memory is bounded by the chunk (hidden states
[Q*C*Tc, D]) and the LM-head block ([Q, block, V] logits,
`max_logits_bytes`), not by the catalog.

Name-like IDs cost more per ID than semantic IDs (more positions); the
measured cost is in BENCHMARKS.md, "Diagnostics cost".

Use::

  rec = recommender.Recommender.load(workdir)
  scores = exact_rank.exact_scores(rec.model, rec.params, rec.encode_queries(queries),
                                   rec.trie)     # [B, num_leaves] log p(ID | query)
  result = exact_rank.diagnose(rec, examples)    # metrics + per-query rows
  exact_rank.run(workdir, split="validation", n=200, out=DIR)  # + report files

or from the shell::

  text2tracks diagnose --workdir W --split validation --n 200 --out DIR

Outputs in DIR: `exact_rank.json` (summary and per-query rows) and
`exact_rank.md` (the table and the interpretation), each written to a
temporary sibling and renamed.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import tqdm
from jax import lax

from text2tracks_jax.data import outputs
from text2tracks_jax.data.dataset import SPLITS, DatasetError, PreparedDataset
from text2tracks_jax.data.errors import InputError
from text2tracks_jax.decoding import beam_search
from text2tracks_jax.evaluation import metrics
from text2tracks_jax.ids import prefix_trie
from text2tracks_jax.ids.id_map import rank_tracks
from text2tracks_jax.models import network
from text2tracks_jax.serving import recommender

# Beam search settings of the comparison: `Recommender.recommend`'s defaults.
BEAM_DEFAULTS = dict(num_beams=20, num_beam_groups=5, diversity_penalty=0.25,
                     constrained=True, distinct=True)
# Relative hits@k gap (exact over beam) from which search error is called the
# larger of the two.
SEARCH_GAP = 0.1

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------
# The trie's IDs as teacher-forcing rows (host, numpy).


@dataclasses.dataclass(frozen=True)
class Chunk:
  """C IDs of one length Tc, scored by one jitted call (see `chunk_plan`).

  Attributes:
    leaves: [C] int32 the trie leaf of each row; -1 in padding rows.
    tokens: [C, Tc] int32 each ID's tokens, EOS last (0 in padding rows).
    nodes: [C, Tc] int32 the trie node each token leaves from (the prefix
      before it); the sink N in padding rows.
    rep_pos: [R] int32 flat positions c * Tc + t where a node's normaliser is
      computed (the first position, in processing order, on the node).
    rep_node: [R] int32 those nodes; the sink N in padding slots.
    rep_block: LM-head rows per block (R is a multiple of it).
  """
  leaves: np.ndarray
  tokens: np.ndarray
  nodes: np.ndarray
  rep_pos: np.ndarray
  rep_node: np.ndarray
  rep_block: int


def leaf_paths(trie: prefix_trie.PrefixTrie):
  """Every leaf's token sequence and node path, read back from the trie arrays.

  Returns:
    tokens [L, T] int32 (leaf order, EOS included, 0-padded) and nodes [L, T]
    int32 (nodes[l, t]: the node before token t, i.e. the prefix of t tokens;
    the sink N where tokens is 0).
  """
  row_ptr = np.asarray(trie.row_ptr)
  child_token, child_node = np.asarray(trie.child_token), np.asarray(trie.child_node)
  n, width = trie.num_nodes, trie.max_length
  parent = np.full(n + 1, n, np.int64)
  token = np.zeros(n + 1, np.int64)
  parent[child_node] = np.repeat(np.arange(n + 1), np.diff(row_ptr))
  token[child_node] = child_token
  depth = np.zeros(n + 1, np.int64)
  for _ in range(width):  # after d rounds, every node of depth <= d has its depth
    depth[1:n] = depth[parent[1:n]] + 1
  terminal = np.asarray(trie.terminal_leaf)
  leaf_node = np.zeros(trie.num_leaves, np.int64)
  leaf_node[terminal[terminal >= 0]] = np.nonzero(terminal >= 0)[0]
  tokens = np.zeros((trie.num_leaves, width), np.int32)
  nodes = np.full((trie.num_leaves, width), n, np.int32)
  rows = np.arange(trie.num_leaves)
  cur = leaf_node
  for _ in range(width):
    live = cur != 0
    pos = np.maximum(depth[cur] - 1, 0)
    tokens[rows[live], pos[live]] = token[cur[live]]
    nodes[rows[live], pos[live]] = parent[cur[live]]
    cur = np.where(live, parent[cur], 0)
  return tokens, nodes


def chunk_plan(trie: prefix_trie.PrefixTrie, ids_per_chunk: int, queries_per_batch: int = 1,
               max_logits_bytes: int = 1 << 27) -> list:
  """Cuts the trie's leaves into `Chunk`s and picks where each node's
  normaliser is computed.

  IDs are grouped by length (so no decoder position is spent on padding after
  EOS: one compile per distinct length) and processed in order of increasing
  length, then leaf order; each group is cut into chunks of C IDs (its last
  chunk padded). Every node's normaliser is computed once, at the first
  position in that order that leaves from it, so it is known before any later
  ID reads it.

  Args:
    ids_per_chunk: C, IDs per chunk (at most the number of IDs).
    queries_per_batch, max_logits_bytes: the LM-head block is the largest
      number of rows whose [queries_per_batch, block, V] float32 logits fit in
      `max_logits_bytes` (at least 8).
  Returns:
    [Chunk], in processing order.
  """
  if ids_per_chunk < 1:
    raise ValueError(f"ids_per_chunk must be >= 1, got {ids_per_chunk}")
  tokens, nodes = leaf_paths(trie)
  num_leaves = len(tokens)
  lengths = (tokens > 0).sum(axis=1)
  order = np.argsort(lengths, kind="stable")
  c = min(ids_per_chunk, num_leaves)
  # Processing rows: each length group padded to a multiple of C.
  groups = [order[lengths[order] == n] for n in np.unique(lengths)]
  row_leaf = np.concatenate([np.pad(g, (0, -len(g) % c), constant_values=-1) for g in groups])
  valid = (row_leaf >= 0)[:, None] & (tokens[row_leaf] > 0)
  row_nodes = np.where(valid, nodes[row_leaf], trie.num_nodes)
  rows = np.broadcast_to(np.arange(len(row_leaf))[:, None], valid.shape)
  first_row = np.full(trie.num_nodes + 1, len(row_leaf), np.int64)
  np.minimum.at(first_row, row_nodes[valid], rows[valid])
  # An ID passes each node at most once: exactly one position per internal node.
  is_rep = valid & (first_row[row_nodes] == rows)
  block_cap = max(8, max_logits_bytes // (4 * queries_per_batch * trie.vocab_size))
  chunks, reps_of_length = [], {}
  for lo in range(0, len(row_leaf), c):
    n = int(lengths[row_leaf[lo]])
    count = int(is_rep[lo:lo + c, :n].sum())
    reps_of_length[n] = max(reps_of_length.get(n, 0), count)
  for lo in range(0, len(row_leaf), c):
    leaves = row_leaf[lo:lo + c]
    n = int(lengths[leaves[0]])
    block = int(min(block_cap, max(8, reps_of_length[n])))
    reps = -(-reps_of_length[n] // block) * block
    pos = np.nonzero(is_rep[lo:lo + c, :n].reshape(-1))[0]
    rep_pos = np.zeros(reps, np.int32)
    rep_node = np.full(reps, trie.num_nodes, np.int32)
    rep_pos[:len(pos)] = pos
    rep_node[:len(pos)] = row_nodes[lo:lo + c, :n].reshape(-1)[pos]
    chunks.append(Chunk(leaves.astype(np.int32),
                        np.where(leaves[:, None] >= 0, tokens[leaves, :n], 0).astype(np.int32),
                        row_nodes[lo:lo + c, :n].astype(np.int32), rep_pos, rep_node, block))
  return chunks


# ----------------------------------------------------------------------------
# Scoring (device, jit).


@functools.partial(jax.jit, static_argnames=("model", "length"))
def _encode(params, encoder_input_tokens, *, model, length):
  """[Q, S] query tokens -> the decoder cache for `length` positions (Q rows)."""
  tokens = encoder_input_tokens.astype(jnp.int32)
  encoded = model.apply({"params": params}, tokens, enable_dropout=False,
                        method=network.T5Model.encode)
  return network.init_decode_cache(model, params, encoded, tokens, length)


def _node_logsumexp(hidden, kernel, block: int, float32_logits: bool):
  """hidden [Q, R, D] -> logsumexp of the LM-head logits [Q, R], `block` rows
  at a time (R a multiple of `block`)."""
  q, r, d = hidden.shape
  blocks = jnp.swapaxes(hidden.reshape(q, r // block, block, d), 0, 1)
  out = lax.map(lambda h: jax.nn.logsumexp(network.dense_logits(h, kernel, float32_logits),
                                           axis=-1), blocks)
  return jnp.swapaxes(out, 0, 1).reshape(q, r)


def _node_legal_logsumexp(hidden, kernel, trie, nodes, float32_logits: bool):
  """hidden [Q, R, D] at trie nodes [R] -> logsumexp over each node's children's
  logits [Q, R] (the `normalize="legal"` distribution of a trie-loss model)."""
  width = max(trie.root_degree, trie.max_degree)
  children, _, valid = prefix_trie.children_window(trie, nodes, width)  # [R, W]
  dtype = jnp.float32 if float32_logits else hidden.dtype
  columns = jnp.take(kernel, children, axis=1).astype(dtype)  # [D, R, W]
  logits = jnp.einsum("qrd,drw->qrw", hidden.astype(dtype), columns,
                      preferred_element_type=jnp.float32)
  return jax.nn.logsumexp(jnp.where(valid[None], logits, -jnp.inf), axis=-1)


@functools.partial(jax.jit, static_argnames=("model", "rep_block"), donate_argnames=("lse",))
def _score_chunk(params, cache, lse, tokens, nodes, rep_pos, rep_node, trie, *, model,
                 rep_block):
  """log p(ID | query) of one chunk of C IDs for Q queries.

  Args:
    cache: `_encode`'s cache of the Q queries (T positions).
    lse: [Q, N + 1] float32 node normalisers computed so far (donated).
    tokens, nodes: [C, Tc] int32 (a `Chunk`); Tc <= the cache's length.
    rep_pos, rep_node: [R] int32 where this chunk computes normalisers.
    trie: None (normalise over the vocabulary) or the trie (over each node's
      legal children).
  Returns:
    (scores [Q, C] float32 (0 for padding rows), the updated lse).
  """
  cfg = model.config
  q = lse.shape[0]
  c, width = tokens.shape
  inputs = jnp.pad(tokens[:, :-1], ((0, 0), (1, 0)))  # shifted right, BOS = 0
  # Self-attention leaves: Q*C rows; cross-attention stays at Q (one per query).
  rows = beam_search.expand_cache(cache, c, per_query_cache_keys=network.PER_QUERY_CACHE_KEYS)
  hidden, _ = network.decode_step(model, params, rows, jnp.tile(inputs, (q, 1)),
                                  return_hidden=True)
  hidden = hidden.reshape(q, c, width, -1)  # [Q, C, T, D]
  kernel = network.lm_head_kernel(params)
  dtype = jnp.float32 if cfg.float32_logits else hidden.dtype
  columns = jnp.take(kernel, tokens, axis=1).astype(dtype)  # [D, C, T]
  logits = jnp.einsum("qctd,dct->qct", hidden.astype(dtype), columns,
                      preferred_element_type=jnp.float32)
  rep_hidden = jnp.take(hidden.reshape(q, c * width, -1), rep_pos, axis=1)  # [Q, R, D]
  if trie is None:
    node_lse = _node_logsumexp(rep_hidden, kernel, rep_block, cfg.float32_logits)
  else:
    node_lse = _node_legal_logsumexp(rep_hidden, kernel, trie, rep_node, cfg.float32_logits)
  lse = lse.at[:, rep_node].set(node_lse)
  logprobs = logits - jnp.take(lse, nodes, axis=1)  # [Q, C, T]
  return jnp.sum(jnp.where(tokens > 0, logprobs, 0.0), axis=-1), lse


def exact_scores(model: network.T5Model, params, encoder_input_tokens,
                 trie: prefix_trie.PrefixTrie, *, queries_per_batch: int = 8,
                 ids_per_chunk: int = 256, max_logits_bytes: int = 1 << 27,
                 normalize: str = "vocab", progress: bool = False) -> np.ndarray:
  """log p(ID | query) of every ID of `trie` for every query, by teacher forcing.

  Compiles once per distinct ID length (for given queries_per_batch,
  ids_per_chunk and trie); the last query batch is padded by repeating its
  last query.

  Args:
    model, params: a `network.T5Model` and its parameters.
    encoder_input_tokens: [B, S] int query tokens (0 = padding).
    trie: the valid IDs (`prefix_trie.build_trie`), leaves in lexicographic
      order; its vocab_size must be the model's.
    queries_per_batch: Q, queries scored together.
    ids_per_chunk: C, IDs per jitted call. Peak memory grows with Q * C * T.
    max_logits_bytes: bound on one LM-head block's [Q, block, V] logits.
    normalize: "vocab" (log-softmax over the whole vocabulary, the default
      decoding of a full-softmax model) or "legal" (over each node's legal
      children: the distribution a `trie_loss` model learned and decodes with).
    progress: a tqdm bar on stderr ((query, ID) pairs, rate, ETA).
  Returns:
    [B, num_leaves] float32: the sum over each ID's tokens (EOS included) of
    the log-softmax over the whole vocabulary, leaf order.
  """
  tokens = np.asarray(encoder_input_tokens)
  if tokens.ndim != 2 or not len(tokens):
    raise ValueError(f"encoder_input_tokens: expected [B, S] with B >= 1, got {tokens.shape}")
  if trie.vocab_size != model.config.vocab_size:
    raise ValueError(f"trie over {trie.vocab_size} tokens for a model of "
                     f"{model.config.vocab_size}")
  if normalize not in ("vocab", "legal"):
    raise ValueError(f"normalize must be 'vocab' or 'legal', got {normalize!r}")
  legal_trie = jax.device_put(trie) if normalize == "legal" else None
  b = len(tokens)
  q = min(queries_per_batch, b)
  chunks = chunk_plan(trie, ids_per_chunk, q, max_logits_bytes)
  arrays = [tuple(jnp.asarray(a) for a in (ch.tokens, ch.nodes, ch.rep_pos, ch.rep_node))
            for ch in chunks]
  out = np.zeros((b, trie.num_leaves), np.float32)
  bar = tqdm.tqdm(total=b * trie.num_leaves, desc="exact scores", unit="pairs",
                  unit_scale=True, file=sys.stderr, disable=not progress)
  for lo in range(0, b, q):
    batch = tokens[lo:lo + q]
    real = len(batch)
    batch = np.concatenate([batch, np.repeat(batch[-1:], q - real, axis=0)])
    cache = _encode(params, jnp.asarray(batch), model=model, length=trie.max_length)
    lse = jnp.zeros((q, trie.num_nodes + 1), jnp.float32)
    for chunk, args in zip(chunks, arrays):
      scores, lse = _score_chunk(params, cache, lse, *args, legal_trie, model=model,
                                 rep_block=chunk.rep_block)
      keep = chunk.leaves >= 0
      out[lo:lo + real, chunk.leaves[keep]] = np.asarray(scores)[:real, keep]
      bar.update(real * int(keep.sum()))
  bar.close()
  return out


# ----------------------------------------------------------------------------
# The diagnostic.


def _best_relevant_rank(row: np.ndarray, relevant, rec, leaf_of: dict,
                        tracks_per_leaf: np.ndarray) -> Optional[int]:
  """1-based rank, in the exact track ranking of one query (`row` [L]), of its
  best-ranked relevant track; None if no relevant track has an ID in the trie."""
  best = None
  for track in relevant:
    id_string = rec.id_map.track_to_id.get(track)
    leaf = leaf_of.get(id_string)
    if leaf is None:
      continue
    above = int(tracks_per_leaf[row > row[leaf]].sum())
    rank = above + rec.id_map.id_to_tracks[id_string].index(track) + 1
    best = rank if best is None else min(best, rank)
  return best


def diagnose(rec, examples: Sequence, *, k: int = 10, queries_per_batch: int = 8,
             ids_per_chunk: int = 256, beam_batch_size: int = 32, beam_settings=None,
             progress: bool = True) -> dict:
  """Exact ranking vs beam search of one model on `examples`.

  Args:
    rec: a `recommender.Recommender` (model, params, vocabularies, ID map, trie).
    examples: [n] objects with `query_id`, `query` and `track_ids` (relevant).
    k: cut-off of hits@k / recall@k and of the exact top-k ID set.
    queries_per_batch, ids_per_chunk: see `exact_scores`.
    beam_batch_size: queries per `rec.recommend` call (the last is padded).
    beam_settings: overrides of `BEAM_DEFAULTS` (num_beams, num_beam_groups,
      diversity_penalty, constrained, distinct).
  Returns:
    {"summary": {...}, "per_query": [one dict per example]}; see `summarize`.
  """
  examples = list(examples)
  if not examples:
    raise ValueError("no queries to diagnose")
  queries = [e.query for e in examples]
  start = time.perf_counter()
  scores = exact_scores(rec.model, rec.params, rec.encode_queries(queries), rec.trie,
                        queries_per_batch=queries_per_batch, ids_per_chunk=ids_per_chunk,
                        normalize=rec.normalize, progress=progress)
  exact_seconds = time.perf_counter() - start

  settings = dict(BEAM_DEFAULTS, **(beam_settings or {}))
  start = time.perf_counter()
  beams = []
  for lo in range(0, len(queries), beam_batch_size):
    batch = queries[lo:lo + beam_batch_size]
    padded = batch + batch[-1:] * (beam_batch_size - len(batch))
    beams += rec.recommend(padded, top_n=k, warn_truncated=False, **settings)[:len(batch)]
  beam_seconds = time.perf_counter() - start

  leaf_of = {s: i for i, s in enumerate(rec.leaf_ids) if s is not None}
  tracks_per_leaf = np.array([len(rec.id_map.id_to_tracks.get(s, ())) if s is not None else 0
                              for s in rec.leaf_ids])
  top_ids = min(k, scores.shape[1])
  rows = []
  for b, (ex, beam) in enumerate(zip(examples, beams)):
    row = scores[b]
    order = np.argpartition(-row, top_ids - 1)[:top_ids]
    order = order[np.argsort(-row[order], kind="stable")]
    exact_ids = [rec.leaf_ids[i] for i in order]
    exact = rank_tracks([(s, row[i]) for s, i in zip(exact_ids, order)],
                                  rec.id_map.id_to_tracks, k)
    top1 = beam["generated_ids"][0] if beam["generated_ids"] else None
    top1_leaf = leaf_of.get(top1)
    # Rank among all IDs by exact log-prob (ties: the best rank).
    top1_rank = None if top1_leaf is None else 1 + int((row > row[top1_leaf]).sum())
    returned = set(beam["generated_ids"])
    missed = [s for s in exact_ids if s not in returned]
    relevant = list(ex.track_ids)
    rows.append({
        "query_id": ex.query_id, "query": ex.query,
        f"exact_hits@{k}": metrics.hits(exact["track_ids"], relevant, k),
        f"beam_hits@{k}": metrics.hits(beam["track_ids"], relevant, k),
        f"exact_recall@{k}": metrics.recall(exact["track_ids"], relevant, k),
        f"beam_recall@{k}": metrics.recall(beam["track_ids"], relevant, k),
        "exact_top1_id": exact_ids[0], "exact_top1_logprob": float(row[order[0]]),
        "beam_top1_id": top1,
        "beam_top1_logprob": float(row[top1_leaf]) if top1_leaf is not None else None,
        "beam_top1_exact_rank": top1_rank,
        f"exact_top{k}_ids_not_in_beam": len(missed),
        "best_relevant_exact_rank": _best_relevant_rank(row, relevant, rec, leaf_of,
                                                        tracks_per_leaf),
        "exact_track_ids": exact["track_ids"], "beam_track_ids": beam["track_ids"],
    })
  summary = summarize(rows, k)
  summary.update({
      "num_ids": int(scores.shape[1]), "beam_settings": settings,
      "exact_seconds": round(exact_seconds, 2),
      "exact_pairs_per_s": round(scores.size / max(exact_seconds, 1e-9), 1),
      "beam_seconds": round(beam_seconds, 2)})
  return {"summary": summary, "per_query": rows}


def summarize(rows: Sequence[dict], k: int) -> dict:
  """Means over the per-query rows and the verdict.

  Keys: queries, k, exact/beam hits@k, recall@k and hit_rate@k; the share of
  queries per outcome (both hit, search error = exact hit and beam miss,
  beam only, model error = both miss); beam top-1's exact rank (mean, median,
  share at rank 1); the share of queries whose exact top-k holds an ID beam
  search did not return; the median exact rank of the best relevant track;
  the verdict and its one-line interpretation. The exact ranking is by plain
  log-probability; beam search divides by ID length and spreads its groups
  (homogeneity penalty), so it can also beat the exact ranking ("beam only").
  """
  n = len(rows)

  def mean(key):
    return float(np.mean([r[key] for r in rows]))

  exact_hit = np.array([r[f"exact_hits@{k}"] > 0 for r in rows])
  beam_hit = np.array([r[f"beam_hits@{k}"] > 0 for r in rows])
  ranks = [r["beam_top1_exact_rank"] for r in rows if r["beam_top1_exact_rank"] is not None]
  best = [r["best_relevant_exact_rank"] for r in rows
          if r["best_relevant_exact_rank"] is not None]
  s = {
      "queries": n, "k": k,
      f"exact_hits@{k}": mean(f"exact_hits@{k}"), f"beam_hits@{k}": mean(f"beam_hits@{k}"),
      f"exact_recall@{k}": mean(f"exact_recall@{k}"),
      f"beam_recall@{k}": mean(f"beam_recall@{k}"),
      f"exact_hit_rate@{k}": float(exact_hit.mean()), f"beam_hit_rate@{k}": float(beam_hit.mean()),
      "share_both_hit": float((exact_hit & beam_hit).mean()),
      "share_search_error": float((exact_hit & ~beam_hit).mean()),
      "share_beam_only": float((~exact_hit & beam_hit).mean()),
      "share_model_error": float((~exact_hit & ~beam_hit).mean()),
      "beam_top1_exact_rank_mean": float(np.mean(ranks)) if ranks else None,
      "beam_top1_exact_rank_median": float(np.median(ranks)) if ranks else None,
      "share_beam_top1_is_exact_top1": float(np.mean(np.array(ranks) == 1)) if ranks else None,
      f"share_exact_top{k}_outside_beam": float(np.mean(
          [r[f"exact_top{k}_ids_not_in_beam"] > 0 for r in rows])),
      "best_relevant_exact_rank_median": float(np.median(best)) if best else None,
  }
  s["verdict"], s["interpretation"] = interpret(s, k)
  return s


def interpret(s: dict, k: int):
  """("search error" | "model error", one sentence) from a summary's means."""
  exact, beam = s[f"exact_hits@{k}"], s[f"beam_hits@{k}"]
  shares = (f"{s['share_search_error']:.0%} of queries have a relevant track in the exact "
            f"top {k} but not in beam search's (search error), {s['share_model_error']:.0%} "
            f"in neither (model error)")
  if exact > beam * (1 + SEARCH_GAP) and exact > 0:
    ratio = f"{exact / beam:.2f}x" if beam > 0 else "beam finds none"
    return "search error", (
        f"search error: exact ranking hits@{k} {exact:.3f} vs beam search {beam:.3f} "
        f"({ratio}); prefix pruning loses relevant IDs the model scores high, so a wider "
        f"or less greedy search would help. {shares}.")
  return "model error", (
      f"model error: beam search hits@{k} {beam:.3f} vs exact ranking {exact:.3f} (less than "
      f"{SEARCH_GAP:.0%} lower); a better search would not help, the model must score the "
      f"relevant IDs higher. {shares}.")


# ----------------------------------------------------------------------------
# Report and entry points.


def format_table(summary: dict) -> str:
  """Markdown: exact vs beam, the outcome shares, the top-1 check, the verdict."""
  k = summary["k"]

  def fmt(x, spec=".3f"):
    return "–" if x is None else format(x, spec)
  lines = [
      f"| ranking | hits@{k} | recall@{k} | hit_rate@{k} |", "|---|---:|---:|---:|",
      f"| exact (all {summary['num_ids']} IDs scored) | {fmt(summary[f'exact_hits@{k}'])} "
      f"| {fmt(summary[f'exact_recall@{k}'])} | {fmt(summary[f'exact_hit_rate@{k}'])} |",
      f"| beam search | {fmt(summary[f'beam_hits@{k}'])} | {fmt(summary[f'beam_recall@{k}'])} "
      f"| {fmt(summary[f'beam_hit_rate@{k}'])} |", "",
      "| queries | share |", "|---|---:|",
      f"| both hit | {summary['share_both_hit']:.1%} |",
      f"| exact hit, beam miss (search error) | {summary['share_search_error']:.1%} |",
      f"| beam hit, exact miss | {summary['share_beam_only']:.1%} |",
      f"| both miss (model error) | {summary['share_model_error']:.1%} |",
      f"| exact top {k} holds an ID beam search did not return "
      f"| {summary[f'share_exact_top{k}_outside_beam']:.1%} |",
      f"| beam top-1 is the exact top-1 | {fmt(summary['share_beam_top1_is_exact_top1'], '.1%')} |",
      "", f"Beam top-1's rank under the exact scores: mean "
      f"{fmt(summary['beam_top1_exact_rank_mean'], '.1f')}, median "
      f"{fmt(summary['beam_top1_exact_rank_median'], '.0f')}. Best relevant track's rank in "
      f"the exact ranking: median {fmt(summary['best_relevant_exact_rank_median'], '.0f')}. "
      f"{summary['queries']} queries.", "", summary["interpretation"]]
  return "\n".join(lines) + "\n"


def write_report(result: dict, out) -> dict:
  """Writes `exact_rank.json` and `exact_rank.md` into `out`; returns their paths."""
  out = Path(out)
  out.mkdir(parents=True, exist_ok=True)
  paths = {"json": out / "exact_rank.json", "md": out / "exact_rank.md"}
  outputs.atomic_write(paths["json"], json.dumps(result, indent=2, ensure_ascii=False) + "\n")
  outputs.atomic_write(paths["md"], "# Search error vs model error\n\n" + format_table(result["summary"]))
  return paths


def run(workdir, split: str = "validation", n: int = 200, out=None, *, k: int = 10,
        queries_per_batch: int = 8, ids_per_chunk: int = 256) -> dict:
  """Loads a `text2tracks train` workdir, diagnoses the first `n` queries of
  `split` and writes the report to `out` (default WORKDIR/exact_rank.SPLIT).
  Progress is logged; the table and the paths written are printed (stdout:
  `text2tracks diagnose`'s output).

  Raises `InputError` (workdir without a checkpoint) or `DatasetError`
  (unknown split) before loading anything heavy.
  """
  if split not in SPLITS:
    raise DatasetError(f"unknown split {split!r}; expected one of {SPLITS}")
  if n < 1 or k < 1:
    raise DatasetError(f"n and k must be >= 1, got n={n}, k={k}")
  workdir = Path(workdir)
  if not (workdir / "train_config.json").exists():
    raise InputError(workdir, None, None, "no train_config.json: not a `text2tracks train` workdir")
  steps = workdir / "checkpoints"
  if not steps.is_dir() or not any(p.name.isdigit() for p in steps.iterdir()):
    raise InputError(workdir, None, None, "no checkpoint under checkpoints/: train first")
  try:
    rec = recommender.Recommender.load(workdir)
  except FileNotFoundError as e:
    raise InputError(workdir, None, None, str(e)) from None
  info = json.loads((workdir / "train_config.json").read_text())
  examples = list(PreparedDataset.load(Path(info["run_dir"]) / "data").examples(split))[:n]
  logger.info(f"diagnose {workdir}: {len(examples)} {split} queries x {rec.trie.num_leaves} IDs")
  result = diagnose(rec, examples, k=k, queries_per_batch=queries_per_batch,
                    ids_per_chunk=ids_per_chunk)
  result["summary"].update({"workdir": str(workdir), "split": split})
  out = Path(out) if out else workdir / f"exact_rank.{split}"
  paths = write_report(result, out)
  s = result["summary"]
  logger.info(f"exact scoring: {s['queries'] * s['num_ids']:,} pairs in {s['exact_seconds']:.1f}s "
              f"({s['exact_pairs_per_s']:,.0f} pairs/s, compile included); beam search "
              f"{s['beam_seconds']:.1f}s")
  print(format_table(s))
  print(f"wrote {paths['json']} and {paths['md']}")
  return result


def run_from_args(args) -> dict:
  """`run` with the flags of `text2tracks diagnose` (defined in cli.py)."""
  return run(args.workdir, args.split, args.n, args.out, k=args.k,
             queries_per_batch=args.queries_per_batch, ids_per_chunk=args.ids_per_chunk)
