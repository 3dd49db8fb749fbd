"""`prefix_info.first_token_information`: query information in an ID's first token."""

import numpy as np
import pytest

from text2tracks_jax.experiments.prefix_info import first_token_information


def _pairs(first_token_of, n_queries=600, pairs_per_query=5, seed=0):
  """Queries of 3 words + EOS (the first from ids 2..101, the others from
  102..201); targets [first, 7, EOS]."""
  rng = np.random.default_rng(seed)
  words = np.concatenate([rng.integers(2, 102, (n_queries, 1)),
                          rng.integers(102, 202, (n_queries, 2))], 1)
  inputs = np.repeat(np.concatenate([words, np.ones((n_queries, 1), int)], 1),
                     pairs_per_query, axis=0)
  first = first_token_of(inputs, rng)
  targets = np.stack([first, np.full(len(first), 7), np.ones(len(first), int)], 1)
  return inputs, targets


def test_first_token_determined_by_a_query_word_carries_most_of_its_entropy():
  # The first token is the first word's bucket (20 buckets): knowing the words
  # removes most of the ~3 nats of marginal entropy.
  inputs, targets = _pairs(lambda x, rng: 300 + x[:, 0] % 20)
  r = first_token_information(inputs, targets, alpha=1.0)
  assert r["marginal_nats"] == pytest.approx(np.log(20), abs=0.25)
  assert r["information_nats"] > 0.5 * r["marginal_nats"]
  assert r["heldout_pairs"] % 5 == 0 and 0 < r["heldout_pairs"] < len(inputs)


def test_first_token_independent_of_the_query_carries_nothing():
  inputs, targets = _pairs(lambda x, rng: rng.integers(300, 320, len(x)))
  r = first_token_information(inputs, targets)
  assert abs(r["information_nats"]) < 0.1
  assert r["given_query_nats"] >= r["marginal_nats"] - 0.1


def test_held_out_queries_are_unseen_in_the_fit_part():
  # One query per first token and no shared words: memorising the fit part
  # says nothing about held-out queries, so the information is not positive.
  n = 400
  inputs = np.stack([np.arange(2, n + 2), np.ones(n, int)], 1)
  targets = np.stack([np.arange(500, 500 + n) % 50 + 500, np.ones(n, int)], 1)
  assert first_token_information(inputs, targets)["information_nats"] <= 0.0


@pytest.mark.parametrize("inputs, targets", [
    (np.zeros((4,), int), np.zeros((4, 2), int)),
    (np.zeros((4, 3), int), np.zeros((5, 2), int)),
    (np.zeros((0, 3), int), np.zeros((0, 2), int)),
])
def test_bad_shapes_are_refused(inputs, targets):
  with pytest.raises(ValueError, match="expected"):
    first_token_information(inputs, targets)


def test_too_few_queries_to_hold_out_are_refused():
  inputs = np.array([[5, 1], [5, 1]])
  with pytest.raises(ValueError, match="distinct queries"):
    first_token_information(inputs, np.array([[9, 1], [9, 1]]))
