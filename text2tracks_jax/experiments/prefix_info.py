"""How much a query says about the first token of its track's ID.

A generative retriever decodes the first ID token before anything else, so an
ID strategy whose first token is unrelated to the query leaves beam search
choosing among globally popular prefixes for every query. This measures that
property of a strategy on its own train pairs, without training a model:

  information = H(first token) - H(first token | query words)

both as held-out log-loss (nats). The held-out part is a random 20% of the
distinct queries (so its queries are unseen); H(first token) is the fit part's
add-one marginal; H(first token | query words) is a word mixture,
P(y | q) = mean over q's distinct tokens w of (n(w, y) + alpha P(y)) / (n(w) + alpha),
counted on the fit part. The mixture is a weak learner, so this is a lower
bound on what a model could extract, and comparable across strategies.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def first_token_information(inputs: np.ndarray, targets: np.ndarray, *, holdout: float = 0.2,
                            alpha: float = 10.0, seed: int = 0) -> dict:
  """inputs [N, S] / targets [N, T] token ids (0 = padding, 1 = EOS) -> nats.

  Returns {"marginal_nats", "given_query_nats", "information_nats",
  "heldout_pairs"}.
  """
  inputs, targets = np.asarray(inputs, np.int64), np.asarray(targets, np.int64)
  if inputs.ndim != 2 or targets.ndim != 2 or len(inputs) != len(targets) or not len(inputs):
    raise ValueError(f"inputs {inputs.shape} / targets {targets.shape}: expected [N, S] and [N, T]")
  first = targets[:, 0]
  _, query = np.unique(inputs, axis=0, return_inverse=True)
  query = query.ravel()
  held_query = np.random.default_rng(seed).random(query.max() + 1) < holdout
  held = held_query[query]
  if held.all() or not held.any():
    raise ValueError(f"{query.max() + 1} distinct queries: too few to hold out {holdout:.0%}")
  num_tokens, num_words = int(first.max()) + 1, int(inputs.max()) + 1
  marginal = np.bincount(first[~held], minlength=num_tokens) + 1.0
  marginal /= marginal.sum()

  rows = np.repeat(np.arange(len(inputs)), inputs.shape[1])
  words = inputs.ravel()
  keep = words > 1  # not padding or EOS
  present = sp.csr_matrix((np.ones(keep.sum()), (rows[keep], words[keep])),
                          shape=(len(inputs), num_words))
  present.data[:] = 1.0  # distinct words per query
  fit = present[~held]
  labels = sp.csr_matrix((np.ones(len(fit.indptr) - 1), (np.arange(fit.shape[0]), first[~held])),
                         shape=(fit.shape[0], num_tokens))
  counts = (fit.T @ labels).tocsr()  # words x first tokens
  word_totals = np.asarray(counts.sum(axis=1)).ravel()

  test = present[held].tocoo()
  y = first[held]
  n_wy = np.asarray(counts[test.col, y[test.row]]).ravel()
  p_wy = (n_wy + alpha * marginal[y[test.row]]) / (word_totals[test.col] + alpha)
  n_words = np.bincount(test.row, minlength=len(y))
  p = np.bincount(test.row, weights=p_wy, minlength=len(y))
  p = np.where(n_words > 0, p / np.maximum(n_words, 1), marginal[y])
  marginal_nats = float(-np.log(marginal[y]).mean())
  given = float(-np.log(p).mean())
  return {"marginal_nats": marginal_nats, "given_query_nats": given,
          "information_nats": marginal_nats - given, "heldout_pairs": int(len(y))}
