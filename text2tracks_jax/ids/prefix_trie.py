"""The valid track IDs as a prefix trie, flattened into arrays: what constrained
decoding (`decoding/`) and the trie loss (`training/trainer.py`) walk.

Every valid ID is a token sequence ending with EOS. Their prefixes form a trie;
a beam's constraint state is its trie node, and the tokens it may generate next
are the edge labels of that node's children. EOS is an edge like any other, so
it is legal exactly after a complete ID, and the node it leads to is a *leaf*
(one per distinct ID).

The trie is flattened into arrays (as STATIC, arXiv 2602.22647, does for
TPUs), so that every lookup inside `jit` is a vectorised gather::

  N = number of nodes, node 0 = root; node N is a "sink" without children: the
  state of a beam that left the trie (an illegal token, or padding after EOS).

  row_ptr        [N + 2] int32   CSR: the children of node n are the edges
                                 row_ptr[n] .. row_ptr[n + 1] - 1
  child_token    [E] int32       edge labels, increasing within a node
  child_node     [E] int32       edge targets
  leaf_lo/hi     [N + 1] int32   the leaves below node n are leaf_lo[n] .. leaf_hi[n] - 1
  terminal_leaf  [N + 1] int32   leaf id of a leaf node (reached by EOS), else -1
  depth_vocab    [D, Wd] int32   row d: the tokens that may follow a prefix of d
                                 tokens (sorted, 0-padded); D = longest ID + EOS
  child_rank     [E] int32       each edge token's position in its depth_vocab row

Nodes are numbered in DFS preorder with children visited by increasing token,
so leaves are numbered in the lexicographic order of their IDs and the leaves
below any node form one contiguous range. That makes catalog filters cheap: a
per-query leaf mask becomes a bitset over the leaf order with per-word prefix
counts (`CatalogFilter`), and "node n has an allowed leaf below it" is a count
over leaf_lo[n] .. leaf_hi[n] - 1 read from two words.

Per decoding step a beam needs (a) its node's children, read as a window of
`width` edges starting at `row_ptr[node]` (`width` = the largest out-degree
that can occur at that step: the root's at step 0, the largest non-root one
afterwards), which is scattered into a [V] mask or used directly as the
candidate tokens for `network.candidate_logits`; and (b) after choosing a
token, the child it leads to: a branch-free binary search over the node's
(sorted) edges, ceil(log2(max degree + 1)) gathers.

The per-depth vocabularies serve the candidate LM head: at step t every live
beam sits at depth t, so one matmul against the LM-head columns of
`depth_vocab[t]` (e.g. the 256 codes of one semantic-ID level) gives every
beam's legal logits, gathered per beam through `child_rank`.

Host helpers (numpy): `build_trie`, `lookup_leaves` (which leaf, if any, a
generated sequence spells), `lookup_ids` (the leaf of each input ID),
`invalid_share`, `leaf_mask` (a catalog filter from the allowed IDs).
"""

from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


@flax.struct.dataclass
class PrefixTrie:
  """The trie of valid IDs as arrays (see the module docstring for shapes).

  A pytree: pass it to jitted functions as an argument (array leaves may be
  numpy or device arrays; `jax.device_put(trie)` once to avoid re-transfers).
  The integer fields are static metadata, part of the tree structure.
  """
  row_ptr: Array
  child_token: Array
  child_node: Array
  leaf_lo: Array
  leaf_hi: Array
  terminal_leaf: Array
  depth_vocab: Array
  child_rank: Array
  num_nodes: int = flax.struct.field(pytree_node=False, default=0)
  num_leaves: int = flax.struct.field(pytree_node=False, default=0)
  vocab_size: int = flax.struct.field(pytree_node=False, default=0)
  eos_id: int = flax.struct.field(pytree_node=False, default=1)
  max_length: int = flax.struct.field(pytree_node=False, default=0)
  root_degree: int = flax.struct.field(pytree_node=False, default=0)
  max_degree: int = flax.struct.field(pytree_node=False, default=0)
  depth_vocab_width: int = flax.struct.field(pytree_node=False, default=0)

  @property
  def sink(self) -> int:
    """Index of the node without children (state after leaving the trie)."""
    return self.num_nodes

  @property
  def search_steps(self) -> int:
    """Binary-search iterations that find a child among any node's edges."""
    return max(1, math.ceil(math.log2(max(self.root_degree, self.max_degree) + 1)))


# ----------------------------------------------------------------------------
# Building (host, numpy).


def _padded_ids(sequences: Iterable[Sequence[int]], eos_id: int) -> np.ndarray:
  """Sequences (with or without a final EOS) -> [M, Lmax] int64, EOS appended, -1 padded."""
  rows = []
  for i, seq in enumerate(sequences):
    seq = [int(x) for x in np.asarray(seq).reshape(-1)]
    if seq and seq[-1] == eos_id:
      seq = seq[:-1]
    if not seq:
      raise ValueError(f"ID {i} is empty")
    if any(x <= 0 for x in seq) or eos_id in seq:
      raise ValueError(f"ID {i} = {seq} holds padding (0), a negative token or EOS "
                       f"({eos_id}) before its end")
    rows.append(seq + [eos_id])
  if not rows:
    raise ValueError("no valid IDs given")
  width = max(len(r) for r in rows)
  out = np.full((len(rows), width), -1, np.int64)
  for i, r in enumerate(rows):
    out[i, :len(r)] = r
  return out


def build_trie(sequences: Iterable[Sequence[int]], *, eos_id: int = 1,
               vocab_size: Optional[int] = None) -> PrefixTrie:
  """Flattens the trie of `sequences` (the valid IDs' token ids) into arrays.

  Args:
    sequences: token-id sequences, one per valid ID, each optionally ending
      with EOS (added when missing). Duplicates are merged into one leaf; use
      `lookup_leaves(trie, sequences)` for the input -> leaf map.
    eos_id: the EOS token.
    vocab_size: size of the model vocabulary; default
      the largest token id + 1.
  Returns:
    A `PrefixTrie` with numpy array leaves.
  """
  ids = np.unique(_padded_ids(sequences, eos_id), axis=0)  # lexicographic rows
  num_leaves, width = ids.shape
  max_token = int(ids.max())
  if vocab_size is None:
    vocab_size = max_token + 1
  if max_token >= vocab_size:
    raise ValueError(f"token {max_token} is outside the vocabulary of {vocab_size}")
  rows = np.arange(num_leaves)
  # differs[i]: the prefix of row i (current depth) differs from row i - 1's.
  differs = rows == 0
  node_rows, node_depths, node_ends = [np.array([0])], [np.array([0])], [np.array([num_leaves])]
  parent_rows, tokens = [], []
  start_of_prev = np.zeros(num_leaves, np.int64)  # start row of each row's depth-d node
  for depth in range(1, width + 1):
    col = ids[:, depth - 1]
    differs = differs | np.r_[True, col[1:] != col[:-1]]
    new = differs & (col >= 0)
    starts = np.nonzero(new)[0]
    # A node's leaves run until the next row whose prefix of this depth differs.
    boundary = np.nonzero(differs)[0]
    ends = np.r_[boundary, num_leaves][np.searchsorted(boundary, starts, side="right")]
    node_rows.append(starts)
    node_depths.append(np.full(len(starts), depth))
    node_ends.append(ends)
    parent_rows.append(start_of_prev[starts])
    tokens.append(col[starts])
    start_of_prev = np.maximum.accumulate(np.where(differs, rows, 0))
  all_rows = np.concatenate(node_rows)
  all_depths = np.concatenate(node_depths)
  all_ends = np.concatenate(node_ends)
  num_nodes = len(all_rows)
  order = np.lexsort((all_depths, all_rows))  # DFS preorder: by first row, then depth
  node_id = np.empty(num_nodes, np.int64)
  node_id[order] = np.arange(num_nodes)
  # Parents: the depth d - 1 node starting at each parent row.
  offsets = np.cumsum([0] + [len(r) for r in node_rows])
  id_at_row = np.full(num_leaves, -1, np.int64)
  parents = []
  for depth in range(1, width + 1):
    id_at_row[node_rows[depth - 1]] = node_id[offsets[depth - 1]:offsets[depth]]
    parents.append(id_at_row[parent_rows[depth - 1]])
  parents = np.concatenate(parents)
  children = node_id[1:]  # nodes of depth >= 1, in the same order as `parents`
  edge_tokens = np.concatenate(tokens)
  edge_order = np.lexsort((edge_tokens, parents))
  # Tokens that can follow a prefix of each length, and each edge's rank there.
  edge_depths = all_depths[1:] - 1
  depth_vocab = [np.unique(edge_tokens[edge_depths == d]) for d in range(width)]
  vocab_width = max(len(v) for v in depth_vocab[1:]) if width > 1 else 1
  depth_vocab_arr = np.zeros((width, max(vocab_width, len(depth_vocab[0]))), np.int64)
  child_rank = np.zeros(len(edge_tokens), np.int64)
  for d, v in enumerate(depth_vocab):
    depth_vocab_arr[d, :len(v)] = v
    at = edge_depths == d
    child_rank[at] = np.searchsorted(v, edge_tokens[at])
  degree = np.bincount(parents, minlength=num_nodes + 1)
  row_ptr = np.concatenate([[0], np.cumsum(degree)])
  leaf_lo = np.zeros(num_nodes + 1, np.int64)
  leaf_hi = np.zeros(num_nodes + 1, np.int64)
  leaf_lo[node_id] = all_rows
  leaf_hi[node_id] = all_ends
  terminal_leaf = np.full(num_nodes + 1, -1, np.int64)
  is_leaf = np.concatenate([[False], np.concatenate(tokens) == eos_id])
  terminal_leaf[node_id[is_leaf]] = all_rows[is_leaf]
  return PrefixTrie(
      row_ptr=row_ptr.astype(np.int32), child_token=edge_tokens[edge_order].astype(np.int32),
      child_node=children[edge_order].astype(np.int32), leaf_lo=leaf_lo.astype(np.int32),
      leaf_hi=leaf_hi.astype(np.int32), terminal_leaf=terminal_leaf.astype(np.int32),
      depth_vocab=depth_vocab_arr.astype(np.int32),
      child_rank=child_rank[edge_order].astype(np.int32),
      num_nodes=num_nodes, num_leaves=num_leaves, vocab_size=int(vocab_size),
      eos_id=int(eos_id), max_length=width, root_degree=int(degree[0]),
      max_degree=int(degree[1:].max()) if num_nodes > 1 else 0,
      depth_vocab_width=int(vocab_width))


# ----------------------------------------------------------------------------
# Lookups shared by host (numpy) and device (jax) code.


def find_child(trie: PrefixTrie, nodes, tokens, xp=jnp):
  """The child of each node along each token, or the sink if there is none.

  A lower-bound binary search over the node's sorted edges with a fixed
  number of steps (no data-dependent control flow).

  Args:
    nodes, tokens: int arrays of the same shape (nodes in [0, N]).
    xp: `jax.numpy` (inside jit) or `numpy`.
  Returns:
    int32 child nodes, same shape.
  """
  row_ptr, child_token, child_node = (xp.asarray(trie.row_ptr), xp.asarray(trie.child_token),
                                      xp.asarray(trie.child_node))
  last = child_token.shape[0] - 1
  lo, end = row_ptr[nodes], row_ptr[nodes + 1]
  hi = end
  for _ in range(trie.search_steps):
    mid = (lo + hi) // 2
    right = (lo < hi) & (child_token[xp.clip(mid, 0, last)] < tokens)
    lo, hi = xp.where(right, mid + 1, lo), xp.where(right, hi, mid)
  pos = xp.clip(lo, 0, last)
  found = (lo < end) & (child_token[pos] == tokens)
  return xp.where(found, child_node[pos], trie.sink).astype(xp.int32)


def children_window(trie: PrefixTrie, nodes: Array, width: int):
  """The first `width` children of each node.

  Args:
    nodes: [R] int nodes.
    width: static window size (>= the degree of every node in `nodes` for
      an exact result).
  Returns:
    tokens [R, width] int32 (0 in empty slots), child nodes [R, width] int32
    (the sink in empty slots), valid [R, width] bool.
  """
  row_ptr = jnp.asarray(trie.row_ptr)
  start = row_ptr[nodes]
  degree = row_ptr[nodes + 1] - start
  slots = jnp.arange(width, dtype=jnp.int32)
  valid = slots[None, :] < degree[:, None]
  pos = jnp.clip(start[:, None] + slots[None, :], 0, trie.child_token.shape[0] - 1)
  tokens = jnp.where(valid, jnp.asarray(trie.child_token)[pos], 0)
  children = jnp.where(valid, jnp.asarray(trie.child_node)[pos], trie.sink)
  return tokens, children, valid


def children_ranks(trie: PrefixTrie, nodes: Array, width: int) -> Array:
  """[R, width] int32 positions of `children_window`'s tokens in their
  `depth_vocab` row (0 in empty slots)."""
  row_ptr = jnp.asarray(trie.row_ptr)
  start = row_ptr[nodes]
  slots = jnp.arange(width, dtype=jnp.int32)
  valid = slots[None, :] < (row_ptr[nodes + 1] - start)[:, None]
  pos = jnp.clip(start[:, None] + slots[None, :], 0, trie.child_rank.shape[0] - 1)
  return jnp.where(valid, jnp.asarray(trie.child_rank)[pos], 0)


@flax.struct.dataclass
class CatalogFilter:
  """The IDs each query may return, as a bitset over the trie's leaf order.

  words  [Q, L // 32 + 1] uint32: bit j of word i says leaf 32 i + j is allowed
  before [Q, L // 32 + 1] int32: allowed leaves in words 0 .. i - 1

  Q = 1 (one filter for every query) or the batch. "Node n has an allowed leaf
  below it" is `allowed_leaves(f, q, leaf_lo[n], leaf_hi[n]) > 0`: two word
  gathers and two popcounts, whatever the catalog size. Building it from a
  [Q, L] mask reads L bits per query once; build it once per filter
  (`catalog_filter`) and pass it to every decode that uses it.
  """
  words: Array
  before: Array

  @property
  def num_words(self) -> int:
    return self.words.shape[-1]


def catalog_filter(mask) -> CatalogFilter:
  """[Q, L] or [L] bool (leaf l allowed) -> `CatalogFilter` (jnp: in or out of jit)."""
  mask = jnp.asarray(mask, bool)
  mask = mask[None] if mask.ndim == 1 else mask
  q, leaves = mask.shape
  n = leaves // 32 + 1  # one spare word: a range may end at L
  padded = jnp.pad(mask, ((0, 0), (0, 32 * n - leaves)))
  shifted = padded.reshape(q, n, 32).astype(jnp.uint32) << jnp.arange(32, dtype=jnp.uint32)
  words = jnp.sum(shifted, axis=-1, dtype=jnp.uint32)  # distinct bits: sum = or
  pop = jax.lax.population_count(words).astype(jnp.int32)
  return CatalogFilter(words, jnp.cumsum(pop, axis=-1) - pop)


def _allowed_before(f: CatalogFilter, q: Array, x: Array) -> Array:
  """Allowed leaves < x of query q (broadcast)."""
  word = x >> 5
  low = (jnp.uint32(1) << (x & 31).astype(jnp.uint32)) - jnp.uint32(1)
  return f.before[q, word] + jax.lax.population_count(f.words[q, word] & low).astype(jnp.int32)


def allowed_leaves(f: CatalogFilter, q: Array, lo: Array, hi: Array) -> Array:
  """Allowed leaves in [lo, hi) of query q (int arrays, broadcast together)."""
  return _allowed_before(f, q, hi) - _allowed_before(f, q, lo)


def subtree_allowed(trie: PrefixTrie, catalog: CatalogFilter, nodes: Array,
                    query: Optional[Array] = None) -> Array:
  """Whether each node has an allowed leaf below it.

  Args:
    catalog: a `CatalogFilter` of Q queries.
    nodes: [R, W] int nodes.
    query: [R] int query of each row (default: row r is query r).
  Returns:
    [R, W] bool.
  """
  if query is None:
    query = jnp.arange(nodes.shape[0])
  lo = jnp.asarray(trie.leaf_lo)[nodes]
  hi = jnp.asarray(trie.leaf_hi)[nodes]
  return allowed_leaves(catalog, query[:, None], lo, hi) > 0


# ----------------------------------------------------------------------------
# Host helpers.


def _numpy_trie(trie: PrefixTrie) -> PrefixTrie:
  return jax.tree.map(np.asarray, trie)


def lookup_leaves(trie: PrefixTrie, sequences) -> np.ndarray:
  """Leaf id spelled by each sequence, -1 if it is not a valid ID.

  A sequence is read up to and including its first EOS (what follows is
  ignored: padding); one without EOS is not a valid ID. A sequence that starts
  with the decoder BOS (0) is read from its second token.

  Args:
    sequences: [..., T] int array (or a list of equal-length lists).
  Returns:
    [...] int64 leaf ids in [0, num_leaves) or -1.
  """
  if isinstance(sequences, (list, tuple)) and sequences and not np.isscalar(sequences[0]):
    width = max(len(s) for s in sequences)  # ragged lists: pad with 0
    sequences = [list(s) + [0] * (width - len(s)) for s in sequences]
  seqs = np.asarray(sequences, np.int64)
  if seqs.ndim == 1:
    seqs = seqs[None]
    squeeze = True
  else:
    squeeze = False
  shape = seqs.shape[:-1]
  seqs = seqs.reshape(-1, seqs.shape[-1])
  t = _numpy_trie(trie)
  node = np.zeros(len(seqs), np.int64)
  ended = np.zeros(len(seqs), bool)
  started = np.zeros(len(seqs), bool)
  for j in range(seqs.shape[1]):
    tok = seqs[:, j]
    skip_bos = (~started) & (tok == 0) & (j == 0)
    step = ~ended & ~skip_bos
    moved = find_child(t, node, np.clip(tok, 0, None), xp=np)
    node = np.where(step, moved, node)
    started |= step
    ended |= step & (tok == trie.eos_id)
  leaf = np.where(ended, t.terminal_leaf[node], -1).astype(np.int64)
  leaf = leaf.reshape(shape)
  return leaf[0] if squeeze else leaf


def lookup_ids(trie: PrefixTrie, ids: Iterable[Sequence[int]]) -> np.ndarray:
  """Leaf id of each ID given as in `build_trie` (EOS optional), -1 if absent."""
  return lookup_leaves(trie, _padded_ids(ids, trie.eos_id))


def invalid_share(trie: PrefixTrie, sequences, scores=None) -> float:
  """Share of `sequences` [..., T] that spell no valid ID.

  If `scores` [...] is given, entries with a non-finite score (padding beams
  when fewer legal completions than beams exist) are left out.
  """
  leaves = lookup_leaves(trie, sequences)
  keep = np.ones(leaves.shape, bool) if scores is None else np.isfinite(np.asarray(scores))
  if not keep.any():
    return 0.0
  return float(np.mean(leaves[keep] < 0))


def leaf_mask(trie: PrefixTrie, allowed_sequences) -> np.ndarray:
  """[num_leaves] bool: True at the leaves of `allowed_sequences` (IDs)."""
  leaves = lookup_ids(trie, allowed_sequences)
  if (leaves < 0).any():
    raise ValueError(f"{int((leaves < 0).sum())} allowed IDs are not in the trie")
  mask = np.zeros(trie.num_leaves, bool)
  mask[leaves] = True
  return mask
