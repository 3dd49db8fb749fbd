"""resize_vocab: new embedding rows / LM-head columns, old ones untouched."""

import jax
import numpy as np
import pytest

from text2tracks_jax.models import resize


def _params(vocab=50, d=8, seed=0):
  rng = np.random.default_rng(seed)
  return {"token_embedder": {"embedding": (2.0 + rng.standard_normal((vocab, d))).astype(np.float32)},
          "decoder": {"logits_dense": {"kernel": rng.standard_normal((d, vocab)).astype(np.float32)},
                      "decoder_norm": {"scale": np.ones(d, np.float32)}},
          "encoder": {"encoder_norm": {"scale": np.ones(d, np.float32)}}}


def test_mean_rows_and_old_rows_unchanged():
  params = _params()
  out = resize.resize_vocab(params, 64, method="mean")
  emb, head = out["token_embedder"]["embedding"], out["decoder"]["logits_dense"]["kernel"]
  assert isinstance(emb, np.ndarray) and emb.shape == (64, 8) and head.shape == (8, 64)
  np.testing.assert_array_equal(emb[:50], params["token_embedder"]["embedding"])
  np.testing.assert_array_equal(head[:, :50], params["decoder"]["logits_dense"]["kernel"])
  mean = params["token_embedder"]["embedding"].mean(0)
  np.testing.assert_allclose(emb[50:], np.broadcast_to(mean, (14, 8)), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(head[:, 50:].T, np.broadcast_to(
      params["decoder"]["logits_dense"]["kernel"].mean(1), (14, 8)), rtol=1e-5, atol=1e-6)
  assert out["encoder"] is params["encoder"]  # untouched leaves are shared


def test_normal_rows_follow_the_statistics():
  params = _params(vocab=400, d=4)
  out = resize.resize_vocab(params, 400 + 4000, jax.random.key(0), method="normal",
                            num_reference_rows=300)
  emb = out["token_embedder"]["embedding"]
  ref = params["token_embedder"]["embedding"][:300]
  np.testing.assert_allclose(emb[400:].mean(0), ref.mean(0), atol=0.1)
  np.testing.assert_allclose(emb[400:].std(0), ref.std(0), rtol=0.1)
  assert len(np.unique(emb[400:], axis=0)) == 4000  # all distinct rows
  np.testing.assert_array_equal(emb[:400], params["token_embedder"]["embedding"])


def test_jax_arrays_and_errors():
  params = jax.tree.map(jax.numpy.asarray, _params())
  out = resize.resize_vocab(params, 60)
  assert isinstance(out["token_embedder"]["embedding"], jax.Array)
  assert resize.resize_vocab(params, 50) is params
  with pytest.raises(ValueError, match="shrinking"):
    resize.resize_vocab(params, 10)
  with pytest.raises(ValueError, match="rng"):
    resize.resize_vocab(params, 60, method="normal")
  with pytest.raises(ValueError, match="method"):
    resize.resize_vocab(params, 60, method="zeros")
