"""The flattened prefix trie: structure, lookups, masks, catalog filters (no model)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from text2tracks_jax.ids import prefix_trie

IDS = [[5, 7, 9], [5, 7, 3], [5, 2], [8], [5, 7, 9, 1], [4, 4, 4, 4]]


@pytest.fixture(scope="module")
def trie():
  return prefix_trie.build_trie(IDS, vocab_size=12)


def _children(trie, node):
  lo, hi = trie.row_ptr[node], trie.row_ptr[node + 1]
  return dict(zip(trie.child_token[lo:hi].tolist(), trie.child_node[lo:hi].tolist()))


def _walk(trie, tokens):
  node = 0
  for t in tokens:
    node = _children(trie, node).get(t, trie.sink)
  return node


def test_structure_dfs_order_and_leaf_ranges(trie):
  # Distinct IDs (with EOS) in lexicographic order are the leaves 0..4.
  leaves = [[4, 4, 4, 4, 1], [5, 2, 1], [5, 7, 3, 1], [5, 7, 9, 1], [8, 1]]
  assert (trie.num_leaves, trie.max_length, trie.vocab_size) == (5, 5, 12)
  assert trie.num_nodes == 1 + len({tuple(s[:d]) for s in leaves for d in range(1, len(s) + 1)})
  assert (trie.root_degree, trie.max_degree) == (3, 2)
  for leaf, seq in enumerate(leaves):
    assert trie.terminal_leaf[_walk(trie, seq)] == leaf
  for node in range(trie.num_nodes):
    kids = _children(trie, node)
    assert list(kids) == sorted(kids)  # CSR rows sorted by token
    for child in kids.values():
      assert child > node  # preorder: parents first
      assert trie.leaf_lo[node] <= trie.leaf_lo[child] < trie.leaf_hi[child] <= trie.leaf_hi[node]
  assert (trie.leaf_lo[0], trie.leaf_hi[0]) == (0, 5)
  prefix_57 = _walk(trie, [5, 7])
  assert (trie.leaf_lo[prefix_57], trie.leaf_hi[prefix_57]) == (2, 4)
  assert _children(trie, trie.sink) == {} and trie.terminal_leaf[trie.sink] == -1


def test_lookups(trie):
  assert prefix_trie.lookup_ids(trie, IDS).tolist() == [3, 2, 1, 4, 3, 0]
  generated = np.array([[5, 7, 9, 1, 0], [5, 7, 1, 0, 0], [0, 8, 1, 0, 0],  # BOS is skipped
                        [5, 2, 0, 0, 0], [4, 4, 4, 4, 1], [8, 1, 5, 5, 5]])
  assert prefix_trie.lookup_leaves(trie, generated).tolist() == [3, -1, 4, -1, 0, 4]
  assert prefix_trie.lookup_leaves(trie, [[5, 2, 1], [8, 1, 0, 0]]).tolist() == [1, 4]
  assert prefix_trie.invalid_share(trie, generated) == pytest.approx(2 / 6)
  scores = np.array([0.0, -np.inf, 0.0, -np.inf, 0.0, 0.0])
  assert prefix_trie.invalid_share(trie, generated, scores) == 0.0
  assert prefix_trie.leaf_mask(trie, [[8], [5, 2, 1]]).tolist() == [False, True, False, False, True]
  with pytest.raises(ValueError, match="not in the trie"):
    prefix_trie.leaf_mask(trie, [[6]])


@pytest.mark.parametrize("bad, match", [([[3, 0, 4]], "padding"), ([[3, 1, 4]], "EOS"),
                                        ([[]], "empty"), ([], "no valid IDs")])
def test_bad_ids_are_refused(bad, match):
  with pytest.raises(ValueError, match=match):
    prefix_trie.build_trie(bad)


def test_vocab_size_is_checked():
  with pytest.raises(ValueError, match="outside the vocabulary"):
    prefix_trie.build_trie([[3, 40]], vocab_size=32)


def test_find_child_matches_brute_force_numpy_and_jax():
  rng = np.random.default_rng(0)
  ids = [list(rng.integers(2, 60, rng.integers(1, 5))) for _ in range(300)]
  trie = prefix_trie.build_trie(ids, vocab_size=60)
  nodes = np.repeat(np.arange(trie.num_nodes + 1), 60)
  tokens = np.tile(np.arange(60), trie.num_nodes + 1)
  want = np.array([_children(trie, n).get(t, trie.sink) for n, t in zip(nodes, tokens)])
  np.testing.assert_array_equal(prefix_trie.find_child(trie, nodes, tokens, xp=np), want)
  got = jax.jit(lambda tr, n, t: prefix_trie.find_child(tr, n, t))(trie, nodes, tokens)
  np.testing.assert_array_equal(got, want)


def test_children_window_and_catalog_filter(trie):
  nodes = jnp.arange(trie.num_nodes + 1)
  width = max(trie.root_degree, trie.max_degree)
  tokens, kids, valid = jax.jit(prefix_trie.children_window, static_argnums=2)(trie, nodes, width)
  for n in range(trie.num_nodes + 1):
    want = _children(trie, n)
    got = {int(t): int(c) for t, c, v in zip(tokens[n], kids[n], valid[n]) if v}
    assert got == want
  # Catalog filter: only leaves 1 ([5, 2]) and 4 ([8]) allowed.
  allowed = jnp.asarray(prefix_trie.leaf_mask(trie, [[5, 2], [8]]))[None]
  ok = np.asarray(prefix_trie.subtree_allowed(trie, prefix_trie.catalog_filter(allowed),
                                               nodes[None]))[0]
  want = [any(l in (1, 4) for l in range(trie.leaf_lo[n], trie.leaf_hi[n]))
          for n in range(trie.num_nodes + 1)]
  np.testing.assert_array_equal(ok, want)
  assert ok[0] and ok[_walk(trie, [5])] and not ok[_walk(trie, [5, 7])] and not ok[trie.sink]


def test_build_scales_to_many_ids():
  """500k semantic-ID-like IDs (3 codes of 256 + EOS) build in seconds."""
  rng = np.random.default_rng(0)
  codes = rng.integers(2, 258, (500_000, 3))
  trie = prefix_trie.build_trie(codes, vocab_size=300)
  assert trie.num_leaves == len({tuple(c) for c in codes.tolist()})
  assert trie.root_degree == 256 and trie.max_degree <= 256
  sample = codes[:1000]
  leaves = prefix_trie.lookup_ids(trie, sample)
  assert (leaves >= 0).all()
  assert len(set(leaves.tolist())) == len({tuple(c) for c in sample.tolist()})


def test_small_exhaustive_round_trip():
  ids = [list(p) for n in (1, 2) for p in itertools.product([2, 3, 4], repeat=n)]
  trie = prefix_trie.build_trie(ids)
  assert trie.num_leaves == len(ids) and trie.vocab_size == 5
  assert sorted(prefix_trie.lookup_ids(trie, ids).tolist()) == list(range(len(ids)))


@pytest.mark.parametrize("leaves", [1, 31, 32, 33, 64, 200])
def test_catalog_filter_counts_every_range(leaves):
  """The bitset's count of allowed leaves in [lo, hi) equals the mask's, for
  every range (word boundaries, ranges ending at L), per query and shared."""
  rng = np.random.default_rng(leaves)
  mask = rng.random((3, leaves)) < 0.4
  mask[1] = True
  mask[2] = False
  f = prefix_trie.catalog_filter(mask)
  assert f.words.dtype == jnp.uint32 and f.words.shape == (3, leaves // 32 + 1)
  lo, hi = np.triu_indices(leaves + 1)  # every 0 <= lo <= hi <= L
  got = np.asarray(jax.jit(prefix_trie.allowed_leaves)(
      f, jnp.arange(3)[:, None], jnp.asarray(lo)[None], jnp.asarray(hi)[None]))
  prefix = np.concatenate([np.zeros((3, 1), int), np.cumsum(mask, axis=1)], axis=1)
  np.testing.assert_array_equal(got, prefix[:, hi] - prefix[:, lo])
  shared = prefix_trie.catalog_filter(mask[0])
  np.testing.assert_array_equal(
      np.asarray(prefix_trie.allowed_leaves(shared, 0, jnp.asarray(lo), jnp.asarray(hi))),
      got[0])
