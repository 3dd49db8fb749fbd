"""Grows the vocabulary of a parameter tree for an ID strategy's new tokens.

Text2Tracks appends whole-word ID tokens (e.g. semantic-ID codes) after the
SentencePiece vocabulary; the token embedding gains rows and the untied LM
head gains columns. Old rows/columns are kept bit for bit; new ones start
from the statistics of the existing ones:

* method="mean": every new row is exactly the mean of the existing rows
  (so a new token starts as "an average token": its logit is the mean
  logit, and all new tokens are interchangeable until trained);
* method="normal": row ~ N(mean, diag(std^2)) with the per-dimension mean and
  standard deviation of the existing rows (new tokens are distinguishable
  from the start; HF's `resize_token_embeddings` does the same with a much
  smaller covariance).

Statistics are taken over the first `num_reference_rows` rows (default: all
existing rows; Flan-T5's 32128 rows include 28 never-trained padding rows
after its 32100 SentencePiece pieces, which barely move the statistics).
"""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

PyTree = Any
METHODS = ("mean", "normal")


def _new_rows(rows: jax.Array, num_new: int, rng: jax.Array, method: str) -> jax.Array:
  """rows [N, D] (float32) -> [num_new, D] from their statistics."""
  mean = jnp.mean(rows, axis=0)
  if method == "mean":
    return jnp.broadcast_to(mean, (num_new, rows.shape[1]))
  std = jnp.std(rows, axis=0)
  return mean + std * jax.random.normal(rng, (num_new, rows.shape[1]), jnp.float32)


def _like(new: jax.Array, old: Any) -> Any:
  return np.asarray(new, dtype=old.dtype) if isinstance(old, np.ndarray) else new.astype(old.dtype)


def resize_vocab(params: PyTree, new_vocab_size: int, rng: Optional[jax.Array] = None,
                 method: str = "mean", num_reference_rows: Optional[int] = None) -> PyTree:
  """Returns `params` with embedding [V', D] and LM head [D, V'] for V' >= V.

  Args:
    params: a `network.T5Model` parameter tree (numpy or jax arrays).
    new_vocab_size: V', the size of the extended vocabulary (T5X pads it to
      a multiple of 128 for speed; that is the caller's choice).
    rng: needed for method="normal" (embedding and LM head use split keys).
    method: "mean" or "normal" (see the module docstring).
    num_reference_rows: statistics over the first this-many rows (default V).
  Returns:
    A new tree (other leaves shared, not copied); arrays keep their type
    (numpy in -> numpy out) and dtype. Update `T5Config.vocab_size` to match.
  """
  if method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
  embedding = params["token_embedder"]["embedding"]
  lm_kernel = params["decoder"]["logits_dense"]["kernel"]
  vocab_size = embedding.shape[0]
  if lm_kernel.shape[1] != vocab_size:
    raise ValueError(f"embedding has {vocab_size} rows but the LM head has "
                     f"{lm_kernel.shape[1]} columns")
  if new_vocab_size < vocab_size:
    raise ValueError(f"new_vocab_size={new_vocab_size} is smaller than the current "
                     f"vocabulary ({vocab_size}); shrinking is not supported")
  if new_vocab_size == vocab_size:
    return params
  if method == "normal" and rng is None:
    raise ValueError('method="normal" needs an rng')
  reference = num_reference_rows or vocab_size
  if not 0 < reference <= vocab_size:
    raise ValueError(f"num_reference_rows must be in (0, {vocab_size}], got {reference}")
  num_new = new_vocab_size - vocab_size
  rng_embedding, rng_head = (jax.random.split(rng) if rng is not None else (None, None))

  emb32 = jnp.asarray(embedding, jnp.float32)
  new_embedding = jnp.concatenate(
      [emb32, _new_rows(emb32[:reference], num_new, rng_embedding, method)], axis=0)
  head32 = jnp.asarray(lm_kernel, jnp.float32)
  new_head = jnp.concatenate(
      [head32, _new_rows(head32[:, :reference].T, num_new, rng_head, method).T], axis=1)

  out = dict(params)
  out["token_embedder"] = {**params["token_embedder"],
                           "embedding": _like(new_embedding, embedding)}
  out["decoder"] = {**params["decoder"], "logits_dense": {
      **params["decoder"]["logits_dense"], "kernel": _like(new_head, lm_kernel)}}
  return out
