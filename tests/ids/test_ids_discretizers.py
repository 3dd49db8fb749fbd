"""Discretizers: sparse coding against scikit-learn; k-means hierarchies."""

import re

import numpy as np
import pytest
from sklearn.decomposition import sparse_encode

from text2tracks_jax.ids import discretizers as d
from text2tracks_jax.ids.embeddings import l2_normalize


def _mixture(n=600, dim=12, centers=6, seed=0):
  rng = np.random.default_rng(seed)
  c = rng.normal(size=(centers, dim))
  return (c[rng.integers(0, centers, n)] + 0.4 * rng.normal(size=(n, dim))).astype(np.float32)


def test_batched_omp_matches_sklearn_omp():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(300, 10))
  dictionary = l2_normalize(rng.normal(size=(40, 10))).astype(np.float64)
  atoms, coefs = d.batched_omp(x, dictionary, 3, chunk_size=64)
  dense = sparse_encode(x, dictionary, algorithm="omp", n_nonzero_coefs=3)
  ours = np.zeros_like(dense)
  np.put_along_axis(ours, atoms, coefs, axis=1)
  np.testing.assert_allclose(ours, dense, atol=1e-8)
  assert (atoms >= 0).all()


def _expected_tokens(dense_row, c):
  """The paper's ID from one sklearn code row: atoms by |coef|, signed."""
  nz = np.flatnonzero(dense_row)
  nz = nz[np.lexsort((nz, -np.abs(dense_row[nz])))][:c]
  return "".join(f"<{'+' if dense_row[i] > 0 else '-'}{i}>" for i in nz)


@pytest.mark.parametrize("encoder", ["batched", "sklearn"])
def test_sparse_tokens_follow_sklearn_coefficients(encoder):
  x = _mixture()
  codes = d.sparse_coding(x, seed=0, dictionary_size=16, num_nonzero=3, fit_samples=512,
                          batch_size=64, encoder=encoder)
  dictionary, center = codes.arrays["dictionary"], codes.arrays["center"]
  xc = l2_normalize(l2_normalize(x) - center)
  dense = sparse_encode(xc.astype(np.float64), dictionary.astype(np.float64),
                        algorithm="omp", n_nonzero_coefs=3)
  ids = codes.id_strings()
  expected = [_expected_tokens(row, 3) for row in dense]
  assert list(ids) == expected
  # both signs occur, and the lexicon is the 2s signed tokens
  assert any("<-" in i for i in ids) and any("<+" in i for i in ids)
  assert len(codes.lexicon) == 32 and codes.lexicon[0] == "<+0>" and codes.lexicon[16] == "<-0>"
  assert all(re.fullmatch(r"(<[+-]\d+>){3}", i) for i in ids)


def test_fewer_nonzeros_than_c_are_filled_to_exactly_c():
  rng = np.random.default_rng(0)
  dictionary = l2_normalize(rng.normal(size=(8, 6)))
  x = np.stack([dictionary[3], -2.0 * dictionary[5], np.zeros(6, np.float32)])
  atoms, signs, filled = d.encode_sparse(x, dictionary, 3)
  assert filled.tolist() == [True, True, True]
  assert atoms.shape == (3, 3) and all(len(set(r)) == 3 for r in atoms.tolist())
  assert (atoms[0, 0], signs[0, 0]) == (3, 1)  # the exact atom first, with its sign
  assert (atoms[1, 0], signs[1, 0]) == (5, -1)
  cov = x[0] @ dictionary.T  # the fill continues by |correlation|
  rest = [a for a in np.argsort(-np.abs(cov), kind="stable") if a != 3][:2]
  assert atoms[0, 1:].tolist() == rest
  assert signs[0, 1:].tolist() == [1 if cov[a] >= 0 else -1 for a in rest]
  assert atoms[2].tolist() == [0, 1, 2] and signs[2].tolist() == [1, 1, 1]


def test_sparse_coding_is_seeded():
  x = _mixture()
  kw = dict(dictionary_size=16, fit_samples=256, batch_size=64)
  a = d.sparse_coding(x, seed=1, **kw).id_strings()
  b = d.sparse_coding(x, seed=1, **kw).id_strings()
  c = d.sparse_coding(x, seed=2, **kw).id_strings()
  assert list(a) == list(b) and list(a) != list(c)


def test_hierarchical_kmeans_ids_are_nested_clusters():
  x = _mixture(n=900, centers=5)
  codes = d.hierarchical_kmeans(x, seed=0, branching=4, levels=3)
  ids = codes.id_strings()
  assert all(re.fullmatch(r"<a[0-3]><b[0-3]><c[0-3]>", i) for i in ids)
  tokens = codes.tokens
  # Children are clustered inside their parent: level-2 groups never straddle
  # two parents, and distinct prefixes reuse the same child tokens.
  for level in (1, 2):
    parent = [tuple(r) for r in tokens[:, :level].tolist()]
    assert len(set(parent)) > 1
    groups = {}
    for p, t in zip(parent, tokens[:, level].tolist()):
      groups.setdefault(p, set()).add(t)
    assert max(len(g) for g in groups.values()) <= 4
  # a first-level cluster is tighter than the data set
  xn = l2_normalize(x)
  spread = lambda v: float(np.mean(np.sum((v - v.mean(0)) ** 2, 1)))
  inside = np.mean([spread(xn[tokens[:, 0] == k]) for k in range(4)])
  assert inside < 0.6 * spread(xn)


def test_small_groups_give_each_row_its_own_cluster():
  x = _mixture(n=3)
  codes = d.hierarchical_kmeans(x, branching=4, levels=2)
  assert sorted(codes.tokens[:, 0].tolist()) == [0, 1, 2]
  assert codes.tokens[:, 1].tolist() == [4, 4, 4]  # "<b0>" for the single row


def test_residual_kmeans_reduces_error_level_by_level():
  x = _mixture(n=800, centers=8)
  codes = d.residual_kmeans(x, seed=0, codebook_size=8, levels=3)
  ids = codes.id_strings()
  assert all(re.fullmatch(r"<a[0-7]><b[0-7]><c[0-7]>", i) for i in ids)
  books = codes.arrays["codebooks"]
  xn = l2_normalize(x)
  recon, errors = np.zeros_like(xn), []
  for level in range(3):
    recon = recon + books[level][codes.tokens[:, level] - 8 * level]
    errors.append(float(np.mean(np.sum((xn - recon) ** 2, 1))))
  assert errors[0] > errors[1] > errors[2]
  assert len(set(ids)) > 64  # more distinct IDs than one level could give
